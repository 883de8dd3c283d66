//! The test vectors of `docs/protocol.md`, read from the document itself so that the spec and
//! the code cannot drift apart. Each vector is a fenced block of hex preceded by a marker line
//! `<!-- vector:NAME -->`.
//!
//! The vectors are checked twice: once through `skychat_core::fuzzing::session::Session`, and once through
//! a handshake built from nothing but `snow::Builder` and the values printed in the document, the
//! way an implementer with a generic Noise library would build it.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::BytesMut;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use skychat_core::fuzzing::bundle::{BundleItems, BundleWriter};
use skychat_core::fuzzing::frame::{self, Decoded, Frame};
use skychat_core::fuzzing::handshake::{MSG1_LEN, MSG2_LEN, MSG3_LEN, NOISE_PARAMS, PROLOGUE};
use skychat_core::fuzzing::session::{Received, Session};
use skychat_core::fuzzing::{ScriptedPeer, SeededRng};
use skychat_core::{
    ChatMessage, CloseCode, Event, MessageId, Node, NodeConfig, Output, PublicKey, SecretKey,
    Whitelist,
};

const PROTOCOL_MD: &str = include_str!("../../docs/protocol.md");

/// Every `<!-- vector:NAME -->` block of the document, decoded from hex.
fn vectors() -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut lines = PROTOCOL_MD.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line
            .trim()
            .strip_prefix("<!-- vector:")
            .and_then(|rest| rest.strip_suffix("-->"))
        else {
            continue;
        };
        let name = name.trim().to_owned();
        let fence = lines.next().unwrap_or_default();
        assert!(
            fence.trim_start().starts_with("```"),
            "vector {name}: the marker must be followed by a fenced block"
        );
        let mut hex_text = String::new();
        for body in lines.by_ref() {
            if body.trim_start().starts_with("```") {
                break;
            }
            hex_text.extend(body.chars().filter(|c| !c.is_whitespace()));
        }
        let bytes = hex::decode(&hex_text)
            .unwrap_or_else(|e| panic!("vector {name} is not hex ({e}): {hex_text}"));
        assert!(
            out.insert(name.clone(), bytes).is_none(),
            "vector {name} appears twice"
        );
    }
    out
}

struct Vectors(BTreeMap<String, Vec<u8>>);

impl Vectors {
    fn load() -> Self {
        Self(vectors())
    }

    fn get(&self, name: &str) -> &[u8] {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("docs/protocol.md has no vector {name}"))
    }

    fn key(&self, name: &str) -> [u8; 32] {
        self.get(name)
            .try_into()
            .unwrap_or_else(|_| panic!("vector {name} is not 32 bytes"))
    }
}

/// The documented example message, sent by the initiator as the first transport message.
fn example_chat() -> ChatMessage {
    ChatMessage {
        id: MessageId {
            stream: 0x0123_4567_89ab_cdef,
            seq: 1,
        },
        sent_at_ms: 1_700_000_000_000,
        body: "hello".into(),
        reply_to: None,
    }
}

/// The documented example ack, sent by the responder as its first transport message.
fn example_ack() -> Frame {
    Frame::Ack {
        stream: 0x0123_4567_89ab_cdef,
        upto: 1,
    }
}

/// The per-kind frame examples of the document.
fn frame_examples() -> Vec<(&'static str, Frame)> {
    let first = MessageId {
        stream: 0x0123_4567_89ab_cdef,
        seq: 1,
    };
    vec![
        ("frame-chat", Frame::Chat(example_chat())),
        (
            "frame-chat-reply",
            Frame::Chat(ChatMessage {
                id: MessageId {
                    stream: 0x0123_4567_89ab_cdef,
                    seq: 2,
                },
                sent_at_ms: 1_700_000_000_500,
                body: "ça va?".into(),
                reply_to: Some(first),
            }),
        ),
        ("frame-ack", example_ack()),
        ("frame-read", Frame::Read { id: first }),
        ("frame-ping", Frame::Ping { nonce: 300 }),
        ("frame-pong", Frame::Pong { nonce: 300 }),
        (
            "frame-close",
            Frame::Close {
                code: CloseCode::NotAuthorized,
            },
        ),
        ("frame-features", Frame::Features { bits: 1 }),
        ("frame-delete", Frame::Delete { id: first }),
    ]
}

fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = (message.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

#[test]
fn document_constants_match_the_core() {
    let v = Vectors::load();
    assert_eq!(v.get("prologue"), PROLOGUE);
    assert!(
        PROTOCOL_MD.contains(NOISE_PARAMS),
        "the protocol name must appear in the document"
    );
    for side in ["initiator", "responder"] {
        let secret = v.key(&format!("{side}-static-private"));
        let public = v.key(&format!("{side}-static-public"));
        assert_eq!(
            SecretKey::from_bytes(secret)
                .public_key()
                .as_native()
                .copied()
                .unwrap(),
            public,
            "{side}"
        );
        let dalek = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(secret));
        assert_eq!(dalek.to_bytes(), public, "{side}");

        let seed = v.key(&format!("{side}-seed"));
        let mut from_core = [0u8; 32];
        SeededRng::from_seed(seed).fill(&mut from_core);
        let mut from_chacha = [0u8; 32];
        ChaCha20Rng::from_seed(seed).fill_bytes(&mut from_chacha);
        let ephemeral = v.key(&format!("{side}-ephemeral-private"));
        assert_eq!(from_core, ephemeral, "{side}");
        assert_eq!(from_chacha, ephemeral, "{side}");
        let ephemeral_public =
            x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(ephemeral));
        assert_eq!(
            ephemeral_public.to_bytes(),
            v.key(&format!("{side}-ephemeral-public")),
            "{side}"
        );
    }
}

#[test]
fn core_session_produces_the_documented_handshake_and_transport_bytes() {
    let v = Vectors::load();
    let initiator_key = SecretKey::from_bytes(v.key("initiator-static-private"));
    let responder_key = SecretKey::from_bytes(v.key("responder-static-private"));
    let responder_public = v.key("responder-static-public");
    let mut scratch = Vec::new();

    let mut tx_i = BytesMut::new();
    let mut initiator = Session::initiator(
        &initiator_key,
        &responder_public,
        v.key("initiator-seed"),
        &mut tx_i,
    );
    let msg1 = tx_i.split();
    assert_eq!(msg1[..], framed(v.get("msg1"))[..]);
    assert_eq!(v.get("msg1").len(), MSG1_LEN);

    let mut responder = Session::responder(&responder_key, v.key("responder-seed"));
    let mut tx_r = BytesMut::new();
    responder.push(&msg1);
    assert!(responder.next(&mut tx_r, &mut scratch).unwrap().is_none());
    let msg2 = tx_r.split();
    assert_eq!(msg2[..], framed(v.get("msg2"))[..]);
    assert_eq!(v.get("msg2").len(), MSG2_LEN);

    initiator.push(&msg2);
    match initiator.next(&mut tx_i, &mut scratch).unwrap() {
        Some(Received::Authenticated(peer)) => {
            assert_eq!(peer, PublicKey::native(responder_public))
        }
        other => panic!("initiator did not authenticate: {other:?}"),
    }
    let msg3 = tx_i.split();
    assert_eq!(msg3[..], framed(v.get("msg3"))[..]);
    assert_eq!(v.get("msg3").len(), MSG3_LEN);

    let chat = Frame::Chat(example_chat());
    assert_eq!(frame::encode(&chat), v.get("chat-plaintext"));
    initiator.send(&chat, &mut tx_i, &mut scratch);
    let chat_wire = tx_i.split();
    assert_eq!(chat_wire[..], framed(v.get("chat-ciphertext"))[..]);

    responder.push(&msg3);
    responder.push(&chat_wire);
    match responder.next(&mut tx_r, &mut scratch).unwrap() {
        Some(Received::Authenticated(peer)) => assert_eq!(peer, initiator_key.public_key()),
        other => panic!("responder did not authenticate: {other:?}"),
    }
    match responder.next(&mut tx_r, &mut scratch).unwrap() {
        Some(Received::Frame(Decoded::Frame(frame))) => assert_eq!(frame, chat),
        other => panic!("responder did not decode the chat frame: {other:?}"),
    }
    assert!(tx_r.is_empty(), "the responder sends nothing by itself");

    assert_eq!(frame::encode(&example_ack()), v.get("ack-plaintext"));
    responder.send(&example_ack(), &mut tx_r, &mut scratch);
    assert_eq!(tx_r[..], framed(v.get("ack-ciphertext"))[..]);
}

#[test]
fn plain_snow_with_the_documented_keys_reproduces_and_reads_the_vectors() {
    let v = Vectors::load();
    let params: snow::params::NoiseParams = "Noise_XK_25519_ChaChaPoly_BLAKE2s".parse().unwrap();
    let prologue = v.get("prologue");
    let initiator_static = v.key("initiator-static-private");
    let initiator_ephemeral = v.key("initiator-ephemeral-private");
    let responder_static = v.key("responder-static-private");
    let responder_ephemeral = v.key("responder-ephemeral-private");
    let responder_public = v.key("responder-static-public");

    let mut initiator = snow::Builder::new(params.clone())
        .prologue(prologue)
        .unwrap()
        .local_private_key(&initiator_static)
        .unwrap()
        .remote_public_key(&responder_public)
        .unwrap()
        .fixed_ephemeral_key_for_testing_only(&initiator_ephemeral)
        .build_initiator()
        .unwrap();
    let mut responder = snow::Builder::new(params)
        .prologue(prologue)
        .unwrap()
        .local_private_key(&responder_static)
        .unwrap()
        .fixed_ephemeral_key_for_testing_only(&responder_ephemeral)
        .build_responder()
        .unwrap();

    let mut buf = [0u8; 65_535];
    let mut payload = [0u8; 65_535];

    let len = initiator.write_message(&[], &mut buf).unwrap();
    assert_eq!(&buf[..len], v.get("msg1"));
    assert_eq!(responder.read_message(v.get("msg1"), &mut payload), Ok(0));

    let len = responder.write_message(&[], &mut buf).unwrap();
    assert_eq!(&buf[..len], v.get("msg2"));
    assert_eq!(initiator.read_message(v.get("msg2"), &mut payload), Ok(0));

    let len = initiator.write_message(&[], &mut buf).unwrap();
    assert_eq!(&buf[..len], v.get("msg3"));
    assert_eq!(responder.read_message(v.get("msg3"), &mut payload), Ok(0));
    assert_eq!(
        responder.get_remote_static(),
        Some(&v.key("initiator-static-public")[..])
    );

    let mut initiator = initiator.into_transport_mode().unwrap();
    let mut responder = responder.into_transport_mode().unwrap();

    let len = initiator
        .write_message(v.get("chat-plaintext"), &mut buf)
        .unwrap();
    assert_eq!(&buf[..len], v.get("chat-ciphertext"));
    let len = responder
        .read_message(v.get("chat-ciphertext"), &mut payload)
        .unwrap();
    assert_eq!(&payload[..len], v.get("chat-plaintext"));
    assert_eq!(
        frame::decode(&payload[..len]),
        Ok(Decoded::Frame(Frame::Chat(example_chat())))
    );

    let len = responder
        .write_message(v.get("ack-plaintext"), &mut buf)
        .unwrap();
    assert_eq!(&buf[..len], v.get("ack-ciphertext"));
    let len = initiator
        .read_message(v.get("ack-ciphertext"), &mut payload)
        .unwrap();
    assert_eq!(&payload[..len], v.get("ack-plaintext"));
}

#[test]
fn a_wrong_pinned_key_makes_message_1_undecryptable() {
    let v = Vectors::load();
    let params: snow::params::NoiseParams = NOISE_PARAMS.parse().unwrap();
    let not_the_responder = SecretKey::from_bytes([0x03; 32]).public_key();
    let mut initiator = snow::Builder::new(params.clone())
        .prologue(PROLOGUE)
        .unwrap()
        .local_private_key(&v.key("initiator-static-private"))
        .unwrap()
        .remote_public_key(not_the_responder.as_native().unwrap())
        .unwrap()
        .build_initiator()
        .unwrap();
    let mut buf = [0u8; 128];
    let len = initiator.write_message(&[], &mut buf).unwrap();
    let mut responder = Session::responder(
        &SecretKey::from_bytes(v.key("responder-static-private")),
        v.key("responder-seed"),
    );
    let mut tx = BytesMut::new();
    responder.push(&framed(&buf[..len]));
    assert!(responder.next(&mut tx, &mut Vec::new()).is_err());
    assert!(tx.is_empty(), "nothing is sent back");
}

#[test]
fn frame_examples_encode_and_decode_exactly() {
    let v = Vectors::load();
    for (name, frame) in frame_examples() {
        assert_eq!(frame::encode(&frame), v.get(name), "{name}");
        assert_eq!(
            frame::decode(v.get(name)),
            Ok(Decoded::Frame(frame)),
            "{name}"
        );
    }
    assert_eq!(v.get("frame-chat"), v.get("chat-plaintext"));
    assert_eq!(v.get("frame-ack"), v.get("ack-plaintext"));
}

#[test]
fn the_bundle_example_packs_and_unpacks_exactly() {
    let v = Vectors::load();
    let mut writer = BundleWriter::default();
    writer.push(&frame::encode(&example_ack()));
    writer.push(&frame::encode(&Frame::Ping { nonce: 300 }));
    assert_eq!(writer.plaintext(), Some(v.get("bundle")));
    let mut items = BundleItems::new(v.get("bundle").to_vec()).expect("a bundle");
    let mut frames = Vec::new();
    while let Some(item) = items.next_item().expect("well formed") {
        frames.push(frame::decode(item));
    }
    assert_eq!(
        frames,
        [
            Ok(Decoded::Frame(example_ack())),
            Ok(Decoded::Frame(Frame::Ping { nonce: 300 }))
        ]
    );
    assert_eq!(
        frame::decode(v.get("bundle")),
        Err(skychat_core::DecodeError::NestedBundle),
        "a bundle is never a frame by itself"
    );
}

#[test]
fn close_frames_carry_the_documented_code_numbers() {
    let v = Vectors::load();
    let known = [
        CloseCode::Normal,
        CloseCode::NotAuthorized,
        CloseCode::ProtocolError,
        CloseCode::IdleTimeout,
        CloseCode::Busy,
    ];
    let frames: Vec<&[u8]> = v.get("close-frames").chunks(2).collect();
    assert_eq!(frames.len(), known.len());
    for (bytes, code) in frames.into_iter().zip(known) {
        let close = Frame::Close { code };
        assert_eq!(frame::encode(&close), bytes, "{code:?}");
        assert_eq!(frame::decode(bytes), Ok(Decoded::Frame(close)));
    }
    assert_eq!(
        frame::decode(&[0x06, 0xe8, 0x07]),
        Ok(Decoded::Frame(Frame::Close {
            code: CloseCode::Other(1000)
        })),
        "unknown codes are kept, not refused"
    );
}

/// Drains `node` until it waits, returning the transmitted bytes and the events.
fn drain(node: &mut Node) -> (Vec<u8>, Vec<Event>) {
    let mut wire = Vec::new();
    let mut events = Vec::new();
    loop {
        match node.poll_output() {
            Output::Transmit(t) => wire.extend_from_slice(&t.data),
            Output::Event(e) => events.push(e),
            Output::Dial { peer } => panic!("unexpected dial of {peer:?}"),
            Output::Timeout(_) => return (wire, events),
        }
    }
}

/// An initiator session driven by hand against a responder `Node`.
fn handshake_with_node(whitelisted: bool) -> (Node, skychat_core::ConnId, Session, Vec<u8>) {
    let initiator_key = SecretKey::from_bytes([0x01; 32]);
    let allowed = if whitelisted {
        vec![initiator_key.public_key()]
    } else {
        vec![]
    };
    let config = NodeConfig {
        whitelist: Whitelist::new(allowed),
        ..Default::default()
    };
    let mut node = Node::new(SecretKey::from_bytes([0x02; 32]), config, [0x22; 32]);
    let now = Duration::ZERO;
    let conn = node.accept(now).unwrap();
    let mut tx = BytesMut::new();
    let mut scratch = Vec::new();
    let mut session = Session::initiator(
        &initiator_key,
        node.public_key().as_native().unwrap(),
        [0x11; 32],
        &mut tx,
    );
    node.handle_receive(now, conn, &tx.split());
    let (msg2, _) = drain(&mut node);
    session.push(&msg2);
    assert!(matches!(
        session.next(&mut tx, &mut scratch),
        Ok(Some(Received::Authenticated(_)))
    ));
    (node, conn, session, tx.to_vec())
}

/// Decrypts every frame `session` reads from `wire`.
fn read_frames(session: &mut Session, wire: &[u8]) -> Vec<Frame> {
    session.push(wire);
    let mut frames = Vec::new();
    let mut tx = BytesMut::new();
    while let Some(received) = session.next(&mut tx, &mut Vec::new()).unwrap() {
        if let Received::Frame(Decoded::Frame(frame)) = received {
            frames.push(frame);
        }
    }
    frames
}

#[test]
fn rejected_initiator_gets_one_not_authorized_close_and_pipelined_frames_are_discarded() {
    let (mut node, conn, mut session, msg3) = handshake_with_node(false);
    let mut wire = msg3;
    let mut tx = BytesMut::new();
    session.send(&Frame::Chat(example_chat()), &mut tx, &mut Vec::new());
    wire.extend_from_slice(&tx);
    node.handle_receive(Duration::ZERO, conn, &wire);
    let (reply, events) = drain(&mut node);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::MessageReceived { .. })),
        "{events:?}"
    );
    assert_eq!(
        read_frames(&mut session, &reply),
        [Frame::Close {
            code: CloseCode::NotAuthorized
        }]
    );
}

#[test]
fn violation_after_the_handshake_is_answered_with_a_protocol_error_close() {
    let (mut node, conn, mut session, msg3) = handshake_with_node(true);
    let now = Duration::ZERO;
    node.handle_receive(now, conn, &msg3);
    let (features, _) = drain(&mut node);
    assert_eq!(
        read_frames(&mut session, &features),
        [Frame::Features { bits: 1 }],
        "a native node announces that it accepts bundles, first of all"
    );
    let mut tx = BytesMut::new();
    let oversized = ChatMessage {
        body: "x".repeat(skychat_core::MAX_BODY_BYTES + 1),
        ..example_chat()
    };
    session.send(&Frame::Chat(oversized), &mut tx, &mut Vec::new());
    node.handle_receive(now, conn, &tx);
    let (reply, events) = drain(&mut node);
    assert_eq!(
        read_frames(&mut session, &reply),
        [Frame::Close {
            code: CloseCode::ProtocolError
        }]
    );
    let peer = SecretKey::from_bytes([0x01; 32]).public_key();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ConnectionClosed { peer: Some(p), was_authenticated: true, .. } if *p == peer
    )));
    assert!(node.sessions().is_empty());
    // The closed session is forgotten: a new message for the peer waits in the outbox.
    node.send_message(now, peer, "later".into(), None, 0)
        .unwrap();
    let (wire, _) = drain(&mut node);
    assert!(wire.is_empty());
    assert_eq!(node.queued_for(&peer), 1);
}

/// The length-prefixed Noise messages of `wire`.
fn noise_messages(wire: &[u8]) -> usize {
    let mut count = 0;
    let mut rest = wire;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2 + len..];
        count += 1;
    }
    assert!(rest.is_empty(), "a partial Noise message");
    count
}

/// A whitelisted initiator driven by hand, past the node's features frame; the node has sent it
/// nothing else.
fn established_with_node() -> (Node, skychat_core::ConnId, Session) {
    let (mut node, conn, mut session, msg3) = handshake_with_node(true);
    node.handle_receive(Duration::ZERO, conn, &msg3);
    let (features, _) = drain(&mut node);
    assert_eq!(
        read_frames(&mut session, &features),
        [Frame::Features { bits: 1 }]
    );
    (node, conn, session)
}

fn queue_three(node: &mut Node) -> Vec<u64> {
    let peer = SecretKey::from_bytes([0x01; 32]).public_key();
    (0..3)
        .map(|i| {
            node.send_message(Duration::ZERO, peer, format!("m{i}"), None, 0)
                .unwrap()
                .id
                .seq
        })
        .collect()
}

fn chat_seqs(frames: &[Frame]) -> Vec<u64> {
    frames
        .iter()
        .map(|f| match f {
            Frame::Chat(m) => m.id.seq,
            other => panic!("not a chat frame: {other:?}"),
        })
        .collect()
}

#[test]
fn a_peer_that_never_announced_bundles_gets_one_frame_per_noise_message() {
    let (mut node, _conn, mut session) = established_with_node();
    let seqs = queue_three(&mut node);
    let (wire, _) = drain(&mut node);
    assert_eq!(noise_messages(&wire), 3);
    assert_eq!(chat_seqs(&read_frames(&mut session, &wire)), seqs);
}

#[test]
fn a_peer_that_announced_bundles_gets_what_one_pass_sends_in_one_noise_message() {
    let (mut node, conn, mut session) = established_with_node();
    let mut tx = BytesMut::new();
    session.send(&Frame::Features { bits: 1 }, &mut tx, &mut Vec::new());
    node.handle_receive(Duration::ZERO, conn, &tx);
    let seqs = queue_three(&mut node);
    let (wire, _) = drain(&mut node);
    assert_eq!(noise_messages(&wire), 1);
    assert_eq!(chat_seqs(&read_frames(&mut session, &wire)), seqs);
}

#[test]
fn a_bundle_from_the_peer_is_handled_frame_by_frame_in_order() {
    let (mut node, conn, mut session) = established_with_node();
    let (mut tx, mut scratch) = (BytesMut::new(), Vec::new());
    session.set_peer_features(1, &mut tx, &mut scratch);
    for seq in 1..=2 {
        let message = ChatMessage {
            id: MessageId {
                stream: 0x0123_4567_89ab_cdef,
                seq,
            },
            ..example_chat()
        };
        session.send(&Frame::Chat(message), &mut tx, &mut scratch);
    }
    session.send(&Frame::Ping { nonce: 7 }, &mut tx, &mut scratch);
    session.flush(&mut tx, &mut scratch);
    assert_eq!(noise_messages(&tx), 1, "the test peer sent one bundle");
    node.handle_receive(Duration::ZERO, conn, &tx);
    let (wire, events) = drain(&mut node);
    let received: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::MessageReceived { message, .. } => Some(message.id.seq),
            _ => None,
        })
        .collect();
    assert_eq!(received, [1, 2]);
    assert_eq!(read_frames(&mut session, &wire), [Frame::Pong { nonce: 7 }]);
}

#[test]
fn a_malformed_bundle_closes_the_session_with_a_protocol_error_after_the_items_before_it() {
    let initiator_key = SecretKey::from_bytes([0x01; 32]);
    let config = NodeConfig {
        whitelist: Whitelist::new(vec![initiator_key.public_key()]),
        ..Default::default()
    };
    let mut node = Node::new(SecretKey::from_bytes([0x02; 32]), config, [0x22; 32]);
    let now = Duration::ZERO;
    let conn = node.accept(now).unwrap();
    let mut peer = ScriptedPeer::initiator(&initiator_key, &node.public_key(), [0x11; 32]);
    let mut frames = Vec::new();
    node.handle_receive(now, conn, &peer.write_handshake().unwrap());
    assert!(peer.receive(&drain(&mut node).0, &mut frames));
    node.handle_receive(now, conn, &peer.write_handshake().unwrap());
    assert!(peer.receive(&drain(&mut node).0, &mut frames));
    assert_eq!(frames, [frame::encode(&Frame::Features { bits: 1 })]);
    frames.clear();

    let chat = frame::encode(&Frame::Chat(example_chat()));
    let mut plain = vec![0x08, chat.len() as u8];
    plain.extend_from_slice(&chat);
    plain.extend_from_slice(&[0x09, 0x04, 0x01]);
    node.handle_receive(now, conn, &peer.encrypt(&plain).unwrap());
    let (reply, events) = drain(&mut node);
    assert!(matches!(
        events.first(),
        Some(Event::MessageReceived { message, .. }) if *message == example_chat()
    ));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::ConnectionClosed { .. })),
        "{events:?}"
    );
    assert!(peer.receive(&reply, &mut frames));
    assert_eq!(
        frames,
        [frame::encode(&Frame::Close {
            code: CloseCode::ProtocolError
        })]
    );
}
