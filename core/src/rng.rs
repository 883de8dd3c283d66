//! Seeded randomness: the core's only source of random bytes, and the snow resolver that uses it.
//!
//! The host passes a 32-byte seed; everything random (Noise ephemeral keys, stream ids, reconnect
//! jitter) is drawn from ChaCha20 streams derived from it, so equal inputs give equal outputs.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use snow::params::{CipherChoice, DHChoice, HashChoice};
use snow::resolvers::{CryptoResolver, DefaultResolver, RingResolver};
use snow::types::{Cipher, Dh, Hash, Random};

/// A deterministic random source derived from a seed.
#[derive(Clone)]
pub struct SeededRng(ChaCha20Rng);

impl SeededRng {
    /// A generator whose output is fixed by `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(ChaCha20Rng::from_seed(seed))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A fresh 32-byte seed for a child generator.
    pub fn fork_seed(&mut self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        self.0.fill_bytes(&mut seed);
        seed
    }

    /// Fills `dest` with random bytes.
    pub fn fill(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }
}

impl Random for SeededRng {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

/// A snow resolver that takes ciphers and hashes from ring where ring has them, Curve25519 and
/// BLAKE2s from snow's pure-Rust set, and randomness from a [`SeededRng`], never from the OS.
pub struct SeededResolver {
    seed: [u8; 32],
}

impl SeededResolver {
    /// A resolver whose random source is fixed by `seed`.
    pub fn new(seed: [u8; 32]) -> Self {
        Self { seed }
    }
}

impl CryptoResolver for SeededResolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        Some(Box::new(SeededRng::from_seed(self.seed)))
    }

    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        DefaultResolver.resolve_dh(choice)
    }

    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        RingResolver
            .resolve_hash(choice)
            .or_else(|| DefaultResolver.resolve_hash(choice))
    }

    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        RingResolver
            .resolve_cipher(choice)
            .or_else(|| DefaultResolver.resolve_cipher(choice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_stream() {
        let mut a = SeededRng::from_seed([1; 32]);
        let mut b = SeededRng::from_seed([1; 32]);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut c = SeededRng::from_seed([2; 32]);
        assert_ne!(a.next_u64(), c.next_u64());
    }
}
