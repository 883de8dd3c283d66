//! The store's record of a peer deleting a message it sent (a Go skychat's `chat-delete`): the
//! migration to schema 4 keeps a version-3 database's messages, a deletion empties the body, takes
//! it out of the full-text index and keeps the row with its time, only the sender's incoming
//! message matches, and a message inserted and deleted in one batch leaves the index intact.
//! Also: Skywire-suite peers' messages leave no per-stream dedup marks.

use std::path::Path;

use rusqlite::Connection;
use skychat::store::schema::{MIGRATIONS, SCHEMA_VERSION};
use skychat::store::{Applied, Direction, Store, StoreOptions, WriteOp};
use skychat_core::{ChatMessage, MessageId, PublicKey, SecretKey};

fn native_peer(n: u8) -> PublicKey {
    PublicKey::native([n; 32])
}

fn skywire_peer(n: u8) -> PublicKey {
    SecretKey::from_bytes([n; 32])
        .skywire_public_key()
        .expect("a valid secp256k1 secret")
}

/// A Go skychat id: 16 hex, stream 0.
fn go_id(n: u64) -> MessageId {
    format!("{:016x}", 0x18ed_0000_0000_0000 + n)
        .parse()
        .expect("16 hex")
}

fn message(id: MessageId, body: &str, reply_to: Option<MessageId>) -> ChatMessage {
    ChatMessage {
        id,
        sent_at_ms: 1_700_000_000_000,
        body: body.to_owned(),
        reply_to,
    }
}

fn open(dir: &Path) -> Store {
    Store::open(dir, StoreOptions::default()).expect("open store")
}

fn incoming(peer: PublicKey, message: ChatMessage) -> WriteOp {
    WriteOp::Incoming {
        peer,
        message,
        received_at_ms: 1_700_000_000_500,
        network: None,
    }
}

fn fts_intact(dir: &Path) {
    let conn = Connection::open(dir.join("skychat.db")).unwrap();
    conn.execute(
        "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
        [],
    )
    .expect("the full-text index matches the messages");
}

#[test]
fn a_deleted_message_keeps_its_row_and_loses_its_text_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let peer = skywire_peer(3);
    let first = go_id(1);
    let answer = go_id(2);
    store
        .write_batch(&[
            incoming(peer, message(first, "secret plans for tuesday", None)),
            incoming(peer, message(answer, "about tuesday", Some(first))),
        ])
        .unwrap();
    assert_eq!(store.search("plans", 10).unwrap().len(), 1);

    assert!(store.mark_deleted_by_peer(peer, first, 42).unwrap());
    let gone = store
        .message(peer, Direction::In, first)
        .unwrap()
        .expect("the row stays");
    assert_eq!(gone.message.body, "");
    assert_eq!(gone.deleted_at_ms, Some(42));
    assert_eq!(gone.message.id.to_hex(), "18ed000000000001");
    assert!(store.search("plans", 10).unwrap().is_empty());
    assert_eq!(store.search("tuesday", 10).unwrap().len(), 1);
    let kept = store.message(peer, Direction::In, answer).unwrap().unwrap();
    assert_eq!(kept.deleted_at_ms, None);
    assert_eq!(kept.message.reply_to, Some(first));
    assert_eq!(
        kept.message.reply_to.unwrap().to_hex(),
        "18ed000000000001",
        "a Go id in reply_to keeps its 16-hex form"
    );
    // A second deletion changes nothing.
    assert!(!store.mark_deleted_by_peer(peer, first, 43).unwrap());
    assert_eq!(
        store
            .message(peer, Direction::In, first)
            .unwrap()
            .unwrap()
            .deleted_at_ms,
        Some(42)
    );
    fts_intact(dir.path());
}

#[test]
fn a_peer_cannot_delete_our_messages_or_another_peers() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let peer = skywire_peer(3);
    let other = skywire_peer(4);
    let id = go_id(7);
    store
        .write_batch(&[
            WriteOp::Outgoing {
                peer,
                message: message(id, "ours", None),
            },
            incoming(other, message(id, "the other peer's", None)),
        ])
        .unwrap();
    let applied = store
        .write_batch(&[WriteOp::DeletedByPeer { peer, id, at_ms: 9 }])
        .unwrap();
    assert_eq!(applied, vec![Applied::Unchanged]);
    let ours = store.message(peer, Direction::Out, id).unwrap().unwrap();
    assert_eq!(ours.message.body, "ours");
    assert_eq!(ours.deleted_at_ms, None);
    let theirs = store.message(other, Direction::In, id).unwrap().unwrap();
    assert_eq!(theirs.message.body, "the other peer's");
}

#[test]
fn a_message_inserted_and_deleted_in_one_batch_leaves_the_index_intact() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let peer = skywire_peer(5);
    let applied = store
        .write_batch(&[
            incoming(peer, message(go_id(1), "gone before it settled", None)),
            WriteOp::DeletedByPeer {
                peer,
                id: go_id(1),
                at_ms: 7,
            },
            incoming(peer, message(go_id(2), "settled afterwards", None)),
        ])
        .unwrap();
    assert!(matches!(applied[0], Applied::Inserted(_)));
    assert!(matches!(applied[1], Applied::Updated(_)));
    assert!(store.search("gone", 10).unwrap().is_empty());
    assert_eq!(store.search("settled", 10).unwrap().len(), 1);
    fts_intact(dir.path());
}

#[test]
fn skywire_peers_leave_no_stream_dedup_marks() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let go = skywire_peer(6);
    let native = native_peer(6);
    store
        .write_batch(&[
            incoming(go, message(go_id(1), "go", None)),
            incoming(
                native,
                message(MessageId { stream: 9, seq: 1 }, "native", None),
            ),
        ])
        .unwrap();
    let marks = store.dedup_records().unwrap();
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert_eq!(marks[0].peer, native);
}

/// A database exactly as schema version 3 wrote it, with one incoming message.
fn version_3_database(dir: &Path, peer: PublicKey) {
    let old = Connection::open(dir.join("skychat.db")).expect("create the old database");
    old.pragma_update(None, "journal_mode", "WAL").unwrap();
    for migration in &MIGRATIONS[..3] {
        old.execute_batch(migration).unwrap();
    }
    old.pragma_update(None, "user_version", 3).unwrap();
    old.execute(
        "INSERT INTO messages
             (peer, msg_id, direction, body, sent_at_ms, stored_at_ms, status, in_outbox)
         VALUES (?1, ?2, 'in', 'written by version 3', 5, 5, 'received', 0)",
        rusqlite::params![peer.to_hex(), go_id(1).to_hex()],
    )
    .unwrap();
    old.execute(
        "INSERT INTO messages_fts (rowid, body) SELECT row_id, body FROM messages",
        [],
    )
    .unwrap();
}

#[test]
fn migration_from_version_3_keeps_messages_and_lets_them_be_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let peer = skywire_peer(8);
    version_3_database(dir.path(), peer);
    let mut store = open(dir.path());
    assert_eq!(store.settings().unwrap().schema_version, SCHEMA_VERSION);
    let old = store
        .message(peer, Direction::In, go_id(1))
        .unwrap()
        .unwrap();
    assert_eq!(old.message.body, "written by version 3");
    assert_eq!(old.deleted_at_ms, None);
    assert!(store.mark_deleted_by_peer(peer, go_id(1), 11).unwrap());
    assert!(store.search("version", 10).unwrap().is_empty());
    fts_intact(dir.path());
}
