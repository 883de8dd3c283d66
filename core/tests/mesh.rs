//! Connections a visor relays (skynet, dmsg): no handshake, Skywire chat frames as they are,
//! anyone may write, and with `dial_on_demand` a Skywire peer that messages wait for is dialed
//! until they are acked.

use std::time::Duration;

use skychat_core::{
    CloseReason, CommandError, ConnId, ConnKind, Event, Network, Node, NodeConfig, Output,
    PublicKey, SecretKey,
};

fn node(byte: u8, config: NodeConfig) -> Node {
    Node::new(SecretKey::from_bytes([byte; 32]), config, [byte; 32])
}

fn skywire_key(node: &Node) -> PublicKey {
    node.skywire_public_key().expect("a valid secp256k1 secret")
}

fn on_demand() -> NodeConfig {
    NodeConfig {
        dial_on_demand: true,
        ..NodeConfig::default()
    }
}

#[derive(Default)]
struct Drained {
    bytes: Vec<(ConnId, Vec<u8>)>,
    dials: Vec<PublicKey>,
    events: Vec<Event>,
}

fn drain(node: &mut Node) -> Drained {
    let mut out = Drained::default();
    loop {
        match node.poll_output() {
            Output::Transmit(t) => out.bytes.push((t.conn, t.data.to_vec())),
            Output::Dial { peer } => out.dials.push(peer),
            Output::Event(e) => out.events.push(e),
            Output::Timeout(_) => return out,
        }
    }
}

/// Carries bytes between `a`'s `a_conn` and `b`'s `b_conn`, storing every message received,
/// until a round moves nothing. Returns every event, per side.
fn exchange(
    now: Duration,
    a: &mut Node,
    a_conn: ConnId,
    b: &mut Node,
    b_conn: ConnId,
) -> (Vec<Event>, Vec<Event>) {
    let (mut a_events, mut b_events) = (Vec::new(), Vec::new());
    loop {
        let (from_a, from_b) = (drain(a), drain(b));
        let mut moved = !from_a.bytes.is_empty() || !from_b.bytes.is_empty();
        for (_, bytes) in from_a.bytes {
            b.handle_receive(now, b_conn, &bytes);
        }
        for (_, bytes) in from_b.bytes {
            a.handle_receive(now, a_conn, &bytes);
        }
        for (node, events) in [(&mut *a, &from_a.events), (&mut *b, &from_b.events)] {
            for event in events {
                if let Event::MessageReceived { peer, message, .. } = event {
                    node.confirm_stored(now, *peer, message.id);
                    moved = true;
                }
            }
        }
        a_events.extend(from_a.events);
        b_events.extend(from_b.events);
        if !moved {
            return (a_events, b_events);
        }
    }
}

#[test]
fn a_queued_message_is_dialed_for_then_delivered_and_acked_over_skynet() {
    let now = Duration::ZERO;
    let mut a = node(1, on_demand());
    let mut b = node(2, NodeConfig::default());
    let (a_key, b_key) = (skywire_key(&a), skywire_key(&b));
    let sent = a
        .send_message(now, b_key, "over the mesh".into(), None, 1)
        .unwrap();
    a.handle_timeout(now);
    let first = drain(&mut a);
    assert_eq!(
        first.dials,
        [b_key],
        "no session, so the host is asked to dial"
    );

    let a_conn = a
        .connect_mesh(now, b_key, Network::Skynet, ConnKind::Persistent)
        .unwrap();
    let b_conn = b.accept_mesh(now, a_key, Network::Skynet).unwrap();
    let (a_events, b_events) = exchange(now, &mut a, a_conn, &mut b, b_conn);

    assert!(a_events.iter().any(|e| matches!(e,
        Event::Authenticated { peer, network: Network::Skynet, kind: ConnKind::Persistent, .. } if *peer == b_key)));
    let received: Vec<_> = b_events
        .iter()
        .filter_map(|e| match e {
            Event::MessageReceived { peer, message, .. } => Some((*peer, message.body.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(received, [(a_key, "over the mesh".to_string())]);
    assert!(
        a_events
            .iter()
            .any(|e| matches!(e, Event::MessageAcked { id, .. } if *id == sent.id))
    );
    assert_eq!(a.queued_for(&b_key), 0);
    assert_eq!(
        a.persistent_peers().count(),
        0,
        "an on-demand peer is not listed as persistent"
    );
}

#[test]
fn the_whitelist_guards_tcp_only() {
    let now = Duration::ZERO;
    let mut b = node(2, NodeConfig::default());
    let stranger = skywire_key(&node(9, NodeConfig::default()));
    let conn = b.accept_mesh(now, stranger, Network::Dmsg).unwrap();
    let events = drain(&mut b).events;
    assert!(events.iter().any(|e| matches!(e,
        Event::Authenticated { conn: c, network: Network::Dmsg, .. } if *c == conn)));
    assert!(!events.iter().any(|e| matches!(e, Event::Rejected { .. })));
}

#[test]
fn mesh_connections_refuse_native_keys_tcp_and_the_nodes_own_mesh_key() {
    let now = Duration::ZERO;
    let visor = skywire_key(&node(7, NodeConfig::default()));
    let mut b = node(
        2,
        NodeConfig {
            mesh_key: Some(visor),
            ..NodeConfig::default()
        },
    );
    let native = node(3, NodeConfig::default()).public_key();
    let skywire = skywire_key(&node(3, NodeConfig::default()));
    assert_eq!(
        b.accept_mesh(now, native, Network::Skynet),
        Err(CommandError::NotMeshPeer)
    );
    assert_eq!(
        b.accept_mesh(now, skywire, Network::Tcp),
        Err(CommandError::NotMeshPeer)
    );
    assert_eq!(
        b.send_message(now, visor, "to myself".into(), None, 1),
        Err(CommandError::SelfAddressed)
    );
    assert!(b.sessions().is_empty());
}

#[test]
fn a_bad_frame_closes_the_mesh_connection_as_a_protocol_violation() {
    let now = Duration::ZERO;
    let mut b = node(2, NodeConfig::default());
    let peer = skywire_key(&node(1, NodeConfig::default()));
    let conn = b.accept_mesh(now, peer, Network::Skynet).unwrap();
    drain(&mut b);
    b.handle_receive(now, conn, &[0xff, 0xff, 0xff, 0xff]);
    let events = drain(&mut b).events;
    assert!(events.iter().any(|e| matches!(e,
        Event::ConnectionClosed { conn: c, reason: CloseReason::ProtocolViolation(_), .. } if *c == conn)));
    assert!(b.sessions().is_empty());
}

#[test]
fn an_on_demand_dial_is_retried_with_backoff_and_dropped_once_nothing_waits() {
    let mut now = Duration::ZERO;
    let mut a = node(1, on_demand());
    let b_key = skywire_key(&node(2, NodeConfig::default()));
    let sent = a.hold_message(now, b_key, "later".into(), None, 1).unwrap();
    a.handle_timeout(now);
    assert_eq!(drain(&mut a).dials, [b_key]);
    a.dial_failed(now, b_key);
    now += Duration::from_secs(2);
    a.handle_timeout(now);
    assert_eq!(drain(&mut a).dials, [b_key], "retried after the backoff");
    a.dial_failed(now, b_key);
    assert_eq!(a.withdraw_message(now, b_key, sent.id), [sent.id]);
    now += Duration::from_secs(10);
    a.handle_timeout(now);
    assert!(
        drain(&mut a).dials.is_empty(),
        "nothing waits: no more dials"
    );
    now += Duration::from_secs(120);
    a.handle_timeout(now);
    assert!(drain(&mut a).dials.is_empty());
}
