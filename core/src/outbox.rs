//! The outbox: every message accepted for sending, per peer, in order, until the peer acks it.
//!
//! Each peer's queue remembers which session it is being sent on and how far it got. When the
//! sending session changes, everything unacked is sent again from the start of the queue; the
//! receiver's dedup drops what it already has.
//!
//! A message can be queued *held*: it has its id and counts against the limits, but is not sent
//! until the host releases it (after persisting it), and the host may instead withdraw it (when
//! persisting failed). Sending stops at the first held message of a queue, so a stream goes out
//! in order. Withdrawing removes the message and every later one of that peer (all of them
//! still held) and rewinds the peer's sequence, so the ids are used again and the receiver, which
//! drops gaps, never sees one.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::keys::PublicKey;
use crate::message::{ChatMessage, MessageId};
use crate::timer::ConnId;

/// A message waiting for its ack.
#[derive(Debug, Clone)]
struct Pending {
    message: ChatMessage,
    last_sent: Option<Duration>,
    held: bool,
}

/// One peer's queue.
#[derive(Debug)]
struct PeerQueue {
    stream: Option<u64>,
    next_seq: u64,
    queue: VecDeque<Pending>,
    sending_on: Option<ConnId>,
    sent: usize,
}

impl PeerQueue {
    fn new() -> Self {
        Self {
            stream: None,
            next_seq: 1,
            queue: VecDeque::new(),
            sending_on: None,
            sent: 0,
        }
    }
}

/// A message that the peer has acknowledged as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked {
    /// The message.
    pub id: MessageId,
    /// Time from its last transmission to the ack.
    pub rtt: Duration,
}

/// Why [`Outbox::cancel`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelError {
    /// No such message waits for an ack: it was acked, cancelled, or never queued.
    NotQueued,
    /// It went out on a connection, so the peer may have it.
    AlreadySent,
    /// It, or a later message of its stream, is still held by the host (not persisted yet); try
    /// again in a moment.
    Held,
}

impl std::fmt::Display for CancelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotQueued => "no such message is waiting to be sent",
            Self::AlreadySent => "the message was already sent and may have arrived",
            Self::Held => "it or a later message is still being stored; try again",
        })
    }
}

impl std::error::Error for CancelError {}

/// All peers' queues.
#[derive(Debug, Default)]
pub struct Outbox {
    peers: BTreeMap<PublicKey, PeerQueue>,
    total: usize,
}

impl Outbox {
    /// Messages queued for `peer`.
    pub fn len_for(&self, peer: &PublicKey) -> usize {
        self.peers.get(peer).map_or(0, |q| q.queue.len())
    }

    /// Messages queued for all peers.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Allocates the next id for `peer`. `new_stream` supplies this run's stream for the peer the
    /// first time it is needed.
    pub fn next_id(&mut self, peer: PublicKey, new_stream: impl FnOnce() -> u64) -> MessageId {
        let queue = self.peers.entry(peer).or_insert_with(PeerQueue::new);
        let stream = *queue.stream.get_or_insert_with(new_stream);
        let seq = queue.next_seq;
        queue.next_seq += 1;
        MessageId { stream, seq }
    }

    /// Appends `message` to `peer`'s queue, ready to send.
    pub fn push(&mut self, peer: PublicKey, message: ChatMessage) {
        self.push_with(peer, message, false);
    }

    /// Appends `message` to `peer`'s queue, held: it is not sent until [`Outbox::release`].
    pub fn push_held(&mut self, peer: PublicKey, message: ChatMessage) {
        self.push_with(peer, message, true);
    }

    fn push_with(&mut self, peer: PublicKey, message: ChatMessage, held: bool) {
        let queue = self.peers.entry(peer).or_insert_with(PeerQueue::new);
        queue.queue.push_back(Pending {
            message,
            last_sent: None,
            held,
        });
        self.total += 1;
    }

    /// Lets the held message `id` of `peer` be sent. Returns whether it was held.
    pub fn release(&mut self, peer: &PublicKey, id: MessageId) -> bool {
        let Some(queue) = self.peers.get_mut(peer) else {
            return false;
        };
        // Held messages are the newest: search from the back.
        match queue.queue.iter_mut().rev().find(|p| p.message.id == id) {
            Some(pending) if pending.held => {
                pending.held = false;
                true
            }
            _ => false,
        }
    }

    /// Drops the message `id` of `peer`, which must never have been sent, so that it is never
    /// delivered. The receiver waits for every sequence number of a stream, so the later
    /// messages of its stream (none sent either) move to a fresh stream from `new_stream`,
    /// keeping their sequence numbers (a receiver starts a stream it has not seen at whatever
    /// number comes first), and so do the peer's next messages if it was the current stream.
    /// No id is ever given out twice. Returns the moved messages' old and new ids, oldest
    /// first. Refused while it or a later message of the stream is still held (its host has not
    /// persisted it under its id yet).
    pub fn cancel(
        &mut self,
        peer: &PublicKey,
        id: MessageId,
        new_stream: impl FnOnce() -> u64,
    ) -> Result<Vec<(MessageId, MessageId)>, CancelError> {
        let queue = self.peers.get_mut(peer).ok_or(CancelError::NotQueued)?;
        let at = queue
            .queue
            .iter()
            .position(|p| p.message.id == id)
            .ok_or(CancelError::NotQueued)?;
        if queue.queue[at].last_sent.is_some() {
            return Err(CancelError::AlreadySent);
        }
        let same_stream = |p: &&Pending| p.message.id.stream == id.stream;
        if queue.queue.range(at..).filter(same_stream).any(|p| p.held) {
            return Err(CancelError::Held);
        }
        queue.queue.remove(at);
        self.total -= 1;
        if queue.sent > at {
            queue.sent -= 1;
        }
        let moves_on = queue.stream == Some(id.stream);
        let has_later = queue
            .queue
            .range(at..)
            .any(|p| p.message.id.stream == id.stream);
        if !moves_on && !has_later {
            return Ok(Vec::new());
        }
        let fresh = new_stream();
        if moves_on {
            queue.stream = Some(fresh);
        }
        let mut moved = Vec::new();
        for pending in queue.queue.range_mut(at..) {
            let message = &mut pending.message;
            if message.id.stream == id.stream {
                let old = message.id;
                message.id.stream = fresh;
                moved.push((old, message.id));
            }
        }
        Ok(moved)
    }

    /// Removes the held message `id` of `peer` and every later message of that peer, and
    /// rewinds the peer's sequence to `id`, so that the next message gets `id` again. Returns
    /// the ids removed, oldest first. Removes nothing (and returns nothing) unless `id` and
    /// every later message are held and `id` is of the peer's current stream.
    pub fn withdraw(&mut self, peer: &PublicKey, id: MessageId) -> Vec<MessageId> {
        let Some(queue) = self.peers.get_mut(peer) else {
            return Vec::new();
        };
        if queue.stream != Some(id.stream) {
            return Vec::new();
        }
        let Some(from) = queue.queue.iter().rposition(|p| p.message.id == id) else {
            return Vec::new();
        };
        if queue.queue.range(from..).any(|p| !p.held) {
            return Vec::new();
        }
        let removed: Vec<MessageId> = queue.queue.drain(from..).map(|p| p.message.id).collect();
        queue.next_seq = id.seq;
        queue.sent = queue.sent.min(from);
        self.total -= removed.len();
        removed
    }

    /// The messages `peer`'s queue should send now on `conn`, at most `window` in flight, marked
    /// as sent at `now`. Switching to a new connection starts again from the oldest unacked
    /// message.
    pub fn take_sendable(
        &mut self,
        peer: &PublicKey,
        conn: ConnId,
        window: usize,
        now: Duration,
    ) -> impl Iterator<Item = &ChatMessage> + '_ {
        let sendable = self.peers.get_mut(peer).map(|queue| {
            if queue.sending_on != Some(conn) {
                queue.sending_on = Some(conn);
                queue.sent = 0;
            }
            // Everything before `sent` went out, so none of it is held: look for the first held
            // message only in the part that may go out now.
            let limit = queue.queue.len().min(window);
            let start = queue.sent.min(limit);
            let end = queue
                .queue
                .range(start..limit)
                .position(|p| p.held)
                .map_or(limit, |held| start + held);
            queue.sent = queue.sent.max(end);
            for pending in queue.queue.range_mut(start..end) {
                pending.last_sent = Some(now);
            }
            queue
                .queue
                .range(start..end)
                .map(|pending| &pending.message)
        });
        sendable.into_iter().flatten()
    }

    /// Forgets which connection `peer`'s queue was sending on, so that everything unacked goes
    /// out again on the next one.
    pub fn connection_lost(&mut self, peer: &PublicKey, conn: ConnId) {
        if let Some(queue) = self.peers.get_mut(peer)
            && queue.sending_on == Some(conn)
        {
            queue.sending_on = None;
            queue.sent = 0;
        }
    }

    /// Removes every message of `stream` up to `upto` from `peer`'s queue.
    pub fn ack(&mut self, peer: &PublicKey, stream: u64, upto: u64, now: Duration) -> Vec<Acked> {
        let Some(queue) = self.peers.get_mut(peer) else {
            return Vec::new();
        };
        let acks = |p: &Pending| p.message.id.stream == stream && p.message.id.seq <= upto;
        let rtt = |p: &Pending| {
            p.last_sent
                .map_or(Duration::ZERO, |at| now.saturating_sub(at))
        };
        let mut acked = Vec::new();
        // Acks usually cover the front of the queue: take it off in place.
        while let Some(front) = queue.queue.front()
            && acks(front)
        {
            acked.push(Acked {
                id: front.message.id,
                rtt: rtt(front),
            });
            queue.queue.pop_front();
            queue.sent = queue.sent.saturating_sub(1);
        }
        // Within a stream, sequence numbers grow along the queue: if the stream's first message
        // left is not acked, none after it is.
        let rest_acked = queue
            .queue
            .iter()
            .find(|p| p.message.id.stream == stream)
            .is_some_and(acks);
        if rest_acked {
            let mut kept = VecDeque::with_capacity(queue.queue.len());
            let mut sent_removed = 0;
            for (index, pending) in queue.queue.drain(..).enumerate() {
                if acks(&pending) {
                    if index < queue.sent {
                        sent_removed += 1;
                    }
                    acked.push(Acked {
                        id: pending.message.id,
                        rtt: rtt(&pending),
                    });
                } else {
                    kept.push_back(pending);
                }
            }
            queue.queue = kept;
            queue.sent -= sent_removed;
        }
        self.total -= acked.len();
        acked
    }

    /// Removes the one message `id` from `peer`'s queue (a Skywire `chat-ack`, which names one
    /// message).
    pub fn ack_one(&mut self, peer: &PublicKey, id: MessageId, now: Duration) -> Option<Acked> {
        let queue = self.peers.get_mut(peer)?;
        let index = queue.queue.iter().position(|p| p.message.id == id)?;
        if queue.queue[index].held {
            return None;
        }
        let pending = queue.queue.remove(index)?;
        if index < queue.sent {
            queue.sent -= 1;
        }
        self.total -= 1;
        let rtt = pending
            .last_sent
            .map_or(Duration::ZERO, |at| now.saturating_sub(at));
        Some(Acked { id, rtt })
    }

    /// When the oldest message sent on `conn` to `peer` and not yet acked went out.
    pub fn oldest_unacked_on(&self, peer: &PublicKey, conn: ConnId) -> Option<Duration> {
        let queue = self.peers.get(peer)?;
        if queue.sending_on != Some(conn) || queue.sent == 0 {
            return None;
        }
        queue
            .queue
            .iter()
            .take(queue.sent)
            .filter_map(|p| p.last_sent)
            .min()
    }

    /// Every queued message, per peer, in sending order: what a host persists.
    pub fn entries(&self) -> impl Iterator<Item = (&PublicKey, &ChatMessage)> {
        self.peers
            .iter()
            .flat_map(|(peer, q)| q.queue.iter().map(move |p| (peer, &p.message)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(
        outbox: &mut Outbox,
        peer: &PublicKey,
        conn: ConnId,
        window: usize,
        now: Duration,
    ) -> Vec<ChatMessage> {
        outbox
            .take_sendable(peer, conn, window, now)
            .cloned()
            .collect()
    }

    fn message(id: MessageId) -> ChatMessage {
        ChatMessage {
            id,
            sent_at_ms: 0,
            body: "x".into(),
            reply_to: None,
        }
    }

    #[test]
    fn window_limits_in_flight_and_a_new_connection_resends_unacked() {
        let peer = PublicKey::native([9; 32]);
        let mut outbox = Outbox::default();
        for _ in 0..5 {
            let id = outbox.next_id(peer, || 77);
            outbox.push(peer, message(id));
        }
        let now = Duration::ZERO;
        let first = take(&mut outbox, &peer, ConnId(1), 3, now);
        assert_eq!(
            first.iter().map(|m| m.id.seq).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(take(&mut outbox, &peer, ConnId(1), 3, now).is_empty());
        let acked = outbox.ack(&peer, 77, 2, Duration::from_millis(5));
        assert_eq!(acked.len(), 2);
        assert_eq!(acked[0].rtt, Duration::from_millis(5));
        let more = take(&mut outbox, &peer, ConnId(1), 3, now);
        assert_eq!(more.iter().map(|m| m.id.seq).collect::<Vec<_>>(), [4, 5]);
        let resent = take(&mut outbox, &peer, ConnId(2), 3, now);
        assert_eq!(
            resent.iter().map(|m| m.id.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(outbox.total(), 3);
    }

    #[test]
    fn an_ack_reaches_messages_queued_behind_another_streams() {
        // Restored messages of an earlier stream (a previous run) wait ahead of the new ones.
        let peer = PublicKey::native([9; 32]);
        let mut outbox = Outbox::default();
        for seq in 1..=2 {
            outbox.push(peer, message(MessageId { stream: 5, seq }));
        }
        for _ in 0..3 {
            let id = outbox.next_id(peer, || 6);
            outbox.push(peer, message(id));
        }
        let now = Duration::ZERO;
        assert_eq!(take(&mut outbox, &peer, ConnId(1), 10, now).len(), 5);
        let acked = outbox.ack(&peer, 6, 2, now);
        let ids = |acked: &[Acked]| {
            acked
                .iter()
                .map(|a| (a.id.stream, a.id.seq))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&acked), [(6, 1), (6, 2)]);
        let acked = outbox.ack(&peer, 5, 1, now);
        assert_eq!(ids(&acked), [(5, 1)]);
        assert_eq!(outbox.len_for(&peer), 2);
        assert_eq!(outbox.total(), 2);
        // Both left were sent on this connection: nothing goes out again on it.
        assert!(take(&mut outbox, &peer, ConnId(1), 10, now).is_empty());
        let resent = take(&mut outbox, &peer, ConnId(2), 10, now);
        assert_eq!(
            resent
                .iter()
                .map(|m| (m.id.stream, m.id.seq))
                .collect::<Vec<_>>(),
            [(5, 2), (6, 3)]
        );
    }

    #[test]
    fn acks_for_another_stream_remove_nothing() {
        let peer = PublicKey::native([9; 32]);
        let mut outbox = Outbox::default();
        let id = outbox.next_id(peer, || 1);
        outbox.push(peer, message(id));
        assert!(outbox.ack(&peer, 2, 10, Duration::ZERO).is_empty());
        assert_eq!(outbox.len_for(&peer), 1);
    }

    #[test]
    fn sending_stops_at_a_held_message_and_a_withdrawal_rewinds_the_sequence() {
        let peer = PublicKey::native([9; 32]);
        let mut outbox = Outbox::default();
        let mut ids = Vec::new();
        for seq in 1..=5 {
            let id = outbox.next_id(peer, || 77);
            if seq == 3 || seq == 5 {
                outbox.push_held(peer, message(id));
            } else {
                outbox.push(peer, message(id));
            }
            ids.push(id);
        }
        let now = Duration::ZERO;
        let seqs = |out: Vec<ChatMessage>| out.iter().map(|m| m.id.seq).collect::<Vec<_>>();
        assert_eq!(seqs(take(&mut outbox, &peer, ConnId(1), 10, now)), [1, 2]);
        assert!(take(&mut outbox, &peer, ConnId(1), 10, now).is_empty());
        assert!(outbox.release(&peer, ids[2]));
        assert_eq!(seqs(take(&mut outbox, &peer, ConnId(1), 10, now)), [3, 4]);
        assert!(
            outbox.withdraw(&peer, ids[3]).is_empty(),
            "4 was never held"
        );
        assert_eq!(outbox.withdraw(&peer, ids[4]), [ids[4]]);
        assert_eq!(outbox.total(), 4);
        assert_eq!(outbox.next_id(peer, || 0), ids[4], "5 is given out again");
        assert_eq!(
            seqs(take(&mut outbox, &peer, ConnId(2), 10, now)),
            [1, 2, 3, 4],
            "a new connection resends everything released"
        );
    }

    #[test]
    fn a_cancelled_message_leaves_no_gap_and_no_id_is_reused() {
        let peer = PublicKey::native([9; 32]);
        let mut outbox = Outbox::default();
        for _ in 0..4 {
            let id = outbox.next_id(peer, || 77);
            outbox.push(peer, message(id));
        }
        let now = Duration::ZERO;
        assert_eq!(take(&mut outbox, &peer, ConnId(1), 1, now).len(), 1);
        let old = |seq| MessageId { stream: 77, seq };
        let new = |seq| MessageId { stream: 88, seq };
        assert_eq!(
            outbox.cancel(&peer, old(1), || 88),
            Err(CancelError::AlreadySent)
        );
        assert_eq!(
            outbox.cancel(&peer, old(2), || 88),
            Ok(vec![(old(3), new(3)), (old(4), new(4))])
        );
        assert_eq!(outbox.len_for(&peer), 3);
        assert_eq!(outbox.total(), 3);
        assert_eq!(
            outbox.cancel(&peer, old(2), || 99),
            Err(CancelError::NotQueued),
            "an id is never reused"
        );
        assert_eq!(
            outbox.next_id(peer, || 0),
            new(5),
            "the next message follows"
        );
        outbox.push_held(peer, message(new(5)));
        assert_eq!(outbox.cancel(&peer, new(3), || 99), Err(CancelError::Held));
        assert_eq!(
            outbox.cancel(&peer, new(5), || 99),
            Err(CancelError::Held),
            "nor a held message itself"
        );
        assert!(outbox.release(&peer, new(5)));
        let sent: Vec<MessageId> = take(&mut outbox, &peer, ConnId(1), 10, now)
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(sent, [new(3), new(4), new(5)]);
        // Cancelling the newest message moves nothing, but the next message starts a new stream:
        // the receiver would wait for the cancelled number.
        let newest = outbox.next_id(peer, || 0);
        outbox.push(peer, message(newest));
        assert_eq!(outbox.cancel(&peer, newest, || 99), Ok(Vec::new()));
        assert_eq!(outbox.next_id(peer, || 0), MessageId { stream: 99, seq: 7 });
    }
}
