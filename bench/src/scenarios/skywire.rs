//! Scenario 8: the Skywire suite beside the native one. In memory, in one thread, in interleaved
//! rounds: complete handshakes per second (Skywire with the ML-KEM-768 hybrid and classical,
//! against snow's XK), and pipelined 64 B and 1 KiB chat frames with cumulative acks (Skywire
//! `send_frame` and `push`/`next`, against snow's transport with the same batching).

use std::time::Instant;

use crate::measure::{Goal, Row, Scale, median};
use crate::{raw_noise, raw_skywire};

/// Goal for Skywire handshakes against snow's: the same XK pattern on a curve without assembly,
/// plus the ML-KEM-768 exchange, within half of the native cost.
const HANDSHAKE_GOAL: f64 = 0.5;
/// Goal for Skywire chat frames against snow's messages. The Go wire seals every frame as two
/// records (the 4-byte header, then the payload), so with an equally fast AEAD a small frame
/// costs about twice a native message: half, less a margin for the extra framing.
const FRAMES_GOAL: f64 = 0.4;

/// Runs the scenario.
pub fn run(scale: Scale) -> Vec<Row> {
    let mut rows = handshakes(scale);
    rows.extend(frames(scale));
    rows
}

/// Handshakes per second of `count` handshakes run by `one` (given the round number).
fn rate(count: u64, mut one: impl FnMut(u64)) -> f64 {
    let started = Instant::now();
    for round in 0..count {
        one(round);
    }
    count as f64 / started.elapsed().as_secs_f64()
}

fn handshakes(scale: Scale) -> Vec<Row> {
    let rounds = scale.pick(3, 1);
    let count = scale.pick(1500, 4);
    let (native_i, native_r) = (raw_noise::keypair(), raw_noise::keypair());
    let (skywire_i, skywire_r) = (raw_skywire::secret(10), raw_skywire::secret(11));
    let (mut native, mut pq, mut classical) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        native.push(rate(count, |_| {
            assert_eq!(raw_noise::handshake_in_memory(&native_i, &native_r), 32);
        }));
        pq.push(rate(count, |round| {
            let policy = raw_skywire::policy(true);
            assert!(raw_skywire::handshake_in_memory(
                &skywire_i, &skywire_r, policy, round
            ));
        }));
        classical.push(rate(count, |round| {
            let policy = raw_skywire::policy(false);
            assert!(!raw_skywire::handshake_in_memory(
                &skywire_i, &skywire_r, policy, round
            ));
        }));
    }
    let native = median(&mut native);
    vec![
        Row::new(
            "8. handshakes in memory, Skywire PQ vs native",
            median(&mut pq),
            native,
            "hs/s",
            Goal::RatioAtLeast(HANDSHAKE_GOAL),
        ),
        Row::new(
            "8. handshakes in memory, Skywire classical vs native",
            median(&mut classical),
            native,
            "hs/s",
            Goal::RatioAtLeast(HANDSHAKE_GOAL),
        ),
    ]
}

fn frames(scale: Scale) -> Vec<Row> {
    let rounds = scale.pick(3, 1);
    let mut rows = Vec::new();
    for (size, label) in [(64, "64 B"), (1024, "1 KiB")] {
        let count = scale.pick(if size == 64 { 300_000 } else { 100_000 }, 200);
        let (mut native, mut skywire) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            native.push(raw_noise::pipelined_in_memory(count, size));
            skywire.push(raw_skywire::pipelined_in_memory(count, size));
        }
        rows.push(Row::new(
            format!("8. {label} frames+acks in memory, Skywire vs native"),
            median(&mut skywire),
            median(&mut native),
            "msg/s",
            Goal::RatioAtLeast(FRAMES_GOAL),
        ));
    }
    rows
}
