//! The runtime trait: the few things the driver needs from an async runtime (spawn, sleep, a
//! resettable timer, TCP). Porting the driver to a new runtime means implementing [`Runtime`]
//! for it, about a page.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::{AsyncRead, AsyncWrite};

/// An async runtime the driver can run on.
///
/// The driver's task polls every socket of a node itself, each with a waker of its own, so a
/// stream's `poll_read` and `poll_write` must wake the waker of their latest call when the
/// socket becomes ready (as `async-io`'s sockets do). A clone of a stream refers to the same
/// socket, and [`Runtime::shutdown`] on any clone closes it for all of them.
pub trait Runtime: Send + Sync + 'static {
    /// A connected TCP socket.
    type TcpStream: AsyncRead + AsyncWrite + Clone + Unpin + Send + Sync + 'static;
    /// A listening TCP socket.
    type TcpListener: Send + Sync + 'static;
    /// A one-shot timer that can be set again in place, without a new allocation: the driver
    /// keeps one per node for the node's next deadline.
    type Timer: Unpin + Send + 'static;

    /// Runs `task` to completion in the background.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static);

    /// Completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send + 'static;

    /// A timer that is not set: [`Runtime::poll_timer`] stays pending until it is.
    fn timer(&self) -> Self::Timer;

    /// Sets `timer` to fire at `deadline`, replacing whatever it was set to.
    fn set_timer(timer: &mut Self::Timer, deadline: Instant);

    /// Ready once, when the deadline set last has passed; pending (waking `cx` when it
    /// passes) before that, and after that until the timer is set again.
    fn poll_timer(timer: &mut Self::Timer, cx: &mut Context<'_>) -> Poll<()>;

    /// Resolves `"host:port"` to socket addresses.
    fn resolve(
        &self,
        host_port: String,
    ) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send;

    /// Opens a TCP connection to `addr`.
    fn connect(&self, addr: SocketAddr)
    -> impl Future<Output = io::Result<Self::TcpStream>> + Send;

    /// Binds a listener to `addr`, preferably through [`crate::tcp::bind_listener`].
    fn bind(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpListener>> + Send;

    /// The address a listener is bound to.
    fn local_addr(listener: &Self::TcpListener) -> io::Result<SocketAddr>;

    /// Waits for the next inbound connection.
    fn accept(
        listener: &Self::TcpListener,
    ) -> impl Future<Output = io::Result<(Self::TcpStream, SocketAddr)>> + Send + '_;

    /// Disables Nagle's algorithm. The driver calls it on every connection.
    fn set_nodelay(stream: &Self::TcpStream) -> io::Result<()>;

    /// Turns on TCP keepalive probes after `idle` of silence (see [`crate::tcp::set_keepalive`]).
    fn set_keepalive(stream: &Self::TcpStream, idle: Duration) -> io::Result<()>;

    /// Closes both directions of the socket, waking any task reading it.
    fn shutdown(stream: &Self::TcpStream);
}

/// Runs `future` with a deadline on `runtime`; `None` if the deadline passed first.
pub async fn timeout<R: Runtime, T>(
    runtime: &R,
    limit: Duration,
    future: impl Future<Output = T>,
) -> Option<T> {
    let sleep = runtime.sleep_until(Instant::now() + limit);
    futures_lite::future::or(async { Some(future.await) }, async {
        sleep.await;
        None
    })
    .await
}
