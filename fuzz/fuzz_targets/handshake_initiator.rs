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
use skychat_core::frame::{self, Decoded, Frame};
use skychat_core::fuzzing::{ScriptedPeer, max_pre_auth_transmit};
use skychat_core::{ConnKind, Node, NodeConfig, Role, SecretKey};
use skychat_fuzz::{Cursor, Observer, Pick, chunks, wait};

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Cursor::new(data);
    let flags = input.byte();
    let queue = flags & 1 == 1;
    let pick2 = Pick::from_bits(flags >> 1);
    let delays = [input.u16(), input.u16()];
    let sizes = input.field();
    let field2 = input.field();

    let initiator_sk = SecretKey::from_bytes([1; 32]);
    let responder_sk = SecretKey::from_bytes([2; 32]);
    let responder_pk = responder_sk.public_key();
    let config = NodeConfig::default();
    let mut node = Node::new(initiator_sk, config, [0x11; 32]);
    let mut peer = ScriptedPeer::responder(&responder_sk, [0x22; 32]);
    let mut now = Duration::ZERO;
    let queued = queue.then(|| {
        node.send_message(now, responder_pk, "queued".into(), None, 0)
            .expect("queue a message")
    });
    let conn = node.connect(now, responder_pk, ConnKind::OneShot);
    let limit = max_pre_auth_transmit(Role::Initiator);
    let mut seen = Observer::new(conn, Some(responder_pk));
    let mut from_node = Vec::new();

    let msg1 = seen.drain(&mut node, limit);
    assert_eq!(msg1.len(), limit, "message 1 and nothing else");
    assert!(peer.receive(&msg1, &mut from_node), "message 1 verifies");

    let genuine2 = peer.write_handshake().expect("message 2");
    let msg2 = pick2.apply(Some(&genuine2), field2);
    for chunk in chunks(&msg2, sizes) {
        node.handle_receive(now, conn, chunk);
        let sent = seen.drain(&mut node, limit);
        assert!(
            peer.receive(&sent, &mut from_node),
            "the node sent bytes the responder cannot read"
        );
    }
    wait(&mut node, &mut now, delays[0]);
    let sent = seen.drain(&mut node, limit);
    assert!(peer.receive(&sent, &mut from_node));

    let mut stream = Vec::new();
    while !input.is_empty() {
        let plaintext = input.field();
        match peer.encrypt(plaintext) {
            Some(message) => stream.extend_from_slice(&message),
            None => stream.extend_from_slice(plaintext),
        }
    }
    for chunk in chunks(&stream, sizes) {
        node.handle_receive(now, conn, chunk);
        let sent = seen.drain(&mut node, limit);
        assert!(
            peer.receive(&sent, &mut from_node),
            "the node sent bytes the responder cannot read"
        );
    }
    wait(&mut node, &mut now, delays[1]);
    let sent = seen.drain(&mut node, limit);
    peer.receive(&sent, &mut from_node);

    if seen.authenticated() {
        assert!(
            msg2.starts_with(&genuine2),
            "authenticated without message 2"
        );
        assert!(peer.is_established(), "message 3 verified at the responder");
    } else {
        assert!(seen.transmitted <= limit);
    }
    if msg2 == genuine2 {
        assert!(seen.authenticated(), "the genuine message 2 authenticates");
        if let Some(queued) = queued {
            let delivered = from_node.iter().any(|plain| {
                frame::decode(plain) == Ok(Decoded::Frame(Frame::Chat(queued.clone())))
            });
            assert!(delivered, "the queued message went out after the handshake");
        }
    }
}
