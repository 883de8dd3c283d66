//! The inbound connections still in their handshake, ordered by how little they have done, so
//! that at a cap the node can evict the one that has shown the least sign of being a real peer:
//! among connections that sent nothing, the oldest; among handshakes under way, those whose
//! message 1 is incomplete before those waiting for message 3, the oldest among equals.

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
    stages: BTreeMap<ConnId, Stage>,
    order: BTreeSet<(Stage, ConnId)>,
    silent: usize,
}

impl PendingInbound {
    /// Tracks a newly accepted connection.
    pub fn insert(&mut self, conn: ConnId) {
        if self.stages.insert(conn, Stage::Silent).is_none() {
            self.silent += 1;
        }
        self.order.insert((Stage::Silent, conn));
    }

    /// Connections that have sent nothing yet.
    pub fn silent(&self) -> usize {
        self.silent
    }

    /// The stage of `conn`, if it is tracked.
    pub fn stage(&self, conn: ConnId) -> Option<Stage> {
        self.stages.get(&conn).copied()
    }

    /// Records that `conn` reached `stage`. Unknown connections are ignored.
    pub fn advance(&mut self, conn: ConnId, stage: Stage) {
        let Some(current) = self.stages.get_mut(&conn) else {
            return;
        };
        if *current == stage {
            return;
        }
        self.order.remove(&(*current, conn));
        if *current == Stage::Silent {
            self.silent -= 1;
        }
        if stage == Stage::Silent {
            self.silent += 1;
        }
        *current = stage;
        self.order.insert((stage, conn));
    }

    /// Stops tracking `conn` (it authenticated or closed).
    pub fn remove(&mut self, conn: ConnId) {
        if let Some(stage) = self.stages.remove(&conn) {
            self.order.remove(&(stage, conn));
            if stage == Stage::Silent {
                self.silent -= 1;
            }
        }
    }

    /// The oldest connection that has sent nothing.
    pub fn oldest_silent(&self) -> Option<ConnId> {
        self.order
            .first()
            .filter(|(stage, _)| *stage == Stage::Silent)
            .map(|&(_, conn)| conn)
    }

    /// The handshake under way to evict: the oldest among those at the earliest stage.
    pub fn least_advanced(&self) -> Option<(ConnId, Stage)> {
        self.order
            .range((Stage::Partial, ConnId(0))..)
            .next()
            .map(|&(stage, conn)| (conn, stage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
