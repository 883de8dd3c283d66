//! A Skywire responder session fed message 1 and message 3 from an honest initiator session,
//! each genuine, altered or replaced by the fuzzer, then fuzzer bytes, all in fuzzer-chosen
//! chunks.
//!
//! Input: flags (bit 0 the responder answers ML-KEM, bit 1 the initiator offers it, bits 2-3
//! message 1 pick, bits 4-5 message 3 pick), the chunk sizes field, message 1 and message 3
//! fields, then the tail.
//!
//! Properties: no panic; the responder authenticates only the honest initiator's key, only after
//! a byte-identical message 1 and message 3, and then always; it writes nothing but one message 2,
//! and only after a genuine message 1; no payload before authentication.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use skychat_core::{PqPolicy, SkywireReceived, SkywireSecretKey, SkywireSession};
use skychat_fuzz::{Cursor, Pick, chunks};

fuzz_target!(|data: &[u8]| run(data));

fn policy(on: bool) -> PqPolicy {
    PqPolicy {
        hybrid: on,
        require: false,
    }
}

/// Feeds `stream` in chunks; returns whether the session authenticated `expected` and whether it
/// stopped at an error. Checks that no payload precedes authentication.
fn feed(
    session: &mut SkywireSession,
    stream: &[u8],
    sizes: &[u8],
    tx: &mut BytesMut,
) -> (bool, bool) {
    let mut established = session.is_established();
    for chunk in chunks(stream, sizes) {
        session.push(chunk);
        loop {
            match session.next(tx) {
                Ok(Some(SkywireReceived::Established(_))) => {
                    assert!(!established, "authenticated twice");
                    established = true;
                }
                Ok(Some(SkywireReceived::Payload(_))) => {
                    assert!(established, "a payload before authentication");
                }
                Ok(None) => break,
                Err(_) => return (established, true),
            }
        }
    }
    (established, false)
}

fn run(data: &[u8]) {
    let mut input = Cursor::new(data);
    let flags = input.byte();
    let sizes = input.field();
    let field1 = input.field();
    let field3 = input.field();
    let tail = input.rest();

    let initiator_key = SkywireSecretKey::from_bytes([1; 32]).expect("valid key");
    let responder_key = SkywireSecretKey::from_bytes([2; 32]).expect("valid key");
    let mut initiator_tx = BytesMut::new();
    let mut initiator = SkywireSession::initiator(
        &initiator_key,
        &responder_key.public_key(),
        policy(flags & 2 != 0),
        [0x11; 32],
        &mut initiator_tx,
    );
    let mut responder =
        SkywireSession::responder(&responder_key, policy(flags & 1 != 0), [0x22; 32]);

    let genuine1 = initiator_tx.split().to_vec();
    let msg1 = Pick::from_bits(flags >> 2).apply(Some(&genuine1), field1);
    let mut tx = BytesMut::new();
    let (established, failed) = feed(&mut responder, &msg1, sizes, &mut tx);
    assert!(!established, "authenticated on message 1 alone");
    if msg1 != genuine1 {
        assert!(tx.is_empty(), "answered a message 1 that is not genuine");
        return;
    }
    assert!(!failed && !tx.is_empty(), "a genuine message 1 is answered");

    initiator.push(&tx.split());
    let done = initiator
        .next(&mut initiator_tx)
        .expect("a genuine message 2");
    assert!(matches!(done, Some(SkywireReceived::Established(_))));
    let genuine3 = initiator_tx.split().to_vec();
    let mut stream = Pick::from_bits(flags >> 4).apply(Some(&genuine3), field3);
    stream.extend_from_slice(tail);
    let (established, _) = feed(&mut responder, &stream, sizes, &mut tx);
    assert!(tx.is_empty(), "the responder wrote after message 2");
    assert_eq!(established, stream.starts_with(&genuine3));
    if established {
        let remote = responder.established().expect("established").remote;
        assert_eq!(remote, initiator_key.public_key());
    }
}
