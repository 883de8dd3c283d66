//! The runtime-neutral service layer between the HTTP surface and the node: sending with
//! persistence and ack waits (through [`committer`]), history and search, status, read
//! receipts, and the event loop that stores incoming messages before the node acks them (and
//! records a Skywire peer's deletions). Messages are shown with this node's key in the peer's
//! suite, and a Skywire peer's ack as "delivered" ([`status_label`]). Every call returns typed
//! values ([`view`], [`status`]) or a [`ServiceError`]; nothing here knows about tide or HTTP.
//! Peers may be named by key, `tcp://` address or alias ([`aliases`], and `directory`, which
//! resolves the names and lists the known peers). Peers are added from invites ([`invite`],
//! [`links`]: this node's own invite, and the remembered dial addresses of added peers).

pub mod acks;
pub mod aliases;
pub mod archive;
pub mod committer;
mod directory;
mod error;
pub mod events;
pub mod feed;
pub mod invite;
pub mod links;
pub mod peer_flags;
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
use skychat_core::{MessageId, Network, PublicKey};
use skychat_driver::NodeHandle;

use crate::address::PeerSpec;
use crate::store::{Status, StoredMessage, WriteOp};
use acks::AckWaiters;
use committer::{Accepted, SendRequest};
use feed::Feed;
use peers::PeerTable;
use queued::QueuedCounts;
use storage::{Storage, now_ms};

pub use error::ServiceError;
pub use status::{NodeStatus, PeerStatus};
pub use view::{
    Conversation, FeedMessage, HistoryPage, MessageView, OwnKeys, status_label, transport_name,
};

/// The longest an HTTP caller may wait for an ack.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// How long a send without `wait_ms` to a Skywire peer with no session waits, under a visor,
/// for the dial and the delivery: the Go skychat's HTTP write timeout. Past it the answer is
/// "queued", and the message still goes when the peer is reached.
pub const MESH_DIAL_WAIT: Duration = Duration::from_secs(10);

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
    /// The link to the visor, in embedded mode.
    visor: std::sync::OnceLock<Arc<skychat_visor_link::VisorLink>>,
    /// Whether the pair routes call the visor's pair-RPC (`--pair-enable` under a visor).
    pairing: std::sync::atomic::AtomicBool,
    require_pq: std::sync::atomic::AtomicBool,
    started: Instant,
    peers: PeerTable,
    /// Every peer's alias, as the store holds them.
    aliases: Arc<aliases::AliasBook>,
    /// The dial address of every peer added with one.
    links: links::LinkBook,
    flags: peer_flags::FlagBook,
    /// The TCP-direct address peers dial to reach this node (`--advertise`).
    advertise: std::sync::OnceLock<String>,
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

/// A message cancelled by [`Service::cancel_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancellation {
    /// The cancelled message.
    pub id: MessageId,
    /// The later messages to the same peer, as (old id, new id), oldest first.
    pub renumbered: Vec<(MessageId, MessageId)>,
}

/// A message deleted by [`Service::delete_message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deletion {
    /// The message.
    pub id: MessageId,
    /// When it was deleted here.
    pub deleted_at_ms: u64,
    /// Whether the peer was told to delete it too.
    pub for_everyone: bool,
}

impl Service {
    /// A service over `node` and `storage`. Run [`Service::run_events`] and
    /// [`Service::run_committer`] alongside.
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
            visor: std::sync::OnceLock::new(),
            pairing: std::sync::atomic::AtomicBool::new(false),
            require_pq: std::sync::atomic::AtomicBool::new(false),
            started: Instant::now(),
            peers: PeerTable::default(),
            aliases: Arc::default(),
            links: links::LinkBook::default(),
            flags: peer_flags::FlagBook::default(),
            advertise: std::sync::OnceLock::new(),
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

    /// Records the link to the visor, for `/status` and for sends that name a mesh network.
    pub fn set_visor(&self, link: Arc<skychat_visor_link::VisorLink>) {
        let _ = self.0.visor.set(link);
    }

    /// Records whether the pair routes reach the visor's pair-RPC, for `/status`.
    pub fn set_pairing(&self, enabled: bool) {
        self.0.pairing.store(enabled, Ordering::Relaxed);
    }

    /// What the visor link reports, in embedded mode.
    pub fn visor_status(&self) -> Option<skychat_visor_link::LinkStatus> {
        self.0.visor.get().map(|link| link.status())
    }

    /// Checks that a send that names `network` can go over it: skynet and dmsg need a visor
    /// that listens there, and reach Skywire keys only. The next dial of the peer then goes
    /// over that network only (`auto` and `tcp` lift that); a session already up carries the
    /// message whatever its network, and `/status` and the events tell which.
    pub fn check_network(
        &self,
        recipient: &PublicKey,
        network: Network,
    ) -> Result<(), ServiceError> {
        if !network.is_mesh() {
            return Ok(());
        }
        let name = transport_name(network);
        let Some(status) = self.visor_status() else {
            return Err(ServiceError::Unavailable(format!(
                "network {name} needs a visor to relay through; this node runs standalone and \
                 serves tcp-direct only (omit \"network\" or use \"auto\")"
            )));
        };
        if !status.listening.contains(&network) {
            let why = status.error.unwrap_or_else(|| "no listener there".into());
            return Err(ServiceError::Unavailable(format!(
                "network {name} is not available through the visor now: {why}"
            )));
        }
        if recipient.suite() != skychat_core::Suite::Skywire {
            return Err(ServiceError::BadRequest(format!(
                "network {name} reaches Skywire keys (66 hex) only; this recipient is a native \
                 key (use \"tcp\" or \"auto\")"
            )));
        }
        if let Some(link) = self.0.visor.get() {
            link.prefer(*recipient, Some(network));
        }
        Ok(())
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
        if self.is_blocked(&recipient) {
            return Err(ServiceError::WrongState(format!(
                "{} is blocked: nothing is sent to it; unblock it first with DELETE \
                 /peers/{}/block",
                recipient.to_hex(),
                recipient.to_hex()
            )));
        }
        let started = Instant::now();
        let connected = self.0.peers.is_connected(&recipient);
        // Under a visor a Skywire peer without a session is dialed at once: worth a wait.
        let dialed =
            self.0.visor.get().is_some() && recipient.suite() == skychat_core::Suite::Skywire;
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
        if !connected && !dialed {
            return Ok(SendOutcome::Queued { id });
        }
        // A send the visor dials for is answered once it went out, as the Go skychat answers
        // after its dial and write (clients that retry on anything but 200 then send once).
        let (wait, asked) = match wait.filter(|w| !w.is_zero()) {
            Some(wait) => (wait.min(MAX_WAIT), true),
            None if !connected => (MESH_DIAL_WAIT, false),
            None => return Ok(SendOutcome::Sent { id }),
        };
        let acked = self.0.acks.wait(id);
        let result = futures_lite::future::or(async { acked.recv().await.is_ok() }, async {
            async_io_timer(wait).await;
            false
        })
        .await;
        drop(acked);
        self.0.acks.forget(id);
        let ms = started.elapsed().as_millis();
        Ok(match (result, asked) {
            (true, true) => SendOutcome::Acked { id, ms },
            (true, false) => SendOutcome::Sent { id },
            (false, true) => SendOutcome::Timeout {
                id,
                ms: wait.as_millis(),
            },
            (false, false) => SendOutcome::Queued { id },
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
                alias: self.alias_of(&p.peer),
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

    /// Cancels the message `id` to `peer`, which has not gone out yet: the node drops it (it is
    /// never delivered) and its row goes. The later messages of its stream move to a fresh one
    /// (the receiver waits for every number of a stream), so their ids change (no id is ever
    /// given out twice); live subscribers get
    /// a `dm-status` event `cancelled` for it and one `renumbered` (with `new_id`) for each of
    /// them, and the returned value lists them.
    pub async fn cancel_message(
        &self,
        peer: PublicKey,
        id: MessageId,
    ) -> Result<Cancellation, ServiceError> {
        let renumbered = self.0.node.cancel(peer, id).await.map_err(|e| match e {
            skychat_core::CancelError::AlreadySent => ServiceError::WrongState(format!(
                "message {id} already went out and may have arrived: delete it for everyone \
                 instead (POST /delete with \"for_everyone\": true)"
            )),
            skychat_core::CancelError::Held => ServiceError::Unavailable(
                "this or a later message to this peer is still being stored; try again".into(),
            ),
            _ => ServiceError::NotFound(format!(
                "no message {id} to {} is waiting to be sent (acked, cancelled, or never queued)",
                peer.to_hex()
            )),
        })?;
        self.0.queued.remove(peer, 1);
        let written = self
            .0
            .storage
            .write(WriteOp::Cancelled {
                peer,
                id,
                renumbered: renumbered.clone(),
            })
            .await;
        if let Err(e) = written {
            // The node no longer has it; the stored row would bring it back at the next start.
            log::error!("could not remove cancelled message {id} from the store: {e}");
            return Err(e.into());
        }
        let status = |id: MessageId, status: &str, new_id: Option<MessageId>| {
            serde_json::json!({
                "channel": "dm-status",
                "id": id.to_hex(),
                "status": status,
                "peer": peer.to_hex(),
                "new_id": new_id.map(|n| n.to_hex()),
            })
        };
        self.0.feed.publish("status", status(id, "cancelled", None));
        for (old, new) in &renumbered {
            self.0
                .feed
                .publish("status", status(*old, "renumbered", Some(*new)));
        }
        Ok(Cancellation { id, renumbered })
    }

    /// Deletes message `id` of the conversation with `peer`: here only, or, with
    /// `for_everyone`, also at the peer (only a message this node sent; the peer is told now, or
    /// on its next session). The row keeps its place with no text. Live subscribers get a
    /// `dm-status` event with the status `deleted`.
    pub async fn delete_message(
        &self,
        peer: PublicKey,
        id: MessageId,
        for_everyone: bool,
    ) -> Result<Deletion, ServiceError> {
        let at_ms = now_ms();
        let applied = self
            .0
            .storage
            .write(WriteOp::DeletedByMe {
                peer,
                id,
                at_ms,
                outgoing_only: for_everyone,
            })
            .await?;
        if !applied.changed() {
            let whose = if for_everyone {
                "no message you sent"
            } else {
                "no message"
            };
            return Err(ServiceError::NotFound(format!(
                "{whose} with id {id} in the conversation with {}, or it is deleted already{}",
                peer.to_hex(),
                if for_everyone {
                    " (only your own messages can be deleted for everyone)"
                } else {
                    ""
                }
            )));
        }
        if for_everyone {
            self.0.node.send_deletion(peer, id).await;
        }
        self.0.feed.publish(
            "status",
            serde_json::json!({
                "channel": "dm-status",
                "id": id.to_hex(),
                "status": "deleted",
                "peer": peer.to_hex(),
                "deleted_at": at_ms,
                "by": "me",
            }),
        );
        Ok(Deletion {
            id,
            deleted_at_ms: at_ms,
            for_everyone,
        })
    }

    fn publish_message(&self, stored: &StoredMessage) {
        let me = self.own_keys();
        self.0.feed.publish_text("dm", message_json(&me, stored));
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
        network: None,
    }
}

/// The JSON text of a stored message for the live feed: [`MessageView`]'s, keys in order
/// ([`FeedMessage`]).
fn message_json(own: &OwnKeys, m: &StoredMessage) -> String {
    feed::json_text(&FeedMessage::new(own, m))
}

async fn async_io_timer(wait: Duration) {
    smol::Timer::after(wait).await;
}
