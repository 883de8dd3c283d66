//! A TCP proxy for tests: forwards between its clients and a target, and can freeze every link
//! open at the time (stop forwarding both ways while keeping the sockets open), which is what a
//! half-open connection looks like to both ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_channel::{Receiver, Sender};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::runtime::Runtime;

/// A running proxy.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    links: Receiver<Arc<AtomicBool>>,
    frozen: Vec<Arc<AtomicBool>>,
    /// Set once a frozen link has read bytes it holds back.
    held_back: Arc<AtomicBool>,
    /// Dropping it releases frozen links.
    release: Option<Sender<()>>,
}

impl Proxy {
    /// Starts a proxy to `target` on an ephemeral loopback port.
    pub async fn start<R: Runtime + Clone>(runtime: &R, target: SocketAddr) -> Self {
        let listener = runtime
            .bind("127.0.0.1:0".parse().expect("address"))
            .await
            .expect("bind proxy");
        let addr = R::local_addr(&listener).expect("proxy address");
        let (link_tx, links) = async_channel::unbounded();
        let (release, released) = async_channel::bounded::<()>(1);
        let held_back = Arc::new(AtomicBool::new(false));
        let held = held_back.clone();
        let rt = runtime.clone();
        runtime.spawn(async move {
            while let Ok((client, _)) = R::accept(&listener).await {
                let Ok(server) = rt.connect(target).await else {
                    continue;
                };
                let freeze = Arc::new(AtomicBool::new(false));
                if link_tx.send(freeze.clone()).await.is_err() {
                    return;
                }
                for (from, to) in [(client.clone(), server.clone()), (server, client)] {
                    let freeze = freeze.clone();
                    let released = released.clone();
                    rt.spawn(forward::<R>(from, to, freeze, released, held.clone()));
                }
            }
        });
        Self {
            addr,
            links,
            frozen: Vec::new(),
            held_back,
            release: Some(release),
        }
    }

    /// Whether a frozen link has received bytes (and holds them back): something was sent
    /// into it after the freeze.
    pub fn holds_back_data(&self) -> bool {
        self.held_back.load(Ordering::SeqCst)
    }

    /// Freezes every link made so far.
    pub fn freeze_all(&mut self) {
        while let Ok(link) = self.links.try_recv() {
            link.store(true, Ordering::SeqCst);
            self.frozen.push(link);
        }
    }

    /// Closes the frozen links.
    pub fn release_frozen(&mut self) {
        self.release.take();
    }
}

async fn forward<R: Runtime>(
    mut from: R::TcpStream,
    mut to: R::TcpStream,
    freeze: Arc<AtomicBool>,
    released: Receiver<()>,
    held_back: Arc<AtomicBool>,
) {
    let mut buffer = [0u8; 4096];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if freeze.load(Ordering::SeqCst) {
            held_back.store(true, Ordering::SeqCst);
            // Hold both sockets open, forwarding nothing, until released.
            let _ = released.recv().await;
            break;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    R::shutdown(&from);
    R::shutdown(&to);
}
