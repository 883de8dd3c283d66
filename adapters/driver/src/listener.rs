//! The accept loop of a listener: hands every accepted connection to the driver task, sets its
//! socket options, and survives accept errors with a backoff. Nothing here logs above debug
//! level more than once per [`WARN_EVERY`], however many connections arrive or fail.

use std::time::{Duration, Instant};

use crate::runtime::Runtime;
use crate::tasks::{Input, TaskContext};

/// The shortest time between two warnings about failing accepts.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Delay before the next accept after an accept error: 50 ms, doubling to 1 s, reset by a
/// successful accept.
#[derive(Debug)]
pub(crate) struct AcceptBackoff {
    next: Duration,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(50);
    const MAX: Duration = Duration::from_secs(1);

    pub fn new() -> Self {
        Self { next: Self::FIRST }
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        delay
    }
}

/// Accepts connections on `listener` until the node stops, handing each to the driver task.
/// Accept errors (out of descriptors, aborted connections, ...) are logged and retried after a
/// backoff; they never end the listener.
pub(crate) async fn accept_loop<R: Runtime>(
    ctx: TaskContext<R>,
    listener: R::TcpListener,
    keepalive: Option<Duration>,
) {
    let mut backoff = AcceptBackoff::new();
    let mut warned_at: Option<Instant> = None;
    let mut failed_since_warning = 0u64;
    while let Some(accepted) = ctx.until_stopped(R::accept(&listener)).await {
        match accepted {
            Ok((stream, remote)) => {
                backoff.reset();
                configure::<R>(&stream, keepalive);
                log::debug!("accepted a connection from {remote}");
                if ctx.input.send(Input::Accepted(stream)).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                let delay = backoff.next_delay();
                failed_since_warning += 1;
                if warned_at.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                    log::warn!(
                        "accept failed {failed_since_warning} time(s) since the last warning, \
                         latest: {e}; retrying in {delay:?}"
                    );
                    warned_at = Some(Instant::now());
                    failed_since_warning = 0;
                } else {
                    log::debug!("accept failed: {e}; retrying in {delay:?}");
                }
                let pause = ctx.runtime.sleep_until(Instant::now() + delay);
                if ctx.until_stopped(pause).await.is_none() {
                    break;
                }
            }
        }
    }
}

/// Sets TCP_NODELAY and, if asked, TCP keepalive. Failures are logged at debug level (they
/// happen per connection, for example on one the peer has already reset): the connection
/// still works.
pub(crate) fn configure<R: Runtime>(stream: &R::TcpStream, keepalive: Option<Duration>) {
    if let Err(e) = R::set_nodelay(stream) {
        log::debug!("could not set TCP_NODELAY: {e}");
    }
    if let Some(idle) = keepalive
        && let Err(e) = R::set_keepalive(stream, idle)
    {
        log::debug!("could not set TCP keepalive: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_backoff_doubles_to_one_second_and_resets() {
        let mut backoff = AcceptBackoff::new();
        let delays: Vec<u64> = (0..7)
            .map(|_| backoff.next_delay().as_millis() as u64)
            .collect();
        assert_eq!(delays, [50, 100, 200, 400, 800, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(50));
    }
}
