//! Scenario 3: message-to-ack round trip (p50, p99) of the core on smol against a raw TCP
//! ping-pong with the same placement: both pinned to one CPU, and both unpinned. Each placement
//! runs in a child process so that pinning applies to every thread it starts.

use std::time::Duration;

use crate::child;
use crate::measure::{Goal, Row, Scale, micros, percentile};
use crate::nodes::{Adapter, Pair};
use crate::ping::PingPong;

/// Runs both placements in child processes.
pub fn run(scale: Scale) -> Vec<Row> {
    let mut rows = Vec::new();
    for (placement, label) in [("pinned", "pinned to 1 CPU"), ("free", "unpinned")] {
        let smoke = if scale.smoke { "--smoke" } else { "" };
        let out = child::spawn_and_read(&["__rtt", placement, smoke]);
        let v: Vec<f64> = out
            .split_whitespace()
            .map(|x| x.parse().expect("child figure"))
            .collect();
        let [b50, b99, s50, s99] = v[..] else {
            panic!("rtt child printed {out:?}");
        };
        rows.push(Row::new(
            format!("3. msg->ack p50, {label}"),
            s50,
            b50,
            "us",
            Goal::RatioAtMost(1.15),
        ));
        rows.push(Row::new(
            format!("3. msg->ack p99, {label}"),
            s99,
            b99,
            "us",
            Goal::Report,
        ));
    }
    rows
}

/// The child: measures interleaved rounds and prints `b50 b99 s50 s99` in microseconds.
pub fn child(pin: bool, scale: Scale) {
    if pin {
        crate::sys::pin_to_cpu(0);
    }
    let rounds = scale.pick(5, 1);
    let per_round = scale.pick(2000, 20);
    let mut ping = PingPong::start();
    let pair = Pair::start(Adapter::Smol, 300);
    let (mut base, mut sys): (Vec<Duration>, Vec<Duration>) = (Vec::new(), Vec::new());
    // Warm both paths up once.
    ping.round_trips(per_round / 10 + 1);
    pair.round_trips(per_round / 10 + 1);
    for _ in 0..rounds {
        base.extend(ping.round_trips(per_round));
        sys.extend(pair.round_trips(per_round));
    }
    ping.stop();
    pair.stop();
    println!(
        "{} {} {} {}",
        micros(percentile(&mut base, 50.0)),
        micros(percentile(&mut base, 99.0)),
        micros(percentile(&mut sys, 50.0)),
        micros(percentile(&mut sys, 99.0)),
    );
}
