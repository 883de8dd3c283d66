//! Runs the blocking porting example (`examples/blocking.rs`) and checks its outcome.

#[path = "../examples/blocking.rs"]
#[allow(dead_code)]
mod blocking;

use skychat_core::{CloseCode, CloseReason};

#[test]
fn blocking_example_delivers_acks_and_closes() {
    let outcome = blocking::run().expect("the example runs to completion");
    assert_eq!(outcome.received, outcome.sent);
    assert_eq!(outcome.received.body, "hello over blocking sockets");
    assert_eq!(
        outcome.listener_close,
        CloseReason::RemoteClosed(CloseCode::Normal),
        "the dialer's close frame was flushed before its socket closed"
    );
}
