//! The node-event loop: one task that takes the node's events and the store's results of the
//! writes they caused, in batches.
//!
//! Each turn it waits for either, then takes every store result already there (in order) and
//! every node event already queued (up to [`MAX_EVENTS`]). For the results: one
//! `confirm_stored_many` for every received message the store committed (the node acks them only
//! now), then, in order, each stored message's `dm` event, each deletion's status event, and
//! `storage_failed` for each message that could not be stored. For the events: the writes they
//! call for (received messages, acks, read receipts, deletions) go to the store as one
//! submission, and only then are the events themselves handled in order (sessions, counters,
//! the feed, ack waiters), so that whoever is woken by an ack and then reads the store finds the
//! ack there.
//!
//! At most [`MAX_IN_FLIGHT`] submissions wait for the store; beyond that the loop takes no more
//! events until one commits, so that a slow disk makes batches larger rather than queues longer.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use serde_json::json;
use skychat_core::{
    CloseReason, Event, HandshakeError, MessageId, PublicKey, SessionError, SkywireError,
};

use super::storage::{Completion, Submitted, now_ms};
use super::{Service, status_label, transport_name};
use crate::store::{Applied, Direction, Status, StoreError, StoredMessage, WriteOp};

/// Node events taken in one turn at most.
pub const MAX_EVENTS: usize = 1024;

/// Store submissions waiting for their commit at most: one committing, the next queued behind it.
pub const MAX_IN_FLIGHT: usize = 2;

/// The `status` event of an ack, its fields in the order of their names (as the JSON of a
/// [`serde_json::Value`] has them).
#[derive(serde::Serialize)]
struct AckedEvent {
    channel: &'static str,
    id: String,
    /// The network of the session the ack came over.
    network: Option<&'static str>,
    peer: String,
    status: &'static str,
}

/// What the loop woke up for.
enum Woke {
    Event(Event),
    EventsEnded,
    Committed(Option<Vec<Completion>>),
}

impl Service {
    /// Runs the node-event loop until the node's events end and every write they caused is
    /// committed: stores incoming messages (the node acks them after the commit), records acks,
    /// receipts and deletions, tracks sessions, and feeds live subscribers. Spawn it once.
    pub async fn run_events(self) {
        let events = self.0.node.events();
        let mut in_flight: VecDeque<Submitted> = VecDeque::new();
        let mut events_open = true;
        loop {
            let take_events = events_open && in_flight.len() < MAX_IN_FLIGHT;
            let next_event = async {
                match events.recv().await {
                    Ok(event) => Woke::Event(event),
                    Err(_) => Woke::EventsEnded,
                }
            };
            let woke = match (take_events, in_flight.front()) {
                (false, None) => break,
                (true, None) => next_event.await,
                (false, Some(done)) => Woke::Committed(done.recv().await.ok()),
                (true, Some(done)) => {
                    futures_lite::future::or(
                        async { Woke::Committed(done.recv().await.ok()) },
                        next_event,
                    )
                    .await
                }
            };
            let mut batch = Vec::new();
            let mut committed = Vec::new();
            match woke {
                Woke::Event(event) => batch.push(event),
                Woke::EventsEnded => events_open = false,
                Woke::Committed(results) => {
                    in_flight.pop_front();
                    committed.push(results);
                }
            }
            while let Some(done) = in_flight.front() {
                match done.try_recv() {
                    Ok(results) => committed.push(Some(results)),
                    Err(async_channel::TryRecvError::Closed) => committed.push(None),
                    Err(async_channel::TryRecvError::Empty) => break,
                }
                in_flight.pop_front();
            }
            if !committed.is_empty() {
                self.on_committed(committed).await;
            }
            if events_open && in_flight.len() < MAX_IN_FLIGHT {
                let room = MAX_EVENTS.saturating_sub(batch.len());
                if events.try_recv_many(&mut batch, room).is_err() {
                    events_open = false;
                }
            }
            if let Some(submitted) = self.on_events(batch) {
                in_flight.push_back(submitted);
            }
        }
    }

    /// Submits the writes `batch` calls for, then handles its events in order. Returns the
    /// submission, if there were writes.
    fn on_events(&self, batch: Vec<Event>) -> Option<Submitted> {
        let at_ms = now_ms();
        let mut writes = Vec::new();
        let mut rest = Vec::with_capacity(batch.len());
        for event in batch {
            match event {
                Event::Authenticated {
                    conn,
                    peer,
                    kind,
                    network,
                    ..
                } => {
                    // Recorded at once: a message later in this batch may have come over it.
                    self.0.peers.up(peer, conn, kind, network);
                    rest.push(event);
                }
                Event::MessageReceived {
                    conn,
                    peer,
                    mut message,
                } => {
                    // The Skywire wire carries no send time (the core gives 0): the receive
                    // time stands in for it.
                    if message.sent_at_ms == 0 {
                        message.sent_at_ms = at_ms;
                    }
                    writes.push(WriteOp::Incoming {
                        peer,
                        message,
                        received_at_ms: at_ms,
                        network: self.0.peers.network_of_conn(&peer, conn),
                    });
                }
                Event::MessageAcked { peer, id, .. } => {
                    writes.push(WriteOp::Acked {
                        peer,
                        id,
                        at_ms,
                        network: self.0.peers.network_of(&peer),
                    });
                    rest.push(event);
                }
                Event::ReadReceipt { peer, id } => {
                    writes.push(WriteOp::ReadByPeer { peer, id, at_ms });
                    rest.push(event);
                }
                Event::MessageDeleted { peer, id } => {
                    writes.push(WriteOp::DeletedByPeer { peer, id, at_ms });
                }
                other => rest.push(other),
            }
        }
        let submitted = (!writes.is_empty()).then(|| self.0.storage.submit(writes));
        for event in rest {
            self.on_event(event);
        }
        submitted
    }

    /// What an event does here, once its writes (if any) are submitted.
    fn on_event(&self, event: Event) {
        let inner = &self.0;
        match event {
            // Recorded in the peer table already, by `on_events`.
            Event::Authenticated {
                peer,
                kind,
                network,
                ..
            } => {
                log::info!("session with {} up ({kind:?}, {network})", peer.short());
                inner.feed.publish(
                    "peer",
                    json!({"peer": peer.to_hex(), "state": "connected", "network": transport_name(network)}),
                );
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
                let network = inner.peers.network_of(&peer).map(transport_name);
                inner.feed.publish(
                    "peer",
                    json!({"peer": peer.to_hex(), "state": state, "network": network}),
                );
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
            Event::MessageAcked { peer, id, .. } => {
                inner.counters.acked.fetch_add(1, Ordering::Relaxed);
                inner.queued.remove(peer, 1);
                inner.acks.acked(id);
                let acked = AckedEvent {
                    channel: "dm-status",
                    id: id.to_hex(),
                    network: inner.peers.network_of(&peer).map(transport_name),
                    peer: peer.to_hex(),
                    status: status_label(&peer, Status::Acked),
                };
                inner
                    .feed
                    .publish_text("status", super::feed::json_text(&acked));
            }
            Event::ReadReceipt { peer, id } => {
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
            _ => {}
        }
    }

    /// Submissions committed, in order (`None`: the store stopped before that one did). First
    /// the node learns, in one command, every received message that is now stored, so that it
    /// acks them; then, in order, each stored message's `dm` event, each deletion's status event
    /// and each message that could not be stored.
    async fn on_committed(&self, submissions: Vec<Option<Vec<Completion>>>) {
        let mut results = Vec::new();
        for submission in submissions {
            match submission {
                Some(completions) => results.extend(completions),
                None => {
                    log::warn!("the store stopped before committing the last writes of node events")
                }
            }
        }
        let stored: Vec<(PublicKey, MessageId)> = results
            .iter()
            .filter_map(|(op, result)| match (op, result) {
                (WriteOp::Incoming { peer, message, .. }, Ok(_)) => Some((*peer, message.id)),
                _ => None,
            })
            .collect();
        self.0.node.confirm_stored_many(stored).await;
        for (op, result) in results {
            match op {
                WriteOp::Incoming {
                    peer,
                    message,
                    received_at_ms,
                    network,
                } => match result {
                    Ok(Applied::Inserted(row)) => {
                        self.0.counters.incoming.fetch_add(1, Ordering::Relaxed);
                        self.publish_message(&StoredMessage {
                            row,
                            peer,
                            direction: Direction::In,
                            message,
                            stored_at_ms: received_at_ms,
                            status: Status::Received,
                            acked_at_ms: None,
                            read_at_ms: None,
                            in_outbox: false,
                            deleted_at_ms: None,
                            network,
                        });
                    }
                    // Stored before (a Skywire peer's message handed over again): confirmed
                    // above, shown once.
                    Ok(_) => {}
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
                },
                WriteOp::DeletedByPeer { peer, id, at_ms } => {
                    self.on_deleted(peer, id, at_ms, result)
                }
                _ => {
                    if let Err(e) = result {
                        log::error!("store update failed: {e}");
                    }
                }
            }
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_event_reads_as_the_json_object_it_replaces() {
        let acked = AckedEvent {
            channel: "dm-status",
            id: "0102".into(),
            network: Some("skynet"),
            peer: "abcd".into(),
            status: "delivered",
        };
        assert_eq!(
            serde_json::to_string(&acked).unwrap(),
            json!({"channel": "dm-status", "id": "0102", "network": "skynet", "status": "delivered", "peer": "abcd"})
                .to_string()
        );
    }
}
