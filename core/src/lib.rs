//! The sans-IO protocol core of skychat.
//!
//! Bytes and time go in; bytes to send, events and the next deadline come out. Nothing here
//! touches sockets, threads, files, clocks or OS randomness: the host passes `now` (a monotonic
//! [`Duration`](std::time::Duration) since an origin of its choosing) into every call and a seed
//! into [`Node::new`]. The same inputs always give the same outputs.
//!
//! - [`node`]: the [`Node`], which owns identity, connections, outbox and dedup, and its driving
//!   loop ([`Node::poll_output`]).
//! - [`session`]: one connection's Noise XK handshake and transport; `suite_session` wraps it or
//!   a Skywire session, and picks an inbound connection's suite from its first message.
//! - [`handshake`]: the Noise parameters and prologue.
//! - [`framing`], [`frame`], [`message`]: the wire formats; `prefixed` is the length-prefixed
//!   buffer shared by every stream reader (the native framing, the Skywire records and frames).
//! - [`skywire`]: the Skywire suite (the Go skychat's TCP-direct wire), beside the native one.
//! - [`outbox`], [`dedup`]: delivery (exactly once, in order, acked after storage).
//! - [`timer`], [`dial`], [`whitelist`], [`config`]: timers, reconnect backoff, inbound policy,
//!   limits.
//! - [`pending`], [`refusals`]: which pending inbound handshake to evict at the cap, and the
//!   counts of refused inbound connections.
//! - `fuzzing` (only with `--cfg fuzzing` or the `fuzzing` feature): helpers for `fuzz/`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod dedup;
pub mod dial;
pub mod event;
pub mod frame;
pub mod framing;
#[cfg(any(fuzzing, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod handshake;
pub mod keys;
pub mod message;
pub mod node;
pub mod outbox;
pub mod pending;
mod prefixed;
pub mod refusals;
pub mod rng;
pub mod session;
pub mod skywire;
mod suite_session;
pub mod timer;
pub mod whitelist;

pub use config::NodeConfig;
pub use dedup::DedupRecord;
pub use event::{CloseReason, ConnKind, Event, Output, Transmit};
pub use frame::CloseCode;
pub use keys::{KeyParseError, PublicKey, SecretKey, SecretKeyError, Suite};
pub use message::{ChatMessage, MAX_BODY_BYTES, MessageId};
pub use node::{CommandError, Node, SessionInfo};
pub use refusals::RefusalCounts;
pub use session::Role;
pub use skywire::{
    PqPolicy, SkywireError, SkywirePayload, SkywirePublicKey, SkywireReceived, SkywireSecretKey,
    SkywireSession,
};
pub use timer::ConnId;
pub use whitelist::Whitelist;
