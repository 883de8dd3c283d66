//! The inbound connections still in their handshake, ordered by how little they have done, so
//! that at a cap the node can evict the one that has shown the least sign of being a real peer:
//! among connections that sent nothing, the oldest; among handshakes under way, those whose
//! message 1 is incomplete before those waiting for message 3, and among equals the one that
//! has been at its stage longest. Age counts from entering the stage, not from the accept: a
//! connection accepted long ago whose first bytes only just arrived is the newest talker, and
//! must not be the first to go while stalled ones churn through the cap.

use std::collections::{BTreeMap, BTreeSet};

use crate::timer::ConnId;

/// How far an inbound handshake has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Nothing received yet.
    Silent,
    /// Some bytes, but message 1 is not complete.
    Partial,
    /// Message 1 verified and message 2 sent; waiting for message 3.
    Replied,
}

/// Pending inbound handshakes, indexed for eviction.
#[derive(Debug, Default)]
pub struct PendingInbound {
    stages: BTreeMap<ConnId, (Stage, u64)>,
    order: BTreeSet<(Stage, u64, ConnId)>,
    silent: usize,
    entered: u64,
}

impl PendingInbound {
    /// Tracks a newly accepted connection.
    pub fn insert(&mut self, conn: ConnId) {
        let entered = self.tick();
        if let Some((stage, at)) = self.stages.insert(conn, (Stage::Silent, entered)) {
            self.order.remove(&(stage, at, conn));
            if stage == Stage::Silent {
                self.silent -= 1;
            }
        }
        self.silent += 1;
        self.order.insert((Stage::Silent, entered, conn));
    }

    /// Connections that have sent nothing yet.
    pub fn silent(&self) -> usize {
        self.silent
    }

    /// The stage of `conn`, if it is tracked.
    pub fn stage(&self, conn: ConnId) -> Option<Stage> {
        self.stages.get(&conn).map(|&(stage, _)| stage)
    }

    /// Records that `conn` reached `stage`. Unknown connections are ignored.
    pub fn advance(&mut self, conn: ConnId, stage: Stage) {
        let entered = self.tick();
        let Some(current) = self.stages.get_mut(&conn) else {
            return;
        };
        if current.0 == stage {
            return;
        }
        self.order.remove(&(current.0, current.1, conn));
        if current.0 == Stage::Silent {
            self.silent -= 1;
        }
        if stage == Stage::Silent {
            self.silent += 1;
        }
        *current = (stage, entered);
        self.order.insert((stage, entered, conn));
    }

    /// Stops tracking `conn` (it authenticated or closed).
    pub fn remove(&mut self, conn: ConnId) {
        if let Some((stage, entered)) = self.stages.remove(&conn) {
            self.order.remove(&(stage, entered, conn));
            if stage == Stage::Silent {
                self.silent -= 1;
            }
        }
    }

    /// The oldest connection that has sent nothing.
    pub fn oldest_silent(&self) -> Option<ConnId> {
        self.order
            .first()
            .filter(|(stage, _, _)| *stage == Stage::Silent)
            .map(|&(_, _, conn)| conn)
    }

    /// The handshake under way to evict: at the earliest stage, the longest there.
    pub fn least_advanced(&self) -> Option<(ConnId, Stage)> {
        self.order
            .range((Stage::Partial, 0, ConnId(0))..)
            .next()
            .map(|&(stage, _, conn)| (conn, stage))
    }

    fn tick(&mut self) -> u64 {
        self.entered += 1;
        self.entered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_from_entering_the_stage() {
        let mut pending = PendingInbound::default();
        pending.insert(ConnId(1));
        pending.insert(ConnId(2));
        pending.insert(ConnId(3));
        pending.advance(ConnId(2), Stage::Partial);
        pending.advance(ConnId(3), Stage::Partial);
        // Connection 1 was accepted first but talks last: it is the newest talker.
        pending.advance(ConnId(1), Stage::Partial);
        assert_eq!(pending.least_advanced(), Some((ConnId(2), Stage::Partial)));
        pending.remove(ConnId(2));
        assert_eq!(pending.least_advanced(), Some((ConnId(3), Stage::Partial)));
    }

    #[test]
    fn finds_the_oldest_silent_and_the_least_advanced_oldest_first() {
        let mut pending = PendingInbound::default();
        for n in 1..=4 {
            pending.insert(ConnId(n));
        }
        pending.advance(ConnId(1), Stage::Replied);
        pending.advance(ConnId(2), Stage::Partial);
        assert_eq!(pending.silent(), 2);
        assert_eq!(pending.oldest_silent(), Some(ConnId(3)));
        assert_eq!(pending.least_advanced(), Some((ConnId(2), Stage::Partial)));
        pending.remove(ConnId(3));
        pending.remove(ConnId(4));
        assert_eq!(pending.silent(), 0);
        assert_eq!(pending.oldest_silent(), None);
        pending.remove(ConnId(2));
        assert_eq!(pending.least_advanced(), Some((ConnId(1), Stage::Replied)));
        pending.remove(ConnId(1));
        assert_eq!(pending.least_advanced(), None);
    }
}
