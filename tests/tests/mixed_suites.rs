//! Deterministic simulation of skychat nodes that speak both wire suites at once.
//!
//! A mixed-suite case is one `u64` seed run through `Scenario::generate_mixed`: the timing,
//! faults and message script of `Scenario::generate` for that seed, with each link's suite (and
//! so the key each message is addressed to) drawn from the seed. A node may be reached under
//! its native key by one peer and its Skywire key by another, or by both keys of one peer. The
//! invariants are those of `skychat_tests::sim::invariants`, per sender, receiver and suite.
//!
//! Run the suite (the mixed case count defaults to 500, split over two tests):
//! ```text
//! cargo test -p skychat-tests --test mixed_suites
//! SKYCHAT_SIM_MIXED_CASES=100000 cargo test --release -p skychat-tests --test mixed_suites
//! ```
//! A failure prints its seed; replay exactly that run with:
//! ```text
//! SKYCHAT_SIM_SEED=<seed> cargo test -p skychat-tests --test mixed_suites replay -- --nocapture
//! ```

use std::cell::RefCell;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use skychat_core::Suite;
use skychat_tests::sim::invariants::Stats;
use skychat_tests::sim::keys::{is_wrong, key_on, node_of, wrong_key};
use skychat_tests::sim::scenario::{
    Fault, MISPINNED, OUTSIDER, RECEIVER, SENDER_A, SENDER_B, Send, SuitePlan, Timing,
};
use skychat_tests::sim::{Outcome, Scenario, run};

/// Mixed-suite cases per run when `SKYCHAT_SIM_MIXED_CASES` is not set.
const DEFAULT_CASES: u32 = 500;

/// From this many cases on, a sweep must have exercised the common mixed-suite paths at least
/// once. (A restart between delivery and confirmation is rarer, about one case in 40; its own
/// test below forces it.)
const COVERAGE_CASES: u32 = 100;

fn replay_hint(seed: u64) -> String {
    format!(
        "replay: SKYCHAT_SIM_SEED={seed} cargo test -p skychat-tests --test mixed_suites replay \
         -- --nocapture"
    )
}

fn check_seed(seed: u64) -> Outcome {
    let scenario = Scenario::generate_mixed(seed);
    run(&scenario).unwrap_or_else(|e| panic!("{e}\n{}\nscenario: {scenario:#?}", replay_hint(seed)))
}

fn add(total: &mut Stats, s: &Stats) {
    total.accepted += s.accepted;
    total.delivered += s.delivered;
    total.skywire_delivered += s.skywire_delivered;
    total.skywire_acked += s.skywire_acked;
    total.redelivered_after_restart += s.redelivered_after_restart;
    total.keepalive_closes += s.keepalive_closes;
    total.classical_handshakes += s.classical_handshakes;
    total.outsider_rejected += s.outsider_rejected;
    total.mispinned_failed += s.mispinned_failed;
}

/// Runs `share` of the configured mixed cases on random seeds and checks that, together, they
/// took every path the mix adds.
fn random_seeds(share: u32, of: u32) {
    let total = std::env::var("SKYCHAT_SIM_MIXED_CASES")
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
    let seen = RefCell::new(Stats::default());
    let mut runner = TestRunner::new(config);
    let result = runner.run(&any::<u64>(), |seed| {
        add(&mut seen.borrow_mut(), &check_seed(seed).stats);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = seen.into_inner();
    if cases >= COVERAGE_CASES {
        assert!(
            seen.skywire_delivered > 0
                && seen.skywire_delivered < seen.delivered
                && seen.skywire_acked == seen.skywire_delivered
                && seen.keepalive_closes > 0
                && seen.classical_handshakes > 0,
            "{cases} mixed cases left a path of the mix untried: {seen:?}"
        );
    }
}

#[test]
fn random_mixed_suite_scenarios_first_half() {
    random_seeds(0, 2);
}

#[test]
fn random_mixed_suite_scenarios_second_half() {
    random_seeds(1, 2);
}

/// Replays the mixed scenario of `SKYCHAT_SIM_SEED` (or a fixed seed when unset) and prints
/// what it saw.
#[test]
fn replay() {
    let seed = std::env::var("SKYCHAT_SIM_SEED")
        .ok()
        .map(|v| v.trim().parse::<u64>().expect("SKYCHAT_SIM_SEED is a u64"))
        .unwrap_or(7);
    let scenario = Scenario::generate_mixed(seed);
    println!("{scenario:#?}");
    match run(&scenario) {
        Ok(outcome) => println!("{outcome:#?}"),
        Err(e) => panic!("{e}\n{}", replay_hint(seed)),
    }
}

#[test]
fn same_mixed_seed_gives_the_same_transcript_byte_for_byte() {
    for seed in [1, 2, 3] {
        let scenario = Scenario::generate_mixed(seed);
        let first = run(&scenario).unwrap_or_else(|e| panic!("{e}"));
        let second = run(&scenario).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first, second, "seed {seed} ran differently twice");
        let native = run(&Scenario::generate(seed)).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(
            first.transcript.hash(),
            native.transcript.hash(),
            "seed {seed}: the mixed run must differ from the native one"
        );
    }
}

#[test]
fn a_seed_keeps_its_schedule_and_only_the_suites_and_addresses_change() {
    for seed in 0..20 {
        let native = Scenario::generate(seed);
        let mixed = Scenario::generate_mixed(seed);
        assert_eq!(native.suites, SuitePlan::native(), "seed {seed}");
        assert!(mixed.suites.any_skywire(), "seed {seed}");
        assert_eq!(
            (native.timing, native.mutual, &native.faults),
            (mixed.timing, mixed.mutual, &mixed.faults)
        );
        for (n, m) in native.sends.iter().zip(&mixed.sends) {
            assert_eq!((n.at, n.from, n.padding), (m.at, m.from, m.padding));
            // The same node, or the same wrong key, perhaps on the other suite.
            let same_target = match node_of(&n.to) {
                Some(node) => node_of(&m.to) == Some(node),
                None => is_wrong(&n.to) && is_wrong(&m.to),
            };
            assert!(same_target, "seed {seed}: {n:?} became {m:?}");
        }
    }
}

/// A scenario of `timing` with the given suites and no random faults or messages: the targeted
/// tests add their own. The outsider and the mispinned node keep their attempts.
fn quiet(seed: u64, timing: Timing, mutual: bool, suites: SuitePlan) -> Scenario {
    let mut scenario = Scenario::generate(seed);
    scenario.timing = timing;
    scenario.mutual = mutual;
    scenario.faults.clear();
    scenario
        .sends
        .retain(|s| s.from == OUTSIDER || s.from == MISPINNED);
    scenario.fault_phase = Duration::from_secs(60);
    for send in &mut scenario.sends {
        send.to = match send.from {
            OUTSIDER => key_on(scenario.outsider_target, suites.outsider),
            _ => wrong_key(suites.mispinned),
        };
    }
    scenario.suites = suites;
    scenario
}

fn all_skywire() -> SuitePlan {
    SuitePlan {
        a_to_receiver: Suite::Skywire,
        b_to_receiver: Suite::Skywire,
        receiver_to_a: Suite::Skywire,
        outsider: Suite::Skywire,
        mispinned: Suite::Skywire,
        unreachable: Suite::Skywire,
        whitelist_other_outsider_key: true,
        classical: [false; 5],
    }
}

fn send(scenario: &mut Scenario, at_ms: u64, from: usize, to: usize, suite: Suite) {
    scenario.sends.push(Send {
        at: Duration::from_millis(at_ms),
        from,
        to: key_on(to, suite),
        padding: 0,
        store_fails: false,
    });
    scenario.sends.sort_by_key(|s| s.at);
}

fn ok(scenario: &Scenario) -> Outcome {
    run(scenario).unwrap_or_else(|e| panic!("{e}"))
}

/// The receiver's node acks a Skywire message only after its host confirmed storing it. The
/// hosts confirm at once or up to 3 s later; with a burst of messages both ways, an ack sent on
/// receipt would reach a sender before the confirmation, and the run would fail.
#[test]
fn skywire_acks_come_only_after_the_receiver_confirmed_storing() {
    for seed in [41, 42, 43] {
        let mut scenario = quiet(seed, Timing::Short, true, all_skywire());
        for k in 0..8 {
            send(
                &mut scenario,
                1_000 + 30 * k,
                SENDER_A,
                RECEIVER,
                Suite::Skywire,
            );
            send(
                &mut scenario,
                1_005 + 30 * k,
                SENDER_B,
                RECEIVER,
                Suite::Skywire,
            );
            send(
                &mut scenario,
                1_010 + 30 * k,
                RECEIVER,
                SENDER_A,
                Suite::Skywire,
            );
        }
        let outcome = ok(&scenario);
        let stats = &outcome.stats;
        assert_eq!(stats.accepted, 24, "seed {seed}: {outcome:?}");
        assert_eq!(stats.skywire_delivered, 24, "seed {seed}: {outcome:?}");
        assert_eq!(stats.skywire_acked, 24, "seed {seed}: {outcome:?}");
    }
}

/// The receiver and sender A dial each other on different suites, so each is two peers to the
/// other: messages to each key go over that key's suite and arrive from the sender's key of the
/// same suite, in order per key.
#[test]
fn one_node_reached_by_both_of_its_keys_is_two_peers() {
    let suites = SuitePlan {
        a_to_receiver: Suite::Native,
        receiver_to_a: Suite::Skywire,
        ..all_skywire()
    };
    let mut scenario = quiet(51, Timing::Short, true, suites);
    for k in 0..4 {
        for suite in [Suite::Native, Suite::Skywire] {
            send(&mut scenario, 1_000 + 50 * k, SENDER_A, RECEIVER, suite);
            send(&mut scenario, 1_020 + 50 * k, RECEIVER, SENDER_A, suite);
        }
    }
    scenario.faults.push((
        Duration::from_millis(1_100),
        Fault::Drop(RECEIVER, SENDER_A),
    ));
    let outcome = ok(&scenario);
    let stats = &outcome.stats;
    assert_eq!(stats.accepted, 16, "{outcome:?}");
    assert_eq!(stats.delivered, 16, "{outcome:?}");
    assert_eq!(stats.skywire_delivered, 8, "{outcome:?}");
}

/// A receiver that restarts before confirming what a Skywire peer sent gets those messages
/// again (its Skywire dedup was in memory); its host keeps one copy of each and confirms it, so
/// they are acked, and the store ends up with every message once, in order.
#[test]
fn a_restarted_skywire_receiver_keeps_one_copy_of_a_resent_message() {
    let mut redelivered = 0;
    for seed in 61..71 {
        let suites = SuitePlan {
            b_to_receiver: Suite::Skywire,
            ..SuitePlan::native()
        };
        let mut scenario = quiet(seed, Timing::Short, false, suites);
        for k in 0..6 {
            send(
                &mut scenario,
                1_000 + 20 * k,
                SENDER_B,
                RECEIVER,
                Suite::Skywire,
            );
        }
        let crash = Fault::Crash {
            node: RECEIVER,
            down_for: Duration::from_millis(500),
            silent: seed % 2 == 0,
        };
        scenario.faults.push((Duration::from_millis(1_400), crash));
        let outcome = ok(&scenario);
        assert_eq!(outcome.stats.delivered, 6, "seed {seed}: {outcome:?}");
        assert_eq!(outcome.stats.restarts, 1, "seed {seed}");
        redelivered += outcome.stats.redelivered_after_restart;
    }
    assert!(
        redelivered > 0,
        "no run restarted between delivery and confirmation"
    );
}

/// The Skywire wire has no ping. A half-open session with a message waiting for its ack ends at
/// the node's idle timeout; an idle one ends when the host's TCP keepalive gives up. Both within
/// the bound the checker enforces, and the message still arrives.
#[test]
fn a_half_open_skywire_link_ends_by_idle_timeout_or_keepalive() {
    let suites = SuitePlan {
        a_to_receiver: Suite::Skywire,
        ..SuitePlan::native()
    };
    let mut idle = quiet(71, Timing::Defaults, false, suites.clone());
    idle.faults
        .push((Duration::from_secs(20), Fault::HalfOpen(RECEIVER, SENDER_A)));
    let outcome = ok(&idle);
    assert_eq!(outcome.stats.half_open_checked, 2, "{outcome:?}");
    assert_eq!(outcome.stats.keepalive_closes, 2, "{outcome:?}");

    let mut waiting = quiet(72, Timing::Defaults, false, suites);
    waiting
        .faults
        .push((Duration::from_secs(20), Fault::HalfOpen(RECEIVER, SENDER_A)));
    send(&mut waiting, 21_000, SENDER_A, RECEIVER, Suite::Skywire);
    let outcome = ok(&waiting);
    assert_eq!(outcome.stats.half_open_checked, 2, "{outcome:?}");
    assert_eq!(
        outcome.stats.keepalive_closes, 1,
        "the receiver's end, with nothing to send: {outcome:?}"
    );
    assert!(
        outcome.stats.idle_closes >= 1,
        "the sender's end: {outcome:?}"
    );
    assert_eq!(outcome.stats.skywire_delivered, 1, "{outcome:?}");
}

/// Whitelists are per key: the outsider's key on one suite is whitelisted by its target, and it
/// dials with its key on the other suite, which must be refused (on the Skywire suite, by just
/// closing the connection).
#[test]
fn the_outsider_is_refused_under_the_key_it_dials_with() {
    for (seed, suite, target) in [
        (81, Suite::Skywire, RECEIVER),
        (82, Suite::Native, RECEIVER),
        (83, Suite::Skywire, SENDER_B),
    ] {
        let suites = SuitePlan {
            outsider: suite,
            ..all_skywire()
        };
        let mut scenario = quiet(seed, Timing::Short, false, suites.clone());
        scenario.outsider_target = target;
        scenario = quiet_with_target(scenario, &suites);
        send(&mut scenario, 1_000, SENDER_B, RECEIVER, Suite::Skywire);
        let outcome = ok(&scenario);
        assert!(
            outcome.stats.outsider_rejected > 0,
            "seed {seed}: {outcome:?}"
        );
        assert_eq!(outcome.stats.delivered, 1, "seed {seed}: {outcome:?}");
    }
}

/// Re-addresses the outsider's message after its target changed.
fn quiet_with_target(mut scenario: Scenario, suites: &SuitePlan) -> Scenario {
    for send in &mut scenario.sends {
        if send.from == OUTSIDER {
            send.to = key_on(scenario.outsider_target, suites.outsider);
        }
    }
    scenario
}
