//! The node handle: the host's side of the run loop. Every method sends one command to the task
//! that owns the node and, where there is an answer, waits for it.

use std::io;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use async_channel::{Receiver, Sender};
use skychat_core::{
    ChatMessage, CommandError, ConnId, DedupRecord, Event, MessageId, PublicKey, RefusalCounts,
    SessionInfo,
};

use crate::error::DialError;

/// A request to the run loop. `reply` senders are answered once; dropping one unanswered means the
/// node has shut down.
pub(crate) enum Command {
    Listen(SocketAddr, Sender<io::Result<SocketAddr>>),
    KeepConnected(PublicKey, String),
    DialOnce(PublicKey, String, Sender<Result<ConnId, DialError>>),
    Send {
        peer: PublicKey,
        body: String,
        reply_to: Option<MessageId>,
        sent_at_ms: u64,
        reply: Sender<Result<ChatMessage, CommandError>>,
    },
    Hold(
        Vec<Draft>,
        u64,
        Sender<Vec<Result<ChatMessage, CommandError>>>,
    ),
    Release(Vec<(PublicKey, MessageId)>),
    Withdraw(Vec<(PublicKey, MessageId)>),
    ConfirmStored(Vec<(PublicKey, MessageId)>),
    StorageFailed(PublicKey, MessageId),
    ReadReceipt(PublicKey, MessageId),
    Close(ConnId),
    Sessions(Sender<Vec<SessionInfo>>),
    QueuedFor(PublicKey, Sender<usize>),
    Outbox(Sender<Vec<(PublicKey, ChatMessage)>>),
    Dedup(Sender<Vec<DedupRecord>>),
    Refusals(Sender<RefusalCounts>),
    Shutdown(Sender<()>),
}

/// A message to queue held with [`NodeHandle::hold`].
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
    pub(crate) commands: Sender<Command>,
    pub(crate) events: Receiver<Event>,
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

    /// Sends `command` to the run loop; `false` if the node has shut down. Refused at once by a
    /// closed channel, a command would complete without ever returning `Pending`, and a host
    /// that retries it in a loop (a dial loop ignoring errors, say) would then hold its executor
    /// thread forever: every task on that thread, the node's own included, would starve, and
    /// a `select` around the loop would never poll its other branch. So a refused command
    /// yields to the executor once before it fails.
    async fn submit(&self, command: Command) -> bool {
        if self.commands.send(command).await.is_ok() {
            return true;
        }
        futures_lite::future::yield_now().await;
        false
    }

    async fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = async_channel::bounded(1);
        if !self.submit(make(tx)).await {
            return None;
        }
        rx.recv().await.ok()
    }

    async fn tell(&self, command: Command) {
        self.submit(command).await;
    }

    /// Listens for inbound connections on `addr` and returns the bound address (useful with
    /// port 0). Accept errors are logged and retried; the listener runs until shutdown.
    pub async fn listen(&self, addr: SocketAddr) -> io::Result<SocketAddr> {
        self.ask(|reply| Command::Listen(addr, reply))
            .await
            .unwrap_or_else(|| Err(shut_down()))
    }

    /// Keeps `peer` connected at `addr` (`"host:port"`, resolved at every dial), redialing with
    /// backoff whenever no session is up. Calling it again for the same peer updates the address.
    pub async fn keep_connected(&self, peer: PublicKey, addr: String) {
        self.tell(Command::KeepConnected(peer, addr)).await;
    }

    /// Dials `peer` at `addr` once. Returns the connection once the handshake has authenticated
    /// the peer, or why it failed. The connection is used for sending to `peer` while no other
    /// session is up; close it with [`NodeHandle::close`] when done.
    pub async fn dial_once(&self, peer: PublicKey, addr: String) -> Result<ConnId, DialError> {
        self.ask(|reply| Command::DialOnce(peer, addr, reply))
            .await
            .unwrap_or_else(|| Err(DialError::Io(shut_down())))
    }

    /// Queues `body` for `peer` and returns the message with its id. It is delivered, exactly
    /// once and in order, whenever a session with `peer` is up. After shutdown every send is
    /// refused with [`CommandError::OutboxFull`].
    pub async fn send(
        &self,
        peer: PublicKey,
        body: String,
        reply_to: Option<MessageId>,
    ) -> Result<ChatMessage, CommandError> {
        let sent_at_ms = wall_clock_ms();
        self.ask(|reply| Command::Send {
            peer,
            body,
            reply_to,
            sent_at_ms,
            reply,
        })
        .await
        .unwrap_or(Err(CommandError::OutboxFull))
    }

    /// Queues `drafts` held, in order, and returns each one's message with its id, or why it
    /// was refused. A held message counts against the outbox limits but nothing is sent (neither
    /// it nor any later message to the same peer) until [`NodeHandle::release`]; persist the
    /// messages, then release them, or [`NodeHandle::withdraw`] them if persisting failed. After
    /// shutdown every draft is refused with [`CommandError::OutboxFull`].
    pub async fn hold(&self, drafts: Vec<Draft>) -> Vec<Result<ChatMessage, CommandError>> {
        let count = drafts.len();
        let sent_at_ms = wall_clock_ms();
        self.ask(|reply| Command::Hold(drafts, sent_at_ms, reply))
            .await
            .unwrap_or_else(|| vec![Err(CommandError::OutboxFull); count])
    }

    /// Lets held messages go out (see `Node::release_message`), in the order given.
    pub async fn release(&self, messages: Vec<(PublicKey, MessageId)>) {
        self.tell(Command::Release(messages)).await;
    }

    /// Drops held messages that could not be persisted; they are never sent and their ids are
    /// given back (see `Node::withdraw_message`). Withdrawing a message also withdraws every
    /// later held message to the same peer, so withdraw only what no later release depends on.
    pub async fn withdraw(&self, messages: Vec<(PublicKey, MessageId)>) {
        self.tell(Command::Withdraw(messages)).await;
    }

    /// Tells the node that message `id` from `peer` is durably stored; the sender gets its ack.
    pub async fn confirm_stored(&self, peer: PublicKey, id: MessageId) {
        self.confirm_stored_many(vec![(peer, id)]).await;
    }

    /// [`NodeHandle::confirm_stored`] for a batch of messages at once (one command for a whole
    /// store commit): each sender gets its acks, in the order given.
    pub async fn confirm_stored_many(&self, messages: Vec<(PublicKey, MessageId)>) {
        if !messages.is_empty() {
            self.tell(Command::ConfirmStored(messages)).await;
        }
    }

    /// Tells the node that message `id` from `peer` could not be stored: it stays unacked and
    /// the node makes the sender resend it (see `Node::storage_failed`).
    pub async fn storage_failed(&self, peer: PublicKey, id: MessageId) {
        self.tell(Command::StorageFailed(peer, id)).await;
    }

    /// Tells `peer` that its message `id` was read.
    pub async fn send_read_receipt(&self, peer: PublicKey, id: MessageId) {
        self.tell(Command::ReadReceipt(peer, id)).await;
    }

    /// Closes connection `conn` with a close frame.
    pub async fn close(&self, conn: ConnId) {
        self.tell(Command::Close(conn)).await;
    }

    /// Every live connection.
    pub async fn sessions(&self) -> Vec<SessionInfo> {
        self.ask(Command::Sessions).await.unwrap_or_default()
    }

    /// Messages for `peer` not yet acked.
    pub async fn queued_for(&self, peer: PublicKey) -> usize {
        self.ask(|reply| Command::QueuedFor(peer, reply))
            .await
            .unwrap_or(0)
    }

    /// Every unacked message, per peer in sending order: what a host persists to restore with
    /// [`crate::DriverConfig::restore_outbox`].
    pub async fn outbox_entries(&self) -> Vec<(PublicKey, ChatMessage)> {
        self.ask(Command::Outbox).await.unwrap_or_default()
    }

    /// The dedup marks: what a host persists to restore with
    /// [`crate::DriverConfig::restore_dedup`].
    pub async fn dedup_records(&self) -> Vec<DedupRecord> {
        self.ask(Command::Dedup).await.unwrap_or_default()
    }

    /// Inbound connections the node has refused since it started, by reason (evicted at the
    /// pending-handshake cap, no first bytes, handshake timeout, not whitelisted, ...). The
    /// driver logs a summary of them at most once per 10 s instead of a line per refusal.
    pub async fn refusals(&self) -> RefusalCounts {
        self.ask(Command::Refusals).await.unwrap_or_default()
    }

    /// Every core event, in order. There is one stream per node: give it to one consumer. It
    /// ends after shutdown.
    pub fn events(&self) -> Receiver<Event> {
        self.events.clone()
    }

    /// Closes every connection with a close frame, flushes and closes the sockets, stops the
    /// listeners and dials, and waits until every task of the node has ended. Flushing is
    /// bounded by the close flush limit (2 s after the stop), so this returns soon after that
    /// even if a peer has stopped reading.
    pub async fn shutdown(&self) {
        let _ = self.ask(Command::Shutdown).await;
    }
}
