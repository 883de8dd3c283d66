//! What a node's handles and its driver task share. The node sits behind a lock: a handle calls
//! into it directly (no command, no reply to wait for) and then wakes the driver, which carries
//! out whatever the call left to do. Wake-ups (from handles, from sockets, and requests only
//! the driver can serve) gather in [`Wakeup`], apart from the node so that a socket's waker
//! never waits for the node's lock.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use async_channel::Sender;
use skychat_core::{ConnId, Node, PublicKey};

use crate::error::DialError;
use crate::mesh::MeshDialer;

/// The node and what the host keeps beside it.
pub(crate) struct NodeState {
    pub node: Node,
    start: Instant,
    /// Where each persistent peer is dialed.
    pub addresses: HashMap<PublicKey, String>,
    /// The visor transport, if one is attached: it dials Skywire peers that have no address.
    pub mesh: Option<Arc<dyn MeshDialer>>,
    /// Set once shutdown has begun: handles no longer reach the node.
    pub stopped: bool,
}

impl NodeState {
    /// The node's clock: time since the driver started.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The instant the node's clock counts from.
    pub fn start(&self) -> Instant {
        self.start
    }
}

/// A request only the driver task can serve: it spawns the tasks that own listeners and dials.
pub(crate) enum Request {
    Listen(SocketAddr, Sender<io::Result<SocketAddr>>),
    DialOnce(PublicKey, String, Sender<Result<ConnId, DialError>>),
}

/// What woke the driver since it last looked.
#[derive(Default)]
pub(crate) struct Wakes {
    /// Connections whose socket became ready, in the order they did.
    pub ready: Vec<ConnId>,
    pub requests: Vec<Request>,
    /// Shutdown was asked for, or every handle is gone.
    pub stop: bool,
}

#[derive(Default)]
struct WakeupState {
    driver: Option<Waker>,
    wakes: Wakes,
    shutdown_replies: Vec<Sender<()>>,
    finished: bool,
}

/// The driver's wake-up slot. Every `wake_*` call records why, then wakes the driver's task if it
/// waits; the driver takes the record and registers its waker again at every poll.
#[derive(Default)]
pub(crate) struct Wakeup {
    state: Mutex<WakeupState>,
}

impl Wakeup {
    fn lock(&self) -> MutexGuard<'_, WakeupState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake_with(&self, record: impl FnOnce(&mut WakeupState)) {
        let mut state = self.lock();
        record(&mut state);
        let driver = state.driver.take();
        drop(state);
        if let Some(driver) = driver {
            driver.wake();
        }
    }

    /// A handle changed the node: its outputs need carrying out.
    pub fn wake(&self) {
        self.wake_with(|_| {});
    }

    pub fn request(&self, request: Request) {
        self.wake_with(|state| state.wakes.requests.push(request));
    }

    fn socket_ready(&self, conn: ConnId) {
        self.wake_with(|state| state.wakes.ready.push(conn));
    }

    /// Asks the driver to shut down; `reply` is dropped once it has. `false` (and `reply`
    /// dropped at once) if it already has.
    pub fn stop(&self, reply: Option<Sender<()>>) -> bool {
        let mut done = false;
        self.wake_with(|state| {
            done = state.finished;
            state.wakes.stop = true;
            if !done && let Some(reply) = reply {
                state.shutdown_replies.push(reply);
            }
        });
        !done
    }

    /// Takes what woke the driver and registers `driver` to be woken next time.
    pub fn take(&self, driver: &Waker) -> Wakes {
        let mut state = self.lock();
        match &mut state.driver {
            Some(current) => current.clone_from(driver),
            none => *none = Some(driver.clone()),
        }
        let stop = state.wakes.stop;
        let wakes = std::mem::take(&mut state.wakes);
        state.wakes.stop = stop;
        wakes
    }

    /// Marks the driver finished and drops the shutdown replies, which answers every waiting
    /// [`crate::NodeHandle::shutdown`].
    pub fn finish(&self) {
        let mut state = self.lock();
        state.finished = true;
        state.driver = None;
        state.shutdown_replies.clear();
    }
}

/// A connection socket's waker: it queues the connection for the driver to poll.
pub(crate) struct SocketWaker {
    conn: ConnId,
    wakeup: Arc<Wakeup>,
    /// Set while the connection is queued, so that a burst of wake-ups queues it once.
    queued: AtomicBool,
}

impl SocketWaker {
    pub fn new(conn: ConnId, wakeup: Arc<Wakeup>) -> Arc<Self> {
        Arc::new(Self {
            conn,
            wakeup,
            queued: AtomicBool::new(false),
        })
    }

    /// Called by the driver just before it polls the socket: later wake-ups queue it again.
    pub fn polling(&self) {
        self.queued.store(false, Ordering::Release);
    }
}

impl Wake for SocketWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.wakeup.socket_ready(self.conn);
        }
    }
}

/// The node, its wake-up slot, and the state shared by all handles of one node.
pub(crate) struct Shared {
    state: Mutex<NodeState>,
    pub wakeup: Arc<Wakeup>,
}

impl Shared {
    pub fn new(node: Node) -> Self {
        Self {
            state: Mutex::new(NodeState {
                node,
                start: Instant::now(),
                addresses: HashMap::new(),
                mesh: None,
                stopped: false,
            }),
            wakeup: Arc::new(Wakeup::default()),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, NodeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `change` on the node at the current time and wakes the driver to carry out what it
    /// produced; `None` once the node has shut down.
    pub fn change<T>(&self, change: impl FnOnce(&mut NodeState, Duration) -> T) -> Option<T> {
        let mut state = self.lock();
        if state.stopped {
            return None;
        }
        let now = state.now();
        let result = change(&mut state, now);
        drop(state);
        self.wakeup.wake();
        Some(result)
    }

    /// Reads the node; `None` once it has shut down.
    pub fn read<T>(&self, read: impl FnOnce(&Node) -> T) -> Option<T> {
        let state = self.lock();
        (!state.stopped).then(|| read(&state.node))
    }
}

/// Held by every clone of a node's handle; when the last one goes, the node shuts down.
pub(crate) struct HandleGuard(pub Arc<Wakeup>);

impl Drop for HandleGuard {
    fn drop(&mut self) {
        self.0.stop(None);
    }
}
