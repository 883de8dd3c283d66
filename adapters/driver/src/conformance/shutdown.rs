//! Shutdown is bounded: a node whose host abandons looping one-shot dials (connecting, in the
//! handshake, rejected by the listener) shuts down within [`SHUTDOWN_LIMIT`], whether the host's
//! loops have ended by then or are still retrying against the node as it shuts down.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use skychat_core::{MAX_BODY_BYTES, NodeConfig, PublicKey};

use super::proxy::Proxy;
use super::support::{TestNode, WAIT, driver_config, key, node_config};
use crate::NodeHandle;
use crate::runtime::{Runtime, timeout};

/// How long shutdown may take: the close flush limit (2 s) plus scheduling slack.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(3);
/// One-shot dials kept going at once by the abandoning host.
const CALLERS: usize = 64;
/// How long the callers dial before they are told to stop.
const DIALING_FOR: Duration = Duration::from_millis(1500);
/// How long the callers may take to notice that they are told to stop.
const CALLERS_END_WITHIN: Duration = Duration::from_secs(5);

/// When the host shuts the node down, relative to telling its dial loops to stop.
#[derive(Debug, Clone, Copy)]
enum Order {
    /// Once every loop has ended (its dial in flight dropped).
    AfterTheCallersEnded,
    /// At once: loops that have not yet noticed go on dialing the node as it shuts down.
    WhileTheCallersRetry,
}

/// Dials `peer` at `addr` one-shot, one dial after the other and ignoring the outcome, as a
/// careless host might, until `stop` closes; `ended` is dropped when it returns.
async fn dial_in_a_loop(
    node: NodeHandle,
    peer: PublicKey,
    addr: String,
    stop: Receiver<()>,
    ended: Sender<()>,
) {
    futures_lite::future::or(
        async {
            loop {
                let _ = node.dial_once(peer, addr.clone()).await;
            }
        },
        async {
            let _ = stop.recv().await;
        },
    )
    .await;
    drop(ended);
}

/// Starts node `n`, lets [`CALLERS`] loops dial `peer` at `addr` for [`DIALING_FOR`], tells
/// them to stop, shuts the node down in `order` and checks that shutdown returns within
/// [`SHUTDOWN_LIMIT`] and every loop ends.
async fn abandon_dials_then_shut_down<R: Runtime + Clone>(
    rt: &R,
    n: u32,
    config: NodeConfig,
    peer: PublicKey,
    addr: SocketAddr,
    order: Order,
) {
    let node = crate::start(rt.clone(), driver_config(n, config));
    let events = node.events();
    let (stop_callers, stop) = async_channel::bounded::<()>(1);
    let (ended, all_ended) = async_channel::bounded::<()>(1);
    let drain = stop.clone();
    rt.spawn(async move {
        futures_lite::future::or(async { while events.recv().await.is_ok() {} }, async {
            let _ = drain.recv().await;
        })
        .await;
    });
    for _ in 0..CALLERS {
        rt.spawn(dial_in_a_loop(
            node.clone(),
            peer,
            addr.to_string(),
            stop.clone(),
            ended.clone(),
        ));
    }
    drop(ended);
    rt.sleep_until(Instant::now() + DIALING_FOR).await;
    drop(stop_callers);
    let callers_ended = || async {
        timeout(rt, CALLERS_END_WITHIN, all_ended.recv())
            .await
            .is_some()
    };
    let callers_ended_first = match order {
        Order::AfterTheCallersEnded => Some(callers_ended().await),
        Order::WhileTheCallersRetry => None,
    };
    let began = Instant::now();
    let shut_down = timeout(rt, Duration::from_secs(30), node.shutdown())
        .await
        .is_some();
    let took = began.elapsed();
    let callers_ended = match callers_ended_first {
        Some(ended) => ended,
        None => callers_ended().await,
    };
    println!("{order:?}: shutdown took {took:?}");
    assert!(
        shut_down && took <= SHUTDOWN_LIMIT,
        "{order:?}: shutdown took {took:?}{} (limit {SHUTDOWN_LIMIT:?})",
        if shut_down {
            ""
        } else {
            ", then the test gave up"
        }
    );
    assert!(
        callers_ended,
        "{order:?}: the dial loops did not end within {CALLERS_END_WITHIN:?} of being told to"
    );
}

/// Abandoned one-shot dials against a node that rejects the dialer's key: the dialer's
/// handshakes complete and the listener then closes them.
pub async fn shutdown_is_bounded_after_dials_to_a_rejecting_listener<R: Runtime + Clone>(rt: R) {
    let listener = TestNode::start(&rt, 120, node_config(&[]));
    let addr = listener.listen().await;
    for (i, order) in [Order::AfterTheCallersEnded, Order::WhileTheCallersRetry]
        .into_iter()
        .enumerate()
    {
        let config = node_config(&[]);
        abandon_dials_then_shut_down(&rt, 121 + i as u32, config, listener.key(), addr, order)
            .await;
    }
    listener.shutdown().await;
}

/// Abandoned one-shot dials against a socket that accepts and never answers: every dial is
/// stuck in the handshake.
pub async fn shutdown_is_bounded_after_dials_to_a_silent_listener<R: Runtime + Clone>(rt: R) {
    let listener = rt
        .bind("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind");
    let addr = R::local_addr(&listener).expect("address");
    let (stop_accepting, stop) = async_channel::bounded::<()>(1);
    rt.spawn(async move {
        let mut held = Vec::new();
        futures_lite::future::or(
            async {
                while let Ok((stream, _)) = R::accept(&listener).await {
                    held.push(stream);
                }
            },
            async {
                let _ = stop.recv().await;
            },
        )
        .await;
    });
    for (i, order) in [Order::AfterTheCallersEnded, Order::WhileTheCallersRetry]
        .into_iter()
        .enumerate()
    {
        let peer = key(125).public_key();
        abandon_dials_then_shut_down(&rt, 123 + i as u32, node_config(&[]), peer, addr, order)
            .await;
    }
    drop(stop_accepting);
}

/// Bytes queued for a peer that has stopped reading: well over what the kernel buffers of the
/// link hold, so that the writer is stuck in a write when shutdown begins.
const STALLED_BYTES: usize = 24_000_000;

/// A node whose writer is stuck in a write to a peer that stopped reading (the link is frozen
/// with megabytes queued) shuts down within [`SHUTDOWN_LIMIT`], not after the stall limit (the
/// idle timeout, 30 s here).
pub async fn shutdown_is_bounded_with_a_write_stalled_on_a_frozen_link<R: Runtime + Clone>(rt: R) {
    let dialer_key = key(127).public_key();
    let mut listener = TestNode::start(&rt, 126, node_config(&[dialer_key]));
    let addr = listener.listen().await;
    let mut proxy = Proxy::start(&rt, addr).await;
    let mut dialer = TestNode::start(&rt, 127, node_config(&[]));
    let listener_key = listener.key();
    dialer
        .handle
        .keep_connected(listener_key, proxy.addr.to_string())
        .await;
    dialer.authenticated_with(listener_key).await;
    // A first message acked: the session is up both ways before the link freezes.
    let first = dialer
        .handle
        .send(listener_key, "before the freeze".into(), None)
        .await
        .expect("queued");
    listener.receive_from(dialer_key).await;
    dialer.acked(listener_key, first.id).await;
    proxy.freeze_all();
    let body = "x".repeat(MAX_BODY_BYTES);
    for _ in 0..STALLED_BYTES / MAX_BODY_BYTES {
        dialer
            .handle
            .send(listener_key, body.clone(), None)
            .await
            .expect("queued");
    }
    // The writer has begun writing into the frozen link, which cannot take it all.
    let deadline = Instant::now() + WAIT;
    while !proxy.holds_back_data() {
        assert!(
            Instant::now() < deadline,
            "nothing was written into the frozen link within {WAIT:?}"
        );
        rt.sleep_until(Instant::now() + Duration::from_millis(10))
            .await;
    }
    let began = Instant::now();
    let shut_down = timeout(&rt, Duration::from_secs(60), dialer.handle.shutdown())
        .await
        .is_some();
    let took = began.elapsed();
    println!("a write stalled on a frozen link: shutdown took {took:?}");
    assert!(
        shut_down && took <= SHUTDOWN_LIMIT,
        "with a write stalled on a frozen link, shutdown took {took:?}{} (limit \
         {SHUTDOWN_LIMIT:?})",
        if shut_down {
            ""
        } else {
            ", then the test gave up"
        }
    );
    proxy.release_frozen();
    listener.shutdown().await;
}
