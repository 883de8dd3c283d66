//! The conformance checks, one async function each, generic over the runtime.

use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use skychat_core::{CloseCode, CloseReason, ConnKind, Event, NodeConfig, PublicKey};

pub use super::flood::whitelisted_peer_gets_in_during_a_flood;
use super::proxy::Proxy;
pub use super::shutdown::{
    shutdown_is_bounded_after_dials_to_a_rejecting_listener,
    shutdown_is_bounded_after_dials_to_a_silent_listener,
    shutdown_is_bounded_with_a_write_stalled_on_a_frozen_link,
};
pub use super::suites::{
    both_suites_get_in_during_a_stalled_and_garbage_flood,
    skywire_suite_handshake_and_messages_both_ways,
};
use super::support::{TestNode, WAIT, driver_config, node_config};
use crate::runtime::{Runtime, timeout};
use crate::{DialError, NodeHandle};

fn is_message(e: &Event) -> bool {
    matches!(e, Event::MessageReceived { .. })
}

/// Sends `body` from `from` to `to` and checks delivery and the ack.
async fn exchange<R: Runtime + Clone>(from: &mut TestNode<R>, to: &mut TestNode<R>, body: &str) {
    let sent = from
        .handle
        .send(to.key(), body.into(), None)
        .await
        .expect("send accepted");
    let received = to.receive_from(from.key()).await;
    assert_eq!(received, sent, "delivered as sent");
    from.acked(to.key(), sent.id).await;
    assert_eq!(from.handle.queued_for(to.key()).await, 0);
}

/// Listener `listener_n`, which accepts only dialer `dialer_n`, and that dialer keeping it
/// connected; returns both once each has seen the other authenticated.
async fn connected_pair<R: Runtime + Clone>(
    rt: &R,
    listener_n: u32,
    dialer_n: u32,
) -> (TestNode<R>, TestNode<R>) {
    let dialer_key = super::support::key(dialer_n).public_key();
    let mut listener = TestNode::start(rt, listener_n, node_config(&[dialer_key]));
    let addr = listener.listen().await;
    let mut dialer = TestNode::start(rt, dialer_n, node_config(&[]));
    dialer
        .handle
        .keep_connected(listener.key(), addr.to_string())
        .await;
    dialer.authenticated_with(listener.key()).await;
    listener.authenticated_with(dialer.key()).await;
    (listener, dialer)
}

/// A persistent dialer and a listener authenticate each other, and each sends a message that
/// the other receives and acks.
pub async fn handshake_and_messages_both_ways<R: Runtime + Clone>(rt: R) {
    let (mut listener, mut dialer) = connected_pair(&rt, 1, 2).await;

    exchange(&mut dialer, &mut listener, "hello from the dialer").await;
    exchange(&mut listener, &mut dialer, "hello from the listener").await;

    let sessions = listener.handle.sessions().await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert!(sessions[0].authenticated && sessions[0].kind == ConnKind::Inbound);
    dialer.shutdown().await;
    listener.shutdown().await;
}

/// A batch sent with one `send_many` call, far larger than the sockets' buffers (so the driver
/// must keep what the socket does not take and write it when the socket is writable again),
/// arrives complete and in order, and one `confirm_stored_many` acks it all.
pub async fn a_batch_larger_than_the_socket_buffers_arrives_in_order<R: Runtime + Clone>(rt: R) {
    const MESSAGES: usize = 200;
    let (mut listener, mut dialer) = connected_pair(&rt, 3, 4).await;

    let drafts: Vec<crate::Draft> = (0..MESSAGES)
        .map(|i| crate::Draft {
            peer: listener.key(),
            body: format!("{i:05}{}", "y".repeat(50_000)),
            reply_to: None,
        })
        .collect();
    let sent: Vec<_> = dialer
        .handle
        .send_many(drafts.clone())
        .await
        .into_iter()
        .map(|r| r.expect("send accepted"))
        .collect();
    assert_eq!(dialer.handle.queued_for(listener.key()).await, MESSAGES);

    let mut received = Vec::new();
    while received.len() < MESSAGES {
        let event = listener
            .wait_for("message", |e| matches!(e, Event::MessageReceived { .. }))
            .await;
        if let Event::MessageReceived { message, .. } = event {
            received.push(message);
        }
    }
    assert_eq!(received, sent, "every message, in order, as sent");
    let stored = received.iter().map(|m| (dialer.key(), m.id)).collect();
    listener.handle.confirm_stored_many(stored).await;
    dialer.acked(listener.key(), sent[MESSAGES - 1].id).await;
    assert_eq!(dialer.handle.queued_for(listener.key()).await, 0);
    dialer.shutdown().await;
    listener.shutdown().await;
}

/// A one-shot dial resolves once authenticated; messages flow both ways on it, the listener
/// sending to the peer that dialed in.
pub async fn one_shot_dialer_and_listener_reply<R: Runtime + Clone>(rt: R) {
    let dialer_key = super::support::key(4).public_key();
    let mut listener = TestNode::start(&rt, 3, node_config(&[dialer_key]));
    let addr = listener.listen().await;
    let mut dialer = TestNode::start(&rt, 4, node_config(&[]));
    let conn = dialer
        .handle
        .dial_once(listener.key(), addr.to_string())
        .await
        .expect("dial succeeds");
    let sessions = dialer.handle.sessions().await;
    assert!(
        sessions
            .iter()
            .any(|s| s.conn == conn && s.authenticated && s.kind == ConnKind::OneShot),
        "{sessions:?}"
    );
    exchange(&mut dialer, &mut listener, "one shot").await;
    exchange(&mut listener, &mut dialer, "reply on the inbound session").await;

    dialer.handle.close(conn).await;
    listener
        .wait_for("close frame from the dialer", |e| {
            matches!(
                e,
                Event::ConnectionClosed {
                    reason: CloseReason::RemoteClosed(CloseCode::Normal),
                    ..
                }
            )
        })
        .await;
    dialer.shutdown().await;
    listener.shutdown().await;
}

/// Dials `listener` from a fresh node `n` with a message queued; checks that the listener
/// rejects it, delivers nothing, and the dialer learns why.
async fn expect_rejected<R: Runtime + Clone>(
    rt: &R,
    listener: &mut TestNode<R>,
    addr: std::net::SocketAddr,
    n: u32,
) {
    let mut dialer = TestNode::start(rt, n, node_config(&[]));
    dialer
        .handle
        .send(listener.key(), "let me in".into(), None)
        .await
        .expect("queued");
    // The dialer authenticates the listener before the listener checks its whitelist.
    dialer
        .handle
        .dial_once(listener.key(), addr.to_string())
        .await
        .expect("handshake completes before the whitelist check");
    dialer
        .wait_for("rejection", |e| {
            matches!(
                e,
                Event::ConnectionClosed {
                    reason: CloseReason::RemoteClosed(CloseCode::NotAuthorized),
                    ..
                }
            )
        })
        .await;
    let peer = dialer.key();
    listener
        .wait_for(
            "Rejected",
            |e| matches!(e, Event::Rejected { peer: p, .. } if *p == peer),
        )
        .await;
    listener
        .wait_for("close of the rejected connection", |e| {
            matches!(
                e,
                Event::ConnectionClosed {
                    reason: CloseReason::NotAuthorized,
                    was_authenticated: false,
                    ..
                }
            )
        })
        .await;
    assert_eq!(listener.count(is_message), 0, "nothing delivered");
    assert_eq!(dialer.handle.queued_for(listener.key()).await, 1);
    dialer.shutdown().await;
}

/// A key not on the whitelist is rejected while a whitelisted one is served.
pub async fn non_whitelisted_key_is_rejected<R: Runtime + Clone>(rt: R) {
    let allowed = super::support::key(11).public_key();
    let mut listener = TestNode::start(&rt, 10, node_config(&[allowed]));
    let addr = listener.listen().await;
    expect_rejected(&rt, &mut listener, addr, 12).await;

    let mut friend = TestNode::start(&rt, 11, node_config(&[]));
    friend
        .handle
        .dial_once(listener.key(), addr.to_string())
        .await
        .expect("whitelisted dial");
    exchange(&mut friend, &mut listener, "allowed").await;
    friend.shutdown().await;
    listener.shutdown().await;
}

/// An empty whitelist rejects every dialer.
pub async fn empty_whitelist_rejects_everyone<R: Runtime + Clone>(rt: R) {
    let mut listener = TestNode::start(&rt, 20, node_config(&[]));
    let addr = listener.listen().await;
    for n in 21..24 {
        expect_rejected(&rt, &mut listener, addr, n).await;
    }
    assert_eq!(listener.count(|e| matches!(e, Event::Rejected { .. })), 3);
    listener.shutdown().await;
}

/// Dialing with the wrong pinned key fails on the dialer with a handshake error that names the
/// likely cause; the listener delivers nothing.
pub async fn wrong_pinned_key_fails_on_the_dialer<R: Runtime + Clone>(rt: R) {
    let dialer_key = super::support::key(31).public_key();
    let mut listener = TestNode::start(&rt, 30, node_config(&[dialer_key]));
    let addr = listener.listen().await;
    let dialer = TestNode::start(&rt, 31, node_config(&[]));
    let wrong = super::support::key(39).public_key();
    dialer
        .handle
        .send(wrong, "secret".into(), None)
        .await
        .expect("queued");
    let error = dialer
        .handle
        .dial_once(wrong, addr.to_string())
        .await
        .expect_err("the responder cannot decrypt message 1");
    assert!(
        matches!(
            error,
            DialError::Handshake(CloseReason::HandshakeIncomplete)
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("wrong public key"), "{error}");
    listener
        .wait_for("failed handshake", |e| {
            matches!(
                e,
                Event::ConnectionClosed {
                    reason: CloseReason::ProtocolViolation(_),
                    was_authenticated: false,
                    ..
                }
            )
        })
        .await;
    assert_eq!(listener.count(is_message), 0);
    assert_eq!(
        listener.count(|e| matches!(e, Event::Authenticated { .. })),
        0
    );
    dialer.shutdown().await;
    listener.shutdown().await;
}

/// The listener shuts down (its close frame reaches the dialer) and a new node with the same key
/// and the persisted dedup marks comes back on the same port; everything queued meanwhile is
/// delivered exactly once and in order.
pub async fn restarted_listener_gets_the_queue_once_in_order<R: Runtime + Clone>(rt: R) {
    let dialer_key = super::support::key(41).public_key();
    let mut listener = TestNode::start(&rt, 40, node_config(&[dialer_key]));
    let addr = listener.listen().await;
    let mut dialer = TestNode::start(&rt, 41, node_config(&[]));
    let listener_key = listener.key();
    dialer
        .handle
        .keep_connected(listener_key, addr.to_string())
        .await;
    let first = dialer
        .handle
        .send(listener_key, "before".into(), None)
        .await
        .unwrap();
    assert_eq!(listener.receive_from(dialer_key).await, first);
    dialer.acked(listener_key, first.id).await;

    let mut before = listener.delivered();
    let dedup = listener.shutdown().await;
    dialer
        .wait_for("the listener's close frame", |e| {
            matches!(
                e,
                Event::ConnectionClosed {
                    reason: CloseReason::RemoteClosed(CloseCode::Normal),
                    ..
                }
            )
        })
        .await;
    let mut queued = Vec::new();
    for i in 0..5 {
        let body = format!("while away {i}");
        queued.push(dialer.handle.send(listener_key, body, None).await.unwrap());
    }
    assert_eq!(dialer.handle.queued_for(listener_key).await, 5);

    let mut config = driver_config(40, node_config(&[dialer_key]));
    config.restore_dedup = dedup;
    let mut restarted = TestNode::start_with(&rt, config);
    restarted.listen_on(addr).await;
    for sent in &queued {
        assert_eq!(&restarted.receive_from(dialer_key).await, sent);
    }
    for sent in &queued {
        dialer.acked(listener_key, sent.id).await;
    }
    assert_eq!(dialer.handle.queued_for(listener_key).await, 0);
    // One more round trip, so that any duplicate would have arrived before it.
    exchange(&mut dialer, &mut restarted, "after").await;
    before.extend(restarted.delivered());
    let bodies: Vec<_> = before.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "before",
            "while away 0",
            "while away 1",
            "while away 2",
            "while away 3",
            "while away 4",
            "after"
        ]
    );
    dialer.shutdown().await;
    restarted.shutdown().await;
}

/// A peer that completes the handshake and drops us at once (its whitelist excludes us) is
/// redialed only as often as the backoff allows: with 100 ms doubling, at most 5 dials in 2 s.
pub async fn peer_that_drops_us_at_once_is_not_redialed_hot<R: Runtime + Clone>(rt: R) {
    let mut listener = TestNode::start(&rt, 50, node_config(&[]));
    let addr = listener.listen().await;
    let mut dialer = TestNode::start(&rt, 51, node_config(&[]));
    let start = Instant::now();
    dialer
        .handle
        .keep_connected(listener.key(), addr.to_string())
        .await;
    listener.gather_until(start + Duration::from_secs(2)).await;
    dialer.gather_until(Instant::now()).await;
    let rejected = listener.count(|e| matches!(e, Event::Rejected { .. }));
    // Dialing is the driver's own duty, not an event: count the connections the dialer lost.
    let dials = dialer.count(|e| matches!(e, Event::ConnectionClosed { .. }));
    // Dials at about 0, 0.1, 0.3, 0.7 and 1.5 s (each delay up to 25% longer).
    assert!((2..=5).contains(&rejected), "{rejected} rejections in 2 s");
    assert!(dials <= 5, "{dials} dials in 2 s");
    dialer.shutdown().await;
    listener.shutdown().await;
}

/// A link that stops forwarding both ways (a frozen proxy) is detected within the idle timeout
/// and the persistent peer reconnects, here through the proxy on a fresh link.
pub async fn frozen_link_is_detected_and_reconnects<R: Runtime + Clone>(rt: R) {
    let fast = |whitelist: &[PublicKey]| NodeConfig {
        keepalive_interval: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(600),
        ..node_config(whitelist)
    };
    let dialer_key = super::support::key(61).public_key();
    let mut listener = TestNode::start(&rt, 60, fast(&[dialer_key]));
    let addr = listener.listen().await;
    let mut proxy = Proxy::start(&rt, addr).await;
    let mut dialer = TestNode::start(&rt, 61, fast(&[]));
    let listener_key = listener.key();
    dialer
        .handle
        .keep_connected(listener_key, proxy.addr.to_string())
        .await;
    let first = dialer.authenticated_with(listener_key).await;
    exchange(&mut dialer, &mut listener, "before the freeze").await;

    proxy.freeze_all();
    let frozen_at = Instant::now();
    let closed = dialer
        .wait_for("idle timeout", |e| {
            matches!(e, Event::ConnectionClosed { conn, reason: CloseReason::IdleTimeout, .. } if *conn == first)
        })
        .await;
    let detected_after = frozen_at.elapsed();
    // Idle timeout 600 ms after the last receipt, which was at most one keepalive interval
    // (200 ms) before the freeze; allow scheduling slack on a loaded machine.
    assert!(
        detected_after < Duration::from_secs(3),
        "detected after {detected_after:?}: {closed:?}"
    );
    listener
        .wait_for("listener idle timeout", |e| {
            matches!(
                e,
                Event::ConnectionClosed {
                    reason: CloseReason::IdleTimeout,
                    ..
                }
            )
        })
        .await;
    proxy.release_frozen();
    let second = dialer.authenticated_with(listener_key).await;
    assert_ne!(first, second);
    exchange(&mut dialer, &mut listener, "after the freeze").await;
    dialer.shutdown().await;
    listener.shutdown().await;
}

/// Opens a raw connection to `addr`, writes `bytes`, and checks the node closes it in time.
async fn expect_closed_after<R: Runtime + Clone>(rt: &R, addr: std::net::SocketAddr, bytes: &[u8]) {
    let mut stream = rt.connect(addr).await.expect("connect");
    if !bytes.is_empty() {
        stream.write_all(bytes).await.expect("write");
    }
    let mut sink = Vec::new();
    let ended = timeout(rt, WAIT, stream.read_to_end(&mut sink)).await;
    assert!(
        ended.is_some(),
        "connection sending {bytes:02x?} was not closed"
    );
}

/// Garbage, an oversized length prefix, a zero length and silence each get their connection
/// closed, while an established session keeps delivering.
pub async fn bad_connections_are_closed_without_affecting_others<R: Runtime + Clone>(rt: R) {
    let dialer_key = super::support::key(71).public_key();
    let config = NodeConfig {
        handshake_timeout: Duration::from_millis(500),
        ..node_config(&[dialer_key])
    };
    let mut listener = TestNode::start(&rt, 70, config);
    let addr = listener.listen().await;
    let mut dialer = TestNode::start(&rt, 71, node_config(&[]));
    dialer
        .handle
        .keep_connected(listener.key(), addr.to_string())
        .await;
    let good = dialer.authenticated_with(listener.key()).await;
    exchange(&mut dialer, &mut listener, "first").await;

    let garbage: Vec<u8> = (0..200u8).map(|b| b.wrapping_mul(37)).collect();
    type ExpectedReason = fn(&CloseReason) -> bool;
    let cases: [(&str, Vec<u8>, ExpectedReason); 4] = [
        ("garbage", garbage, |r| {
            matches!(r, CloseReason::ProtocolViolation(_))
        }),
        ("oversized length", vec![0xff, 0xff, 1, 2, 3], |r| {
            matches!(r, CloseReason::ProtocolViolation(_))
        }),
        ("zero length", vec![0, 0], |r| {
            matches!(r, CloseReason::ProtocolViolation(_))
        }),
        ("nothing", Vec::new(), |r| {
            *r == CloseReason::HandshakeTimeout
        }),
    ];
    for (what, bytes, expected) in cases {
        expect_closed_after(&rt, addr, &bytes).await;
        listener
            .wait_for(what, |e| {
                matches!(e, Event::ConnectionClosed { reason, was_authenticated: false, .. } if expected(reason))
            })
            .await;
        exchange(&mut dialer, &mut listener, what).await;
    }
    assert!(
        !dialer
            .seen
            .iter()
            .any(|e| matches!(e, Event::ConnectionClosed { conn, .. } if *conn == good)),
        "the good session survived"
    );
    dialer.shutdown().await;
    listener.shutdown().await;
}

/// With the cap of silent connections reached, a further connection evicts the oldest of them
/// at once (it sees end of stream) and takes its place; the node never holds more than the cap.
pub async fn at_the_cap_the_oldest_silent_connection_is_evicted<R: Runtime + Clone>(rt: R) {
    let config = NodeConfig {
        max_silent_connections: 2,
        handshake_timeout: Duration::from_secs(60),
        first_bytes_timeout: Duration::from_secs(60),
        ..node_config(&[])
    };
    let listener = TestNode::start(&rt, 80, config);
    let addr = listener.listen().await;
    let registered = |n: usize| {
        let handle = listener.handle.clone();
        async move {
            let deadline = Instant::now() + WAIT;
            while handle.sessions().await.len() < n {
                assert!(Instant::now() < deadline, "connections not registered");
                futures_lite::future::yield_now().await;
            }
        }
    };
    let mut oldest = rt.connect(addr).await.expect("connect");
    registered(1).await;
    let _second = rt.connect(addr).await.expect("connect");
    registered(2).await;
    let _third = rt.connect(addr).await.expect("connect");
    let mut sink = Vec::new();
    let ended = timeout(&rt, WAIT, oldest.read_to_end(&mut sink)).await;
    assert!(
        ended.is_some(),
        "the oldest silent connection was not evicted"
    );
    assert_eq!(listener.handle.sessions().await.len(), 2);
    let refused = listener.handle.refusals().await;
    assert_eq!(refused.evicted_idle, 1, "{refused}");
    assert_eq!(refused.total(), 1, "{refused}");
    listener.shutdown().await;
}

/// Number of concurrent connections in the load check.
pub const MANY: u32 = 1000;

/// A thousand one-shot dialers connect to one listener at the same time; every one stays
/// established while each delivers a message, and nothing is lost or delivered twice.
pub async fn thousand_concurrent_connections_each_deliver<R: Runtime + Clone>(rt: R) {
    let keys: Vec<PublicKey> = (0..MANY)
        .map(|i| super::support::key(10_000 + i).public_key())
        .collect();
    // Unoptimised (debug) X25519 is some fifty times slower than a release build, so allow
    // handshakes plenty of time, and dial at most DIALING at once so that queueing for the CPU
    // does not count against them.
    let slow_crypto = |whitelist: &[PublicKey]| NodeConfig {
        max_pending_handshakes: MANY as usize,
        handshake_timeout: Duration::from_secs(120),
        first_bytes_timeout: Duration::from_secs(120),
        ..node_config(whitelist)
    };
    const DIALING: usize = 32;
    let listener = crate::start(rt.clone(), driver_config(90, slow_crypto(&keys)));
    let addr = listener
        .listen("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("listen")
        .to_string();
    let listener_key = listener.public_key();

    // The listener's host: store (confirm) every message and report its sender and body.
    let (received_tx, received_rx) = async_channel::unbounded();
    let host = listener.clone();
    rt.spawn(async move {
        let events = host.events();
        while let Ok(event) = events.recv().await {
            match event {
                Event::MessageReceived { peer, message, .. } => {
                    host.confirm_stored(peer, message.id).await;
                    let _ = received_tx.send(Ok((peer, message.body))).await;
                }
                Event::ConnectionClosed { reason, .. } => {
                    let _ = received_tx.send(Err(reason)).await;
                }
                _ => {}
            }
        }
    });

    let dialers: Vec<NodeHandle> = (0..MANY)
        .map(|i| crate::start(rt.clone(), driver_config(10_000 + i, slow_crypto(&[]))))
        .collect();
    let (done_tx, done_rx) = async_channel::unbounded();
    let (dialing, dialing_slots) = async_channel::bounded::<()>(DIALING);
    for (i, dialer) in dialers.iter().enumerate() {
        let dialer = dialer.clone();
        let addr = addr.clone();
        let done = done_tx.clone();
        let (dialing, dialing_slots) = (dialing.clone(), dialing_slots.clone());
        rt.spawn(async move {
            let result = async {
                let _ = dialing.send(()).await;
                let dialed = dialer.dial_once(listener_key, addr).await;
                let _ = dialing_slots.recv().await;
                dialed.map_err(|e| format!("dial: {e}"))?;
                let message = dialer
                    .send(listener_key, format!("message {i}"), None)
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                let events = dialer.events();
                while let Ok(event) = events.recv().await {
                    if matches!(event, Event::MessageAcked { id, .. } if id == message.id) {
                        return Ok(());
                    }
                }
                Err("event stream ended".to_string())
            }
            .await;
            let _ = done.send((i, result)).await;
        });
    }
    drop(done_tx);
    for _ in 0..MANY {
        let (i, result) = timeout(&rt, WAIT, done_rx.recv())
            .await
            .expect("dialers keep finishing")
            .expect("every dialer reports");
        result.unwrap_or_else(|e| panic!("dialer {i}: {e}"));
    }

    let mut received = vec![false; MANY as usize];
    for _ in 0..MANY {
        let (peer, body) = received_rx
            .try_recv()
            .expect("an acked message was delivered first")
            .unwrap_or_else(|reason| panic!("a connection closed: {reason}"));
        let i: usize = body["message ".len()..].parse().expect("index");
        assert_eq!(peer, keys[i]);
        assert!(!received[i], "message {i} delivered twice");
        received[i] = true;
    }
    assert!(received_rx.try_recv().is_err(), "nothing else happened");
    let established = listener
        .sessions()
        .await
        .iter()
        .filter(|s| s.authenticated)
        .count();
    assert_eq!(established, MANY as usize, "all connections still up");
    for dialer in &dialers {
        dialer.shutdown().await;
    }
    listener.shutdown().await;
}
