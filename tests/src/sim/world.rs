//! The world: hosts, network and a virtual clock. Each step jumps the clock to the earliest
//! pending thing (bytes arriving, a node's deadline, a scheduled send, fault or restart), feeds it
//! to the node concerned and acts on that node's outputs the way a real host would.
//!
//! The host stores a received message when its node hands it over and confirms the storage to
//! the node later (at once, or after a random delay standing for the write); the node must not
//! ack before that confirmation, on either suite. A connection dialed by a 66-hex key speaks the
//! Skywire suite; the listener answers both suites. Sockets of Skywire connections have TCP
//! keepalive, which fails a black-holed one after [`tcp_keepalive_gives_up`].

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use skychat_core::{CloseReason, ConnKind, Event, MessageId, Output, PublicKey, Suite, Transmit};

use super::host::Host;
use super::invariants::{Checker, Stats};
use super::keys::{is_wrong, keys, node_of};
use super::network::{ConnKey, LinkState, Network};
use super::rand::SimRng;
use super::scenario::{
    Fault, HONEST, MISPINNED, NODE_COUNT, OUTSIDER, Scenario, secret, tcp_keepalive_gives_up,
};
use super::transcript::Transcript;

/// Steps a run may take before it counts as a livelock.
pub const MAX_STEPS: u64 = 200_000;

/// Refused connections the outsider and the mispinned node go through before their hosts stop
/// them: enough to see the backoff double several times, and it keeps a run's handshakes (the
/// costly part) few.
pub const ADVERSARY_ATTEMPTS: u32 = 3;

/// What a finished run reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Hash of every transmitted byte and every event.
    pub transcript: Transcript,
    /// Steps taken.
    pub steps: u64,
    /// Virtual time at the end.
    pub end: Duration,
    /// What the checks observed.
    pub stats: Stats,
}

#[derive(Debug)]
enum Action {
    Send {
        from: usize,
        to: PublicKey,
        body: String,
        store_fails: bool,
    },
    Deliver {
        key: ConnKey,
        to: usize,
        bytes: Bytes,
    },
    Fin {
        key: ConnKey,
        to: usize,
    },
    Reset {
        key: ConnKey,
        to: usize,
    },
    /// TCP keepalive of end `to` of the black-holed `key` gives up: its socket fails.
    KeepaliveGaveUp {
        key: ConnKey,
        to: usize,
    },
    Connect {
        dialer: usize,
        incarnation: u32,
        peer: PublicKey,
        target: usize,
    },
    DialFailed {
        dialer: usize,
        incarnation: u32,
        peer: PublicKey,
    },
    Confirm {
        node: usize,
        incarnation: u32,
        peer: PublicKey,
        id: MessageId,
    },
    Fault(Fault),
    Restart {
        node: usize,
    },
    Retire {
        node: usize,
    },
}

struct World {
    scenario: Scenario,
    now: Duration,
    rng: SimRng,
    hosts: Vec<Host>,
    net: Network,
    agenda: BTreeMap<(Duration, u64), Action>,
    next_seq: u64,
    checker: Checker,
    transcript: Transcript,
    down: Vec<bool>,
    mispinned_transmits: BTreeMap<ConnKey, usize>,
    refused: [u32; NODE_COUNT],
}

/// Runs `scenario` to the end of its heal phase and checks every invariant. The error names the
/// seed and the first violation.
pub fn run(scenario: &Scenario) -> Result<Outcome, String> {
    let mut world = World::new(scenario.clone());
    world
        .run()
        .map_err(|e| format!("seed {} at {:?}: {e}", scenario.seed, world.now))
}

impl World {
    fn new(scenario: Scenario) -> Self {
        let hosts = (0..NODE_COUNT)
            .map(|i| {
                Host::new(
                    i,
                    secret(i),
                    keys(i),
                    scenario.config(i),
                    scenario.persistent_peers(i),
                )
            })
            .collect();
        let mut world = Self {
            now: Duration::ZERO,
            rng: SimRng::new(scenario.seed, 2),
            hosts,
            net: Network::new(scenario.seed, NODE_COUNT),
            agenda: BTreeMap::new(),
            next_seq: 0,
            checker: Checker::new(&scenario),
            transcript: Transcript::default(),
            down: vec![false; NODE_COUNT],
            mispinned_transmits: BTreeMap::new(),
            refused: [0; NODE_COUNT],
            scenario,
        };
        for (k, send) in world.scenario.sends.clone().into_iter().enumerate() {
            let body = format!("message {k} from node {}", send.from) + &"x".repeat(send.padding);
            let action = Action::Send {
                from: send.from,
                to: send.to,
                body,
                store_fails: send.store_fails,
            };
            world.schedule(send.at, action);
        }
        for (at, fault) in world.scenario.faults.clone() {
            world.schedule(at, Action::Fault(fault));
        }
        world
    }

    fn schedule(&mut self, at: Duration, action: Action) {
        self.agenda.insert((at, self.next_seq), action);
        self.next_seq += 1;
    }

    fn run(&mut self) -> Result<Outcome, String> {
        for i in 0..NODE_COUNT {
            let seed = self.rng.seed32();
            self.hosts[i].start(self.now, seed);
            self.drain(i)?;
        }
        let heal_start = self.scenario.heal_start();
        let heal_limit = self.scenario.heal_limit();
        for step in 0..MAX_STEPS {
            if self.now >= heal_start && self.healed() {
                self.checker
                    .finish(|node, peer| self.connected(node, peer))?;
                self.check_stores()?;
                return Ok(Outcome {
                    transcript: self.transcript,
                    steps: step,
                    end: self.now,
                    stats: self.checker.stats.clone(),
                });
            }
            let timer = (0..NODE_COUNT)
                .filter_map(|i| self.hosts[i].deadline.map(|at| (at, i)))
                .min();
            let agenda = self.agenda.first_key_value().map(|(k, _)| k.0);
            let (at, timer_node) = match (timer, agenda) {
                (Some((t, i)), Some(a)) if t <= a => (t, Some(i)),
                (Some((t, i)), None) => (t, Some(i)),
                (_, Some(a)) => (a, None),
                (None, None) => return Err("nothing left to happen".into()),
            };
            if at > heal_limit {
                self.checker
                    .finish(|node, peer| self.connected(node, peer))?;
                return Err(format!(
                    "the network healed at {heal_start:?} but the run did not settle by \
                     {heal_limit:?}"
                ));
            }
            self.now = self.now.max(at);
            self.checker.overdue(self.now)?;
            match timer_node {
                Some(i) => {
                    self.hosts[i].node().handle_timeout(self.now);
                    self.drain(i)?;
                }
                None => {
                    let (_, action) = self.agenda.pop_first().expect("peeked above");
                    self.act(action)?;
                }
            }
        }
        Err(format!(
            "livelock: {MAX_STEPS} steps without settling ({} actions pending)",
            self.agenda.len()
        ))
    }

    /// Everything honest is delivered and acked, every outbox is empty, every persistent link
    /// between honest nodes has a session, and no half-open connection is left.
    fn healed(&self) -> bool {
        let outboxes_empty = HONEST.iter().all(|&i| {
            let host = &self.hosts[i];
            host.persisted.outbox.is_empty()
                && host.node.as_ref().is_some_and(|n| n.queued_total() == 0)
        });
        let linked = HONEST.iter().all(|&i| {
            self.hosts[i]
                .persistent
                .iter()
                .filter(|p| HONEST.iter().any(|&j| self.hosts[j].keys.owns(p)))
                .all(|p| self.connected(i, p))
        });
        outboxes_empty
            && linked
            && self.checker.all_delivered()
            && self
                .checker
                .settled(|node, peer| self.connected(node, peer))
    }

    /// Invariant 1 at the end, on what the hosts kept: each receiver's store holds, under the
    /// sender's key of each suite, exactly the messages accepted on that route, once each and
    /// in the order they were sent.
    fn check_stores(&self) -> Result<(), String> {
        for (&(sender, receiver, suite), accepted) in self.checker.honest_accepted() {
            let from = self.hosts[sender].keys.on(suite);
            let stored: Vec<MessageId> = self.hosts[receiver]
                .persisted
                .store
                .get(&from)
                .map(|messages| messages.iter().map(|m| m.id).collect())
                .unwrap_or_default();
            if stored != *accepted {
                return Err(format!(
                    "node {receiver} stored {stored:?} from node {sender} ({suite}), but \
                     {accepted:?} were sent, in that order"
                ));
            }
        }
        Ok(())
    }

    fn connected(&self, node: usize, peer: &PublicKey) -> bool {
        self.hosts[node].sessions.values().any(|(p, _)| p == peer)
    }

    fn act(&mut self, action: Action) -> Result<(), String> {
        match action {
            Action::Send {
                from,
                to,
                body,
                store_fails,
            } => self.send(from, to, body, store_fails),
            Action::Deliver { key, to, bytes } => {
                let Some(node) = self.live_end(key, to, LinkState::Open) else {
                    return Ok(());
                };
                let conn = self.net.conn(key).ends[to].conn;
                self.hosts[node]
                    .node()
                    .handle_receive(self.now, conn, &bytes);
                self.drain(node)
            }
            Action::Fin { key, to } => self.socket_closed(key, to, LinkState::Open),
            Action::Reset { key, to } => self.socket_closed(key, to, LinkState::Reset),
            Action::KeepaliveGaveUp { key, to } => {
                self.socket_closed(key, to, LinkState::BlackHoled)
            }
            Action::Connect {
                dialer,
                incarnation,
                peer,
                target,
            } => self.connect(dialer, incarnation, peer, target),
            Action::DialFailed {
                dialer,
                incarnation,
                peer,
            } => {
                if self.hosts[dialer].incarnation != incarnation || self.down[dialer] {
                    return Ok(());
                }
                self.checker
                    .dial_failed(dialer, incarnation, &peer, self.now);
                self.hosts[dialer].node().dial_failed(self.now, peer);
                self.drain(dialer)
            }
            Action::Confirm {
                node,
                incarnation,
                peer,
                id,
            } => {
                if self.hosts[node].incarnation != incarnation || self.down[node] {
                    return Ok(());
                }
                self.hosts[node].confirm_stored(self.now, peer, id);
                if self.rng.chance(30) {
                    self.hosts[node]
                        .node()
                        .send_read_receipt(self.now, peer, id);
                }
                self.drain(node)
            }
            Action::Fault(fault) => self.fault(fault),
            Action::Restart { node } => {
                self.down[node] = false;
                let seed = self.rng.seed32();
                self.hosts[node].start(self.now, seed);
                self.drain(node)
            }
            Action::Retire { node } => {
                self.hosts[node].node().close_all(self.now);
                self.drain(node)
            }
        }
    }

    /// The socket of end `to` of `key` learns that the connection ended.
    fn socket_closed(&mut self, key: ConnKey, to: usize, state: LinkState) -> Result<(), String> {
        let Some(node) = self.live_end(key, to, state) else {
            return Ok(());
        };
        let end = &mut self.net.conn_mut(key).ends[to];
        end.closed = true;
        let conn = end.conn;
        self.hosts[node].sockets.remove(&conn);
        self.hosts[node].node().handle_socket_closed(self.now, conn);
        self.drain(node)
    }

    /// The node holding end `to` of `key`, if the connection is in `state` and that end's socket
    /// is still open.
    fn live_end(&self, key: ConnKey, to: usize, state: LinkState) -> Option<usize> {
        let conn = self.net.conn(key);
        let end = &conn.ends[to];
        let live = conn.state == state
            && !end.closed
            && !self.down[end.node]
            && self.hosts[end.node].incarnation == end.incarnation;
        live.then_some(end.node)
    }

    /// The host's send: hold the message, persist it, then release it; or, when persisting
    /// fails, withdraw it, after which the node must never send it (the checker would see an
    /// id it was not told of, or a later message missing).
    fn send(
        &mut self,
        from: usize,
        to: PublicKey,
        body: String,
        store_fails: bool,
    ) -> Result<(), String> {
        if self.down[from] {
            return Ok(());
        }
        let sent_at_ms = self.now.as_millis() as u64;
        let message = self.hosts[from]
            .node()
            .hold_message(self.now, to, body, None, sent_at_ms)
            .map_err(|e| format!("node {from} refused a message: {e}"))?;
        self.drain(from)?;
        if store_fails {
            let withdrawn = self.hosts[from]
                .node()
                .withdraw_message(self.now, to, message.id);
            if withdrawn != [message.id] {
                return Err(format!(
                    "node {from} withdrew {withdrawn:?} instead of {:?}",
                    message.id
                ));
            }
            self.checker.stats.withdrawn += 1;
            return self.drain(from);
        }
        self.checker.accepted(from, &to, message.id);
        self.hosts[from].persist_accepted(to, message.clone());
        if !self.hosts[from]
            .node()
            .release_message(self.now, to, message.id)
        {
            return Err(format!("node {from} had not held {:?}", message.id));
        }
        self.drain(from)
    }

    fn connect(
        &mut self,
        dialer: usize,
        incarnation: u32,
        peer: PublicKey,
        target: usize,
    ) -> Result<(), String> {
        if self.hosts[dialer].incarnation != incarnation || self.down[dialer] {
            return Ok(());
        }
        if self.down[target] || self.net.partitioned(self.now, dialer, target) {
            self.checker
                .dial_failed(dialer, incarnation, &peer, self.now);
            self.hosts[dialer].node().dial_failed(self.now, peer);
            return self.drain(dialer);
        }
        let now = self.now;
        self.checker.stats.connections += 1;
        let dialer_conn = self.hosts[dialer]
            .node()
            .connect(now, peer, ConnKind::Persistent);
        self.checker.dialed(dialer, incarnation, dialer_conn, peer);
        let listener_conn = self.hosts[target]
            .node()
            .accept(now)
            .map_err(|e| format!("node {target} refused a connection: {e}"))?;
        let key = self.net.open(
            (dialer, incarnation, dialer_conn),
            (target, self.hosts[target].incarnation, listener_conn),
            peer.suite(),
        );
        self.hosts[dialer].sockets.insert(dialer_conn, key);
        self.hosts[target].sockets.insert(listener_conn, key);
        self.drain(dialer)?;
        self.drain(target)
    }

    fn fault(&mut self, fault: Fault) -> Result<(), String> {
        match fault {
            Fault::Drop(a, b) => self.reset_between(a, b),
            Fault::Partition(a, b, span) => {
                self.net.partition(a, b, self.now + span);
                self.reset_between(a, b)
            }
            Fault::HalfOpen(a, b) => {
                for key in self.net.between(a, b) {
                    self.black_hole(key);
                }
                Ok(())
            }
            Fault::SlowReader(node, extra, span) => {
                self.net.slow_down(node, extra, self.now + span);
                Ok(())
            }
            Fault::Crash {
                node,
                down_for,
                silent,
            } => {
                if self.down[node] {
                    return Ok(());
                }
                let keys: Vec<ConnKey> = self.hosts[node].sockets.values().copied().collect();
                for key in keys {
                    let conn = self.net.conn(key);
                    let side = usize::from(conn.ends[1].node == node);
                    if silent && conn.state == LinkState::Open {
                        self.net.conn_mut(key).ends[side].closed = true;
                        self.black_hole(key);
                    } else {
                        self.net.conn_mut(key).ends[side].closed = true;
                        if let Some(at) = self.net.arrival(self.now, key, 1 - side) {
                            self.schedule(at, Action::Fin { key, to: 1 - side });
                        }
                    }
                }
                self.hosts[node].crash();
                self.checker.crashed(node);
                self.down[node] = true;
                self.schedule(self.now + down_for, Action::Restart { node });
                Ok(())
            }
        }
    }

    fn reset_between(&mut self, a: usize, b: usize) -> Result<(), String> {
        for key in self.net.between(a, b) {
            self.net.conn_mut(key).state = LinkState::Reset;
            for to in 0..2 {
                let delay = self
                    .net
                    .rng()
                    .between(Duration::ZERO, Duration::from_millis(300));
                self.schedule(self.now + delay, Action::Reset { key, to });
            }
        }
        Ok(())
    }

    /// Connection `key` stops delivering; each end still open must notice by itself (a Skywire
    /// end may leave it to its socket's TCP keepalive).
    fn black_hole(&mut self, key: ConnKey) {
        self.net.conn_mut(key).state = LinkState::BlackHoled;
        let suite = self.net.conn(key).suite;
        for (side, end) in self.net.conn(key).ends.clone().into_iter().enumerate() {
            if end.closed
                || self.down[end.node]
                || self.hosts[end.node].incarnation != end.incarnation
            {
                continue;
            }
            let authenticated = self.hosts[end.node].sessions.contains_key(&end.conn);
            self.checker.half_open(
                end.node,
                end.incarnation,
                end.conn,
                authenticated,
                suite,
                self.now,
            );
            if suite == Suite::Skywire {
                let at = self.now + tcp_keepalive_gives_up(self.scenario.timing);
                self.schedule(at, Action::KeepaliveGaveUp { key, to: side });
            }
        }
    }

    /// Drains node `i` and acts on each output.
    fn drain(&mut self, i: usize) -> Result<(), String> {
        for output in self.hosts[i].drain()? {
            match output {
                Output::Transmit(t) => self.transmit(i, t)?,
                Output::Dial { peer } => self.dial(i, peer)?,
                Output::Event(e) => self.event(i, e)?,
                Output::Timeout(_) => unreachable!("drain stops at the timeout"),
            }
        }
        Ok(())
    }

    /// Node `i` asked its host to dial `peer`.
    fn dial(&mut self, i: usize, peer: PublicKey) -> Result<(), String> {
        self.transcript.record(
            self.now,
            i,
            format!("{:?}", Output::Dial { peer }).as_bytes(),
        );
        let now = self.now;
        let incarnation = self.hosts[i].incarnation;
        self.checker.dial_requested(i, incarnation, peer, now)?;
        if (i == OUTSIDER || i == MISPINNED) && self.refused[i] >= ADVERSARY_ATTEMPTS {
            self.schedule(now, Action::Retire { node: i });
            return Ok(());
        }
        match self.scenario.address_of(&peer) {
            Some(target) if !self.down[target] && !self.net.partitioned(now, i, target) => {
                let delay = self.net.one_way(now, i, target);
                let action = Action::Connect {
                    dialer: i,
                    incarnation,
                    peer,
                    target,
                };
                self.schedule(now + delay, action);
            }
            _ => {
                let delay = self.rng.between(Duration::ZERO, Duration::from_secs(1));
                let action = Action::DialFailed {
                    dialer: i,
                    incarnation,
                    peer,
                };
                self.schedule(now + delay, action);
            }
        }
        Ok(())
    }

    fn transmit(&mut self, i: usize, t: Transmit) -> Result<(), String> {
        self.transcript.record(self.now, i, &t.data);
        let Some(&key) = self.hosts[i].sockets.get(&t.conn) else {
            return Ok(());
        };
        let side = usize::from(self.net.conn(key).ends[1].node == i);
        if i == MISPINNED {
            let count = self.mispinned_transmits.entry(key).or_default();
            *count += 1;
            if *count > 1 {
                return Err(format!(
                    "the mispinned node wrote more than handshake message 1 on {}",
                    t.conn
                ));
            }
        }
        // TCP keeps bytes in order but not write boundaries: a write may arrive in pieces.
        let mut data = t.data;
        while !data.is_empty() {
            let piece = if data.len() > 1 && self.rng.chance(30) {
                data.split_to(1 + self.rng.below(data.len() as u64 - 1) as usize)
            } else {
                data.split_off(0)
            };
            let Some(at) = self.net.arrival(self.now, key, 1 - side) else {
                break;
            };
            let action = Action::Deliver {
                key,
                to: 1 - side,
                bytes: piece,
            };
            self.schedule(at, action);
        }
        Ok(())
    }

    fn event(&mut self, i: usize, event: Event) -> Result<(), String> {
        self.transcript
            .record(self.now, i, format!("{event:?}").as_bytes());
        let now = self.now;
        let incarnation = self.hosts[i].incarnation;
        match event {
            Event::Authenticated {
                conn, peer, role, ..
            } => {
                self.checker.authenticated(i, incarnation, &peer, role)?;
                self.hosts[i].sessions.insert(conn, (peer, now));
            }
            Event::Rejected { peer, .. } => self.checker.rejected(&peer),
            Event::MessageReceived { peer, message, .. } => {
                self.checker.received(i, incarnation, &peer, message.id)?;
                let id = message.id;
                // Already stored (a Skywire resend to a restarted node): kept once, and
                // confirmed again below so that the node acks it.
                self.hosts[i].persist_received(peer, message);
                let delay = if self.rng.chance(50) {
                    Duration::ZERO
                } else {
                    self.rng.between(Duration::ZERO, Duration::from_secs(3))
                };
                self.schedule(
                    now + delay,
                    Action::Confirm {
                        node: i,
                        incarnation,
                        peer,
                        id,
                    },
                );
            }
            Event::MessageAcked { peer, id, .. } => {
                // The receiver knows this node by its key of the suite the message went over.
                let sender_key = self.hosts[i].keys.on(peer.suite());
                let stored = self
                    .scenario
                    .address_of(&peer)
                    .filter(|_| !is_wrong(&peer))
                    .is_some_and(|r| {
                        let persisted = &self.hosts[r].persisted;
                        persisted.confirmed.contains(&(sender_key, id))
                            && persisted.has(&sender_key, id)
                    });
                let was_queued = self.hosts[i].persist_acked(peer, id);
                self.checker.acked(i, &peer, id, stored, was_queued)?;
            }
            Event::ReadReceipt { peer, id } => self.checker.read(i, &peer, id)?,
            Event::ClassicalHandshake { peer, .. } => {
                let classical = &self.scenario.suites.classical;
                let expected = peer.suite() == Suite::Skywire
                    && (classical[i] || node_of(&peer).is_some_and(|p| classical[p]));
                if !expected {
                    return Err(format!(
                        "node {i} completed a classical handshake with {peer:?}, but both ends \
                         offer the post-quantum hybrid"
                    ));
                }
                self.checker.stats.classical_handshakes += 1;
            }
            Event::MessageDeleted { peer, id } => {
                return Err(format!(
                    "node {i} heard that {peer:?} deleted {id:?}, but no simulated node deletes"
                ));
            }
            Event::ConnectionClosed {
                conn, peer, reason, ..
            } => {
                // A Skywire peer refuses without a close frame: the socket just closes.
                let skywire_refusal = reason == CloseReason::SocketClosed
                    && peer.is_some_and(|p| p.suite() == Suite::Skywire);
                if skywire_refusal
                    || matches!(
                        reason,
                        CloseReason::RemoteClosed(_) | CloseReason::HandshakeIncomplete
                    )
                {
                    self.refused[i] += 1;
                }
                let session = self.hosts[i].sessions.remove(&conn);
                self.checker
                    .closed(i, incarnation, conn, peer, session, &reason, now)?;
                if let Some(key) = self.hosts[i].sockets.remove(&conn) {
                    let side = usize::from(self.net.conn(key).ends[1].node == i);
                    self.net.conn_mut(key).ends[side].closed = true;
                    if let Some(at) = self.net.arrival(now, key, 1 - side) {
                        self.schedule(at, Action::Fin { key, to: 1 - side });
                    }
                }
            }
            other => {
                return Err(format!(
                    "node {i} reported an event the simulator does not know: {other:?}"
                ));
            }
        }
        Ok(())
    }
}
