//! The deterministic multi-node simulator.
//!
//! A run is fixed by one `u64` seed: [`scenario`] derives the topology, the fault schedule and
//! the message script from it; [`world`] steps a virtual clock from event to event, moving bytes
//! through the [`network`] model and letting each [`host`] act on its node's outputs the way the
//! real hosts do; [`invariants`] checks every observation as it happens; [`transcript`] hashes
//! everything that moved, so two runs of one seed can be compared byte for byte. [`keys`] gives
//! each node its two public keys, one per wire suite; a mixed-suite run
//! ([`Scenario::generate_mixed`]) lets each link speak either suite.

pub mod host;
pub mod invariants;
pub mod keys;
pub mod network;
pub mod rand;
pub mod scenario;
pub mod transcript;
pub mod world;

pub use scenario::Scenario;
pub use world::{Outcome, run};
