//! What the host can tell of its visor link: whether it is up, what it listens on, how many
//! connections it relays, and why it ended.

use skychat_core::Network;

/// A snapshot of the link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStatus {
    /// True from the Hello until the app-server connection ends.
    pub connected: bool,
    /// The app server's address, from `PROC_CONFIG`.
    pub app_server: String,
    /// The visor's key (66 hex): this node's address on skynet and dmsg.
    pub visor_pk: String,
    /// Networks with a listener at the visor.
    pub listening: Vec<Network>,
    /// Connections the visor relays now.
    pub connections: usize,
    /// Why the link ended, or why a listener could not be opened.
    pub error: Option<String>,
}
