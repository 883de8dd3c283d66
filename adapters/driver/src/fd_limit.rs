//! The process's open-file limit (`RLIMIT_NOFILE`). Every connection the driver holds costs a
//! descriptor, so a host raises the soft limit to the hard one at start and sizes its caps from
//! the limit it got.

/// Raises the soft open-file limit to the hard limit and returns the soft limit now in force:
/// `None` when it is unlimited, or on platforms without such a limit. A failure to raise it is
/// logged, and the limit left in force is returned.
#[cfg(unix)]
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            log::warn!(
                "cannot raise the open-file limit from {:?} to {:?}: {e}",
                limit.current,
                limit.maximum
            );
        }
    }
    getrlimit(Resource::Nofile).current
}

/// Raises the soft open-file limit to the hard limit and returns the soft limit now in force:
/// `None` when it is unlimited, or on platforms without such a limit.
#[cfg(not(unix))]
pub fn raise_open_file_limit() -> Option<u64> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let after = raise_open_file_limit();
        let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum;
        assert_eq!(after, hard);
    }
}
