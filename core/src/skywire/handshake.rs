//! The Skywire handshake: Noise XK over secp256k1 with Skywire's DH, an empty prologue, the
//! ML-KEM-768 hybrid in the payloads of messages 1 and 2, and the split keys used the other way
//! round from the Noise specification (the initiator sends with k2), as the Go code does.
//!
//! Each side is a chain of by-value states, so a message can only be read once and in order. The
//! bodies here carry no length prefix; the session adds and checks it.

use crate::rng::SeededRng;

use super::keys::{SKYWIRE_PK_LEN, SkywireKeyError, SkywirePublicKey, SkywireSecretKey};
use super::pq::{self, MLKEM_CT_LEN, MLKEM_EK_LEN, PqOffer};
use super::symmetric::{SymmetricState, TAG_LEN};

/// Smallest message 1 or 2: an ephemeral key and an empty encrypted payload.
pub const MIN_MSG1_LEN: usize = SKYWIRE_PK_LEN + TAG_LEN;
/// Smallest message 2.
pub const MIN_MSG2_LEN: usize = SKYWIRE_PK_LEN + TAG_LEN;
/// Message 3 with an empty payload: the encrypted static key, then the payload's tag.
pub const MSG3_LEN: usize = SKYWIRE_PK_LEN + TAG_LEN + TAG_LEN;
/// Message 1 carrying an ML-KEM-768 offer.
pub const PQ_MSG1_LEN: usize = MIN_MSG1_LEN + MLKEM_EK_LEN;
/// Message 2 carrying an ML-KEM-768 answer.
pub const PQ_MSG2_LEN: usize = MIN_MSG2_LEN + MLKEM_CT_LEN;

/// How this end treats the post-quantum hybrid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PqPolicy {
    /// Offer ML-KEM as initiator, answer an offer as responder (what 2026 Go peers do).
    pub hybrid: bool,
    /// Fail a handshake that completes classically (an initiator then offers ML-KEM even if
    /// `hybrid` is false).
    pub require: bool,
}

impl Default for PqPolicy {
    fn default() -> Self {
        Self {
            hybrid: true,
            require: false,
        }
    }
}

/// Everything random in one handshake.
#[derive(Clone)]
pub struct HandshakeRandomness {
    /// This end's ephemeral secp256k1 key.
    pub ephemeral: SkywireSecretKey,
    /// ML-KEM-768 key generation seed `d` (initiator).
    pub mlkem_d: [u8; 32],
    /// ML-KEM-768 key generation seed `z` (initiator).
    pub mlkem_z: [u8; 32],
    /// ML-KEM-768 encapsulation randomness `m` (responder).
    pub mlkem_m: [u8; 32],
}

impl HandshakeRandomness {
    /// Draws from a ChaCha20 stream seeded with `seed`, in this order: the ephemeral key (32
    /// bytes, drawn again in the negligible case that they are not a valid scalar), then `d`, `z`
    /// and `m`, 32 bytes each.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut rng = SeededRng::from_seed(seed);
        let ephemeral = loop {
            let mut bytes = [0u8; 32];
            rng.fill(&mut bytes);
            if let Ok(key) = SkywireSecretKey::from_bytes(bytes) {
                break key;
            }
        };
        let mut draw = || {
            let mut bytes = [0u8; 32];
            rng.fill(&mut bytes);
            bytes
        };
        Self {
            ephemeral,
            mlkem_d: draw(),
            mlkem_z: draw(),
            mlkem_m: draw(),
        }
    }
}

impl std::fmt::Debug for HandshakeRandomness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandshakeRandomness(<redacted>)")
    }
}

/// Why a handshake message was refused. Every one ends the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The message is shorter than its tokens.
    TooShort {
        /// Bytes received.
        len: usize,
        /// Bytes the message needs at least.
        min: usize,
    },
    /// A key in the message is not a point on secp256k1.
    BadPublicKey,
    /// An encrypted part failed to authenticate (wrong key, tampering, or a peer that is not the
    /// one dialed).
    DecryptFailed,
    /// The initiator's 1184-byte ML-KEM offer is not a valid encapsulation key.
    BadKemKey,
    /// The peer completed without the ML-KEM hybrid, and this end requires it.
    PqRequired,
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooShort { len, min } => {
                write!(
                    f,
                    "handshake message of {len} bytes, expected at least {min}"
                )
            }
            Self::BadPublicKey => f.write_str("handshake key is not a secp256k1 point"),
            Self::DecryptFailed => f.write_str("handshake message did not decrypt"),
            Self::BadKemKey => f.write_str("ML-KEM-768 offer is not a valid encapsulation key"),
            Self::PqRequired => {
                f.write_str("peer completed the handshake without ML-KEM, which is required")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}

impl From<SkywireKeyError> for HandshakeError {
    fn from(_: SkywireKeyError) -> Self {
        Self::BadPublicKey
    }
}

/// One direction pair of transport keys.
#[derive(Clone, PartialEq, Eq)]
pub struct TransportKeys {
    /// The key this end encrypts records with.
    pub send: [u8; 32],
    /// The key this end decrypts records with.
    pub recv: [u8; 32],
}

impl std::fmt::Debug for TransportKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransportKeys(<redacted>)")
    }
}

/// A finished handshake.
#[derive(Debug, Clone)]
pub struct Completed {
    /// The peer's static key: pinned by the initiator, proven in message 3 to the responder.
    pub remote: SkywirePublicKey,
    /// True if the ML-KEM-768 hybrid ran; false for a classical (downgraded) completion.
    pub pq: bool,
    /// The final handshake hash `h` (equal on both ends).
    pub handshake_hash: [u8; 32],
    /// The transport keys, after the post-quantum mix when it ran.
    pub keys: TransportKeys,
}

fn split_ephemeral(body: &[u8], min: usize) -> Result<(SkywirePublicKey, &[u8]), HandshakeError> {
    if body.len() < min {
        return Err(HandshakeError::TooShort {
            len: body.len(),
            min,
        });
    }
    let (key, rest) = body.split_at(SKYWIRE_PK_LEN);
    Ok((SkywirePublicKey::from_slice(key)?, rest))
}

/// Split with the Go direction, then the optional post-quantum mix.
fn finish(
    symmetric: &SymmetricState,
    initiator: bool,
    remote: SkywirePublicKey,
    shared: Option<[u8; 32]>,
) -> Completed {
    let (k1, k2) = symmetric.split();
    let (send, recv) = if initiator { (k2, k1) } else { (k1, k2) };
    let hash = symmetric.hash();
    let keys = match shared {
        Some(ss) => TransportKeys {
            send: pq::mix_transport_key(&send, &ss, &hash),
            recv: pq::mix_transport_key(&recv, &ss, &hash),
        },
        None => TransportKeys { send, recv },
    };
    Completed {
        remote,
        pq: shared.is_some(),
        handshake_hash: hash,
        keys,
    }
}

fn initial_state(responder_static: &SkywirePublicKey) -> SymmetricState {
    let mut symmetric = SymmetricState::new();
    symmetric.mix_hash(&[]); // the empty prologue
    symmetric.mix_hash(responder_static.as_bytes()); // pre-message `<- s`
    symmetric
}

/// An initiator that has written message 1 and waits for message 2.
pub struct Initiator {
    symmetric: SymmetricState,
    local: SkywireSecretKey,
    ephemeral: SkywireSecretKey,
    remote: SkywirePublicKey,
    offer: Option<PqOffer>,
    require_pq: bool,
}

impl Initiator {
    /// Starts a handshake with `remote` and returns message 1 (`e, es`, payload).
    pub fn start(
        local: &SkywireSecretKey,
        remote: &SkywirePublicKey,
        policy: PqPolicy,
        randomness: HandshakeRandomness,
    ) -> (Self, Vec<u8>) {
        let mut symmetric = initial_state(remote);
        let ephemeral = randomness.ephemeral;
        let ephemeral_public = ephemeral.public_key();
        symmetric.mix_hash(ephemeral_public.as_bytes());
        symmetric.mix_key(&ephemeral.diffie_hellman(remote));
        let offer = (policy.hybrid || policy.require)
            .then(|| PqOffer::new(&randomness.mlkem_d, &randomness.mlkem_z));
        let payload = offer.as_ref().map_or(&[][..], |o| o.encapsulation_key());
        let mut message = Vec::with_capacity(PQ_MSG1_LEN);
        message.extend_from_slice(ephemeral_public.as_bytes());
        symmetric.encrypt_and_hash(payload, &mut message);
        let initiator = Self {
            symmetric,
            local: local.clone(),
            ephemeral,
            remote: *remote,
            offer,
            require_pq: policy.require,
        };
        (initiator, message)
    }

    /// Reads message 2 (`e, ee`, payload) and returns the finished handshake and message 3
    /// (`s, se`, empty payload).
    pub fn read_message2(mut self, body: &[u8]) -> Result<(Completed, Vec<u8>), HandshakeError> {
        let (remote_ephemeral, rest) = split_ephemeral(body, MIN_MSG2_LEN)?;
        self.symmetric.mix_hash(remote_ephemeral.as_bytes());
        self.symmetric
            .mix_key(&self.ephemeral.diffie_hellman(&remote_ephemeral));
        let payload = self
            .symmetric
            .decrypt_and_hash(rest)
            .map_err(|_| HandshakeError::DecryptFailed)?;
        let shared = match &self.offer {
            Some(offer) if payload.len() == MLKEM_CT_LEN => offer.decapsulate(&payload),
            _ => None,
        };
        if shared.is_none() && self.require_pq {
            return Err(HandshakeError::PqRequired);
        }
        let mut message = Vec::with_capacity(MSG3_LEN);
        self.symmetric
            .encrypt_and_hash(self.local.public_key().as_bytes(), &mut message);
        self.symmetric
            .mix_key(&self.local.diffie_hellman(&remote_ephemeral));
        self.symmetric.encrypt_and_hash(&[], &mut message);
        Ok((finish(&self.symmetric, true, self.remote, shared), message))
    }
}

/// A responder waiting for message 1.
pub struct Responder {
    symmetric: SymmetricState,
    local: SkywireSecretKey,
    randomness: HandshakeRandomness,
    policy: PqPolicy,
}

impl Responder {
    /// A responder for the static key `local`.
    pub fn new(
        local: &SkywireSecretKey,
        policy: PqPolicy,
        randomness: HandshakeRandomness,
    ) -> Self {
        Self {
            symmetric: initial_state(&local.public_key()),
            local: local.clone(),
            randomness,
            policy,
        }
    }

    /// Reads message 1 and returns message 2. A 1184-byte payload is an ML-KEM offer, answered
    /// when the policy allows; any other payload means a classical initiator.
    pub fn read_message1(
        mut self,
        body: &[u8],
    ) -> Result<(AwaitingMessage3, Vec<u8>), HandshakeError> {
        let (remote_ephemeral, rest) = split_ephemeral(body, MIN_MSG1_LEN)?;
        self.symmetric.mix_hash(remote_ephemeral.as_bytes());
        self.symmetric
            .mix_key(&self.local.diffie_hellman(&remote_ephemeral));
        let payload = self
            .symmetric
            .decrypt_and_hash(rest)
            .map_err(|_| HandshakeError::DecryptFailed)?;
        let wants_pq = self.policy.hybrid || self.policy.require;
        let answer = if wants_pq && payload.len() == MLKEM_EK_LEN {
            Some(pq::answer(&payload, &self.randomness.mlkem_m).ok_or(HandshakeError::BadKemKey)?)
        } else {
            None
        };
        let ephemeral = self.randomness.ephemeral;
        let ephemeral_public = ephemeral.public_key();
        self.symmetric.mix_hash(ephemeral_public.as_bytes());
        self.symmetric
            .mix_key(&ephemeral.diffie_hellman(&remote_ephemeral));
        let mut message = Vec::with_capacity(PQ_MSG2_LEN);
        message.extend_from_slice(ephemeral_public.as_bytes());
        let ciphertext = answer.as_ref().map_or(&[][..], |(ct, _)| ct);
        self.symmetric.encrypt_and_hash(ciphertext, &mut message);
        let awaiting = AwaitingMessage3 {
            symmetric: self.symmetric,
            ephemeral,
            shared: answer.map(|(_, ss)| ss),
            require_pq: self.policy.require,
        };
        Ok((awaiting, message))
    }
}

/// A responder that has written message 2 and waits for message 3.
pub struct AwaitingMessage3 {
    symmetric: SymmetricState,
    ephemeral: SkywireSecretKey,
    shared: Option<[u8; 32]>,
    require_pq: bool,
}

impl AwaitingMessage3 {
    /// Reads message 3 (`s, se`, payload; a payload is ignored, as the Go code does) and
    /// finishes. The initiator's static key is authenticated from here on.
    pub fn read_message3(mut self, body: &[u8]) -> Result<Completed, HandshakeError> {
        if body.len() < MSG3_LEN {
            return Err(HandshakeError::TooShort {
                len: body.len(),
                min: MSG3_LEN,
            });
        }
        let (encrypted_static, rest) = body.split_at(SKYWIRE_PK_LEN + TAG_LEN);
        let remote_static = self
            .symmetric
            .decrypt_and_hash(encrypted_static)
            .map_err(|_| HandshakeError::DecryptFailed)?;
        let remote = SkywirePublicKey::from_slice(&remote_static)?;
        self.symmetric
            .mix_key(&self.ephemeral.diffie_hellman(&remote));
        self.symmetric
            .decrypt_and_hash(rest)
            .map_err(|_| HandshakeError::DecryptFailed)?;
        if self.shared.is_none() && self.require_pq {
            return Err(HandshakeError::PqRequired);
        }
        Ok(finish(&self.symmetric, false, remote, self.shared))
    }
}
