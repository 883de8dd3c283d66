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

use std::sync::OnceLock;
use std::time::Duration;

use skychat_core::{NodeConfig, PublicKey, SecretKey};

use super::rand::SimRng;

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
/// Nodes in every scenario.
pub const NODE_COUNT: usize = 5;
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
}

/// The identity of node `index` (stable across restarts).
pub fn secret(index: usize) -> SecretKey {
    let mut bytes = [0u8; 32];
    bytes[0] = 0x51;
    bytes[1] = index as u8 + 1;
    SecretKey::from_bytes(bytes)
}

/// Every public key a scenario uses, derived once: the nodes', then the wrong and the
/// unreachable key. (Deriving one is a scalar multiplication, slow in a debug build.)
fn known_keys() -> &'static [PublicKey; NODE_COUNT + 2] {
    static KEYS: OnceLock<[PublicKey; NODE_COUNT + 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        std::array::from_fn(|i| match i {
            NODE_COUNT => SecretKey::from_bytes([0xee; 32]).public_key(),
            i if i > NODE_COUNT => SecretKey::from_bytes([0xdd; 32]).public_key(),
            i => secret(i).public_key(),
        })
    })
}

/// The public key of node `index`.
pub fn public(index: usize) -> PublicKey {
    known_keys()[index]
}

/// The key the mispinned node believes the receiver has.
pub fn wrong_key() -> PublicKey {
    known_keys()[NODE_COUNT]
}

/// A key that no reachable address belongs to.
pub fn unreachable_key() -> PublicKey {
    known_keys()[NODE_COUNT + 1]
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
        for (from, to) in [(OUTSIDER, keys[outsider_target]), (MISPINNED, wrong_key())] {
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
        }
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

    /// Node `index`'s configuration: the timeouts plus its whitelist.
    pub fn config(&self, index: usize) -> NodeConfig {
        let key = public;
        let whitelist = match index {
            RECEIVER => vec![key(SENDER_A), key(SENDER_B)],
            SENDER_A if self.mutual => vec![key(RECEIVER)],
            _ => vec![],
        };
        NodeConfig {
            whitelist: skychat_core::Whitelist::new(whitelist),
            ..Self::base_config(self.timing)
        }
    }

    /// The peers node `index` keeps connected.
    pub fn persistent_peers(&self, index: usize) -> Vec<PublicKey> {
        let key = public;
        match index {
            RECEIVER if self.mutual => vec![key(SENDER_A)],
            SENDER_A => vec![key(RECEIVER), unreachable_key()],
            SENDER_B => vec![key(RECEIVER)],
            OUTSIDER => vec![key(self.outsider_target)],
            MISPINNED => vec![wrong_key()],
            _ => vec![],
        }
    }

    /// The node listening at the address a dialer uses for `key`, if any.
    pub fn address_of(&self, key: &PublicKey) -> Option<usize> {
        if *key == wrong_key() {
            return Some(RECEIVER);
        }
        (0..NODE_COUNT).find(|i| public(*i) == *key)
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
        let round = c.idle_timeout + c.handshake_timeout + c.reconnect_max * 5 / 4;
        self.heal_start() + round * 2 + Duration::from_secs(10)
    }
}
