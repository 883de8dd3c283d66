//! The driver's conformance suite on async-std, over real loopback sockets.

skychat_driver::conformance_tests!(
    skychat_async_std::AsyncStdRuntime,
    async_std::task::block_on
);
