//! Skychat on a Skywire visor's mesh: the visor's app server as a transport of the skychat
//! driver.
//!
//! [`connect`] opens the app-server socket named in `PROC_CONFIG`, says Hello, and starts one
//! task that owns the socket and the sans-IO RPC client of `skychat-visor`. That task listens
//! on skynet and dmsg (port `routing_port`), keeps an `Accept` in flight on each, and hands
//! every connection the visor relays to the node as a mesh pipe; it dials peers for the driver
//! (skynet first, then dmsg, as the Go skychat does); and per connection it keeps one `Read` in
//! flight while the node has room, and one `Write` of what the node wrote. The node sees these
//! connections as it sees sockets: the same outbox, dedup, acks and events.
//!
//! - `link`: the task and the [`VisorLink`] the host keeps.
//! - `status`: what `/status` reports of the link.
//! - `fake_visor` (feature `fake-visor`): a test double of visors' app servers that relays
//!   between the apps it serves, in real gob bytes.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "fake-visor")]
pub mod fake_visor;
mod link;
mod status;

pub use link::{LinkConfig, LinkError, VisorLink, connect};
pub use status::LinkStatus;
