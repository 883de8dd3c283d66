//! What every background task of a node (listeners, dials) shares: the runtime, the way back to
//! the driver task, the stop signal and the token that shutdown waits on.

use std::future::Future;
use std::sync::Arc;

use async_channel::{Receiver, Sender};
use skychat_core::{ConnId, PublicKey};

use crate::error::DialError;
use crate::runtime::Runtime;

/// A new connection, for the driver task.
pub(crate) enum Input<S> {
    /// A listener accepted this connection.
    Accepted(S),
    /// A dial finished.
    Dialed {
        peer: PublicKey,
        purpose: DialPurpose,
        result: Result<S, DialError>,
    },
}

/// Why a dial was made.
pub(crate) enum DialPurpose {
    /// Answering the core's dial request for a persistent peer.
    Persistent,
    /// A one-shot dial; the caller waits for the outcome here.
    OneShot(Sender<Result<ConnId, DialError>>),
}

/// Shared by the driver task and every task it spawns.
pub(crate) struct TaskContext<R: Runtime> {
    pub runtime: Arc<R>,
    pub input: Sender<Input<R::TcpStream>>,
    /// Never carries a message: closes when the node shuts down.
    pub stop: Receiver<()>,
    /// Never carries a message: shutdown waits until every clone is dropped.
    pub alive: Sender<()>,
}

impl<R: Runtime> Clone for TaskContext<R> {
    fn clone(&self) -> Self {
        Self {
            runtime: self.runtime.clone(),
            input: self.input.clone(),
            stop: self.stop.clone(),
            alive: self.alive.clone(),
        }
    }
}

impl<R: Runtime> TaskContext<R> {
    /// Runs `future` unless the node stops first.
    pub async fn until_stopped<T>(&self, future: impl Future<Output = T>) -> Option<T> {
        futures_lite::future::or(async { Some(future.await) }, async {
            let _ = self.stop.recv().await;
            None
        })
        .await
    }

    /// Spawns `task`; shutdown waits for it.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let alive = self.alive.clone();
        self.runtime.spawn(async move {
            task.await;
            drop(alive);
        });
    }
}
