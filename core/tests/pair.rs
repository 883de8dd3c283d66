//! Two nodes wired back to back in memory with a virtual clock: the handshake, delivery, acks,
//! whitelist rejection and a wrong pinned key, checked through the public API only.

use std::time::Duration;

use skychat_core::{
    CloseCode, CloseReason, ConnId, ConnKind, Event, Node, NodeConfig, Output, PublicKey,
    SecretKey, Whitelist,
};

struct Pair {
    a: Node,
    b: Node,
    a_conn: ConnId,
    b_conn: ConnId,
    now: Duration,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
}

fn key(byte: u8) -> SecretKey {
    SecretKey::from_bytes([byte; 32])
}

impl Pair {
    /// `a` dials `b`, pinning `pinned`.
    fn new(b_whitelist: Vec<PublicKey>, pinned: Option<PublicKey>) -> Self {
        let now = Duration::ZERO;
        let mut a = Node::new(key(1), NodeConfig::default(), [1; 32]);
        let config = NodeConfig {
            whitelist: Whitelist::new(b_whitelist),
            ..Default::default()
        };
        let mut b = Node::new(key(2), config, [2; 32]);
        let target = pinned.unwrap_or_else(|| b.public_key());
        let a_conn = a.connect(now, target, ConnKind::OneShot);
        let b_conn = b.accept(now).unwrap();
        Self {
            a,
            b,
            a_conn,
            b_conn,
            now,
            a_events: vec![],
            b_events: vec![],
        }
    }

    /// Moves bytes and events until both sides are idle. Bounded, so a livelock fails.
    fn drive(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            loop {
                match self.a.poll_output() {
                    Output::Transmit(t) => {
                        assert_eq!(t.conn, self.a_conn);
                        self.b.handle_receive(self.now, self.b_conn, &t.data);
                        moved = true;
                    }
                    Output::Event(e) => self.a_events.push(e),
                    Output::Timeout(_) => break,
                }
            }
            loop {
                match self.b.poll_output() {
                    Output::Transmit(t) => {
                        self.a.handle_receive(self.now, self.a_conn, &t.data);
                        moved = true;
                    }
                    Output::Event(e) => self.b_events.push(e),
                    Output::Timeout(_) => break,
                }
            }
            if !moved {
                return;
            }
        }
        panic!("pair did not settle");
    }
}

#[test]
fn message_is_delivered_then_acked_only_after_storage() {
    let a_pk = key(1).public_key();
    let mut pair = Pair::new(vec![a_pk], None);
    let b_pk = pair.b.public_key();
    let sent = pair
        .a
        .send_message(pair.now, b_pk, "hello".into(), None, 7)
        .unwrap();
    pair.drive();
    let received: Vec<_> = pair
        .b_events
        .iter()
        .filter_map(|e| match e {
            Event::MessageReceived { message, peer, .. } => Some((peer, message.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        received.len(),
        1,
        "a={:?} b={:?}",
        pair.a_events,
        pair.b_events
    );
    assert_eq!(*received[0].0, a_pk);
    assert_eq!(received[0].1, sent);
    assert!(
        !pair
            .a_events
            .iter()
            .any(|e| matches!(e, Event::MessageAcked { .. }))
    );
    assert_eq!(pair.a.queued_for(&b_pk), 1);

    pair.b.confirm_stored(a_pk, sent.id);
    pair.drive();
    assert!(
        pair.a_events
            .iter()
            .any(|e| matches!(e, Event::MessageAcked { id, .. } if *id == sent.id))
    );
    assert_eq!(pair.a.queued_for(&b_pk), 0);
}

#[test]
fn initiator_not_on_whitelist_is_told_not_authorized_and_nothing_is_delivered() {
    let mut pair = Pair::new(vec![], None);
    let b_pk = pair.b.public_key();
    pair.a
        .send_message(pair.now, b_pk, "let me in".into(), None, 0)
        .unwrap();
    pair.drive();
    assert!(
        pair.b_events
            .iter()
            .any(|e| matches!(e, Event::Rejected { .. }))
    );
    assert!(
        !pair
            .b_events
            .iter()
            .any(|e| matches!(e, Event::MessageReceived { .. }))
    );
    assert!(pair.a_events.iter().any(|e| matches!(
        e,
        Event::ConnectionClosed {
            reason: CloseReason::RemoteClosed(CloseCode::NotAuthorized),
            ..
        }
    )));
    assert_eq!(pair.a.queued_for(&b_pk), 1, "the message stays queued");
}

#[test]
fn wrong_pinned_key_fails_on_the_responder_before_any_application_data() {
    let a_pk = key(1).public_key();
    let wrong = key(9).public_key();
    let mut pair = Pair::new(vec![a_pk], Some(wrong));
    pair.a
        .send_message(pair.now, wrong, "secret".into(), None, 0)
        .unwrap();
    pair.drive();
    assert!(pair.b_events.iter().any(|e| matches!(
        e,
        Event::ConnectionClosed {
            reason: CloseReason::ProtocolViolation(_),
            was_authenticated: false,
            ..
        }
    )));
    assert!(
        !pair
            .b_events
            .iter()
            .any(|e| matches!(e, Event::MessageReceived { .. }))
    );
    pair.a.handle_socket_closed(pair.now, pair.a_conn);
    pair.drive();
    assert!(pair.a_events.iter().any(|e| matches!(
        e,
        Event::ConnectionClosed {
            reason: CloseReason::HandshakeIncomplete,
            ..
        }
    )));
}
