//! Test nodes for the conformance checks: keys, configs, and an event watcher whose every wait
//! is bounded.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use skychat_core::{
    ChatMessage, ConnId, DedupRecord, Event, MessageId, NodeConfig, PublicKey, SecretKey, Whitelist,
};

use crate::runtime::{Runtime, timeout};
use crate::{DriverConfig, Events, NodeHandle};

/// The longest any single wait in the suite may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// A secret key derived from `n`; distinct `n` give distinct keys.
pub fn key(n: u32) -> SecretKey {
    // Away from the bits that X25519 clamps.
    let mut bytes = [0x5a; 32];
    bytes[4..8].copy_from_slice(&n.to_le_bytes());
    SecretKey::from_bytes(bytes)
}

/// A node config allowing `whitelist` inbound, with short reconnect delays for tests.
pub fn node_config(whitelist: &[PublicKey]) -> NodeConfig {
    NodeConfig {
        whitelist: Whitelist::new(whitelist.iter().copied()),
        reconnect_initial: Duration::from_millis(100),
        reconnect_max: Duration::from_secs(2),
        ..NodeConfig::default()
    }
}

/// A driver config for identity `n`.
pub fn driver_config(n: u32, node: NodeConfig) -> DriverConfig {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    seed[4..12].copy_from_slice(&(Instant::now().elapsed().as_nanos() as u64).to_le_bytes());
    DriverConfig {
        identity: key(n),
        node,
        seed,
        restore_outbox: Vec::new(),
        restore_dedup: Vec::new(),
        tcp_keepalive: Some(Duration::from_secs(30)),
    }
}

/// A started node and everything it has reported.
pub struct TestNode<R: Runtime + Clone> {
    /// The runtime, for timeouts.
    pub runtime: R,
    /// The node.
    pub handle: NodeHandle,
    events: Events,
    /// Every event received so far, in order.
    pub seen: Vec<Event>,
    unmatched: VecDeque<Event>,
}

impl<R: Runtime + Clone> TestNode<R> {
    /// Starts identity `n` with `node` limits.
    pub fn start(runtime: &R, n: u32, node: NodeConfig) -> Self {
        Self::start_with(runtime, driver_config(n, node))
    }

    /// Starts a node from a full driver config.
    pub fn start_with(runtime: &R, config: DriverConfig) -> Self {
        let handle = crate::start(runtime.clone(), config);
        let events = handle.events();
        Self {
            runtime: runtime.clone(),
            handle,
            events,
            seen: Vec::new(),
            unmatched: VecDeque::new(),
        }
    }

    /// This node's native key.
    pub fn key(&self) -> PublicKey {
        self.handle.public_key()
    }

    /// This node's Skywire key.
    pub fn skywire_key(&self) -> PublicKey {
        self.handle
            .skywire_public_key()
            .expect("test keys are valid secp256k1 secrets")
    }

    /// Listens on an ephemeral loopback port and returns it.
    pub async fn listen(&self) -> SocketAddr {
        self.listen_on("127.0.0.1:0".parse().expect("address"))
            .await
    }

    /// Listens on `addr`.
    pub async fn listen_on(&self, addr: SocketAddr) -> SocketAddr {
        self.handle.listen(addr).await.expect("listen")
    }

    async fn next_event(&mut self, deadline: Instant, what: &str) -> Option<Event> {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(&self.runtime, left, self.events.recv()).await {
            Some(Ok(event)) => {
                self.seen.push(event.clone());
                Some(event)
            }
            Some(Err(_)) => panic!("event stream ended while waiting for {what}"),
            None => None,
        }
    }

    /// The first not yet matched event that satisfies `pred`, waiting at most [`WAIT`].
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        self.wait_for_within(WAIT, what, pred)
            .await
            .unwrap_or_else(|| {
                panic!(
                    "{}: no {what} within {WAIT:?}; seen {:?}",
                    self.key().short(),
                    self.seen
                )
            })
    }

    /// Like [`TestNode::wait_for`] with a custom limit; `None` if it passes.
    pub async fn wait_for_within(
        &mut self,
        limit: Duration,
        what: &str,
        pred: impl Fn(&Event) -> bool,
    ) -> Option<Event> {
        if let Some(i) = self.unmatched.iter().position(&pred) {
            return self.unmatched.remove(i);
        }
        let deadline = Instant::now() + limit;
        while let Some(event) = self.next_event(deadline, what).await {
            if pred(&event) {
                return Some(event);
            }
            self.unmatched.push_back(event);
        }
        None
    }

    /// Collects events until `deadline`, for checks that count what happens in a window.
    pub async fn gather_until(&mut self, deadline: Instant) {
        while let Some(event) = self.next_event(deadline, "events").await {
            self.unmatched.push_back(event);
        }
    }

    /// Waits for an authenticated session with `peer`.
    pub async fn authenticated_with(&mut self, peer: PublicKey) -> ConnId {
        match self
            .wait_for(
                "authenticated session",
                |e| matches!(e, Event::Authenticated { peer: p, .. } if *p == peer),
            )
            .await
        {
            Event::Authenticated { conn, .. } => conn,
            _ => unreachable!(),
        }
    }

    /// Waits for the next message from `peer`, stores it (confirms) and returns it.
    pub async fn receive_from(&mut self, peer: PublicKey) -> ChatMessage {
        let event = self
            .wait_for(
                "message",
                |e| matches!(e, Event::MessageReceived { peer: p, .. } if *p == peer),
            )
            .await;
        let Event::MessageReceived { message, .. } = event else {
            unreachable!()
        };
        self.handle.confirm_stored(peer, message.id).await;
        message
    }

    /// Waits for `peer`'s ack of `id`.
    pub async fn acked(&mut self, peer: PublicKey, id: MessageId) {
        self.wait_for(
            "ack",
            |e| matches!(e, Event::MessageAcked { peer: p, id: i, .. } if *p == peer && *i == id),
        )
        .await;
    }

    /// Messages delivered so far, in order.
    pub fn delivered(&self) -> Vec<ChatMessage> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                Event::MessageReceived { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    /// Events seen so far that satisfy `pred`.
    pub fn count(&self, pred: impl Fn(&Event) -> bool) -> usize {
        self.seen.iter().filter(|e| pred(e)).count()
    }

    /// Shuts the node down and returns its dedup marks, as a host persists them.
    pub async fn shutdown(self) -> Vec<DedupRecord> {
        let records = self.handle.dedup_records().await;
        self.handle.shutdown().await;
        records
    }
}
