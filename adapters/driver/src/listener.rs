//! The accept loop of a listener: hands every accepted connection to the run loop, sets its
//! socket options, and survives accept errors with a backoff.

use std::time::{Duration, Instant};

use crate::runtime::Runtime;
use crate::tasks::{Input, TaskContext};

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

/// Accepts connections on `listener` until the node stops, handing each to the run loop.
/// Accept errors (out of descriptors, aborted connections, ...) are logged and retried after a
/// backoff; they never end the listener.
pub(crate) async fn accept_loop<R: Runtime>(
    ctx: TaskContext<R>,
    listener: R::TcpListener,
    keepalive: Option<Duration>,
) {
    let mut backoff = AcceptBackoff::new();
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
                log::warn!("accept failed: {e}; retrying in {delay:?}");
                let pause = ctx.runtime.sleep_until(Instant::now() + delay);
                if ctx.until_stopped(pause).await.is_none() {
                    break;
                }
            }
        }
    }
}

/// Sets TCP_NODELAY and, if asked, TCP keepalive. Failures are logged: the connection still works.
pub(crate) fn configure<R: Runtime>(stream: &R::TcpStream, keepalive: Option<Duration>) {
    if let Err(e) = R::set_nodelay(stream) {
        log::warn!("could not set TCP_NODELAY: {e}");
    }
    if let Some(idle) = keepalive
        && let Err(e) = R::set_keepalive(stream, idle)
    {
        log::warn!("could not set TCP keepalive: {e}");
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
