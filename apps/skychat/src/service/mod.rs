//! The runtime-neutral service layer between the HTTP surface and the node: sending with
//! persistence and ack waits (through [`committer`]), history and search, status, read
//! receipts, and the event loop that stores incoming messages before the node acks them (and
//! records a Skywire peer's deletions). Messages are shown with this node's key in the peer's
//! suite, and a Skywire peer's ack as "delivered" ([`status_label`]). Every call returns typed
//! values ([`view`], [`status`]) or a [`ServiceError`]; nothing here knows about tide or HTTP.

pub mod acks;
pub mod committer;
mod error;
pub mod feed;
pub mod peers;
pub mod queued;
pub mod status;
pub mod storage;
pub mod view;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use skychat_core::SessionError;
use skychat_core::{CloseReason, Event, MessageId, PublicKey};
use skychat_core::{HandshakeError, SkywireError};
use skychat_driver::NodeHandle;

use crate::address::PeerSpec;
use crate::store::{Applied, Status, StoreError, StoredMessage, WriteOp};
use acks::AckWaiters;
use committer::{Accepted, SendRequest};
use feed::Feed;
use peers::PeerTable;
use queued::QueuedCounts;
use storage::{Completion, Storage, now_ms};

pub use error::ServiceError;
pub use status::NodeStatus;
pub use view::{Conversation, HistoryPage, MessageView, OwnKeys, status_label};

/// The longest an HTTP caller may wait for an ack.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// How the node runs: on its own, or inside a Skywire visor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// On its own (`--standalone`): no visor to relay through.
    Standalone,
    /// Started as a visor app, without `--standalone`.
    Embedded,
}

impl Mode {
    /// `standalone` or `embedded`, as `/status` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standalone => "standalone",
            Self::Embedded => "embedded",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Static facts about this node, for `/status`.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// How the node runs.
    pub mode: Mode,
    /// The HTTP surface's bound address.
    pub http_addr: Option<SocketAddr>,
    /// The TCP-direct listener's bound address.
    pub tcp_listen: Option<SocketAddr>,
    /// Configured persistent peers.
    pub tcp_peers: Vec<PeerSpec>,
    /// Keys allowed inbound.
    pub whitelist: Vec<PublicKey>,
}

/// What happened to a sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Acked by the peer within the wait.
    Acked {
        /// The message.
        id: MessageId,
        /// From just before sending to the ack.
        ms: u128,
    },
    /// Not acked within the wait; it stays queued and will still be delivered.
    Timeout {
        /// The message.
        id: MessageId,
        /// The wait that ran out.
        ms: u128,
    },
    /// The peer is not connected; the message waits in the outbox.
    Queued {
        /// The message.
        id: MessageId,
    },
    /// Handed to a live session; no wait was asked for.
    Sent {
        /// The message.
        id: MessageId,
    },
    /// A retry with an idempotency key already used for this message: nothing new was sent.
    Replayed {
        /// The message first sent with the key.
        id: MessageId,
        /// Where it stands now.
        status: Status,
    },
}

#[derive(Default)]
struct Counters {
    incoming: AtomicU64,
    outgoing: AtomicU64,
    acked: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
    /// Skywire handshakes that completed without the post-quantum hybrid.
    downgrades: AtomicU64,
    /// Skywire handshakes refused for completing classically under `--require-pq`.
    pq_refused: AtomicU64,
    /// Incoming messages their sender deleted.
    deleted: AtomicU64,
}

struct Inner {
    node: NodeHandle,
    storage: Storage,
    info: NodeInfo,
    http_addr: std::sync::OnceLock<SocketAddr>,
    public_keys: std::sync::OnceLock<crate::identity::PublicKeys>,
    require_pq: std::sync::atomic::AtomicBool,
    started: Instant,
    peers: PeerTable,
    acks: AckWaiters,
    feed: Feed,
    counters: Counters,
    subscribers: AtomicUsize,
    /// Messages in the node's outbox per peer, for `/status`.
    queued: QueuedCounts,
    /// Send requests on their way to the committer ([`Service::run_committer`]).
    sends: async_channel::Sender<SendRequest>,
    send_queue: std::sync::Mutex<Option<async_channel::Receiver<SendRequest>>>,
}

/// The service. Cheap to clone.
#[derive(Clone)]
pub struct Service(Arc<Inner>);

impl Service {
    /// A service over `node` and `storage`. Run [`Service::run_events`],
    /// [`Service::run_committer`] and [`Service::run_completions`] (with the receiver paired
    /// with `storage`) alongside.
    pub fn new(node: NodeHandle, storage: Storage, info: NodeInfo) -> Self {
        let (sends, send_queue) = async_channel::unbounded();
        Self(Arc::new(Inner {
            sends,
            send_queue: std::sync::Mutex::new(Some(send_queue)),
            node,
            storage,
            info,
            http_addr: std::sync::OnceLock::new(),
            public_keys: std::sync::OnceLock::new(),
            require_pq: std::sync::atomic::AtomicBool::new(false),
            started: Instant::now(),
            peers: PeerTable::default(),
            acks: AckWaiters::default(),
            feed: Feed::default(),
            counters: Counters::default(),
            subscribers: AtomicUsize::new(0),
            queued: QueuedCounts::default(),
        }))
    }

    /// This node's public key.
    pub fn public_key(&self) -> PublicKey {
        self.0.node.public_key()
    }

    /// Counts the messages the node's outbox was restored with at start, one entry per message,
    /// for `/status`. Call it before [`Service::run_events`] starts, so that no ack of them is
    /// seen first.
    pub fn note_restored_outbox(&self, recipients: impl IntoIterator<Item = PublicKey>) {
        for peer in recipients {
            self.0.queued.add(peer, 1);
        }
    }

    /// Records both public keys of this node's secret, for `/status`.
    pub fn set_public_keys(&self, keys: crate::identity::PublicKeys) {
        let _ = self.0.public_keys.set(keys);
    }

    /// Records that Skywire-suite peers must complete the post-quantum hybrid (`--require-pq`),
    /// for `/status`.
    pub fn set_require_pq(&self, require: bool) {
        self.0.require_pq.store(require, Ordering::Relaxed);
    }

    /// This node's own keys, to name this side of a conversation in each peer's suite.
    pub fn own_keys(&self) -> OwnKeys {
        OwnKeys {
            native: self.public_key(),
            skywire: self
                .0
                .public_keys
                .get()
                .map(|keys| PublicKey::from(keys.skywire)),
        }
    }

    /// Records where the HTTP surface listens, for `/status`.
    pub fn set_http_addr(&self, addr: SocketAddr) {
        let _ = self.0.http_addr.set(addr);
    }

    /// How the node runs.
    pub fn mode(&self) -> Mode {
        self.0.info.mode
    }

    /// The live feed.
    pub fn feed(&self) -> &Feed {
        &self.0.feed
    }

    /// Counts a live-stream subscriber in or out.
    pub fn subscriber_delta(&self, delta: isize) {
        if delta > 0 {
            self.0.subscribers.fetch_add(1, Ordering::Relaxed);
        } else {
            self.0.subscribers.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Sends `body` to `recipient`. Either the message is stored before this returns and will
    /// be delivered, or this returns an error and the message is never sent. With `wait`, waits
    /// up to that long for the peer's ack. A retry with the `idempotency_key` of an earlier send
    /// of the same message returns [`SendOutcome::Replayed`] instead of sending it again.
    pub async fn send(
        &self,
        recipient: PublicKey,
        body: String,
        reply_to: Option<MessageId>,
        wait: Option<Duration>,
        idempotency_key: Option<String>,
    ) -> Result<SendOutcome, ServiceError> {
        let started = Instant::now();
        let connected = self.0.peers.is_connected(&recipient);
        let (reply, answer) = async_channel::bounded(1);
        let request = SendRequest {
            recipient,
            body,
            reply_to,
            idempotency_key,
            reply,
        };
        let stopped = ServiceError::ShuttingDown;
        self.0
            .sends
            .send(request)
            .await
            .map_err(|_| stopped.clone())?;
        let message = match answer.recv().await.map_err(|_| stopped)?? {
            Accepted::New(message) => message,
            Accepted::Existing(stored) => {
                return Ok(SendOutcome::Replayed {
                    id: stored.message.id,
                    status: stored.status,
                });
            }
        };
        let id = message.id;
        if !connected {
            return Ok(SendOutcome::Queued { id });
        }
        let Some(wait) = wait.filter(|w| !w.is_zero()) else {
            return Ok(SendOutcome::Sent { id });
        };
        let wait = wait.min(MAX_WAIT);
        let acked = self.0.acks.wait(id);
        let result = futures_lite::future::or(async { acked.recv().await.is_ok() }, async {
            async_io_timer(wait).await;
            false
        })
        .await;
        drop(acked);
        self.0.acks.forget(id);
        let ms = started.elapsed().as_millis();
        Ok(if result {
            SendOutcome::Acked { id, ms }
        } else {
            SendOutcome::Timeout {
                id,
                ms: wait.as_millis(),
            }
        })
    }

    /// A page of history, newest first: up to `limit` messages with `peer` (or everyone),
    /// older than the cursor `before`.
    pub async fn history(
        &self,
        peer: Option<PublicKey>,
        limit: usize,
        before: Option<i64>,
    ) -> Result<HistoryPage, ServiceError> {
        let me = self.own_keys();
        let page = self
            .0
            .storage
            .read(move |s| s.history(peer, limit, before))
            .await??;
        Ok(HistoryPage {
            next_cursor: page.last().map(|m| m.row),
            messages: page.iter().map(|m| MessageView::new(&me, m)).collect(),
        })
    }

    /// Conversations, most recent first.
    pub async fn history_peers(&self) -> Result<Vec<Conversation>, ServiceError> {
        let peers = self.0.storage.read(|s| s.peers()).await??;
        Ok(peers
            .into_iter()
            .map(|p| Conversation {
                peer: p.peer.to_hex(),
                last_message_at_ms: p.last_message_at_ms,
                count: p.count,
                unread: p.unread,
                connected: self.0.peers.is_connected(&p.peer),
            })
            .collect())
    }

    /// Full-text search over history, best matches first.
    pub async fn search(
        &self,
        query: String,
        limit: usize,
    ) -> Result<Vec<MessageView>, ServiceError> {
        let me = self.own_keys();
        let hits = self
            .0
            .storage
            .read(move |s| s.search(&query, limit))
            .await??;
        Ok(hits.iter().map(|m| MessageView::new(&me, m)).collect())
    }

    /// Marks incoming messages as read here and sends read receipts to their sender.
    pub async fn mark_read(
        &self,
        peer: PublicKey,
        ids: Vec<MessageId>,
    ) -> Result<(), ServiceError> {
        let at_ms = now_ms();
        for id in ids {
            self.0
                .storage
                .write(WriteOp::ReadByMe { peer, id, at_ms })
                .await?;
            self.0.node.send_read_receipt(peer, id).await;
        }
        Ok(())
    }

    /// Consumes the node's events until it stops: stores incoming messages (the node acks after
    /// the commit), records acks and receipts, tracks sessions, and feeds live subscribers.
    pub async fn run_events(self) {
        let events = self.0.node.events();
        while let Ok(event) = events.recv().await {
            self.on_event(event);
        }
    }

    fn on_event(&self, event: Event) {
        let inner = &self.0;
        match event {
            Event::Authenticated {
                conn, peer, kind, ..
            } => {
                inner.peers.up(peer, conn, kind);
                log::info!("session with {} up ({kind:?})", peer.short());
                inner
                    .feed
                    .publish("peer", json!({"peer": peer.to_hex(), "state": "connected"}));
            }
            Event::ConnectionClosed {
                conn,
                peer: Some(peer),
                reason,
                ..
            } => {
                if !inner.peers.down(peer, conn) {
                    // Never a session here (a rejected stranger, a surplus session): nothing
                    // to report, and nothing kept per such connection.
                    log::debug!("connection closed: {reason}");
                    return;
                }
                log::info!("session with {} closed: {reason}", peer.short());
                let state = if inner.peers.is_connected(&peer) {
                    "connected"
                } else {
                    "disconnected"
                };
                inner
                    .feed
                    .publish("peer", json!({"peer": peer.to_hex(), "state": state}));
            }
            Event::ConnectionClosed {
                reason:
                    CloseReason::ProtocolViolation(SessionError::Skywire(SkywireError::Handshake(
                        HandshakeError::PqRequired,
                    ))),
                ..
            } => {
                inner.counters.pq_refused.fetch_add(1, Ordering::Relaxed);
                log::warn!(
                    "refused a Skywire peer that completed the handshake without the \
                     post-quantum hybrid (classical only): --require-pq is set"
                );
            }
            Event::ConnectionClosed { reason, .. } => log::debug!("connection closed: {reason}"),
            Event::Rejected { peer, .. } => {
                inner.counters.rejected.fetch_add(1, Ordering::Relaxed);
                // The driver logs a rate-limited summary of refusals; one line per stranger
                // would let a flood of them flood the log.
                log::debug!("rejected {}: not on --tcp-whitelist", peer.to_hex());
            }
            Event::MessageReceived {
                peer, mut message, ..
            } => {
                let received_at_ms = now_ms();
                // The Skywire wire carries no send time (the core gives 0): the receive time
                // stands in for it.
                if message.sent_at_ms == 0 {
                    message.sent_at_ms = received_at_ms;
                }
                inner.storage.submit(WriteOp::Incoming {
                    peer,
                    message,
                    received_at_ms,
                });
            }
            Event::MessageAcked { peer, id, .. } => {
                inner.counters.acked.fetch_add(1, Ordering::Relaxed);
                inner.queued.remove(peer, 1);
                // Submitted before the waiter wakes, so that a read of the store after the
                // answer (such as `/history`) sees the ack.
                inner.storage.submit(WriteOp::Acked {
                    peer,
                    id,
                    at_ms: now_ms(),
                });
                inner.acks.acked(id);
                inner.feed.publish(
                    "status",
                    json!({
                        "channel": "dm-status",
                        "id": id.to_hex(),
                        "status": status_label(&peer, Status::Acked),
                        "peer": peer.to_hex(),
                    }),
                );
            }
            Event::ReadReceipt { peer, id } => {
                inner.storage.submit(WriteOp::ReadByPeer {
                    peer,
                    id,
                    at_ms: now_ms(),
                });
                inner.feed.publish(
                    "status",
                    json!({"channel": "dm-status", "id": id.to_hex(), "status": "read", "peer": peer.to_hex()}),
                );
            }
            Event::ClassicalHandshake { peer, .. } => {
                inner.counters.downgrades.fetch_add(1, Ordering::Relaxed);
                if !inner.require_pq.load(Ordering::Relaxed) {
                    log::warn!(
                        "post-quantum DOWNGRADE: Skywire peer {} completed the handshake without \
                         the ML-KEM hybrid (classical secp256k1 only; an older Go skychat, or a \
                         peer that strips the offer); start with --require-pq to refuse such peers",
                        peer.to_hex()
                    );
                }
            }
            Event::MessageDeleted { peer, id } => {
                inner.storage.submit(WriteOp::DeletedByPeer {
                    peer,
                    id,
                    at_ms: now_ms(),
                });
            }
            _ => {}
        }
    }

    /// Consumes the results of writes submitted by the event loop: confirms stored messages to
    /// the node so that it acks them.
    pub async fn run_completions(self, completions: async_channel::Receiver<Completion>) {
        while let Ok((op, result)) = completions.recv().await {
            if let WriteOp::DeletedByPeer { peer, id, at_ms } = op {
                self.on_deleted(peer, id, at_ms, result);
                continue;
            }
            let WriteOp::Incoming {
                peer,
                message,
                received_at_ms,
            } = op
            else {
                if let Err(e) = result {
                    log::error!("store update failed: {e}");
                }
                continue;
            };
            match result {
                Ok(applied) => {
                    self.0.node.confirm_stored(peer, message.id).await;
                    if matches!(applied, Applied::Inserted(_)) {
                        self.0.counters.incoming.fetch_add(1, Ordering::Relaxed);
                        let stored = StoredMessage {
                            row: applied.row().unwrap_or_default(),
                            peer,
                            direction: crate::store::Direction::In,
                            message,
                            stored_at_ms: received_at_ms,
                            status: crate::store::Status::Received,
                            acked_at_ms: None,
                            read_at_ms: None,
                            in_outbox: false,
                            deleted_at_ms: None,
                        };
                        self.publish_message(&stored);
                    }
                }
                Err(e) => {
                    self.0.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    log::error!(
                        "could not store message {} from {}: {e}; it is not acked, so the \
                         sender keeps it and resends it on its next session",
                        message.id,
                        peer.short()
                    );
                    self.0.node.storage_failed(peer, message.id).await;
                }
            }
        }
    }

    fn publish_message(&self, stored: &StoredMessage) {
        let me = self.own_keys();
        self.0.feed.publish("dm", message_json(&me, stored));
    }

    /// The store applied (or not) a peer's deletion of message `id`.
    fn on_deleted(
        &self,
        peer: PublicKey,
        id: MessageId,
        at_ms: u64,
        result: Result<Applied, StoreError>,
    ) {
        match result {
            Ok(applied) if applied.changed() => {
                self.0.counters.deleted.fetch_add(1, Ordering::Relaxed);
                log::info!("{} deleted its message {id}", peer.short());
                self.0.feed.publish(
                    "status",
                    json!({
                        "channel": "dm-status",
                        "id": id.to_hex(),
                        "status": "deleted",
                        "peer": peer.to_hex(),
                        "deleted_at": at_ms,
                    }),
                );
            }
            // A peer may delete only what it sent: a deletion naming one of our messages (or
            // one not stored here, or deleted already) changes nothing.
            Ok(_) => log::debug!(
                "{} deleted message {id}, which is none of its messages here: ignored",
                peer.short()
            ),
            Err(e) => log::error!("could not record that {} deleted {id}: {e}", peer.short()),
        }
    }

    /// Shuts the node down gracefully, then waits until the store has committed its queue.
    pub async fn shutdown(&self) {
        self.0.sends.close();
        self.0.node.shutdown().await;
        self.0.storage.close_and_wait();
    }
}

fn stored_out(peer: PublicKey, message: &skychat_core::ChatMessage) -> StoredMessage {
    StoredMessage {
        row: 0,
        peer,
        direction: crate::store::Direction::Out,
        message: message.clone(),
        stored_at_ms: message.sent_at_ms,
        status: crate::store::Status::Queued,
        acked_at_ms: None,
        read_at_ms: None,
        in_outbox: true,
        deleted_at_ms: None,
    }
}

/// The JSON form of a stored message for the live feed: [`MessageView`]'s.
fn message_json(own: &OwnKeys, m: &StoredMessage) -> serde_json::Value {
    serde_json::to_value(MessageView::new(own, m)).unwrap_or_default()
}

async fn async_io_timer(wait: Duration) {
    smol::Timer::after(wait).await;
}
