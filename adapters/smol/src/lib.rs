//! The skychat driver on the smol runtime: [`SmolRuntime`] implements
//! [`skychat_driver::Runtime`] with `smol::net` sockets and `smol::Timer`, and [`start`] runs a
//! node on it.
//!
//! Nodes run on an executor of this crate with one thread per CPU (`SMOL_THREADS` overrides the
//! count, as for smol's own global executor, which has one thread unless told otherwise): a
//! listener's handshakes, the bulk of its CPU work, then use every core. [`spawn`] puts a host's
//! task on the same executor.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use std::sync::OnceLock;

use skychat_driver::{DriverConfig, NodeHandle, Runtime};
use smol::Executor;
use smol::net::{TcpListener, TcpStream};

/// The executor nodes run on, started with its threads at first use.
fn executor() -> &'static Executor<'static> {
    static EXECUTOR: OnceLock<&'static Executor<'static>> = OnceLock::new();
    EXECUTOR.get_or_init(|| {
        let executor: &'static Executor<'static> = Box::leak(Box::new(Executor::new()));
        for i in 0..executor_threads() {
            std::thread::Builder::new()
                .name(format!("skychat-smol-{i}"))
                .spawn(move || smol::block_on(executor.run(std::future::pending::<()>())))
                .expect("spawn an executor thread");
        }
        executor
    })
}

/// `SMOL_THREADS` if it is a positive number, else one thread per CPU.
fn executor_threads() -> usize {
    std::env::var("SMOL_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// smol as a [`Runtime`]: tasks run on this crate's executor (see the crate's documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolRuntime;

impl Runtime for SmolRuntime {
    type TcpStream = TcpStream;
    type TcpListener = TcpListener;
    type Timer = smol::Timer;

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        executor().spawn(task).detach();
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

/// Runs `future` in the background on the executor the nodes run on. A host task that talks to a
/// node at every message (its event consumer, say) is best spawned here: handing work between
/// tasks of one executor costs less than between executors.
pub fn spawn(future: impl Future<Output = ()> + Send + 'static) {
    executor().spawn(future).detach();
}

/// Starts a node on smol. See [`skychat_driver::start`].
pub fn start(config: DriverConfig) -> NodeHandle {
    skychat_driver::start(SmolRuntime, config)
}
