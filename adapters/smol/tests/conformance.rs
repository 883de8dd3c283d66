//! The driver's conformance suite on smol, over real loopback sockets.

skychat_driver::conformance_tests!(skychat_smol::SmolRuntime, smol::block_on);
