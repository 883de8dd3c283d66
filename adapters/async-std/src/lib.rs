//! The skychat driver on the async-std runtime: [`AsyncStdRuntime`] implements
//! [`skychat_driver::Runtime`] with `async_std::net` sockets, `async_std::task`, and
//! `async_io::Timer` as the resettable timer (async-io is the reactor and timer async-std itself
//! runs on), and [`start`] runs a node on it.
//!
//! async-std is discontinued upstream (RUSTSEC-2025-0052); this crate is the only one in the
//! workspace that depends on it, and smol is the primary runtime.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_std::net::{TcpListener, TcpStream, ToSocketAddrs};
use skychat_driver::{DriverConfig, NodeHandle, Runtime};

/// async-std as a [`Runtime`]: tasks run on async-std's global executor.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdRuntime;

impl Runtime for AsyncStdRuntime {
    type TcpStream = TcpStream;
    type TcpListener = TcpListener;
    type Timer = async_io::Timer;

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        async_std::task::spawn(task);
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send + 'static {
        async_std::task::sleep(deadline.saturating_duration_since(Instant::now()))
    }

    fn timer(&self) -> async_io::Timer {
        async_io::Timer::never()
    }

    fn set_timer(timer: &mut async_io::Timer, deadline: Instant) {
        timer.set_at(deadline);
    }

    fn poll_timer(timer: &mut async_io::Timer, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(timer).poll(cx).map(drop)
    }

    async fn resolve(&self, host_port: String) -> io::Result<Vec<SocketAddr>> {
        Ok(host_port.as_str().to_socket_addrs().await?.collect())
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect(addr).await
    }

    async fn bind(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        Ok(TcpListener::from(skychat_driver::tcp::bind_listener(addr)?))
    }

    fn local_addr(listener: &TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        listener.accept().await
    }

    fn set_nodelay(stream: &TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)
    }

    fn set_keepalive(stream: &TcpStream, idle: Duration) -> io::Result<()> {
        skychat_driver::tcp::set_keepalive(stream, idle)
    }

    fn shutdown(stream: &TcpStream) {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// Starts a node on async-std. See [`skychat_driver::start`].
pub fn start(config: DriverConfig) -> NodeHandle {
    skychat_driver::start(AsyncStdRuntime, config)
}

/// Runs `future` to completion on async-std, for hosts that use this adapter without depending
/// on async-std themselves.
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    async_std::task::block_on(future)
}

/// Runs `future` in the background on async-std.
pub fn spawn(future: impl std::future::Future<Output = ()> + Send + 'static) {
    async_std::task::spawn(future);
}
