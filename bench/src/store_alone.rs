//! Scenario 2's store-alone baseline: the writes the two apps' stores make for each message, and
//! nothing else. The sender's store records each message as it is accepted, the receiver's store
//! records it as received (with its dedup mark and full-text index entry), and the sender's store
//! records its ack, all through [`Store::write_batch`] in batches like the app's, each store on a
//! thread of its own as in the app. No nodes, network, async runtime or service. Its rate bounds
//! what the app can reach on the same machine.

use std::sync::mpsc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use skychat::store::{Store, StoreOptions, WriteOp};
use skychat_core::Network;
use skychat_core::{ChatMessage, MessageId, PublicKey};

/// Two stores in temporary directories, kept across rounds (the app's stores grow the same way).
pub struct StorePair {
    sender: Store,
    receiver: Store,
    sender_key: PublicKey,
    receiver_key: PublicKey,
    /// The next sequence of the sender's stream.
    next_seq: u64,
    _dirs: [tempfile::TempDir; 2],
}

impl StorePair {
    /// Opens two fresh stores with the app's default options.
    pub fn open() -> Self {
        let sender_dir = tempfile::tempdir().expect("temp dir");
        let receiver_dir = tempfile::tempdir().expect("temp dir");
        let open = |dir: &tempfile::TempDir| {
            Store::open(dir.path(), StoreOptions::default()).expect("open store")
        };
        Self {
            sender: open(&sender_dir),
            receiver: open(&receiver_dir),
            sender_key: PublicKey::native([0x5e; 32]),
            receiver_key: PublicKey::native([0x7e; 32]),
            next_seq: 1,
            _dirs: [sender_dir, receiver_dir],
        }
    }

    /// Stores `count` messages of `body_len` bytes through both stores, at most `window` of them
    /// accepted and not yet acked, accepted `batch` at a time; returns messages acked per second.
    pub fn rate(&mut self, count: usize, batch: usize, window: usize, body_len: usize) -> f64 {
        let body = "x".repeat(body_len);
        let first = self.next_seq;
        self.next_seq += count as u64;
        let (to_receiver, received) = mpsc::channel::<Vec<ChatMessage>>();
        let (to_sender, stored) = mpsc::channel::<Vec<MessageId>>();
        let (sender_key, receiver_key) = (self.sender_key, self.receiver_key);
        let receiver = &mut self.receiver;
        let sender = &mut self.sender;
        let started = Instant::now();
        std::thread::scope(|scope| {
            scope.spawn(move || {
                // The receiving app: every batch waiting becomes one transaction.
                while let Ok(mut messages) = received.recv() {
                    while let Ok(more) = received.try_recv() {
                        messages.extend(more);
                    }
                    let at = now_ms();
                    let ops: Vec<WriteOp> = messages
                        .into_iter()
                        .map(|message| WriteOp::Incoming {
                            peer: sender_key,
                            message,
                            received_at_ms: at,
                            network: Some(Network::Tcp),
                        })
                        .collect();
                    store(receiver, &ops);
                    let ids = ops.iter().map(incoming_id).collect();
                    if to_sender.send(ids).is_err() {
                        return;
                    }
                }
            });
            // The sending app: accepts while the window has room, then records acks as they
            // come back (every batch waiting in one transaction).
            let mut seq = first;
            let end = first + count as u64;
            let mut unacked = 0;
            while seq < end || unacked > 0 {
                while seq < end && unacked + batch <= window.max(batch) {
                    let n = batch.min((end - seq) as usize);
                    let at = now_ms();
                    let messages: Vec<ChatMessage> = (seq..seq + n as u64)
                        .map(|seq| ChatMessage {
                            id: MessageId { stream: 1, seq },
                            sent_at_ms: at,
                            body: body.clone(),
                            reply_to: None,
                        })
                        .collect();
                    let ops: Vec<WriteOp> = messages
                        .iter()
                        .map(|message| WriteOp::Outgoing {
                            peer: receiver_key,
                            message: message.clone(),
                        })
                        .collect();
                    store(sender, &ops);
                    to_receiver.send(messages).expect("receiver thread");
                    seq += n as u64;
                    unacked += n;
                }
                let mut ids = stored.recv().expect("receiver thread");
                while let Ok(more) = stored.try_recv() {
                    ids.extend(more);
                }
                let at = now_ms();
                let acks: Vec<WriteOp> = ids
                    .iter()
                    .map(|&id| WriteOp::Acked {
                        peer: receiver_key,
                        id,
                        at_ms: at,
                        network: Some(Network::Tcp),
                    })
                    .collect();
                store(sender, &acks);
                unacked -= ids.len();
            }
            drop(to_receiver);
        });
        count as f64 / started.elapsed().as_secs_f64()
    }
}

fn store(store: &mut Store, ops: &[WriteOp]) {
    let applied = store.write_batch(ops).expect("store write");
    assert!(
        applied.iter().all(|a| a.changed()),
        "a write of the store-alone baseline changed nothing"
    );
}

fn incoming_id(op: &WriteOp) -> MessageId {
    match op {
        WriteOp::Incoming { message, .. } => message.id,
        other => unreachable!("only incoming writes here: {other:?}"),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
