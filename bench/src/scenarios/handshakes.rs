//! Scenario 4: handshakes. System: connections per second that a smol listener authenticates
//! while concurrent dialers (smol nodes in this process, one identity each) repeat one-shot
//! `dial_once` + `close`. Baseline: complete in-memory snow XK handshakes (both sides) in one
//! thread.

use std::time::Instant;

use skychat_core::{Event, PublicKey};
use skychat_driver::NodeHandle;

use crate::measure::{Goal, Row, Scale, interleave};
use crate::nodes::{Adapter, config, join_all, secret, within};
use crate::raw_noise;

/// Concurrent dialers.
const DIALERS: u32 = 16;
/// First identity number of the dialers.
const FIRST_DIALER: u32 = 500;

/// Runs the scenario.
pub fn run(scale: Scale) -> Vec<Row> {
    let rounds = scale.pick(3, 1);
    let count = scale.pick(3000, 32);
    let keys: Vec<_> = (0..DIALERS)
        .map(|i| secret(FIRST_DIALER + i).public_key())
        .collect();
    let listener = Adapter::Smol.start(config(400, keys));
    let dialers: Vec<NodeHandle> = (0..DIALERS)
        .map(|i| Adapter::Smol.start(config(FIRST_DIALER + i, Vec::new())))
        .collect();
    let addr = smol::block_on(listener.listen("127.0.0.1:0".parse().unwrap()))
        .expect("listen")
        .to_string();
    let (initiator, responder) = (raw_noise::keypair(), raw_noise::keypair());
    let baseline = || {
        let started = Instant::now();
        for _ in 0..count {
            assert_eq!(raw_noise::handshake_in_memory(&initiator, &responder), 32);
        }
        count as f64 / started.elapsed().as_secs_f64()
    };
    let peer = listener.public_key();
    let system = || smol::block_on(accept_rate(&listener, peer, &dialers, &addr, count));
    let (b, s) = interleave(rounds, baseline, system);
    smol::block_on(async {
        for d in &dialers {
            d.shutdown().await;
        }
        listener.shutdown().await;
    });
    vec![Row::new(
        "4. handshakes accepted by smol listener",
        s,
        b,
        "conn/s",
        Goal::RatioAtLeast(0.8),
    )]
}

/// Dials `listener` by its key `peer` (which picks the suite) until it has authenticated `count`
/// sessions; returns sessions per second.
pub async fn accept_rate(
    listener: &NodeHandle,
    peer: PublicKey,
    dialers: &[NodeHandle],
    addr: &str,
    count: usize,
) -> f64 {
    let events = listener.events();
    let started = Instant::now();
    let (done_tx, done) = async_channel::bounded::<()>(1);
    let counting = async {
        let mut authenticated = 0;
        while authenticated < count {
            if let Event::Authenticated { .. } = events.recv().await.expect("listener stopped") {
                authenticated += 1;
            }
        }
        drop(done_tx);
    };
    let dialing = join_all(
        dialers
            .iter()
            .map(|dialer| {
                let done = done.clone();
                async move {
                    while !done.is_closed() {
                        match dialer.dial_once(peer, addr.to_string()).await {
                            Ok(conn) => dialer.close(conn).await,
                            Err(e) if done.is_closed() => drop(e),
                            Err(e) => panic!("dial failed: {e}"),
                        }
                    }
                }
            })
            .collect(),
    );
    within(futures_lite::future::zip(counting, dialing)).await;
    let rate = count as f64 / started.elapsed().as_secs_f64();
    // Sessions authenticated after the count are drained before the next round.
    while events.try_recv().is_ok() {}
    rate
}
