//! The reconnect schedule of one persistent peer: exponential backoff with seeded jitter, reset
//! only by a session that stayed up long enough, so a peer that accepts and then drops us at
//! once is not redialed in a hot loop.
//!
//! Attempts that were turned away before the handshake got message 2 (the remote closed the
//! connection or let it time out, which is what a listener under load does) follow a second,
//! short schedule instead: it doubles from the initial delay up to [`TURNED_AWAY_FACTOR`] times
//! it, and leaves the main backoff alone, so that a peer refused during a flood gets back in
//! soon after it instead of waiting out a backoff grown to a minute.

use std::time::Duration;

use crate::rng::SeededRng;
use crate::timer::ConnId;

/// The cap of the turned-away schedule, as a multiple of the initial delay.
pub const TURNED_AWAY_FACTOR: u32 = 8;

/// Reconnect state of one peer that the node keeps connected.
#[derive(Debug, Clone)]
pub struct ReconnectSchedule {
    backoff: Duration,
    turned_away: Duration,
    /// The outbound connection being set up, from dial request until authenticated or closed.
    pub attempt: Option<DialAttempt>,
    /// Kept only while messages wait for the peer (see `NodeConfig::dial_on_demand`), not
    /// because the host asked for the peer to stay connected.
    pub on_demand: bool,
}

/// Where an outbound attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialAttempt {
    /// The node asked the host to dial; no connection yet.
    Requested,
    /// The host connected; the handshake runs on this connection.
    Handshaking(ConnId),
}

impl ReconnectSchedule {
    /// A schedule starting at `initial` backoff.
    pub fn new(initial: Duration) -> Self {
        Self {
            backoff: initial,
            turned_away: initial,
            attempt: None,
            on_demand: false,
        }
    }

    /// The delay before the next attempt, with jitter in `[backoff, 1.25 * backoff)`. Doubles the
    /// backoff for the attempt after, up to `max`.
    pub fn next_delay(&mut self, rng: &mut SeededRng, max: Duration) -> Duration {
        let base = self.backoff;
        self.backoff = (base * 2).min(max);
        jittered(base, rng)
    }

    /// The delay before retrying an attempt that was turned away before message 2, with jitter
    /// in `[b, 1.25 * b)`, where `b` doubles from `initial` up to `TURNED_AWAY_FACTOR * initial`
    /// (and never beyond `max`). The main backoff does not grow.
    pub fn next_turned_away_delay(
        &mut self,
        rng: &mut SeededRng,
        initial: Duration,
        max: Duration,
    ) -> Duration {
        let base = self.turned_away;
        self.turned_away = (base * 2).min(turned_away_cap(initial, max));
        jittered(base, rng)
    }

    /// Starts the backoff over, after a session that proved stable.
    pub fn reset(&mut self, initial: Duration) {
        self.backoff = initial;
    }

    /// Starts the turned-away schedule over, after the peer let us in.
    pub fn reset_turned_away(&mut self, initial: Duration) {
        self.turned_away = initial;
    }

    /// The backoff the next delay will be drawn from.
    #[cfg(test)]
    pub fn backoff(&self) -> Duration {
        self.backoff
    }
}

/// The longest base delay of the turned-away schedule.
pub fn turned_away_cap(initial: Duration, max: Duration) -> Duration {
    (initial * TURNED_AWAY_FACTOR).min(max)
}

/// `base` plus a seeded jitter in `[0, base / 4)`.
fn jittered(base: Duration, rng: &mut SeededRng) -> Duration {
    let spread = (base.as_micros() / 4) as u64;
    let jitter = if spread == 0 {
        0
    } else {
        rng.next_u64() % spread
    };
    base + Duration::from_micros(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_to_the_cap_and_stay_within_jitter() {
        let mut rng = SeededRng::from_seed([3; 32]);
        let mut schedule = ReconnectSchedule::new(Duration::from_secs(1));
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

    #[test]
    fn turned_away_delays_stay_short_and_leave_the_main_backoff_alone() {
        let mut rng = SeededRng::from_seed([4; 32]);
        let initial = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        let mut schedule = ReconnectSchedule::new(initial);
        for base in [1, 2, 4, 8, 8, 8, 8, 8] {
            let base = Duration::from_secs(base);
            let delay = schedule.next_turned_away_delay(&mut rng, initial, max);
            assert!(
                delay >= base && delay < base * 5 / 4,
                "{delay:?} vs {base:?}"
            );
        }
        assert_eq!(schedule.backoff(), initial, "main backoff untouched");
        schedule.reset_turned_away(initial);
        let again = schedule.next_turned_away_delay(&mut rng, initial, max);
        assert!(again >= initial && again < initial * 5 / 4, "{again:?}");
    }
}
