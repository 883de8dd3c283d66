//! Peer routing with redial: which session carries a peer's messages, pumping a peer's acks,
//! read receipts and outbox onto it, and keeping persistent peers connected on their reconnect
//! schedule.

use std::time::Duration;

use super::Node;
use super::connection::Connection;
use crate::event::{CloseReason, ConnKind};
use crate::frame::Frame;
use crate::keys::{PublicKey, Suite};
use crate::message::ChatMessage;
use crate::redial::{DialAttempt, ReconnectSchedule};
use crate::skywire::SkywirePayload;
use crate::timer::{ConnId, Timer};

impl Node {
    /// The session that carries `peer`'s messages: the earliest established one that is not
    /// one-shot, or else the earliest one-shot. A newer session never displaces a live one.
    pub(super) fn sending_conn(&self, peer: &PublicKey) -> Option<ConnId> {
        let sessions = self.sessions_by_peer.get(peer)?;
        let preferred = |oneshot: bool| {
            sessions
                .iter()
                .copied()
                .find(|conn| (self.conns[conn].kind == ConnKind::OneShot) == oneshot)
        };
        preferred(false).or_else(|| preferred(true))
    }

    pub(super) fn pump(&mut self) {
        while let Some(peer) = self.to_pump.pop_first() {
            self.pump_peer(peer);
        }
    }

    pub(super) fn pump_peer(&mut self, peer: PublicKey) {
        let Some(sending) = self.sending_conn(&peer) else {
            return;
        };
        let live = |node: &Self, conn: Option<ConnId>| {
            conn.filter(|c| {
                node.sessions_by_peer
                    .get(&peer)
                    .is_some_and(|s| s.contains(c))
            })
        };
        for owed in self.skywire_inbox.take_owed_acks(&peer) {
            let conn = live(self, Some(owed.conn)).unwrap_or(sending);
            self.send_payload(conn, &SkywirePayload::Ack { id: owed.wire_id });
        }
        for ack in self.dedup.take_due_acks(&peer) {
            let conn = live(self, ack.conn).unwrap_or(sending);
            self.send_frame(
                conn,
                &Frame::Ack {
                    stream: ack.stream,
                    upto: ack.upto,
                },
            );
        }
        if let Some(reads) = self.reads.remove(&peer) {
            for id in reads {
                self.send_frame(sending, &Frame::Read { id });
            }
        }
        self.send_sendable(peer, sending);
        // After the outbox: a deletion of a message sent just now follows the message.
        if let Some(deletions) = self.deletions.remove(&peer) {
            for id in deletions {
                self.send_frame(sending, &Frame::Delete { id });
            }
        }
    }

    /// Sends what `peer`'s outbox may send now on `conn`: encoded straight from the outbox on a
    /// native session, as envelopes (which own their text) on a Skywire one.
    fn send_sendable(&mut self, peer: PublicKey, conn: ConnId) {
        let window = self.config.max_in_flight_per_session;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.session.is_skywire() {
            let messages: Vec<ChatMessage> = self
                .outbox
                .take_sendable(&peer, conn, window, self.now)
                .cloned()
                .collect();
            for message in messages {
                self.send_frame(conn, &Frame::Chat(message));
            }
            return;
        }
        let mut sent = false;
        for message in self.outbox.take_sendable(&peer, conn, window, self.now) {
            sent |= c
                .session
                .send_native_chat(message, &mut c.tx, &mut self.scratch);
        }
        if sent {
            self.dirty.insert(conn);
        }
    }

    pub(super) fn redial_due(&mut self, peer: PublicKey) {
        let connected = self
            .sessions_by_peer
            .get(&peer)
            .is_some_and(|s| !s.is_empty());
        let waiting = self.outbox.len_for(&peer);
        let Some(schedule) = self.persistent.get_mut(&peer) else {
            return;
        };
        if schedule.on_demand && waiting == 0 {
            self.persistent.remove(&peer);
            return;
        }
        if connected || schedule.attempt.is_some() || self.blocked.contains(&peer) {
            return;
        }
        schedule.attempt = Some(DialAttempt::Requested);
        self.events.push_dial(peer);
    }

    /// With `dial_on_demand`, starts dialing a Skywire peer that messages now wait for and that
    /// has no session and no dial schedule; [`Node::redial_due`] drops the schedule once the
    /// peer's outbox is empty.
    pub(super) fn dial_on_demand(&mut self, now: Duration, peer: PublicKey) {
        let connected = self.sessions_by_peer.contains_key(&peer);
        if !self.config.dial_on_demand
            || peer.suite() != Suite::Skywire
            || connected
            || self.blocked.contains(&peer)
            || self.persistent.contains_key(&peer)
        {
            return;
        }
        let mut schedule = ReconnectSchedule::new(self.config.reconnect_initial);
        schedule.on_demand = true;
        self.persistent.insert(peer, schedule);
        self.timers.set(Timer::Redial(peer), now);
    }

    /// Sets the next dial of `peer`: on the short turned-away schedule if the last attempt was
    /// closed or timed out before message 2, else on the main backoff.
    pub(super) fn schedule_redial(&mut self, now: Duration, peer: PublicKey, turned_away: bool) {
        let Some(schedule) = self.persistent.get_mut(&peer) else {
            return;
        };
        let (initial, max) = (self.config.reconnect_initial, self.config.reconnect_max);
        let delay = if turned_away {
            schedule.next_turned_away_delay(&mut self.rng, initial, max)
        } else {
            schedule.next_delay(&mut self.rng, max)
        };
        self.timers.set(Timer::Redial(peer), now + delay);
    }

    pub(super) fn after_connection_lost(
        &mut self,
        now: Duration,
        peer: PublicKey,
        conn: ConnId,
        c: &Connection,
        reason: &CloseReason,
    ) {
        let still_connected = self
            .sessions_by_peer
            .get(&peer)
            .is_some_and(|s| !s.is_empty());
        let initial = self.config.reconnect_initial;
        let stable_after = self.config.reconnect_stable_after;
        let Some(schedule) = self.persistent.get_mut(&peer) else {
            return;
        };
        let was_attempt = schedule.attempt == Some(DialAttempt::Handshaking(conn));
        if was_attempt {
            schedule.attempt = None;
        }
        if still_connected || schedule.attempt.is_some() {
            return;
        }
        if c.established_at
            .is_some_and(|at| now.saturating_sub(at) >= stable_after)
        {
            schedule.reset(initial);
        }
        let turned_away = was_attempt
            && c.established_at.is_none()
            && matches!(
                reason,
                CloseReason::HandshakeIncomplete | CloseReason::HandshakeTimeout
            );
        self.schedule_redial(now, peer, turned_away);
    }
}
