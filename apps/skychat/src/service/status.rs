//! The `/status` document: who this node is, how it runs, its peers with what waits for each,
//! and its counters. Built from the service's own state (sessions, outbox counts per peer,
//! counters) and one node query (its refusals), however many peers there are; it never waits
//! for the store.

use std::sync::atomic::Ordering;

use serde::Serialize;
use skychat_core::{ConnKind, PublicKey, RefusalCounts};

use super::feed::FeedStats;
use super::{Mode, Service, transport_name};

/// The `/status` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// This node's native key.
    pub public_key: String,
    /// The key Go peers know this node by: the Skywire key of the same secret.
    pub visor_pk: String,
    /// The native key again.
    pub native_pk: String,
    /// The Skywire key, once known.
    pub skywire_pk: Option<String>,
    /// Both dial strings, with `--tcp-listen`.
    pub dial: Option<Dial>,
    /// How the node runs.
    pub mode: Mode,
    /// The link to the visor, in embedded mode.
    pub visor: Option<VisorStatus>,
    /// The HTTP surface's bound address.
    pub http_addr: Option<String>,
    /// The TCP-direct listener's bound address.
    pub tcp_listen: Option<String>,
    /// Keys allowed inbound.
    pub whitelist: Vec<String>,
    /// Every peer that is connected, configured or has messages waiting.
    pub peers: Vec<PeerStatus>,
    /// Peers with at least one live session.
    pub active_peer_conns: usize,
    /// Message counters.
    pub counters: StatusCounters,
    /// Skywire-suite handshakes without the post-quantum hybrid.
    pub post_quantum: PostQuantum,
    /// Inbound connections refused, by reason.
    pub refused: Refused,
    /// Messages received and stored.
    pub inbound_msg_count: u64,
    /// Messages accepted for sending.
    pub outbound_msg_count: u64,
    /// Live-stream subscribers.
    pub sse_subscribers: usize,
    /// The event feed's ids and size.
    pub event_feed: FeedStatus,
    /// Log lines dropped because the log could not keep up.
    pub log_lines_dropped: u64,
    /// Always true: messages are stored.
    pub persistence_enabled: bool,
    /// Whether the pair routes call the visor's pair-RPC (`--pair-enable` under a visor).
    pub pairing_enabled: bool,
    /// The chat frame version.
    pub frame_proto_version: u32,
    /// The status document's version.
    pub schema_version: &'static str,
    /// Seconds since the service started.
    pub uptime_sec: u64,
    /// The same, under the Go app's name.
    pub app_uptime_sec: u64,
}

/// Both dial strings of this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dial {
    /// `tcp://<native_pk>@host:port`.
    pub native: String,
    /// `tcp://<skywire_pk>@host:port`.
    pub skywire: String,
}

/// One peer in `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerStatus {
    /// Its key, in hex.
    pub pk: String,
    /// The local name given to it, if any.
    pub alias: Option<String>,
    /// `connected` or `disconnected`.
    pub state: &'static str,
    /// The network its messages go over: that of its oldest live session, else `tcp-direct`
    /// for a `--tcp-peer`, `skynet` under a visor, or `none`.
    pub transport: &'static str,
    /// The network of each live session.
    pub networks: Vec<&'static str>,
    /// Live sessions.
    pub sessions: usize,
    /// Whether one of them was accepted rather than dialled.
    pub inbound: bool,
    /// Whether the node keeps a link to it: a `--tcp-peer`, or a peer added with an address.
    pub persistent: bool,
    /// The address that link dials.
    pub addr: Option<String>,
    /// Whether this node knows an address to dial it at (TCP-direct, or the visor's mesh for a
    /// Skywire key under a visor).
    pub has_address: bool,
    /// Whether a message to it can go now or without its help: it is connected, or this node
    /// has an address for it. False means it waits until the peer connects to this node.
    pub reachable: bool,
    /// Messages for it not yet acked.
    pub queued: u64,
    /// Whether this node blocked it: refused on every network, never dialed.
    pub blocked: bool,
    /// Whether it is muted: the web page does not notify of its messages.
    pub muted: bool,
}

/// The visor link in `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisorStatus {
    /// Whether the app-server connection is up.
    pub connected: bool,
    /// The app server's address.
    pub app_server: String,
    /// The visor's key: this node's address on skynet and dmsg.
    pub visor_pk: String,
    /// Networks with a listener (`skynet`, `dmsg`).
    pub listening: Vec<&'static str>,
    /// Connections the visor relays now.
    pub connections: usize,
    /// Why the link ended, or a listener failed.
    pub error: Option<String>,
}

impl From<skychat_visor_link::LinkStatus> for VisorStatus {
    fn from(status: skychat_visor_link::LinkStatus) -> Self {
        Self {
            connected: status.connected,
            app_server: status.app_server,
            visor_pk: status.visor_pk,
            listening: status.listening.into_iter().map(transport_name).collect(),
            connections: status.connections,
            error: status.error,
        }
    }
}

/// The message counters of `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusCounters {
    /// Messages received and stored.
    #[serde(rename = "in")]
    pub incoming: u64,
    /// Messages accepted for sending.
    #[serde(rename = "out")]
    pub outgoing: u64,
    /// Acks received.
    pub acked: u64,
    /// Messages waiting for an ack now.
    pub queued: u64,
    /// Sends refused because the store could not record them.
    pub failed: u64,
    /// Incoming messages that could not be stored.
    pub dropped: u64,
    /// Inbound connections from keys not on the whitelist.
    pub rejected: u64,
    /// Incoming messages their sender deleted.
    pub deleted: u64,
}

/// Post-quantum handshake counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostQuantum {
    /// `--require-pq`.
    pub required: bool,
    /// Handshakes completed without the hybrid.
    pub downgrades: u64,
    /// Handshakes refused for that under `--require-pq`.
    pub refused_classical: u64,
}

/// Inbound connections refused, by reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    /// All of them.
    pub total: u64,
    /// Evicted at the cap of silent connections, before sending a byte.
    pub evicted_idle: u64,
    /// Evicted at the pending-handshake cap part way through the handshake.
    pub evicted_pending: u64,
    /// Refused at once: the node takes no silent connections at all.
    pub at_capacity: u64,
    /// Sent nothing within the first-bytes deadline.
    pub first_bytes_timeout: u64,
    /// Started but did not finish the handshake in time.
    pub handshake_timeout: u64,
    /// Broke the protocol before authenticating.
    pub protocol_violation: u64,
    /// Authenticated with a key that is not on the whitelist.
    pub not_whitelisted: u64,
    /// Authenticated, but the peer already had the most sessions allowed.
    pub busy: u64,
    /// Authenticated with a key this node blocked.
    pub blocked: u64,
}

impl From<RefusalCounts> for Refused {
    fn from(r: RefusalCounts) -> Self {
        Self {
            total: r.total(),
            evicted_idle: r.evicted_idle,
            evicted_pending: r.evicted_pending,
            at_capacity: r.at_capacity,
            first_bytes_timeout: r.first_bytes_timeout,
            handshake_timeout: r.handshake_timeout,
            protocol_violation: r.protocol_violation,
            not_whitelisted: r.not_whitelisted,
            busy: r.busy,
            blocked: r.blocked,
        }
    }
}

/// The event feed's ids and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedStatus {
    /// The oldest id this run can issue or has issued.
    pub first_id: u64,
    /// The latest id issued.
    pub last_id: u64,
    /// Events kept for resuming.
    pub kept: usize,
    /// Their JSON bytes.
    pub kept_bytes: usize,
}

impl From<FeedStats> for FeedStatus {
    fn from(stats: FeedStats) -> Self {
        Self {
            first_id: stats.base + 1,
            last_id: stats.head,
            kept: stats.kept,
            kept_bytes: stats.kept_bytes,
        }
    }
}

impl Service {
    /// What this node knows of each peer that is connected, configured with `--tcp-peer`, has
    /// messages waiting, or is in `extra`, in key order. Built from memory alone.
    pub(super) fn peer_statuses(
        &self,
        extra: impl IntoIterator<Item = PublicKey>,
    ) -> Vec<PeerStatus> {
        let inner = &self.0;
        let info = &inner.info;
        let queued = inner.queued.snapshot();
        let sessions = inner.peers.snapshot();
        let aliases = inner.aliases.snapshot();
        let links = inner.links.snapshot();
        let blocked = inner.flags.snapshot(crate::store::PeerFlag::Blocked);
        let muted = inner.flags.snapshot(crate::store::PeerFlag::Muted);
        let mut keys: Vec<PublicKey> = sessions.keys().copied().collect();
        keys.extend(blocked.iter().copied());
        keys.extend(muted.iter().copied());
        keys.extend(info.tcp_peers.iter().map(|p| p.pk));
        keys.extend(links.keys().copied());
        keys.extend(queued.keys().copied());
        keys.extend(extra);
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter()
            .map(|pk| {
                let live = sessions.get(&pk).map(Vec::as_slice).unwrap_or_default();
                // A --tcp-peer's address wins over a remembered one (the node dials it).
                let persistent = info
                    .tcp_peers
                    .iter()
                    .find(|p| p.pk == pk)
                    .map(|p| p.addr.clone())
                    .or_else(|| links.get(&pk).cloned());
                let mesh =
                    inner.visor.get().is_some() && pk.suite() == skychat_core::Suite::Skywire;
                let has_address = persistent.is_some() || mesh;
                let networks: Vec<&'static str> =
                    live.iter().map(|(_, n)| transport_name(*n)).collect();
                let transport = match (networks.first(), &persistent) {
                    (Some(first), _) => first,
                    (None, Some(_)) => "tcp-direct",
                    (None, None) if inner.visor.get().is_some() => "skynet",
                    (None, None) => "none",
                };
                PeerStatus {
                    pk: pk.to_hex(),
                    alias: aliases.get(&pk).cloned(),
                    state: if live.is_empty() {
                        "disconnected"
                    } else {
                        "connected"
                    },
                    transport,
                    networks,
                    sessions: live.len(),
                    inbound: live.iter().any(|(kind, _)| *kind == ConnKind::Inbound),
                    persistent: persistent.is_some(),
                    addr: persistent,
                    has_address,
                    reachable: !live.is_empty() || has_address,
                    queued: queued.get(&pk).copied().unwrap_or(0),
                    blocked: blocked.contains(&pk),
                    muted: muted.contains(&pk),
                }
            })
            .collect()
    }

    /// The `/status` document.
    pub async fn status(&self) -> NodeStatus {
        let inner = &self.0;
        let info = &inner.info;
        let peers = self.peer_statuses([]);
        let queued_total = peers.iter().map(|p| p.queued).sum();
        let refused = inner.node.refusals().await;
        let c = &inner.counters;
        let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        let uptime = inner.started.elapsed().as_secs();
        let pk = self.public_key().to_hex();
        let keys = inner.public_keys.get();
        let skywire_pk = keys.map(|k| k.skywire.to_hex());
        let visor = self.visor_status().map(VisorStatus::from);
        NodeStatus {
            // The Go skychat reports its visor's key here: under a visor, the visor's; alone,
            // the Skywire key of the same secret.
            visor_pk: visor
                .as_ref()
                .map(|v| v.visor_pk.clone())
                .or_else(|| skywire_pk.clone())
                .unwrap_or_else(|| pk.clone()),
            visor,
            native_pk: pk.clone(),
            public_key: pk,
            skywire_pk,
            dial: keys.zip(info.tcp_listen).map(|(k, listen)| Dial {
                native: k.native_dial(listen),
                skywire: k.skywire_dial(listen),
            }),
            mode: info.mode,
            http_addr: inner
                .http_addr
                .get()
                .or(info.http_addr.as_ref())
                .map(|a| a.to_string()),
            tcp_listen: info.tcp_listen.map(|a| a.to_string()),
            whitelist: info.whitelist.iter().map(|k| k.to_hex()).collect(),
            peers,
            active_peer_conns: inner.peers.connected_count(),
            counters: StatusCounters {
                incoming: load(&c.incoming),
                outgoing: load(&c.outgoing),
                acked: load(&c.acked),
                queued: queued_total,
                failed: load(&c.failed),
                dropped: load(&c.dropped),
                rejected: load(&c.rejected),
                deleted: load(&c.deleted),
            },
            post_quantum: PostQuantum {
                required: inner.require_pq.load(Ordering::Relaxed),
                downgrades: load(&c.downgrades),
                refused_classical: load(&c.pq_refused),
            },
            refused: refused.into(),
            inbound_msg_count: load(&c.incoming),
            outbound_msg_count: load(&c.outgoing),
            sse_subscribers: inner.subscribers.load(Ordering::Relaxed),
            event_feed: inner.feed.stats().into(),
            log_lines_dropped: crate::logging::dropped_lines(),
            persistence_enabled: true,
            pairing_enabled: inner.pairing.load(Ordering::Relaxed),
            frame_proto_version: 1,
            schema_version: "v1",
            uptime_sec: uptime,
            app_uptime_sec: uptime,
        }
    }
}

#[cfg(test)]
mod tests {
    use skychat_core::{NodeConfig, SecretKey};
    use skychat_driver::DriverConfig;

    use super::*;
    use crate::address::PeerSpec;
    use crate::service::storage::Storage;
    use crate::service::{NodeInfo, SendOutcome, ServiceError};
    use crate::store::{Store, StoreOptions};

    fn key(n: u16) -> PublicKey {
        let mut bytes = [7; 32];
        bytes[..2].copy_from_slice(&n.to_be_bytes());
        PublicKey::native(bytes)
    }

    fn service(dir: &std::path::Path, options: StoreOptions, tcp_peers: Vec<PeerSpec>) -> Service {
        let node = skychat_smol::start(DriverConfig {
            identity: SecretKey::from_bytes([31; 32]),
            node: NodeConfig::default(),
            seed: [6; 32],
            restore_outbox: Vec::new(),
            restore_dedup: Vec::new(),
            tcp_keepalive: None,
        });
        let store = Store::open(dir, options).expect("open the store");
        let info = NodeInfo {
            mode: Mode::Standalone,
            http_addr: None,
            tcp_listen: None,
            tcp_peers,
            whitelist: Vec::new(),
        };
        Service::new(node, Storage::start(store), info)
    }

    #[test]
    fn status_counts_every_peers_outbox_without_a_store_read_or_a_node_query_per_peer() {
        let dir = tempfile::tempdir().unwrap();
        let configured = PeerSpec {
            pk: key(9_999),
            addr: "127.0.0.1:9".into(),
        };
        let service = service(
            dir.path(),
            StoreOptions::default(),
            vec![configured.clone()],
        );
        let peers: Vec<PublicKey> = (0..300).map(key).collect();
        smol::block_on(async {
            smol::spawn(service.clone().run_committer()).detach();
            // Peer i gets i % 3 + 1 messages, all queued: nobody is connected.
            let sends: Vec<_> = peers
                .iter()
                .enumerate()
                .flat_map(|(i, peer)| std::iter::repeat_n(*peer, i % 3 + 1))
                .map(|peer| {
                    let service = service.clone();
                    smol::spawn(async move {
                        service.send(peer, "waiting".into(), None, None, None).await
                    })
                })
                .collect();
            for send in sends {
                assert!(matches!(send.await, Ok(SendOutcome::Queued { .. })));
            }

            let reads = service.0.storage.reads();
            let status = service.status().await;
            assert_eq!(service.0.storage.reads(), reads, "no store read");

            assert_eq!(status.peers.len(), peers.len() + 1, "{:?}", status.peers);
            for (i, peer) in peers.iter().enumerate() {
                let entry = status
                    .peers
                    .iter()
                    .find(|p| p.pk == peer.to_hex())
                    .expect("every peer with messages waiting is listed");
                assert_eq!(entry.queued, i as u64 % 3 + 1, "{entry:?}");
                let in_node = service.0.node.queued_for(*peer).await;
                assert_eq!(
                    entry.queued, in_node as u64,
                    "as the node counts: {entry:?}"
                );
                assert_eq!(entry.state, "disconnected");
                assert!(!entry.persistent);
            }
            let entry = status
                .peers
                .iter()
                .find(|p| p.pk == configured.pk.to_hex())
                .expect("the configured peer is listed");
            assert_eq!(
                (entry.queued, entry.persistent, entry.addr.as_deref()),
                (0, true, Some("127.0.0.1:9"))
            );
            assert_eq!(status.counters.queued, 100 + 200 + 300);
            assert_eq!(status.counters.outgoing, 600);
            assert_eq!(status.mode, Mode::Standalone);
            service.shutdown().await;
        });
    }

    #[test]
    fn messages_refused_by_a_full_store_are_not_counted_as_queued() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            max_db_bytes: Some(1),
            ..StoreOptions::default()
        };
        let service = service(dir.path(), options, Vec::new());
        let peer = key(1);
        smol::block_on(async {
            smol::spawn(service.clone().run_committer()).detach();
            let big = "b".repeat(60_000);
            let refused = service.send(peer, big, None, None, None).await;
            assert!(
                matches!(refused, Err(ServiceError::StorageFull(_))),
                "{refused:?}"
            );
            let status = service.status().await;
            assert_eq!(status.counters.queued, 0);
            assert!(status.peers.is_empty(), "{:?}", status.peers);
            assert_eq!(service.0.node.queued_for(peer).await, 0);
            service.shutdown().await;
        });
    }
}
