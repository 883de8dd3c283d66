//! The outer framing and the transport records of the Skywire wire.
//!
//! Every handshake message and every record is `[u16 BE length][body]` with `length ≤ 4094`.
//! A record body is `[u64 BE nonce][ChaCha20-Poly1305 ciphertext ‖ tag]`, AD empty, AEAD nonce
//! `0⁴ ‖ LE64(nonce)`. Nonces start at 1 per direction and must strictly increase (gaps are
//! accepted). A record carries at most 4070 plaintext bytes.

use bytes::{BufMut, BytesMut};

use crate::prefixed::PrefixedBuffer;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, UnboundKey};

use super::symmetric::{TAG_LEN, aead_nonce};

/// Bytes of the length prefix.
pub const PREFIX_LEN: usize = 2;
/// Largest body a length prefix may announce (`4096 − 2`).
pub const MAX_BODY_LEN: usize = 4094;
/// Bytes of the explicit nonce that opens a record body.
pub const NONCE_LEN: usize = 8;
/// Smallest record body: a nonce and a tag (empty plaintext, which the reader skips).
pub const MIN_RECORD_LEN: usize = NONCE_LEN + TAG_LEN;
/// Largest plaintext in one record (`4096 − 2 − 24`).
pub const MAX_RECORD_PLAINTEXT: usize = MAX_BODY_LEN - MIN_RECORD_LEN;

/// The outer framing was broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// A length prefix above what the current phase accepts (4094 at most).
    TooLong {
        /// The announced length.
        len: usize,
        /// The most this phase accepts.
        max: usize,
    },
    /// A length prefix below what the current phase needs.
    TooShort {
        /// The announced length.
        len: usize,
        /// The least this phase accepts.
        min: usize,
    },
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLong { len, max } => {
                write!(f, "noise prefix value {len}B exceeds maximum {max}B")
            }
            Self::TooShort { len, min } => {
                write!(f, "noise prefix value {len}B is below the minimum {min}B")
            }
        }
    }
}

impl std::error::Error for WireError {}

/// A transport record was refused. The connection is dead after any of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The nonce is not above the last accepted one.
    NonceNotIncreasing {
        /// The record's nonce.
        nonce: u64,
        /// The last accepted nonce (0 before the first record).
        last: u64,
    },
    /// The ciphertext failed to authenticate.
    DecryptFailed,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NonceNotIncreasing { nonce, last } => {
                write!(f, "record nonce {nonce} is not above the last nonce {last}")
            }
            Self::DecryptFailed => f.write_str("record did not decrypt"),
        }
    }
}

impl std::error::Error for RecordError {}

/// Reassembles `[u16 length][body]` units from arbitrarily chunked input.
#[derive(Debug, Default)]
pub struct WireReader {
    buffer: PrefixedBuffer<PREFIX_LEN>,
}

impl WireReader {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.push(bytes);
    }

    /// Takes the next complete body if it has fully arrived. The prefix is checked against
    /// `min..=max` as soon as it is seen, before the body arrives.
    pub fn next_body(&mut self, min: usize, max: usize) -> Result<Option<BytesMut>, WireError> {
        let Some(len) = self.buffer.announced_len() else {
            return Ok(None);
        };
        let max = max.min(MAX_BODY_LEN);
        if len > max {
            return Err(WireError::TooLong { len, max });
        }
        if len < min {
            return Err(WireError::TooShort { len, min });
        }
        Ok(self.buffer.take(len))
    }

    /// Bytes received but not yet returned.
    pub fn buffered(&self) -> usize {
        self.buffer.buffered()
    }

    /// Releases memory held for an idle connection.
    pub fn shrink_if_empty(&mut self) {
        self.buffer.shrink_if_empty();
    }
}

/// Appends `body` (at most 4094 bytes) with its length prefix.
pub fn write_body(out: &mut BytesMut, body: &[u8]) {
    debug_assert!(body.len() <= MAX_BODY_LEN);
    out.reserve(PREFIX_LEN + body.len());
    out.put_u16(body.len() as u16);
    out.put_slice(body);
}

/// ChaCha20-Poly1305 under `key`, from `ring` (also behind the native suite, through snow): a
/// record is sealed or opened per 4 KiB, so the AEAD's fixed cost per call is the hot path.
pub(crate) fn record_key(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte key"))
}

/// The sending direction: seals plaintext into records with nonces 1, 2, 3, …
pub struct RecordSealer {
    cipher: LessSafeKey,
    last_nonce: u64,
}

/// This direction has used every nonce; the connection must be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoncesExhausted;

impl RecordSealer {
    /// A sealer whose first record has nonce 1.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: record_key(key),
            last_nonce: 0,
        }
    }

    /// Appends `plain` to `out` as records of at most 4070 plaintext bytes each, as the Go
    /// writer splits one `Write`. Empty `plain` writes nothing.
    pub fn seal(&mut self, plain: &[u8], out: &mut BytesMut) -> Result<(), NoncesExhausted> {
        let records = plain.len().div_ceil(MAX_RECORD_PLAINTEXT) as u64;
        if u64::MAX - self.last_nonce < records {
            return Err(NoncesExhausted);
        }
        for chunk in plain.chunks(MAX_RECORD_PLAINTEXT) {
            self.last_nonce += 1;
            let nonce = self.last_nonce;
            out.reserve(PREFIX_LEN + MIN_RECORD_LEN + chunk.len());
            out.put_u16((MIN_RECORD_LEN + chunk.len()) as u16);
            out.put_u64(nonce);
            let start = out.len();
            out.put_slice(chunk);
            let tag = self
                .cipher
                .seal_in_place_separate_tag(aead_nonce(nonce), Aad::empty(), &mut out[start..])
                .expect("a record's plaintext is far below the ChaCha20 limit");
            out.put_slice(tag.as_ref());
        }
        Ok(())
    }
}

/// The receiving direction: opens records and enforces increasing nonces.
pub struct RecordOpener {
    cipher: LessSafeKey,
    last_nonce: u64,
}

impl RecordOpener {
    /// An opener that accepts any first nonce above 0.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: record_key(key),
            last_nonce: 0,
        }
    }

    /// Decrypts a record body (at least [`MIN_RECORD_LEN`] bytes, which the reader checks) in
    /// place and returns its plaintext.
    pub fn open<'a>(&mut self, body: &'a mut [u8]) -> Result<&'a [u8], RecordError> {
        if body.len() < MIN_RECORD_LEN {
            return Err(RecordError::DecryptFailed);
        }
        let (nonce_bytes, sealed) = body.split_at_mut(NONCE_LEN);
        let nonce = u64::from_be_bytes(nonce_bytes.try_into().expect("eight bytes"));
        if nonce <= self.last_nonce {
            return Err(RecordError::NonceNotIncreasing {
                nonce,
                last: self.last_nonce,
            });
        }
        let plain = self
            .cipher
            .open_in_place(aead_nonce(nonce), Aad::empty(), sealed)
            .map_err(|_| RecordError::DecryptFailed)?;
        self.last_nonce = nonce;
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(wire: &BytesMut) -> Vec<BytesMut> {
        let mut reader = WireReader::default();
        reader.push(wire);
        let mut out = Vec::new();
        while let Some(body) = reader.next_body(MIN_RECORD_LEN, MAX_BODY_LEN).unwrap() {
            out.push(body);
        }
        out
    }

    #[test]
    fn a_large_write_is_split_like_the_go_writer() {
        let mut sealer = RecordSealer::new(&[5; 32]);
        let mut wire = BytesMut::new();
        sealer.seal(&[0u8; 4], &mut wire).unwrap();
        sealer.seal(&[7u8; 10_000], &mut wire).unwrap();
        let sizes: Vec<usize> = records(&wire)
            .iter()
            .map(|r| r.len() - MIN_RECORD_LEN)
            .collect();
        assert_eq!(sizes, [4, 4070, 4070, 1860]);
        let mut opener = RecordOpener::new(&[5; 32]);
        let mut plain = Vec::new();
        for (i, mut body) in records(&wire).into_iter().enumerate() {
            assert_eq!(
                u64::from_be_bytes(body[..8].try_into().unwrap()),
                i as u64 + 1
            );
            plain.extend_from_slice(opener.open(&mut body).unwrap());
        }
        assert_eq!(plain.len(), 10_004);
    }

    #[test]
    fn replayed_or_lower_nonces_are_refused_and_gaps_accepted() {
        let mut sealer = RecordSealer::new(&[5; 32]);
        let mut wire = BytesMut::new();
        for _ in 0..3 {
            sealer.seal(b"x", &mut wire).unwrap();
        }
        let mut bodies = records(&wire);
        let mut opener = RecordOpener::new(&[5; 32]);
        let mut first = bodies[0].clone();
        opener.open(&mut bodies[1]).unwrap(); // nonce 2 first: a gap is fine
        assert_eq!(
            opener.open(&mut first),
            Err(RecordError::NonceNotIncreasing { nonce: 1, last: 2 })
        );
        let mut tampered = bodies[2].clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(opener.open(&mut tampered), Err(RecordError::DecryptFailed));
        assert_eq!(opener.open(&mut bodies[2]).unwrap(), b"x");
    }

    #[test]
    fn prefixes_outside_the_phase_limits_are_refused_early() {
        let mut reader = WireReader::default();
        reader.push(&[0x0f, 0xff]);
        assert_eq!(
            reader.next_body(24, MAX_BODY_LEN),
            Err(WireError::TooLong {
                len: 4095,
                max: 4094
            })
        );
        let mut reader = WireReader::default();
        reader.push(&[0, 23]);
        assert_eq!(
            reader.next_body(24, MAX_BODY_LEN),
            Err(WireError::TooShort { len: 23, min: 24 })
        );
    }
}
