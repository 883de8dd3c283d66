//! Scenario 2: messages through the app's service layer with the durable store on both sides.
//! `Service::send` stores the message (group commit), then the node sends it, the receiving app
//! stores it in its SQLite store before its node acks, and the send returns on the ack. Many
//! sends run concurrently. Baseline: scenario 1's raw snow pipeline with 64 B messages, measured
//! interleaved here. Goal: at least 100 k msg/s.
//!
//! A second row sets the same app figure against its store-alone baseline
//! ([`crate::store_alone`]): the same store writes per message, batched like the app's, with
//! nothing else running. That rate bounds the app's on this machine, so the row says how far the
//! goal is reachable and how much of the bound the app reaches. A third row compares the CPU
//! time both use per message (the whole process's user and system time over the round).

use std::time::{Duration, Instant};

use skychat::service::SendOutcome;

use crate::app_nodes::AppPair;
use crate::measure::{Goal, Row, Scale, median, micros};
use crate::nodes::within;
use crate::raw_noise;
use crate::store_alone::StorePair;
use crate::sys;

/// Concurrent senders, each waiting for its message's ack before the next.
pub const SENDERS: usize = 512;

/// Messages the store-alone baseline accepts per transaction: about what the app's send
/// committer takes per batch in this scenario (its stores commit 200–220 writes per
/// transaction on average, each kind of write), half the senders' window.
pub const STORE_BATCH: usize = 256;

/// Runs the scenario: rounds of the raw snow baseline, the store-alone baseline and the app, in
/// turn.
pub fn run(scale: Scale) -> Vec<Row> {
    let rounds = scale.pick(3, 1);
    let count = scale.pick(40_000, 200);
    let pair = AppPair::start(600);
    let mut stores = StorePair::open();
    let (mut raw, mut alone, mut app) = (Vec::new(), Vec::new(), Vec::new());
    let (mut alone_cpu, mut app_cpu) = (Vec::new(), Vec::new());
    // CPU time per message of the whole process, in µs: nothing else runs in it meanwhile.
    let cpu_per_message = |cpu: &mut Vec<f64>, started: std::time::Duration| {
        cpu.push(micros(sys::cpu_time().saturating_sub(started)) / count as f64);
    };
    for _ in 0..rounds {
        raw.push(raw_noise::pipelined_throughput(count as u64, 64));
        let started = sys::cpu_time();
        alone.push(stores.rate(count, STORE_BATCH, SENDERS, 64));
        cpu_per_message(&mut alone_cpu, started);
        let started = sys::cpu_time();
        app.push(smol::block_on(acked_rate(&pair, count)));
        cpu_per_message(&mut app_cpu, started);
    }
    pair.stop();
    let app = median(&mut app);
    vec![
        Row::new(
            "2. app + SQLite both sides, 64 B",
            app,
            median(&mut raw),
            "msg/s",
            Goal::AtLeast(100_000.0),
        ),
        Row::new(
            "2. app vs its store writes alone, 64 B",
            app,
            median(&mut alone),
            "msg/s",
            Goal::Report,
        ),
        Row::new(
            "2. CPU per msg, app vs its store writes alone",
            median(&mut app_cpu),
            median(&mut alone_cpu),
            "us",
            Goal::Report,
        ),
    ]
}

/// Sends `count` messages through the service; returns messages acked (so stored on both
/// sides) per second.
async fn acked_rate(pair: &AppPair, count: usize) -> f64 {
    let service = pair.sender.service.clone();
    let peer = pair.receiver.service.public_key();
    let body = "x".repeat(64);
    let started = Instant::now();
    let senders: Vec<_> = (0..SENDERS)
        .map(|i| {
            let share = count / SENDERS + usize::from(i < count % SENDERS);
            let body = body.clone();
            let service = service.clone();
            smol::spawn(async move {
                for _ in 0..share {
                    let outcome = service
                        .send(
                            peer,
                            body.clone(),
                            None,
                            Some(Duration::from_secs(30)),
                            None,
                        )
                        .await
                        .expect("send");
                    assert!(
                        matches!(outcome, SendOutcome::Acked { .. }),
                        "not acked: {outcome:?}"
                    );
                }
            })
        })
        .collect();
    within(async {
        for sender in senders {
            sender.await;
        }
    })
    .await;
    count as f64 / started.elapsed().as_secs_f64()
}
