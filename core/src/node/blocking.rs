//! The node's block list: peers it refuses on every network (TCP-direct, skynet, dmsg) right
//! after they authenticate, whatever the whitelist says, and never dials. Their queued
//! messages stay queued until they are unblocked.

use std::time::Duration;

use super::Node;
use crate::event::CloseReason;
use crate::frame::CloseCode;
use crate::keys::PublicKey;
use crate::session::Role;
use crate::timer::{ConnId, Timer};

impl Node {
    /// Blocks `peer` (closing its sessions with a `NotAuthorized` close, and refusing it from
    /// now on) or unblocks it (a persistent peer is then dialed again at once).
    pub fn set_blocked(&mut self, now: Duration, peer: PublicKey, blocked: bool) {
        self.advance(now);
        if blocked {
            if !self.blocked.insert(peer) {
                return;
            }
            let sessions = self
                .sessions_by_peer
                .get(&peer)
                .cloned()
                .unwrap_or_default();
            for conn in sessions {
                self.close_connection(
                    now,
                    conn,
                    CloseReason::NotAuthorized,
                    Some(CloseCode::NotAuthorized),
                );
            }
        } else if self.blocked.remove(&peer) && self.persistent.contains_key(&peer) {
            self.timers.set(Timer::Redial(peer), now);
        }
    }

    /// True if `peer` is blocked.
    pub fn is_blocked(&self, peer: &PublicKey) -> bool {
        self.blocked.contains(peer)
    }

    /// Refuses a blocked peer that has just authenticated on `conn`; false if it may stay.
    pub(super) fn refused_as_blocked(
        &mut self,
        now: Duration,
        conn: ConnId,
        peer: PublicKey,
        role: Role,
    ) -> bool {
        if !self.blocked.contains(&peer) {
            return false;
        }
        if role == Role::Responder {
            self.refusals.blocked += 1;
        }
        self.close_connection(
            now,
            conn,
            CloseReason::NotAuthorized,
            Some(CloseCode::NotAuthorized),
        );
        true
    }
}
