//! The outbox: every message accepted for sending, per peer, in order, until the peer acks it.
//!
//! Each peer's queue remembers which session it is being sent on and how far it got. When the
//! sending session changes, everything unacked is sent again from the start of the queue; the
//! receiver's dedup drops what it already has.

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

    /// Appends `message` to `peer`'s queue.
    pub fn push(&mut self, peer: PublicKey, message: ChatMessage) {
        let queue = self.peers.entry(peer).or_insert_with(PeerQueue::new);
        queue.queue.push_back(Pending {
            message,
            last_sent: None,
        });
        self.total += 1;
    }

    /// The messages `peer`'s queue should send now on `conn`, at most `window` in flight.
    /// Switching to a new connection starts again from the oldest unacked message.
    pub fn take_sendable(
        &mut self,
        peer: &PublicKey,
        conn: ConnId,
        window: usize,
        now: Duration,
    ) -> Vec<ChatMessage> {
        let Some(queue) = self.peers.get_mut(peer) else {
            return Vec::new();
        };
        if queue.sending_on != Some(conn) {
            queue.sending_on = Some(conn);
            queue.sent = 0;
        }
        let end = queue.queue.len().min(window);
        let mut out = Vec::with_capacity(end.saturating_sub(queue.sent));
        for pending in queue.queue.range_mut(queue.sent.min(end)..end) {
            pending.last_sent = Some(now);
            out.push(pending.message.clone());
        }
        queue.sent = queue.sent.max(end);
        out
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
        let mut acked = Vec::new();
        let mut kept = VecDeque::with_capacity(queue.queue.len());
        let mut sent_removed = 0;
        for (index, pending) in queue.queue.drain(..).enumerate() {
            let id = pending.message.id;
            if id.stream == stream && id.seq <= upto {
                if index < queue.sent {
                    sent_removed += 1;
                }
                let rtt = pending
                    .last_sent
                    .map_or(Duration::ZERO, |at| now.saturating_sub(at));
                acked.push(Acked { id, rtt });
            } else {
                kept.push_back(pending);
            }
        }
        queue.queue = kept;
        queue.sent -= sent_removed;
        self.total -= acked.len();
        acked
    }

    /// Peers with queued messages.
    pub fn peers_with_messages(&self) -> impl Iterator<Item = &PublicKey> {
        self.peers
            .iter()
            .filter(|(_, q)| !q.queue.is_empty())
            .map(|(peer, _)| peer)
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
        let peer = PublicKey([9; 32]);
        let mut outbox = Outbox::default();
        for _ in 0..5 {
            let id = outbox.next_id(peer, || 77);
            outbox.push(peer, message(id));
        }
        let now = Duration::ZERO;
        let first = outbox.take_sendable(&peer, ConnId(1), 3, now);
        assert_eq!(
            first.iter().map(|m| m.id.seq).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(outbox.take_sendable(&peer, ConnId(1), 3, now).is_empty());
        let acked = outbox.ack(&peer, 77, 2, Duration::from_millis(5));
        assert_eq!(acked.len(), 2);
        assert_eq!(acked[0].rtt, Duration::from_millis(5));
        let more = outbox.take_sendable(&peer, ConnId(1), 3, now);
        assert_eq!(more.iter().map(|m| m.id.seq).collect::<Vec<_>>(), [4, 5]);
        let resent = outbox.take_sendable(&peer, ConnId(2), 3, now);
        assert_eq!(
            resent.iter().map(|m| m.id.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(outbox.total(), 3);
    }

    #[test]
    fn acks_for_another_stream_remove_nothing() {
        let peer = PublicKey([9; 32]);
        let mut outbox = Outbox::default();
        let id = outbox.next_id(peer, || 1);
        outbox.push(peer, message(id));
        assert!(outbox.ack(&peer, 2, 10, Duration::ZERO).is_empty());
        assert_eq!(outbox.len_for(&peer), 1);
    }
}
