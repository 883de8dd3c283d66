//! Who this node is connected to, as learned from the node's events: per peer, its live
//! sessions and how each came to be.

use std::collections::BTreeMap;
use std::sync::Mutex;

use skychat_core::{ConnId, ConnKind, PublicKey};

/// Live sessions per peer.
#[derive(Default)]
pub struct PeerTable {
    sessions: Mutex<BTreeMap<PublicKey, BTreeMap<ConnId, ConnKind>>>,
}

impl PeerTable {
    /// A session with `peer` authenticated.
    pub fn up(&self, peer: PublicKey, conn: ConnId, kind: ConnKind) {
        self.sessions
            .lock()
            .expect("peer lock")
            .entry(peer)
            .or_default()
            .insert(conn, kind);
    }

    /// A session ended.
    pub fn down(&self, peer: PublicKey, conn: ConnId) {
        let mut sessions = self.sessions.lock().expect("peer lock");
        if let Some(conns) = sessions.get_mut(&peer) {
            conns.remove(&conn);
            if conns.is_empty() {
                sessions.remove(&peer);
            }
        }
    }

    /// Whether any session with `peer` is up.
    pub fn is_connected(&self, peer: &PublicKey) -> bool {
        self.sessions.lock().expect("peer lock").contains_key(peer)
    }

    /// Live sessions per peer.
    pub fn snapshot(&self) -> BTreeMap<PublicKey, Vec<ConnKind>> {
        self.sessions
            .lock()
            .expect("peer lock")
            .iter()
            .map(|(peer, conns)| (*peer, conns.values().copied().collect()))
            .collect()
    }

    /// Peers with at least one live session.
    pub fn connected_count(&self) -> usize {
        self.sessions.lock().expect("peer lock").len()
    }
}
