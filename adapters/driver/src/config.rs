//! What the host gives the driver at start: identity, node limits, seed and restored state.

use std::time::Duration;

use skychat_core::{ChatMessage, DedupRecord, NodeConfig, PublicKey, SecretKey};

/// Everything [`crate::start`] needs.
pub struct DriverConfig {
    /// This node's identity.
    pub identity: SecretKey,
    /// Limits and timeouts of the protocol core.
    pub node: NodeConfig,
    /// Seed of all the core's randomness; take it from the OS at every start.
    pub seed: [u8; 32],
    /// Unacked messages persisted before a restart, in the order they were first accepted.
    pub restore_outbox: Vec<(PublicKey, ChatMessage)>,
    /// Dedup marks persisted before a restart.
    pub restore_dedup: Vec<DedupRecord>,
    /// TCP keepalive idle time for every connection; `None` leaves the OS default (off).
    pub tcp_keepalive: Option<Duration>,
}
