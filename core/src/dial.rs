//! The reconnect schedule of one persistent peer: exponential backoff with seeded jitter, reset
//! only by a session that stayed up long enough, so a peer that accepts and then drops us at
//! once is not redialed in a hot loop.

use std::time::Duration;

use crate::rng::SeededRng;
use crate::timer::ConnId;

/// Reconnect state of one peer that the node keeps connected.
#[derive(Debug, Clone)]
pub struct DialSchedule {
    backoff: Duration,
    /// The outbound connection being set up, from dial request until authenticated or closed.
    pub attempt: Option<DialAttempt>,
}

/// Where an outbound attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialAttempt {
    /// The node asked the host to dial; no connection yet.
    Requested,
    /// The host connected; the handshake runs on this connection.
    Handshaking(ConnId),
}

impl DialSchedule {
    /// A schedule starting at `initial` backoff.
    pub fn new(initial: Duration) -> Self {
        Self {
            backoff: initial,
            attempt: None,
        }
    }

    /// The delay before the next attempt, with jitter in `[backoff, 1.25 * backoff)`. Doubles the
    /// backoff for the attempt after, up to `max`.
    pub fn next_delay(&mut self, rng: &mut SeededRng, max: Duration) -> Duration {
        let base = self.backoff;
        let spread = (base.as_micros() / 4) as u64;
        let jitter = if spread == 0 {
            0
        } else {
            rng.next_u64() % spread
        };
        self.backoff = (base * 2).min(max);
        base + Duration::from_micros(jitter)
    }

    /// Starts the backoff over, after a session that proved stable.
    pub fn reset(&mut self, initial: Duration) {
        self.backoff = initial;
    }

    /// The backoff the next delay will be drawn from.
    pub fn backoff(&self) -> Duration {
        self.backoff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_to_the_cap_and_stay_within_jitter() {
        let mut rng = SeededRng::from_seed([3; 32]);
        let mut schedule = DialSchedule::new(Duration::from_secs(1));
        let max = Duration::from_secs(60);
        let mut expected = Duration::from_secs(1);
        for _ in 0..10 {
            let delay = schedule.next_delay(&mut rng, max);
            assert!(
                delay >= expected && delay < expected * 5 / 4,
                "{delay:?} vs {expected:?}"
            );
            expected = (expected * 2).min(max);
        }
        schedule.reset(Duration::from_secs(1));
        assert_eq!(schedule.backoff(), Duration::from_secs(1));
    }
}
