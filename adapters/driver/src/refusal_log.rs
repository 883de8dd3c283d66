//! Rate-limited logging of refused inbound connections: instead of a line per refusal, at most
//! one summary line per [`SUMMARY_EVERY`], with the count by reason, so that a flood of
//! connections cannot flood the log.

use std::time::Duration;

use skychat_core::RefusalCounts;

/// The shortest time between two summary lines.
pub(crate) const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// What has been summarised so far.
#[derive(Debug, Default)]
pub(crate) struct RefusalLog {
    logged: RefusalCounts,
    logged_at: Option<Duration>,
    latest: RefusalCounts,
}

impl RefusalLog {
    /// Takes the node's current counts at `now`; returns the summary line to log, if one is due.
    pub fn observe(&mut self, now: Duration, counts: RefusalCounts) -> Option<String> {
        self.latest = counts;
        let window = counts.since(&self.logged);
        if window.total() == 0 {
            return None;
        }
        let since = match self.logged_at {
            Some(at) if now < at + SUMMARY_EVERY => return None,
            Some(at) => now - at,
            None => now,
        };
        self.logged = counts;
        self.logged_at = Some(now);
        Some(format!(
            "refused {} inbound connection{} in the last {} s ({window})",
            grouped(window.total()),
            if window.total() == 1 { "" } else { "s" },
            since.as_secs().max(1),
        ))
    }

    /// When the next summary is due, if refusals are waiting to be summarised.
    pub fn deadline(&self) -> Option<Duration> {
        let waiting = self.latest.since(&self.logged).total() > 0;
        match self.logged_at {
            Some(at) if waiting => Some(at + SUMMARY_EVERY),
            _ => None,
        }
    }
}

/// `n` with a comma between groups of three digits.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle(n: u64) -> RefusalCounts {
        RefusalCounts {
            evicted_idle: n,
            ..Default::default()
        }
    }

    #[test]
    fn one_line_per_ten_seconds_with_the_counts_of_the_window() {
        let s = Duration::from_secs;
        let mut log = RefusalLog::default();
        assert_eq!(log.observe(s(1), RefusalCounts::default()), None);
        let first = log
            .observe(s(2), idle(1))
            .expect("the first refusal is logged");
        assert_eq!(
            first,
            "refused 1 inbound connection in the last 2 s (idle: 1)"
        );
        for t in 3..12 {
            assert_eq!(log.observe(s(t), idle(t * 1000)), None, "at {t} s");
        }
        assert_eq!(log.deadline(), Some(s(12)));
        let mut counts = idle(14_508);
        counts.not_whitelisted = 3;
        let second = log.observe(s(12), counts).expect("due");
        assert_eq!(
            second,
            "refused 14,510 inbound connections in the last 10 s (idle: 14507, not whitelisted: 3)"
        );
        assert_eq!(log.deadline(), None, "nothing waiting");
        assert_eq!(log.observe(s(30), counts), None, "nothing new");
    }

    #[test]
    fn digits_are_grouped_by_three() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
