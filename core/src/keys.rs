//! Identity keys: the node's secret key, the two public keys it gives (the native X25519 key and
//! the Skywire secp256k1 key), their hex forms, and which wire suite a peer's key selects.
//!
//! One 32-byte secret is used as both the X25519 scalar and the secp256k1 scalar, so a Skywire
//! config's `sk` gives the visor's own `pk` and the native key this node always had from it.

use std::fmt;
use std::str::FromStr;

use crate::skywire::{SkywireKeyError, SkywirePublicKey, SkywireSecretKey};

/// Length in bytes of an X25519 key.
pub const KEY_LEN: usize = 32;

/// The wire suite a peer speaks, decided by the form of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Suite {
    /// skychat's own Noise XK over X25519; 64-hex keys.
    Native,
    /// The Go skychat's Skywire wire (secp256k1 XK with the ML-KEM hybrid); 66-hex keys.
    Skywire,
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Native => "native",
            Self::Skywire => "skywire",
        })
    }
}

/// A peer's identity: an X25519 key (64 hex, the native suite) or a Skywire key (66 hex, the
/// Skywire suite). The same remote node reached over the two suites is two different peers.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(KeyRepr);

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum KeyRepr {
    Native([u8; KEY_LEN]),
    Skywire(SkywirePublicKey),
}

/// Native keys first, then Skywire keys, each in the order of their bytes. Keys are the keys of
/// most of the node's maps, so the native comparison goes by 8-byte words instead of a call to
/// `memcmp` (the same order: big-endian words compare as their bytes do).
impl Ord for KeyRepr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (self, other) {
            (Self::Native(a), Self::Native(b)) => {
                let words = |key: &[u8; KEY_LEN]| -> [u64; KEY_LEN / 8] {
                    std::array::from_fn(|i| {
                        u64::from_be_bytes(key[i * 8..i * 8 + 8].try_into().expect("8 bytes"))
                    })
                };
                words(a).cmp(&words(b))
            }
            (Self::Skywire(a), Self::Skywire(b)) => a.cmp(b),
            (Self::Native(_), Self::Skywire(_)) => Ordering::Less,
            (Self::Skywire(_), Self::Native(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for KeyRepr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// This node's secret key. Its `Debug` form never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_LEN]);

/// Why a key string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyParseError {
    /// The string is neither 64 (X25519) nor 66 (Skywire) characters long; for a secret key,
    /// not 64.
    WrongLength {
        /// How many characters were given.
        found: usize,
    },
    /// The string holds a character that is not a hex digit.
    NotHex,
    /// 66 hex characters that are not a compressed secp256k1 point.
    NotOnCurve,
}

impl fmt::Display for KeyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongLength { found } => write!(
                f,
                "expected {} hex characters (a native X25519 key) or {} (a Skywire key), found {found}",
                KEY_LEN * 2,
                crate::skywire::keys::SKYWIRE_PK_LEN * 2
            ),
            Self::NotHex => f.write_str("not valid hex (expected only 0-9 and a-f)"),
            Self::NotOnCurve => f.write_str(
                "not a Skywire public key (66 hex must be a compressed secp256k1 point, \
                 starting with 02 or 03)",
            ),
        }
    }
}

impl std::error::Error for KeyParseError {}

/// Why a secret key string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretKeyError {
    /// Not 64 characters.
    WrongLength {
        /// How many characters were given.
        found: usize,
    },
    /// A character is not a hex digit.
    NotHex,
}

impl fmt::Display for SecretKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongLength { found } => write!(
                f,
                "expected {} hex characters (a 32-byte key), found {found}",
                KEY_LEN * 2
            ),
            Self::NotHex => f.write_str("not valid hex (expected only 0-9 and a-f)"),
        }
    }
}

impl std::error::Error for SecretKeyError {}

fn parse_key_hex(text: &str) -> Result<[u8; KEY_LEN], SecretKeyError> {
    let text = text.trim();
    if text.len() != KEY_LEN * 2 {
        return Err(SecretKeyError::WrongLength {
            found: text.chars().count(),
        });
    }
    let mut out = [0u8; KEY_LEN];
    hex::decode_to_slice(text, &mut out).map_err(|_| SecretKeyError::NotHex)?;
    Ok(out)
}

impl PublicKey {
    /// A native-suite key from its 32 X25519 bytes.
    pub const fn native(bytes: [u8; KEY_LEN]) -> Self {
        Self(KeyRepr::Native(bytes))
    }

    /// The suite this key selects.
    pub fn suite(&self) -> Suite {
        match self.0 {
            KeyRepr::Native(_) => Suite::Native,
            KeyRepr::Skywire(_) => Suite::Skywire,
        }
    }

    /// The X25519 bytes of a native key.
    pub fn as_native(&self) -> Option<&[u8; KEY_LEN]> {
        match &self.0 {
            KeyRepr::Native(bytes) => Some(bytes),
            KeyRepr::Skywire(_) => None,
        }
    }

    /// The secp256k1 key of a Skywire key.
    pub fn as_skywire(&self) -> Option<&SkywirePublicKey> {
        match &self.0 {
            KeyRepr::Native(_) => None,
            KeyRepr::Skywire(key) => Some(key),
        }
    }

    /// The key as lowercase hex: 64 characters (native) or 66 (Skywire).
    pub fn to_hex(&self) -> String {
        match &self.0 {
            KeyRepr::Native(bytes) => hex::encode(bytes),
            KeyRepr::Skywire(key) => key.to_hex(),
        }
    }

    /// The first 8 hex characters, for logs.
    pub fn short(&self) -> String {
        match &self.0 {
            KeyRepr::Native(bytes) => hex::encode(&bytes[..4]),
            KeyRepr::Skywire(key) => hex::encode(&key.as_bytes()[..4]),
        }
    }
}

impl From<SkywirePublicKey> for PublicKey {
    fn from(key: SkywirePublicKey) -> Self {
        Self(KeyRepr::Skywire(key))
    }
}

impl FromStr for PublicKey {
    type Err = KeyParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        if trimmed.len() == crate::skywire::keys::SKYWIRE_PK_LEN * 2 {
            return trimmed
                .parse::<SkywirePublicKey>()
                .map(Self::from)
                .map_err(|e| match e {
                    SkywireKeyError::NotHex => KeyParseError::NotHex,
                    _ => KeyParseError::NotOnCurve,
                });
        }
        parse_key_hex(trimmed)
            .map(Self::native)
            .map_err(|e| match e {
                SecretKeyError::WrongLength { found } => KeyParseError::WrongLength { found },
                SecretKeyError::NotHex => KeyParseError::NotHex,
            })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.short())
    }
}

impl SecretKey {
    /// Wraps raw secret key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, SecretKeyError> {
        parse_key_hex(text).map(Self)
    }

    /// The raw secret bytes. Handle with care: never log them.
    pub fn to_bytes(&self) -> [u8; KEY_LEN] {
        self.0
    }

    /// The secret as hex, for writing a key file. Never log it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The matching native public key (X25519 base-point multiplication).
    pub fn public_key(&self) -> PublicKey {
        let secret = x25519_dalek::StaticSecret::from(self.0);
        PublicKey::native(x25519_dalek::PublicKey::from(&secret).to_bytes())
    }

    /// The same 32 bytes as a secp256k1 secret, which gives the Skywire key; an error for the
    /// rare bytes that are not one (zero, or not below the group order).
    pub fn skywire_secret(&self) -> Result<SkywireSecretKey, SkywireKeyError> {
        SkywireSecretKey::from_bytes(self.0)
    }

    /// The matching Skywire public key (66 hex, equal to a visor's `pk` for the same `sk`).
    pub fn skywire_public_key(&self) -> Result<PublicKey, SkywireKeyError> {
        self.skywire_secret().map(|sk| sk.public_key().into())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_order_as_their_bytes_with_native_keys_first() {
        use proptest::prelude::*;
        proptest!(|(a in any::<[u8; KEY_LEN]>(), b in any::<[u8; KEY_LEN]>(), same in 0usize..KEY_LEN)| {
            let mut b = b;
            b[..same].copy_from_slice(&a[..same]);
            prop_assert_eq!(PublicKey::native(a).cmp(&PublicKey::native(b)), a.cmp(&b));
        });
        // The secp256k1 generator, a valid Skywire key.
        let skywire: PublicKey =
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
                .parse()
                .expect("a Skywire key");
        assert!(PublicKey::native([0xff; KEY_LEN]) < skywire);
    }

    use super::*;

    #[test]
    fn public_key_round_trips_through_hex() {
        let pk = SecretKey::from_bytes([7; 32]).public_key();
        assert_eq!(pk.to_hex().parse::<PublicKey>().unwrap(), pk);
    }

    #[test]
    fn bad_hex_is_refused_with_a_reason() {
        assert_eq!(
            "ab".parse::<PublicKey>().unwrap_err(),
            KeyParseError::WrongLength { found: 2 }
        );
        let not_hex = "zz".repeat(32);
        assert_eq!(
            not_hex.parse::<PublicKey>().unwrap_err(),
            KeyParseError::NotHex
        );
    }

    #[test]
    fn the_form_of_a_key_selects_its_suite() {
        let sk = SecretKey::from_bytes([7; 32]);
        let skywire = sk.skywire_public_key().unwrap();
        assert_eq!(skywire.suite(), Suite::Skywire);
        assert_eq!(skywire.to_hex().len(), 66);
        assert_eq!(skywire.to_hex().parse::<PublicKey>().unwrap(), skywire);
        assert_eq!(sk.public_key().suite(), Suite::Native);
        assert_ne!(skywire, sk.public_key());
        let off_curve = format!("04{}", "11".repeat(32));
        assert_eq!(
            off_curve.parse::<PublicKey>().unwrap_err(),
            KeyParseError::NotOnCurve
        );
        let err = "ab".repeat(33).replace('a', "z").parse::<PublicKey>();
        assert_eq!(err.unwrap_err(), KeyParseError::NotHex);
        assert!(SecretKey::from_bytes([0; 32]).skywire_secret().is_err());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let sk = SecretKey::from_bytes([0xab; 32]);
        assert!(!format!("{sk:?}").contains("ab"));
    }
}
