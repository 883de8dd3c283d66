//! Test support for skychat: a deterministic simulator that runs several protocol cores against a
//! seeded, fault-injecting virtual network, and the invariants it checks; and helpers that run the
//! real `skychat` and `skywire` binaries end to end.

pub mod e2e;
pub mod sim;
