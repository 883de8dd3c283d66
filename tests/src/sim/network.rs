//! The simulated network: TCP-like connections between nodes with seeded per-pair latency and
//! jitter, kept in order per direction, and the faults that break them (resets, partitions,
//! half-open connections, slow readers). It decides when bytes arrive; the world delivers them.

use std::collections::BTreeMap;
use std::time::Duration;

use skychat_core::{ConnId, Suite};

use super::rand::SimRng;

/// A connection's id across the whole simulation.
pub type ConnKey = u64;

/// Whether a connection still carries bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Bytes flow.
    Open,
    /// Reset: in-flight bytes are lost and both ends are told.
    Reset,
    /// Half-open: nothing is delivered any more and nobody is told.
    BlackHoled,
}

/// One end of a connection.
#[derive(Debug, Clone)]
pub struct End {
    /// The node holding it.
    pub node: usize,
    /// The node's incarnation when it opened.
    pub incarnation: u32,
    /// The node's id for it.
    pub conn: ConnId,
    /// The socket is closed on this side (by the host, a reset, or the node's death).
    pub closed: bool,
    /// When the latest bytes toward this end arrive: later bytes never overtake them.
    last_arrival: Duration,
}

/// A connection: end 0 dialed, end 1 accepted.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Dialer and listener.
    pub ends: [End; 2],
    /// Whether it carries bytes.
    pub state: LinkState,
    /// The wire suite it speaks (the dialer's choice, by the key it dialed).
    pub suite: Suite,
}

/// All connections and the network's condition.
pub struct Network {
    rng: SimRng,
    /// Base one-way latency and jitter per node pair.
    paths: BTreeMap<(usize, usize), (Duration, Duration)>,
    partitions: BTreeMap<(usize, usize), Duration>,
    slow: BTreeMap<usize, (Duration, Duration)>,
    conns: BTreeMap<ConnKey, Connection>,
    next_key: ConnKey,
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl Network {
    /// A network of `nodes` nodes whose latencies derive from `seed`.
    pub fn new(seed: u64, nodes: usize) -> Self {
        let mut rng = SimRng::new(seed, 1);
        let mut paths = BTreeMap::new();
        for a in 0..nodes {
            for b in a + 1..nodes {
                let base = rng.between(Duration::from_millis(1), Duration::from_millis(80));
                let jitter = rng.between(Duration::ZERO, Duration::from_millis(30));
                paths.insert((a, b), (base, jitter));
            }
        }
        Self {
            rng,
            paths,
            partitions: BTreeMap::new(),
            slow: BTreeMap::new(),
            conns: BTreeMap::new(),
            next_key: 1,
        }
    }

    /// The seeded random source of the network, for the world's own timing choices.
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }

    /// A one-way delay from `from` to `to` sent at `now`, slow readers included.
    pub fn one_way(&mut self, now: Duration, from: usize, to: usize) -> Duration {
        let (base, jitter) = self.paths[&pair(from, to)];
        let mut delay = base + self.rng.between(Duration::ZERO, jitter);
        if let Some(&(until, extra)) = self.slow.get(&to)
            && now < until
        {
            delay += extra;
        }
        delay
    }

    /// Whether dials between `a` and `b` fail at `now`.
    pub fn partitioned(&self, now: Duration, a: usize, b: usize) -> bool {
        self.partitions
            .get(&pair(a, b))
            .is_some_and(|until| now < *until)
    }

    /// Dials between `a` and `b` fail until `until`.
    pub fn partition(&mut self, a: usize, b: usize, until: Duration) {
        let entry = self.partitions.entry(pair(a, b)).or_default();
        *entry = (*entry).max(until);
    }

    /// Bytes toward `node` take `extra` longer until `until`.
    pub fn slow_down(&mut self, node: usize, extra: Duration, until: Duration) {
        self.slow.insert(node, (until, extra));
    }

    /// A new open connection from `dialer` to `listener`: (node, incarnation, conn id) each,
    /// speaking `suite`.
    pub fn open(
        &mut self,
        dialer: (usize, u32, ConnId),
        listener: (usize, u32, ConnId),
        suite: Suite,
    ) -> ConnKey {
        let end = |(node, incarnation, conn): (usize, u32, ConnId)| End {
            node,
            incarnation,
            conn,
            closed: false,
            last_arrival: Duration::ZERO,
        };
        let key = self.next_key;
        self.next_key += 1;
        self.conns.insert(
            key,
            Connection {
                ends: [end(dialer), end(listener)],
                state: LinkState::Open,
                suite,
            },
        );
        key
    }

    /// When something written now toward end `to` of `key` arrives, or `None` if it never does.
    /// Arrivals on one direction never overtake each other.
    pub fn arrival(&mut self, now: Duration, key: ConnKey, to: usize) -> Option<Duration> {
        let conn = self.conns.get(&key)?;
        if conn.state != LinkState::Open || conn.ends[to].closed {
            return None;
        }
        let (from_node, to_node) = (conn.ends[1 - to].node, conn.ends[to].node);
        let delay = self.one_way(now, from_node, to_node);
        let end = &mut self.conns.get_mut(&key).expect("checked above").ends[to];
        end.last_arrival = end.last_arrival.max(now + delay);
        Some(end.last_arrival)
    }

    /// The connection `key`.
    pub fn conn(&self, key: ConnKey) -> &Connection {
        &self.conns[&key]
    }

    /// The connection `key`, to change.
    pub fn conn_mut(&mut self, key: ConnKey) -> &mut Connection {
        self.conns.get_mut(&key).expect("known connection")
    }

    /// Open connections between `a` and `b`.
    pub fn between(&self, a: usize, b: usize) -> Vec<ConnKey> {
        self.conns
            .iter()
            .filter(|(_, c)| {
                c.state == LinkState::Open && pair(c.ends[0].node, c.ends[1].node) == pair(a, b)
            })
            .map(|(key, _)| *key)
            .collect()
    }
}
