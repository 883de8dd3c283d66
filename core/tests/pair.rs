//! Two nodes wired back to back in memory with a virtual clock: the handshake, delivery, acks,
//! whitelist rejection, a wrong pinned key and the keepalive timers, checked through the public
//! API only.

use std::time::Duration;

use skychat_core::{CloseCode, CloseReason, Event, NodeConfig, Whitelist};

mod support;
use support::{Pair, key};

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

    pair.b.confirm_stored(pair.now, a_pk, sent.id);
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

/// `a` keeps the default keepalive (10 s) and idle timeout (30 s); `b` only answers: its own
/// timers are far away, so every write of `a` after the handshake is a Ping (or a Close) and
/// every write of `b` a Pong (unless a test sends something).
fn keepalive_pair() -> Pair {
    let a_pk = key(1).public_key();
    let answering = NodeConfig {
        whitelist: Whitelist::new(vec![a_pk]),
        keepalive_interval: Duration::from_secs(1000),
        idle_timeout: Duration::from_secs(3000),
        ..Default::default()
    };
    let mut pair = Pair::with_configs(NodeConfig::default(), answering, None);
    pair.drive();
    assert!(
        pair.a_events
            .iter()
            .any(|e| matches!(e, Event::Authenticated { .. })),
        "{:?}",
        pair.a_events
    );
    pair.a_writes.clear();
    pair.b_writes.clear();
    pair
}

fn secs(list: &[Duration]) -> Vec<u64> {
    list.iter().map(Duration::as_secs).collect()
}

#[test]
fn a_peer_that_answers_is_pinged_after_every_ten_seconds_of_silence() {
    let mut pair = keepalive_pair();
    pair.run_until(Duration::from_secs(65));
    assert_eq!(secs(&pair.a_writes), [10, 20, 30, 40, 50, 60], "pings");
    assert_eq!(secs(&pair.b_writes), [10, 20, 30, 40, 50, 60], "pongs");
    assert!(
        !pair
            .a_events
            .iter()
            .any(|e| matches!(e, Event::ConnectionClosed { .. })),
        "{:?}",
        pair.a_events
    );
}

#[test]
fn the_next_ping_comes_a_keepalive_interval_after_the_last_frame_received() {
    let mut pair = keepalive_pair();
    pair.run_until(Duration::from_secs(15));
    assert_eq!(secs(&pair.a_writes), [10], "the first ping");
    // `b` sends a chat message at 15 s; `a`'s host never stores it, so `a` sends no ack.
    let a_pk = key(1).public_key();
    pair.b
        .send_message(pair.now, a_pk, "are you there?".into(), None, 0)
        .unwrap();
    pair.drive();
    assert!(
        pair.a_events
            .iter()
            .any(|e| matches!(e, Event::MessageReceived { .. }))
    );
    pair.run_until(Duration::from_secs(26));
    assert_eq!(
        secs(&pair.a_writes),
        [10, 25],
        "a ping 10 s after the chat frame"
    );
}

#[test]
fn a_silent_peer_is_pinged_once_and_closed_at_the_idle_timeout() {
    let mut pair = keepalive_pair();
    pair.b_muted = true;
    pair.run_until(Duration::from_secs(60));
    // One ping at 10 s, then the close frame at 30 s.
    assert_eq!(secs(&pair.a_writes), [10, 30]);
    let closed: Vec<_> = pair
        .a_events
        .iter()
        .filter_map(|e| match e {
            Event::ConnectionClosed { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(closed, [CloseReason::IdleTimeout]);
    assert_eq!(pair.a_deadline, None, "nothing left to time");
}

fn deletions(events: &[Event]) -> Vec<(skychat_core::PublicKey, skychat_core::MessageId)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::MessageDeleted { peer, id } => Some((*peer, *id)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_deletion_for_everyone_waits_for_the_session_then_reaches_the_peer() {
    let a_pk = key(1).public_key();
    let mut pair = Pair::new(vec![a_pk], None);
    let b_pk = pair.b.public_key();
    // Asked before the handshake has finished: it waits for the session.
    let earlier = skychat_core::MessageId { stream: 5, seq: 1 };
    pair.a.send_deletion(pair.now, b_pk, earlier);
    pair.drive();
    assert_eq!(deletions(&pair.b_events), [(a_pk, earlier)]);

    let sent = pair
        .a
        .send_message(pair.now, b_pk, "oops".into(), None, 7)
        .unwrap();
    pair.drive();
    pair.b_events.clear();
    pair.a.send_deletion(pair.now, b_pk, sent.id);
    pair.drive();
    assert_eq!(deletions(&pair.b_events), [(a_pk, sent.id)]);
}

#[test]
fn a_blocked_peer_is_cut_off_and_refused_on_every_try_whitelisted_or_not() {
    let a_pk = key(1).public_key();
    let mut pair = Pair::new(vec![a_pk], None);
    assert_eq!(pair.b.sessions().len(), 1);
    pair.b.set_blocked(pair.now, a_pk, true);
    pair.drive();
    assert!(pair.b.sessions().is_empty());
    assert!(pair.a_events.iter().any(|e| matches!(
        e,
        Event::ConnectionClosed {
            reason: CloseReason::RemoteClosed(CloseCode::NotAuthorized),
            ..
        }
    )));

    // A new try, whitelisted as it is, is refused after its handshake and counted.
    let config = NodeConfig {
        whitelist: Whitelist::new(vec![a_pk]),
        blocked: vec![a_pk],
        ..Default::default()
    };
    let mut again = Pair::with_configs(NodeConfig::default(), config, None);
    again.drive();
    assert!(again.b.sessions().is_empty());
    assert_eq!(again.b.refusals().blocked, 1);
    assert!(again.b.is_blocked(&a_pk));
    assert!(
        !again
            .b_events
            .iter()
            .any(|e| matches!(e, Event::Authenticated { .. })),
        "a blocked peer is never reported as connected"
    );
}

#[test]
fn a_blocked_persistent_peer_is_not_dialed_until_it_is_unblocked() {
    use skychat_core::{Node, Output};
    let peer = key(2).public_key();
    let mut node = Node::new(key(1), NodeConfig::default(), [7; 32]);
    let start = std::time::Duration::ZERO;
    node.set_blocked(start, peer, true);
    node.add_persistent_peer(start, peer);
    let dials = |node: &mut Node, now| {
        node.handle_timeout(now);
        let mut dials = 0;
        loop {
            match node.poll_output() {
                Output::Dial { .. } => dials += 1,
                Output::Timeout(_) => return dials,
                _ => {}
            }
        }
    };
    let later = start + std::time::Duration::from_secs(3600);
    assert_eq!(dials(&mut node, later), 0);
    node.set_blocked(later, peer, false);
    assert_eq!(dials(&mut node, later), 1);
}
