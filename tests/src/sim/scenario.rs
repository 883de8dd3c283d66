//! Scenarios: the topology, node configuration, fault schedule and message script of one run, all
//! derived from a single seed so that the seed alone replays the run.
//!
//! The topology is fixed; the seed varies everything else:
//! - [`RECEIVER`] listens and whitelists the two senders; [`SENDER_A`] and [`SENDER_B`] keep it
//!   connected (fan-in) and it answers them. In a `mutual` scenario the receiver also keeps
//!   sender A connected and A whitelists it, so the two may hold two sessions at once.
//! - Sender A also keeps an unreachable peer ([`unreachable_key`]) in its list: every dial fails.
//! - [`OUTSIDER`] is on nobody's whitelist and keeps sending to the receiver, or to sender B,
//!   whose whitelist is empty.
//! - [`MISPINNED`] dials the receiver's address pinned to a key the receiver does not hold.
//!
//! Each link a node dials speaks one wire suite ([`SuitePlan`]): the dialer names its peer by
//! that suite's key, and the peer whitelists the dialer's key of that suite. [`Scenario::generate`]
//! keeps every link on the native suite; [`Scenario::generate_mixed`] runs the same schedule with
//! each link's suite chosen by the seed, so one node may be reached by both of its keys by
//! different peers, or by both keys of one peer when the receiver and sender A dial each other.

use std::time::Duration;

use skychat_core::{NodeConfig, PqPolicy, PublicKey, Suite};

use super::keys::{is_wrong, key_on, node_of, unreachable_key, wrong_key};
use super::rand::SimRng;

pub use super::keys::{NODE_COUNT, public, secret};

/// The listener that the senders deliver to.
pub const RECEIVER: usize = 0;
/// First honest sender.
pub const SENDER_A: usize = 1;
/// Second honest sender.
pub const SENDER_B: usize = 2;
/// A node that is on no whitelist but tries to deliver to the receiver.
pub const OUTSIDER: usize = 3;
/// A node that dials the receiver's address pinned to the wrong key.
pub const MISPINNED: usize = 4;
/// Nodes whose messages must all arrive: the receiver and the two senders.
pub const HONEST: [usize; 3] = [RECEIVER, SENDER_A, SENDER_B];
/// The share of honest sends, in percent, whose persisting fails on the sender's host.
pub const STORE_FAILURE_PERCENT: u64 = 15;

/// Which timeouts the nodes run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// [`NodeConfig::default`]: 10 s keepalive, 30 s idle timeout, backoff 1 s to 60 s.
    Defaults,
    /// Everything about five times shorter, so more faults fit into a run.
    Short,
}

/// Something that goes wrong, at a scheduled instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Every connection between the two nodes resets; both ends are told.
    Drop(usize, usize),
    /// Connections between the two reset and dials between them fail until the time passes.
    Partition(usize, usize, Duration),
    /// Every connection between the two silently stops delivering, both ways, forever. Neither
    /// end is told; new connections work.
    HalfOpen(usize, usize),
    /// Bytes toward the node take this much longer to be read, for this long.
    SlowReader(usize, Duration, Duration),
    /// The node stops, losing everything it did not persist, and starts again after the delay
    /// with a fresh seed. `silent`: its peers are not told (power loss) and their connections to
    /// it go half-open.
    Crash {
        /// The node.
        node: usize,
        /// How long it stays down.
        down_for: Duration,
        /// Whether its sockets vanish without a reset.
        silent: bool,
    },
}

/// One message the script sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// When.
    pub at: Duration,
    /// The sending node.
    pub from: usize,
    /// The key it sends to (a node's key, or the wrong key for the mispinned node).
    pub to: PublicKey,
    /// Bytes added to the body, so that some frames span many network reads.
    pub padding: usize,
    /// Whether the sender's host fails to persist the message: it then withdraws it from the
    /// node, which must never send it.
    pub store_fails: bool,
}

/// Everything one run does.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The seed it all derives from.
    pub seed: u64,
    /// Node timeouts.
    pub timing: Timing,
    /// Whether the receiver and sender A keep each other connected.
    pub mutual: bool,
    /// The node the outsider keeps connected and sends to: the receiver (whose whitelist
    /// leaves it out) or sender B (whose whitelist is empty).
    pub outsider_target: usize,
    /// Faults, in time order.
    pub faults: Vec<(Duration, Fault)>,
    /// Messages, in time order.
    pub sends: Vec<Send>,
    /// Faults and sends happen before this instant; after it the network heals.
    pub fault_phase: Duration,
    /// Which suite each dialed link speaks.
    pub suites: SuitePlan,
}

/// Which wire suite each link a node dials speaks, and what else a mixed run varies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuitePlan {
    /// Sender A dialing the receiver.
    pub a_to_receiver: Suite,
    /// Sender B dialing the receiver.
    pub b_to_receiver: Suite,
    /// The receiver dialing sender A (in `mutual` scenarios).
    pub receiver_to_a: Suite,
    /// The outsider dialing its target.
    pub outsider: Suite,
    /// The mispinned node dialing the wrong key.
    pub mispinned: Suite,
    /// Sender A's unreachable peer.
    pub unreachable: Suite,
    /// The outsider's key on the suite it does not dial with is on its target's whitelist: the
    /// key it dials with must still be refused, since whitelists are per key.
    pub whitelist_other_outsider_key: bool,
    /// Nodes that do not offer the post-quantum hybrid on the Skywire suite.
    pub classical: [bool; NODE_COUNT],
}

impl SuitePlan {
    /// Every link on the native suite.
    pub fn native() -> Self {
        Self {
            a_to_receiver: Suite::Native,
            b_to_receiver: Suite::Native,
            receiver_to_a: Suite::Native,
            outsider: Suite::Native,
            mispinned: Suite::Native,
            unreachable: Suite::Native,
            whitelist_other_outsider_key: false,
            classical: [false; NODE_COUNT],
        }
    }

    /// Each link's suite drawn from `rng`, with at least one honest link on the Skywire suite.
    pub fn mixed(rng: &mut SimRng, mutual: bool) -> Self {
        let mut pick = || {
            if rng.chance(50) {
                Suite::Skywire
            } else {
                Suite::Native
            }
        };
        let mut plan = Self {
            a_to_receiver: pick(),
            b_to_receiver: pick(),
            receiver_to_a: pick(),
            outsider: pick(),
            mispinned: pick(),
            unreachable: pick(),
            whitelist_other_outsider_key: true,
            classical: [false; NODE_COUNT],
        };
        let honest_skywire = plan.a_to_receiver == Suite::Skywire
            || plan.b_to_receiver == Suite::Skywire
            || (mutual && plan.receiver_to_a == Suite::Skywire);
        if !honest_skywire {
            match rng.below(3) {
                0 => plan.a_to_receiver = Suite::Skywire,
                1 => plan.b_to_receiver = Suite::Skywire,
                _ if mutual => plan.receiver_to_a = Suite::Skywire,
                _ => plan.b_to_receiver = Suite::Skywire,
            }
        }
        for classical in &mut plan.classical {
            *classical = rng.chance(25);
        }
        plan
    }

    /// Whether any link speaks the Skywire suite.
    pub fn any_skywire(&self) -> bool {
        [
            self.a_to_receiver,
            self.b_to_receiver,
            self.receiver_to_a,
            self.outsider,
            self.mispinned,
            self.unreachable,
        ]
        .contains(&Suite::Skywire)
    }
}

/// The other suite.
pub fn other(suite: Suite) -> Suite {
    match suite {
        Suite::Native => Suite::Skywire,
        Suite::Skywire => Suite::Native,
    }
}

impl Scenario {
    /// The scenario of `seed`.
    pub fn generate(seed: u64) -> Self {
        let mut rng = SimRng::new(seed, 0);
        // A stream of its own, so that the other choices are the same as without it.
        let mut store_rng = SimRng::new(seed, 3);
        let timing = if rng.chance(35) {
            Timing::Defaults
        } else {
            Timing::Short
        };
        let mutual = rng.chance(40);
        let outsider_target = if rng.chance(50) { RECEIVER } else { SENDER_B };
        let fault_phase = match timing {
            Timing::Defaults => Duration::from_secs(90),
            Timing::Short => Duration::from_secs(30),
        };
        let config = Self::base_config(timing);
        let keys: Vec<PublicKey> = (0..NODE_COUNT).map(public).collect();
        let wrong = wrong_key(Suite::Native);

        let mut faults = Vec::new();
        for _ in 0..rng.below(7) {
            let at = rng.between(Duration::from_millis(200), fault_phase);
            let sender = if rng.chance(50) { SENDER_A } else { SENDER_B };
            let (a, b) = (RECEIVER, sender);
            let fault = match rng.below(6) {
                0 => Fault::Drop(a, b),
                1 => Fault::Partition(a, b, rng.between(Duration::from_secs(1), fault_phase / 3)),
                2 => Fault::HalfOpen(a, b),
                3 => {
                    let node = if rng.chance(50) { a } else { b };
                    let extra = rng.between(config.idle_timeout / 5, config.idle_timeout * 3 / 2);
                    let span = rng.between(Duration::from_secs(1), fault_phase / 3);
                    Fault::SlowReader(node, extra, span)
                }
                _ => Fault::Crash {
                    node: HONEST[rng.below(3) as usize],
                    down_for: rng.between(Duration::ZERO, config.idle_timeout / 2),
                    silent: rng.chance(30),
                },
            };
            faults.push((at, fault));
        }
        faults.sort_by_key(|(at, _)| *at);

        let mut sends = Vec::new();
        let routes = [
            (SENDER_A, keys[RECEIVER]),
            (SENDER_B, keys[RECEIVER]),
            (RECEIVER, keys[SENDER_A]),
            (RECEIVER, keys[SENDER_B]),
        ];
        for _ in 0..2 + rng.below(7) {
            let (from, to) = routes[rng.below(routes.len() as u64) as usize];
            let at = rng.between(Duration::ZERO, fault_phase);
            let padding = if rng.chance(20) {
                rng.below(20_000) as usize
            } else {
                0
            };
            sends.push(Send {
                at,
                from,
                to,
                padding,
                store_fails: store_rng.chance(STORE_FAILURE_PERCENT),
            });
        }
        for (from, to) in [(OUTSIDER, keys[outsider_target]), (MISPINNED, wrong)] {
            let at = rng.between(Duration::ZERO, fault_phase / 2);
            sends.push(Send {
                at,
                from,
                to,
                padding: 0,
                store_fails: false,
            });
        }
        sends.sort_by_key(|s| s.at);

        Self {
            seed,
            timing,
            mutual,
            outsider_target,
            faults,
            sends,
            fault_phase,
            suites: SuitePlan::native(),
        }
    }

    /// The scenario of `seed` with mixed suites: the same timing, faults and message script as
    /// [`Scenario::generate`], with each link's suite, and the key each message is addressed
    /// to, drawn from a stream of their own.
    pub fn generate_mixed(seed: u64) -> Self {
        let mut scenario = Self::generate(seed);
        let mut rng = SimRng::new(seed, 4);
        scenario.suites = SuitePlan::mixed(&mut rng, scenario.mutual);
        let mut sends = std::mem::take(&mut scenario.sends);
        for send in &mut sends {
            send.to = scenario.address_for(send.from, &send.to, &mut rng);
        }
        scenario.sends = sends;
        scenario
    }

    /// The key `from` sends to instead of `to` under this scenario's suites: one of the keys
    /// of `to`'s node that a link between the two speaks.
    fn address_for(&self, from: usize, to: &PublicKey, rng: &mut SimRng) -> PublicKey {
        let plan = &self.suites;
        if is_wrong(to) {
            return wrong_key(plan.mispinned);
        }
        let Some(target) = node_of(to) else {
            return *to;
        };
        if from == OUTSIDER {
            return key_on(target, plan.outsider);
        }
        let suites = self.link_suites(from, target);
        match suites.as_slice() {
            [] => *to,
            [only] => key_on(target, *only),
            several => key_on(target, several[rng.below(several.len() as u64) as usize]),
        }
    }

    /// The suites of the links between honest nodes `a` and `b`, whichever dials.
    pub fn link_suites(&self, a: usize, b: usize) -> Vec<Suite> {
        let plan = &self.suites;
        let mut suites = Vec::new();
        let mut add = |suite: Suite| {
            if !suites.contains(&suite) {
                suites.push(suite);
            }
        };
        match (a.min(b), a.max(b)) {
            (RECEIVER, SENDER_A) => {
                add(plan.a_to_receiver);
                if self.mutual {
                    add(plan.receiver_to_a);
                }
            }
            (RECEIVER, SENDER_B) => add(plan.b_to_receiver),
            _ => {}
        }
        suites
    }

    /// The timeouts of `timing`, with an empty whitelist.
    pub fn base_config(timing: Timing) -> NodeConfig {
        match timing {
            Timing::Defaults => NodeConfig::default(),
            Timing::Short => NodeConfig {
                handshake_timeout: Duration::from_secs(2),
                keepalive_interval: Duration::from_secs(2),
                idle_timeout: Duration::from_secs(6),
                reconnect_initial: Duration::from_millis(200),
                reconnect_max: Duration::from_secs(12),
                reconnect_stable_after: Duration::from_secs(2),
                ..NodeConfig::default()
            },
        }
    }

    /// Node `index`'s configuration: the timeouts plus its whitelist, which holds each peer
    /// that dials it under the key of the suite it dials with.
    pub fn config(&self, index: usize) -> NodeConfig {
        let plan = &self.suites;
        let mut whitelist = match index {
            RECEIVER => vec![
                key_on(SENDER_A, plan.a_to_receiver),
                key_on(SENDER_B, plan.b_to_receiver),
            ],
            SENDER_A if self.mutual => vec![key_on(RECEIVER, plan.receiver_to_a)],
            _ => vec![],
        };
        if plan.whitelist_other_outsider_key && index == self.outsider_target {
            whitelist.push(key_on(OUTSIDER, other(plan.outsider)));
        }
        NodeConfig {
            whitelist: skychat_core::Whitelist::new(whitelist),
            pq_policy: PqPolicy {
                hybrid: !plan.classical[index],
                require: false,
            },
            ..Self::base_config(self.timing)
        }
    }

    /// The peers node `index` keeps connected.
    pub fn persistent_peers(&self, index: usize) -> Vec<PublicKey> {
        let plan = &self.suites;
        match index {
            RECEIVER if self.mutual => vec![key_on(SENDER_A, plan.receiver_to_a)],
            SENDER_A => vec![
                key_on(RECEIVER, plan.a_to_receiver),
                unreachable_key(plan.unreachable),
            ],
            SENDER_B => vec![key_on(RECEIVER, plan.b_to_receiver)],
            OUTSIDER => vec![key_on(self.outsider_target, plan.outsider)],
            MISPINNED => vec![wrong_key(plan.mispinned)],
            _ => vec![],
        }
    }

    /// The node listening at the address a dialer uses for `key`, if any.
    pub fn address_of(&self, key: &PublicKey) -> Option<usize> {
        if is_wrong(key) {
            return Some(RECEIVER);
        }
        node_of(key)
    }

    /// The instant after which no fault is active any more: the heal phase starts here.
    pub fn heal_start(&self) -> Duration {
        let ends = self.faults.iter().map(|(at, fault)| match fault {
            Fault::Partition(_, _, span) => *at + *span,
            Fault::SlowReader(_, extra, span) => *at + *span + *extra,
            Fault::Crash { down_for, .. } => *at + *down_for,
            _ => *at,
        });
        ends.fold(self.fault_phase, Duration::max)
    }

    /// How long the heal phase may take before undelivered messages count as lost: enough for
    /// a half-open connection to be noticed and the longest backoff to run out, twice.
    pub fn heal_limit(&self) -> Duration {
        let c = Self::base_config(self.timing);
        let noticed = if self.suites.any_skywire() {
            tcp_keepalive_gives_up(self.timing)
        } else {
            c.idle_timeout
        };
        let round = noticed + c.handshake_timeout + c.reconnect_max * 5 / 4;
        self.heal_start() + round * 2 + Duration::from_secs(10)
    }
}

/// How long the simulated hosts' TCP keepalive takes to give up on a connection that carries
/// nothing any more: the socket then fails. The Skywire wire has no ping, so this is how an idle
/// Skywire session on a dead link ends (a session waiting for an ack ends sooner, at the node's
/// idle timeout). Native sessions always notice first, by their own pings, so the model gives
/// their sockets none.
pub fn tcp_keepalive_gives_up(timing: Timing) -> Duration {
    Scenario::base_config(timing).idle_timeout * 2
}
