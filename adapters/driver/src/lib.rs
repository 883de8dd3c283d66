//! The runtime-neutral driver of the skychat core.
//!
//! [`start`] puts a [`skychat_core::Node`] in the care of one task and returns a [`NodeHandle`]
//! for the host. That task, the driver, owns every connection's socket: it polls the sockets
//! itself, feeds what they read into the node, writes the node's transmits at once, and sleeps
//! until the node's next deadline on one resettable timer. Handles call into the node directly
//! under a lock and wake the driver, so sending a message costs no round trip between tasks.
//! Listeners and dials are tasks of their own that hand new connections to the driver.
//! Everything the driver needs from an async runtime is the small [`Runtime`] trait;
//! `skychat-smol` and `skychat-async-std` implement it.
//!
//! - [`runtime`]: the trait a runtime implements.
//! - [`handle`]: the [`NodeHandle`] the host uses.
//! - [`config`], [`error`]: what [`start`] takes, and why a dial failed.
//! - `driver`: the task that owns the sockets; `socket`: one connection's socket and its
//!   unwritten bytes; `shared`: the node and wake-ups shared by handles and the driver.
//! - `listener`, `dial`: the tasks that make connections.
//! - [`mesh`]: connections a Skywire visor relays, as pipes the driver reads like sockets, and
//!   the [`mesh::MeshDialer`] a visor transport implements.
//! - `refusal_log`: the rate-limited summary of refused inbound connections.
//! - [`tcp`]: socket options set through `socket2`.
//! - [`fd_limit`]: raising the open-file limit, which bounds how many connections a node holds.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
mod dial;
mod driver;
pub mod error;
mod events;
pub mod fd_limit;
pub mod handle;
mod listener;
pub mod mesh;
mod refusal_log;
pub mod runtime;
mod shared;
mod socket;
mod tasks;
pub mod tcp;

#[cfg(feature = "conformance")]
pub mod conformance;

use std::sync::Arc;
use std::time::Duration;

use skychat_core::Node;

pub use config::DriverConfig;
pub use error::DialError;
pub use events::{Closed, Events, TryRecvError};
pub use handle::{Draft, NodeHandle};
pub use mesh::{MeshDialer, MeshInlet, MeshPort, MeshStream};
pub use runtime::Runtime;

use driver::Driver;
use events::EventSink;
use shared::{HandleGuard, Shared};
use tasks::TaskContext;

/// Connections from listeners and dials queued before those tasks wait: backpressure from a busy
/// node to a flood of new connections.
const INPUT_QUEUE: usize = 1024;

/// Starts a node on `runtime` and returns its handle. The node restores the given outbox and
/// dedup state; call [`NodeHandle::listen`] and [`NodeHandle::keep_connected`] to connect it.
pub fn start<R: Runtime>(runtime: R, config: DriverConfig) -> NodeHandle {
    let mut node = Node::new(config.identity, config.node, config.seed);
    for (peer, message) in config.restore_outbox {
        node.restore_outbox(Duration::ZERO, peer, message);
    }
    for record in config.restore_dedup {
        node.restore_dedup(Duration::ZERO, record);
    }
    let public = node.public_key();
    let skywire_public = node.skywire_public_key();
    let shared = Arc::new(Shared::new(node));
    let (input_tx, input_rx) = async_channel::bounded(INPUT_QUEUE);
    let (mesh_tx, mesh_rx) = async_channel::bounded(INPUT_QUEUE);
    let (event_tx, event_rx) = EventSink::new();
    let (stop_tx, stop_rx) = async_channel::bounded(1);
    let (alive_tx, alive_rx) = async_channel::bounded(1);
    let runtime = Arc::new(runtime);
    let ctx = TaskContext {
        runtime: runtime.clone(),
        input: input_tx,
        stop: stop_rx,
        alive: alive_tx,
    };
    let driver = Driver::new(
        shared.clone(),
        &*runtime,
        ctx,
        stop_tx,
        alive_rx,
        input_rx,
        (mesh_tx.clone(), mesh_rx),
        event_tx,
        config.tcp_keepalive,
    );
    runtime.spawn(driver.run());
    NodeHandle {
        public,
        skywire_public,
        _guard: Arc::new(HandleGuard(shared.wakeup.clone())),
        shared,
        events: event_rx,
        mesh_inlet: mesh::MeshInlet { inputs: mesh_tx },
    }
}
