//! The row of every message in the outbox, kept in memory next to the connection, so that an
//! ack updates its message by row id instead of looking the row up by peer, direction and id in
//! the unique index. Loaded when the store opens; a transaction's changes join it only if it
//! commits, like [`PeerIds`](super::peer_ids::PeerIds).

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;
use skychat_core::MessageId;

use super::codec::id_at;
use super::error::Result;

/// A message of the outbox: its peer's id and its id.
pub(super) type Key = (i64, MessageId);

/// The outbox's rows.
#[derive(Debug, Default)]
pub(super) struct OutboxRows {
    rows: HashMap<Key, i64>,
}

/// What one transaction did to the outbox, applied by [`OutboxRows::apply`] once it commits.
#[derive(Debug, Default)]
pub(super) struct Changes {
    entered: HashMap<Key, i64>,
    left: HashSet<Key>,
}

impl OutboxRows {
    /// Reads the outbox's rows from the database.
    pub(super) fn load(conn: &Connection) -> Result<Self> {
        let mut statement =
            conn.prepare("SELECT peer_id, msg_id, row_id FROM messages WHERE in_outbox = 1")?;
        let mut found = statement.query([])?;
        let mut rows = HashMap::new();
        while let Some(row) = found.next()? {
            rows.insert((row.get(0)?, id_at(row, 1)?), row.get(2)?);
        }
        Ok(Self { rows })
    }

    /// The row of `key` if it is in the outbox, as the open transaction made `changes` so far.
    pub(super) fn row(&self, changes: &Changes, key: &Key) -> Option<i64> {
        if changes.left.contains(key) {
            return None;
        }
        changes
            .entered
            .get(key)
            .or_else(|| self.rows.get(key))
            .copied()
    }

    /// Takes in the changes of a committed transaction.
    pub(super) fn apply(&mut self, changes: Changes) {
        self.rows.extend(changes.entered);
        for key in &changes.left {
            self.rows.remove(key);
        }
    }
}

impl Changes {
    /// A message entered the outbox in row `row` (a key that left earlier in the transaction
    /// may come back for another row: a cancellation renumbers the later messages).
    pub(super) fn entered(&mut self, key: Key, row: i64) {
        self.left.remove(&key);
        self.entered.insert(key, row);
    }

    /// A message left the outbox.
    pub(super) fn left(&mut self, key: Key) {
        self.entered.remove(&key);
        self.left.insert(key);
    }
}
