//! The Skywire suite inside the node: two nodes chatting over it, a Go-style peer (a bare
//! `SkywireSession` speaking envelopes) against a node, the one listener that serves both
//! suites, the post-quantum policy, and how a dead Skywire session is found without pings.

use std::time::Duration;

use bytes::BytesMut;
use skychat_core::{
    ChatMsg, CloseReason, CommandError, ConnId, ConnKind, Event, MessageId, Node, NodeConfig,
    Output, PqPolicy, PublicKey, SessionError, SkywirePayload, SkywireReceived, SkywireSecretKey,
    SkywireSession, Whitelist,
};

mod support;
use support::{Pair, key};

fn skywire_pk(byte: u8) -> PublicKey {
    key(byte).skywire_public_key().unwrap()
}

fn classical() -> PqPolicy {
    PqPolicy {
        hybrid: false,
        require: false,
    }
}

/// `a` (key 1) dials `b` (key 2) over the Skywire suite; `b` admits `a`'s Skywire key.
fn skywire_pair(a_config: NodeConfig, b_config: NodeConfig) -> Pair {
    let b_config = NodeConfig {
        whitelist: Whitelist::new(vec![skywire_pk(1)]),
        ..b_config
    };
    let mut pair = Pair::with_configs(a_config, b_config, Some(skywire_pk(2)));
    pair.drive();
    pair
}

fn received(events: &[Event]) -> Vec<(PublicKey, skychat_core::ChatMessage)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::MessageReceived { peer, message, .. } => Some((*peer, message.clone())),
            _ => None,
        })
        .collect()
}

fn acked(events: &[Event]) -> Vec<MessageId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::MessageAcked { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

#[test]
fn two_nodes_chat_over_the_skywire_suite_with_acks_after_storage() {
    let mut pair = skywire_pair(NodeConfig::default(), NodeConfig::default());
    let authenticated = |events: &[Event]| {
        events
            .iter()
            .find_map(|e| match e {
                Event::Authenticated { peer, .. } => Some(*peer),
                _ => None,
            })
            .expect("authenticated")
    };
    assert_eq!(authenticated(&pair.a_events), skywire_pk(2));
    assert_eq!(authenticated(&pair.b_events), skywire_pk(1));
    assert!(
        !pair
            .b_events
            .iter()
            .any(|e| matches!(e, Event::ClassicalHandshake { .. })),
        "both ends use the hybrid by default"
    );

    let sent = pair
        .a
        .send_message(
            pair.now,
            skywire_pk(2),
            "hello over skywire".into(),
            None,
            5,
        )
        .unwrap();
    pair.drive();
    let got = received(&pair.b_events);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, skywire_pk(1));
    assert_eq!(got[0].1.id, sent.id, "the id travels as its hex form");
    assert_eq!(got[0].1.body, "hello over skywire");
    assert!(acked(&pair.a_events).is_empty(), "no ack before storage");

    pair.b.confirm_stored(pair.now, skywire_pk(1), sent.id);
    pair.drive();
    assert_eq!(acked(&pair.a_events), [sent.id]);
    assert_eq!(pair.a.queued_for(&skywire_pk(2)), 0);

    // The reply goes back on the same session, and names the message it answers.
    let reply = pair
        .b
        .send_message(pair.now, skywire_pk(1), "hi".into(), Some(sent.id), 6)
        .unwrap();
    pair.drive();
    let got = received(&pair.a_events);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.id, reply.id);
    assert_eq!(got[0].1.reply_to, Some(sent.id));
}

#[test]
fn a_classical_peer_is_reported_and_refused_when_pq_is_required() {
    let classical_a = NodeConfig {
        pq_policy: classical(),
        ..Default::default()
    };
    let pair = skywire_pair(classical_a.clone(), NodeConfig::default());
    assert!(
        pair.b_events
            .iter()
            .any(|e| matches!(e, Event::ClassicalHandshake { peer, .. } if *peer == skywire_pk(1)))
    );
    assert!(
        pair.b_events
            .iter()
            .any(|e| matches!(e, Event::Authenticated { .. }))
    );

    let strict_b = NodeConfig {
        pq_policy: PqPolicy {
            hybrid: true,
            require: true,
        },
        ..Default::default()
    };
    let pair = skywire_pair(classical_a, strict_b);
    assert!(
        !pair
            .b_events
            .iter()
            .any(|e| matches!(e, Event::Authenticated { .. })),
        "{:?}",
        pair.b_events
    );
    assert!(pair.b_events.iter().any(|e| matches!(
        e,
        Event::ConnectionClosed {
            reason: CloseReason::ProtocolViolation(SessionError::Skywire(_)),
            ..
        }
    )));
}

/// Runs `a`'s handshake against a connection `listener` accepted, by hand.
fn handshake(a: &mut Node, a_conn: ConnId, listener: &mut Node, l_conn: ConnId) {
    for _ in 0..10 {
        let mut moved = false;
        while let Output::Transmit(t) = next_transmit(a) {
            listener.handle_receive(Duration::ZERO, l_conn, &t.data);
            moved = true;
        }
        while let Output::Transmit(t) = next_transmit(listener) {
            a.handle_receive(Duration::ZERO, a_conn, &t.data);
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

/// The next transmit, skipping events; `Timeout` when there is none.
fn next_transmit(node: &mut Node) -> Output {
    loop {
        match node.poll_output() {
            Output::Event(_) => continue,
            other => return other,
        }
    }
}

fn sessions_up(node: &Node) -> Vec<PublicKey> {
    node.sessions()
        .into_iter()
        .filter(|s| s.authenticated)
        .filter_map(|s| s.peer)
        .collect()
}

#[test]
fn one_listener_serves_both_suites_and_refuses_a_prefix_that_fits_neither() {
    let whitelist = Whitelist::new(vec![key(1).public_key(), skywire_pk(3)]);
    let mut listener = Node::new(
        key(2),
        NodeConfig {
            whitelist,
            ..Default::default()
        },
        [2; 32],
    );
    let mut native = Node::new(key(1), NodeConfig::default(), [1; 32]);
    let mut skywire = Node::new(key(3), NodeConfig::default(), [3; 32]);
    let now = Duration::ZERO;

    let n_conn = native.connect(now, listener.public_key(), ConnKind::OneShot);
    let l_native = listener.accept(now).unwrap();
    let s_conn = skywire.connect(now, skywire_pk(2), ConnKind::OneShot);
    let l_skywire = listener.accept(now).unwrap();
    handshake(&mut native, n_conn, &mut listener, l_native);
    handshake(&mut skywire, s_conn, &mut listener, l_skywire);
    let mut up = sessions_up(&listener);
    up.sort();
    let mut expected = vec![key(1).public_key(), skywire_pk(3)];
    expected.sort();
    assert_eq!(up, expected);

    let garbage = listener.accept(now).unwrap();
    listener.handle_receive(now, garbage, &[0x00, 0x05, 1, 2, 3]);
    let mut closed = None;
    while let output @ (Output::Event(_) | Output::Transmit(_)) = listener.poll_output() {
        if let Output::Event(Event::ConnectionClosed { conn, reason, .. }) = output
            && conn == garbage
        {
            closed = Some(reason);
        }
    }
    assert_eq!(
        closed,
        Some(CloseReason::ProtocolViolation(SessionError::UnknownSuite {
            len: 5
        }))
    );
    assert_eq!(listener.refusals().protocol_violation, 1);
}

#[test]
fn each_suite_key_is_admitted_on_its_own() {
    // `b` admits `a`'s native key only: `a`'s Skywire key is another identity.
    let b_config = NodeConfig {
        whitelist: Whitelist::new(vec![key(1).public_key()]),
        ..Default::default()
    };
    let mut pair = Pair::with_configs(NodeConfig::default(), b_config, Some(skywire_pk(2)));
    pair.drive();
    assert!(
        pair.b_events
            .iter()
            .any(|e| matches!(e, Event::Rejected { peer, .. } if *peer == skywire_pk(1)))
    );
}

#[test]
fn a_message_unacked_on_a_silent_skywire_session_closes_it_at_the_idle_timeout() {
    let mut pair = skywire_pair(NodeConfig::default(), NodeConfig::default());
    pair.a_writes.clear();
    pair.b_muted = true;
    // Nothing to send: no pings on this wire, and the session stays up.
    pair.run_until(Duration::from_secs(100));
    let closed = |events: &[Event]| {
        events
            .iter()
            .filter_map(|e| match e {
                Event::ConnectionClosed { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(closed(&pair.a_events), []);
    assert!(pair.a_writes.is_empty(), "no keepalive traffic");

    pair.a
        .send_message(pair.now, skywire_pk(2), "anyone?".into(), None, 0)
        .unwrap();
    pair.drive();
    pair.run_until(Duration::from_secs(129));
    assert_eq!(closed(&pair.a_events), []);
    pair.run_until(Duration::from_secs(141));
    assert_eq!(closed(&pair.a_events), [CloseReason::IdleTimeout]);
    assert_eq!(pair.a.queued_for(&skywire_pk(2)), 1, "the message is kept");
}

#[test]
fn bodies_whose_envelope_exceeds_a_chat_frame_are_refused_up_front() {
    let mut node = Node::new(key(1), NodeConfig::default(), [1; 32]);
    let now = Duration::ZERO;
    let escaped = "<".repeat(20_000);
    assert!(matches!(
        node.send_message(now, skywire_pk(2), escaped.clone(), None, 0),
        Err(CommandError::EnvelopeTooLarge { len }) if len > 65_536
    ));
    assert!(
        node.send_message(now, key(2).public_key(), escaped, None, 0)
            .is_ok()
    );
    assert!(
        node.send_message(now, skywire_pk(2), "a".repeat(60_000), None, 0)
            .is_ok()
    );
    assert_eq!(
        node.send_message(now, skywire_pk(1), "me".into(), None, 0),
        Err(CommandError::SelfAddressed)
    );
}

/// A Go-style peer: a bare Skywire session that speaks envelopes to a node's listener.
struct GoPeer {
    session: SkywireSession,
    node: Node,
    conn: ConnId,
    events: Vec<Event>,
}

impl GoPeer {
    fn connect(policy: PqPolicy) -> Self {
        let go_key = SkywireSecretKey::from_bytes([7; 32]).unwrap();
        let go_pk: PublicKey = go_key.public_key().into();
        let config = NodeConfig {
            whitelist: Whitelist::new(vec![go_pk]),
            ..Default::default()
        };
        let mut node = Node::new(key(2), config, [2; 32]);
        let conn = node.accept(Duration::ZERO).unwrap();
        let target = *skywire_pk(2).as_skywire().unwrap();
        let mut tx = BytesMut::new();
        let session = SkywireSession::initiator(&go_key, &target, policy, [9; 32], &mut tx);
        let mut peer = Self {
            session,
            node,
            conn,
            events: Vec::new(),
        };
        peer.deliver(&tx);
        peer
    }

    fn go_pk() -> PublicKey {
        SkywireSecretKey::from_bytes([7; 32])
            .unwrap()
            .public_key()
            .into()
    }

    /// Hands bytes to the node, then everything the node writes back to the Go session;
    /// returns the payloads the Go session decoded.
    fn deliver(&mut self, bytes: &[u8]) -> Vec<SkywirePayload> {
        self.node.handle_receive(Duration::ZERO, self.conn, bytes);
        self.pump()
    }

    fn pump(&mut self) -> Vec<SkywirePayload> {
        let mut payloads = Vec::new();
        let mut tx = BytesMut::new();
        loop {
            match self.node.poll_output() {
                Output::Transmit(t) => {
                    self.session.push(&t.data);
                    while let Some(got) = self.session.next(&mut tx).unwrap() {
                        if let SkywireReceived::Payload(p) = got {
                            payloads.push(p);
                        }
                    }
                }
                Output::Event(e) => self.events.push(e),
                Output::Dial { peer } => panic!("unexpected dial of {peer:?}"),
                Output::Timeout(_) => break,
            }
        }
        if !tx.is_empty() {
            payloads.extend(self.deliver(&tx.split()));
        }
        payloads
    }

    fn send(&mut self, payload: SkywirePayload) -> Vec<SkywirePayload> {
        let mut tx = BytesMut::new();
        self.session.send(&payload, &mut tx).unwrap();
        self.deliver(&tx)
    }
}

fn go_message(id: &str, body: &str) -> SkywirePayload {
    SkywirePayload::Message(ChatMsg {
        id: id.into(),
        body: body.into(),
        ack: true,
        reply_to: String::new(),
    })
}

#[test]
fn a_go_message_is_stored_before_its_ack_and_deduplicated_by_id() {
    let mut go = GoPeer::connect(PqPolicy::default());
    assert!(go.session.is_established());
    let id = "18ed0a0b0c0d0e0f";
    assert_eq!(go.send(go_message(id, "ping")), []);
    assert_eq!(
        go.send(go_message(id, "ping")),
        [],
        "a resend is not acked early"
    );
    let got = received(&go.events);
    assert_eq!(got.len(), 1, "delivered once");
    assert_eq!(got[0].0, GoPeer::go_pk());
    assert_eq!(got[0].1.id.to_hex(), id, "the Go id keeps its form");

    go.node
        .confirm_stored(Duration::ZERO, GoPeer::go_pk(), got[0].1.id);
    assert_eq!(go.pump(), [SkywirePayload::Ack { id: id.into() }]);
    assert_eq!(
        go.send(go_message(id, "ping")),
        [SkywirePayload::Ack { id: id.into() }],
        "a stored message is acked again when resent"
    );
    assert_eq!(received(&go.events).len(), 1);
}

#[test]
fn raw_text_reads_deletes_and_acks_from_a_go_peer_reach_the_host() {
    let mut go = GoPeer::connect(classical());
    assert!(
        go.events
            .iter()
            .any(|e| matches!(e, Event::ClassicalHandshake { .. }))
    );
    assert_eq!(go.send(SkywirePayload::Text("plain hello".into())), []);
    let got = received(&go.events);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.body, "plain hello");
    go.node
        .confirm_stored(Duration::ZERO, GoPeer::go_pk(), got[0].1.id);
    assert_eq!(go.pump(), [], "raw text cannot be acked");

    // Our message out, acked by id; then the Go peer reads and deletes it.
    let ours = go
        .node
        .send_message(Duration::ZERO, GoPeer::go_pk(), "hi go".into(), None, 1)
        .unwrap();
    let out = go.pump();
    let [SkywirePayload::Message(msg)] = out.as_slice() else {
        panic!("one chat-msg, got {out:?}");
    };
    assert_eq!(msg.id, ours.id.to_hex());
    assert!(msg.ack);
    go.send(SkywirePayload::Ack { id: msg.id.clone() });
    assert_eq!(acked(&go.events), [ours.id]);
    go.send(SkywirePayload::Read { id: msg.id.clone() });
    go.send(SkywirePayload::Delete { id: msg.id.clone() });
    assert!(
        go.events
            .iter()
            .any(|e| matches!(e, Event::ReadReceipt { id, .. } if *id == ours.id))
    );
    assert!(
        go.events
            .iter()
            .any(|e| matches!(e, Event::MessageDeleted { id, .. } if *id == ours.id))
    );

    // Our read receipt for a Go message names it by the Go id.
    go.send(go_message("cd7d000000000001", "pong"));
    let theirs = received(&go.events).last().unwrap().1.id;
    go.node
        .send_read_receipt(Duration::ZERO, GoPeer::go_pk(), theirs);
    assert_eq!(
        go.pump(),
        [SkywirePayload::Read {
            id: "cd7d000000000001".into()
        }]
    );
}

#[test]
fn a_deletion_goes_to_a_skywire_peer_as_chat_delete_with_the_envelope_id() {
    let mut pair = skywire_pair(NodeConfig::default(), NodeConfig::default());
    let sent = pair
        .a
        .send_message(pair.now, skywire_pk(2), "oops".into(), None, 5)
        .unwrap();
    pair.drive();
    pair.a.send_deletion(pair.now, skywire_pk(2), sent.id);
    pair.drive();
    let deleted: Vec<MessageId> = pair
        .b_events
        .iter()
        .filter_map(|e| match e {
            Event::MessageDeleted { peer, id } if *peer == skywire_pk(1) => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, [sent.id], "the id travels as its envelope form");
}
