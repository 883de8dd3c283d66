//! A responder node fed message 1, message 3 and what follows from a scripted initiator, each
//! genuine, altered or replaced by the fuzzer, in fuzzer-chosen chunks and with fuzzer-chosen
//! delays. Frames after a genuine message 3 are fuzzer plaintext that the initiator encrypts, so
//! they reach the node's frame decoder; they ride in the same chunks as message 3, as a
//! pipelining initiator sends them.
//!
//! Input: flags (bit 0 whitelisted, bits 1-2 message 1 pick, bits 3-4 message 3 pick), two
//! delays in ms (u16 each), then fields: chunk sizes, message 1 bytes, message 3 bytes, and any
//! number of frames.
//!
//! Properties: no panic; only the whitelisted initiator's key is ever authenticated, and only
//! after message 3; no message or other application event without authentication; at most
//! message 2 goes out before authentication; a rejected initiator gets exactly one close frame,
//! code NotAuthorized; with both messages genuine and in time, the node decides.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use skychat_core::fuzzing::ScriptedPeer;
use skychat_core::{Node, NodeConfig, Role, SecretKey, Whitelist};
use skychat_fuzz::{Cursor, Exchange, Head, Pick, chunks};

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Cursor::new(data);
    let head = Head::read(&mut input);
    let whitelisted = head.flags & 1 == 1;
    let pick1 = Pick::from_bits(head.flags >> 1);
    let pick3 = Pick::from_bits(head.flags >> 3);
    let field1 = input.field();
    let field3 = input.field();

    let initiator_sk = SecretKey::from_bytes([1; 32]);
    let responder_sk = SecretKey::from_bytes([2; 32]);
    let initiator_pk = initiator_sk.public_key();
    let config = NodeConfig {
        whitelist: if whitelisted {
            Whitelist::new([initiator_pk])
        } else {
            Whitelist::default()
        },
        ..NodeConfig::default()
    };
    let handshake_timeout = config.handshake_timeout;
    let mut node = Node::new(responder_sk.clone(), config, [0x22; 32]);
    let conn = node.accept(Duration::ZERO).expect("first accept");
    let peer = ScriptedPeer::initiator(&initiator_sk, &responder_sk.public_key(), [0x11; 32]);
    let allowed = whitelisted.then_some(initiator_pk);
    let mut ex = Exchange::new(node, conn, Role::Responder, peer, allowed);

    let genuine1 = ex.peer.write_handshake().expect("message 1");
    let msg1 = pick1.apply(Some(&genuine1), field1);
    for chunk in chunks(&msg1, head.sizes) {
        let sent = ex.deliver(chunk);
        if !ex.seen.decided() {
            let ok = ex.forward(&sent);
            assert!(ok, "the node sent something that is not a valid message 2");
        }
    }
    if ex.seen.decided() {
        // The fuzzer's message 1 field carried a whole handshake: message 1 must lead it.
        assert!(msg1.starts_with(&genuine1), "decided without message 1");
        return;
    }
    ex.wait(head.delays[0]);

    let genuine3 = ex.peer.write_handshake();
    let mut stream = pick3.apply(genuine3.as_deref(), field3);
    let msg3_genuine = genuine3.as_deref() == Some(&stream[..]);
    ex.append_frames(&mut input, &mut stream);
    ex.feed(&stream, head.sizes, "initiator");
    let sent = ex.wait(head.delays[1]);
    ex.forward(&sent);

    if ex.seen.authenticated() || ex.seen.rejected() {
        let valid3 = genuine3.as_deref().is_some_and(|g| stream.starts_with(g));
        assert!(
            valid3,
            "decided on a peer that never sent a valid message 3"
        );
    }
    if ex.seen.rejected() {
        assert!(!whitelisted);
        assert_eq!(ex.frames, vec![vec![0x06, 0x01]], "one NotAuthorized close");
    }
    let in_time = Duration::from_millis(u64::from(head.delays[0])) < handshake_timeout;
    if msg1 == genuine1 && msg3_genuine && in_time {
        assert!(ex.seen.authenticated() == whitelisted && ex.seen.rejected() != whitelisted);
    }
}
