//! An initiator node, optionally holding a queued message, fed message 2 from a scripted
//! responder (genuine, altered or replaced by the fuzzer) and then transport messages: fuzzer
//! plaintext encrypted by the responder once the handshake completed, raw bytes otherwise. All
//! in fuzzer-chosen chunks, with fuzzer-chosen delays.
//!
//! Input: flags (bit 0 queue a message first, bits 1-2 message 2 pick), two delays in ms (u16
//! each), then fields: chunk sizes, message 2 bytes, and any number of frames.
//!
//! Properties: no panic; the node sends exactly message 1 until message 2 verifies (a queued
//! message never leaks earlier); it reports the responder as authenticated only after the
//! genuine message 2, and then always in time; no application event before that; everything it
//! sends afterwards decrypts at the responder, and a queued message arrives as a chat frame.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use skychat_core::fuzzing::ScriptedPeer;
use skychat_core::fuzzing::frame::{self, Decoded, Frame};
use skychat_core::{ConnKind, Node, NodeConfig, Role, SecretKey};
use skychat_fuzz::{Cursor, Exchange, Head, Pick};

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Cursor::new(data);
    let head = Head::read(&mut input);
    let queue = head.flags & 1 == 1;
    let pick2 = Pick::from_bits(head.flags >> 1);
    let field2 = input.field();

    let initiator_sk = SecretKey::from_bytes([1; 32]);
    let responder_sk = SecretKey::from_bytes([2; 32]);
    let responder_pk = responder_sk.public_key();
    let mut node = Node::new(initiator_sk, NodeConfig::default(), [0x11; 32]);
    let queued = queue.then(|| {
        node.send_message(Duration::ZERO, responder_pk, "queued".into(), None, 0)
            .expect("queue a message")
    });
    let conn = node.connect(Duration::ZERO, responder_pk, ConnKind::OneShot);
    let peer = ScriptedPeer::responder(&responder_sk, [0x22; 32]);
    let mut ex = Exchange::new(node, conn, Role::Initiator, peer, Some(responder_pk));
    let limit = ex.limit();

    let msg1 = ex.drain();
    assert_eq!(msg1.len(), limit, "message 1 and nothing else");
    assert!(ex.forward(&msg1), "message 1 verifies");

    let genuine2 = ex.peer.write_handshake().expect("message 2");
    let msg2 = pick2.apply(Some(&genuine2), field2);
    ex.feed(&msg2, head.sizes, "responder");
    let sent = ex.wait(head.delays[0]);
    assert!(ex.forward(&sent));

    let mut stream = Vec::new();
    ex.append_frames(&mut input, &mut stream);
    ex.feed(&stream, head.sizes, "responder");
    let sent = ex.wait(head.delays[1]);
    ex.forward(&sent);

    if ex.seen.authenticated() {
        assert!(
            msg2.starts_with(&genuine2),
            "authenticated without message 2"
        );
        assert!(
            ex.peer.is_established(),
            "message 3 verified at the responder"
        );
    } else {
        assert!(ex.seen.transmitted <= limit);
    }
    if msg2 == genuine2 {
        assert!(
            ex.seen.authenticated(),
            "the genuine message 2 authenticates"
        );
        if let Some(queued) = queued {
            let delivered = ex.frames.iter().any(|plain| {
                frame::decode(plain) == Ok(Decoded::Frame(Frame::Chat(queued.clone())))
            });
            assert!(delivered, "the queued message went out after the handshake");
        }
    }
}
