//! The sans-IO protocol core of skychat.
//!
//! Bytes and time go in; bytes to send, peers to dial, events and the next deadline come out. Nothing here
//! touches sockets, threads, files, clocks or OS randomness: the host passes `now` (a monotonic
//! [`Duration`](std::time::Duration) since an origin of its choosing) into every call and a seed
//! into [`Node::new`]. The same inputs always give the same outputs.
//!
//! The modules are private; everything a host needs is re-exported here: the [`Node`] and its
//! [`NodeConfig`], what it returns ([`Output`], [`Transmit`], [`Event`], [`CloseReason`]), keys
//! and ids, messages, the errors, and the Skywire types a host meets. The fuzz targets and the
//! byte-level tests reach the internals (sessions, frames, records) through `fuzzing`, which
//! exists only with `--cfg fuzzing` or the `fuzzing` feature.
//!
//! Inside, `node` owns the [`Node`] and its input and output methods, with per-connection state
//! and timers in `node::connection`, peer routing with redial in `node::routing`, and what
//! arrives on an authenticated session in `node::receive`. `session`, `suite_session`,
//! `handshake`, `framing`, `frame`, `message` and `skywire` are the wire; `outbox` and `dedup`
//! are delivery; `timer`, `redial`, `pending`, `refusals`, `whitelist` and `config` are timers,
//! reconnect backoff and inbound policy. `docs/architecture.md` has the table.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bundle;
mod config;
mod dedup;
mod event;
mod frame;
mod framing;
#[cfg(any(fuzzing, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod handshake;
mod keys;
mod message;
mod node;
mod outbox;
mod pending;
mod prefixed;
mod redial;
mod refusals;
mod rng;
mod session;
mod skywire;
mod suite_session;
mod timer;
mod whitelist;

pub use config::NodeConfig;
pub use dedup::{DedupRecord, MAX_STREAMS_PER_PEER};
pub use event::{CloseReason, ConnKind, Event, Network, Output, Transmit};
pub use frame::{CloseCode, DecodeError};
pub use framing::FramingError;
pub use keys::{KeyParseError, PublicKey, SecretKey, SecretKeyError, Suite};
pub use message::{ChatMessage, MAX_BODY_BYTES, MessageId};
pub use node::{CommandError, Node, SessionInfo};
pub use outbox::CancelError;
pub use refusals::RefusalCounts;
pub use session::{Role, SessionError};
pub use skywire::{
    ChatFrameError, ChatMsg, Established, HandshakeError, PqPolicy, RecordError, SkywireError,
    SkywireKeyError, SkywirePayload, SkywirePublicKey, SkywireReceived, SkywireSecretKey,
    SkywireSendError, SkywireSession, WireError,
};
pub use timer::ConnId;
pub use whitelist::Whitelist;
