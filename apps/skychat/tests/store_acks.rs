//! Acks written in batches: each ack updates its message by the row id the store keeps for the
//! outbox, and gets its own result whatever the batch holds (repeats, unknown ids, messages acked
//! or read before, another peer's ids, messages stored in the same batch) and however long it is;
//! the rows kept follow only what committed.

use std::path::Path;

use skychat::store::{Applied, Direction, Status, Store, StoreOptions, WriteOp};
use skychat_core::{ChatMessage, MessageId, Network, PublicKey};

fn peer(n: u8) -> PublicKey {
    PublicKey::native([n; 32])
}

fn message(stream: u64, seq: u64) -> ChatMessage {
    ChatMessage {
        id: MessageId { stream, seq },
        sent_at_ms: 1_700_000_000_000 + seq,
        body: format!("message {seq}"),
        reply_to: None,
    }
}

fn open(dir: &Path) -> Store {
    Store::open(dir, StoreOptions::default()).expect("open store")
}

fn acked(peer: PublicKey, id: MessageId, at_ms: u64) -> WriteOp {
    WriteOp::Acked {
        peer,
        id,
        at_ms,
        network: None,
    }
}

#[test]
fn a_run_of_acks_reports_each_ack_as_one_by_one_would() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let (alice, bob) = (peer(1), peer(2));
    let rows: Vec<i64> = (1..=4)
        .map(|seq| store.record_outgoing(alice, &message(5, seq)).unwrap())
        .collect();
    let bob_row = store.record_outgoing(bob, &message(5, 1)).unwrap();
    store.mark_read(alice, message(5, 4).id, 50).unwrap();
    store.mark_acked(alice, message(5, 3).id, 60).unwrap();

    let id = |seq| MessageId { stream: 5, seq };
    let applied = store
        .write_batch(&[
            acked(alice, id(1), 100),
            acked(alice, id(1), 100),
            acked(alice, id(9), 100),
            acked(alice, id(3), 100),
            acked(alice, id(4), 100),
            acked(alice, id(2), 100),
            acked(bob, id(1), 100),
            acked(peer(3), id(1), 100),
        ])
        .unwrap();
    assert_eq!(
        applied,
        [
            Applied::Updated(rows[0]),
            Applied::Unchanged,
            Applied::Unchanged,
            Applied::Unchanged,
            Applied::Unchanged,
            Applied::Updated(rows[1]),
            Applied::Updated(bob_row),
            Applied::Unchanged,
        ]
    );
    let state = |seq| {
        let m = store
            .message(alice, Direction::Out, id(seq))
            .unwrap()
            .unwrap();
        (m.status, m.acked_at_ms, m.in_outbox)
    };
    assert_eq!(state(1), (Status::Acked, Some(100), false));
    assert_eq!(state(2), (Status::Acked, Some(100), false));
    assert_eq!(state(3), (Status::Acked, Some(60), false), "acked before");
    assert_eq!(state(4), (Status::Read, Some(50), false), "read before");
    assert!(store.outbox().unwrap().is_empty());
}

#[test]
fn long_runs_of_acks_of_every_length_ack_exactly_their_messages() {
    // Batches of every size the app writes, one ack or hundreds.
    for count in [1u64, 3, 17, 255, 256, 257, 600] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        let alice = peer(1);
        let sent: Vec<WriteOp> = (1..=count + 2)
            .map(|seq| WriteOp::Outgoing {
                peer: alice,
                message: message(8, seq),
            })
            .collect();
        let rows: Vec<i64> = store
            .write_batch(&sent)
            .unwrap()
            .iter()
            .map(|a| a.row().unwrap())
            .collect();
        let acks: Vec<WriteOp> = (1..=count)
            .map(|seq| acked(alice, MessageId { stream: 8, seq }, 7))
            .collect();
        let applied = store.write_batch(&acks).unwrap();
        let expected: Vec<Applied> = rows[..count as usize]
            .iter()
            .map(|&row| Applied::Updated(row))
            .collect();
        assert_eq!(applied, expected, "a run of {count}");
        let left: Vec<u64> = store
            .outbox()
            .unwrap()
            .iter()
            .map(|(_, m)| m.id.seq)
            .collect();
        assert_eq!(left, [count + 1, count + 2], "a run of {count}");
        assert_eq!(store.counts().unwrap().acked, count);
    }
}

#[test]
fn an_ack_finds_only_messages_whose_batch_committed() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let alice = peer(1);
    let keyed = |seq, key: &str| WriteOp::OutgoingWithKey {
        peer: alice,
        message: message(5, seq),
        idempotency_key: key.into(),
    };
    store.write_batch(&[keyed(1, "k")]).unwrap();
    // Rolled back as a whole (the key is taken): message 2's row id is given back.
    let failed = store.write_batch(&[
        WriteOp::Outgoing {
            peer: alice,
            message: message(5, 2),
        },
        keyed(3, "k"),
    ]);
    assert!(failed.is_err());
    // Message 4 takes that row id; an ack of message 2 must not touch it.
    let row = store.record_outgoing(alice, &message(5, 4)).unwrap();
    assert_eq!(
        store
            .write_batch(&[
                acked(alice, message(5, 2).id, 10),
                WriteOp::Outgoing {
                    peer: alice,
                    message: message(5, 5),
                },
                acked(alice, message(5, 5).id, 11),
                acked(alice, message(5, 5).id, 12),
            ])
            .unwrap()[..],
        [
            Applied::Unchanged,
            Applied::Inserted(row + 1),
            Applied::Updated(row + 1),
            Applied::Unchanged,
        ]
    );
    let status = |store: &Store, seq| {
        store
            .message(alice, Direction::Out, message(5, seq).id)
            .unwrap()
            .unwrap()
            .status
    };
    assert_eq!(status(&store, 4), Status::Queued);
    assert_eq!(status(&store, 5), Status::Acked);
    assert_eq!(store.outbox().unwrap().len(), 2);

    // Read receipts take messages out of the outbox too: a later ack changes nothing.
    assert!(store.mark_read(alice, message(5, 4).id, 20).unwrap());
    assert!(!store.mark_acked(alice, message(5, 4).id, 21).unwrap());
    assert_eq!(status(&store, 4), Status::Read);
}

#[test]
fn each_message_keeps_the_network_it_went_over() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let peer: PublicKey = skychat_core::SecretKey::from_bytes([5; 32])
        .skywire_public_key()
        .unwrap();
    let message = |seq: u64, body: &str| ChatMessage {
        id: MessageId { stream: 9, seq },
        sent_at_ms: seq,
        body: body.into(),
        reply_to: None,
    };
    store
        .write_batch(&[
            WriteOp::Outgoing {
                peer,
                message: message(1, "out"),
            },
            WriteOp::Incoming {
                peer,
                message: message(2, "in"),
                received_at_ms: 2,
                network: Some(Network::Dmsg),
            },
        ])
        .unwrap();
    let network_of = |store: &Store, body: &str| {
        let all = store.history(None, 10, None).unwrap();
        all.into_iter()
            .find(|m| m.message.body == body)
            .unwrap()
            .network
    };
    assert_eq!(network_of(&store, "in"), Some(Network::Dmsg));
    assert_eq!(network_of(&store, "out"), None, "not gone yet");
    store
        .write_batch(&[WriteOp::Acked {
            peer,
            id: MessageId { stream: 9, seq: 1 },
            at_ms: 3,
            network: Some(Network::Skynet),
        }])
        .unwrap();
    assert_eq!(network_of(&store, "out"), Some(Network::Skynet));
}
