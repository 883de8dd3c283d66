//! Receive-side dedup and ordering: per peer and sender stream, the highest sequence delivered to
//! the host and the highest the host has confirmed as stored. Acks report the stored mark.

use std::collections::{BTreeMap, BTreeSet};

use crate::keys::PublicKey;
use crate::message::MessageId;
use crate::timer::ConnId;

/// Streams remembered per peer; the least recently used fully stored stream is forgotten first.
pub const MAX_STREAMS_PER_PEER: usize = 64;

/// What to do with a received chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// New and next in order: hand it to the host.
    Deliver,
    /// Already delivered: drop it (and re-ack if it was stored).
    Duplicate,
    /// Out of order after a gap: drop it; the sender resends in order.
    Gap,
}

#[derive(Debug, Clone)]
struct StreamState {
    delivered: u64,
    stored: u64,
    stored_ahead: BTreeSet<u64>,
    ack_pending: bool,
    reply_conn: Option<ConnId>,
    last_used: u64,
}

/// The dedup marks a host persists: stream `stream` of `peer` is stored up to `stored`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupRecord {
    /// The sending peer.
    pub peer: PublicKey,
    /// Its stream.
    pub stream: u64,
    /// Highest contiguous sequence stored.
    pub stored: u64,
}

/// An ack that should be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueAck {
    /// The stream being acked.
    pub stream: u64,
    /// Stored up to here.
    pub upto: u64,
    /// The connection the stream's latest message came in on, preferred for the ack.
    pub conn: Option<ConnId>,
}

/// Dedup state for all peers.
#[derive(Debug, Default)]
pub struct Dedup {
    peers: BTreeMap<PublicKey, BTreeMap<u64, StreamState>>,
    clock: u64,
}

impl Dedup {
    /// Classifies a message with `id` from `peer` that arrived on `conn`.
    pub fn receive(&mut self, peer: PublicKey, id: MessageId, conn: ConnId) -> Verdict {
        self.clock += 1;
        let clock = self.clock;
        let streams = self.peers.entry(peer).or_default();
        if !streams.contains_key(&id.stream) {
            Self::make_room(streams);
        }
        let state = streams.entry(id.stream).or_insert_with(|| {
            let start = id.seq.saturating_sub(1);
            StreamState {
                delivered: start,
                stored: start,
                stored_ahead: BTreeSet::new(),
                ack_pending: false,
                reply_conn: None,
                last_used: clock,
            }
        });
        state.last_used = clock;
        state.reply_conn = Some(conn);
        if id.seq <= state.delivered {
            if id.seq <= state.stored {
                state.ack_pending = true;
            }
            Verdict::Duplicate
        } else if id.seq == state.delivered + 1 {
            state.delivered = id.seq;
            Verdict::Deliver
        } else {
            Verdict::Gap
        }
    }

    fn make_room(streams: &mut BTreeMap<u64, StreamState>) {
        if streams.len() < MAX_STREAMS_PER_PEER {
            return;
        }
        let victim = streams
            .iter()
            .filter(|(_, s)| s.delivered == s.stored)
            .min_by_key(|(_, s)| s.last_used)
            .map(|(stream, _)| *stream);
        if let Some(stream) = victim {
            streams.remove(&stream);
        }
    }

    /// Records that the host stored message `id` from `peer`. Returns true if the stored mark
    /// moved, so an ack is due.
    pub fn confirm_stored(&mut self, peer: &PublicKey, id: MessageId) -> bool {
        let Some(state) = self.peers.get_mut(peer).and_then(|s| s.get_mut(&id.stream)) else {
            return false;
        };
        if id.seq <= state.stored || id.seq > state.delivered {
            return false;
        }
        state.stored_ahead.insert(id.seq);
        let before = state.stored;
        while state.stored_ahead.remove(&(state.stored + 1)) {
            state.stored += 1;
        }
        if state.stored != before {
            state.ack_pending = true;
            true
        } else {
            false
        }
    }

    /// The host could not store message `id` from `peer`: forget that anything after the stored
    /// mark was delivered, so the sender's next resend is delivered again.
    pub fn rewind(&mut self, peer: &PublicKey, id: MessageId) {
        if let Some(state) = self.peers.get_mut(peer).and_then(|s| s.get_mut(&id.stream)) {
            state.delivered = state.stored;
            state.stored_ahead.clear();
        }
    }

    /// Takes the acks due to `peer`.
    pub fn take_due_acks(&mut self, peer: &PublicKey) -> Vec<DueAck> {
        let Some(streams) = self.peers.get_mut(peer) else {
            return Vec::new();
        };
        streams
            .iter_mut()
            .filter(|(_, s)| s.ack_pending)
            .map(|(stream, s)| {
                s.ack_pending = false;
                DueAck {
                    stream: *stream,
                    upto: s.stored,
                    conn: s.reply_conn,
                }
            })
            .collect()
    }

    /// Restores a persisted mark: everything up to `stored` counts as delivered and stored.
    pub fn restore(&mut self, record: DedupRecord) {
        let streams = self.peers.entry(record.peer).or_default();
        Self::make_room(streams);
        streams.insert(
            record.stream,
            StreamState {
                delivered: record.stored,
                stored: record.stored,
                stored_ahead: BTreeSet::new(),
                ack_pending: false,
                reply_conn: None,
                last_used: 0,
            },
        );
    }

    /// The stored marks, for the host to persist.
    pub fn records(&self) -> Vec<DedupRecord> {
        self.peers
            .iter()
            .flat_map(|(peer, streams)| {
                streams.iter().map(|(stream, s)| DedupRecord {
                    peer: *peer,
                    stream: *stream,
                    stored: s.stored,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: PublicKey = PublicKey::native([5; 32]);

    fn id(seq: u64) -> MessageId {
        MessageId { stream: 7, seq }
    }

    #[test]
    fn delivers_in_order_once_and_drops_gaps() {
        let mut dedup = Dedup::default();
        let c = ConnId(1);
        assert_eq!(dedup.receive(PEER, id(1), c), Verdict::Deliver);
        assert_eq!(dedup.receive(PEER, id(1), c), Verdict::Duplicate);
        assert_eq!(dedup.receive(PEER, id(3), c), Verdict::Gap);
        assert_eq!(dedup.receive(PEER, id(2), c), Verdict::Deliver);
        assert_eq!(dedup.receive(PEER, id(3), c), Verdict::Deliver);
    }

    #[test]
    fn acks_cover_only_the_contiguous_stored_prefix() {
        let mut dedup = Dedup::default();
        for seq in 1..=3 {
            dedup.receive(PEER, id(seq), ConnId(1));
        }
        assert!(!dedup.confirm_stored(&PEER, id(2)));
        assert!(dedup.take_due_acks(&PEER).is_empty());
        assert!(dedup.confirm_stored(&PEER, id(1)));
        let acks = dedup.take_due_acks(&PEER);
        assert_eq!(
            acks,
            [DueAck {
                stream: 7,
                upto: 2,
                conn: Some(ConnId(1))
            }]
        );
    }

    #[test]
    fn a_rewound_stream_accepts_the_resend() {
        let mut dedup = Dedup::default();
        dedup.receive(PEER, id(1), ConnId(1));
        dedup.confirm_stored(&PEER, id(1));
        assert_eq!(dedup.receive(PEER, id(2), ConnId(1)), Verdict::Deliver);
        dedup.rewind(&PEER, id(2));
        assert_eq!(dedup.receive(PEER, id(1), ConnId(2)), Verdict::Duplicate);
        assert_eq!(dedup.receive(PEER, id(2), ConnId(2)), Verdict::Deliver);
    }

    #[test]
    fn restored_marks_turn_resends_into_reacked_duplicates() {
        let mut dedup = Dedup::default();
        dedup.restore(DedupRecord {
            peer: PEER,
            stream: 7,
            stored: 4,
        });
        assert_eq!(dedup.receive(PEER, id(4), ConnId(2)), Verdict::Duplicate);
        assert_eq!(dedup.take_due_acks(&PEER)[0].upto, 4);
        assert_eq!(dedup.receive(PEER, id(5), ConnId(2)), Verdict::Deliver);
    }
}
