//! Held messages through the public API, on two nodes wired back to back: nothing held is sent,
//! a release sends in order, a withdrawal leaves no gap and no duplicate, and held messages count
//! against the outbox limits. The property test runs random mixes of the three against a model
//! of what the receiver must end up with.

use std::time::Duration;

use proptest::prelude::*;
use skychat_core::{
    ChatMessage, CommandError, ConnId, ConnKind, Event, Node, NodeConfig, Output, PublicKey,
    SecretKey, Whitelist,
};

const OUTBOX_LIMIT: usize = 6;

struct Wire {
    a: Node,
    b: Node,
    a_conn: ConnId,
    b_conn: ConnId,
    b_pk: PublicKey,
    a_pk: PublicKey,
    received: Vec<ChatMessage>,
    acked: usize,
}

impl Wire {
    fn new() -> Self {
        let a_key = SecretKey::from_bytes([11; 32]);
        let a_pk = a_key.public_key();
        let a_config = NodeConfig {
            max_outbox_per_peer: OUTBOX_LIMIT,
            ..Default::default()
        };
        let mut a = Node::new(a_key, a_config, [3; 32]);
        let b_config = NodeConfig {
            whitelist: Whitelist::new(vec![a_pk]),
            ..Default::default()
        };
        let mut b = Node::new(SecretKey::from_bytes([12; 32]), b_config, [4; 32]);
        let b_pk = b.public_key();
        let a_conn = a.connect(Duration::ZERO, b_pk, ConnKind::OneShot);
        let b_conn = b.accept(Duration::ZERO).unwrap();
        let mut wire = Self {
            a,
            b,
            a_conn,
            b_conn,
            b_pk,
            a_pk,
            received: Vec::new(),
            acked: 0,
        };
        wire.settle();
        wire
    }

    /// Moves bytes both ways until both nodes are idle; B stores (confirms) all it receives.
    fn settle(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            loop {
                match self.a.poll_output() {
                    Output::Transmit(t) => {
                        self.b.handle_receive(Duration::ZERO, self.b_conn, &t.data);
                        moved = true;
                    }
                    Output::Event(Event::MessageAcked { .. }) => self.acked += 1,
                    Output::Event(_) => {}
                    Output::Dial { peer } => panic!("unexpected dial of {peer:?}"),
                    Output::Timeout(_) => break,
                }
            }
            loop {
                match self.b.poll_output() {
                    Output::Transmit(t) => {
                        self.a.handle_receive(Duration::ZERO, self.a_conn, &t.data);
                        moved = true;
                    }
                    Output::Event(Event::MessageReceived { peer, message, .. }) => {
                        self.b.confirm_stored(Duration::ZERO, peer, message.id);
                        self.received.push(message);
                    }
                    Output::Event(_) => {}
                    Output::Dial { peer } => panic!("unexpected dial of {peer:?}"),
                    Output::Timeout(_) => break,
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the nodes did not settle");
    }

    fn hold(&mut self, body: &str) -> Result<ChatMessage, CommandError> {
        self.a
            .hold_message(Duration::ZERO, self.b_pk, body.into(), None, 0)
    }

    fn bodies(&self) -> Vec<&str> {
        self.received.iter().map(|m| m.body.as_str()).collect()
    }
}

#[test]
fn a_held_message_is_sent_only_once_released_and_blocks_later_ones() {
    let mut wire = Wire::new();
    let first = wire.hold("first").unwrap();
    let second = wire
        .a
        .send_message(Duration::ZERO, wire.b_pk, "second".into(), None, 0)
        .unwrap();
    wire.settle();
    assert!(wire.received.is_empty(), "{:?}", wire.received);
    assert_eq!(wire.a.queued_for(&wire.b_pk), 2);

    assert!(wire.a.release_message(Duration::ZERO, wire.b_pk, first.id));
    assert!(
        !wire.a.release_message(Duration::ZERO, wire.b_pk, first.id),
        "released twice"
    );
    wire.settle();
    assert_eq!(wire.bodies(), ["first", "second"]);
    assert_eq!(wire.received[1].id, second.id);
    assert_eq!(wire.acked, 2);
    assert_eq!(wire.a.queued_for(&wire.b_pk), 0);
}

#[test]
fn a_withdrawn_message_is_never_sent_and_its_id_is_reused_without_a_gap() {
    let mut wire = Wire::new();
    let kept = wire.hold("kept").unwrap();
    let dropped = wire.hold("dropped").unwrap();
    let after = wire.hold("after").unwrap();
    assert!(wire.a.release_message(Duration::ZERO, wire.b_pk, kept.id));
    assert_eq!(
        wire.a
            .withdraw_message(Duration::ZERO, wire.b_pk, dropped.id),
        [dropped.id, after.id]
    );
    assert_eq!(wire.a.queued_for(&wire.b_pk), 1);
    let next = wire.hold("next").unwrap();
    assert_eq!(next.id, dropped.id, "the withdrawn id is given back");
    assert!(wire.a.release_message(Duration::ZERO, wire.b_pk, next.id));
    wire.settle();
    assert_eq!(wire.bodies(), ["kept", "next"]);
    assert_eq!(wire.received[1].id.seq, wire.received[0].id.seq + 1);
}

#[test]
fn withdrawing_refuses_when_a_later_message_was_released_or_sent() {
    let mut wire = Wire::new();
    let sent = wire.hold("sent").unwrap();
    assert!(wire.a.release_message(Duration::ZERO, wire.b_pk, sent.id));
    wire.settle();
    assert!(
        wire.a
            .withdraw_message(Duration::ZERO, wire.b_pk, sent.id)
            .is_empty()
    );

    let early = wire.hold("early").unwrap();
    let late = wire.hold("late").unwrap();
    assert!(wire.a.release_message(Duration::ZERO, wire.b_pk, late.id));
    assert!(
        wire.a
            .withdraw_message(Duration::ZERO, wire.b_pk, early.id)
            .is_empty()
    );
    assert!(wire.a.release_message(Duration::ZERO, wire.b_pk, early.id));
    wire.settle();
    assert_eq!(wire.bodies(), ["sent", "early", "late"]);
}

#[test]
fn held_messages_count_against_the_outbox_limit_until_withdrawn() {
    let mut wire = Wire::new();
    let mut held = Vec::new();
    for i in 0..OUTBOX_LIMIT {
        held.push(wire.hold(&format!("m{i}")).unwrap());
    }
    assert_eq!(wire.hold("one too many"), Err(CommandError::OutboxFull));
    assert_eq!(
        wire.a
            .withdraw_message(Duration::ZERO, wire.b_pk, held[0].id)
            .len(),
        OUTBOX_LIMIT
    );
    assert_eq!(wire.a.queued_total(), 0);
    assert!(wire.hold("room again").is_ok());
    assert_eq!(
        wire.a
            .withdraw_message(Duration::ZERO, wire.a_pk, held[0].id),
        [],
        "nothing is held for another peer"
    );
}

#[derive(Debug, Clone)]
enum Step {
    Hold,
    /// Release the oldest held message.
    Release,
    /// Withdraw from the n-th held message on (modulo how many are held).
    Withdraw(usize),
    Settle,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => Just(Step::Hold),
        3 => Just(Step::Release),
        1 => (0usize..8).prop_map(Step::Withdraw),
        2 => Just(Step::Settle),
    ]
}

proptest! {
    #[test]
    fn the_receiver_gets_exactly_the_released_messages_in_order(steps in prop::collection::vec(step(), 1..60)) {
        let mut wire = Wire::new();
        let mut held: Vec<ChatMessage> = Vec::new();
        let mut released: Vec<String> = Vec::new();
        let mut counter = 0;
        for step in steps {
            match step {
                Step::Hold => {
                    counter += 1;
                    let body = format!("m{counter}");
                    let unacked = wire.a.queued_for(&wire.b_pk);
                    match wire.hold(&body) {
                        Ok(message) => {
                            prop_assert!(unacked < OUTBOX_LIMIT);
                            held.push(message);
                        }
                        Err(error) => {
                            prop_assert_eq!(error, CommandError::OutboxFull);
                            prop_assert_eq!(unacked, OUTBOX_LIMIT);
                        }
                    }
                }
                Step::Release => {
                    if !held.is_empty() {
                        let message = held.remove(0);
                        prop_assert!(wire.a.release_message(Duration::ZERO, wire.b_pk, message.id));
                        released.push(message.body);
                    }
                }
                Step::Withdraw(n) => {
                    if !held.is_empty() {
                        let from = n % held.len();
                        let gone = wire.a.withdraw_message(Duration::ZERO, wire.b_pk, held[from].id);
                        let expected: Vec<_> = held.drain(from..).map(|m| m.id).collect();
                        prop_assert_eq!(gone, expected);
                    }
                }
                Step::Settle => wire.settle(),
            }
        }
        for message in std::mem::take(&mut held) {
            prop_assert!(wire.a.release_message(Duration::ZERO, wire.b_pk, message.id));
            released.push(message.body);
        }
        wire.settle();
        prop_assert_eq!(wire.bodies(), released.iter().map(String::as_str).collect::<Vec<_>>());
        for pair in wire.received.windows(2) {
            prop_assert_eq!(pair[1].id.stream, pair[0].id.stream);
            prop_assert_eq!(pair[1].id.seq, pair[0].id.seq + 1);
        }
        prop_assert_eq!(wire.acked, released.len());
        prop_assert_eq!(wire.a.queued_total(), 0);
    }
}
