//! The invariants, checked on every observation as the run goes and once more at its end:
//! 1. every accepted message reaches its receiver's host exactly once and in order, and after
//!    the heal phase everything is delivered, acked and gone from every outbox. Order and
//!    counts are per route: sender, receiver and suite, since a node is a different peer under
//!    each of its keys. A message sent to a node's key of one suite arrives from the sender's
//!    key of that same suite. An ack comes only after the receiver's host confirmed storing
//!    the message, on either suite. The one exception to "once": a node that restarted may
//!    hand its host again a message it had delivered before the restart from a Skywire peer
//!    (the Skywire suite has no persisted dedup marks); the host's store, unique per sender key
//!    and id, keeps one copy. Order holds on the Skywire suite too: the sender resends from its
//!    oldest unacked message on every new session and the receiver drops ids it has seen, so
//!    the first delivery of each message comes in the order it was sent;
//! 2. nothing from a key off the receiver's whitelist is ever delivered, and a responder never
//!    authenticates such a key;
//! 3. a dialer pinned to the wrong key never authenticates and moves no application data;
//! 4. redials keep to the backoff schedule: no hot loop, for failing and for rejecting peers.
//!    An attempt turned away before message 2 (closed, or timed out, before the handshake
//!    finished) is retried on the short schedule, which doubles from the initial delay to
//!    [`NodeConfig::turned_away_cap`] and restarts when a session with the peer authenticates; every other
//!    failure waits out the main backoff, which such retries do not grow;
//! 5. a half-open connection is closed within the idle timeout (`IdleTimeout`, or
//!    `HandshakeTimeout` if it had not authenticated) and the dialer redials. A Skywire session
//!    has no pings: it ends at the node's idle timeout if a message waits for its ack, else
//!    when the host's TCP keepalive gives up ([`tcp_keepalive_gives_up`]); either way by then.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use skychat_core::{
    CloseCode, CloseReason, ConnId, MessageId, NodeConfig, PublicKey, Role, Suite, Whitelist,
};

use super::keys::{is_unreachable, node_of};
use super::scenario::{
    HONEST, MISPINNED, NODE_COUNT, OUTSIDER, Scenario, other, tcp_keepalive_gives_up,
};

/// Slack on the half-open detection bound.
pub const DETECTION_SLACK: Duration = Duration::from_millis(1);

/// Counts that show the checks were not vacuous.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Messages honest nodes accepted for each other.
    pub accepted: usize,
    /// Messages delivered to honest hosts.
    pub delivered: usize,
    /// Times the outsider's target rejected it after its handshake.
    pub outsider_rejected: usize,
    /// Handshakes of the mispinned dialer that failed.
    pub mispinned_failed: usize,
    /// Dial requests toward the unreachable peer.
    pub unreachable_dials: usize,
    /// Connections closed because they went silent.
    pub idle_closes: usize,
    /// Half-open connection ends whose detection was checked.
    pub half_open_checked: usize,
    /// Node restarts.
    pub restarts: usize,
    /// Connections opened.
    pub connections: usize,
    /// Read receipts that reached the sender.
    pub reads: usize,
    /// Redials after an attempt that was turned away before message 2.
    pub turned_away_redials: usize,
    /// Messages withdrawn because their sender's host could not persist them.
    pub withdrawn: usize,
    /// Of `delivered`, those that came over the Skywire suite.
    pub skywire_delivered: usize,
    /// Acks checked on the Skywire suite.
    pub skywire_acked: usize,
    /// Messages a restarted node handed its host again after a Skywire peer resent them.
    pub redelivered_after_restart: usize,
    /// Half-open Skywire sessions ended by the host's TCP keepalive.
    pub keepalive_closes: usize,
    /// Skywire handshakes completed without the post-quantum hybrid.
    pub classical_handshakes: usize,
}

/// Messages from one node to another under the keys of one suite.
pub type Route = (usize, usize, Suite);

#[derive(Debug, Default)]
struct DialTrack {
    last: Option<Duration>,
    /// Redials on the main backoff since the last stable session.
    since_reset: u32,
    /// Redials on the turned-away schedule since a session with the peer last authenticated.
    turned_away_streak: u32,
    /// Whether the latest close or failure toward the peer was a turned-away attempt: it decides
    /// the schedule of the next redial.
    next_turned_away: bool,
}

#[derive(Debug)]
struct Detection {
    node: usize,
    incarnation: u32,
    conn: ConnId,
    reasons: Vec<CloseReason>,
    by: Duration,
}

/// Everything the checks remember.
pub struct Checker {
    config: NodeConfig,
    keepalive_gives_up: Duration,
    whitelists: Vec<Whitelist>,
    persistent: Vec<Vec<PublicKey>>,
    accepted: BTreeMap<Route, Vec<MessageId>>,
    delivered: BTreeMap<Route, usize>,
    /// The receiver's incarnation at each message's latest delivery.
    delivered_in: BTreeMap<(Route, MessageId), u32>,
    acked: BTreeMap<Route, usize>,
    dials: BTreeMap<(usize, u32, PublicKey), DialTrack>,
    attempts: BTreeMap<(usize, u32, ConnId), PublicKey>,
    unreachable_fails: BTreeMap<(usize, u32), (u32, Duration)>,
    detections: Vec<Detection>,
    redials: Vec<(usize, u32, PublicKey, Duration)>,
    reads: BTreeSet<(usize, MessageId)>,
    /// What was observed.
    pub stats: Stats,
}

/// The route of a message between `sender` and the node of `peer`, under `peer`'s suite.
fn route_to(sender: usize, peer: &PublicKey) -> Option<Route> {
    node_of(peer).map(|receiver| (sender, receiver, peer.suite()))
}

impl Checker {
    /// The checks for `scenario`.
    pub fn new(scenario: &Scenario) -> Self {
        Self {
            config: Scenario::base_config(scenario.timing),
            keepalive_gives_up: tcp_keepalive_gives_up(scenario.timing),
            whitelists: (0..NODE_COUNT)
                .map(|i| scenario.config(i).whitelist)
                .collect(),
            persistent: (0..NODE_COUNT)
                .map(|i| scenario.persistent_peers(i))
                .collect(),
            accepted: BTreeMap::new(),
            delivered: BTreeMap::new(),
            delivered_in: BTreeMap::new(),
            acked: BTreeMap::new(),
            dials: BTreeMap::new(),
            attempts: BTreeMap::new(),
            unreachable_fails: BTreeMap::new(),
            detections: Vec::new(),
            redials: Vec::new(),
            reads: BTreeSet::new(),
            stats: Stats::default(),
        }
    }

    /// `sender`'s node accepted message `id` for `to`.
    pub fn accepted(&mut self, sender: usize, to: &PublicKey, id: MessageId) {
        if let Some(route) = route_to(sender, to) {
            if is_honest(&route) {
                self.stats.accepted += 1;
            }
            self.accepted.entry(route).or_default().push(id);
        }
    }

    /// Invariants 1 and 2: `receiver`'s node, in `incarnation`, handed its host message `id`
    /// from `peer`.
    pub fn received(
        &mut self,
        receiver: usize,
        incarnation: u32,
        peer: &PublicKey,
        id: MessageId,
    ) -> Result<(), String> {
        let sender = node_of(peer)
            .ok_or_else(|| format!("node {receiver} received {id:?} from unknown key {peer:?}"))?;
        let allowed =
            self.whitelists[receiver].allows(peer) || self.persistent[receiver].contains(peer);
        if !allowed || sender == OUTSIDER || sender == MISPINNED {
            return Err(format!(
                "node {receiver} received {id:?} from node {sender}, which it neither \
                 whitelists nor dials"
            ));
        }
        let suite = peer.suite();
        let route = (sender, receiver, suite);
        let accepted = self.accepted.get(&route).map_or(&[][..], Vec::as_slice);
        let delivered = self.delivered.entry(route).or_default();
        if accepted[..*delivered].contains(&id) {
            let before = self.delivered_in.get(&(route, id)).copied().unwrap_or(0);
            if suite == Suite::Skywire && before < incarnation {
                self.delivered_in.insert((route, id), incarnation);
                self.stats.redelivered_after_restart += 1;
                return Ok(());
            }
            return Err(format!(
                "node {receiver} received {id:?} from node {sender} ({suite}) again in \
                 incarnation {incarnation}, having delivered it in incarnation {before}: duplicate"
            ));
        }
        match accepted.get(*delivered) {
            Some(expected) if *expected == id => {
                *delivered += 1;
                self.delivered_in.insert((route, id), incarnation);
                self.stats.delivered += 1;
                if suite == Suite::Skywire {
                    self.stats.skywire_delivered += 1;
                }
                Ok(())
            }
            _ if self
                .accepted
                .get(&(sender, receiver, other(suite)))
                .is_some_and(|ids| ids.contains(&id)) =>
            {
                Err(format!(
                    "node {receiver} received {id:?} from node {sender}'s {suite} key, but it was \
                     sent to node {receiver}'s {} key",
                    other(suite)
                ))
            }
            expected => Err(format!(
                "node {receiver} received {id:?} from node {sender} ({suite}) but expected \
                 {expected:?} (delivered {delivered} of {:?}): reordered or never sent",
                accepted
            )),
        }
    }

    /// `sender`'s node reported message `id` to `peer` acked. `stored` says whether the
    /// receiver's host has confirmed storing it; `was_queued` whether the sender's host still
    /// had it.
    pub fn acked(
        &mut self,
        sender: usize,
        peer: &PublicKey,
        id: MessageId,
        stored: bool,
        was_queued: bool,
    ) -> Result<(), String> {
        if !was_queued {
            return Err(format!(
                "node {sender} got an ack for {id:?}, which its host no longer had queued"
            ));
        }
        if !stored {
            return Err(format!(
                "node {sender} got an ack for {id:?} ({}) before {peer:?} confirmed storing it",
                peer.suite()
            ));
        }
        if let Some(route) = route_to(sender, peer) {
            *self.acked.entry(route).or_default() += 1;
            if route.2 == Suite::Skywire {
                self.stats.skywire_acked += 1;
            }
        }
        Ok(())
    }

    /// `sender`'s node heard that `peer` read message `id`: it must be one `sender` sent to
    /// `peer`, and heard of at most once.
    pub fn read(&mut self, sender: usize, peer: &PublicKey, id: MessageId) -> Result<(), String> {
        let sent = route_to(sender, peer)
            .and_then(|route| self.accepted.get(&route))
            .is_some_and(|ids| ids.contains(&id));
        if !sent || !self.reads.insert((sender, id)) {
            return Err(format!(
                "node {sender} got a read receipt for {id:?} from {peer:?}, which it never sent                  there or already heard about"
            ));
        }
        self.stats.reads += 1;
        Ok(())
    }

    /// Invariants 2 and 3: `node` (in `incarnation`) authenticated a session with `peer` in
    /// `role`. For invariant 4 this restarts the turned-away schedule toward `peer`.
    pub fn authenticated(
        &mut self,
        node: usize,
        incarnation: u32,
        peer: &PublicKey,
        role: Role,
    ) -> Result<(), String> {
        if let Some(track) = self.dials.get_mut(&(node, incarnation, *peer)) {
            track.turned_away_streak = 0;
        }
        if node == MISPINNED || node_of(peer) == Some(MISPINNED) {
            return Err(format!(
                "node {node} authenticated a session with {peer:?} across a wrong pinned key"
            ));
        }
        if role == Role::Responder && !self.whitelists[node].allows(peer) {
            return Err(format!(
                "node {node} authenticated inbound {peer:?}, which is not on its whitelist"
            ));
        }
        Ok(())
    }

    /// A node rejected inbound `peer` after its handshake.
    pub fn rejected(&mut self, peer: &PublicKey) {
        if node_of(peer) == Some(OUTSIDER) {
            self.stats.outsider_rejected += 1;
        }
    }

    /// Invariant 4: `node` (in `incarnation`) asked its host to dial `peer` at `now`.
    pub fn dial_requested(
        &mut self,
        node: usize,
        incarnation: u32,
        peer: PublicKey,
        now: Duration,
    ) -> Result<(), String> {
        let (initial, max) = (self.config.reconnect_initial, self.config.reconnect_max);
        let track = self.dials.entry((node, incarnation, peer)).or_default();
        if let Some(last) = track.last {
            let gap = now - last;
            if track.next_turned_away {
                let factor = 2u32.saturating_pow(track.turned_away_streak.min(20));
                let floor = (initial * factor).min(self.config.turned_away_cap());
                if gap < floor {
                    return Err(format!(
                        "node {node} retried {peer:?} after {gap:?}, but turned-away retry {} \
                         must wait at least {floor:?}",
                        track.turned_away_streak + 1
                    ));
                }
                track.turned_away_streak += 1;
                self.stats.turned_away_redials += 1;
            } else {
                let factor = 2u32.saturating_pow(track.since_reset.min(20));
                let floor = (initial * factor).min(max);
                if gap < floor {
                    return Err(format!(
                        "node {node} redialed {peer:?} after {gap:?}, but attempt {} since the \
                         last stable session must wait at least {floor:?}",
                        track.since_reset + 1
                    ));
                }
                track.since_reset += 1;
            }
        }
        track.next_turned_away = false;
        track.last = Some(now);
        self.redials
            .retain(|r| !(r.0 == node && r.1 == incarnation && r.2 == peer && r.3 <= now));
        if is_unreachable(&peer) {
            self.stats.unreachable_dials += 1;
            if let Some(&(fails, failed_at)) = self.unreachable_fails.get(&(node, incarnation)) {
                let backoff = (initial * 2u32.saturating_pow((fails - 1).min(20))).min(max);
                let waited = now - failed_at;
                if waited < backoff || waited >= backoff * 5 / 4 {
                    return Err(format!(
                        "node {node} redialed the unreachable peer {waited:?} after failure \
                         {fails}; the schedule says [{backoff:?}, {:?})",
                        backoff * 5 / 4
                    ));
                }
            }
        }
        Ok(())
    }

    /// `node` (in `incarnation`) connected `conn` to persistent peer `peer`.
    pub fn dialed(&mut self, node: usize, incarnation: u32, conn: ConnId, peer: PublicKey) {
        self.attempts.insert((node, incarnation, conn), peer);
    }

    /// The host of `node` could not reach `peer`.
    pub fn dial_failed(&mut self, node: usize, incarnation: u32, peer: &PublicKey, now: Duration) {
        if let Some(track) = self.dials.get_mut(&(node, incarnation, *peer)) {
            track.next_turned_away = false;
        }
        if is_unreachable(peer) {
            let entry = self
                .unreachable_fails
                .entry((node, incarnation))
                .or_insert((0, now));
            *entry = (entry.0 + 1, now);
        }
    }

    /// Invariant 5: the connection `conn` of `node`, speaking `suite`, went half-open at `now`.
    pub fn half_open(
        &mut self,
        node: usize,
        incarnation: u32,
        conn: ConnId,
        authenticated: bool,
        suite: Suite,
        now: Duration,
    ) {
        let (reasons, bound) = match (authenticated, suite) {
            (false, _) => (
                vec![CloseReason::HandshakeTimeout],
                self.config.handshake_timeout,
            ),
            (true, Suite::Native) => (vec![CloseReason::IdleTimeout], self.config.idle_timeout),
            (true, Suite::Skywire) => (
                vec![CloseReason::IdleTimeout, CloseReason::SocketClosed],
                self.keepalive_gives_up,
            ),
        };
        self.detections.push(Detection {
            node,
            incarnation,
            conn,
            reasons,
            by: now + bound + DETECTION_SLACK,
        });
    }

    /// `node` closed `conn`. `session` is the peer and authentication time if it had
    /// authenticated.
    #[allow(clippy::too_many_arguments)]
    pub fn closed(
        &mut self,
        node: usize,
        incarnation: u32,
        conn: ConnId,
        peer: Option<PublicKey>,
        session: Option<(PublicKey, Duration)>,
        reason: &CloseReason,
        now: Duration,
    ) -> Result<(), String> {
        if let Some((peer, since)) = session
            && now - since >= self.config.reconnect_stable_after
            && let Some(track) = self.dials.get_mut(&(node, incarnation, peer))
        {
            track.since_reset = 0;
        }
        let attempt = self.attempts.remove(&(node, incarnation, conn));
        if let Some(toward) = attempt.or(peer)
            && let Some(track) = self.dials.get_mut(&(node, incarnation, toward))
        {
            track.next_turned_away = attempt.is_some()
                && session.is_none()
                && matches!(
                    reason,
                    CloseReason::HandshakeIncomplete | CloseReason::HandshakeTimeout
                );
        }
        if let Some(pos) = self
            .detections
            .iter()
            .position(|d| d.node == node && d.incarnation == incarnation && d.conn == conn)
        {
            let expected = self.detections.remove(pos);
            self.stats.half_open_checked += 1;
            if !expected.reasons.contains(reason) || now > expected.by {
                return Err(format!(
                    "node {node} closed half-open {conn} at {now:?} with {reason:?}; expected \
                     one of {:?} by {:?}",
                    expected.reasons, expected.by
                ));
            }
            if *reason == CloseReason::SocketClosed {
                self.stats.keepalive_closes += 1;
            }
        }
        if *reason == CloseReason::IdleTimeout {
            self.stats.idle_closes += 1;
            if let Some(peer) = peer
                && self.persistent[node].contains(&peer)
            {
                self.redials.push((node, incarnation, peer, now));
            }
        }
        if node == MISPINNED && *reason == CloseReason::HandshakeIncomplete {
            self.stats.mispinned_failed += 1;
        }
        if node == OUTSIDER
            && matches!(reason, CloseReason::RemoteClosed(code) if *code != CloseCode::NotAuthorized)
        {
            return Err(format!(
                "the outsider was closed with {reason:?}, not NotAuthorized"
            ));
        }
        Ok(())
    }

    /// `node` stopped: whatever it was expected to do dies with it.
    pub fn crashed(&mut self, node: usize) {
        self.detections.retain(|d| d.node != node);
        self.attempts.retain(|k, _| k.0 != node);
        self.redials.retain(|r| r.0 != node);
        self.stats.restarts += 1;
    }

    /// Invariant 5, as time passes: no half-open connection outlives its bound.
    pub fn overdue(&self, now: Duration) -> Result<(), String> {
        match self.detections.iter().find(|d| now > d.by) {
            Some(d) => Err(format!(
                "node {} did not close half-open {} by {:?} (expected one of {:?})",
                d.node, d.conn, d.by, d.reasons
            )),
            None => Ok(()),
        }
    }

    /// Every message between honest nodes accepted so far, per route, in the order accepted.
    pub fn honest_accepted(&self) -> impl Iterator<Item = (&Route, &Vec<MessageId>)> {
        self.accepted.iter().filter(|(route, _)| is_honest(route))
    }

    /// Whether every message between honest nodes has been delivered and acked.
    pub fn all_delivered(&self) -> bool {
        self.accepted.iter().all(|(route, ids)| {
            !is_honest(route) || {
                self.delivered.get(route).copied().unwrap_or(0) == ids.len()
                    && self.acked.get(route).copied().unwrap_or(0) == ids.len()
            }
        })
    }

    /// Whether half-open connections and idle closes are all resolved. `connected` says
    /// whether a node has a session with a peer now.
    pub fn settled(&self, connected: impl Fn(usize, &PublicKey) -> bool) -> bool {
        self.detections.is_empty() && self.redials.iter().all(|r| connected(r.0, &r.2))
    }

    /// The end-of-run checks, after the heal phase.
    pub fn finish(&self, connected: impl Fn(usize, &PublicKey) -> bool) -> Result<(), String> {
        for (&route, ids) in &self.accepted {
            if !is_honest(&route) {
                continue;
            }
            let delivered = self.delivered.get(&route).copied().unwrap_or(0);
            let acked = self.acked.get(&route).copied().unwrap_or(0);
            if delivered != ids.len() || acked != ids.len() {
                let (sender, receiver, suite) = route;
                return Err(format!(
                    "after healing, node {sender} -> node {receiver} ({suite}): {} accepted, \
                     {delivered} delivered, {acked} acked",
                    ids.len()
                ));
            }
        }
        if let Some(d) = self.detections.first() {
            return Err(format!(
                "half-open {} of node {} never closed",
                d.conn, d.node
            ));
        }
        if let Some(r) = self.redials.iter().find(|r| !connected(r.0, &r.2)) {
            return Err(format!(
                "node {} closed an idle session with {:?} at {:?} and never got it back",
                r.0, r.2, r.3
            ));
        }
        let s = &self.stats;
        if s.outsider_rejected == 0
            || s.mispinned_failed == 0
            || s.unreachable_dials < 3
            || s.turned_away_redials == 0
        {
            return Err(format!("the adversarial nodes were never exercised: {s:?}"));
        }
        Ok(())
    }
}

fn is_honest(route: &Route) -> bool {
    HONEST.contains(&route.0) && HONEST.contains(&route.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::keys::key_on;
    use crate::sim::scenario::{RECEIVER, SENDER_A, Timing, public};

    fn checker() -> Checker {
        let mut scenario = Scenario::generate(0);
        scenario.timing = Timing::Defaults;
        Checker::new(&scenario)
    }

    /// Sender A dials the receiver over the Skywire suite; the receiver dials A natively.
    fn mixed_checker() -> Checker {
        let mut scenario = Scenario::generate(0);
        scenario.timing = Timing::Defaults;
        scenario.mutual = true;
        scenario.suites.a_to_receiver = Suite::Skywire;
        scenario.suites.receiver_to_a = Suite::Native;
        Checker::new(&scenario)
    }

    fn id(seq: u64) -> MessageId {
        MessageId { stream: 9, seq }
    }

    #[test]
    fn a_duplicate_or_reordered_delivery_is_a_violation() {
        let mut c = checker();
        let receiver = public(RECEIVER);
        let sender = public(SENDER_A);
        c.accepted(SENDER_A, &receiver, id(1));
        c.accepted(SENDER_A, &receiver, id(2));
        assert!(
            c.received(RECEIVER, 1, &sender, id(2)).is_err(),
            "reordered"
        );
        c.received(RECEIVER, 1, &sender, id(1)).expect("in order");
        assert!(
            c.received(RECEIVER, 1, &sender, id(1)).is_err(),
            "duplicate"
        );
        assert!(
            c.received(RECEIVER, 2, &sender, id(1)).is_err(),
            "a native node restores its dedup marks: no duplicate even after a restart"
        );
        assert!(!c.all_delivered());
    }

    #[test]
    fn a_skywire_duplicate_is_tolerated_only_across_a_restart_of_the_receiver() {
        let mut c = mixed_checker();
        let receiver = key_on(RECEIVER, Suite::Skywire);
        let sender = key_on(SENDER_A, Suite::Skywire);
        c.accepted(SENDER_A, &receiver, id(1));
        c.accepted(SENDER_A, &receiver, id(2));
        c.received(RECEIVER, 1, &sender, id(1)).expect("first");
        assert!(c.received(RECEIVER, 1, &sender, id(1)).is_err(), "same run");
        c.received(RECEIVER, 2, &sender, id(1))
            .expect("a restarted node has forgotten the id; the host's store keeps one copy");
        assert!(c.received(RECEIVER, 2, &sender, id(1)).is_err());
        assert!(c.received(RECEIVER, 3, &sender, id(2)).is_ok());
        assert_eq!(c.stats.redelivered_after_restart, 1);
        assert_eq!(c.stats.skywire_delivered, 2);
    }

    #[test]
    fn a_message_arriving_under_the_other_key_of_its_sender_is_a_violation() {
        let mut c = mixed_checker();
        c.accepted(SENDER_A, &key_on(RECEIVER, Suite::Skywire), id(1));
        let err = c
            .received(RECEIVER, 1, &public(SENDER_A), id(1))
            .unwrap_err();
        assert!(err.contains("native key, but it was sent"), "{err}");
        c.received(RECEIVER, 1, &key_on(SENDER_A, Suite::Skywire), id(1))
            .expect("the key of the suite it was sent on");
    }

    #[test]
    fn an_ack_before_the_receiver_confirmed_storing_is_a_violation() {
        let mut c = checker();
        let receiver = key_on(RECEIVER, Suite::Skywire);
        c.accepted(SENDER_A, &receiver, id(1));
        let err = c
            .acked(SENDER_A, &receiver, id(1), false, true)
            .unwrap_err();
        assert!(err.contains("before"), "{err}");
        c.acked(SENDER_A, &receiver, id(1), true, true).unwrap();
        assert_eq!(c.stats.skywire_acked, 1);
    }

    #[test]
    fn a_half_open_skywire_session_may_wait_for_tcp_keepalive_but_no_longer() {
        let mut c = checker();
        let keepalive = tcp_keepalive_gives_up(Timing::Defaults);
        c.half_open(RECEIVER, 1, ConnId(3), true, Suite::Skywire, Duration::ZERO);
        c.half_open(RECEIVER, 1, ConnId(4), true, Suite::Skywire, Duration::ZERO);
        assert!(c.overdue(keepalive).is_ok());
        let closed = |c: &mut Checker, conn, reason| {
            c.closed(RECEIVER, 1, ConnId(conn), None, None, &reason, keepalive)
        };
        closed(&mut c, 3, CloseReason::SocketClosed).expect("keepalive gave up");
        assert!(c.overdue(keepalive + DETECTION_SLACK * 2).is_err());
        assert!(closed(&mut c, 4, CloseReason::HandshakeTimeout).is_err());
        assert_eq!(c.stats.keepalive_closes, 1);
    }

    #[test]
    fn delivery_from_the_outsider_is_a_violation() {
        let mut c = checker();
        let receiver = public(RECEIVER);
        c.accepted(OUTSIDER, &receiver, id(1));
        let outsider = public(OUTSIDER);
        assert!(c.received(RECEIVER, 1, &outsider, id(1)).is_err());
        assert!(
            c.authenticated(RECEIVER, 1, &outsider, Role::Responder)
                .is_err()
        );
    }

    #[test]
    fn a_redial_sooner_than_the_doubled_backoff_is_a_violation() {
        let mut c = checker();
        let peer = public(RECEIVER);
        let s = Duration::from_secs;
        c.dial_requested(SENDER_A, 1, peer, s(0)).unwrap();
        c.dial_requested(SENDER_A, 1, peer, s(1)).unwrap();
        c.dial_requested(SENDER_A, 1, peer, s(3)).unwrap();
        let err = c.dial_requested(SENDER_A, 1, peer, s(6)).unwrap_err();
        assert!(err.contains("at least 4s"), "{err}");
    }

    #[test]
    fn a_turned_away_attempt_is_retried_on_the_short_schedule_only() {
        let mut c = checker();
        let peer = public(RECEIVER);
        let s = Duration::from_secs;
        let turned_away = |c: &mut Checker, conn: u64, at: Duration| {
            c.dialed(SENDER_A, 1, ConnId(conn), peer);
            c.closed(
                SENDER_A,
                1,
                ConnId(conn),
                None,
                None,
                &CloseReason::HandshakeIncomplete,
                at,
            )
            .unwrap();
        };
        // Main backoff grows to 4 s through two failed dials.
        c.dial_requested(SENDER_A, 1, peer, s(0)).unwrap();
        c.dial_failed(SENDER_A, 1, &peer, s(0));
        c.dial_requested(SENDER_A, 1, peer, s(1)).unwrap();
        c.dial_failed(SENDER_A, 1, &peer, s(1));
        c.dial_requested(SENDER_A, 1, peer, s(3)).unwrap();
        // Turned away: retries wait 1 s, 2 s, 4 s, 8 s, 8 s, not the main 4 s and up.
        turned_away(&mut c, 1, s(3));
        c.dial_requested(SENDER_A, 1, peer, s(4)).unwrap();
        turned_away(&mut c, 2, s(4));
        let err = c
            .dial_requested(SENDER_A, 1, peer, s(4) + Duration::from_millis(1500))
            .unwrap_err();
        assert!(err.contains("at least 2s"), "{err}");
        c.dial_requested(SENDER_A, 1, peer, s(6)).unwrap();
        let mut at = s(6);
        for (conn, gap) in [(3, 4), (4, 8), (5, 8)] {
            turned_away(&mut c, conn, at);
            at += s(gap);
            c.dial_requested(SENDER_A, 1, peer, at).unwrap();
        }
        turned_away(&mut c, 6, at);
        let err = c.dial_requested(SENDER_A, 1, peer, at + s(7)).unwrap_err();
        assert!(err.contains("at least 8s"), "the cap holds: {err}");
        at += s(8);
        c.dial_requested(SENDER_A, 1, peer, at).unwrap();
        // A failed dial goes back to the main backoff, which the retries left at 4 s.
        c.dial_failed(SENDER_A, 1, &peer, at);
        let err = c.dial_requested(SENDER_A, 1, peer, at + s(3)).unwrap_err();
        assert!(err.contains("at least 4s"), "{err}");
    }

    #[test]
    fn a_half_open_connection_left_open_past_the_idle_timeout_is_a_violation() {
        let mut c = checker();
        c.half_open(RECEIVER, 1, ConnId(3), true, Suite::Native, Duration::ZERO);
        assert!(c.overdue(Duration::from_secs(30)).is_ok());
        assert!(c.overdue(Duration::from_secs(31)).is_err());
        let late = c.closed(
            RECEIVER,
            1,
            ConnId(3),
            None,
            None,
            &CloseReason::IdleTimeout,
            Duration::from_secs(31),
        );
        assert!(late.is_err());
    }
}
