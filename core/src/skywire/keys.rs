//! Skywire identity keys: a secp256k1 secret key and its 33-byte compressed public key (66 hex),
//! derived exactly as Skywire derives a visor's `pk`, and Skywire's Diffie-Hellman function.

use std::fmt;
use std::str::FromStr;

use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{AffinePoint, NonZeroScalar, ProjectivePoint};
use sha2::{Digest, Sha256};

/// Bytes in a Skywire public key: a compressed secp256k1 point.
pub const SKYWIRE_PK_LEN: usize = 33;

/// Bytes in a Skywire secret key: a secp256k1 scalar, big-endian.
pub const SKYWIRE_SK_LEN: usize = 32;

/// Bytes of Skywire's DH output (`DHLen`): SHA-256 of the shared point, then one zero byte.
pub const SKYWIRE_DH_LEN: usize = 33;

/// A Skywire public key: a compressed secp256k1 point (first byte `02` or `03`), always valid.
/// Compared, ordered and hashed by its bytes. Only the bytes are kept (keys are map keys all
/// over the node); the point is decoded again for each DH, which costs little beside the DH.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SkywirePublicKey {
    bytes: [u8; SKYWIRE_PK_LEN],
}

/// A Skywire secret key: a scalar in `1..n`, with its public key. Its `Debug` form never shows
/// the key.
#[derive(Clone)]
pub struct SkywireSecretKey {
    scalar: NonZeroScalar,
    public: SkywirePublicKey,
}

/// Why a Skywire key (hex or bytes) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkywireKeyError {
    /// The hex string has the wrong number of characters.
    WrongLength {
        /// Characters expected (66 for a public key, 64 for a secret key).
        expected: usize,
        /// Characters found.
        found: usize,
    },
    /// A character is not a hex digit.
    NotHex,
    /// The 33 bytes are not a compressed point on secp256k1.
    NotOnCurve,
    /// The secret is zero or not below the group order.
    OutOfRange,
}

impl fmt::Display for SkywireKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongLength { expected: 66, found } => write!(
                f,
                "expected 66 hex characters (a 33-byte compressed secp256k1 key), found {found}"
            ),
            Self::WrongLength { expected, found } => {
                write!(f, "expected {expected} hex characters, found {found}")
            }
            Self::NotHex => f.write_str("not valid hex (expected only 0-9 and a-f)"),
            Self::NotOnCurve => f.write_str(
                "not a compressed secp256k1 public key (must start with 02 or 03 and lie on the curve)",
            ),
            Self::OutOfRange => {
                f.write_str("not a secp256k1 secret key (zero, or not below the group order)")
            }
        }
    }
}

impl std::error::Error for SkywireKeyError {}

fn decode_hex<const N: usize>(text: &str) -> Result<[u8; N], SkywireKeyError> {
    let text = text.trim();
    if text.len() != N * 2 {
        return Err(SkywireKeyError::WrongLength {
            expected: N * 2,
            found: text.chars().count(),
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|_| SkywireKeyError::NotHex)?;
    Ok(out)
}

impl SkywirePublicKey {
    /// Checks that `bytes` is a compressed point on the curve.
    pub fn from_bytes(bytes: [u8; SKYWIRE_PK_LEN]) -> Result<Self, SkywireKeyError> {
        if !matches!(bytes[0], 2 | 3) {
            return Err(SkywireKeyError::NotOnCurve);
        }
        decode_point(&bytes).ok_or(SkywireKeyError::NotOnCurve)?;
        Ok(Self { bytes })
    }

    /// Like [`SkywirePublicKey::from_bytes`], for a slice of any length.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SkywireKeyError> {
        let array =
            <[u8; SKYWIRE_PK_LEN]>::try_from(bytes).map_err(|_| SkywireKeyError::WrongLength {
                expected: SKYWIRE_PK_LEN * 2,
                found: bytes.len() * 2,
            })?;
        Self::from_bytes(array)
    }

    /// The 33 compressed bytes.
    pub fn to_bytes(&self) -> [u8; SKYWIRE_PK_LEN] {
        self.bytes
    }

    /// The 33 compressed bytes, borrowed.
    pub fn as_bytes(&self) -> &[u8; SKYWIRE_PK_LEN] {
        &self.bytes
    }

    /// The key as lowercase hex (66 characters), as Skywire prints it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }

    fn from_point(point: ProjectivePoint) -> Self {
        Self {
            bytes: compress(&point.to_affine()),
        }
    }

    fn point(&self) -> AffinePoint {
        decode_point(&self.bytes).expect("checked to be on the curve when the key was made")
    }
}

impl FromStr for SkywirePublicKey {
    type Err = SkywireKeyError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_bytes(decode_hex::<SKYWIRE_PK_LEN>(text)?)
    }
}

impl fmt::Display for SkywirePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for SkywirePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SkywirePublicKey({})", &self.to_hex()[..10])
    }
}

impl SkywireSecretKey {
    /// Wraps 32 big-endian bytes; refuses zero and values not below the group order.
    pub fn from_bytes(bytes: [u8; SKYWIRE_SK_LEN]) -> Result<Self, SkywireKeyError> {
        let scalar = Option::<NonZeroScalar>::from(NonZeroScalar::from_repr(bytes.into()))
            .ok_or(SkywireKeyError::OutOfRange)?;
        let public = SkywirePublicKey::from_point(ProjectivePoint::GENERATOR * *scalar);
        Ok(Self { scalar, public })
    }

    /// Parses 64 hex characters (the `sk` of a Skywire config).
    pub fn from_hex(text: &str) -> Result<Self, SkywireKeyError> {
        Self::from_bytes(decode_hex::<SKYWIRE_SK_LEN>(text)?)
    }

    /// The raw secret bytes. Never log them.
    pub fn to_bytes(&self) -> [u8; SKYWIRE_SK_LEN] {
        (*self.scalar).to_bytes().into()
    }

    /// The public key `sk · G`, compressed: equal to the `pk` Skywire derives from this `sk`.
    pub fn public_key(&self) -> SkywirePublicKey {
        self.public
    }

    /// Skywire's DH: SHA-256 of the compressed point `sk · remote`, zero-padded to 33 bytes.
    pub fn diffie_hellman(&self, remote: &SkywirePublicKey) -> [u8; SKYWIRE_DH_LEN] {
        let shared = compress(&(ProjectivePoint::from(remote.point()) * *self.scalar).to_affine());
        let mut out = [0u8; SKYWIRE_DH_LEN];
        out[..32].copy_from_slice(&Sha256::digest(shared));
        out
    }
}

impl fmt::Debug for SkywireSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SkywireSecretKey(<redacted>)")
    }
}

fn decode_point(bytes: &[u8; SKYWIRE_PK_LEN]) -> Option<AffinePoint> {
    k256::PublicKey::from_sec1_bytes(bytes)
        .ok()
        .map(|key| key.as_affine().to_owned())
}

fn compress(point: &AffinePoint) -> [u8; SKYWIRE_PK_LEN] {
    let encoded = point.to_encoded_point(true);
    let mut out = [0u8; SKYWIRE_PK_LEN];
    // A product of a valid point and a non-zero scalar in a prime-order group is never the
    // identity, so the encoding is always 33 bytes.
    out.copy_from_slice(encoded.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_one_gives_the_generator() {
        let mut one = [0u8; 32];
        one[31] = 1;
        let pk = SkywireSecretKey::from_bytes(one).unwrap().public_key();
        assert_eq!(
            pk.to_hex(),
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        );
    }

    #[test]
    fn public_key_round_trips_through_hex() {
        let pk = SkywireSecretKey::from_bytes([7; 32]).unwrap().public_key();
        assert_eq!(pk.to_hex().parse::<SkywirePublicKey>().unwrap(), pk);
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        let native = "ab".repeat(32);
        let err = native.parse::<SkywirePublicKey>().unwrap_err();
        assert_eq!(
            err,
            SkywireKeyError::WrongLength {
                expected: 66,
                found: 64
            }
        );
        assert!(err.to_string().contains("66 hex characters"));
        assert_eq!(
            "zz".repeat(33).parse::<SkywirePublicKey>().unwrap_err(),
            SkywireKeyError::NotHex
        );
        let bad_prefix = format!("04{}", "11".repeat(32));
        assert_eq!(
            bad_prefix.parse::<SkywirePublicKey>().unwrap_err(),
            SkywireKeyError::NotOnCurve
        );
        assert_eq!(
            SkywireSecretKey::from_bytes([0; 32]).unwrap_err(),
            SkywireKeyError::OutOfRange
        );
        assert_eq!(
            SkywireSecretKey::from_bytes([0xff; 32]).unwrap_err(),
            SkywireKeyError::OutOfRange
        );
    }

    #[test]
    fn diffie_hellman_agrees_and_ends_in_a_zero_byte() {
        let a = SkywireSecretKey::from_bytes([1; 32]).unwrap();
        let b = SkywireSecretKey::from_bytes([2; 32]).unwrap();
        let ab = a.diffie_hellman(&b.public_key());
        assert_eq!(ab, b.diffie_hellman(&a.public_key()));
        assert_eq!(ab[32], 0);
    }

    #[test]
    fn secret_debug_is_redacted() {
        let sk = SkywireSecretKey::from_bytes([0xab; 32]).unwrap();
        assert!(!format!("{sk:?}").contains("ab"));
    }
}
