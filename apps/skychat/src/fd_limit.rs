//! The process's open-file limit (`RLIMIT_NOFILE`): raised from its soft value to the hard one at
//! start, and read back so that the HTTP surface can size its connection cap below it.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Raises the soft open-file limit to the hard limit, and returns the soft limit now in force
/// (`None` when it is unlimited).
pub fn raise_to_hard() -> Option<u64> {
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
