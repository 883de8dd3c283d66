//! Both wire suites on one listener: two nodes chat over the Skywire suite, and a whitelisted
//! peer of each suite still gets in while the listener is flooded with stalled first messages
//! of both suites, garbage first bytes and stranger Skywire handshakes (each of which costs the
//! listener an ML-KEM encapsulation before the stranger is refused).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use skychat_core::{ConnKind, Event, NodeConfig, RefusalCounts};

use super::flood::{
    FRIEND_DIALS, FRIEND_MUST_GET_IN, FriendDials, friend_dials, raise_fd_limit, stalled_socket,
    stranger_handshakes,
};
use super::support::{TestNode, driver_config, key, node_config};
use crate::NodeHandle;
use crate::runtime::Runtime;

/// Sockets per suite that send a length prefix and part of message 1, then stall.
const STALLED_PER_SUITE: usize = 300;
/// Sockets that send a length prefix neither suite accepts, reconnecting at once.
const GARBAGE_LANES: usize = 20;
/// Stranger Skywire handshakes kept going at once.
const STRANGER_HANDSHAKES: usize = 60;
/// Stranger nodes; the handshakes are spread over them.
const STRANGER_NODES: usize = 3;

/// A Skywire message 1 with the ML-KEM offer announces 1233 bytes; this sends 100 of them.
static STALLED_SKYWIRE: [u8; 102] = {
    let mut bytes = [0x11; 102];
    bytes[0] = 0x04;
    bytes[1] = 0xd1;
    bytes
};
/// A native message 1 announces 48 bytes; this sends 10 of them.
static STALLED_NATIVE: [u8; 12] = [0, 48, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
/// A 5-byte message 1 fits neither suite.
static GARBAGE: [u8; 7] = [0, 5, 1, 2, 3, 4, 5];

/// Two nodes keep a session over the Skywire suite (the dialer names the listener by its
/// 66-hex key) and each sends a message the other receives and acks.
pub async fn skywire_suite_handshake_and_messages_both_ways<R: Runtime + Clone>(rt: R) {
    let dialer_key = key(2).skywire_public_key().expect("a secp256k1 secret");
    let mut listener = TestNode::start(&rt, 1, node_config(&[dialer_key]));
    let addr = listener.listen().await;
    let mut dialer = TestNode::start(&rt, 2, node_config(&[]));
    let (listener_key, dialer_key) = (listener.skywire_key(), dialer.skywire_key());
    dialer
        .handle
        .keep_connected(listener_key, addr.to_string())
        .await;
    dialer.authenticated_with(listener_key).await;
    listener.authenticated_with(dialer_key).await;

    skywire_exchange(&mut dialer, &mut listener, "over skywire, from the dialer").await;
    skywire_exchange(
        &mut listener,
        &mut dialer,
        "over skywire, from the listener",
    )
    .await;
    assert_eq!(
        listener.count(|e| matches!(e, Event::ClassicalHandshake { .. })),
        0,
        "both ends use the post-quantum hybrid"
    );
    let sessions = listener.handle.sessions().await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert!(sessions[0].authenticated && sessions[0].kind == ConnKind::Inbound);
    assert_eq!(sessions[0].peer, Some(dialer_key));
    dialer.shutdown().await;
    listener.shutdown().await;
}

/// Sends `body` from `from` to `to`, each named by its Skywire key, and checks delivery and the
/// ack.
async fn skywire_exchange<R: Runtime + Clone>(
    from: &mut TestNode<R>,
    to: &mut TestNode<R>,
    body: &str,
) {
    let (from_key, to_key) = (from.skywire_key(), to.skywire_key());
    let sent = from
        .handle
        .send(to_key, body.into(), None)
        .await
        .expect("send accepted");
    let received = to.receive_from(from_key).await;
    assert_eq!(received.id, sent.id);
    assert_eq!(received.body, sent.body);
    from.acked(to_key, sent.id).await;
}

/// A whitelisted native peer and a whitelisted Skywire peer each get in (at least 24 of 25
/// one-shot dials) while stalled first messages of both suites, garbage first bytes and
/// stranger Skywire handshakes flood the listener from the same address.
pub async fn both_suites_get_in_during_a_stalled_and_garbage_flood<R: Runtime + Clone>(rt: R) {
    let started = Instant::now();
    let fd_limit = raise_fd_limit();
    let stalled = if fd_limit >= 4096 {
        STALLED_PER_SUITE
    } else {
        let scaled = (fd_limit.saturating_sub(1000) / 8) as usize;
        println!("open-file limit {fd_limit}: {scaled} stalled sockets per suite");
        scaled
    };
    let native_friend = key(201);
    let skywire_friend = key(202);
    let whitelist = [
        native_friend.public_key(),
        skywire_friend.skywire_public_key().expect("valid"),
    ];
    let listener = TestNode::start(&rt, 200, node_config(&whitelist));
    let addr = listener.listen().await;

    let (stop_flood, stop) = async_channel::bounded::<()>(1);
    let opened = Arc::new(AtomicU64::new(0));
    let floods: [(&'static [u8], usize); 3] = [
        (&STALLED_SKYWIRE, stalled),
        (&STALLED_NATIVE, stalled),
        (&GARBAGE, GARBAGE_LANES),
    ];
    for (first, count) in floods {
        for _ in 0..count {
            rt.spawn(stalled_socket(
                rt.clone(),
                addr,
                first,
                stop.clone(),
                opened.clone(),
            ));
        }
    }
    let strangers: Vec<NodeHandle> = (0..STRANGER_NODES)
        .map(|i| crate::start(rt.clone(), driver_config(210 + i as u32, node_config(&[]))))
        .collect();
    let handshakes = Arc::new(AtomicU64::new(0));
    for stranger in &strangers {
        let events = stranger.events();
        let stop_draining = stop.clone();
        rt.spawn(async move {
            futures_lite::future::or(async { while events.recv().await.is_ok() {} }, async {
                let _ = stop_draining.recv().await;
            })
            .await;
        });
        for _ in 0..STRANGER_HANDSHAKES / STRANGER_NODES {
            rt.spawn(stranger_handshakes(
                stranger.clone(),
                listener.skywire_key(),
                addr.to_string(),
                stop.clone(),
                handshakes.clone(),
            ));
        }
    }

    // Wait until every kind of flood is being refused.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let refused = listener.handle.refusals().await;
        if refused.not_whitelisted > 0
            && refused.protocol_violation > 0
            && refused.evicted_pending + refused.handshake_timeout > 0
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the flood did not build up: {} sockets opened, refusals {refused}",
            opened.load(Ordering::Relaxed)
        );
        rt.sleep_until(Instant::now() + Duration::from_millis(50))
            .await;
    }
    let flood_built = started.elapsed();

    let friend_config = || NodeConfig {
        handshake_timeout: Duration::from_secs(5),
        ..node_config(&[])
    };
    let native = TestNode::start(&rt, 201, friend_config());
    let skywire = TestNode::start(&rt, 202, friend_config());
    let (native_dials, skywire_dials) = futures_lite::future::zip(
        friend_dials(&rt, &native.handle, listener.key(), addr),
        friend_dials(&rt, &skywire.handle, listener.skywire_key(), addr),
    )
    .await;
    let refused: RefusalCounts = listener.handle.refusals().await;
    println!(
        "flood of {stalled} stalled first messages per suite, {GARBAGE_LANES} garbage lanes and \
         {STRANGER_HANDSHAKES} stranger Skywire handshakes ({} completed; {} sockets opened), \
         built in {flood_built:?}: the native peer got in {} of {FRIEND_DIALS} times (slowest \
         {:?}), the Skywire peer {} of {FRIEND_DIALS} (slowest {:?}); the listener refused {} \
         ({refused}); {:?} in all",
        handshakes.load(Ordering::Relaxed),
        opened.load(Ordering::Relaxed),
        native_dials.got_in,
        native_dials.slowest,
        skywire_dials.got_in,
        skywire_dials.slowest,
        refused.total(),
        started.elapsed(),
    );
    for (suite, dials) in [("native", &native_dials), ("Skywire", &skywire_dials)] {
        let FriendDials {
            got_in, failures, ..
        } = dials;
        assert!(
            *got_in >= FRIEND_MUST_GET_IN,
            "the whitelisted {suite} peer got in only {got_in} of {FRIEND_DIALS} times; the \
             first failures: {:?}",
            &failures[..failures.len().min(5)]
        );
    }

    drop(stop_flood);
    native.handle.shutdown().await;
    skywire.handle.shutdown().await;
    for stranger in &strangers {
        stranger.shutdown().await;
    }
    listener.handle.shutdown().await;
}
