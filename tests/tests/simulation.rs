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

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
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
