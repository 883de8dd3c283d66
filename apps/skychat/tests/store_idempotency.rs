//! The store's idempotency keys: the migration from schema 2 to 3 that adds them keeps what a
//! version-2 database holds, a key is found with its message, a key is unique, keys go with
//! their messages, and a message sent without a key has none.

use std::path::Path;

use rusqlite::Connection;
use skychat::store::schema::{MIGRATIONS, SCHEMA_VERSION};
use skychat::store::{Applied, RetentionPolicy, Status, Store, StoreOptions, WriteOp};
use skychat_core::{ChatMessage, MessageId, PublicKey};

fn peer(n: u8) -> PublicKey {
    PublicKey::native([n; 32])
}

fn message(stream: u64, seq: u64, body: &str) -> ChatMessage {
    ChatMessage {
        id: MessageId { stream, seq },
        sent_at_ms: 1_700_000_000_000 + seq,
        body: body.to_owned(),
        reply_to: None,
    }
}

fn open(dir: &Path) -> Store {
    Store::open(dir, StoreOptions::default()).expect("open store")
}

fn keyed(peer: PublicKey, message: ChatMessage, key: &str) -> WriteOp {
    WriteOp::OutgoingWithKey {
        peer,
        message,
        idempotency_key: key.to_owned(),
    }
}

/// A database exactly as schema version 2 wrote it, with one outgoing message in the outbox.
fn version_2_database(dir: &Path) {
    let old = Connection::open(dir.join("skychat.db")).expect("create the old database");
    old.pragma_update(None, "journal_mode", "WAL").unwrap();
    for migration in &MIGRATIONS[..2] {
        old.execute_batch(migration).unwrap();
    }
    old.pragma_update(None, "user_version", 2).unwrap();
    old.execute(
        "INSERT INTO messages
             (peer, msg_id, direction, body, sent_at_ms, stored_at_ms, status, in_outbox)
         VALUES (?1, ?2, 'out', 'written by version 2', 5, 5, 'queued', 1)",
        rusqlite::params![peer(1).to_hex(), MessageId { stream: 9, seq: 1 }.to_hex()],
    )
    .unwrap();
    old.execute(
        "INSERT INTO messages_fts (rowid, body) SELECT row_id, body FROM messages",
        [],
    )
    .unwrap();
}

#[test]
fn migration_from_version_2_keeps_the_outbox_and_adds_unique_keys() {
    let dir = tempfile::tempdir().unwrap();
    version_2_database(dir.path());

    let mut store = open(dir.path());
    assert_eq!(store.settings().unwrap().schema_version, SCHEMA_VERSION);
    let outbox = store.outbox().unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].1.body, "written by version 2");
    assert_eq!(
        store.search("version", 10).unwrap().len(),
        1,
        "the old row stays searchable"
    );

    let applied = store
        .write_batch(&[keyed(peer(1), message(10, 1, "with a key"), "key-1")])
        .unwrap();
    assert!(matches!(applied[0], Applied::Inserted(_)));
    let found = store
        .message_by_idempotency_key("key-1")
        .unwrap()
        .expect("the key finds its message");
    assert_eq!(found.peer, peer(1));
    assert_eq!(found.message, message(10, 1, "with a key"));
    assert_eq!(found.status, Status::Queued);
    assert!(found.in_outbox);
    assert!(store.message_by_idempotency_key("key-2").unwrap().is_none());

    // A key is unique: a second message with it fails, and its whole batch with it.
    let reuse = store.write_batch(&[
        WriteOp::Outgoing {
            peer: peer(2),
            message: message(10, 2, "without a key"),
        },
        keyed(peer(2), message(10, 3, "same key again"), "key-1"),
    ]);
    assert!(reuse.is_err(), "{reuse:?}");
    assert_eq!(
        store.outbox().unwrap().len(),
        2,
        "nothing of the batch stored"
    );

    // The key follows its message's state, and reopening keeps it.
    store.mark_acked(peer(1), message(10, 1, "").id, 7).unwrap();
    drop(store);
    let store = open(dir.path());
    let found = store.message_by_idempotency_key("key-1").unwrap().unwrap();
    assert_eq!(found.status, Status::Acked);
}

#[test]
fn a_key_goes_with_its_message_when_retention_deletes_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    store
        .write_batch(&[keyed(peer(3), message(1, 1, "short-lived"), "gone-soon")])
        .unwrap();
    store.mark_acked(peer(3), message(1, 1, "").id, 1).unwrap();
    store.set_retention(RetentionPolicy {
        max_per_peer: Some(0),
        ..RetentionPolicy::default()
    });
    store.enforce_retention(2).unwrap();
    assert!(
        store
            .message_by_idempotency_key("gone-soon")
            .unwrap()
            .is_none(),
        "the key was deleted with its message"
    );
    store
        .write_batch(&[keyed(peer(3), message(1, 2, "a new one"), "gone-soon")])
        .expect("the key is free again");
}
