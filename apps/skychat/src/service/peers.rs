//! Who this node is connected to, as learned from the node's events: per peer, its live
//! sessions, how each came to be and the network it runs over. Only authenticated sessions are recorded, so nothing here
//! grows with connections that never got that far.

use std::collections::BTreeMap;
use std::sync::Mutex;

use skychat_core::{ConnId, ConnKind, Network, PublicKey};

/// One peer's live sessions: how each came to be, and its network.
type Sessions = BTreeMap<ConnId, (ConnKind, Network)>;

/// Live sessions per peer.
#[derive(Default)]
pub struct PeerTable {
    sessions: Mutex<BTreeMap<PublicKey, Sessions>>,
}

impl PeerTable {
    /// A session with `peer` authenticated.
    pub fn up(&self, peer: PublicKey, conn: ConnId, kind: ConnKind, network: Network) {
        self.sessions
            .lock()
            .expect("peer lock")
            .entry(peer)
            .or_default()
            .insert(conn, (kind, network));
    }

    /// A connection ended. Returns whether it was a session recorded here by [`PeerTable::up`]
    /// (false for a connection that never authenticated, such as a rejected stranger's).
    pub fn down(&self, peer: PublicKey, conn: ConnId) -> bool {
        let mut sessions = self.sessions.lock().expect("peer lock");
        let Some(conns) = sessions.get_mut(&peer) else {
            return false;
        };
        let known = conns.remove(&conn).is_some();
        if conns.is_empty() {
            sessions.remove(&peer);
        }
        known
    }

    /// Whether any session with `peer` is up.
    pub fn is_connected(&self, peer: &PublicKey) -> bool {
        self.sessions.lock().expect("peer lock").contains_key(peer)
    }

    /// The network of `peer`'s session `conn`, if it is live.
    pub fn network_of_conn(&self, peer: &PublicKey, conn: ConnId) -> Option<Network> {
        let sessions = self.sessions.lock().expect("peer lock");
        sessions.get(peer)?.get(&conn).map(|(_, network)| *network)
    }

    /// The network of `peer`'s oldest live session: the one its messages go over.
    pub fn network_of(&self, peer: &PublicKey) -> Option<Network> {
        let sessions = self.sessions.lock().expect("peer lock");
        sessions
            .get(peer)?
            .values()
            .next()
            .map(|(_, network)| *network)
    }

    /// Live sessions per peer.
    pub fn snapshot(&self) -> BTreeMap<PublicKey, Vec<(ConnKind, Network)>> {
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
