//! The listener under a connection flood: thousands of idle sockets (connected, sending nothing,
//! reopened as soon as the node closes them) and hundreds of looping stranger handshakes (valid
//! Noise XK initiators whose keys are not on the whitelist), all from 127.0.0.1 like the peer
//! that must still get in.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_channel::Receiver;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use skychat_core::{NodeConfig, PublicKey, RefusalCounts};

use super::support::{TestNode, driver_config, key, node_config};
use crate::NodeHandle;
use crate::runtime::{Runtime, timeout};

/// Idle sockets the flood keeps open.
pub const IDLE_SOCKETS: usize = 2000;
/// Stranger handshakes the flood keeps going at once.
pub const STRANGER_HANDSHAKES: usize = 200;
/// One-shot dials of the whitelisted peer.
pub const FRIEND_DIALS: usize = 25;
/// Of which at least this many must authenticate.
pub const FRIEND_MUST_GET_IN: usize = 24;

/// Stranger nodes; the handshakes are spread over them.
const STRANGER_NODES: usize = 4;
/// Dials of the whitelisted peer in flight at once.
pub(super) const FRIEND_LANES: usize = 5;
/// Descriptors the test needs besides two per flood connection.
const FD_SPARE: u64 = 600;

/// Raises the soft limit on open files to the hard limit and returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    crate::fd_limit::raise_open_file_limit().unwrap_or(u64::MAX)
}

/// The flood's size within `fd_limit`: every flood connection costs two descriptors in this
/// process (both ends). Scaled down, and said so, when the limit is too low.
pub fn flood_size(fd_limit: u64) -> (usize, usize) {
    let wanted = 2 * (IDLE_SOCKETS + STRANGER_HANDSHAKES) as u64 + FD_SPARE;
    if fd_limit >= wanted {
        return (IDLE_SOCKETS, STRANGER_HANDSHAKES);
    }
    let scale = fd_limit.saturating_sub(FD_SPARE) as f64 / (wanted - FD_SPARE) as f64;
    let idle = (IDLE_SOCKETS as f64 * scale) as usize;
    let strangers = ((STRANGER_HANDSHAKES as f64 * scale) as usize).max(1);
    println!(
        "open-file limit {fd_limit} is below the {wanted} the full flood needs: scaled down to \
         {idle} idle sockets and {strangers} stranger handshakes"
    );
    (idle, strangers)
}

/// Keeps one stalled socket open to `addr`: connects, sends `first` (nothing, for an idle
/// socket) and no more, and reconnects as soon as the node closes it, until `stop` closes.
pub(super) async fn stalled_socket<R: Runtime + Clone>(
    rt: R,
    addr: SocketAddr,
    first: &'static [u8],
    stop: Receiver<()>,
    opened: Arc<AtomicU64>,
) {
    let run = async {
        loop {
            match rt.connect(addr).await {
                Ok(mut stream) => {
                    opened.fetch_add(1, Ordering::Relaxed);
                    if !first.is_empty() && stream.write_all(first).await.is_err() {
                        continue;
                    }
                    let mut byte = [0u8; 64];
                    // The node never writes to a connection before its message 1 is whole;
                    // this ends when it closes the socket.
                    while let Ok(n) = stream.read(&mut byte).await {
                        if n == 0 {
                            break;
                        }
                    }
                }
                Err(_) => {
                    rt.sleep_until(Instant::now() + Duration::from_millis(20))
                        .await;
                }
            }
        }
    };
    futures_lite::future::or(run, async {
        let _ = stop.recv().await;
    })
    .await;
}

/// Runs handshakes with `listener` from `stranger`, whose key is not on its whitelist, one after
/// the other, until `stop` closes.
pub(super) async fn stranger_handshakes(
    stranger: NodeHandle,
    listener: PublicKey,
    addr: String,
    stop: Receiver<()>,
    done: Arc<AtomicU64>,
) {
    let run = async {
        loop {
            if stranger.dial_once(listener, addr.clone()).await.is_ok() {
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    futures_lite::future::or(run, async {
        let _ = stop.recv().await;
    })
    .await;
}

/// How the whitelisted peer's one-shot dials went.
pub(super) struct FriendDials {
    /// Dials that authenticated.
    pub got_in: usize,
    /// The others, described.
    pub failures: Vec<String>,
    /// The longest a dial took.
    pub slowest: Duration,
}

/// Dials `listener` one-shot [`FRIEND_DIALS`] times from `friend`, [`FRIEND_LANES`] at a time,
/// closing each session once it has authenticated.
pub(super) async fn friend_dials<R: Runtime + Clone>(
    rt: &R,
    friend: &NodeHandle,
    listener: PublicKey,
    addr: SocketAddr,
) -> FriendDials {
    let (results_tx, results) = async_channel::unbounded();
    for lane in 0..FRIEND_LANES {
        let handle = friend.clone();
        let results = results_tx.clone();
        let addr = addr.to_string();
        rt.spawn(async move {
            for _ in 0..FRIEND_DIALS / FRIEND_LANES {
                let began = Instant::now();
                let dialed = handle.dial_once(listener, addr.clone()).await;
                if let Ok(conn) = &dialed {
                    handle.close(*conn).await;
                }
                let _ = results
                    .send((lane, dialed.map_err(|e| e.to_string()), began.elapsed()))
                    .await;
            }
        });
    }
    drop(results_tx);
    let mut outcome = FriendDials {
        got_in: 0,
        failures: Vec::new(),
        slowest: Duration::ZERO,
    };
    for _ in 0..FRIEND_DIALS {
        let (lane, result, took) = timeout(rt, Duration::from_secs(30), results.recv())
            .await
            .expect("every dial finishes")
            .expect("every lane reports");
        outcome.slowest = outcome.slowest.max(took);
        match result {
            Ok(_) => outcome.got_in += 1,
            Err(e) => outcome
                .failures
                .push(format!("lane {lane} after {took:?}: {e}")),
        }
    }
    outcome
}

/// A whitelisted peer still gets in (at least 24 of 25 one-shot dials authenticate) while idle
/// sockets and stranger handshakes flood the listener from the same address.
pub async fn whitelisted_peer_gets_in_during_a_flood<R: Runtime + Clone>(rt: R) {
    let started = Instant::now();
    let (idle_count, stranger_count) = flood_size(raise_fd_limit());
    let friend_key = key(101).public_key();
    let listener = TestNode::start(&rt, 100, node_config(&[friend_key]));
    let addr = listener.listen().await;
    let listener_key = listener.key();

    let (stop_flood, stop) = async_channel::bounded::<()>(1);
    let opened = Arc::new(AtomicU64::new(0));
    for _ in 0..idle_count {
        rt.spawn(stalled_socket(
            rt.clone(),
            addr,
            &[],
            stop.clone(),
            opened.clone(),
        ));
    }
    let strangers: Vec<NodeHandle> = (0..STRANGER_NODES)
        .map(|i| crate::start(rt.clone(), driver_config(110 + i as u32, node_config(&[]))))
        .collect();
    let handshakes = Arc::new(AtomicU64::new(0));
    for i in 0..stranger_count {
        let stranger = strangers[i % STRANGER_NODES].clone();
        // Nobody needs the strangers' events: drain them so that they do not pile up.
        if i < STRANGER_NODES {
            let events = stranger.events();
            let stop = stop.clone();
            rt.spawn(async move {
                futures_lite::future::or(async { while events.recv().await.is_ok() {} }, async {
                    let _ = stop.recv().await;
                })
                .await;
            });
        }
        rt.spawn(stranger_handshakes(
            stranger,
            listener_key,
            addr.to_string(),
            stop.clone(),
            handshakes.clone(),
        ));
    }

    // Wait until the flood is at full strength: every idle socket open, the first of them
    // closed for sending nothing (and so reopened), and strangers refused.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let refused = listener.handle.refusals().await;
        let reaped = refused.first_bytes_timeout + refused.evicted_idle;
        if refused.not_whitelisted > 0
            && reaped > 0
            && opened.load(Ordering::Relaxed) >= idle_count as u64
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the flood did not build up: {} idle sockets opened, refusals {refused}",
            opened.load(Ordering::Relaxed)
        );
        rt.sleep_until(Instant::now() + Duration::from_millis(50))
            .await;
    }
    let flood_built = started.elapsed();

    // The whitelisted peer dials one-shot, FRIEND_LANES at a time, closing each session once it
    // has authenticated; a dial that does not authenticate within 5 s counts as locked out.
    let friend_config = NodeConfig {
        handshake_timeout: Duration::from_secs(5),
        ..node_config(&[])
    };
    let friend = TestNode::start(&rt, 101, friend_config);
    let FriendDials {
        got_in,
        failures,
        slowest,
    } = friend_dials(&rt, &friend.handle, listener_key, addr).await;
    let refused: RefusalCounts = listener.handle.refusals().await;
    println!(
        "flood of {idle_count} idle sockets ({} opened) and {stranger_count} stranger handshakes \
         ({} completed), built in {flood_built:?}: the whitelisted peer got in {got_in} of \
         {FRIEND_DIALS} times (slowest dial {slowest:?}); the listener refused {} ({refused}); \
         {:?} in all",
        opened.load(Ordering::Relaxed),
        handshakes.load(Ordering::Relaxed),
        refused.total(),
        started.elapsed(),
    );
    assert!(
        got_in >= FRIEND_MUST_GET_IN,
        "the whitelisted peer got in only {got_in} of {FRIEND_DIALS} times; the first failures: \
         {:?}",
        &failures[..failures.len().min(5)]
    );

    drop(stop_flood);
    friend.handle.shutdown().await;
    for stranger in &strangers {
        stranger.shutdown().await;
    }
    listener.handle.shutdown().await;
}
