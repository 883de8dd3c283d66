//! The runtime-neutral driver of the skychat core.
//!
//! [`start`] puts a [`skychat_core::Node`] in a task of its own and returns a [`NodeHandle`] for
//! the host. Around the node, the driver does the host duties the core leaves to it: listening,
//! dialing the peers it asks for, one reader and one writer task per connection, closing sockets,
//! and sleeping until the node's next deadline. Everything it needs from an async runtime is the
//! small [`Runtime`] trait; `skychat-smol` and `skychat-async-std` implement it.
//!
//! - [`runtime`]: the trait a runtime implements.
//! - [`handle`]: the [`NodeHandle`] the host uses.
//! - [`config`], [`error`]: what [`start`] takes, and why a dial failed.
//! - `run_loop`: the task that owns the node.
//! - `connection`, `listener`, `dial`: the socket tasks.
//! - `refusal_log`: the rate-limited summary of refused inbound connections.
//! - [`tcp`]: socket options set through `socket2`.
//! - [`fd_limit`]: raising the open-file limit, which bounds how many connections a node holds.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
mod connection;
mod dial;
pub mod error;
pub mod fd_limit;
pub mod handle;
mod listener;
mod refusal_log;
mod run_loop;
pub mod runtime;
mod tasks;
pub mod tcp;

#[cfg(feature = "conformance")]
pub mod conformance;

use std::sync::Arc;
use std::time::Duration;

use skychat_core::Node;

pub use config::DriverConfig;
pub use error::DialError;
pub use handle::{Draft, NodeHandle};
pub use runtime::Runtime;

use run_loop::RunLoop;
use tasks::TaskContext;

/// Queued socket inputs before readers wait: backpressure from a busy node to its sockets.
const INPUT_QUEUE: usize = 1024;

/// Starts a node on `runtime` and returns its handle. The node restores the given outbox and
/// dedup state, then waits for commands; call [`NodeHandle::listen`] and
/// [`NodeHandle::keep_connected`] to connect it.
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
    let (input_tx, input_rx) = async_channel::bounded(INPUT_QUEUE);
    let (command_tx, command_rx) = async_channel::bounded(INPUT_QUEUE);
    let (event_tx, event_rx) = async_channel::unbounded();
    let (stop_tx, stop_rx) = async_channel::bounded(1);
    let (alive_tx, alive_rx) = async_channel::bounded(1);
    let runtime = Arc::new(runtime);
    let ctx = TaskContext {
        runtime: runtime.clone(),
        input: input_tx,
        stop: stop_rx,
        alive: alive_tx,
    };
    let run_loop = RunLoop::new(
        node,
        ctx,
        input_rx,
        command_rx,
        event_tx,
        stop_tx,
        alive_rx,
        config.tcp_keepalive,
    );
    runtime.spawn(run_loop.run());
    NodeHandle {
        public,
        skywire_public,
        commands: command_tx,
        events: event_rx,
    }
}
