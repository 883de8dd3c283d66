//! Node configuration: every limit and timeout of the protocol, with the documented defaults.

use std::time::Duration;

use crate::keys::PublicKey;
use crate::skywire::PqPolicy;
use crate::whitelist::Whitelist;

/// Limits and timeouts. [`NodeConfig::default`] gives the values that `docs/protocol.md` states.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Who may connect inbound. The default is empty, which rejects everyone.
    pub whitelist: Whitelist,
    /// Peers blocked from the start: refused on every network, never dialed (see
    /// [`crate::Node::set_blocked`]).
    pub blocked: Vec<crate::PublicKey>,
    /// A connection must finish the handshake within this time.
    pub handshake_timeout: Duration,
    /// An inbound connection must send its first bytes within this time (a real initiator sends
    /// message 1 as soon as it has connected); after them, `handshake_timeout` applies.
    pub first_bytes_timeout: Duration,
    /// A session that has received nothing for this long sends a ping.
    pub keepalive_interval: Duration,
    /// A session that has received nothing for this long is closed. This bounds how long a
    /// half-open connection goes unnoticed.
    pub idle_timeout: Duration,
    /// First reconnect delay for a persistent peer.
    pub reconnect_initial: Duration,
    /// Largest reconnect delay.
    pub reconnect_max: Duration,
    /// A session must last this long before its end resets the reconnect backoff.
    pub reconnect_stable_after: Duration,
    /// Handshakes under way: connections that have sent or received handshake bytes and not
    /// finished. When an inbound connection starts its handshake beyond the cap, the inbound
    /// handshake that has done least (message 1 incomplete before waiting for message 3, the
    /// oldest among equals) is evicted.
    pub max_pending_handshakes: usize,
    /// Inbound connections that have sent nothing yet. They cost a descriptor each and no
    /// crypto, and `first_bytes_timeout` bounds their life. At the cap, the oldest of them is
    /// evicted to make room for a new one.
    pub max_silent_connections: usize,
    /// Authenticated sessions with one peer; a further one is closed as busy.
    pub max_sessions_per_peer: usize,
    /// Messages sent on a session and not yet acked; the rest wait in the outbox.
    pub max_in_flight_per_session: usize,
    /// Unacked messages queued for one peer; further sends are refused.
    pub max_outbox_per_peer: usize,
    /// Unacked messages queued for all peers together.
    pub max_outbox_total: usize,
    /// How Skywire-suite handshakes treat the post-quantum hybrid: offered and answered by
    /// default; `require` refuses classical peers.
    pub pq_policy: PqPolicy,
    /// The host can reach any Skywire key without knowing its address (it runs under a visor
    /// that dials skynet and dmsg): a Skywire peer with messages queued and no session is then
    /// dialed ([`crate::Output::Dial`]) on the reconnect schedule until its outbox is empty.
    pub dial_on_demand: bool,
    /// The key this host's visor is known by on skynet and dmsg, if the node's identity is not
    /// that key: messages to it count as addressed to this node.
    pub mesh_key: Option<PublicKey>,
}

impl NodeConfig {
    /// The longest base delay between redials of a persistent peer whose attempts are turned
    /// away before handshake message 2: the short schedule doubles from `reconnect_initial` up
    /// to this (plus jitter of up to a quarter).
    pub fn turned_away_cap(&self) -> Duration {
        crate::redial::turned_away_cap(self.reconnect_initial, self.reconnect_max)
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            whitelist: Whitelist::default(),
            blocked: Vec::new(),
            handshake_timeout: Duration::from_secs(10),
            first_bytes_timeout: Duration::from_secs(2),
            keepalive_interval: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            reconnect_initial: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            reconnect_stable_after: Duration::from_secs(10),
            max_pending_handshakes: 256,
            max_silent_connections: 4096,
            max_sessions_per_peer: 8,
            max_in_flight_per_session: 1024,
            max_outbox_per_peer: 10_000,
            max_outbox_total: 100_000,
            pq_policy: PqPolicy::default(),
            dial_on_demand: false,
            mesh_key: None,
        }
    }
}
