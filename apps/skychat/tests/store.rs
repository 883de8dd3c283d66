//! Tests of the durable message store: recording and state changes, paging, search, retention
//! with space reclaim, a full disk, a busy database and restarts.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use skychat::store::schema::{MIGRATIONS, SCHEMA_VERSION};
use skychat::store::{
    Applied, Direction, Durability, RetentionPolicy, Status, Store, StoreError, StoreOptions,
    WriteOp,
};
use skychat_core::{ChatMessage, DedupRecord, MessageId, PublicKey};

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

fn open_with(dir: &Path, options: StoreOptions) -> Store {
    Store::open(dir, options).expect("open store")
}

fn raw(dir: &Path) -> Connection {
    Connection::open(dir.join("skychat.db")).expect("open raw connection")
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[cfg(unix)]
#[test]
fn open_creates_private_files_in_wal_mode_with_incremental_vacuum() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data").join("skychat");
    let mut store = open(&dir);
    store
        .record_outgoing(peer(1), &message(1, 1, "hi"))
        .unwrap();

    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("skychat.db")), 0o600);
    assert_eq!(mode(&dir.join("skychat.db-wal")), 0o600);

    let settings = store.settings().unwrap();
    assert_eq!(settings.journal_mode, "wal");
    assert_eq!(settings.synchronous, "NORMAL");
    assert_eq!(settings.auto_vacuum, "INCREMENTAL");
    assert_eq!(settings.schema_version, SCHEMA_VERSION);
    drop(store);

    let store = open_with(
        &dir,
        StoreOptions {
            durability: Durability::PowerLoss,
            ..StoreOptions::default()
        },
    );
    assert_eq!(store.settings().unwrap().synchronous, "FULL");
    assert_eq!(store.history(None, 10, None).unwrap().len(), 1);
}

#[test]
fn outgoing_messages_move_through_their_states_and_leave_the_outbox_when_acked() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let (alice, bob) = (peer(1), peer(2));
    let first = message(9, 1, "first to alice");
    let second = message(7, 1, "first to bob");
    let third = message(9, 2, "second to alice");
    let row1 = store.record_outgoing(alice, &first).unwrap();
    let row2 = store.record_outgoing(bob, &second).unwrap();
    let row3 = store.record_outgoing(alice, &third).unwrap();
    assert!(row1 < row2 && row2 < row3);
    assert_eq!(store.record_outgoing(alice, &first).unwrap(), row1);

    let outbox = store.outbox().unwrap();
    assert_eq!(
        outbox,
        vec![
            (alice, first.clone()),
            (bob, second.clone()),
            (alice, third.clone())
        ]
    );

    let stored = store
        .message(alice, Direction::Out, first.id)
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, Status::Queued);
    assert!(stored.in_outbox);

    assert!(store.mark_acked(alice, first.id, 5_000).unwrap());
    assert!(!store.mark_acked(alice, first.id, 6_000).unwrap());
    assert!(
        !store.mark_acked(bob, first.id, 5_000).unwrap(),
        "wrong peer"
    );
    let stored = store
        .message(alice, Direction::Out, first.id)
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, Status::Acked);
    assert_eq!(stored.acked_at_ms, Some(5_000));
    assert!(!stored.in_outbox);
    assert_eq!(
        store.outbox().unwrap(),
        vec![(bob, second.clone()), (alice, third.clone())]
    );

    // A read receipt implies storage: it takes a message out of the outbox as well.
    assert!(store.mark_read(bob, second.id, 7_000).unwrap());
    let stored = store
        .message(bob, Direction::Out, second.id)
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, Status::Read);
    assert_eq!(stored.read_at_ms, Some(7_000));
    assert_eq!(stored.acked_at_ms, Some(7_000));
    // A late ack does not demote a read message.
    assert!(!store.mark_acked(bob, second.id, 8_000).unwrap());
    assert_eq!(
        store
            .message(bob, Direction::Out, second.id)
            .unwrap()
            .unwrap()
            .status,
        Status::Read
    );

    let counts = store.counts().unwrap();
    assert_eq!(
        (
            counts.outgoing,
            counts.queued,
            counts.acked,
            counts.read,
            counts.in_outbox
        ),
        (3, 1, 1, 1, 1)
    );
    assert!(store.mark_acked(alice, third.id, 9_000).unwrap());
    assert!(store.outbox().unwrap().is_empty());
    let counts = store.counts().unwrap();
    assert_eq!((counts.queued, counts.acked, counts.in_outbox), (0, 2, 0));
}

#[test]
fn incoming_messages_advance_the_dedup_mark_and_duplicates_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let alice = peer(1);
    for seq in 1..=3 {
        let applied = store
            .record_incoming(alice, &message(40, seq, &format!("a{seq}")), 100 + seq)
            .unwrap();
        assert!(matches!(applied, Applied::Inserted(_)));
    }
    store
        .record_incoming(alice, &message(41, 5, "new stream"), 200)
        .unwrap();
    let again = store
        .record_incoming(alice, &message(40, 2, "a2"), 300)
        .unwrap();
    assert!(matches!(again, Applied::AlreadyStored(_)));

    let mut records = store.dedup_records().unwrap();
    records.sort_by_key(|r| r.stream);
    assert_eq!(
        records,
        vec![
            DedupRecord {
                peer: alice,
                stream: 40,
                stored: 3
            },
            DedupRecord {
                peer: alice,
                stream: 41,
                stored: 5
            },
        ]
    );
    // Streams are u64; values above i64::MAX survive the round trip.
    store
        .record_incoming(alice, &message(u64::MAX - 1, 1, "high stream"), 400)
        .unwrap();
    assert!(
        store
            .dedup_records()
            .unwrap()
            .iter()
            .any(|r| r.stream == u64::MAX - 1 && r.stored == 1)
    );

    let history = store.history(Some(alice), 100, None).unwrap();
    assert_eq!(history.len(), 5);
    assert!(
        history
            .iter()
            .all(|m| m.direction == Direction::In && !m.in_outbox)
    );
    assert_eq!(store.counts().unwrap().unread, 5);
}

#[test]
fn a_batch_applies_every_operation_in_order_and_reports_each() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let alice = peer(1);
    let out = message(1, 1, "question");
    let reply = ChatMessage {
        reply_to: Some(out.id),
        ..message(2, 1, "answer")
    };
    let applied = store
        .write_batch(&[
            WriteOp::Outgoing {
                peer: alice,
                message: out.clone(),
            },
            WriteOp::Incoming {
                peer: alice,
                message: reply.clone(),
                received_at_ms: 10,
                network: None,
            },
            WriteOp::Acked {
                peer: alice,
                id: out.id,
                at_ms: 11,
                network: None,
            },
            WriteOp::ReadByMe {
                peer: alice,
                id: reply.id,
                at_ms: 12,
            },
            WriteOp::ReadByMe {
                peer: alice,
                id: MessageId { stream: 2, seq: 9 },
                at_ms: 12,
            },
        ])
        .unwrap();
    let (out_row, in_row) = (applied[0].row().unwrap(), applied[1].row().unwrap());
    assert_eq!(
        applied,
        vec![
            Applied::Inserted(out_row),
            Applied::Inserted(in_row),
            Applied::Updated(out_row),
            Applied::Updated(in_row),
            Applied::Unchanged,
        ]
    );
    let stored = store
        .message(alice, Direction::In, reply.id)
        .unwrap()
        .unwrap();
    assert_eq!(stored.message.reply_to, Some(out.id));
    assert_eq!(stored.status, Status::Read);
    assert_eq!(stored.read_at_ms, Some(12));
    assert!(store.outbox().unwrap().is_empty());
}

#[test]
fn history_pages_newest_first_with_a_row_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let (alice, bob) = (peer(1), peer(2));
    let mut alice_rows = Vec::new();
    for seq in 1..=25 {
        let row = if seq % 2 == 0 {
            store
                .record_outgoing(alice, &message(1, seq, &format!("out {seq}")))
                .unwrap()
        } else {
            store
                .record_incoming(alice, &message(2, seq, &format!("in {seq}")), seq)
                .unwrap()
                .row()
                .unwrap()
        };
        alice_rows.push(row);
        store
            .record_incoming(bob, &message(3, seq, "noise"), seq)
            .unwrap();
    }

    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.history(Some(alice), 10, cursor).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        assert!(page.iter().all(|m| m.peer == alice));
        cursor = Some(page.last().unwrap().row);
        paged.extend(page.iter().map(|m| m.row));
    }
    let mut expected = alice_rows.clone();
    expected.reverse();
    assert_eq!(paged, expected);

    let everyone = store.history(None, 3, None).unwrap();
    assert_eq!(everyone.len(), 3);
    assert_eq!(everyone[0].peer, bob);
    assert_eq!(everyone[1].peer, alice);
    assert_eq!(everyone[1].message.body, "in 25");
    assert!(everyone.windows(2).all(|w| w[0].row > w[1].row));
}

#[test]
fn peers_summarise_each_conversation_with_unread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let (alice, bob) = (peer(1), peer(2));
    store
        .record_incoming(alice, &message(1, 1, "a1"), 1_000)
        .unwrap();
    store
        .record_incoming(alice, &message(1, 2, "a2"), 1_001)
        .unwrap();
    store
        .record_incoming(bob, &message(2, 1, "b1"), 1_002)
        .unwrap();
    store
        .record_outgoing(alice, &message(3, 1, "reply"))
        .unwrap();

    let peers = store.peers().unwrap();
    assert_eq!(peers.len(), 2);
    assert_eq!(peers[0].peer, alice, "most recently active first");
    assert_eq!((peers[0].count, peers[0].unread), (3, 2));
    assert_eq!(peers[0].last_message_at_ms, message(3, 1, "").sent_at_ms);
    assert_eq!(
        (peers[1].peer, peers[1].count, peers[1].unread),
        (bob, 1, 1)
    );
    assert_eq!(peers[1].last_message_at_ms, 1_002);

    assert!(
        store
            .mark_read_by_me(alice, MessageId { stream: 1, seq: 1 }, 2_000)
            .unwrap()
    );
    assert_eq!(store.peers().unwrap()[0].unread, 1);
    assert_eq!(store.mark_peer_read_by_me(alice, 2_001).unwrap(), 1);
    assert_eq!(store.peers().unwrap()[0].unread, 0);
    assert_eq!(store.counts().unwrap().unread, 1);
}

#[test]
fn search_matches_words_and_treats_syntax_characters_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let alice = peer(1);
    store
        .record_incoming(alice, &message(1, 1, "Meet at the Café at noon"), 1)
        .unwrap();
    store
        .record_outgoing(alice, &message(2, 1, "noon works, see you at the cafe"))
        .unwrap();
    store
        .record_incoming(alice, &message(1, 2, "unrelated OR NEAR(text)"), 2)
        .unwrap();

    let bodies = |query: &str| -> Vec<String> {
        store
            .search(query, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.message.body)
            .collect()
    };
    assert_eq!(
        bodies("CAFE noon"),
        vec![
            "noon works, see you at the cafe".to_owned(),
            "Meet at the Café at noon".to_owned()
        ]
    );
    assert_eq!(bodies("meet"), vec!["Meet at the Café at noon".to_owned()]);
    assert!(bodies("noon absent").is_empty());
    assert_eq!(
        bodies("OR NEAR(text)"),
        vec!["unrelated OR NEAR(text)".to_owned()]
    );
    for hostile in [
        "\"unterminated",
        "noon*",
        "-noon",
        "body:noon",
        "(noon",
        "^noon",
        "a AND",
        "NOT",
        "'; DROP TABLE messages; --",
    ] {
        assert!(
            store.search(hostile, 10).is_ok(),
            "query {hostile:?} should not be an error"
        );
    }
    for empty in ["", "   ", "\"", "\"\" ** ()"] {
        let error = store.search(empty, 10).unwrap_err();
        assert!(matches!(error, StoreError::InvalidQuery(_)), "{error:?}");
        assert_eq!(error.http_status(), 400);
        assert!(error.to_string().starts_with("invalid search query"));
    }
    assert_eq!(store.history(None, 10, None).unwrap().len(), 3);
}

#[test]
fn retention_applies_ttl_and_caps_but_never_deletes_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let (alice, bob) = (peer(1), peer(2));
    // An old unacked outgoing message: older than everything, but still owed to alice.
    let pending = ChatMessage {
        sent_at_ms: 10,
        ..message(99, 1, "pending forever")
    };
    store.record_outgoing(alice, &pending).unwrap();
    for seq in 1..=10 {
        store
            .record_incoming(alice, &message(1, seq, "old alice"), 100 + seq)
            .unwrap();
        store
            .record_incoming(bob, &message(2, seq, "old bob"), 100 + seq)
            .unwrap();
    }
    for seq in 11..=20 {
        store
            .record_incoming(alice, &message(1, seq, "new alice"), 10_000 + seq)
            .unwrap();
    }

    store.set_retention(RetentionPolicy {
        ttl_ms: Some(5_000),
        ..RetentionPolicy::default()
    });
    let report = store.enforce_retention(12_000).unwrap();
    assert_eq!(report.expired, 20);
    assert_eq!(store.outbox().unwrap(), vec![(alice, pending.clone())]);
    assert_eq!(store.history(Some(bob), 100, None).unwrap().len(), 0);
    assert_eq!(store.history(Some(alice), 100, None).unwrap().len(), 11);
    assert!(store.search("old", 10).unwrap().is_empty());

    store.set_retention(RetentionPolicy {
        max_per_peer: Some(4),
        ..RetentionPolicy::default()
    });
    let report = store.enforce_retention(12_000).unwrap();
    // The 4 newest stay; of the older 7, all but the pending one go.
    assert_eq!(report.over_peer_cap, 6);
    let kept: Vec<u64> = store
        .history(Some(alice), 100, None)
        .unwrap()
        .iter()
        .map(|m| m.message.id.seq)
        .collect();
    assert_eq!(kept, vec![20, 19, 18, 17, 1]);

    store
        .record_incoming(bob, &message(2, 11, "bob again"), 12_001)
        .unwrap();
    store.set_retention(RetentionPolicy {
        max_total: Some(2),
        ..RetentionPolicy::default()
    });
    let report = store.enforce_retention(12_000).unwrap();
    assert_eq!(report.over_total_cap, 3);
    let left: Vec<String> = store
        .history(None, 100, None)
        .unwrap()
        .into_iter()
        .map(|m| m.message.body)
        .collect();
    assert_eq!(left, vec!["bob again", "new alice", "pending forever"]);

    // The full-text index holds exactly the remaining rows.
    raw(dir.path())
        .execute(
            "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
            [],
        )
        .expect("fts index matches the table");
    let indexed: i64 = raw(dir.path())
        .query_row(
            "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'alice OR bob OR pending'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(indexed, 3);
}

#[test]
fn retention_shrinks_the_file_and_writes_continue_after_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("skychat.db");
    let mut store = open(dir.path());
    let alice = peer(1);
    let body = "lorem ipsum dolor sit amet ".repeat(40);
    let ops: Vec<WriteOp> = (1..=3_000)
        .map(|seq| WriteOp::Incoming {
            peer: alice,
            message: message(1, seq, &format!("{seq} {body}")),
            received_at_ms: seq,
            network: None,
        })
        .collect();
    store.write_batch(&ops).unwrap();
    store.reclaim_space().unwrap(); // checkpoint, so the main file holds everything
    let full_size = file_len(&db);

    store.set_retention(RetentionPolicy {
        max_total: Some(100),
        ..RetentionPolicy::default()
    });
    let report = store.enforce_retention(0).unwrap();
    assert_eq!(report.over_total_cap, 2_900);
    assert!(report.pages_freed > 0);
    let shrunk = file_len(&db);
    assert!(
        shrunk * 5 < full_size,
        "file should shrink a lot: {full_size} -> {shrunk}"
    );
    let settings = store.settings().unwrap();
    assert_eq!(settings.page_count * settings.page_size, shrunk);

    // The cap was hit; new messages are still accepted, and the cap keeps holding.
    store
        .record_incoming(alice, &message(1, 3_001, "after the cap"), 3_001)
        .unwrap();
    store.enforce_retention(0).unwrap();
    let newest = store.history(None, 200, None).unwrap();
    assert_eq!(newest.len(), 100);
    assert_eq!(newest[0].message.body, "after the cap");
    assert_eq!(store.search("cap", 5).unwrap().len(), 1);
}

#[test]
fn a_full_database_fails_with_disk_full_keeps_committed_data_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with(
        dir.path(),
        StoreOptions {
            max_db_bytes: Some(256 * 1024),
            ..StoreOptions::default()
        },
    );
    let alice = peer(1);
    let body = "x".repeat(2_000);
    let mut committed = 0u64;
    let error = loop {
        let batch: Vec<WriteOp> = (1..=10)
            .map(|i| WriteOp::Incoming {
                peer: alice,
                message: message(1, committed + i, &format!("{} {body}", committed + i)),
                received_at_ms: committed + i,
                network: None,
            })
            .collect();
        match store.write_batch(&batch) {
            Ok(_) => committed += 10,
            Err(error) => break error,
        }
        assert!(committed < 10_000, "the size limit never took effect");
    };
    assert!(matches!(error, StoreError::DiskFull(_)), "{error:?}");
    assert_eq!(error.http_status(), 507);
    assert!(error.to_string().contains("full"), "{error}");
    assert!(committed > 0);

    // Everything committed is there; nothing of the failed batch is, not even its dedup mark.
    let stored = store.history(Some(alice), 100_000, None).unwrap();
    assert_eq!(stored.len() as u64, committed);
    assert_eq!(
        store.dedup_records().unwrap(),
        vec![DedupRecord {
            peer: alice,
            stream: 1,
            stored: committed
        }]
    );
    // Still full for the same batch: the limit holds.
    let retry: Vec<WriteOp> = (1..=10)
        .map(|i| WriteOp::Incoming {
            peer: alice,
            message: message(1, committed + i, &body),
            received_at_ms: 0,
            network: None,
        })
        .collect();
    assert!(matches!(
        store.write_batch(&retry),
        Err(StoreError::DiskFull(_))
    ));

    // Retention frees space under the same limit, and writes work again.
    store.set_retention(RetentionPolicy {
        max_total: Some(committed / 2),
        ..RetentionPolicy::default()
    });
    assert!(store.enforce_retention(0).unwrap().over_total_cap > 0);
    store
        .record_incoming(alice, &message(1, committed + 1, &body), 0)
        .unwrap();

    // So does raising the limit.
    store.set_max_db_bytes(None).unwrap();
    let batch: Vec<WriteOp> = (committed + 2..committed + 200)
        .map(|seq| WriteOp::Incoming {
            peer: alice,
            message: message(1, seq, &body),
            received_at_ms: seq,
            network: None,
        })
        .collect();
    store.write_batch(&batch).unwrap();
    assert_eq!(
        store.dedup_records().unwrap()[0].stored,
        committed + 199,
        "the mark follows the newest stored message"
    );
}

#[test]
fn a_lock_held_elsewhere_fails_with_busy_and_then_clears() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with(
        dir.path(),
        StoreOptions {
            busy_timeout: Duration::from_millis(50),
            ..StoreOptions::default()
        },
    );
    let other = raw(dir.path());
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let error = store
        .record_outgoing(peer(1), &message(1, 1, "blocked"))
        .unwrap_err();
    assert!(matches!(error, StoreError::Busy(_)), "{error:?}");
    assert_eq!(error.http_status(), 503);
    assert!(error.to_string().contains("busy"), "{error}");
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "waited the busy timeout"
    );
    // Readers are not blocked by a writer in WAL mode.
    assert!(store.history(None, 10, None).unwrap().is_empty());

    other.execute_batch("ROLLBACK").unwrap();
    store
        .record_outgoing(peer(1), &message(1, 1, "through"))
        .unwrap();
    assert_eq!(store.outbox().unwrap().len(), 1);
}

#[test]
fn everything_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (peer(1), peer(2));
    let acked = message(5, 1, "acked");
    let read = message(5, 2, "read by alice");
    let queued = message(5, 3, "still queued");
    let to_bob = message(6, 1, "to bob");
    let incoming = message(8, 1, "hello from alice");
    let incoming_unread = message(8, 2, "unread");
    {
        let mut store = open(dir.path());
        for (peer, m) in [
            (alice, &acked),
            (alice, &read),
            (alice, &queued),
            (bob, &to_bob),
        ] {
            store.record_outgoing(peer, m).unwrap();
        }
        store.mark_acked(alice, acked.id, 100).unwrap();
        store.mark_read(alice, read.id, 200).unwrap();
        store.record_incoming(alice, &incoming, 300).unwrap();
        store.record_incoming(alice, &incoming_unread, 301).unwrap();
        store.mark_read_by_me(alice, incoming.id, 400).unwrap();
    }

    let store = open(dir.path());
    assert_eq!(
        store.outbox().unwrap(),
        vec![(alice, queued.clone()), (bob, to_bob.clone())]
    );
    assert_eq!(
        store.dedup_records().unwrap(),
        vec![DedupRecord {
            peer: alice,
            stream: 8,
            stored: 2
        }]
    );
    let state = |peer, direction, id| {
        let m = store.message(peer, direction, id).unwrap().unwrap();
        (m.status, m.acked_at_ms, m.read_at_ms)
    };
    assert_eq!(
        state(alice, Direction::Out, acked.id),
        (Status::Acked, Some(100), None)
    );
    assert_eq!(
        state(alice, Direction::Out, read.id),
        (Status::Read, Some(200), Some(200))
    );
    assert_eq!(
        state(alice, Direction::Out, queued.id),
        (Status::Queued, None, None)
    );
    assert_eq!(
        state(bob, Direction::Out, to_bob.id),
        (Status::Queued, None, None)
    );
    assert_eq!(
        state(alice, Direction::In, incoming.id),
        (Status::Read, None, Some(400))
    );
    assert_eq!(
        state(alice, Direction::In, incoming_unread.id),
        (Status::Received, None, None)
    );
    let bodies: Vec<String> = store
        .history(Some(alice), 10, None)
        .unwrap()
        .into_iter()
        .map(|m| m.message.body)
        .collect();
    assert_eq!(
        bodies,
        vec![
            "unread",
            "hello from alice",
            "still queued",
            "read by alice",
            "acked"
        ]
    );
    assert_eq!(store.peers().unwrap()[0].unread, 1);
    assert_eq!(store.search("hello", 5).unwrap().len(), 1);
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    raw(dir.path())
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let error = Store::open(dir.path(), StoreOptions::default()).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::UnsupportedSchema {
                found: 99,
                supported: SCHEMA_VERSION
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.http_status(), 500);
}

/// Asserts that the full-text index matches the `messages` table exactly (no row missing, none
/// indexed twice).
fn assert_fts_in_step(dir: &Path) {
    raw(dir)
        .execute(
            "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
            [],
        )
        .expect("fts index matches the table");
}

#[test]
fn a_version_1_database_is_migrated_and_search_finds_old_and_new_messages() {
    let dir = tempfile::tempdir().unwrap();
    // A database exactly as version 1 wrote it: its schema, with the per-row insert trigger
    // indexing each message as it is stored.
    let old = raw(dir.path());
    old.pragma_update(None, "auto_vacuum", "INCREMENTAL")
        .unwrap();
    old.pragma_update(None, "journal_mode", "WAL").unwrap();
    old.execute_batch(MIGRATIONS[0]).unwrap();
    old.pragma_update(None, "user_version", 1).unwrap();
    for (seq, body) in [(1, "an old breakfast note"), (2, "old news at noon")] {
        old.execute(
            "INSERT INTO messages (peer, msg_id, direction, body, sent_at_ms, stored_at_ms, status)
             VALUES (?1, ?2, 'in', ?3, ?4, ?4, 'received')",
            rusqlite::params![
                peer(1).to_hex(),
                MessageId { stream: 1, seq }.to_hex(),
                body,
                seq
            ],
        )
        .unwrap();
    }
    drop(old);

    let mut store = open(dir.path());
    assert_eq!(store.settings().unwrap().schema_version, SCHEMA_VERSION);
    let triggers: Vec<String> = raw(dir.path())
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(triggers, ["messages_fts_delete", "messages_fts_update"]);
    // The rows stored before the migration stay indexed, once.
    assert_fts_in_step(dir.path());

    store
        .write_batch(&[
            WriteOp::Incoming {
                peer: peer(1),
                message: message(1, 3, "new breakfast plans"),
                received_at_ms: 3,
                network: None,
            },
            WriteOp::Outgoing {
                peer: peer(2),
                message: message(2, 1, "noon breakfast then"),
            },
        ])
        .unwrap();
    store
        .record_outgoing(peer(2), &message(2, 2, "a later note"))
        .unwrap();
    assert_fts_in_step(dir.path());

    let bodies = |query: &str| -> Vec<String> {
        store
            .search(query, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.message.body)
            .collect()
    };
    assert_eq!(
        bodies("breakfast"),
        [
            "noon breakfast then",
            "new breakfast plans",
            "an old breakfast note"
        ]
    );
    assert_eq!(bodies("noon"), ["noon breakfast then", "old news at noon"]);
    assert_eq!(bodies("note"), ["a later note", "an old breakfast note"]);

    // Retention deletes old and new rows alike and the index follows (the delete trigger).
    store.set_retention(RetentionPolicy {
        max_total: Some(2),
        ..RetentionPolicy::default()
    });
    assert_eq!(store.enforce_retention(0).unwrap().deleted(), 3);
    assert_fts_in_step(dir.path());
    drop(store);
    let store = open(dir.path());
    assert!(store.search("old", 10).unwrap().is_empty());
    assert_eq!(store.search("breakfast", 10).unwrap().len(), 1);
}

#[test]
fn batches_index_exactly_their_new_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let incoming = |seq: u64, body: &str| WriteOp::Incoming {
        peer: peer(1),
        message: message(1, seq, body),
        received_at_ms: seq,
        network: None,
    };
    // A batch with a duplicate and a state change between its inserts: only the new rows are
    // indexed, each once.
    store
        .write_batch(&[incoming(1, "alpha one"), incoming(2, "alpha two")])
        .unwrap();
    let applied = store
        .write_batch(&[
            WriteOp::ReadByMe {
                peer: peer(1),
                id: MessageId { stream: 1, seq: 1 },
                at_ms: 5,
            },
            incoming(2, "alpha two"),
            incoming(3, "alpha three"),
            WriteOp::Acked {
                peer: peer(1),
                id: MessageId { stream: 9, seq: 9 },
                at_ms: 5,
                network: None,
            },
        ])
        .unwrap();
    assert!(matches!(applied[1], Applied::AlreadyStored(_)));
    assert!(matches!(applied[2], Applied::Inserted(_)));
    // A batch without inserts leaves the index alone.
    store
        .write_batch(&[WriteOp::ReadByMe {
            peer: peer(1),
            id: MessageId { stream: 1, seq: 2 },
            at_ms: 6,
        }])
        .unwrap();
    assert_fts_in_step(dir.path());
    assert_eq!(store.search("alpha", 10).unwrap().len(), 3);
    assert_eq!(store.search("three", 10).unwrap().len(), 1);

    // A batch that fails leaves neither rows nor index entries behind.
    let settings = store.settings().unwrap();
    store
        .set_max_db_bytes(Some(settings.page_count * settings.page_size))
        .unwrap();
    let big = "x ".repeat(200_000);
    let error = store
        .write_batch(&[incoming(4, "alpha four"), incoming(5, &big)])
        .unwrap_err();
    assert!(matches!(error, StoreError::DiskFull(_)), "{error:?}");
    assert_fts_in_step(dir.path());
    assert_eq!(store.search("alpha", 10).unwrap().len(), 3);
}

#[test]
fn dedup_marks_keep_only_the_newest_streams_per_peer() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let alice = peer(1);
    let limit = skychat_core::MAX_STREAMS_PER_PEER as u64;
    let ops: Vec<WriteOp> = (1..=limit + 5)
        .map(|stream| WriteOp::Incoming {
            peer: alice,
            message: message(stream, 1, "hi"),
            received_at_ms: stream,
            network: None,
        })
        .collect();
    store.write_batch(&ops).unwrap();
    let streams: Vec<u64> = store
        .dedup_records()
        .unwrap()
        .iter()
        .map(|r| r.stream)
        .collect();
    assert_eq!(streams, (6..=limit + 5).collect::<Vec<_>>());
    assert_eq!(store.enforce_retention(0).unwrap().dedup_pruned, 5);
    let count: i64 = raw(dir.path())
        .query_row("SELECT count(*) FROM dedup", [], |row| row.get(0))
        .unwrap();
    assert_eq!(count as u64, limit);
}

/// Held by each throughput measurement, so that they run one at a time.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Group commit against one transaction per message. Run by hand for the numbers:
/// `cargo test --release -p skychat --test store -- --ignored --nocapture`.
#[test]
#[ignore = "throughput measurement, run by hand"]
fn throughput_of_batches_against_single_transactions() {
    let _alone = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    const N: u64 = 10_000;
    for durability in [Durability::ProcessCrash, Durability::PowerLoss] {
        for batch_size in [1usize, 10, 100, 1_000] {
            let dir = tempfile::tempdir().unwrap();
            let mut store = open_with(
                dir.path(),
                StoreOptions {
                    durability,
                    ..StoreOptions::default()
                },
            );
            let ops: Vec<WriteOp> = (1..=N)
                .map(|seq| WriteOp::Incoming {
                    peer: peer(1),
                    message: message(1, seq, "a message of ordinary length, about fifty bytes"),
                    received_at_ms: seq,
                    network: None,
                })
                .collect();
            let started = Instant::now();
            for chunk in ops.chunks(batch_size) {
                store.write_batch(chunk).unwrap();
            }
            let elapsed = started.elapsed();
            assert_eq!(store.counts().unwrap().incoming, N);
            println!(
                "{durability:?} batch {batch_size:>5}: {N} messages in {:>8.1} ms = {:>9.0} msg/s",
                elapsed.as_secs_f64() * 1e3,
                N as f64 / elapsed.as_secs_f64()
            );
        }
    }
}

/// The sending side: each message written once when accepted, then acked, in batches of the
/// given size. Run by hand with the test above.
#[test]
#[ignore = "throughput measurement, run by hand"]
fn throughput_of_the_sending_side_in_batches() {
    let _alone = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    const N: u64 = 10_000;
    for batch_size in [1usize, 10, 100, 1_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        let messages: Vec<ChatMessage> = (1..=N)
            .map(|seq| message(1, seq, "a message of ordinary length, about fifty bytes"))
            .collect();
        let started = Instant::now();
        for (chunk, at_ms) in messages.chunks(batch_size).zip(1..) {
            let accepted: Vec<WriteOp> = chunk
                .iter()
                .map(|m| WriteOp::Outgoing {
                    peer: peer(1),
                    message: m.clone(),
                })
                .collect();
            store.write_batch(&accepted).unwrap();
            let acks: Vec<WriteOp> = chunk
                .iter()
                .map(|m| WriteOp::Acked {
                    peer: peer(1),
                    id: m.id,
                    at_ms,
                    network: None,
                })
                .collect();
            store.write_batch(&acks).unwrap();
        }
        let elapsed = started.elapsed();
        assert!(store.outbox().unwrap().is_empty());
        println!(
            "sending, batch {batch_size:>5}: {N} messages accepted and acked in {:>8.1} ms = \
             {:>9.0} msg/s",
            elapsed.as_secs_f64() * 1e3,
            N as f64 / elapsed.as_secs_f64()
        );
    }
}

/// How a batch of acks is best written: the store's one prepared `UPDATE` per ack by the row id
/// it keeps for the outbox, one prepared `UPDATE` per ack by peer and message id, or one
/// `UPDATE` with an `IN` list of row ids. Run by hand with the tests above.
#[test]
#[ignore = "throughput measurement, run by hand"]
fn throughput_of_ack_batches_by_statement_shape() {
    let _alone = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    const N: u64 = 20_000;
    let fill = |dir: &Path| -> Vec<(MessageId, i64)> {
        let mut store = open(dir);
        let ops: Vec<WriteOp> = (1..=N)
            .map(|seq| WriteOp::Outgoing {
                peer: peer(1),
                message: message(1, seq, "a message of ordinary length, about fifty bytes"),
            })
            .collect();
        let applied = store.write_batch(&ops).unwrap();
        (1..=N)
            .map(|seq| MessageId { stream: 1, seq })
            .zip(applied.iter().map(|a| a.row().unwrap()))
            .collect()
    };
    let report = |shape: &str, batch: usize, elapsed: Duration| {
        println!(
            "acks by {shape:<28} batch {batch:>5}: {N} in {:>7.1} ms = {:>9.0} acks/s",
            elapsed.as_secs_f64() * 1e3,
            N as f64 / elapsed.as_secs_f64()
        );
    };
    let id_blob = |id: MessageId| hex::decode(id.to_hex()).unwrap();
    for batch in [100usize, 1_000] {
        let dir = tempfile::tempdir().unwrap();
        let sent = fill(dir.path());
        let mut store = open(dir.path());
        let started = Instant::now();
        for chunk in sent.chunks(batch) {
            let acks: Vec<WriteOp> = chunk
                .iter()
                .map(|(id, _)| WriteOp::Acked {
                    peer: peer(1),
                    id: *id,
                    at_ms: 7,
                    network: None,
                })
                .collect();
            store.write_batch(&acks).unwrap();
        }
        report("row id per ack (the store)", batch, started.elapsed());
        assert!(store.outbox().unwrap().is_empty());

        let dir = tempfile::tempdir().unwrap();
        let sent = fill(dir.path());
        let mut conn = raw(dir.path());
        let peer_id: i64 = conn
            .query_row(
                "SELECT id FROM peers WHERE key = ?1",
                [peer(1).to_hex()],
                |row| row.get(0),
            )
            .unwrap();
        let blobs: Vec<Vec<u8>> = sent.iter().map(|(id, _)| id_blob(*id)).collect();
        let started = Instant::now();
        for chunk in blobs.chunks(batch) {
            let tx = conn.transaction().unwrap();
            {
                let mut update = tx
                    .prepare_cached(
                        "UPDATE messages SET acked_at_ms = ?1, in_outbox = 0
                         WHERE peer_id = ?2 AND direction = 'out' AND in_outbox = 1
                           AND msg_id = ?3",
                    )
                    .unwrap();
                for blob in chunk {
                    update.execute(rusqlite::params![7, peer_id, blob]).unwrap();
                }
            }
            tx.commit().unwrap();
        }
        report("message id per ack", batch, started.elapsed());

        let dir = tempfile::tempdir().unwrap();
        let sent = fill(dir.path());
        let mut conn = raw(dir.path());
        let started = Instant::now();
        for chunk in sent.chunks(batch) {
            let rows: Vec<String> = chunk.iter().map(|(_, row)| row.to_string()).collect();
            let tx = conn.transaction().unwrap();
            tx.execute(
                &format!(
                    "UPDATE messages SET acked_at_ms = ?1, in_outbox = 0
                     WHERE row_id IN ({}) AND in_outbox = 1",
                    rows.join(",")
                ),
                [7],
            )
            .unwrap();
            tx.commit().unwrap();
        }
        report("IN list of row ids", batch, started.elapsed());
    }
}

#[test]
fn a_data_dir_that_cannot_be_created_is_an_io_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"a file").unwrap();
    let error = Store::open(&blocker.join("data"), StoreOptions::default()).unwrap_err();
    assert!(matches!(error, StoreError::Io { .. }), "{error:?}");
    assert_eq!(error.http_status(), 500);
    assert!(error.to_string().contains("not-a-dir"), "{error}");
}
