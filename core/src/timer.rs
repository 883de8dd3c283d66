//! The node's timer table: every pending deadline, indexed by time so the earliest is cheap to
//! find. A timer is identified by what it is for; setting it again moves it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::keys::PublicKey;

/// Identifies one connection within a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// The connection must finish its handshake by then.
    Handshake(ConnId),
    /// Time to check whether the connection is silent: send a ping, or close it as idle.
    Liveness(ConnId),
    /// Time to dial a persistent peer again.
    Redial(PublicKey),
}

/// Pending deadlines.
#[derive(Debug, Default)]
pub struct TimerTable {
    by_timer: BTreeMap<Timer, Duration>,
    by_deadline: BTreeSet<(Duration, Timer)>,
}

impl TimerTable {
    /// Sets `timer` to fire at `at`, replacing any earlier setting.
    pub fn set(&mut self, timer: Timer, at: Duration) {
        self.cancel(timer);
        self.by_timer.insert(timer, at);
        self.by_deadline.insert((at, timer));
    }

    /// Removes `timer`. Cancelling a timer that is not set does nothing.
    pub fn cancel(&mut self, timer: Timer) {
        if let Some(at) = self.by_timer.remove(&timer) {
            self.by_deadline.remove(&(at, timer));
        }
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.by_deadline.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest timer due at or before `now`.
    pub fn pop_expired(&mut self, now: Duration) -> Option<Timer> {
        let &(at, timer) = self.by_deadline.first()?;
        if at > now {
            return None;
        }
        self.cancel(timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_deadline_order_and_only_when_due() {
        let mut timers = TimerTable::default();
        let s = Duration::from_secs;
        timers.set(Timer::Liveness(ConnId(1)), s(5));
        timers.set(Timer::Handshake(ConnId(2)), s(3));
        timers.set(Timer::Liveness(ConnId(1)), s(9));
        assert_eq!(timers.next_deadline(), Some(s(3)));
        assert_eq!(timers.pop_expired(s(2)), None);
        assert_eq!(timers.pop_expired(s(10)), Some(Timer::Handshake(ConnId(2))));
        assert_eq!(timers.pop_expired(s(10)), Some(Timer::Liveness(ConnId(1))));
        assert_eq!(timers.pop_expired(s(10)), None);
    }
}
