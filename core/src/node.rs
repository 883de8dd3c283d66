//! The node: this host's identity and every connection it has, the peers it keeps connected, the
//! outbox and the dedup state. It turns inputs (bytes, commands, time) into outputs (transmits,
//! dials, events, the next deadline).
//!
//! This file holds the [`Node`] and its input and output methods. Per-connection state and its
//! timers (handshake deadline, liveness) live in `connection`, peer routing with redial (the
//! sending session, persistent peers, the reconnect schedule) in `routing`, and what arrives on
//! an authenticated session in `receive`.
//!
//! # Driving a node
//! Every input method takes `now`. There is one output method, [`Node::poll_output`]: call it
//! after every input (or batch of inputs) until it returns [`Output::Timeout`]. Its outputs are
//! of two kinds: the host's own duties ([`Output::Transmit`]: write bytes; [`Output::Dial`]: open
//! a connection to a persistent peer; [`Output::Timeout`]: when to call
//! [`Node::handle_timeout`]) and application news ([`Output::Event`]), which the host passes on.
//! ```text
//! loop {
//!     // 1. feed whatever happened: node.handle_receive / accept / connect / dial_failed /
//!     //    send_message / confirm_stored / handle_socket_closed / handle_timeout ...
//!     // 2. drain outputs until Timeout:
//!     loop {
//!         match node.poll_output() {
//!             Output::Transmit(t) => write t.data to the socket of t.conn,
//!             Output::Dial { peer } => start dialing peer (later: connect or dial_failed),
//!             Output::Event(e) => act on e,
//!             Output::Timeout(at) => { sleep until `at` or the next input; break }
//!         }
//!     }
//! }
//! ```

mod blocking;
mod connection;
mod receive;
mod routing;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::BytesMut;

use crate::config::NodeConfig;
use crate::dedup::{Dedup, DedupRecord};
use crate::event::{CloseReason, ConnKind, Event, Network, Output, Transmit};
use crate::frame::CloseCode;
use crate::keys::{PublicKey, SecretKey, Suite};
use crate::message::{ChatMessage, MAX_BODY_BYTES, MessageId};
use crate::outbox::{CancelError, Outbox};
use crate::pending::{PendingInbound, Stage};
use crate::redial::{DialAttempt, ReconnectSchedule};
use crate::refusals::RefusalCounts;
use crate::rng::SeededRng;
use crate::session::Role;
use crate::skywire::inbox::SkywireInbox;
use crate::skywire::{ChatMsg, MAX_CHAT_FRAME, SkywirePayload, ids};
use crate::suite_session::{Incoming, LocalKeys, SuiteSession};
use crate::timer::{ConnId, Timer, TimerTable};

use connection::Connection;

/// Read receipts waiting per peer before the oldest are dropped.
const MAX_PENDING_READS: usize = 1024;

/// Queues a read receipt or deletion for a peer, dropping the oldest beyond
/// [`MAX_PENDING_READS`].
fn push_notice(queue: &mut VecDeque<MessageId>, id: MessageId) {
    if queue.len() >= MAX_PENDING_READS {
        queue.pop_front();
    }
    queue.push_back(id);
}

/// A command the node refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// The body is larger than [`MAX_BODY_BYTES`].
    BodyTooLarge {
        /// Its size in bytes.
        len: usize,
    },
    /// The peer's outbox, or the outbox as a whole, is full.
    OutboxFull,
    /// The recipient is this node's own key.
    SelfAddressed,
    /// Too many connections are still in their handshake.
    TooManyHandshakes,
    /// A mesh connection needs a Skywire key and the skynet or dmsg network.
    NotMeshPeer,
    /// The message, as the Skywire suite's JSON envelope, is larger than a chat frame allows.
    EnvelopeTooLarge {
        /// The envelope's size in bytes.
        len: usize,
    },
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BodyTooLarge { len } => {
                write!(
                    f,
                    "message body is {len} bytes; the limit is {MAX_BODY_BYTES}"
                )
            }
            Self::OutboxFull => f.write_str("outbox is full; wait for queued messages to be acked"),
            Self::SelfAddressed => f.write_str("cannot send a message to this node's own key"),
            Self::TooManyHandshakes => f.write_str("too many handshakes in progress"),
            Self::NotMeshPeer => f.write_str(
                "a skynet or dmsg connection needs a Skywire peer key (66 hex) and a mesh network",
            ),
            Self::EnvelopeTooLarge { len } => write!(
                f,
                "message is {len} bytes once encoded for a Skywire peer; \
                 the limit is {MAX_CHAT_FRAME} (shorten it, or escape fewer <, > and & characters)"
            ),
        }
    }
}

impl std::error::Error for CommandError {}

/// A live connection's state, as reported by [`Node::sessions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The connection.
    pub conn: ConnId,
    /// The remote key, once known.
    pub peer: Option<PublicKey>,
    /// How it came to be.
    pub kind: ConnKind,
    /// The network it runs over.
    pub network: Network,
    /// Whether it finished the handshake.
    pub authenticated: bool,
    /// Whether the node currently sends this peer's messages on it.
    pub sending: bool,
}

/// The protocol state of one skychat node. See the module docs for the driving loop.
pub struct Node {
    keys: LocalKeys,
    public: PublicKey,
    skywire_public: Option<PublicKey>,
    skywire_inbox: SkywireInbox,
    config: NodeConfig,
    rng: SeededRng,
    conns: BTreeMap<ConnId, Connection>,
    next_conn: u64,
    sessions_by_peer: BTreeMap<PublicKey, Vec<ConnId>>,
    persistent: BTreeMap<PublicKey, ReconnectSchedule>,
    /// Peers refused on every network and never dialed.
    blocked: BTreeSet<PublicKey>,
    outbox: Outbox,
    dedup: Dedup,
    reads: BTreeMap<PublicKey, VecDeque<MessageId>>,
    /// Deletions for everyone waiting for a session with their peer, oldest first.
    deletions: BTreeMap<PublicKey, VecDeque<MessageId>>,
    timers: TimerTable,
    events: OutputQueue,
    final_transmits: VecDeque<Transmit>,
    dirty: BTreeSet<ConnId>,
    to_pump: BTreeSet<PublicKey>,
    pending_handshakes: usize,
    pending_inbound: PendingInbound,
    refusals: RefusalCounts,
    scratch: Vec<u8>,
    now: Duration,
}

impl Node {
    /// A node with `identity`, whose randomness all derives from `seed`. Give a fresh seed from
    /// the OS at every start; the same seed and inputs always give the same outputs.
    ///
    /// The identity gives two keys: the native one and the Skywire one (the same 32 bytes as a
    /// secp256k1 secret). In the negligible case that they are not a valid secp256k1 secret,
    /// the node speaks only the native suite.
    pub fn new(identity: SecretKey, config: NodeConfig, seed: [u8; 32]) -> Self {
        let public = identity.public_key();
        let skywire = identity.skywire_secret().ok();
        let skywire_public = skywire.as_ref().map(|sk| sk.public_key().into());
        Self {
            keys: LocalKeys {
                native: identity,
                skywire,
                policy: config.pq_policy,
            },
            public,
            skywire_public,
            skywire_inbox: SkywireInbox::default(),
            blocked: config.blocked.iter().copied().collect(),
            config,
            rng: SeededRng::from_seed(seed),
            conns: BTreeMap::new(),
            next_conn: 1,
            sessions_by_peer: BTreeMap::new(),
            persistent: BTreeMap::new(),
            outbox: Outbox::default(),
            dedup: Dedup::default(),
            reads: BTreeMap::new(),
            deletions: BTreeMap::new(),
            timers: TimerTable::default(),
            events: OutputQueue::default(),
            final_transmits: VecDeque::new(),
            dirty: BTreeSet::new(),
            to_pump: BTreeSet::new(),
            pending_handshakes: 0,
            pending_inbound: PendingInbound::default(),
            refusals: RefusalCounts::default(),
            scratch: Vec::new(),
            now: Duration::ZERO,
        }
    }

    /// This node's native public key (64 hex).
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// This node's Skywire public key (66 hex), if its secret is a valid secp256k1 secret.
    pub fn skywire_public_key(&self) -> Option<PublicKey> {
        self.skywire_public
    }

    /// True if `key` is one of this node's own keys.
    pub fn is_own_key(&self, key: &PublicKey) -> bool {
        *key == self.public
            || Some(*key) == self.skywire_public
            || Some(*key) == self.config.mesh_key
    }

    /// The configuration in force.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    // ----- commands -------------------------------------------------------------------------

    /// Keeps `peer` connected: asks the host to dial it now, and again with backoff whenever no
    /// session with it is up.
    pub fn add_persistent_peer(&mut self, now: Duration, peer: PublicKey) {
        self.advance(now);
        if let Some(schedule) = self.persistent.get_mut(&peer) {
            schedule.on_demand = false;
            return;
        }
        self.persistent
            .insert(peer, ReconnectSchedule::new(self.config.reconnect_initial));
        self.timers.set(Timer::Redial(peer), now);
    }

    /// Registers a connection the host accepted on its listener. On error, close the socket.
    ///
    /// At the cap of connections that have sent nothing (`max_silent_connections`), the oldest
    /// of them is closed as [`CloseReason::Evicted`] to make room. The new connection is
    /// refused only if that cap is 0.
    pub fn accept(&mut self, now: Duration) -> Result<ConnId, CommandError> {
        self.advance(now);
        if self.pending_inbound.silent() >= self.config.max_silent_connections {
            let Some(victim) = self.pending_inbound.oldest_silent() else {
                self.refusals.at_capacity += 1;
                return Err(CommandError::TooManyHandshakes);
            };
            self.refusals.evicted_idle += 1;
            self.close_connection(now, victim, CloseReason::Evicted, None);
        }
        let seed = self.rng.fork_seed();
        let session = SuiteSession::responder(seed);
        let conn = self.insert_connection(
            now,
            session,
            ConnKind::Inbound,
            Network::Tcp,
            BytesMut::new(),
        );
        self.pending_inbound.insert(conn);
        let first_bytes = self
            .config
            .first_bytes_timeout
            .min(self.config.handshake_timeout);
        self.timers.set(Timer::Handshake(conn), now + first_bytes);
        Ok(conn)
    }

    /// Registers a connection the host dialed to `peer`, pinning its key, and queues handshake
    /// message 1 of the suite the key selects. Use [`ConnKind::Persistent`] after a
    /// [`Output::Dial`].
    pub fn connect(&mut self, now: Duration, peer: PublicKey, kind: ConnKind) -> ConnId {
        self.advance(now);
        let seed = self.rng.fork_seed();
        let mut tx = BytesMut::new();
        let session = match (peer.as_native(), peer.as_skywire(), &self.keys.skywire) {
            (Some(remote), _, _) => {
                SuiteSession::native_initiator(&self.keys.native, remote, seed, &mut tx)
            }
            (None, Some(remote), Some(local)) => {
                SuiteSession::skywire_initiator(local, remote, self.keys.policy, seed, &mut tx)
            }
            (None, _, None) | (None, None, _) => {
                // No Skywire key: a session that never starts, closed at once.
                let session = SuiteSession::responder(seed);
                let conn = self.insert_connection(now, session, kind, Network::Tcp, tx);
                self.close_connection(now, conn, CloseReason::SuiteUnavailable, None);
                return conn;
            }
        };
        let conn = self.insert_connection(now, session, kind, Network::Tcp, tx);
        if kind == ConnKind::Persistent
            && let Some(schedule) = self.persistent.get_mut(&peer)
        {
            schedule.attempt = Some(DialAttempt::Handshaking(conn));
        }
        conn
    }

    /// Registers a connection that this host's visor relays on `network` (skynet or dmsg) from
    /// `peer`, whose Skywire key the visor's transport proved. There is no handshake: the
    /// session is up at once ([`Event::Authenticated`] follows) and carries Skywire chat frames.
    /// TCP-direct's whitelist does not apply; anyone on the mesh may write, as to the Go skychat.
    pub fn accept_mesh(
        &mut self,
        now: Duration,
        peer: PublicKey,
        network: Network,
    ) -> Result<ConnId, CommandError> {
        self.open_mesh(now, peer, network, ConnKind::Inbound, Role::Responder)
    }

    /// Registers a connection this host's visor dialed to `peer` on `network`. Use
    /// [`ConnKind::Persistent`] after an [`Output::Dial`]. The session is up at once.
    pub fn connect_mesh(
        &mut self,
        now: Duration,
        peer: PublicKey,
        network: Network,
        kind: ConnKind,
    ) -> Result<ConnId, CommandError> {
        let conn = self.open_mesh(now, peer, network, kind, Role::Initiator)?;
        if let Some(schedule) = self.persistent.get_mut(&peer)
            && schedule.attempt == Some(DialAttempt::Requested)
        {
            schedule.attempt = None;
        }
        Ok(conn)
    }

    fn open_mesh(
        &mut self,
        now: Duration,
        peer: PublicKey,
        network: Network,
        kind: ConnKind,
        role: Role,
    ) -> Result<ConnId, CommandError> {
        self.advance(now);
        if peer.suite() != Suite::Skywire || !network.is_mesh() {
            return Err(CommandError::NotMeshPeer);
        }
        if self.is_own_key(&peer) {
            return Err(CommandError::SelfAddressed);
        }
        let session = SuiteSession::mesh(peer, role);
        let conn = self.insert_connection(now, session, kind, network, BytesMut::new());
        self.on_authenticated(now, conn, peer);
        Ok(conn)
    }

    /// The host could not dial `peer` after an [`Output::Dial`]. Schedules a retry.
    pub fn dial_failed(&mut self, now: Duration, peer: PublicKey) {
        self.advance(now);
        if let Some(schedule) = self.persistent.get_mut(&peer) {
            schedule.attempt = None;
            self.schedule_redial(now, peer, false);
        }
    }

    /// Accepts `body` for delivery to `peer` and returns the message with its new id. The
    /// message stays in the outbox until `peer` acks it, across reconnects. Persist it before
    /// telling a user it was accepted; a host that may fail to persist it uses
    /// [`Node::hold_message`] instead, so that nothing is sent before it is persisted.
    pub fn send_message(
        &mut self,
        now: Duration,
        peer: PublicKey,
        body: String,
        reply_to: Option<MessageId>,
        sent_at_ms: u64,
    ) -> Result<ChatMessage, CommandError> {
        self.queue_message(now, peer, body, reply_to, sent_at_ms, false)
    }

    /// Like [`Node::send_message`], but the message is held: it has its id and counts against
    /// the outbox limits, but nothing is sent (neither it nor any later message to `peer`) until
    /// the host calls [`Node::release_message`] once it has persisted it, or
    /// [`Node::withdraw_message`] if persisting failed.
    pub fn hold_message(
        &mut self,
        now: Duration,
        peer: PublicKey,
        body: String,
        reply_to: Option<MessageId>,
        sent_at_ms: u64,
    ) -> Result<ChatMessage, CommandError> {
        self.queue_message(now, peer, body, reply_to, sent_at_ms, true)
    }

    /// Lets the held message `id` to `peer` go out. Returns whether it was held.
    pub fn release_message(&mut self, now: Duration, peer: PublicKey, id: MessageId) -> bool {
        self.advance(now);
        let released = self.outbox.release(&peer, id);
        if released {
            self.to_pump.insert(peer);
        }
        released
    }

    /// Drops the held message `id` to `peer`, never sent, together with every later message to
    /// `peer` (which must all still be held: release messages only after every earlier one was
    /// persisted), and gives their ids back: the next message to `peer` gets `id`, so the stream
    /// has no gap. Returns the ids dropped, oldest first; empty if `id` is not held or a later
    /// message was already released (then nothing changes).
    pub fn withdraw_message(
        &mut self,
        now: Duration,
        peer: PublicKey,
        id: MessageId,
    ) -> Vec<MessageId> {
        self.advance(now);
        self.outbox.withdraw(&peer, id)
    }

    /// Cancels the message `id` to `peer`: it is dropped from the outbox and never delivered. Only
    /// a message that has not gone out on any connection can be cancelled. The later messages
    /// of its stream move to a fresh stream (the receiver waits for every number of a stream);
    /// their old and new ids are returned, oldest first, for the host to update what it keeps.
    pub fn cancel_message(
        &mut self,
        now: Duration,
        peer: PublicKey,
        id: MessageId,
    ) -> Result<Vec<(MessageId, MessageId)>, CancelError> {
        self.advance(now);
        let rng = &mut self.rng;
        self.outbox.cancel(&peer, id, || nonzero(rng))
    }

    fn queue_message(
        &mut self,
        now: Duration,
        peer: PublicKey,
        body: String,
        reply_to: Option<MessageId>,
        sent_at_ms: u64,
        held: bool,
    ) -> Result<ChatMessage, CommandError> {
        self.advance(now);
        if body.len() > MAX_BODY_BYTES {
            return Err(CommandError::BodyTooLarge { len: body.len() });
        }
        if self.is_own_key(&peer) {
            return Err(CommandError::SelfAddressed);
        }
        if peer.suite() == Suite::Skywire {
            check_envelope_size(&body, reply_to)?;
        }
        if self.outbox.len_for(&peer) >= self.config.max_outbox_per_peer
            || self.outbox.total() >= self.config.max_outbox_total
        {
            return Err(CommandError::OutboxFull);
        }
        let rng = &mut self.rng;
        let id = self.outbox.next_id(peer, || nonzero(rng));
        let message = ChatMessage {
            id,
            sent_at_ms,
            body,
            reply_to,
        };
        if held {
            self.outbox.push_held(peer, message.clone());
        } else {
            self.outbox.push(peer, message.clone());
            self.to_pump.insert(peer);
        }
        self.dial_on_demand(now, peer);
        Ok(message)
    }

    /// Puts a persisted, unacked message back in the outbox after a restart. Restore messages in
    /// the order they were first accepted, before sending new ones.
    pub fn restore_outbox(&mut self, now: Duration, peer: PublicKey, message: ChatMessage) {
        self.advance(now);
        self.outbox.push(peer, message);
        self.to_pump.insert(peer);
        self.dial_on_demand(now, peer);
    }

    /// Restores a persisted dedup mark after a restart.
    pub fn restore_dedup(&mut self, now: Duration, record: DedupRecord) {
        self.advance(now);
        self.dedup.restore(record);
    }

    /// The host has durably stored message `id` from `peer`. The ack to the sender follows.
    pub fn confirm_stored(&mut self, now: Duration, peer: PublicKey, id: MessageId) {
        self.advance(now);
        let ack_due = match peer.suite() {
            Suite::Native => self.dedup.confirm_stored(&peer, id),
            Suite::Skywire => self.skywire_inbox.confirm_stored(&peer, id),
        };
        if ack_due {
            self.to_pump.insert(peer);
        }
    }

    /// The host could not store message `id` from `peer` (for example, the disk is full). The
    /// message stays unacked, so the sender keeps it; this node forgets having delivered it and
    /// closes its sessions with `peer` (code Busy), so that the sender resends it on the next
    /// session, which reconnect backoff paces.
    pub fn storage_failed(&mut self, now: Duration, peer: PublicKey, id: MessageId) {
        self.advance(now);
        match peer.suite() {
            Suite::Native => self.dedup.rewind(&peer, id),
            Suite::Skywire => self.skywire_inbox.rewind(&peer, id),
        }
        let conns = self
            .sessions_by_peer
            .get(&peer)
            .cloned()
            .unwrap_or_default();
        for conn in conns {
            self.close_connection(now, conn, CloseReason::Busy, Some(CloseCode::Busy));
        }
    }

    /// Tells `peer` that its message `id` was read. Sent now if a session is up, else when one
    /// comes up.
    pub fn send_read_receipt(&mut self, now: Duration, peer: PublicKey, id: MessageId) {
        self.advance(now);
        push_notice(self.reads.entry(peer).or_default(), id);
        self.to_pump.insert(peer);
    }

    /// Tells `peer` that this node deleted its message `id` (one it sent to `peer`) for
    /// everyone: on the next session with `peer`, or the current one. Like read receipts, a
    /// deletion is not acked and not kept across restarts; the host resends what matters to it.
    /// At most 1,024 wait per peer; beyond that the oldest is dropped.
    pub fn send_deletion(&mut self, now: Duration, peer: PublicKey, id: MessageId) {
        self.advance(now);
        push_notice(self.deletions.entry(peer).or_default(), id);
        self.to_pump.insert(peer);
    }

    /// Closes `conn`, sending a close frame if the session is established.
    pub fn close(&mut self, now: Duration, conn: ConnId) {
        self.advance(now);
        self.close_connection(
            now,
            conn,
            CloseReason::ClosedByHost,
            Some(CloseCode::Normal),
        );
    }

    /// Closes every connection with a close frame and stops redialing: for shutdown.
    pub fn close_all(&mut self, now: Duration) {
        self.advance(now);
        for peer in std::mem::take(&mut self.persistent).into_keys() {
            self.timers.cancel(Timer::Redial(peer));
        }
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.close(now, conn);
        }
    }

    // ----- inputs ---------------------------------------------------------------------------

    /// Feeds bytes received on `conn`. Unknown connections are ignored.
    pub fn handle_receive(&mut self, now: Duration, conn: ConnId, bytes: &[u8]) {
        self.advance(now);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.session.push(bytes);
        c.last_received = now;
        if c.ping_outstanding {
            // The liveness timer waits for the idle timeout while a ping is out; now that the
            // peer has spoken, the next check is a keepalive interval from here.
            c.ping_outstanding = false;
            self.timers
                .set(Timer::Liveness(conn), now + self.config.keepalive_interval);
        }
        let opened_at = c.opened_at;
        let in_handshake = c.established_at.is_none();
        if in_handshake && self.pending_inbound.stage(conn) == Some(Stage::Silent) {
            // The first bytes arrived: the rest of the handshake gets the handshake timeout.
            self.pending_inbound.advance(conn, Stage::Partial);
            self.timers.set(
                Timer::Handshake(conn),
                opened_at + self.config.handshake_timeout,
            );
            if self.handshakes_under_way() > self.config.max_pending_handshakes
                && let Some((victim, _)) = self.pending_inbound.least_advanced()
            {
                self.refusals.evicted_pending += 1;
                self.close_connection(now, victim, CloseReason::Evicted, None);
                if victim == conn {
                    return;
                }
            }
        }
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let was_dirty = !c.tx.is_empty();
            let step = c.session.next(&self.keys, &mut c.tx, &mut self.scratch);
            if !was_dirty && !c.tx.is_empty() {
                self.dirty.insert(conn);
            }
            match step {
                Ok(None) => break,
                Ok(Some(Incoming::Authenticated { peer, post_quantum })) => {
                    if post_quantum == Some(false) {
                        self.events
                            .push_back(Event::ClassicalHandshake { conn, peer });
                    }
                    self.on_authenticated(now, conn, peer);
                }
                Ok(Some(Incoming::Native(decoded))) => self.on_frame(now, conn, decoded),
                Ok(Some(Incoming::Skywire(payload))) => {
                    self.on_skywire_payload(now, conn, payload);
                }
                Err(error) => {
                    let c = &self.conns[&conn];
                    let established = c.session.is_established();
                    if !established && c.kind == ConnKind::Inbound {
                        self.refusals.protocol_violation += 1;
                    }
                    let code = established.then_some(CloseCode::ProtocolError);
                    self.close_connection(now, conn, CloseReason::ProtocolViolation(error), code);
                }
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session.shrink();
            if in_handshake && c.session.handshake_messages_read() > 0 {
                self.pending_inbound.advance(conn, Stage::Replied);
            }
        }
    }

    /// The host's socket for `conn` reached end of stream or failed.
    pub fn handle_socket_closed(&mut self, now: Duration, conn: ConnId) {
        self.advance(now);
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let reason = if c.session.is_established() {
            CloseReason::SocketClosed
        } else {
            CloseReason::HandshakeIncomplete
        };
        self.close_connection(now, conn, reason, None);
    }

    /// Processes every timer due at `now`. Calling it early, or twice, does nothing harmful.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.advance(now);
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                Timer::Handshake(conn) => self.handshake_timed_out(now, conn),
                Timer::Liveness(conn) => self.check_liveness(now, conn),
                Timer::Redial(peer) => self.redial_due(peer),
            }
        }
    }

    // ----- outputs --------------------------------------------------------------------------

    /// The next thing for the host to do. Call it after every input and keep calling until it
    /// returns [`Output::Timeout`]; then wait for that instant or the next input.
    #[must_use]
    pub fn poll_output(&mut self) -> Output {
        self.pump();
        if let Some(transmit) = self.final_transmits.pop_front() {
            return Output::Transmit(transmit);
        }
        while let Some(conn) = self.dirty.pop_first() {
            let Some(c) = self.conns.get_mut(&conn) else {
                continue;
            };
            c.session.flush(&mut c.tx, &mut self.scratch);
            if !c.tx.is_empty() {
                let data = c.tx.split().freeze();
                if c.tx.capacity() > 0 && c.established_at.is_some() {
                    c.tx = BytesMut::new();
                }
                return Output::Transmit(Transmit { conn, data });
            }
        }
        if let Some(output) = self.events.pop_front() {
            return output;
        }
        Output::Timeout(self.timers.next_deadline())
    }

    // ----- introspection --------------------------------------------------------------------

    /// Every live connection.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.conns
            .iter()
            .map(|(conn, c)| {
                let peer = c.session.remote();
                let sending = peer.is_some_and(|p| self.sending_conn(&p) == Some(*conn));
                SessionInfo {
                    conn: *conn,
                    peer: if c.session.is_established() {
                        peer
                    } else {
                        None
                    },
                    kind: c.kind,
                    network: c.network,
                    authenticated: c.session.is_established(),
                    sending,
                }
            })
            .collect()
    }

    /// Messages waiting for an ack from `peer`.
    pub fn queued_for(&self, peer: &PublicKey) -> usize {
        self.outbox.len_for(peer)
    }

    /// Messages waiting for an ack from anyone.
    pub fn queued_total(&self) -> usize {
        self.outbox.total()
    }

    /// Every unacked message, per peer, in sending order.
    pub fn outbox_entries(&self) -> impl Iterator<Item = (&PublicKey, &ChatMessage)> {
        self.outbox.entries()
    }

    /// The dedup marks, for persistence.
    pub fn dedup_records(&self) -> Vec<DedupRecord> {
        self.dedup.records()
    }

    /// Peers this node keeps connected (not those dialed only while messages wait for them).
    pub fn persistent_peers(&self) -> impl Iterator<Item = &PublicKey> {
        self.persistent
            .iter()
            .filter(|(_, schedule)| !schedule.on_demand)
            .map(|(peer, _)| peer)
    }

    /// Connections still in their handshake, including inbound ones that have sent nothing.
    pub fn pending_handshakes(&self) -> usize {
        self.pending_handshakes
    }

    /// Inbound connections refused so far, by reason.
    pub fn refusals(&self) -> RefusalCounts {
        self.refusals
    }

    // ----- internals ------------------------------------------------------------------------

    fn advance(&mut self, now: Duration) {
        self.now = self.now.max(now);
    }
}

/// Events and dials for the host, in the order they happened.
#[derive(Default)]
struct OutputQueue(VecDeque<Output>);

impl OutputQueue {
    fn push_back(&mut self, event: Event) {
        self.0.push_back(Output::Event(event));
    }

    fn push_dial(&mut self, peer: PublicKey) {
        self.0.push_back(Output::Dial { peer });
    }

    fn pop_front(&mut self) -> Option<Output> {
        self.0.pop_front()
    }
}

/// A random stream id; never 0, which holds the Go skychat's ids.
fn nonzero(rng: &mut SeededRng) -> u64 {
    loop {
        let value = rng.next_u64();
        if value != 0 {
            return value;
        }
    }
}

/// Refuses a message to a Skywire peer whose envelope would exceed a chat frame. Go's JSON
/// escaping grows a byte to at most six, so short bodies need no encoding to know.
fn check_envelope_size(body: &str, reply_to: Option<MessageId>) -> Result<(), CommandError> {
    const ENVELOPE_OVERHEAD: usize = 160;
    if body.len() * 6 + ENVELOPE_OVERHEAD <= MAX_CHAT_FRAME {
        return Ok(());
    }
    let envelope = SkywirePayload::Message(ChatMsg {
        id: ids::wire_id(MessageId { stream: 1, seq: 1 }),
        body: body.to_owned(),
        ack: true,
        reply_to: reply_to.map(ids::wire_id).unwrap_or_default(),
    });
    let len = envelope.encode().len();
    if len > MAX_CHAT_FRAME {
        return Err(CommandError::EnvelopeTooLarge { len });
    }
    Ok(())
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("public", &self.public)
            .field("connections", &self.conns.len())
            .field("queued", &self.outbox.total())
            .finish_non_exhaustive()
    }
}
