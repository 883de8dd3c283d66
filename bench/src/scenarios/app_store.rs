//! Scenario 2: messages through the app's service layer with the durable store on both sides.
//! `Service::send` stores the message (group commit), then the node sends it, the receiving app
//! stores it in its SQLite store before its node acks, and the send returns on the ack. Many
//! sends run concurrently. Baseline: scenario 1's raw snow pipeline with 64 B messages, measured
//! interleaved here. Goal: at least 100 k msg/s.

use std::time::{Duration, Instant};

use skychat::service::SendOutcome;

use crate::app_nodes::AppPair;
use crate::measure::{Goal, Row, Scale, interleave};
use crate::nodes::within;
use crate::raw_noise;

/// Concurrent senders, each waiting for its message's ack before the next.
const SENDERS: usize = 512;

/// Runs the scenario.
pub fn run(scale: Scale) -> Vec<Row> {
    let rounds = scale.pick(3, 1);
    let count = scale.pick(40_000, 200);
    let pair = AppPair::start(600);
    let system = || smol::block_on(acked_rate(&pair, count));
    let baseline = || raw_noise::pipelined_throughput(count as u64, 64);
    let (b, s) = interleave(rounds, baseline, system);
    pair.stop();
    vec![Row::new(
        "2. app + SQLite both sides, 64 B",
        s,
        b,
        "msg/s",
        Goal::AtLeast(100_000.0),
    )]
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
