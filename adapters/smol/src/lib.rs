//! The skychat driver on the smol runtime: [`SmolRuntime`] implements
//! [`skychat_driver::Runtime`] with `smol::net` sockets, `smol::Timer` and `smol::spawn`, and
//! [`start`] runs a node on it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use skychat_driver::{DriverConfig, NodeHandle, Runtime};
use smol::net::{TcpListener, TcpStream};

/// smol as a [`Runtime`]: tasks run on smol's global executor.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolRuntime;

impl Runtime for SmolRuntime {
    type TcpStream = TcpStream;
    type TcpListener = TcpListener;
    type Timer = smol::Timer;

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(task).detach();
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send + 'static {
        let timer = smol::Timer::at(deadline);
        async move {
            timer.await;
        }
    }

    fn timer(&self) -> smol::Timer {
        smol::Timer::never()
    }

    fn set_timer(timer: &mut smol::Timer, deadline: Instant) {
        timer.set_at(deadline);
    }

    fn poll_timer(timer: &mut smol::Timer, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(timer).poll(cx).map(drop)
    }

    async fn resolve(&self, host_port: String) -> io::Result<Vec<SocketAddr>> {
        smol::net::resolve(host_port).await
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect(addr).await
    }

    async fn bind(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::try_from(skychat_driver::tcp::bind_listener(addr)?)
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

/// Starts a node on smol. See [`skychat_driver::start`].
pub fn start(config: DriverConfig) -> NodeHandle {
    skychat_driver::start(SmolRuntime, config)
}
