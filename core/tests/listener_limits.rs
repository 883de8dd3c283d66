//! The listener's limits and the dialer's schedule when a listener turns it away, through the
//! public API with a virtual clock: eviction at the silent and pending-handshake caps, the first-bytes
//! deadline, the refusal counts, and the short retry schedule of a persistent peer.

use std::time::Duration;

use skychat_core::{
    CloseReason, CommandError, ConnId, ConnKind, Event, Node, NodeConfig, Output, PublicKey,
    SecretKey,
};

fn key(byte: u8) -> SecretKey {
    SecretKey::from_bytes([byte; 32])
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// What a node put out until it waited: the bytes it wrote, its events, its next deadline.
type Drained = (Vec<(ConnId, Vec<u8>)>, Vec<Event>, Option<Duration>);

/// Drains `node`.
fn drain(node: &mut Node) -> Drained {
    let (mut writes, mut events) = (Vec::new(), Vec::new());
    loop {
        match node.poll_output() {
            Output::Transmit(t) => writes.push((t.conn, t.data.to_vec())),
            Output::Event(e) => events.push(e),
            Output::Dial { peer } => panic!("unexpected dial of {peer:?}"),
            Output::Timeout(at) => return (writes, events, at),
        }
    }
}

/// Drains `node`, returning the peers it asked to dial.
fn dials(node: &mut Node) -> Vec<PublicKey> {
    let mut peers = Vec::new();
    loop {
        match node.poll_output() {
            Output::Dial { peer } => peers.push(peer),
            Output::Timeout(_) => return peers,
            Output::Transmit(_) | Output::Event(_) => {}
        }
    }
}

fn closed(events: &[Event]) -> Vec<(ConnId, CloseReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ConnectionClosed { conn, reason, .. } => Some((*conn, reason.clone())),
            _ => None,
        })
        .collect()
}

/// Handshake message 1 from a genuine initiator to `listener`.
fn message_1(listener: &Node) -> Vec<u8> {
    let mut initiator = Node::new(key(7), NodeConfig::default(), [7; 32]);
    initiator.connect(Duration::ZERO, listener.public_key(), ConnKind::OneShot);
    let (writes, _, _) = drain(&mut initiator);
    writes.into_iter().next().expect("message 1").1
}

fn listener(max_pending: usize, max_silent: usize) -> Node {
    let config = NodeConfig {
        max_pending_handshakes: max_pending,
        max_silent_connections: max_silent,
        ..NodeConfig::default()
    };
    Node::new(key(1), config, [1; 32])
}

#[test]
fn at_the_silent_cap_the_oldest_silent_connection_is_evicted() {
    let mut node = listener(256, 2);
    let now = Duration::ZERO;
    let hello = message_1(&node);
    let talking = node.accept(now).unwrap();
    node.handle_receive(now, talking, &hello[..5]);
    let oldest = node.accept(now).unwrap();
    let second = node.accept(now).unwrap();
    assert!(
        closed(&drain(&mut node).1).is_empty(),
        "one talks: room for two silent"
    );
    let third = node.accept(now).unwrap();
    assert_eq!(
        closed(&drain(&mut node).1),
        [(oldest, CloseReason::Evicted)],
        "the oldest silent one goes, not the older one that talks"
    );
    let refused = node.refusals();
    assert_eq!((refused.evicted_idle, refused.total()), (1, 1), "{refused}");
    let live: Vec<ConnId> = node.sessions().iter().map(|s| s.conn).collect();
    assert_eq!(live, [talking, second, third]);
}

#[test]
fn beyond_the_pending_cap_the_least_advanced_handshake_is_evicted_oldest_first() {
    let mut node = listener(2, 4096);
    let now = Duration::ZERO;
    let hello = message_1(&node);
    let partial = node.accept(now).unwrap();
    let replied = node.accept(now).unwrap();
    let late = node.accept(now).unwrap();
    let silent = node.accept(now).unwrap();
    node.handle_receive(now, partial, &hello[..5]);
    node.handle_receive(now, replied, &hello);
    let (writes, events, _) = drain(&mut node);
    assert!(writes.iter().any(|(c, _)| *c == replied), "message 2 sent");
    assert!(
        closed(&events).is_empty(),
        "two under way: at the cap, not beyond"
    );
    node.handle_receive(now, late, &hello[..1]);
    assert_eq!(
        closed(&drain(&mut node).1),
        [(partial, CloseReason::Evicted)],
        "the oldest of the least advanced goes"
    );
    let refused = node.refusals();
    assert_eq!(
        (refused.evicted_pending, refused.total()),
        (1, 1),
        "{refused}"
    );
    let live: Vec<ConnId> = node.sessions().iter().map(|s| s.conn).collect();
    assert_eq!(live, [replied, late, silent], "silent ones do not count");
    assert_eq!(node.pending_handshakes(), 3);
}

#[test]
fn an_inbound_connection_that_sends_nothing_is_closed_at_the_first_bytes_deadline() {
    let mut node = listener(256, 4096);
    let silent = node.accept(secs(0)).unwrap();
    let talking = node.accept(secs(0)).unwrap();
    node.handle_receive(secs(1), talking, &[0]);
    let (_, _, deadline) = drain(&mut node);
    assert_eq!(deadline, Some(secs(2)), "first-bytes deadline");
    node.handle_timeout(secs(2));
    let (_, events, deadline) = drain(&mut node);
    assert_eq!(closed(&events), [(silent, CloseReason::HandshakeTimeout)]);
    assert_eq!(
        deadline,
        Some(secs(10)),
        "the handshake timeout, from the accept"
    );
    node.handle_timeout(secs(10));
    let (_, events, _) = drain(&mut node);
    assert_eq!(closed(&events), [(talking, CloseReason::HandshakeTimeout)]);
    let refused = node.refusals();
    assert_eq!(refused.first_bytes_timeout, 1, "{refused}");
    assert_eq!(refused.handshake_timeout, 1, "{refused}");
}

#[test]
fn a_node_that_takes_no_silent_connections_refuses_every_accept() {
    let mut node = listener(256, 0);
    assert_eq!(node.accept(secs(0)), Err(CommandError::TooManyHandshakes));
    assert_eq!(node.refusals().at_capacity, 1);
    assert_eq!(node.pending_handshakes(), 0);
}

#[test]
fn garbage_before_authentication_counts_as_a_protocol_violation() {
    let mut node = listener(256, 4096);
    let conn = node.accept(secs(0)).unwrap();
    node.handle_receive(secs(0), conn, &[0, 0]);
    let (_, events, _) = drain(&mut node);
    assert!(matches!(
        closed(&events)[..],
        [(c, CloseReason::ProtocolViolation(_))] if c == conn
    ));
    assert_eq!(node.refusals().protocol_violation, 1);
}

/// Dials the persistent peer whenever asked; each attempt is turned away by `turn_away`. Returns
/// the times of the dial requests up to `until`.
fn dial_times(until: Duration, turn_away: impl Fn(&mut Node, Duration, ConnId)) -> Vec<Duration> {
    let mut node = Node::new(key(1), NodeConfig::default(), [1; 32]);
    let peer = key(2).public_key();
    node.add_persistent_peer(Duration::ZERO, peer);
    let mut now = Duration::ZERO;
    let mut requests = Vec::new();
    loop {
        node.handle_timeout(now);
        for dialed in dials(&mut node) {
            assert_eq!(dialed, peer);
            requests.push(now);
            let conn = node.connect(now, peer, ConnKind::Persistent);
            turn_away(&mut node, now, conn);
        }
        match drain(&mut node).2 {
            Some(at) if at <= until => now = now.max(at),
            _ => return requests,
        }
    }
}

fn gaps(times: &[Duration]) -> Vec<f64> {
    times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect()
}

#[test]
fn a_persistent_peer_closed_on_before_message_2_is_retried_on_the_short_schedule() {
    // The listener closes every attempt at once, as one under load does.
    let times = dial_times(secs(120), |node, now, conn| {
        node.handle_socket_closed(now, conn)
    });
    let gaps = gaps(&times);
    assert!(gaps.len() >= 12, "{gaps:?}");
    for (i, gap) in gaps.iter().enumerate() {
        let base = [1.0, 2.0, 4.0].get(i).copied().unwrap_or(8.0);
        assert!(
            *gap >= base && *gap < base * 1.25,
            "retry {i} after {gap} s; the schedule says {base} s + jitter: {gaps:?}"
        );
    }
}

#[test]
fn a_persistent_peer_whose_handshake_times_out_is_retried_on_the_short_schedule() {
    // The attempt is left to time out (10 s): the listener accepted and never answered.
    let times = dial_times(secs(200), |_, _, _| {});
    let gaps = gaps(&times);
    assert!(gaps.len() >= 8, "{gaps:?}");
    for gap in &gaps {
        assert!(*gap >= 11.0 && *gap < 20.0, "{gaps:?}");
    }
}

#[test]
fn turned_away_retries_leave_the_main_backoff_where_it_was() {
    let mut node = Node::new(key(1), NodeConfig::default(), [1; 32]);
    let peer = key(2).public_key();
    node.add_persistent_peer(Duration::ZERO, peer);
    let mut now = Duration::ZERO;
    for _ in 0..10 {
        node.handle_timeout(now);
        assert_eq!(dials(&mut node), [peer]);
        let conn = node.connect(now, peer, ConnKind::Persistent);
        node.handle_socket_closed(now, conn);
        now = drain(&mut node).2.expect("a redial");
    }
    // Now the host cannot reach the peer at all: the main backoff starts at 1 s, not grown.
    node.handle_timeout(now);
    assert_eq!(dials(&mut node), [peer]);
    node.dial_failed(now, peer);
    let next = drain(&mut node).2.expect("a redial");
    let wait = next - now;
    assert!(wait >= secs(1) && wait < secs(1) * 5 / 4, "{wait:?}");
}
