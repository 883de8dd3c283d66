//! Writes: recording messages both ways, delivery and read state changes, and group commit.
//!
//! Every write goes through [`Store::write_batch`], which applies its operations in order in one
//! `BEGIN IMMEDIATE` transaction: all of them commit together or none does. The one-operation
//! methods are batches of one. The batch's new messages enter the full-text index together, in
//! one statement at the end of the same transaction.

use rusqlite::{Transaction, TransactionBehavior, params};
use skychat_core::{ChatMessage, MessageId, PublicKey, Suite};

use super::error::Result;
use super::{Direction, Status, Store};

/// One write for [`Store::write_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// A message this node accepted for sending to `peer`: stored as
    /// [`Status::Queued`] and put in the outbox. Its `sent_at_ms` is its storage time.
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
    /// A message received from `peer`, stored as [`Status::Received`]. In the same transaction
    /// the dedup mark of the message's stream moves up to its sequence (messages of a stream
    /// arrive in order, so the mark is the highest sequence stored); a Skywire-suite peer's
    /// messages have no streams and get no mark (the unique id per peer catches their
    /// duplicates). A message already stored (same peer and id) is left alone.
    Incoming {
        /// The sender.
        peer: PublicKey,
        /// The message.
        message: ChatMessage,
        /// When it arrived, in ms since the Unix epoch.
        received_at_ms: u64,
    },
    /// An outgoing message was written to a connection: `Queued` becomes `Sent`.
    Sent {
        /// The recipient.
        peer: PublicKey,
        /// The message.
        id: MessageId,
    },
    /// The peer acked (stored) an outgoing message: it leaves the outbox and becomes `Acked`
    /// (unless it is already `Read`).
    Acked {
        /// The recipient.
        peer: PublicKey,
        /// The message.
        id: MessageId,
        /// When the ack arrived.
        at_ms: u64,
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
    /// Delivery of an outgoing message was given up: it leaves the outbox as `Failed`.
    Failed {
        /// The recipient.
        peer: PublicKey,
        /// The message.
        id: MessageId,
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
        let mut applied = Vec::with_capacity(ops.len());
        // The first row inserted by this batch and not yet in the full-text index.
        let mut unindexed = None;
        for op in ops {
            // A deletion changes a body through the update trigger, which takes the old text out
            // of the index: rows inserted earlier in the batch must be in it by then.
            if matches!(op, WriteOp::DeletedByPeer { .. })
                && let Some(first) = unindexed.take()
            {
                index_new_rows(&tx, first)?;
            }
            let done = apply(&tx, op)?;
            if let Applied::Inserted(row) = done {
                unindexed.get_or_insert(row);
            }
            applied.push(done);
        }
        if let Some(first) = unindexed {
            index_new_rows(&tx, first)?;
        }
        tx.commit()?;
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
        })
    }

    /// Marks an outgoing message as written to a connection. Returns whether it changed.
    pub fn mark_sent(&mut self, peer: PublicKey, id: MessageId) -> Result<bool> {
        Ok(self.write_one(WriteOp::Sent { peer, id })?.changed())
    }

    /// Marks an outgoing message as acked by the peer; it leaves the outbox.
    pub fn mark_acked(&mut self, peer: PublicKey, id: MessageId, at_ms: u64) -> Result<bool> {
        Ok(self
            .write_one(WriteOp::Acked { peer, id, at_ms })?
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

    /// Marks an outgoing message as failed; it leaves the outbox.
    pub fn mark_failed(&mut self, peer: PublicKey, id: MessageId) -> Result<bool> {
        Ok(self.write_one(WriteOp::Failed { peer, id })?.changed())
    }

    /// Marks every unread incoming message from `peer` as read here, and returns how many.
    pub fn mark_peer_read_by_me(&mut self, peer: PublicKey, at_ms: u64) -> Result<usize> {
        let changed = self.conn.execute(
            "UPDATE messages SET status = 'read', read_at_ms = ?2
             WHERE peer = ?1 AND direction = 'in' AND read_at_ms IS NULL",
            params![peer.to_hex(), to_sql(at_ms)],
        )?;
        Ok(changed)
    }
}

/// SQLite integers are signed 64-bit: a `u64` is stored bit-cast.
pub(super) fn to_sql(value: u64) -> i64 {
    value as i64
}

/// The inverse of [`to_sql`].
pub(super) fn from_sql(value: i64) -> u64 {
    value as u64
}

fn apply(tx: &Transaction<'_>, op: &WriteOp) -> Result<Applied> {
    match op {
        WriteOp::Outgoing { peer, message } => insert(
            tx,
            peer,
            Direction::Out,
            message,
            message.sent_at_ms,
            Status::Queued,
        ),
        WriteOp::OutgoingWithKey {
            peer,
            message,
            idempotency_key,
        } => {
            let applied = insert(
                tx,
                peer,
                Direction::Out,
                message,
                message.sent_at_ms,
                Status::Queued,
            )?;
            if let Applied::Inserted(row) = applied {
                tx.prepare_cached("UPDATE messages SET idempotency_key = ?1 WHERE row_id = ?2")?
                    .execute(params![idempotency_key, row])?;
            }
            Ok(applied)
        }
        WriteOp::Incoming {
            peer,
            message,
            received_at_ms,
        } => {
            let applied = insert(
                tx,
                peer,
                Direction::In,
                message,
                *received_at_ms,
                Status::Received,
            )?;
            if let Applied::Inserted(row) = applied
                && peer.suite() == Suite::Native
            {
                advance_dedup(tx, peer, message.id, row)?;
            }
            Ok(applied)
        }
        WriteOp::Sent { peer, id } => update(
            tx,
            "UPDATE messages SET status = 'sent'
             WHERE peer = ?1 AND direction = 'out' AND msg_id = ?2 AND status = 'queued'",
            Direction::Out,
            peer,
            id,
            None,
        ),
        WriteOp::Acked { peer, id, at_ms } => update(
            tx,
            "UPDATE messages
             SET status = CASE status WHEN 'read' THEN 'read' ELSE 'acked' END,
                 acked_at_ms = coalesce(acked_at_ms, ?3),
                 in_outbox = 0
             WHERE peer = ?1 AND direction = 'out' AND msg_id = ?2
               AND (in_outbox = 1 OR acked_at_ms IS NULL)",
            Direction::Out,
            peer,
            id,
            Some(*at_ms),
        ),
        WriteOp::ReadByPeer { peer, id, at_ms } => update(
            tx,
            "UPDATE messages
             SET status = 'read', read_at_ms = ?3,
                 acked_at_ms = coalesce(acked_at_ms, ?3), in_outbox = 0
             WHERE peer = ?1 AND direction = 'out' AND msg_id = ?2 AND read_at_ms IS NULL",
            Direction::Out,
            peer,
            id,
            Some(*at_ms),
        ),
        WriteOp::ReadByMe { peer, id, at_ms } => update(
            tx,
            "UPDATE messages SET status = 'read', read_at_ms = ?3
             WHERE peer = ?1 AND direction = 'in' AND msg_id = ?2 AND read_at_ms IS NULL",
            Direction::In,
            peer,
            id,
            Some(*at_ms),
        ),
        WriteOp::DeletedByPeer { peer, id, at_ms } => update(
            tx,
            "UPDATE messages SET body = '', deleted_at_ms = ?3
             WHERE peer = ?1 AND direction = 'in' AND msg_id = ?2 AND deleted_at_ms IS NULL",
            Direction::In,
            peer,
            id,
            Some(*at_ms),
        ),
        WriteOp::Failed { peer, id } => update(
            tx,
            "UPDATE messages SET status = 'failed', in_outbox = 0
             WHERE peer = ?1 AND direction = 'out' AND msg_id = ?2
               AND status IN ('queued', 'sent')",
            Direction::Out,
            peer,
            id,
            None,
        ),
    }
}

fn insert(
    tx: &Transaction<'_>,
    peer: &PublicKey,
    direction: Direction,
    message: &ChatMessage,
    stored_at_ms: u64,
    status: Status,
) -> Result<Applied> {
    let peer_hex = peer.to_hex();
    let id_hex = message.id.to_hex();
    // Without `RETURNING`, which would buffer its rows in a temporary table per statement.
    let inserted = tx
        .prepare_cached(
            "INSERT INTO messages
                 (peer, msg_id, direction, body, sent_at_ms, stored_at_ms, reply_to, status,
                  in_outbox)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (peer, direction, msg_id) DO NOTHING",
        )?
        .execute(params![
            peer_hex,
            id_hex,
            direction.as_str(),
            message.body,
            to_sql(message.sent_at_ms),
            to_sql(stored_at_ms),
            message.reply_to.map(|id| id.to_hex()),
            status.as_str(),
            direction == Direction::Out,
        ])?;
    if inserted == 1 {
        return Ok(Applied::Inserted(tx.last_insert_rowid()));
    }
    let existing = row_of(tx, &peer_hex, direction, &id_hex)?;
    Ok(Applied::AlreadyStored(existing))
}

/// Adds the rows from `first` on to the full-text index, in one statement so that FTS5 writes
/// one index segment for the whole batch. Row ids only grow (`AUTOINCREMENT`) and the batch's
/// transaction holds the write lock, so the rows from the batch's first insert on are exactly
/// the rows the batch inserted.
fn index_new_rows(tx: &Transaction<'_>, first: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO messages_fts (rowid, body) SELECT row_id, body FROM messages WHERE row_id >= ?1",
    )?
    .execute([first])?;
    Ok(())
}

fn advance_dedup(tx: &Transaction<'_>, peer: &PublicKey, id: MessageId, row: i64) -> Result<()> {
    // Sequences count from 1 and stay far below 2^63, so comparing the signed forms is exact.
    tx.prepare_cached(
        "INSERT INTO dedup (peer, stream, stored_seq, updated_row) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (peer, stream) DO UPDATE
         SET stored_seq = max(stored_seq, excluded.stored_seq), updated_row = excluded.updated_row",
    )?
    .execute(params![
        peer.to_hex(),
        to_sql(id.stream),
        to_sql(id.seq),
        row
    ])?;
    Ok(())
}

/// Runs one state change (`sql`, matching one message by `peer = ?1 AND msg_id = ?2`, with
/// `?3` the time if any) and, if it changed the message, looks up its row. Two plain statements
/// cost less than one with `RETURNING`, which buffers its rows in a temporary table.
fn update(
    tx: &Transaction<'_>,
    sql: &str,
    direction: Direction,
    peer: &PublicKey,
    id: &MessageId,
    at_ms: Option<u64>,
) -> Result<Applied> {
    let mut statement = tx.prepare_cached(sql)?;
    let peer_hex = peer.to_hex();
    let id_hex = id.to_hex();
    let changed = match at_ms {
        Some(at) => statement.execute(params![peer_hex, id_hex, to_sql(at)]),
        None => statement.execute(params![peer_hex, id_hex]),
    }?;
    if changed == 0 {
        return Ok(Applied::Unchanged);
    }
    Ok(Applied::Updated(row_of(tx, &peer_hex, direction, &id_hex)?))
}

fn row_of(tx: &Transaction<'_>, peer_hex: &str, direction: Direction, id_hex: &str) -> Result<i64> {
    Ok(tx
        .prepare_cached(
            "SELECT row_id FROM messages WHERE peer = ?1 AND direction = ?2 AND msg_id = ?3",
        )?
        .query_row(params![peer_hex, direction.as_str(), id_hex], |row| {
            row.get(0)
        })?)
}
