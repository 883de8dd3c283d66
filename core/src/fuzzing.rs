//! The internals that the fuzz targets in `fuzz/` and the byte-level tests need; compiled only
//! when fuzzing or testing. cargo-fuzz passes `--cfg fuzzing`; the fuzz crate enables the
//! `fuzzing` feature so that a plain `cargo clippy --workspace` can type-check it, and the core's
//! own tests enable it through a dev-dependency on the core. Nothing here is part of the normal
//! API.
//!
//! - The wire below the node, re-exported: [`frame`], [`framing`], [`handshake`], [`session`],
//!   [`SeededRng`], and the Skywire suite's [`skywire`] internals (handshake, records, chat
//!   frames, envelope ids).
//! - [`ScriptedPeer`]: the other end of a handshake, built on the same Noise parameters as a
//!   [`Session`](crate::session::Session) but driven step by step, so a target can send genuine,
//!   altered or replaced handshake messages, and encrypt arbitrary frame plaintext (which a
//!   session never does: it only encrypts well-formed frames).
//! - [`max_pre_auth_transmit`]: the most a node may write on a connection before it has
//!   authenticated the peer.

pub use crate::rng::SeededRng;

/// The native frames: kinds, encoding and decoding.
pub mod frame {
    pub use crate::frame::*;
}

/// Bundles: several native frames in one Noise message.
pub mod bundle {
    pub use crate::bundle::*;
}

/// The native length prefix and the reader of Noise messages.
pub mod framing {
    pub use crate::framing::*;
}

/// The native Noise parameters and prologue.
pub mod handshake {
    pub use crate::handshake::*;
}

/// One native connection's handshake and transport.
pub mod session {
    pub use crate::session::*;
}

/// The Skywire suite's internals: its handshake, records, chat frames and envelope ids.
pub mod skywire {
    pub use crate::skywire::{chat, handshake, ids, mesh, record};
}

use bytes::BytesMut;
use snow::HandshakeState;

use crate::framing::{LENGTH_PREFIX, MAX_NOISE_MESSAGE, NoiseMessageReader, write_message};
use crate::handshake::{MSG1_LEN, MSG2_LEN, MSG3_LEN};
use crate::keys::{PublicKey, SecretKey};
use crate::session::{Phase, Role, TAG_LEN};

/// The most bytes a node may transmit on a connection before the handshake has authenticated
/// its peer: message 1 for an initiator (message 3 follows only once message 2 has verified,
/// which authenticates the responder), message 2 for a responder.
pub const fn max_pre_auth_transmit(role: Role) -> usize {
    match role {
        Role::Initiator => LENGTH_PREFIX + MSG1_LEN,
        Role::Responder => LENGTH_PREFIX + MSG2_LEN,
    }
}

/// The length of handshake message 3 on the wire, with its prefix.
pub const MSG3_ON_WIRE: usize = LENGTH_PREFIX + MSG3_LEN;

/// One end of a Noise XK handshake driven message by message. Every message it writes or reads
/// carries the 2-byte length prefix of the wire format.
pub struct ScriptedPeer {
    phase: Phase,
    reader: NoiseMessageReader,
}

impl ScriptedPeer {
    /// An initiator with key `local` pinned to `remote`, ephemeral key drawn from `seed`.
    pub fn initiator(local: &SecretKey, remote: &PublicKey, seed: [u8; 32]) -> Self {
        let remote = remote.as_native().expect("a native key");
        Self::with(handshake::initiator(local, remote, seed))
    }

    /// A responder with key `local`, ephemeral key drawn from `seed`.
    pub fn responder(local: &SecretKey, seed: [u8; 32]) -> Self {
        Self::with(handshake::responder(local, seed))
    }

    fn with(state: HandshakeState) -> Self {
        Self {
            phase: Phase::Handshake(Box::new(state)),
            reader: NoiseMessageReader::default(),
        }
    }

    /// True once the handshake has finished on this side.
    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Transport(_))
    }

    /// Writes this side's next handshake message, prefixed, or `None` if it is not this side's
    /// turn (or the handshake is over or failed).
    pub fn write_handshake(&mut self) -> Option<Vec<u8>> {
        let Phase::Handshake(state) = &mut self.phase else {
            return None;
        };
        if !state.is_my_turn() {
            return None;
        }
        let mut message = [0u8; MSG3_LEN];
        let len = state.write_message(&[], &mut message).ok()?;
        let mut out = BytesMut::new();
        write_message(&mut out, &message[..len]);
        self.enter_transport_if_finished();
        Some(out.to_vec())
    }

    /// Appends bytes the node transmitted. Returns false if they break the protocol: a bad
    /// length prefix, a handshake message that does not verify, or a transport message that does
    /// not decrypt. Decrypted frame plaintexts are appended to `frames`.
    pub fn receive(&mut self, bytes: &[u8], frames: &mut Vec<Vec<u8>>) -> bool {
        self.reader.push(bytes);
        let mut buffer = vec![0u8; MAX_NOISE_MESSAGE];
        loop {
            let message = match self.reader.next_message(MAX_NOISE_MESSAGE) {
                Ok(Some(message)) => message,
                Ok(None) => return true,
                Err(_) => return self.fail(),
            };
            match &mut self.phase {
                Phase::Handshake(state) => {
                    if !matches!(state.read_message(&message, &mut buffer), Ok(0)) {
                        return self.fail();
                    }
                    self.enter_transport_if_finished();
                }
                Phase::Transport(state) => match state.read_message(&message, &mut buffer) {
                    Ok(len) => frames.push(buffer[..len].to_vec()),
                    Err(_) => return self.fail(),
                },
                Phase::Failed => return false,
            }
        }
    }

    /// Encrypts `plaintext` (any bytes, truncated to the largest frame) as the next transport
    /// message, prefixed. `None` before the handshake has finished.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Option<Vec<u8>> {
        let Phase::Transport(state) = &mut self.phase else {
            return None;
        };
        let plaintext = &plaintext[..plaintext.len().min(MAX_NOISE_MESSAGE - TAG_LEN)];
        let mut cipher = vec![0u8; plaintext.len() + TAG_LEN];
        let len = state.write_message(plaintext, &mut cipher).ok()?;
        let mut out = BytesMut::new();
        write_message(&mut out, &cipher[..len]);
        Some(out.to_vec())
    }

    fn fail(&mut self) -> bool {
        self.phase = Phase::Failed;
        false
    }

    fn enter_transport_if_finished(&mut self) {
        if !matches!(&self.phase, Phase::Handshake(s) if s.is_handshake_finished()) {
            return;
        }
        let Phase::Handshake(state) = std::mem::replace(&mut self.phase, Phase::Failed) else {
            return;
        };
        if let Ok(transport) = state.into_transport_mode() {
            self.phase = Phase::Transport(Box::new(transport));
        }
    }
}
