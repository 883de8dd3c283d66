//! Receive-side state for Skywire peers: which `chat-msg` ids were delivered to the host and
//! which it has stored, and the `chat-ack`s owed once it has. Envelopes carry no order, so
//! duplicates are found by id among the most recent [`MAX_RECENT_IDS`] per peer; the host's store
//! (unique per peer and id) catches older ones.

use std::collections::{BTreeMap, VecDeque};

use crate::keys::PublicKey;
use crate::message::MessageId;
use crate::timer::ConnId;

/// Ids remembered per peer.
pub const MAX_RECENT_IDS: usize = 4096;

/// What to do with a received `chat-msg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxVerdict {
    /// New: hand it to the host.
    Deliver,
    /// Seen before: drop it (an ack is owed again if it was stored).
    Duplicate,
}

#[derive(Debug)]
struct Entry {
    wire_id: String,
    stored: bool,
    ack_wanted: bool,
    conn: ConnId,
}

/// An ack owed to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedAck {
    /// The id string as the peer sent it.
    pub wire_id: String,
    /// The connection the message came in on: the Go sender waits for its ack there.
    pub conn: ConnId,
}

#[derive(Debug, Default)]
struct PeerInbox {
    entries: BTreeMap<MessageId, Entry>,
    order: VecDeque<MessageId>,
    owed: Vec<OwedAck>,
}

/// Inbox state for every Skywire peer.
#[derive(Debug, Default)]
pub struct SkywireInbox {
    peers: BTreeMap<PublicKey, PeerInbox>,
}

impl SkywireInbox {
    /// Classifies a `chat-msg` with `id` (from `wire_id`) that arrived on `conn`.
    pub fn receive(
        &mut self,
        peer: PublicKey,
        id: MessageId,
        wire_id: &str,
        ack_wanted: bool,
        conn: ConnId,
    ) -> InboxVerdict {
        let inbox = self.peers.entry(peer).or_default();
        if let Some(entry) = inbox.entries.get_mut(&id) {
            if entry.stored {
                if ack_wanted {
                    inbox.owed.push(OwedAck {
                        wire_id: entry.wire_id.clone(),
                        conn,
                    });
                }
            } else {
                entry.ack_wanted |= ack_wanted;
                entry.conn = conn;
            }
            return InboxVerdict::Duplicate;
        }
        if inbox.order.len() >= MAX_RECENT_IDS {
            // Forget the oldest stored id; if none is stored yet, the oldest of all.
            let victim = inbox
                .order
                .iter()
                .position(|old| inbox.entries.get(old).is_some_and(|e| e.stored))
                .unwrap_or(0);
            if let Some(old) = inbox.order.remove(victim) {
                inbox.entries.remove(&old);
            }
        }
        inbox.entries.insert(
            id,
            Entry {
                wire_id: wire_id.to_owned(),
                stored: false,
                ack_wanted,
                conn,
            },
        );
        inbox.order.push_back(id);
        InboxVerdict::Deliver
    }

    /// The host stored `id` from `peer`. Returns true if an ack is now owed.
    pub fn confirm_stored(&mut self, peer: &PublicKey, id: MessageId) -> bool {
        let Some(inbox) = self.peers.get_mut(peer) else {
            return false;
        };
        let Some(entry) = inbox.entries.get_mut(&id) else {
            return false;
        };
        if entry.stored {
            return false;
        }
        entry.stored = true;
        if entry.ack_wanted {
            inbox.owed.push(OwedAck {
                wire_id: entry.wire_id.clone(),
                conn: entry.conn,
            });
        }
        entry.ack_wanted
    }

    /// The host could not store `id`: forget it, so that a resend is delivered again.
    pub fn rewind(&mut self, peer: &PublicKey, id: MessageId) {
        if let Some(inbox) = self.peers.get_mut(peer)
            && inbox.entries.remove(&id).is_some()
        {
            inbox.order.retain(|old| *old != id);
        }
    }

    /// Takes the acks owed to `peer`.
    pub fn take_owed_acks(&mut self, peer: &PublicKey) -> Vec<OwedAck> {
        self.peers
            .get_mut(peer)
            .map(|inbox| std::mem::take(&mut inbox.owed))
            .unwrap_or_default()
    }

    /// The id string `peer` used for `id`, if it is still remembered.
    pub fn wire_id(&self, peer: &PublicKey, id: MessageId) -> Option<&str> {
        self.peers
            .get(peer)?
            .entries
            .get(&id)
            .map(|e| e.wire_id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skywire::ids::message_id;

    fn peer() -> PublicKey {
        PublicKey::native([3; 32])
    }

    #[test]
    fn a_message_is_acked_once_stored_and_again_when_resent() {
        let mut inbox = SkywireInbox::default();
        let id = message_id("18ed000000000001").unwrap();
        let conn = ConnId(1);
        let wire = "18ed000000000001";
        assert_eq!(
            inbox.receive(peer(), id, wire, true, conn),
            InboxVerdict::Deliver
        );
        assert_eq!(
            inbox.receive(peer(), id, wire, true, ConnId(2)),
            InboxVerdict::Duplicate
        );
        assert!(inbox.take_owed_acks(&peer()).is_empty());
        assert!(inbox.confirm_stored(&peer(), id));
        assert_eq!(
            inbox.take_owed_acks(&peer()),
            vec![OwedAck {
                wire_id: wire.into(),
                conn: ConnId(2)
            }]
        );
        assert_eq!(
            inbox.receive(peer(), id, wire, true, ConnId(3)),
            InboxVerdict::Duplicate
        );
        assert_eq!(inbox.take_owed_acks(&peer()).len(), 1);
    }

    #[test]
    fn a_failed_store_lets_the_resend_through() {
        let mut inbox = SkywireInbox::default();
        let id = message_id("odd id").unwrap();
        inbox.receive(peer(), id, "odd id", true, ConnId(1));
        inbox.rewind(&peer(), id);
        assert_eq!(
            inbox.receive(peer(), id, "odd id", true, ConnId(1)),
            InboxVerdict::Deliver
        );
        assert_eq!(inbox.wire_id(&peer(), id), Some("odd id"));
    }

    #[test]
    fn memory_is_bounded_and_forgets_stored_ids_first() {
        let mut inbox = SkywireInbox::default();
        let pending = message_id("pending").unwrap();
        inbox.receive(peer(), pending, "pending", false, ConnId(1));
        for n in 0..MAX_RECENT_IDS as u64 + 10 {
            let id = MessageId { stream: 0, seq: n };
            inbox.receive(peer(), id, &id.to_hex(), false, ConnId(1));
            inbox.confirm_stored(&peer(), id);
        }
        assert!(inbox.wire_id(&peer(), pending).is_some());
        assert!(inbox.peers[&peer()].entries.len() <= MAX_RECENT_IDS);
    }
}
