//! Writes: recording messages both ways, delivery and read state changes, and group commit.
//!
//! Every write goes through [`Store::write_batch`], which applies its operations in order in one
//! `BEGIN IMMEDIATE` transaction: all of them commit together or none does. The one-operation
//! methods are batches of one. Within a batch:
//!
//! - a message is one row, written once: an outgoing one with its idempotency key, in the
//!   outbox; an incoming one unread;
//! - an ack updates its message by row id (the outbox's rows are kept in memory);
//! - each sender stream's dedup mark moves once, to the batch's highest sequence of it;
//! - the new messages enter the full-text index together, in one statement before the commit.

use std::collections::BTreeMap;

use rusqlite::{CachedStatement, Connection, OptionalExtension, TransactionBehavior, params};
use skychat_core::{ChatMessage, MessageId, Network, PublicKey, Suite};

use super::codec::{IdBytes, network_to_sql, to_sql};
use super::error::Result;
use super::outbox_rows::{Changes, OutboxRows};
use super::peer_ids::{Added, PeerIds};
use super::{Direction, Store};

/// One write for [`Store::write_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// A message this node accepted for sending to `peer`: stored
    /// [queued](super::Status::Queued), in the outbox. Its `sent_at_ms` is its storage time.
    Outgoing {
        /// The recipient.
        peer: PublicKey,
        /// The message.
        message: ChatMessage,
    },
    /// Like [`WriteOp::Outgoing`], together with the idempotency key the client sent it with.
    /// The key must not be stored yet (keys are unique); look it up first with
    /// [`Store::message_by_idempotency_key`].
    OutgoingWithKey {
        /// The recipient.
        peer: PublicKey,
        /// The message.
        message: ChatMessage,
        /// The client's key for this send.
        idempotency_key: String,
    },
    /// A message received from `peer`, stored [unread](super::Status::Received). In the same
    /// transaction the dedup mark of the message's stream moves up to its sequence (messages of
    /// a stream arrive in order, so the mark is the highest sequence stored); a Skywire-suite
    /// peer's messages have no streams and get no mark (the unique id per peer catches their
    /// duplicates). A message already stored (same peer and id) is left alone.
    Incoming {
        /// The sender.
        peer: PublicKey,
        /// The message.
        message: ChatMessage,
        /// When it arrived, in ms since the Unix epoch.
        received_at_ms: u64,
        /// The network of the session it arrived on.
        network: Option<Network>,
    },
    /// The peer acked (stored) an outgoing message: it leaves the outbox and becomes `Acked`
    /// (a message already read or acked is left alone).
    Acked {
        /// The recipient.
        peer: PublicKey,
        /// The message.
        id: MessageId,
        /// When the ack arrived.
        at_ms: u64,
        /// The network of the session the ack came over.
        network: Option<Network>,
    },
    /// The peer read an outgoing message: it becomes `Read` and leaves the outbox (a read
    /// message was certainly stored).
    ReadByPeer {
        /// The reader.
        peer: PublicKey,
        /// The message.
        id: MessageId,
        /// When the receipt arrived.
        at_ms: u64,
    },
    /// An incoming message was read here: it becomes `Read`.
    ReadByMe {
        /// The sender.
        peer: PublicKey,
        /// The message.
        id: MessageId,
        /// When it was read.
        at_ms: u64,
    },
    /// The peer deleted a message it sent us (a Go skychat peer's `chat-delete`): the incoming
    /// message keeps its row with an empty body (out of the full-text index) and the time of the
    /// deletion. Only incoming messages from `peer` match: a peer cannot delete ours.
    DeletedByPeer {
        /// The sender, who deleted it.
        peer: PublicKey,
        /// The message.
        id: MessageId,
        /// When the deletion arrived.
        at_ms: u64,
    },
    /// A message from an export file (see the service's `archive`): stored as history, never in
    /// the outbox; nothing happens if the conversation already has a message of that direction
    /// and id.
    Imported {
        /// The other side of the conversation.
        peer: PublicKey,
        /// Which way it travelled.
        direction: Direction,
        /// The message.
        message: ChatMessage,
        /// Its times, as the export gave them.
        times: ImportedTimes,
        /// The network it went over, if known.
        network: Option<Network>,
    },
    /// This node's user cancelled the message `id` to `peer` before it went out: its row goes,
    /// and the later messages of the conversation take the ids the node gave them instead.
    Cancelled {
        /// The recipient.
        peer: PublicKey,
        /// The cancelled message.
        id: MessageId,
        /// The later messages' old and new ids, oldest first.
        renumbered: Vec<(MessageId, MessageId)>,
    },
    /// This node's user deleted the message `id` of the conversation with `peer`: the row keeps
    /// its place with an empty body (out of the full-text index) and the time of the deletion.
    /// With `outgoing_only`, only a message this node sent matches (a deletion for everyone).
    DeletedByMe {
        /// The conversation.
        peer: PublicKey,
        /// The message.
        id: MessageId,
        /// When it was deleted.
        at_ms: u64,
        /// Match only a message this node sent.
        outgoing_only: bool,
    },
}

/// The times an imported message keeps, in ms since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportedTimes {
    /// When it was stored (received, or accepted for sending).
    pub stored_at_ms: u64,
    /// Outgoing: when the peer's ack arrived.
    pub acked_at_ms: Option<u64>,
    /// When it was read.
    pub read_at_ms: Option<u64>,
    /// When it was deleted.
    pub deleted_at_ms: Option<u64>,
}

/// What one [`WriteOp`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A new message was stored in this row.
    Inserted(i64),
    /// The message was already stored in this row; nothing changed.
    AlreadyStored(i64),
    /// The state of the message in this row changed.
    Updated(i64),
    /// No stored message matched, or it was already in that state (or past it).
    Unchanged,
}

impl Applied {
    /// The row written or found, if any.
    pub fn row(self) -> Option<i64> {
        match self {
            Self::Inserted(row) | Self::AlreadyStored(row) | Self::Updated(row) => Some(row),
            Self::Unchanged => None,
        }
    }

    /// Whether anything changed.
    pub fn changed(self) -> bool {
        matches!(self, Self::Inserted(_) | Self::Updated(_))
    }
}

impl Store {
    /// Applies `ops` in order in one transaction and returns what each did. On error nothing of
    /// the batch is stored.
    pub fn write_batch(&mut self, ops: &[WriteOp]) -> Result<Vec<Applied>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut batch = BatchWriter::new(&tx, &self.peer_ids, &self.outbox_rows)?;
        let applied = ops
            .iter()
            .map(|op| batch.apply(op))
            .collect::<Result<Vec<_>>>()?;
        let (added, outbox) = batch.finish()?;
        tx.commit()?;
        self.peer_ids.remember(added);
        self.outbox_rows.apply(outbox);
        Ok(applied)
    }

    fn write_one(&mut self, op: WriteOp) -> Result<Applied> {
        Ok(self.write_batch(std::slice::from_ref(&op))?[0])
    }

    /// Stores a message accepted for sending to `peer` as queued and in the outbox, and returns
    /// its row (the existing row if this message was stored before).
    pub fn record_outgoing(&mut self, peer: PublicKey, message: &ChatMessage) -> Result<i64> {
        let applied = self.write_one(WriteOp::Outgoing {
            peer,
            message: message.clone(),
        })?;
        Ok(applied.row().expect("an insert always yields a row"))
    }

    /// Stores a message received from `peer` and advances its stream's dedup mark, together.
    pub fn record_incoming(
        &mut self,
        peer: PublicKey,
        message: &ChatMessage,
        received_at_ms: u64,
    ) -> Result<Applied> {
        self.write_one(WriteOp::Incoming {
            peer,
            message: message.clone(),
            received_at_ms,
            network: None,
        })
    }

    /// Marks an outgoing message as acked by the peer; it leaves the outbox.
    pub fn mark_acked(&mut self, peer: PublicKey, id: MessageId, at_ms: u64) -> Result<bool> {
        Ok(self
            .write_one(WriteOp::Acked {
                peer,
                id,
                at_ms,
                network: None,
            })?
            .changed())
    }

    /// Marks an outgoing message as read by the peer (a read receipt arrived).
    pub fn mark_read(&mut self, peer: PublicKey, id: MessageId, at_ms: u64) -> Result<bool> {
        Ok(self
            .write_one(WriteOp::ReadByPeer { peer, id, at_ms })?
            .changed())
    }

    /// Marks an incoming message as read here.
    pub fn mark_read_by_me(&mut self, peer: PublicKey, id: MessageId, at_ms: u64) -> Result<bool> {
        Ok(self
            .write_one(WriteOp::ReadByMe { peer, id, at_ms })?
            .changed())
    }

    /// Records that `peer` deleted the message `id` it sent us. Returns whether it changed.
    pub fn mark_deleted_by_peer(
        &mut self,
        peer: PublicKey,
        id: MessageId,
        at_ms: u64,
    ) -> Result<bool> {
        Ok(self
            .write_one(WriteOp::DeletedByPeer { peer, id, at_ms })?
            .changed())
    }

    /// Marks every unread incoming message from `peer` as read here, and returns how many.
    pub fn mark_peer_read_by_me(&mut self, peer: PublicKey, at_ms: u64) -> Result<usize> {
        let Some(peer_id) = self.peer_ids.lookup(&self.conn, &peer)? else {
            return Ok(0);
        };
        let changed = self.conn.execute(
            "UPDATE messages SET read_at_ms = ?2
             WHERE peer_id = ?1 AND direction = 'in' AND read_at_ms IS NULL",
            params![peer_id, to_sql(at_ms)],
        )?;
        Ok(changed)
    }
}

const INSERT: &str = "INSERT INTO messages
         (peer_id, direction, msg_id, body, sent_at_ms, stored_at_ms, reply_to, in_outbox,
          idempotency_key, network)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
     ON CONFLICT (peer_id, direction, msg_id) DO NOTHING";

/// One batch's transaction: the insert statement prepared once, the peers the batch added, the
/// messages it puts in and takes out of the outbox, the dedup marks it moves, and its first row
/// not yet in the full-text index.
struct BatchWriter<'c> {
    conn: &'c Connection,
    peers: &'c PeerIds,
    added: Added,
    outbox: &'c OutboxRows,
    outbox_changes: Changes,
    insert: CachedStatement<'c>,
    /// Per (peer id, stream): the highest sequence stored and the row that stored it.
    marks: BTreeMap<(i64, u64), (u64, i64)>,
    unindexed: Option<i64>,
}

impl<'c> BatchWriter<'c> {
    fn new(conn: &'c Connection, peers: &'c PeerIds, outbox: &'c OutboxRows) -> Result<Self> {
        Ok(Self {
            conn,
            peers,
            added: Added::new(),
            outbox,
            outbox_changes: Changes::default(),
            insert: conn.prepare_cached(INSERT)?,
            marks: BTreeMap::new(),
            unindexed: None,
        })
    }

    fn apply(&mut self, op: &WriteOp) -> Result<Applied> {
        match op {
            WriteOp::Outgoing { peer, message } => self.insert_out(*peer, message, None),
            WriteOp::OutgoingWithKey {
                peer,
                message,
                idempotency_key,
            } => self.insert_out(*peer, message, Some(idempotency_key)),
            WriteOp::Incoming {
                peer,
                message,
                received_at_ms,
                network,
            } => self.insert_in(*peer, message, *received_at_ms, *network),
            WriteOp::Acked {
                peer,
                id,
                at_ms,
                network,
            } => self.acked(peer, *id, *at_ms, *network),
            WriteOp::ReadByPeer { peer, id, at_ms } => {
                let applied = self.update(
                    "UPDATE messages
                     SET read_at_ms = ?3, acked_at_ms = coalesce(acked_at_ms, ?3), in_outbox = 0
                     WHERE peer_id = ?1 AND direction = 'out' AND msg_id = ?2
                       AND read_at_ms IS NULL
                     RETURNING row_id",
                    peer,
                    *id,
                    *at_ms,
                )?;
                // A read message leaves the outbox, if it was still there.
                if applied.changed()
                    && let Some(peer_id) = self.peers.lookup_in(self.conn, &self.added, peer)?
                {
                    self.outbox_changes.left((peer_id, *id));
                }
                Ok(applied)
            }
            WriteOp::ReadByMe { peer, id, at_ms } => self.update(
                "UPDATE messages SET read_at_ms = ?3
                 WHERE peer_id = ?1 AND direction = 'in' AND msg_id = ?2 AND read_at_ms IS NULL
                 RETURNING row_id",
                peer,
                *id,
                *at_ms,
            ),
            WriteOp::DeletedByPeer { peer, id, at_ms } => {
                // The update trigger takes the old text out of the index: rows inserted earlier
                // in the batch must be in it by then.
                self.index_new_rows()?;
                self.update(
                    "UPDATE messages SET body = '', deleted_at_ms = ?3
                     WHERE peer_id = ?1 AND direction = 'in' AND msg_id = ?2
                       AND deleted_at_ms IS NULL
                     RETURNING row_id",
                    peer,
                    *id,
                    *at_ms,
                )
            }
            WriteOp::Cancelled {
                peer,
                id,
                renumbered,
            } => self.cancel(peer, *id, renumbered),
            WriteOp::Imported {
                peer,
                direction,
                message,
                times,
                network,
            } => self.insert_imported(*peer, *direction, message, times, *network),
            WriteOp::DeletedByMe {
                peer,
                id,
                at_ms,
                outgoing_only,
            } => {
                self.index_new_rows()?;
                let sql = if *outgoing_only {
                    "UPDATE messages SET body = '', deleted_at_ms = ?3
                     WHERE peer_id = ?1 AND direction = 'out' AND msg_id = ?2
                       AND deleted_at_ms IS NULL
                     RETURNING row_id"
                } else {
                    "UPDATE messages SET body = '', deleted_at_ms = ?3
                     WHERE peer_id = ?1 AND msg_id = ?2 AND deleted_at_ms IS NULL
                     RETURNING row_id"
                };
                self.update(sql, peer, *id, *at_ms)
            }
        }
    }

    fn insert_out(
        &mut self,
        peer: PublicKey,
        message: &ChatMessage,
        idempotency_key: Option<&str>,
    ) -> Result<Applied> {
        let peer_id = self.peers.resolve(self.conn, &mut self.added, peer)?;
        // An outgoing message is stored when it is accepted, so its send time is its storage
        // time.
        let applied = self.insert(
            peer_id,
            "out",
            message,
            message.sent_at_ms,
            idempotency_key,
            None,
        )?;
        if let Applied::Inserted(row) = applied {
            self.outbox_changes.entered((peer_id, message.id), row);
        }
        Ok(applied)
    }

    fn insert_in(
        &mut self,
        peer: PublicKey,
        message: &ChatMessage,
        received_at_ms: u64,
        network: Option<Network>,
    ) -> Result<Applied> {
        let peer_id = self.peers.resolve(self.conn, &mut self.added, peer)?;
        let applied = self.insert(peer_id, "in", message, received_at_ms, None, network)?;
        // Messages of a stream arrive in order, so the mark is the highest sequence stored. A
        // Skywire-suite peer's messages have no streams: the unique id per peer catches their
        // duplicates.
        if let Applied::Inserted(row) = applied
            && peer.suite() == Suite::Native
        {
            let mark = self
                .marks
                .entry((peer_id, message.id.stream))
                .or_insert((message.id.seq, row));
            *mark = (mark.0.max(message.id.seq), row);
        }
        Ok(applied)
    }

    fn insert(
        &mut self,
        peer_id: i64,
        direction: &str,
        message: &ChatMessage,
        stored_at_ms: u64,
        idempotency_key: Option<&str>,
        network: Option<Network>,
    ) -> Result<Applied> {
        let id = IdBytes::of(message.id);
        // Without `RETURNING`, which would buffer its rows in a temporary table per statement.
        let inserted = self.insert.execute(params![
            peer_id,
            direction,
            id,
            message.body,
            to_sql(message.sent_at_ms),
            to_sql(stored_at_ms),
            message.reply_to.map(IdBytes::of),
            direction == "out",
            idempotency_key,
            network.map(network_to_sql),
        ])?;
        if inserted == 1 {
            let row = self.conn.last_insert_rowid();
            self.unindexed.get_or_insert(row);
            return Ok(Applied::Inserted(row));
        }
        let existing = self
            .conn
            .prepare_cached(
                "SELECT row_id FROM messages
                 WHERE peer_id = ?1 AND direction = ?2 AND msg_id = ?3",
            )?
            .query_row(params![peer_id, direction, id], |row| row.get(0))?;
        Ok(Applied::AlreadyStored(existing))
    }

    /// The ack of `id` from `peer` at `at_ms`: a message still in the outbox is updated by its
    /// row id, which the outbox keeps in memory; one acked already (or twice in a batch) is
    /// left alone.
    fn acked(
        &mut self,
        peer: &PublicKey,
        id: MessageId,
        at_ms: u64,
        network: Option<Network>,
    ) -> Result<Applied> {
        let Some(peer_id) = self.peers.lookup_in(self.conn, &self.added, peer)? else {
            return Ok(Applied::Unchanged);
        };
        let key = (peer_id, id);
        let Some(row) = self.outbox.row(&self.outbox_changes, &key) else {
            return Ok(Applied::Unchanged);
        };
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE messages SET acked_at_ms = ?1, in_outbox = 0, network = ?3
                 WHERE row_id = ?2 AND in_outbox = 1",
            )?
            .execute(params![to_sql(at_ms), row, network.map(network_to_sql)])?;
        self.outbox_changes.left(key);
        Ok(if changed == 1 {
            Applied::Updated(row)
        } else {
            Applied::Unchanged
        })
    }

    /// Runs one state change (`sql`, matching one message by `peer_id = ?1 AND msg_id = ?2`,
    /// with `?3` the time, and returning its row).
    fn insert_imported(
        &mut self,
        peer: PublicKey,
        direction: Direction,
        message: &ChatMessage,
        times: &ImportedTimes,
        network: Option<Network>,
    ) -> Result<Applied> {
        let peer_id = self.peers.resolve(self.conn, &mut self.added, peer)?;
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO messages
                     (peer_id, direction, msg_id, body, sent_at_ms, stored_at_ms, reply_to,
                      in_outbox, network, acked_at_ms, read_at_ms, deleted_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?10, ?11)
                 ON CONFLICT (peer_id, direction, msg_id) DO NOTHING",
            )?
            .execute(params![
                peer_id,
                direction.as_str(),
                IdBytes::of(message.id),
                message.body,
                to_sql(message.sent_at_ms),
                to_sql(times.stored_at_ms),
                message.reply_to.map(IdBytes::of),
                network.map(network_to_sql),
                times.acked_at_ms.map(to_sql),
                times.read_at_ms.map(to_sql),
                times.deleted_at_ms.map(to_sql),
            ])?;
        if inserted == 0 {
            return Ok(Applied::Unchanged);
        }
        let row = self.conn.last_insert_rowid();
        self.unindexed.get_or_insert(row);
        Ok(Applied::Inserted(row))
    }

    fn cancel(
        &mut self,
        peer: &PublicKey,
        id: MessageId,
        renumbered: &[(MessageId, MessageId)],
    ) -> Result<Applied> {
        // The delete trigger takes the row's text out of the index: rows inserted earlier in
        // the batch must be in it by then.
        self.index_new_rows()?;
        let Some(peer_id) = self.peers.lookup_in(self.conn, &self.added, peer)? else {
            return Ok(Applied::Unchanged);
        };
        let key = (peer_id, id);
        let Some(row) = self.outbox.row(&self.outbox_changes, &key) else {
            return Ok(Applied::Unchanged);
        };
        self.conn
            .prepare_cached("DELETE FROM messages WHERE row_id = ?1 AND in_outbox = 1")?
            .execute(params![row])?;
        self.outbox_changes.left(key);
        for (old, new) in renumbered {
            let Some(moved) = self.outbox.row(&self.outbox_changes, &(peer_id, *old)) else {
                continue;
            };
            self.conn
                .prepare_cached("UPDATE messages SET msg_id = ?2 WHERE row_id = ?1")?
                .execute(params![moved, IdBytes::of(*new)])?;
            self.outbox_changes.left((peer_id, *old));
            self.outbox_changes.entered((peer_id, *new), moved);
        }
        Ok(Applied::Updated(row))
    }

    fn update(
        &mut self,
        sql: &str,
        peer: &PublicKey,
        id: MessageId,
        at_ms: u64,
    ) -> Result<Applied> {
        let Some(peer_id) = self.peers.lookup_in(self.conn, &self.added, peer)? else {
            return Ok(Applied::Unchanged);
        };
        let row: Option<i64> = self
            .conn
            .prepare_cached(sql)?
            .query_row(params![peer_id, IdBytes::of(id), to_sql(at_ms)], |row| {
                row.get(0)
            })
            .optional()?;
        Ok(row.map_or(Applied::Unchanged, Applied::Updated))
    }

    /// Adds the rows inserted since the last call to the full-text index, in one statement so
    /// that FTS5 writes one index segment for all of them. Row ids only grow (`AUTOINCREMENT`)
    /// and the batch's transaction holds the write lock, so the rows from the first one not
    /// indexed on are exactly the rows the batch inserted since.
    fn index_new_rows(&mut self) -> Result<()> {
        if let Some(first) = self.unindexed.take() {
            self.conn
                .prepare_cached(
                    "INSERT INTO messages_fts (rowid, body)
                     SELECT row_id, body FROM messages WHERE row_id >= ?1",
                )?
                .execute([first])?;
        }
        Ok(())
    }

    /// Moves the dedup marks and indexes the new rows; returns the peers the batch added and
    /// its changes to the outbox.
    fn finish(mut self) -> Result<(Added, Changes)> {
        self.index_new_rows()?;
        if !self.marks.is_empty() {
            // Sequences count from 1 and stay far below 2^63, so comparing the signed forms is
            // exact.
            let mut upsert = self.conn.prepare_cached(
                "INSERT INTO dedup (peer_id, stream, stored_seq, updated_row)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (peer_id, stream) DO UPDATE
                 SET stored_seq = max(stored_seq, excluded.stored_seq),
                     updated_row = excluded.updated_row",
            )?;
            for (&(peer_id, stream), &(seq, row)) in &self.marks {
                upsert.execute(params![peer_id, to_sql(stream), to_sql(seq), row])?;
            }
        }
        Ok((self.added, self.outbox_changes))
    }
}
