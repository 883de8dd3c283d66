//! Scenario 1: small messages with acks over one loopback connection, pipelined. Baseline: raw
//! snow over TCP with batched writes and cumulative acks. System: core + driver on smol and on
//! async-std, counting `Event::MessageAcked`, with a receiver that confirms storage at once.

use crate::measure::{Goal, Row, Scale, median};
use crate::nodes::{Adapter, Pair};
use crate::raw_noise;

/// Runs the scenario. Also returns the 64 B baseline median, which scenario 2 reports against.
pub fn run(scale: Scale) -> Vec<Row> {
    let rounds = scale.pick(3, 1);
    let smol = Pair::start(Adapter::Smol, 100);
    let async_std = Pair::start(Adapter::AsyncStd, 200);
    let mut rows = Vec::new();
    for (size, label) in [(64, "64 B"), (1024, "1 KiB")] {
        let count = scale.pick(if size == 64 { 60_000 } else { 30_000 }, 500);
        let (mut b, mut s, mut a) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            b.push(raw_noise::pipelined_throughput(count as u64, size));
            s.push(smol.pipelined(count, size));
            a.push(async_std.pipelined(count, size));
        }
        let baseline = median(&mut b);
        rows.push(Row::new(
            format!("1. {label} msgs+acks, smol"),
            median(&mut s),
            baseline,
            "msg/s",
            Goal::RatioAtLeast(0.5),
        ));
        rows.push(Row::new(
            format!("1. {label} msgs+acks, async-std"),
            median(&mut a),
            baseline,
            "msg/s",
            Goal::RatioAtLeast(0.5),
        ));
    }
    smol.stop();
    async_std.stop();
    rows
}
