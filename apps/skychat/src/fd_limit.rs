//! The process's open-file limit (`RLIMIT_NOFILE`): raised from its soft value to the hard one at
//! start, and read back so that the HTTP surface and the TCP-direct listener can size their caps
//! below it.

/// Raises the soft open-file limit to the hard limit, and returns the soft limit now in force
/// (`None` when it is unlimited).
pub fn raise_to_hard() -> Option<u64> {
    skychat_driver::fd_limit::raise_open_file_limit()
}

/// How many inbound TCP-direct connections the listener may hold before they authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerBudget {
    /// Connections that have sent nothing yet (`NodeConfig::max_silent_connections`).
    pub silent: usize,
    /// Handshakes under way (`NodeConfig::max_pending_handshakes`).
    pub pending: usize,
}

/// The listener's caps for an open-file limit of `nofile`: a quarter of it for silent
/// connections and an eighth for handshakes under way, within the core's defaults, so that a
/// flood of idle sockets is met by eviction inside the node rather than by failing accepts
/// (which would turn away whitelisted peers too). The rest is left for sessions, the store and
/// the HTTP surface (which takes another quarter).
pub fn listener_budget(nofile: Option<u64>, defaults: ListenerBudget) -> ListenerBudget {
    let share = |divisor: u64, floor: usize, ceiling: usize| match nofile {
        Some(limit) => usize::try_from(limit / divisor)
            .unwrap_or(usize::MAX)
            .clamp(floor.min(ceiling), ceiling),
        None => ceiling,
    };
    ListenerBudget {
        silent: share(4, 16, defaults.silent),
        pending: share(8, 8, defaults.pending),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: ListenerBudget = ListenerBudget {
        silent: 4096,
        pending: 256,
    };

    #[test]
    fn the_listener_budget_follows_the_fd_limit_within_the_defaults() {
        let at = |n| listener_budget(Some(n), DEFAULTS);
        assert_eq!(
            at(512),
            ListenerBudget {
                silent: 128,
                pending: 64
            }
        );
        assert_eq!(at(20_000), DEFAULTS);
        assert_eq!(
            at(40),
            ListenerBudget {
                silent: 16,
                pending: 8
            }
        );
        assert_eq!(listener_budget(None, DEFAULTS), DEFAULTS);
    }
}
