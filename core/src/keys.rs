//! Identity keys: X25519 secret and public keys, their hex forms, and key derivation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Length in bytes of an X25519 key.
pub const KEY_LEN: usize = 32;

/// A peer's X25519 public key: its identity on the network.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PublicKey(pub [u8; KEY_LEN]);

/// This node's X25519 secret key. Its `Debug` form never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_LEN]);

/// Why a key string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyParseError {
    /// The string is not `2 * KEY_LEN` characters long.
    WrongLength {
        /// How many characters were given.
        found: usize,
    },
    /// The string holds a character that is not a hex digit.
    NotHex,
}

impl fmt::Display for KeyParseError {
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

impl std::error::Error for KeyParseError {}

fn parse_key_hex(text: &str) -> Result<[u8; KEY_LEN], KeyParseError> {
    let text = text.trim();
    if text.len() != KEY_LEN * 2 {
        return Err(KeyParseError::WrongLength {
            found: text.chars().count(),
        });
    }
    let mut out = [0u8; KEY_LEN];
    hex::decode_to_slice(text, &mut out).map_err(|_| KeyParseError::NotHex)?;
    Ok(out)
}

impl PublicKey {
    /// The key as lowercase hex (64 characters).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 8 hex characters, for logs.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl FromStr for PublicKey {
    type Err = KeyParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_key_hex(text).map(Self)
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
    pub fn from_hex(text: &str) -> Result<Self, KeyParseError> {
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

    /// The matching public key (X25519 base-point multiplication).
    pub fn public_key(&self) -> PublicKey {
        let secret = x25519_dalek::StaticSecret::from(self.0);
        PublicKey(x25519_dalek::PublicKey::from(&secret).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
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
    fn secret_debug_is_redacted() {
        let sk = SecretKey::from_bytes([0xab; 32]);
        assert!(!format!("{sk:?}").contains("ab"));
    }
}
