//! The ML-KEM-768 hybrid that 2026 Skywire peers run inside the handshake payloads: the
//! initiator offers an encapsulation key in message 1, the responder answers with a ciphertext in
//! message 2, and the shared secret is mixed into both transport keys after the split.

use ml_kem::kem::{Decapsulate, EncapsulationKey};
use ml_kem::{B32, EncapsulateDeterministic, EncodedSizeUser, KemCore, MlKem768, MlKem768Params};

use super::symmetric::hkdf_sha256_32;

/// Bytes of an ML-KEM-768 encapsulation key: the message-1 payload of a PQ offer.
pub const MLKEM_EK_LEN: usize = 1184;

/// Bytes of an ML-KEM-768 ciphertext: the message-2 payload of a PQ answer.
pub const MLKEM_CT_LEN: usize = 1088;

/// The HKDF `info` of the post-quantum key mix.
pub const PQ_INFO: &[u8] = b"skywire-pq-hybrid-v1";

const ML_KEM_Q: u16 = 3329;

type DecapsulationKey = <MlKem768 as KemCore>::DecapsulationKey;

/// The initiator's side of the offer: the decapsulation key kept until message 2.
pub(crate) struct PqOffer {
    decapsulation_key: DecapsulationKey,
    encapsulation_key: Vec<u8>,
}

impl PqOffer {
    /// ML-KEM-768 `KeyGen_internal(d, z)` (FIPS 203).
    pub(crate) fn new(d: &[u8; 32], z: &[u8; 32]) -> Self {
        let (decapsulation_key, encapsulation_key) =
            MlKem768::generate_deterministic(&B32::from(*d), &B32::from(*z));
        Self {
            decapsulation_key,
            encapsulation_key: encapsulation_key.as_bytes().to_vec(),
        }
    }

    /// The 1184-byte encapsulation key to send in message 1.
    pub(crate) fn encapsulation_key(&self) -> &[u8] {
        &self.encapsulation_key
    }

    /// The shared secret for a 1088-byte ciphertext. ML-KEM decapsulation never fails on a
    /// well-sized ciphertext (a forged one yields an unrelated secret, and the first record fails).
    pub(crate) fn decapsulate(&self, ciphertext: &[u8]) -> Option<[u8; 32]> {
        let ciphertext = ml_kem::Ciphertext::<MlKem768>::try_from(ciphertext).ok()?;
        let shared = self.decapsulation_key.decapsulate(&ciphertext).ok()?;
        Some(shared.into())
    }
}

/// The responder's answer to an offer: ML-KEM-768 `Encaps_internal(ek, m)`, giving the ciphertext
/// for message 2 and the shared secret. `None` if `encapsulation_key` is not a valid 1184-byte
/// key (FIPS 203's modulus check: every 12-bit coefficient below q).
pub(crate) fn answer(encapsulation_key: &[u8], m: &[u8; 32]) -> Option<(Vec<u8>, [u8; 32])> {
    if encapsulation_key.len() != MLKEM_EK_LEN || !coefficients_reduced(encapsulation_key) {
        return None;
    }
    let encoded =
        ml_kem::Encoded::<EncapsulationKey<MlKem768Params>>::try_from(encapsulation_key).ok()?;
    let key = EncapsulationKey::<MlKem768Params>::from_bytes(&encoded);
    let (ciphertext, shared) = key.encapsulate_deterministic(&B32::from(*m)).ok()?;
    Some((ciphertext.to_vec(), shared.into()))
}

/// True if the polynomial part of the key (all but the last 32 bytes, 12 bits a coefficient)
/// holds only values below q.
fn coefficients_reduced(encapsulation_key: &[u8]) -> bool {
    let polynomials = &encapsulation_key[..encapsulation_key.len() - 32];
    polynomials.chunks_exact(3).all(|three| {
        let first = u16::from(three[0]) | (u16::from(three[1] & 0x0f) << 8);
        let second = u16::from(three[1] >> 4) | (u16::from(three[2]) << 4);
        first < ML_KEM_Q && second < ML_KEM_Q
    })
}

/// A transport key after the hybrid mix: `HKDF-SHA256(IKM = k ‖ ss, salt = h, info)`.
pub(crate) fn mix_transport_key(key: &[u8; 32], shared: &[u8; 32], hash: &[u8; 32]) -> [u8; 32] {
    let mut ikm = [0u8; 64];
    ikm[..32].copy_from_slice(key);
    ikm[32..].copy_from_slice(shared);
    hkdf_sha256_32(&ikm, hash, PQ_INFO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_and_answer_agree() {
        let offer = PqOffer::new(&[1; 32], &[2; 32]);
        assert_eq!(offer.encapsulation_key().len(), MLKEM_EK_LEN);
        let (ciphertext, shared) = answer(offer.encapsulation_key(), &[3; 32]).unwrap();
        assert_eq!(ciphertext.len(), MLKEM_CT_LEN);
        assert_eq!(offer.decapsulate(&ciphertext), Some(shared));
    }

    #[test]
    fn an_unreduced_key_is_not_answered() {
        let offer = PqOffer::new(&[1; 32], &[2; 32]);
        let mut key = offer.encapsulation_key().to_vec();
        key[0] = 0xff;
        key[1] |= 0x0f;
        assert!(answer(&key, &[3; 32]).is_none());
        assert!(answer(&key[..100], &[3; 32]).is_none());
    }
}
