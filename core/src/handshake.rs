//! The Noise parameters of the TCP-direct protocol: pattern, prologue, and the builders for the
//! initiator and responder handshake states.

use snow::{Builder, HandshakeState};

use crate::keys::{KEY_LEN, SecretKey};
use crate::rng::SeededResolver;

/// The Noise protocol name.
pub const NOISE_PARAMS: &str = "Noise_XK_25519_ChaChaPoly_BLAKE2s";

/// The prologue both sides mix into the handshake. It names the protocol and its major version:
/// peers with a different prologue fail the handshake instead of misreading each other.
pub const PROLOGUE: &[u8] = b"skychat-tcp-direct/1";

/// Length of handshake message 1 (`e, es` with an empty payload).
pub const MSG1_LEN: usize = 48;
/// Length of handshake message 2 (`e, ee` with an empty payload).
pub const MSG2_LEN: usize = 48;
/// Length of handshake message 3 (`s, se` with an empty payload).
pub const MSG3_LEN: usize = 64;

fn builder<'a>(local: &'a [u8; 32], seed: [u8; 32]) -> Builder<'a> {
    let params = NOISE_PARAMS.parse().expect("valid Noise parameters");
    Builder::with_resolver(params, Box::new(SeededResolver::new(seed)))
        .prologue(PROLOGUE)
        .expect("prologue is set once")
        .local_private_key(local)
        .expect("private key is set once")
}

/// The initiator side, pinned to `remote`. Its ephemeral key comes from `seed`.
pub fn initiator(local: &SecretKey, remote: &[u8; KEY_LEN], seed: [u8; 32]) -> HandshakeState {
    let local = local.to_bytes();
    builder(&local, seed)
        .remote_public_key(remote)
        .expect("remote key is set once")
        .build_initiator()
        .expect("complete XK initiator parameters")
}

/// The responder side. Its ephemeral key comes from `seed`.
pub fn responder(local: &SecretKey, seed: [u8; 32]) -> HandshakeState {
    let local = local.to_bytes();
    builder(&local, seed)
        .build_responder()
        .expect("complete XK responder parameters")
}
