//! The inbound connections still in their handshake, ordered by how little they have done, so
//! that when the pending-handshake cap is reached the node can evict the one that has shown the
//! least sign of being a real peer: first those that sent nothing, then those part way through,
//! and among equals the oldest.

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
}

impl PendingInbound {
    /// Tracks a newly accepted connection.
    pub fn insert(&mut self, conn: ConnId) {
        self.stages.insert(conn, Stage::Silent);
        self.order.insert((Stage::Silent, conn));
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
        *current = stage;
        self.order.insert((stage, conn));
    }

    /// Stops tracking `conn` (it authenticated or closed).
    pub fn remove(&mut self, conn: ConnId) {
        if let Some(stage) = self.stages.remove(&conn) {
            self.order.remove(&(stage, conn));
        }
    }

    /// The connection to evict: the oldest among those at the earliest stage.
    pub fn eviction_candidate(&self) -> Option<(ConnId, Stage)> {
        self.order.first().map(|&(stage, conn)| (conn, stage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_silent_first_then_the_least_advanced_oldest_first() {
        let mut pending = PendingInbound::default();
        for n in 1..=4 {
            pending.insert(ConnId(n));
        }
        pending.advance(ConnId(1), Stage::Replied);
        pending.advance(ConnId(2), Stage::Partial);
        assert_eq!(
            pending.eviction_candidate(),
            Some((ConnId(3), Stage::Silent))
        );
        pending.remove(ConnId(3));
        pending.remove(ConnId(4));
        assert_eq!(
            pending.eviction_candidate(),
            Some((ConnId(2), Stage::Partial))
        );
        pending.remove(ConnId(2));
        assert_eq!(
            pending.eviction_candidate(),
            Some((ConnId(1), Stage::Replied))
        );
        pending.remove(ConnId(1));
        assert_eq!(pending.eviction_candidate(), None);
    }
}
