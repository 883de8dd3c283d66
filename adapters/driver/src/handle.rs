//! The node handle: the host's side of a node. Calls that change or read the node do so directly,
//! under the node's lock, and wake the driver task to carry out what they produced (quinn's
//! lock-and-wake): none waits for the driver. Only [`NodeHandle::listen`],
//! [`NodeHandle::dial_once`] and [`NodeHandle::shutdown`] wait, for what only sockets can tell.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use skychat_core::{
    CancelError, ChatMessage, CommandError, ConnId, DedupRecord, MessageId, PublicKey,
    RefusalCounts, SessionInfo,
};

use crate::error::DialError;
use crate::events::Events;
use crate::mesh::{MeshDialer, MeshInlet};
use crate::shared::{HandleGuard, Request, Shared};

/// How [`NodeHandle::queue`] queues drafts.
#[derive(Clone, Copy)]
enum Queueing {
    Send,
    Hold,
}

/// A message to queue with [`NodeHandle::send_many`] or [`NodeHandle::hold`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The recipient.
    pub peer: PublicKey,
    /// The text.
    pub body: String,
    /// The message it answers, if any.
    pub reply_to: Option<MessageId>,
}

/// A running node. Cheap to clone; all clones drive the same node.
#[derive(Clone)]
pub struct NodeHandle {
    pub(crate) public: PublicKey,
    pub(crate) skywire_public: Option<PublicKey>,
    pub(crate) shared: Arc<Shared>,
    /// Shuts the node down when the last clone goes.
    pub(crate) _guard: Arc<HandleGuard>,
    pub(crate) events: Events,
    pub(crate) mesh_inlet: MeshInlet,
}

/// The wall clock in ms since the Unix epoch: a message's `sent_at_ms`.
fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn shut_down() -> io::Error {
    io::Error::other("the node has shut down")
}

/// Returns `value` after yielding to the executor once. A call refused at once (after shutdown,
/// or by a full outbox) would otherwise complete without ever returning `Pending`, and a host
/// that retries it in a loop would hold its executor thread forever: every task on that thread,
/// the node's driver included, would starve, and a `select` around the loop would never poll
/// its other branch.
async fn refused<T>(value: T) -> T {
    futures_lite::future::yield_now().await;
    value
}

impl NodeHandle {
    /// This node's native public key (64 hex).
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// This node's Skywire public key (66 hex), the one Go skychat peers dial; `None` only if
    /// its secret is not a valid secp256k1 secret.
    pub fn skywire_public_key(&self) -> Option<PublicKey> {
        self.skywire_public
    }

    /// Hands `request` to the driver and waits for its answer; `None` if the node has shut down.
    async fn ask<T>(&self, make: impl FnOnce(async_channel::Sender<T>) -> Request) -> Option<T> {
        if self.shared.read(|_| ()).is_none() {
            return refused(None).await;
        }
        let (reply, answer) = async_channel::bounded(1);
        self.shared.wakeup.request(make(reply));
        match answer.recv().await {
            Ok(answer) => Some(answer),
            Err(_) => refused(None).await,
        }
    }

    /// Listens for inbound connections on `addr` and returns the bound address (useful with
    /// port 0). Accept errors are logged and retried; the listener runs until shutdown.
    pub async fn listen(&self, addr: SocketAddr) -> io::Result<SocketAddr> {
        self.ask(|reply| Request::Listen(addr, reply))
            .await
            .unwrap_or_else(|| Err(shut_down()))
    }

    /// Keeps `peer` connected at `addr` (`"host:port"`, resolved at every dial), redialing with
    /// backoff whenever no session is up. Calling it again for the same peer updates the address.
    pub async fn keep_connected(&self, peer: PublicKey, addr: String) {
        self.shared.change(|state, now| {
            state.addresses.insert(peer, addr);
            state.node.add_persistent_peer(now, peer);
        });
    }

    /// Attaches a transport that reaches Skywire peers through a visor. From now on, a dial the
    /// node asks for (a persistent peer, or with `dial_on_demand` a peer messages wait for) goes
    /// through `dialer` when no TCP-direct address is known for the peer; the transport hands
    /// the connections it accepts to the returned inlet.
    pub fn attach_mesh(&self, dialer: Arc<dyn MeshDialer>) -> MeshInlet {
        self.shared.change(|state, _| state.mesh = Some(dialer));
        self.mesh_inlet.clone()
    }

    /// Dials `peer` at `addr` once. Returns the connection once the handshake has authenticated
    /// the peer, or why it failed. The connection is used for sending to `peer` while no other
    /// session is up; close it with [`NodeHandle::close`] when done.
    pub async fn dial_once(&self, peer: PublicKey, addr: String) -> Result<ConnId, DialError> {
        self.ask(|reply| Request::DialOnce(peer, addr, reply))
            .await
            .unwrap_or_else(|| Err(DialError::Io(shut_down())))
    }

    /// Queues `body` for `peer` and returns the message with its id, without waiting for the
    /// driver. It is delivered, exactly once and in order, whenever a session with `peer` is up.
    /// After shutdown every send is refused with [`CommandError::OutboxFull`].
    pub async fn send(
        &self,
        peer: PublicKey,
        body: String,
        reply_to: Option<MessageId>,
    ) -> Result<ChatMessage, CommandError> {
        let sent_at_ms = wall_clock_ms();
        let sent = self
            .shared
            .change(|state, now| {
                state
                    .node
                    .send_message(now, peer, body, reply_to, sent_at_ms)
            })
            .unwrap_or(Err(CommandError::OutboxFull));
        match sent {
            Ok(message) => Ok(message),
            Err(e) => refused(Err(e)).await,
        }
    }

    /// [`NodeHandle::send`] for many messages at once, in order: one call (one lock of the node,
    /// one wake-up of the driver) for the whole batch. Returns each one's message with its id,
    /// or why it was refused.
    pub async fn send_many(&self, drafts: Vec<Draft>) -> Vec<Result<ChatMessage, CommandError>> {
        self.queue(drafts, Queueing::Send).await
    }

    /// Queues `drafts` held, in order, and returns each one's message with its id, or why it
    /// was refused. A held message counts against the outbox limits but nothing is sent (neither
    /// it nor any later message to the same peer) until [`NodeHandle::release`]; persist the
    /// messages, then release them, or [`NodeHandle::withdraw`] them if persisting failed. After
    /// shutdown every draft is refused with [`CommandError::OutboxFull`].
    pub async fn hold(&self, drafts: Vec<Draft>) -> Vec<Result<ChatMessage, CommandError>> {
        self.queue(drafts, Queueing::Hold).await
    }

    async fn queue(
        &self,
        drafts: Vec<Draft>,
        how: Queueing,
    ) -> Vec<Result<ChatMessage, CommandError>> {
        let count = drafts.len();
        let sent_at_ms = wall_clock_ms();
        let queued: Vec<_> = self
            .shared
            .change(|state, now| {
                let node = &mut state.node;
                drafts
                    .into_iter()
                    .map(|d| match how {
                        Queueing::Send => {
                            node.send_message(now, d.peer, d.body, d.reply_to, sent_at_ms)
                        }
                        Queueing::Hold => {
                            node.hold_message(now, d.peer, d.body, d.reply_to, sent_at_ms)
                        }
                    })
                    .collect()
            })
            .unwrap_or_else(|| vec![Err(CommandError::OutboxFull); count]);
        if queued.iter().all(Result::is_err) {
            return refused(queued).await;
        }
        queued
    }

    /// Lets held messages go out (see `Node::release_message`), in the order given.
    pub async fn release(&self, messages: Vec<(PublicKey, MessageId)>) {
        self.shared.change(|state, now| {
            for (peer, id) in messages {
                state.node.release_message(now, peer, id);
            }
        });
    }

    /// Drops held messages that could not be persisted; they are never sent and their ids are
    /// given back (see `Node::withdraw_message`). Withdrawing a message also withdraws every
    /// later held message to the same peer, so withdraw only what no later release depends on.
    pub async fn withdraw(&self, messages: Vec<(PublicKey, MessageId)>) {
        self.shared.change(|state, now| {
            // Newest first: withdrawing one message also withdraws the later ones of its
            // peer, which then need no call of their own.
            for (peer, id) in messages.into_iter().rev() {
                state.node.withdraw_message(now, peer, id);
            }
        });
    }

    /// Tells the node that message `id` from `peer` is durably stored; the sender gets its ack.
    pub async fn confirm_stored(&self, peer: PublicKey, id: MessageId) {
        self.confirm_stored_many(vec![(peer, id)]).await;
    }

    /// [`NodeHandle::confirm_stored`] for a batch of messages at once (one call for a whole
    /// store commit): each sender gets its acks, in the order given.
    pub async fn confirm_stored_many(&self, messages: Vec<(PublicKey, MessageId)>) {
        if messages.is_empty() {
            return;
        }
        self.shared.change(|state, now| {
            for (peer, id) in messages {
                state.node.confirm_stored(now, peer, id);
            }
        });
    }

    /// Tells the node that message `id` from `peer` could not be stored: it stays unacked and
    /// the node makes the sender resend it (see `Node::storage_failed`).
    pub async fn storage_failed(&self, peer: PublicKey, id: MessageId) {
        self.shared
            .change(|state, now| state.node.storage_failed(now, peer, id));
    }

    /// Tells `peer` that its message `id` was read.
    pub async fn send_read_receipt(&self, peer: PublicKey, id: MessageId) {
        self.shared
            .change(|state, now| state.node.send_read_receipt(now, peer, id));
    }

    /// Cancels the message `id` to `peer`, which has not gone out yet, so that it is never
    /// delivered; returns the renumbered later messages as (old id, new id), oldest first (see
    /// [`skychat_core::Node::cancel_message`]). After shutdown, [`CancelError::NotQueued`].
    pub async fn cancel(
        &self,
        peer: PublicKey,
        id: MessageId,
    ) -> Result<Vec<(MessageId, MessageId)>, CancelError> {
        self.shared
            .change(|state, now| state.node.cancel_message(now, peer, id))
            .unwrap_or(Err(CancelError::NotQueued))
    }

    /// Blocks `peer` (its sessions close, and it is refused on every network and never dialed)
    /// or unblocks it.
    pub async fn set_blocked(&self, peer: PublicKey, blocked: bool) {
        self.shared
            .change(|state, now| state.node.set_blocked(now, peer, blocked));
    }

    /// Tells `peer` that this node deleted its message `id` for everyone (now, or on the next
    /// session with `peer`; not kept across restarts).
    pub async fn send_deletion(&self, peer: PublicKey, id: MessageId) {
        self.shared
            .change(|state, now| state.node.send_deletion(now, peer, id));
    }

    /// Closes connection `conn` with a close frame.
    pub async fn close(&self, conn: ConnId) {
        self.shared.change(|state, now| state.node.close(now, conn));
    }

    /// Every live connection.
    pub async fn sessions(&self) -> Vec<SessionInfo> {
        self.shared.read(|node| node.sessions()).unwrap_or_default()
    }

    /// Messages for `peer` not yet acked.
    pub async fn queued_for(&self, peer: PublicKey) -> usize {
        self.shared.read(|node| node.queued_for(&peer)).unwrap_or(0)
    }

    /// Every unacked message, per peer in sending order: what a host persists to restore with
    /// [`crate::DriverConfig::restore_outbox`].
    pub async fn outbox_entries(&self) -> Vec<(PublicKey, ChatMessage)> {
        self.shared
            .read(|node| {
                node.outbox_entries()
                    .map(|(peer, message)| (*peer, message.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The dedup marks: what a host persists to restore with
    /// [`crate::DriverConfig::restore_dedup`].
    pub async fn dedup_records(&self) -> Vec<DedupRecord> {
        self.shared
            .read(|node| node.dedup_records())
            .unwrap_or_default()
    }

    /// Inbound connections the node has refused since it started, by reason (evicted at the
    /// pending-handshake cap, no first bytes, handshake timeout, not whitelisted, ...). The
    /// driver logs a summary of them at most once per 10 s instead of a line per refusal.
    pub async fn refusals(&self) -> RefusalCounts {
        self.shared.read(|node| node.refusals()).unwrap_or_default()
    }

    /// Every core event, in order. There is one stream per node: give it to one consumer. It
    /// ends after shutdown.
    pub fn events(&self) -> Events {
        self.events.clone()
    }

    /// Closes every connection with a close frame, flushes and closes the sockets, stops the
    /// listeners and dials, and waits until every task of the node has ended. Flushing is
    /// bounded by the close flush limit (2 s after the stop), so this returns soon after that
    /// even if a peer has stopped reading.
    pub async fn shutdown(&self) {
        let (reply, done) = async_channel::bounded::<()>(1);
        if self.shared.wakeup.stop(Some(reply)) {
            let _ = done.recv().await;
        }
    }
}
