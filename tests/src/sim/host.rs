//! A simulated host: one node, what its host persists (outbox, received messages, dedup marks,
//! which received messages it has confirmed as stored), and what it loses on a crash (the node
//! itself, its sockets, confirmations not yet made).
//!
//! Like the real store, the host keeps at most one copy of a message per sender key and id: a
//! Skywire peer's resend that a restarted node delivers again (its Skywire dedup lives in
//! memory) is not stored twice, and is confirmed again so that the node acks it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use skychat_core::{
    ChatMessage, ConnId, DedupRecord, MessageId, Node, NodeConfig, Output, PublicKey, SecretKey,
    Suite,
};

use super::keys::NodeKeys;
use super::network::ConnKey;

/// Outputs a node may produce in one drain before the simulation calls it a livelock.
const MAX_OUTPUTS_PER_DRAIN: usize = 100_000;

/// What survives a restart.
#[derive(Debug, Default)]
pub struct Persisted {
    /// Every accepted, unacked message, in the order it was accepted.
    pub outbox: Vec<(PublicKey, ChatMessage)>,
    /// Every received message, per sender, in the order it was stored.
    pub store: BTreeMap<PublicKey, Vec<ChatMessage>>,
    /// Per (native sender, stream): the highest sequence stored.
    pub marks: BTreeMap<(PublicKey, u64), u64>,
    /// Received messages the host has told its node are stored (every stored message counts
    /// once the host restarts: the new node learns of them from the dedup marks, or is told
    /// again when a Skywire peer resends one). An ack is owed only for these.
    pub confirmed: BTreeSet<(PublicKey, MessageId)>,
}

impl Persisted {
    /// Whether a message `id` from `peer` is stored.
    pub fn has(&self, peer: &PublicKey, id: MessageId) -> bool {
        self.store
            .get(peer)
            .is_some_and(|messages| messages.iter().any(|m| m.id == id))
    }
}

/// One simulated host.
pub struct Host {
    /// Its index in the world.
    pub index: usize,
    /// Its identity, kept across restarts.
    pub secret: SecretKey,
    /// Its public keys, one per suite.
    pub keys: NodeKeys,
    /// Its configuration, kept across restarts.
    pub config: NodeConfig,
    /// The peers it keeps connected.
    pub persistent: Vec<PublicKey>,
    /// The running node, or `None` while it is down.
    pub node: Option<Node>,
    /// How many times it has started.
    pub incarnation: u32,
    /// The node's next deadline.
    pub deadline: Option<Duration>,
    /// Its live sockets.
    pub sockets: BTreeMap<ConnId, ConnKey>,
    /// Its authenticated sessions: when each authenticated and with whom.
    pub sessions: BTreeMap<ConnId, (PublicKey, Duration)>,
    /// What it persisted.
    pub persisted: Persisted,
}

impl Host {
    /// A host that is not started yet.
    pub fn new(
        index: usize,
        secret: SecretKey,
        keys: NodeKeys,
        config: NodeConfig,
        persistent: Vec<PublicKey>,
    ) -> Self {
        Self {
            index,
            secret,
            keys,
            config,
            persistent,
            node: None,
            incarnation: 0,
            deadline: None,
            sockets: BTreeMap::new(),
            sessions: BTreeMap::new(),
            persisted: Persisted::default(),
        }
    }

    /// Starts a fresh node with `seed` from what was persisted: the outbox in its original order,
    /// then the dedup marks, then the persistent peers.
    pub fn start(&mut self, now: Duration, seed: [u8; 32]) {
        for (peer, messages) in &self.persisted.store {
            let stored = messages.iter().map(|m| (*peer, m.id));
            self.persisted.confirmed.extend(stored);
        }
        let mut node = Node::new(self.secret.clone(), self.config.clone(), seed);
        for (peer, message) in &self.persisted.outbox {
            node.restore_outbox(now, *peer, message.clone());
        }
        for (&(peer, stream), &stored) in &self.persisted.marks {
            node.restore_dedup(
                now,
                DedupRecord {
                    peer,
                    stream,
                    stored,
                },
            );
        }
        for peer in &self.persistent {
            node.add_persistent_peer(now, *peer);
        }
        self.node = Some(node);
        self.incarnation += 1;
    }

    /// Stops the node, losing everything not persisted.
    pub fn crash(&mut self) {
        self.node = None;
        self.deadline = None;
        self.sockets.clear();
        self.sessions.clear();
    }

    /// The running node.
    pub fn node(&mut self) -> &mut Node {
        self.node.as_mut().expect("node is up")
    }

    /// Polls the node until it has nothing more to do; returns the transmits and events and
    /// remembers the deadline.
    pub fn drain(&mut self) -> Result<Vec<Output>, String> {
        let mut out = Vec::new();
        let Some(node) = self.node.as_mut() else {
            return Ok(out);
        };
        loop {
            match node.poll_output() {
                Output::Timeout(at) => {
                    self.deadline = at;
                    return Ok(out);
                }
                other => out.push(other),
            }
            if out.len() > MAX_OUTPUTS_PER_DRAIN {
                return Err(format!(
                    "node {} produced more than {MAX_OUTPUTS_PER_DRAIN} outputs without \
                     returning a timeout",
                    self.index
                ));
            }
        }
    }

    /// Persists a message the node accepted for `peer`.
    pub fn persist_accepted(&mut self, peer: PublicKey, message: ChatMessage) {
        self.persisted.outbox.push((peer, message));
    }

    /// Removes an acked message from the persisted outbox; false if it was not there.
    pub fn persist_acked(&mut self, peer: PublicKey, id: MessageId) -> bool {
        let before = self.persisted.outbox.len();
        self.persisted
            .outbox
            .retain(|(p, m)| !(*p == peer && m.id == id));
        self.persisted.outbox.len() != before
    }

    /// Stores a received message and, for a native sender, raises its stream's mark. Returns
    /// false, storing nothing, if the message was already stored.
    pub fn persist_received(&mut self, peer: PublicKey, message: ChatMessage) -> bool {
        if self.persisted.has(&peer, message.id) {
            return false;
        }
        if peer.suite() == Suite::Native {
            let mark = self
                .persisted
                .marks
                .entry((peer, message.id.stream))
                .or_default();
            *mark = (*mark).max(message.id.seq);
        }
        self.persisted.store.entry(peer).or_default().push(message);
        true
    }

    /// Tells the node that message `id` from `peer` is stored, and remembers having told it.
    pub fn confirm_stored(&mut self, now: Duration, peer: PublicKey, id: MessageId) {
        self.node().confirm_stored(now, peer, id);
        self.persisted.confirmed.insert((peer, id));
    }
}
