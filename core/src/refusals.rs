//! What the node refused on its listener side, and why: cumulative counters of inbound
//! connections that were closed before they could carry messages. The host reads them for
//! logging summaries and status pages; the node never acts on them.

/// Inbound connections refused so far, by reason. Every count only grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefusalCounts {
    /// Evicted at the cap of silent connections, before sending a single byte.
    pub evicted_idle: u64,
    /// Evicted at the pending-handshake cap part way through the handshake.
    pub evicted_pending: u64,
    /// Refused at once because the node takes no silent connections at all.
    pub at_capacity: u64,
    /// Sent nothing within the first-bytes deadline.
    pub first_bytes_timeout: u64,
    /// Started but did not finish the handshake in time.
    pub handshake_timeout: u64,
    /// Broke the protocol before authenticating (garbage, a bad length, a message 1 made for
    /// another key).
    pub protocol_violation: u64,
    /// Authenticated with a key that is not on the whitelist.
    pub not_whitelisted: u64,
    /// Authenticated, but the peer already had the most sessions allowed.
    pub busy: u64,
    /// Authenticated with a key this node blocked.
    pub blocked: u64,
}

impl RefusalCounts {
    /// Every refusal, whatever the reason.
    pub fn total(&self) -> u64 {
        self.by_reason().iter().map(|(_, n)| n).sum()
    }

    /// Each count with a short label, in a fixed order.
    pub fn by_reason(&self) -> [(&'static str, u64); 9] {
        [
            ("idle", self.evicted_idle),
            ("evicted mid-handshake", self.evicted_pending),
            ("at capacity", self.at_capacity),
            ("no first bytes", self.first_bytes_timeout),
            ("handshake timeout", self.handshake_timeout),
            ("protocol violation", self.protocol_violation),
            ("not whitelisted", self.not_whitelisted),
            ("busy", self.busy),
            ("blocked", self.blocked),
        ]
    }

    /// The refusals since `earlier`, a previous reading of the same counters.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            evicted_idle: self.evicted_idle.saturating_sub(earlier.evicted_idle),
            evicted_pending: self.evicted_pending.saturating_sub(earlier.evicted_pending),
            at_capacity: self.at_capacity.saturating_sub(earlier.at_capacity),
            first_bytes_timeout: self
                .first_bytes_timeout
                .saturating_sub(earlier.first_bytes_timeout),
            handshake_timeout: self
                .handshake_timeout
                .saturating_sub(earlier.handshake_timeout),
            protocol_violation: self
                .protocol_violation
                .saturating_sub(earlier.protocol_violation),
            not_whitelisted: self.not_whitelisted.saturating_sub(earlier.not_whitelisted),
            busy: self.busy.saturating_sub(earlier.busy),
            blocked: self.blocked.saturating_sub(earlier.blocked),
        }
    }
}

impl std::fmt::Display for RefusalCounts {
    /// The non-zero counts, as `idle: 3, not whitelisted: 1`; `none` if all are zero.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (label, count) in self.by_reason() {
            if count == 0 {
                continue;
            }
            if !first {
                f.write_str(", ")?;
            }
            write!(f, "{label}: {count}")?;
            first = false;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_differences_and_display_cover_every_reason() {
        let earlier = RefusalCounts {
            evicted_idle: 5,
            not_whitelisted: 1,
            ..Default::default()
        };
        let now = RefusalCounts {
            evicted_idle: 12,
            not_whitelisted: 1,
            first_bytes_timeout: 2,
            ..Default::default()
        };
        let window = now.since(&earlier);
        assert_eq!(window.total(), 9);
        assert_eq!(window.to_string(), "idle: 7, no first bytes: 2");
        assert_eq!(RefusalCounts::default().to_string(), "none");
        assert_eq!(now.total(), 15);
    }
}
