//! The migrations from schema 4 to 5 (peers as integer ids, message ids as BLOBs, no status
//! column) and on to 6 (two indexes fewer, a leaner full-text index): a version-4 database with
//! messages both ways, in every state, reads back exactly as it did, with its dedup marks,
//! idempotency keys, deletions, full-text index, row ids and `AUTOINCREMENT` counter; a version-5
//! database keeps its rows and ends with the indexes of a new database; a version-7 database
//! gains peer aliases (version 8), none set, kept across reopening and unique ignoring case; a
//! version-8 database keeps them and gains remembered dial addresses (version 9).

use std::path::Path;

use rusqlite::{Connection, params};
use skychat::store::schema::{MIGRATIONS, SCHEMA_VERSION};
use skychat::store::{
    AliasChange, Applied, Direction, KnownPeer, Status, Store, StoreOptions, StoredMessage, WriteOp,
};
use skychat_core::{ChatMessage, DedupRecord, MessageId, PublicKey, SecretKey};

fn native_peer(n: u8) -> PublicKey {
    PublicKey::native([n; 32])
}

fn skywire_peer(n: u8) -> PublicKey {
    SecretKey::from_bytes([n; 32])
        .skywire_public_key()
        .expect("a valid secp256k1 secret")
}

fn open(dir: &Path) -> Store {
    Store::open(dir, StoreOptions::default()).expect("open store")
}

/// One row as version 4 wrote it.
struct OldRow {
    peer: PublicKey,
    id: MessageId,
    direction: &'static str,
    body: &'static str,
    stored_at_ms: u64,
    reply_to: Option<MessageId>,
    status: &'static str,
    acked_at_ms: Option<u64>,
    read_at_ms: Option<u64>,
    in_outbox: bool,
    idempotency_key: Option<&'static str>,
    deleted_at_ms: Option<u64>,
}

fn go_id(n: u64) -> MessageId {
    format!("{:016x}", 0x18ed_0000_0000_0000 + n)
        .parse()
        .expect("16 hex")
}

fn id(stream: u64, seq: u64) -> MessageId {
    MessageId { stream, seq }
}

fn old_rows() -> Vec<OldRow> {
    let (alice, bob, go) = (native_peer(1), native_peer(2), skywire_peer(3));
    let row = |peer, id, direction, body, status| OldRow {
        peer,
        id,
        direction,
        body,
        stored_at_ms: 1_000,
        reply_to: None,
        status,
        acked_at_ms: None,
        read_at_ms: None,
        in_outbox: false,
        idempotency_key: None,
        deleted_at_ms: None,
    };
    vec![
        OldRow {
            in_outbox: true,
            idempotency_key: Some("key-queued"),
            ..row(alice, id(7, 1), "out", "queued breakfast", "queued")
        },
        OldRow {
            acked_at_ms: Some(1_100),
            idempotency_key: Some("key-acked"),
            ..row(alice, id(7, 2), "out", "acked lunch", "acked")
        },
        OldRow {
            acked_at_ms: Some(1_200),
            read_at_ms: Some(1_200),
            ..row(bob, id(8, 1), "out", "read dinner", "read")
        },
        OldRow {
            reply_to: Some(id(7, 1)),
            ..row(
                alice,
                id(40, 1),
                "in",
                "an answer about breakfast",
                "received",
            )
        },
        OldRow {
            read_at_ms: Some(1_300),
            ..row(alice, id(40, 2), "in", "read here", "read")
        },
        row(alice, id(41, 9), "in", "another stream", "received"),
        OldRow {
            reply_to: Some(go_id(1)),
            ..row(go, go_id(2), "in", "a go reply", "received")
        },
        OldRow {
            deleted_at_ms: Some(1_400),
            ..row(go, go_id(1), "in", "", "received")
        },
        // The last row, deleted below before the migration: its id must not come back.
        row(bob, id(9, 1), "in", "retired", "received"),
    ]
}

/// A new database at `dir` of schema `version`, as the store of that version created it.
fn old_database(dir: &Path, version: usize) -> Connection {
    let old = Connection::open(dir.join("skychat.db")).expect("create the old database");
    old.pragma_update(None, "auto_vacuum", "INCREMENTAL")
        .unwrap();
    old.pragma_update(None, "journal_mode", "WAL").unwrap();
    for migration in &MIGRATIONS[..version] {
        old.execute_batch(migration).unwrap();
    }
    old.pragma_update(None, "user_version", version as i64)
        .unwrap();
    old
}

/// A database exactly as schema version 4 wrote it: `rows`, indexed, their dedup marks, and the
/// newest row deleted (as retention would).
fn version_4_database(dir: &Path, rows: &[OldRow]) -> i64 {
    let old = old_database(dir, 4);
    for r in rows {
        old.execute(
            "INSERT INTO messages
                 (peer, msg_id, direction, body, sent_at_ms, stored_at_ms, reply_to, status,
                  acked_at_ms, read_at_ms, in_outbox, idempotency_key, deleted_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                r.peer.to_hex(),
                r.id.to_hex(),
                r.direction,
                r.body,
                r.stored_at_ms as i64,
                r.reply_to.map(|id| id.to_hex()),
                r.status,
                r.acked_at_ms.map(|t| t as i64),
                r.read_at_ms.map(|t| t as i64),
                r.in_outbox,
                r.idempotency_key,
                r.deleted_at_ms.map(|t| t as i64),
            ],
        )
        .unwrap();
    }
    old.execute(
        "INSERT INTO messages_fts (rowid, body) SELECT row_id, body FROM messages",
        [],
    )
    .unwrap();
    for (stream, seq) in [(40u64, 2i64), (41, 9), (u64::MAX - 1, 3)] {
        old.execute(
            "INSERT INTO dedup (peer, stream, stored_seq, updated_row) VALUES (?1, ?2, ?3, ?4)",
            params![native_peer(1).to_hex(), stream as i64, seq, seq],
        )
        .unwrap();
    }
    let last: i64 = old
        .query_row("SELECT max(row_id) FROM messages", [], |row| row.get(0))
        .unwrap();
    old.execute("DELETE FROM messages WHERE row_id = ?1", [last])
        .unwrap();
    last
}

fn everything(store: &Store) -> Vec<StoredMessage> {
    let mut all = store.history(None, 1_000, None).unwrap();
    all.reverse();
    all
}

#[test]
fn a_version_4_database_reads_back_identically_after_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let rows = old_rows();
    let retired_row = version_4_database(dir.path(), &rows);

    let mut store = open(dir.path());
    assert_eq!(store.settings().unwrap().schema_version, SCHEMA_VERSION);
    let migrated = everything(&store);
    let kept = &rows[..rows.len() - 1];
    assert_eq!(migrated.len(), kept.len());
    for (index, (m, old)) in migrated.iter().zip(kept).enumerate() {
        assert_eq!(m.row, index as i64 + 1, "row ids are kept");
        assert_eq!(m.peer, old.peer);
        assert_eq!(m.message.id, old.id);
        assert_eq!(m.message.id.to_hex(), old.id.to_hex());
        assert_eq!(m.message.body, old.body);
        assert_eq!(m.message.reply_to, old.reply_to);
        assert_eq!(
            m.direction,
            if old.direction == "out" {
                Direction::Out
            } else {
                Direction::In
            }
        );
        assert_eq!(m.status.as_str(), old.status, "{old:?}", old = old.body);
        assert_eq!(m.stored_at_ms, old.stored_at_ms);
        assert_eq!(m.acked_at_ms, old.acked_at_ms);
        assert_eq!(m.read_at_ms, old.read_at_ms);
        assert_eq!(m.in_outbox, old.in_outbox);
        assert_eq!(m.deleted_at_ms, old.deleted_at_ms);
        // Before version 7 every message went over TCP-direct; one still queued has not gone.
        let network = (!old.in_outbox).then_some(skychat_core::Network::Tcp);
        assert_eq!(m.network, network, "{old:?}", old = old.body);
    }
    // The Go ids keep their 16-hex form, in reply_to too.
    assert_eq!(migrated[6].message.id.to_hex(), "18ed000000000002");
    assert_eq!(
        migrated[6].message.reply_to.unwrap().to_hex(),
        "18ed000000000001"
    );

    // Idempotency keys still find their messages and stay unique.
    let found = store
        .message_by_idempotency_key("key-acked")
        .unwrap()
        .unwrap();
    assert_eq!((found.message.id, found.status), (id(7, 2), Status::Acked));
    assert!(
        store
            .write_batch(&[WriteOp::OutgoingWithKey {
                peer: native_peer(2),
                message: ChatMessage {
                    id: id(8, 2),
                    sent_at_ms: 2_000,
                    body: "reusing a key".into(),
                    reply_to: None,
                },
                idempotency_key: "key-queued".into(),
            }])
            .is_err()
    );

    // The dedup marks, the outbox and the conversations are those of version 4.
    let mut marks = store.dedup_records().unwrap();
    marks.sort_by_key(|r| r.stream);
    assert_eq!(
        marks,
        [(40, 2), (41, 9), (u64::MAX - 1, 3)]
            .map(|(stream, stored)| DedupRecord {
                peer: native_peer(1),
                stream,
                stored
            })
            .to_vec()
    );
    assert_eq!(store.outbox().unwrap().len(), 1);
    assert_eq!(store.outbox().unwrap()[0].1.body, "queued breakfast");
    let peers = store.peers().unwrap();
    assert_eq!(peers.len(), 3);
    let unread: u64 = peers.iter().map(|p| p.unread).sum();
    assert_eq!(unread, 4);
    assert_eq!(
        store.history(Some(native_peer(2)), 10, None).unwrap().len(),
        1
    );

    // Full-text search finds the old rows, and not the deleted body.
    let bodies = |store: &Store, query: &str| -> Vec<String> {
        store
            .search(query, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.message.body)
            .collect()
    };
    assert_eq!(
        bodies(&store, "breakfast"),
        ["an answer about breakfast", "queued breakfast"]
    );
    assert!(bodies(&store, "retired").is_empty());
    Connection::open(dir.path().join("skychat.db"))
        .unwrap()
        .execute(
            "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
            [],
        )
        .expect("the full-text index matches the messages");

    // Writes continue: the row id of a retired message is not reused, a duplicate of an old
    // message is recognised, an old outgoing message can be acked and an old incoming one
    // deleted.
    let applied = store
        .write_batch(&[
            WriteOp::Incoming {
                peer: native_peer(1),
                message: ChatMessage {
                    id: id(40, 3),
                    sent_at_ms: 3_000,
                    body: "after the migration".into(),
                    reply_to: None,
                },
                received_at_ms: 3_000,
                network: None,
            },
            WriteOp::Incoming {
                peer: native_peer(1),
                message: ChatMessage {
                    id: id(40, 2),
                    sent_at_ms: 1_000,
                    body: "read here".into(),
                    reply_to: None,
                },
                received_at_ms: 3_001,
                network: None,
            },
            WriteOp::Acked {
                peer: native_peer(1),
                id: id(7, 1),
                at_ms: 3_002,
                network: None,
            },
            WriteOp::DeletedByPeer {
                peer: skywire_peer(3),
                id: go_id(2),
                at_ms: 3_003,
            },
        ])
        .unwrap();
    assert_eq!(
        applied,
        [
            Applied::Inserted(retired_row + 1),
            Applied::AlreadyStored(5),
            Applied::Updated(1),
            Applied::Updated(7),
        ]
    );
    assert!(store.outbox().unwrap().is_empty());
    assert!(bodies(&store, "reply").is_empty());
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.dedup_records().unwrap().len(), 3);
    assert_eq!(
        store
            .message(native_peer(1), Direction::In, id(40, 3))
            .unwrap()
            .unwrap()
            .row,
        retired_row + 1
    );
}

/// The index names of the table `messages` in the database at `dir`, sorted.
fn message_indexes(dir: &Path) -> Vec<String> {
    let conn = Connection::open(dir.join("skychat.db")).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'messages'
             ORDER BY name",
        )
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A database exactly as schema version 5 wrote it, with one message in each state: queued (in
/// the outbox), acked, received unread, received and read; stored at 1,000 ms (the first two) and
/// 5,000 ms.
fn version_5_database(dir: &Path) {
    let old = old_database(dir, 5);
    old.execute(
        "INSERT INTO peers (id, key) VALUES (1, ?1)",
        [native_peer(1).to_hex()],
    )
    .unwrap();
    // Direction, sequence, body, stored at, acked at, read at, in the outbox.
    type Row = (
        &'static str,
        u64,
        &'static str,
        u64,
        Option<i64>,
        Option<i64>,
        bool,
    );
    let rows: [Row; 4] = [
        ("out", 1, "queued soup", 1_000, None, None, true),
        ("out", 2, "acked bread", 1_000, Some(1_100), None, false),
        ("in", 1, "unread cheese", 5_000, None, None, false),
        ("in", 2, "read apples", 5_000, None, Some(5_100), false),
    ];
    for (direction, seq, body, at, acked, read, in_outbox) in rows {
        let stream: u64 = if direction == "out" { 7 } else { 9 };
        let mut msg_id = stream.to_be_bytes().to_vec();
        msg_id.extend(seq.to_be_bytes());
        old.execute(
            "INSERT INTO messages
                 (peer_id, direction, msg_id, body, sent_at_ms, stored_at_ms, acked_at_ms,
                  read_at_ms, in_outbox)
             VALUES (1, ?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)",
            params![direction, msg_id, body, at as i64, acked, read, in_outbox],
        )
        .unwrap();
    }
    old.execute(
        "INSERT INTO messages_fts (rowid, body) SELECT row_id, body FROM messages",
        [],
    )
    .unwrap();
}

#[test]
fn a_version_5_database_keeps_its_rows_and_drops_the_two_unused_indexes() {
    let dir = tempfile::tempdir().unwrap();
    version_5_database(dir.path());
    assert!(message_indexes(dir.path()).contains(&"messages_unread".to_string()));

    let mut store = open(dir.path());
    assert_eq!(store.settings().unwrap().schema_version, SCHEMA_VERSION);
    let fresh = tempfile::tempdir().unwrap();
    drop(open(fresh.path()));
    assert_eq!(
        message_indexes(dir.path()),
        message_indexes(fresh.path()),
        "a migrated database has the indexes of a new one"
    );
    assert_eq!(
        message_indexes(dir.path()),
        [
            "messages_by_idempotency_key",
            "messages_by_peer",
            "messages_outbox",
            "sqlite_autoindex_messages_1"
        ]
    );

    let stored: Vec<(String, Status, i64)> = everything(&store)
        .into_iter()
        .map(|m| (m.message.body, m.status, m.row))
        .collect();
    assert_eq!(
        stored,
        [
            ("queued soup".to_string(), Status::Queued, 1),
            ("acked bread".to_string(), Status::Acked, 2),
            ("unread cheese".to_string(), Status::Received, 3),
            ("read apples".to_string(), Status::Read, 4),
        ]
    );
    assert_eq!(store.search("cheese", 10).unwrap()[0].row, 3);
    // The full-text index was rebuilt without its per-row token counts, and matches the rows.
    let raw = Connection::open(dir.path().join("skychat.db")).unwrap();
    let docsize: i64 = raw
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'messages_fts_docsize'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(docsize, 0);
    raw.execute(
        "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
        [],
    )
    .expect("the full-text index matches the messages");

    // The outbox the store found on opening takes the ack of its message, once.
    let ack = WriteOp::Acked {
        peer: native_peer(1),
        id: id(7, 1),
        at_ms: 6_000,
        network: None,
    };
    assert_eq!(
        store.write_batch(&[ack.clone(), ack]).unwrap(),
        [Applied::Updated(1), Applied::Unchanged]
    );
    assert!(store.outbox().unwrap().is_empty());

    // What the dropped indexes served still works: marking a peer's messages read, and the TTL.
    assert_eq!(
        store.mark_peer_read_by_me(native_peer(1), 6_000).unwrap(),
        1
    );
    store.set_retention(skychat::store::RetentionPolicy {
        ttl_ms: Some(2_000),
        ..Default::default()
    });
    assert_eq!(store.enforce_retention(6_500).unwrap().expired, 2);
    let left: Vec<i64> = everything(&store).into_iter().map(|m| m.row).collect();
    assert_eq!(left, [3, 4]);
}

#[test]
fn a_version_7_database_gains_aliases_that_persist_and_are_unique_ignoring_case() {
    let dir = tempfile::tempdir().unwrap();
    let old = old_database(dir.path(), 7);
    old.execute(
        "INSERT INTO peers (id, key) VALUES (1, ?1), (2, ?2)",
        [native_peer(1).to_hex(), skywire_peer(3).to_hex()],
    )
    .unwrap();
    old.execute(
        "INSERT INTO messages (peer_id, direction, msg_id, body, sent_at_ms, stored_at_ms, network)
         VALUES (1, 'in', ?1, 'kept', 1000, 1000, 0)",
        [[9u64.to_be_bytes(), 1u64.to_be_bytes()].concat()],
    )
    .unwrap();
    drop(old);

    let mut store = open(dir.path());
    assert_eq!(store.settings().unwrap().schema_version, SCHEMA_VERSION);
    let (alice, go, newcomer) = (native_peer(1), skywire_peer(3), native_peer(4));
    let unnamed = |peer| KnownPeer { peer, alias: None };
    let mut expected = vec![unnamed(alice), unnamed(go)];
    expected.sort_by_key(|p| p.peer.to_hex());
    assert_eq!(store.known_peers().unwrap(), expected);
    assert_eq!(everything(&store)[0].message.body, "kept");

    assert_eq!(store.set_alias(alice, "Alice").unwrap(), AliasChange::Set);
    assert_eq!(
        store.set_alias(newcomer, "aLiCe").unwrap(),
        AliasChange::Taken(alice)
    );
    assert_eq!(
        store.set_alias(alice, "ALICE").unwrap(),
        AliasChange::Set,
        "its own, recased"
    );
    assert_eq!(
        store.set_alias(newcomer, "Ÿves").unwrap(),
        AliasChange::Set,
        "a new row"
    );
    assert_eq!(
        store.set_alias(go, "ÿVES").unwrap(),
        AliasChange::Taken(newcomer),
        "case folding beyond ASCII"
    );
    drop(store);

    let mut store = open(dir.path());
    let mut aliases = store.aliases().unwrap();
    aliases.sort();
    let mut want = vec![(alice, "ALICE".to_string()), (newcomer, "Ÿves".to_string())];
    want.sort();
    assert_eq!(aliases, want);
    // The index refuses a duplicate even past the store's own check.
    let raw = Connection::open(dir.path().join("skychat.db")).unwrap();
    let duplicate = raw.execute(
        "UPDATE peers SET alias = 'alice', alias_folded = 'alice' WHERE key = ?1",
        [go.to_hex()],
    );
    assert!(duplicate.is_err(), "{duplicate:?}");
    assert_eq!(store.clear_alias(alice).unwrap().as_deref(), Some("ALICE"));
    assert_eq!(store.clear_alias(alice).unwrap(), None);
    assert_eq!(store.set_alias(go, "alice").unwrap(), AliasChange::Set);
    // History with a peer is found by key whatever its alias.
    assert_eq!(store.history(Some(alice), 10, None).unwrap().len(), 1);
}

#[test]
fn a_version_8_database_keeps_its_aliases_and_remembers_dial_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let old = old_database(dir.path(), 8);
    old.execute(
        "INSERT INTO peers (id, key, alias, alias_folded) VALUES (1, ?1, 'Alice', 'alice')",
        [native_peer(1).to_hex()],
    )
    .unwrap();
    drop(old);

    let mut store = open(dir.path());
    assert_eq!(store.settings().unwrap().schema_version, SCHEMA_VERSION);
    assert_eq!(store.dial_addrs().unwrap(), []);
    let (alice, newcomer) = (native_peer(1), native_peer(4));
    store.set_dial_addr(alice, "10.0.0.1:8801").unwrap();
    store.set_dial_addr(newcomer, "example.org:1").unwrap();
    store.set_dial_addr(newcomer, "example.org:2").unwrap();
    drop(store);

    let store = open(dir.path());
    let mut want = vec![
        (alice, "10.0.0.1:8801".to_string()),
        (newcomer, "example.org:2".to_string()),
    ];
    want.sort_by_key(|(peer, _)| peer.to_hex());
    assert_eq!(store.dial_addrs().unwrap(), want);
    assert_eq!(store.aliases().unwrap(), [(alice, "Alice".to_string())]);
}
