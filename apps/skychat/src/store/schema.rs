//! The database schema and its migrations, versioned by `PRAGMA user_version`.
//!
//! Version 1:
//!
//! - `messages`: one row per message either way. `row_id` is `AUTOINCREMENT`, so it grows with
//!   storage order and is never reused, even after retention deletes rows. Ids and keys are
//!   lowercase hex text; times are ms since the Unix epoch. `in_outbox = 1` marks outgoing
//!   messages not yet acked, kept in `row_id` (insertion) order.
//! - `dedup`: per peer and sender stream, the highest sequence stored. The stream, a `u64`, is
//!   stored bit-cast to SQLite's signed 64-bit integer.
//! - `messages_fts`: an FTS5 index over `messages.body` (external content), kept in step by
//!   triggers on insert, update and delete.
//!
//! Version 2 drops the insert trigger: [`Store::write_batch`](super::Store::write_batch) indexes
//! a batch's new rows with one statement before it commits, so FTS5 writes one index segment per
//! batch instead of one per message (FTS5 flushes its pending terms at every statement). Rows
//! stored before the migration are already indexed; the update and delete triggers stay.
//!
//! Version 3 adds `messages.idempotency_key`: the key a client gave when it sent the message
//! (`NULL` for messages sent without one and for every incoming message), unique where present.
//! It lives and goes with its message row, so retention deletes the key with the message.
//!
//! Version 4 adds `messages.deleted_at_ms`: when the sender deleted an incoming message (a Go
//! skychat peer's `chat-delete`), `NULL` while it stands. A deleted message keeps its row, id,
//! times and `reply_to`, and its body becomes empty (the update trigger takes the old text out of
//! the full-text index).
//!
//! Version 5 keeps every row and makes them smaller and cheaper to index:
//!
//! - `peers`: one row per peer, `id INTEGER PRIMARY KEY` and its key (`key`, either suite's:
//!   64 or 66 hex), unique. `messages.peer_id` and `dedup.peer_id` refer to it instead of
//!   repeating the 64- or 66-character key in every row and index entry.
//! - `messages.msg_id` and `messages.reply_to` are BLOBs: the bytes of the id's hex form (see
//!   [`codec`](super::codec)), 16 bytes, or 8 for a Go skychat peer's id.
//! - No `status` column: a message's status follows from its direction, `acked_at_ms` and
//!   `read_at_ms` (`queued`, `acked`, `read`, `received`;
//!   [`Status::of`](super::Status::of)). The `sent` and `failed` states of version 1 were never
//!   written by the app; a version-4 row in one of them reads as `queued` (`sent` rows are still
//!   in the outbox, as they were).
//! - The row ids, and with them the history cursors clients hold and the full-text index, are
//!   kept, and so is the `AUTOINCREMENT` counter: ids are never reused across the migration.
//! - The indexes are those the queries use: the unique (peer, direction, id) of the dedup on
//!   insert and of the ack and read updates, history by peer, the outbox in order, unread per
//!   peer, retention by storage time, and idempotency keys.
//!
//! Version 6 drops two indexes that every received message paid for and no frequent query
//! needs: `messages_unread` (the one statement that used it, marking a peer's messages read,
//! finds them through the unique (peer, direction, id) index) and `messages_by_stored_at` (only
//! the TTL rule of retention, which runs every few minutes and scans the table as the caps
//! already do). The rows stay as they are.
//!
//! It also rebuilds `messages_fts` with `columnsize = 0`: FTS5 then keeps no per-row table of
//! token counts (`messages_fts_docsize`, a row written for every message), which only ranking
//! functions such as `bm25` read; search orders by row id. The rebuild indexes every stored body
//! again (a deleted message's is empty), once.
//!
//! Version 7 adds `messages.network`: the network each message went over.
//!
//! Version 8 adds the local names of peers: `peers.alias`, the text the user chose (trimmed,
//! `NULL` for none), and `peers.alias_folded`, the same text in lower case, unique where
//! present, so that no two peers of one store have aliases that differ only by case. Setting an
//! alias adds the peer's row if it had none (a peer may be named before any message).
//!
//! Version 9 adds `peers.dial_addr`: the TCP-direct `host:port` of a peer added with an invite
//! or a `tcp://` address through `POST /peers` (`NULL` for none). The node keeps a persistent
//! link to every peer with one, from start to stop, as it does for a `--tcp-peer`.
//!
//! Version 10 adds the user's choices per peer: `peers.blocked` (the node refuses the peer on
//! every network and never dials it) and `peers.muted` (the web page does not notify), each 0
//! or 1.

use rusqlite::{Connection, TransactionBehavior};

use super::error::{Result, StoreError};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 10;

/// Migration `i` takes the schema from version `i` to `i + 1`. Public so that tests can build a
/// database of an older version exactly as that version wrote it.
pub const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [V1, V2, V3, V4, V5, V6, V7, V8, V9, V10];

const V1: &str = "
CREATE TABLE messages (
    row_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    peer          TEXT    NOT NULL,
    msg_id        TEXT    NOT NULL,
    direction     TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    body          TEXT    NOT NULL,
    sent_at_ms    INTEGER NOT NULL,
    stored_at_ms  INTEGER NOT NULL,
    reply_to      TEXT,
    status        TEXT    NOT NULL
                  CHECK (status IN ('queued', 'sent', 'acked', 'read', 'failed', 'received')),
    acked_at_ms   INTEGER,
    read_at_ms    INTEGER,
    in_outbox     INTEGER NOT NULL DEFAULT 0 CHECK (in_outbox IN (0, 1)),
    UNIQUE (peer, direction, msg_id)
);
CREATE INDEX messages_by_peer ON messages (peer, row_id);
CREATE INDEX messages_by_stored_at ON messages (stored_at_ms);
CREATE INDEX messages_outbox ON messages (row_id) WHERE in_outbox = 1;
CREATE INDEX messages_unread ON messages (peer) WHERE direction = 'in' AND read_at_ms IS NULL;

CREATE TABLE dedup (
    peer        TEXT    NOT NULL,
    stream      INTEGER NOT NULL,
    stored_seq  INTEGER NOT NULL,
    updated_row INTEGER NOT NULL,
    PRIMARY KEY (peer, stream)
) WITHOUT ROWID;

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body,
    content = 'messages',
    content_rowid = 'row_id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.row_id, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.row_id, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.row_id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.row_id, new.body);
END;
";

const V2: &str = "
DROP TRIGGER messages_fts_insert;
";

const V3: &str = "
ALTER TABLE messages ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX messages_by_idempotency_key ON messages (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
";

const V4: &str = "
ALTER TABLE messages ADD COLUMN deleted_at_ms INTEGER;
";

const V5: &str = "
CREATE TABLE peers (
    id  INTEGER PRIMARY KEY,
    key TEXT    NOT NULL UNIQUE
);
INSERT INTO peers (key) SELECT peer FROM messages UNION SELECT peer FROM dedup;

CREATE TABLE messages_v5 (
    row_id          INTEGER PRIMARY KEY AUTOINCREMENT,
    peer_id         INTEGER NOT NULL REFERENCES peers (id),
    direction       TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    msg_id          BLOB    NOT NULL,
    body            TEXT    NOT NULL,
    sent_at_ms      INTEGER NOT NULL,
    stored_at_ms    INTEGER NOT NULL,
    reply_to        BLOB,
    acked_at_ms     INTEGER,
    read_at_ms      INTEGER,
    in_outbox       INTEGER NOT NULL DEFAULT 0 CHECK (in_outbox IN (0, 1)),
    idempotency_key TEXT,
    deleted_at_ms   INTEGER,
    UNIQUE (peer_id, direction, msg_id)
);
INSERT INTO messages_v5
    (row_id, peer_id, direction, msg_id, body, sent_at_ms, stored_at_ms, reply_to, acked_at_ms,
     read_at_ms, in_outbox, idempotency_key, deleted_at_ms)
SELECT m.row_id, p.id, m.direction, unhex(m.msg_id), m.body, m.sent_at_ms, m.stored_at_ms,
       unhex(m.reply_to), m.acked_at_ms, m.read_at_ms, m.in_outbox, m.idempotency_key,
       m.deleted_at_ms
FROM messages m JOIN peers p ON p.key = m.peer
ORDER BY m.row_id;
-- The new table takes over the old one's AUTOINCREMENT counter (dropping a table drops its
-- counter; renaming one renames it).
DELETE FROM sqlite_sequence WHERE name = 'messages_v5';
UPDATE sqlite_sequence SET name = 'messages_v5' WHERE name = 'messages';
DROP TABLE messages;
ALTER TABLE messages_v5 RENAME TO messages;

CREATE INDEX messages_by_peer ON messages (peer_id, row_id);
CREATE INDEX messages_by_stored_at ON messages (stored_at_ms);
CREATE INDEX messages_outbox ON messages (row_id) WHERE in_outbox = 1;
CREATE INDEX messages_unread ON messages (peer_id) WHERE direction = 'in' AND read_at_ms IS NULL;
CREATE UNIQUE INDEX messages_by_idempotency_key ON messages (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.row_id, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.row_id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.row_id, new.body);
END;

CREATE TABLE dedup_v5 (
    peer_id     INTEGER NOT NULL REFERENCES peers (id),
    stream      INTEGER NOT NULL,
    stored_seq  INTEGER NOT NULL,
    updated_row INTEGER NOT NULL,
    PRIMARY KEY (peer_id, stream)
) WITHOUT ROWID;
INSERT INTO dedup_v5 (peer_id, stream, stored_seq, updated_row)
SELECT p.id, d.stream, d.stored_seq, d.updated_row FROM dedup d JOIN peers p ON p.key = d.peer;
DROP TABLE dedup;
ALTER TABLE dedup_v5 RENAME TO dedup;
";

const V6: &str = "
DROP INDEX messages_unread;
DROP INDEX messages_by_stored_at;

DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body,
    content = 'messages',
    content_rowid = 'row_id',
    columnsize = 0,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
";

/// Version 7: the network each message went over (`0` TCP-direct, `1` skynet, `2` dmsg; NULL
/// while an outgoing message waits for its ack). Every message stored before was TCP-direct:
/// there was no other network.
const V7: &str = "
ALTER TABLE messages ADD COLUMN network INTEGER;
UPDATE messages SET network = 0 WHERE direction = 'in' OR acked_at_ms IS NOT NULL OR read_at_ms IS NOT NULL;
";

/// Version 8: an optional alias per peer, unique ignoring case (see the module docs).
const V8: &str = "
ALTER TABLE peers ADD COLUMN alias TEXT;
ALTER TABLE peers ADD COLUMN alias_folded TEXT;
CREATE UNIQUE INDEX peers_by_alias ON peers (alias_folded) WHERE alias_folded IS NOT NULL;
";

/// Version 9: the remembered dial address of a peer (see the module docs).
const V9: &str = "
ALTER TABLE peers ADD COLUMN dial_addr TEXT;
";

/// Version 10: blocked and muted peers (see the module docs).
const V10: &str = "
ALTER TABLE peers ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE peers ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
";

/// Gives a brand-new, empty database `auto_vacuum = INCREMENTAL`. Call it before anything else
/// touches the file, even before switching to WAL: afterwards the setting no longer takes.
pub fn prepare_new(conn: &Connection) -> Result<()> {
    if is_empty(conn)? {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    Ok(())
}

/// Brings the database up to [`SCHEMA_VERSION`], one migration per transaction.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::UnsupportedSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for version in found..SCHEMA_VERSION {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(MIGRATIONS[version as usize])?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn is_empty(conn: &Connection) -> Result<bool> {
    let objects: i64 =
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
    Ok(objects == 0)
}
