//! The transcript of a run: a running FNV-1a hash over every transmitted byte and every event, in
//! order and with the instant it happened, so two runs can be compared exactly.

use std::time::Duration;

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// A running hash of everything that happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transcript {
    hash: u64,
    records: u64,
}

impl Default for Transcript {
    fn default() -> Self {
        Self {
            hash: OFFSET,
            records: 0,
        }
    }
}

impl Transcript {
    /// Adds one record: when, which node, and its bytes.
    pub fn record(&mut self, now: Duration, node: usize, bytes: &[u8]) {
        self.mix(&now.as_nanos().to_le_bytes());
        self.mix(&(node as u64).to_le_bytes());
        self.mix(&(bytes.len() as u64).to_le_bytes());
        self.mix(bytes);
        self.records += 1;
    }

    fn mix(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.hash ^= u64::from(*byte);
            self.hash = self.hash.wrapping_mul(PRIME);
        }
    }

    /// The hash so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// How many records went in.
    pub fn records(&self) -> u64 {
        self.records
    }
}
