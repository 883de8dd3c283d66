//! The send committer: the one task that turns send requests into accepted messages. It takes
//! every request waiting, answers idempotent retries from the store, queues the new messages in
//! the node *held* in one batch, persists them in one store transaction, and then either
//! publishes each message's `dm` event and releases the batch to the node, or, if the write
//! failed, withdraws the batch, so that a message is either accepted (stored, and it will be
//! delivered) or refused (never sent). One batch at a time: a withdrawal never takes back a
//! message of another batch, and every `dm` event precedes the peer's ack of that message.

use std::collections::HashMap;

use skychat_core::{ChatMessage, CommandError, MessageId, PublicKey};
use skychat_driver::Draft;

use super::{Service, ServiceError, stored_out};
use crate::store::{Applied, StoredMessage, WriteOp};

/// Requests committed together at most.
const MAX_BATCH: usize = 1024;

/// One `POST /message` (or other send) waiting for the committer.
pub struct SendRequest {
    /// The recipient.
    pub recipient: PublicKey,
    /// The text.
    pub body: String,
    /// The message it answers.
    pub reply_to: Option<MessageId>,
    /// The client's idempotency key, already validated.
    pub idempotency_key: Option<String>,
    /// Where the answer goes.
    pub reply: async_channel::Sender<Result<Accepted, ServiceError>>,
}

/// A request the committer accepted.
#[derive(Debug, Clone)]
pub enum Accepted {
    /// A new message, stored and released to the node.
    New(ChatMessage),
    /// A retry with a key already used for this same message: the message as it stands.
    Existing(StoredMessage),
}

impl SendRequest {
    fn same_message(&self, peer: PublicKey, message: &ChatMessage) -> bool {
        self.recipient == peer && self.body == message.body && self.reply_to == message.reply_to
    }

    /// The answer to a retry with this request's key, which was used for `stored`.
    fn replay(&self, stored: &StoredMessage) -> Result<Accepted, ServiceError> {
        if self.same_message(stored.peer, &stored.message) {
            Ok(Accepted::Existing(stored.clone()))
        } else {
            Err(ServiceError::Conflict(format!(
                "idempotency key {:?} was already used for message {} with another recipient, \
                 body or reply_to; use a new key for a new message",
                self.idempotency_key.as_deref().unwrap_or_default(),
                stored.message.id
            )))
        }
    }

    fn answer(&self, result: Result<Accepted, ServiceError>) {
        let _ = self.reply.try_send(result);
    }
}

impl Service {
    /// Runs the send committer until the service's send queue closes. Spawn it once, alongside
    /// [`Service::run_events`]; without it no send is answered.
    pub async fn run_committer(self) {
        let Some(queue) = self.0.send_queue.lock().expect("send queue lock").take() else {
            return;
        };
        while let Ok(first) = queue.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.commit(batch).await;
        }
    }

    async fn commit(&self, batch: Vec<SendRequest>) {
        let known = match self.stored_keys(&batch).await {
            Ok(known) => known,
            Err(error) => {
                for request in &batch {
                    request.answer(Err(error.clone()));
                }
                return;
            }
        };
        // A key seen earlier in this batch: the request that brought it first leads.
        let mut leaders: HashMap<&str, usize> = HashMap::new();
        let mut new = Vec::new();
        let mut followers = Vec::new();
        for request in &batch {
            match request.idempotency_key.as_deref() {
                Some(key) if known.contains_key(key) => request.answer(request.replay(&known[key])),
                Some(key) if leaders.contains_key(key) => followers.push((request, leaders[key])),
                Some(key) => {
                    leaders.insert(key, new.len());
                    new.push(request);
                }
                None => new.push(request),
            }
        }
        let results = self.commit_new(&new).await;
        for (request, result) in new.iter().zip(&results) {
            request.answer(result.clone());
        }
        for (request, leader) in followers {
            let result = match &results[leader] {
                Ok(Accepted::New(message)) => {
                    request.replay(&stored_out(new[leader].recipient, message))
                }
                other => other.clone(),
            };
            request.answer(result);
        }
    }

    /// The stored messages of the batch's keys that are already in use.
    async fn stored_keys(
        &self,
        batch: &[SendRequest],
    ) -> Result<HashMap<String, StoredMessage>, ServiceError> {
        let keys: Vec<String> = batch
            .iter()
            .filter_map(|r| r.idempotency_key.clone())
            .collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let found = self
            .0
            .storage
            .read(move |store| {
                let mut found = HashMap::new();
                for key in keys {
                    if let Some(stored) = store.message_by_idempotency_key(&key)? {
                        found.insert(key, stored);
                    }
                }
                Ok::<_, crate::store::StoreError>(found)
            })
            .await??;
        Ok(found)
    }

    /// Holds, persists and releases (or withdraws) the new messages; one result per request.
    async fn commit_new(&self, new: &[&SendRequest]) -> Vec<Result<Accepted, ServiceError>> {
        if new.is_empty() {
            return Vec::new();
        }
        let drafts = new
            .iter()
            .map(|r| Draft {
                peer: r.recipient,
                body: r.body.clone(),
                reply_to: r.reply_to,
            })
            .collect();
        let held = self.0.node.hold(drafts).await;
        // Counted before the release, so that no ack of them can be seen first.
        for (request, outcome) in new.iter().zip(&held) {
            if outcome.is_ok() {
                self.0.queued.add(request.recipient, 1);
            }
        }
        let mut results: Vec<Result<Accepted, ServiceError>> = Vec::with_capacity(new.len());
        let mut ops = Vec::new();
        let mut accepted: Vec<(usize, PublicKey, ChatMessage)> = Vec::new();
        for (index, (request, outcome)) in new.iter().zip(held).enumerate() {
            match outcome {
                Ok(message) => {
                    let peer = request.recipient;
                    ops.push(match &request.idempotency_key {
                        Some(key) => WriteOp::OutgoingWithKey {
                            peer,
                            message: message.clone(),
                            idempotency_key: key.clone(),
                        },
                        None => WriteOp::Outgoing {
                            peer,
                            message: message.clone(),
                        },
                    });
                    results.push(Ok(Accepted::New(message.clone())));
                    accepted.push((index, peer, message));
                }
                Err(error) => results.push(Err(refused(error))),
            }
        }
        if accepted.is_empty() {
            return results;
        }
        let ids: Vec<(PublicKey, MessageId)> = accepted
            .iter()
            .map(|(_, peer, message)| (*peer, message.id))
            .collect();
        let counters = &self.0.counters;
        match self.0.storage.write_all(ops).await {
            Ok(applied) => {
                counters
                    .outgoing
                    .fetch_add(accepted.len() as u64, std::sync::atomic::Ordering::Relaxed);
                // The `dm` events go out before the node may send the messages, so that no
                // subscriber sees an ack before the message it acknowledges.
                for ((_, peer, message), applied) in accepted.iter().zip(applied) {
                    let mut stored = stored_out(*peer, message);
                    stored.row = applied_row(applied);
                    self.publish_message(&stored);
                }
                self.0.node.release(ids).await;
            }
            Err(error) => {
                for (peer, _) in &ids {
                    self.0.queued.remove(*peer, 1);
                }
                self.0.node.withdraw(ids).await;
                counters
                    .failed
                    .fetch_add(accepted.len() as u64, std::sync::atomic::Ordering::Relaxed);
                let error = not_accepted(ServiceError::from(error));
                for (index, _, _) in accepted {
                    results[index] = Err(error.clone());
                }
            }
        }
        results
    }
}

fn applied_row(applied: Applied) -> i64 {
    applied.row().unwrap_or_default()
}

/// A send the node refused outright.
fn refused(error: CommandError) -> ServiceError {
    match error {
        CommandError::BodyTooLarge { .. } => ServiceError::TooLarge(error.to_string()),
        CommandError::OutboxFull => ServiceError::Unavailable(error.to_string()),
        other => ServiceError::BadRequest(other.to_string()),
    }
}

/// Says plainly, on a failed write, that the message was dropped and a retry is safe.
fn not_accepted(error: ServiceError) -> ServiceError {
    const NOTE: &str = "; the message was NOT accepted: it was not stored and will not be sent, \
                        so it is safe to retry";
    match error {
        ServiceError::StorageFull(_)
        | ServiceError::StorageUnavailable(_)
        | ServiceError::Unavailable(_) => error.with_note(NOTE),
        ServiceError::BadRequest(text) | ServiceError::Internal(text) => {
            ServiceError::Internal(format!("{text}{NOTE}"))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use skychat_core::{NodeConfig, SecretKey};
    use skychat_driver::DriverConfig;

    use super::*;
    use crate::service::NodeInfo;
    use crate::service::storage::Storage;
    use crate::store::{Status, Store, StoreOptions};

    fn service(dir: &std::path::Path) -> Service {
        service_with(dir, StoreOptions::default())
    }

    fn service_with(dir: &std::path::Path, options: StoreOptions) -> Service {
        let node = skychat_smol::start(DriverConfig {
            identity: SecretKey::from_bytes([21; 32]),
            node: NodeConfig::default(),
            seed: [5; 32],
            restore_outbox: Vec::new(),
            restore_dedup: Vec::new(),
            tcp_keepalive: None,
        });
        let store = Store::open(dir, options).expect("open the store");
        let info = NodeInfo {
            mode: crate::service::Mode::Standalone,
            http_addr: None,
            tcp_listen: None,
            tcp_peers: Vec::new(),
            whitelist: Vec::new(),
        };
        Service::new(node, Storage::start(store), info)
    }

    fn request(
        peer: PublicKey,
        body: &str,
        key: Option<&str>,
    ) -> (
        SendRequest,
        async_channel::Receiver<Result<Accepted, ServiceError>>,
    ) {
        let (reply, answer) = async_channel::bounded(1);
        let request = SendRequest {
            recipient: peer,
            body: body.into(),
            reply_to: None,
            idempotency_key: key.map(String::from),
            reply,
        };
        (request, answer)
    }

    fn new_message(
        answer: &async_channel::Receiver<Result<Accepted, ServiceError>>,
    ) -> ChatMessage {
        match answer.try_recv().expect("answered") {
            Ok(Accepted::New(message)) => message,
            other => panic!("expected a new message, got {other:?}"),
        }
    }

    #[test]
    fn one_batch_with_a_key_repeated_sends_one_message_and_refuses_a_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path());
        let peer = PublicKey::native([7; 32]);
        smol::block_on(async {
            let (first, first_answer) = request(peer, "hello", Some("k1"));
            let (same, same_answer) = request(peer, "hello", Some("k1"));
            let (other, other_answer) = request(peer, "different", Some("k1"));
            let (plain, plain_answer) = request(peer, "no key", None);
            service.commit(vec![first, same, other, plain]).await;

            let message = new_message(&first_answer);
            match same_answer.try_recv().expect("answered") {
                Ok(Accepted::Existing(stored)) => {
                    assert_eq!(stored.message.id, message.id);
                    assert_eq!(stored.status, Status::Queued);
                }
                other => panic!("expected the first message, got {other:?}"),
            }
            match other_answer.try_recv().expect("answered") {
                Err(ServiceError::Conflict(text)) => assert!(text.contains("k1"), "{text}"),
                other => panic!("expected a conflict, got {other:?}"),
            }
            let plain = new_message(&plain_answer);
            assert_eq!(plain.id.seq, message.id.seq + 1);
            assert_eq!(service.0.node.queued_for(peer).await, 2);

            // A later batch finds the key in the store.
            let (retry, retry_answer) = request(peer, "hello", Some("k1"));
            service.commit(vec![retry]).await;
            match retry_answer.try_recv().expect("answered") {
                Ok(Accepted::Existing(stored)) => assert_eq!(stored.message.id, message.id),
                other => panic!("expected the first message, got {other:?}"),
            }
            assert_eq!(service.0.node.queued_for(peer).await, 2);
            service.shutdown().await;
        });
    }

    #[test]
    fn a_failed_write_withdraws_the_whole_batch_and_gives_its_ids_back() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            max_db_bytes: Some(1),
            ..StoreOptions::default()
        };
        let service = service_with(dir.path(), options);
        let peer = PublicKey::native([8; 32]);
        smol::block_on(async {
            let big = "b".repeat(60_000);
            let (first, first_answer) = request(peer, &big, Some("full-1"));
            let (second, second_answer) = request(peer, &big, None);
            service.commit(vec![first, second]).await;
            for answer in [first_answer, second_answer] {
                match answer.try_recv().expect("answered") {
                    Err(ServiceError::StorageFull(text)) => {
                        assert!(text.contains("NOT accepted"), "{text}");
                    }
                    other => panic!("expected a full store, got {other:?}"),
                }
            }
            assert_eq!(service.0.node.queued_for(peer).await, 0);

            // Room again: the next message takes the first withdrawn id, and the key is unused.
            service
                .0
                .storage
                .read(|store| store.set_max_db_bytes(None))
                .await
                .unwrap()
                .unwrap();
            let (retry, retry_answer) = request(peer, "small", Some("full-1"));
            service.commit(vec![retry]).await;
            let message = new_message(&retry_answer);
            assert_eq!(message.id.seq, 1);
            assert_eq!(service.0.node.queued_for(peer).await, 1);
            service.shutdown().await;
        });
    }
}
