//! Where the binaries under test are: cargo builds them for the package's integration tests and
//! names them at compile time.

/// The `skychat` binary.
pub const SKYCHAT: &str = env!("CARGO_BIN_EXE_skychat");

/// The `skywire` binary (the same program under the visor's spelling).
pub const SKYWIRE: &str = env!("CARGO_BIN_EXE_skywire");
