//! One connection's state and its timers: the session, the bytes waiting to be written, when it
//! opened, authenticated and last heard from; the handshake deadline, the liveness checks
//! (native ping, Skywire unacked-message deadline), authentication and closing.

use std::time::Duration;

use bytes::BytesMut;

use super::Node;
use crate::bundle::SUPPORTED_FEATURES;
use crate::event::{CloseReason, ConnKind, Event, Network, Transmit};
use crate::frame::{CloseCode, Frame};
use crate::keys::PublicKey;
use crate::pending::Stage;
use crate::redial::DialAttempt;
use crate::session::Role;
use crate::skywire::{ChatMsg, SkywirePayload, ids};
use crate::suite_session::SuiteSession;
use crate::timer::{ConnId, Timer};

/// One connection the node has, from accept or connect until closed.
pub(super) struct Connection {
    pub(super) session: SuiteSession,
    pub(super) kind: ConnKind,
    pub(super) network: Network,
    pub(super) tx: BytesMut,
    pub(super) opened_at: Duration,
    pub(super) established_at: Option<Duration>,
    pub(super) last_received: Duration,
    pub(super) ping_outstanding: bool,
}

impl Node {
    /// `conn`'s handshake deadline passed: counted as a refusal if it was inbound, and closed.
    pub(super) fn handshake_timed_out(&mut self, now: Duration, conn: ConnId) {
        match self.pending_inbound.stage(conn) {
            Some(Stage::Silent) => self.refusals.first_bytes_timeout += 1,
            Some(_) => self.refusals.handshake_timeout += 1,
            None => {}
        }
        self.close_connection(now, conn, CloseReason::HandshakeTimeout, None);
    }

    /// Connections in their handshake that have sent or received handshake bytes: the ones
    /// `max_pending_handshakes` bounds.
    pub(super) fn handshakes_under_way(&self) -> usize {
        self.pending_handshakes - self.pending_inbound.silent()
    }

    pub(super) fn insert_connection(
        &mut self,
        now: Duration,
        session: SuiteSession,
        kind: ConnKind,
        network: Network,
        tx: BytesMut,
    ) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        if !tx.is_empty() {
            self.dirty.insert(conn);
        }
        self.conns.insert(
            conn,
            Connection {
                session,
                kind,
                network,
                tx,
                opened_at: now,
                established_at: None,
                last_received: now,
                ping_outstanding: false,
            },
        );
        self.pending_handshakes += 1;
        self.timers
            .set(Timer::Handshake(conn), now + self.config.handshake_timeout);
        conn
    }

    pub(super) fn on_authenticated(&mut self, now: Duration, conn: ConnId, peer: PublicKey) {
        let c = self.conns.get_mut(&conn).expect("live connection");
        let role = c.session.role();
        let kind = c.kind;
        let network = c.network;
        self.pending_handshakes -= 1;
        c.established_at = Some(now);
        self.timers.cancel(Timer::Handshake(conn));
        self.pending_inbound.remove(conn);
        // The whitelist guards TCP-direct; on skynet and dmsg anyone may write to this node, as
        // to the Go skychat (the visor proved who they are).
        if role == Role::Responder
            && network == Network::Tcp
            && !self.config.whitelist.allows(&peer)
        {
            self.refusals.not_whitelisted += 1;
            self.events.push_back(Event::Rejected { conn, peer });
            self.close_connection(
                now,
                conn,
                CloseReason::NotAuthorized,
                Some(CloseCode::NotAuthorized),
            );
            return;
        }
        if self.refused_as_blocked(now, conn, peer, role) {
            return;
        }
        let sessions = self.sessions_by_peer.entry(peer).or_default();
        if sessions.len() >= self.config.max_sessions_per_peer {
            if role == Role::Responder {
                self.refusals.busy += 1;
            }
            self.close_connection(now, conn, CloseReason::Busy, Some(CloseCode::Busy));
            return;
        }
        sessions.push(conn);
        if let Some(schedule) = self.persistent.get_mut(&peer) {
            schedule.reset_turned_away(self.config.reconnect_initial);
            if schedule.attempt == Some(DialAttempt::Handshaking(conn)) {
                schedule.attempt = None;
            }
        }
        // A native peer learns first what this node accepts (section 6.5 of the protocol).
        self.send_frame(
            conn,
            &Frame::Features {
                bits: SUPPORTED_FEATURES,
            },
        );
        self.timers
            .set(Timer::Liveness(conn), now + self.config.keepalive_interval);
        self.events.push_back(Event::Authenticated {
            conn,
            peer,
            role,
            kind,
            network,
        });
        self.to_pump.insert(peer);
    }

    /// Sends a native frame on `conn`. On a Skywire session only chat messages and read
    /// receipts have a meaning (as envelopes); pings, pongs, cumulative acks and close frames
    /// have none and are skipped.
    pub(super) fn send_frame(&mut self, conn: ConnId, frame: &Frame) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.session.is_skywire() {
            if c.session.send_native(frame, &mut c.tx, &mut self.scratch) {
                self.dirty.insert(conn);
            }
            return;
        }
        let payload = match frame {
            Frame::Chat(message) => SkywirePayload::Message(ChatMsg {
                id: ids::wire_id(message.id),
                body: message.body.clone(),
                ack: true,
                reply_to: message.reply_to.map(ids::wire_id).unwrap_or_default(),
            }),
            Frame::Read { id } => {
                let peer = c.session.remote();
                let wire_id = peer
                    .and_then(|p| self.skywire_inbox.wire_id(&p, *id))
                    .map_or_else(|| ids::wire_id(*id), str::to_owned);
                SkywirePayload::Read { id: wire_id }
            }
            Frame::Delete { id } => SkywirePayload::Delete {
                id: ids::wire_id(*id),
            },
            Frame::Ack { .. }
            | Frame::Ping { .. }
            | Frame::Pong { .. }
            | Frame::Close { .. }
            | Frame::Features { .. } => {
                return;
            }
        };
        self.send_payload(conn, &payload);
    }

    pub(super) fn send_payload(&mut self, conn: ConnId, payload: &SkywirePayload) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.session.send_skywire(payload, &mut c.tx) {
            self.dirty.insert(conn);
        } else if c.session.is_established() {
            // Only nonce exhaustion gets here: a fresh session starts the nonces again.
            let now = self.now;
            self.close_connection(now, conn, CloseReason::ClosedByHost, None);
        }
    }

    pub(super) fn check_liveness(&mut self, now: Duration, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.session.is_skywire() {
            return self.check_skywire_liveness(now, conn);
        }
        let silent = now.saturating_sub(c.last_received);
        if silent >= self.config.idle_timeout {
            self.close_connection(
                now,
                conn,
                CloseReason::IdleTimeout,
                Some(CloseCode::IdleTimeout),
            );
            return;
        }
        let next = if silent >= self.config.keepalive_interval {
            if !c.ping_outstanding {
                c.ping_outstanding = true;
                let nonce = self.rng.next_u64();
                self.send_frame(conn, &Frame::Ping { nonce });
            }
            self.conns[&conn].last_received + self.config.idle_timeout
        } else {
            c.last_received + self.config.keepalive_interval
        };
        self.timers.set(Timer::Liveness(conn), next);
    }

    /// The Skywire wire has no ping. A Go peer acks a `chat-msg` as soon as it has decoded it,
    /// so a message unacked for the idle timeout, with nothing else received meanwhile, means
    /// the session is dead. An idle session with nothing to send is left to TCP keepalive.
    pub(super) fn check_skywire_liveness(&mut self, now: Duration, conn: ConnId) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let waiting_since = c
            .session
            .remote()
            .and_then(|peer| self.outbox.oldest_unacked_on(&peer, conn));
        let next = match waiting_since {
            Some(sent) => {
                let deadline = sent.max(c.last_received) + self.config.idle_timeout;
                if now >= deadline {
                    self.close_connection(now, conn, CloseReason::IdleTimeout, None);
                    return;
                }
                deadline.min(now + self.config.keepalive_interval)
            }
            None => now + self.config.keepalive_interval,
        };
        self.timers.set(Timer::Liveness(conn), next);
    }

    pub(super) fn close_connection(
        &mut self,
        now: Duration,
        conn: ConnId,
        reason: CloseReason,
        send_close: Option<CloseCode>,
    ) {
        if let Some(code) = send_close {
            self.send_frame(conn, &Frame::Close { code });
        }
        let Some(mut c) = self.conns.remove(&conn) else {
            return;
        };
        self.dirty.remove(&conn);
        c.session.flush(&mut c.tx, &mut self.scratch);
        if !c.tx.is_empty() {
            self.final_transmits.push_back(Transmit {
                conn,
                data: c.tx.split().freeze(),
            });
        }
        self.timers.cancel(Timer::Handshake(conn));
        self.timers.cancel(Timer::Liveness(conn));
        self.pending_inbound.remove(conn);
        let authenticated = c.established_at.is_some() && reason != CloseReason::NotAuthorized;
        if c.established_at.is_none() {
            self.pending_handshakes -= 1;
        }
        let peer = c.session.remote().filter(|_| c.session.is_established());
        if let Some(peer) = peer {
            if let Some(sessions) = self.sessions_by_peer.get_mut(&peer) {
                sessions.retain(|s| *s != conn);
                if sessions.is_empty() {
                    self.sessions_by_peer.remove(&peer);
                }
            }
            self.outbox.connection_lost(&peer, conn);
            self.to_pump.insert(peer);
        }
        if let Some(remote) = c.session.remote() {
            self.after_connection_lost(now, remote, conn, &c, &reason);
        }
        self.events.push_back(Event::ConnectionClosed {
            conn,
            peer,
            was_authenticated: authenticated,
            reason,
        });
    }
}
