//! The Skywire suite: the wire of the Go skychat's TCP-direct entry point, sans-IO.
//!
//! - [`keys`]: secp256k1 identity keys (66-hex public keys) and Skywire's DH.
//! - [`handshake`]: Noise XK with the ML-KEM-768 hybrid and the Go split direction.
//! - [`record`]: the `[u16 length]` framing and the explicit-nonce transport records.
//! - [`chat`]: u32-length chat frames inside the decrypted stream.
//! - [`envelope`]: the payloads (raw text and the JSON envelopes).
//! - [`session`]: one connection, from received bytes to payloads and bytes to send.
//! - [`ids`]: envelope id strings and the node's message ids.
//! - [`inbox`]: received `chat-msg` dedup and the acks owed.
//! - [`mesh`]: a connection a visor relays (skynet, dmsg): chat frames without records.
//!
//! The handshake is written here rather than on a Noise library: the protocol name
//! `Noise_XK_Secp256k1_ChaChaPoly_SHA256` is hashed into the handshake, so the library must
//! accept a custom DH by name with a 33-byte `DHLen`, and the post-quantum mix needs the raw split
//! keys and the final hash.

pub mod chat;
pub mod envelope;
pub mod handshake;
pub mod ids;
pub mod inbox;
pub mod keys;
pub mod mesh;
mod pq;
pub mod record;
pub mod session;
mod symmetric;

pub use chat::{ChatFrameError, MAX_CHAT_FRAME};
pub use envelope::{ChatMsg, SkywirePayload};
pub use handshake::{HandshakeError, PqPolicy};
pub use keys::{SkywireKeyError, SkywirePublicKey, SkywireSecretKey};
pub use record::{RecordError, WireError};
pub use session::{Established, SkywireError, SkywireReceived, SkywireSendError, SkywireSession};
