//! Test support for skychat: a deterministic simulator that runs several protocol cores against a
//! seeded, fault-injecting virtual network, and the invariants it checks.

pub mod sim;
