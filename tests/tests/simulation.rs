//! Deterministic simulation of several skychat nodes under seeded faults.
//!
//! Each case is one `u64` seed; the seed fixes the topology options, the node timeouts (the
//! defaults or a short set), the fault schedule (resets, partitions, half-open connections, slow
//! readers, crashes with restart from persisted state) and the message script. The invariants
//! are listed in `skychat_tests::sim::invariants`.
//!
//! Run the suite (the case count defaults to 1,000, split over two tests):
//! ```text
//! cargo test -p skychat-tests --test simulation
//! SKYCHAT_SIM_CASES=100000 cargo test --release -p skychat-tests --test simulation
//! ```
//! A failure prints its seed; replay exactly that run with:
//! ```text
//! SKYCHAT_SIM_SEED=<seed> cargo test -p skychat-tests --test simulation replay -- --nocapture
//! ```

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use skychat_tests::sim::scenario::{
    Fault, MISPINNED, OUTSIDER, RECEIVER, SENDER_A, SENDER_B, Send, Timing, public,
};
use skychat_tests::sim::{Scenario, run};

/// Cases per run when `SKYCHAT_SIM_CASES` is not set.
const DEFAULT_CASES: u32 = 1_000;

fn replay_hint(seed: u64) -> String {
    format!(
        "replay: SKYCHAT_SIM_SEED={seed} cargo test -p skychat-tests --test simulation replay \
         -- --nocapture"
    )
}

fn check_seed(seed: u64) {
    let scenario = Scenario::generate(seed);
    if let Err(e) = run(&scenario) {
        panic!("{e}\n{}\nscenario: {scenario:#?}", replay_hint(seed));
    }
}

/// Runs `share` of the configured cases on random seeds.
fn random_seeds(share: u32, of: u32) {
    let total = std::env::var("SKYCHAT_SIM_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(DEFAULT_CASES);
    let cases = total / of + u32::from(share < total % of);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 0,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&any::<u64>(), |seed| {
        check_seed(seed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn random_scenarios_first_half() {
    random_seeds(0, 2);
}

#[test]
fn random_scenarios_second_half() {
    random_seeds(1, 2);
}

/// Replays `SKYCHAT_SIM_SEED` (or a fixed seed when unset) and prints what it saw.
#[test]
fn replay() {
    let seed = std::env::var("SKYCHAT_SIM_SEED")
        .ok()
        .map(|v| v.trim().parse::<u64>().expect("SKYCHAT_SIM_SEED is a u64"))
        .unwrap_or(7);
    let scenario = Scenario::generate(seed);
    println!("{scenario:#?}");
    match run(&scenario) {
        Ok(outcome) => println!("{outcome:#?}"),
        Err(e) => panic!("{e}\n{}", replay_hint(seed)),
    }
}

#[test]
fn same_seed_gives_the_same_transcript_byte_for_byte() {
    for seed in [1, 2, 3] {
        let scenario = Scenario::generate(seed);
        let first = run(&scenario).unwrap_or_else(|e| panic!("{e}"));
        let second = run(&scenario).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first, second, "seed {seed} ran differently twice");
        assert!(first.transcript.records() > 0, "seed {seed} moved nothing");
    }
    let a = run(&Scenario::generate(1)).expect("seed 1");
    let b = run(&Scenario::generate(2)).expect("seed 2");
    assert_ne!(
        a.transcript.hash(),
        b.transcript.hash(),
        "different seeds must give different handshakes"
    );
}

/// A scenario of `timing` with no random faults or messages: the targeted tests add their own.
fn quiet(seed: u64, timing: Timing) -> Scenario {
    let mut scenario = Scenario::generate(seed);
    scenario.timing = timing;
    scenario.mutual = false;
    scenario.faults.clear();
    scenario
        .sends
        .retain(|s| s.from == OUTSIDER || s.from == MISPINNED);
    scenario.fault_phase = Duration::from_secs(60);
    scenario
}

fn send(scenario: &mut Scenario, at_ms: u64, from: usize, to: usize) {
    scenario.sends.push(Send {
        at: Duration::from_millis(at_ms),
        from,
        to: public(to),
        padding: 0,
        store_fails: false,
    });
    scenario.sends.sort_by_key(|s| s.at);
}

#[test]
fn half_open_link_with_default_timeouts_is_noticed_and_redialed() {
    let mut scenario = quiet(11, Timing::Defaults);
    scenario
        .faults
        .push((Duration::from_secs(20), Fault::HalfOpen(RECEIVER, SENDER_A)));
    send(&mut scenario, 19_000, SENDER_A, RECEIVER);
    send(&mut scenario, 25_000, SENDER_A, RECEIVER);
    send(&mut scenario, 26_000, RECEIVER, SENDER_A);
    let outcome = run(&scenario).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.stats.half_open_checked, 2, "{outcome:?}");
    assert!(outcome.stats.idle_closes >= 2, "{outcome:?}");
    assert_eq!(outcome.stats.delivered, 3, "{outcome:?}");
}

#[test]
fn crashes_of_receiver_and_sender_lose_and_duplicate_nothing() {
    for (seed, node, silent) in [
        (21, RECEIVER, false),
        (22, SENDER_A, false),
        (23, RECEIVER, true),
    ] {
        let mut scenario = quiet(seed, Timing::Short);
        for k in 0..4 {
            send(&mut scenario, 1_000 + 40 * k, SENDER_A, RECEIVER);
            send(&mut scenario, 1_010 + 40 * k, RECEIVER, SENDER_A);
        }
        let crash = Fault::Crash {
            node,
            down_for: Duration::from_secs(1),
            silent,
        };
        scenario.faults.push((Duration::from_millis(1_090), crash));
        send(&mut scenario, 5_000, SENDER_A, RECEIVER);
        let outcome = run(&scenario).unwrap_or_else(|e| panic!("{e}"));
        let stats = &outcome.stats;
        assert!(stats.accepted >= 5, "seed {seed}: {outcome:?}");
        assert_eq!(stats.delivered, stats.accepted, "seed {seed}: {outcome:?}");
        assert_eq!(outcome.stats.restarts, 1, "seed {seed}");
    }
}

#[test]
fn a_partition_longer_than_the_backoff_cap_heals() {
    let mut scenario = quiet(31, Timing::Defaults);
    scenario.faults.push((
        Duration::from_secs(5),
        Fault::Partition(RECEIVER, SENDER_B, Duration::from_secs(150)),
    ));
    send(&mut scenario, 10_000, SENDER_B, RECEIVER);
    send(&mut scenario, 11_000, RECEIVER, SENDER_B);
    let outcome = run(&scenario).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.stats.delivered, 2, "{outcome:?}");
    assert!(outcome.end >= Duration::from_secs(155), "{outcome:?}");
}

#[test]
fn sends_whose_persisting_failed_are_withdrawn_and_never_delivered() {
    let mut withdrawn = 0;
    let mut accepted = 0;
    for seed in 0..40 {
        let outcome = run(&Scenario::generate(seed)).unwrap_or_else(|e| panic!("{e}"));
        withdrawn += outcome.stats.withdrawn;
        accepted += outcome.stats.accepted;
        assert_eq!(
            outcome.stats.delivered, outcome.stats.accepted,
            "seed {seed}: {outcome:?}"
        );
    }
    assert!(
        withdrawn > 0 && accepted > 0,
        "{withdrawn} withdrawn, {accepted} accepted"
    );
}
