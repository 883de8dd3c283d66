//! Noise's SymmetricState for `Noise_XK_Secp256k1_ChaChaPoly_SHA256`: the chaining key, the
//! handshake hash and the handshake cipher (ChaCha20-Poly1305, nonce `0⁴ ‖ LE64(n)`, AD = `h`).

use super::record::record_key;
use hmac::{Hmac, Mac};
use ring::aead::{Aad, Nonce};
use sha2::{Digest, Sha256};

/// The protocol name hashed into the initial handshake hash.
pub const PROTOCOL_NAME: &[u8] = b"Noise_XK_Secp256k1_ChaChaPoly_SHA256";

/// Bytes of the AEAD tag.
pub const TAG_LEN: usize = 16;

/// The 12-byte AEAD nonce for counter `n`: four zero bytes, then `n` little-endian.
pub(crate) fn aead_nonce(n: u64) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&n.to_le_bytes());
    Nonce::assume_unique_for_key(nonce)
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Noise's two-output HKDF (HMAC-SHA256).
pub(crate) fn noise_hkdf2(chaining_key: &[u8; 32], ikm: &[u8]) -> ([u8; 32], [u8; 32]) {
    let temp = hmac_sha256(chaining_key, &[ikm]);
    let first = hmac_sha256(&temp, &[&[1]]);
    let second = hmac_sha256(&temp, &[&first, &[2]]);
    (first, second)
}

/// The handshake's symmetric state.
#[derive(Clone)]
pub(crate) struct SymmetricState {
    chaining_key: [u8; 32],
    hash: [u8; 32],
    key: Option<[u8; 32]>,
    nonce: u64,
}

/// A handshake ciphertext failed to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecryptError;

impl SymmetricState {
    /// `h = SHA-256(name)` (the name is longer than 32 bytes), `ck = h`, no key.
    pub(crate) fn new() -> Self {
        let hash: [u8; 32] = Sha256::digest(PROTOCOL_NAME).into();
        Self {
            chaining_key: hash,
            hash,
            key: None,
            nonce: 0,
        }
    }

    pub(crate) fn hash(&self) -> [u8; 32] {
        self.hash
    }

    pub(crate) fn mix_hash(&mut self, data: &[u8]) {
        let mut hasher = Sha256::new();
        hasher.update(self.hash);
        hasher.update(data);
        self.hash = hasher.finalize().into();
    }

    pub(crate) fn mix_key(&mut self, ikm: &[u8]) {
        let (chaining_key, key) = noise_hkdf2(&self.chaining_key, ikm);
        self.chaining_key = chaining_key;
        self.key = Some(key);
        self.nonce = 0;
    }

    /// Encrypts `plain` (or passes it through before the first `mix_key`) and appends the result
    /// to `out`; mixes the ciphertext into `h`.
    pub(crate) fn encrypt_and_hash(&mut self, plain: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        match self.key {
            None => out.extend_from_slice(plain),
            Some(key) => {
                out.extend_from_slice(plain);
                let tag = record_key(&key)
                    .seal_in_place_separate_tag(
                        aead_nonce(self.nonce),
                        Aad::from(self.hash),
                        &mut out[start..],
                    )
                    .expect("ChaCha20-Poly1305 encrypts any handshake-sized message");
                self.nonce += 1;
                out.extend_from_slice(tag.as_ref());
            }
        }
        let mut hasher = Sha256::new();
        hasher.update(self.hash);
        hasher.update(&out[start..]);
        self.hash = hasher.finalize().into();
    }

    /// Decrypts `cipher` (or passes it through before the first `mix_key`); mixes it into `h`.
    pub(crate) fn decrypt_and_hash(&mut self, cipher: &[u8]) -> Result<Vec<u8>, DecryptError> {
        let plain = match self.key {
            None => cipher.to_vec(),
            Some(key) => {
                let mut buffer = cipher.to_vec();
                let len = record_key(&key)
                    .open_in_place(aead_nonce(self.nonce), Aad::from(self.hash), &mut buffer)
                    .map_err(|_| DecryptError)?
                    .len();
                buffer.truncate(len);
                self.nonce += 1;
                buffer
            }
        };
        self.mix_hash(cipher);
        Ok(plain)
    }

    /// Noise's `Split()`: the two transport keys `(k1, k2)`.
    pub(crate) fn split(&self) -> ([u8; 32], [u8; 32]) {
        noise_hkdf2(&self.chaining_key, &[])
    }
}

/// RFC 5869 HKDF-SHA256 with a 32-byte output: the post-quantum mix of a transport key.
pub(crate) fn hkdf_sha256_32(ikm: &[u8], salt: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_ciphertext_round_trips_and_binds_the_hash() {
        let mut a = SymmetricState::new();
        a.mix_key(b"input");
        let mut b = a.clone();
        let mut wire = Vec::new();
        a.encrypt_and_hash(b"hello", &mut wire);
        assert_eq!(wire.len(), 5 + TAG_LEN);
        assert_eq!(b.decrypt_and_hash(&wire).unwrap(), b"hello");
        assert_eq!(a.hash(), b.hash());

        let mut c = SymmetricState::new();
        c.mix_key(b"input");
        c.mix_hash(b"something else");
        assert_eq!(c.decrypt_and_hash(&wire), Err(DecryptError));
    }
}
