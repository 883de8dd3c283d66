//! Test support for skychat: a deterministic simulator that runs several protocol cores against a
//! seeded, fault-injecting virtual network, and the invariants it checks. (The end-to-end tests of
//! the real binaries live with the binaries, in `apps/skychat/tests/`.)

pub mod sim;
