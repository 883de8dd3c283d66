//! Reads: conversation history in pages, the list of conversations, status counts, and the
//! outbox and dedup marks the node is restored from at startup.

use rusqlite::{Row, params};
use skychat_core::MAX_STREAMS_PER_PEER;
use skychat_core::{ChatMessage, DedupRecord, MessageId, PublicKey};

use super::codec::{IdBytes, from_sql, id_at, network_from_sql, optional_id_at, to_sql};
use super::error::{Result, StoreError};
use super::{Counts, Direction, PeerSummary, Status, Store, StoredMessage};

/// The columns [`read_message`] expects, in order, from `messages m JOIN peers p`
/// ([`MESSAGES`]).
pub(super) const MESSAGE_COLUMNS: &str = "m.row_id, p.key, m.direction, m.msg_id, m.sent_at_ms, \
     m.body, m.reply_to, m.stored_at_ms, m.acked_at_ms, m.read_at_ms, m.in_outbox, \
     m.deleted_at_ms, m.network";

/// The messages with their peers' keys, for [`MESSAGE_COLUMNS`].
pub(super) const MESSAGES: &str = "messages m JOIN peers p ON p.id = m.peer_id";

impl Store {
    /// A page of history, newest first: up to `limit` messages with `peer` (or with everyone),
    /// both directions, in descending row order, which is the order they were stored in. Pass
    /// `before: None` for the newest page, then the `row` of the last (oldest) message of a page
    /// to get the page before it; an empty page means there is nothing older.
    pub fn history(
        &self,
        peer: Option<PublicKey>,
        limit: usize,
        before: Option<i64>,
    ) -> Result<Vec<StoredMessage>> {
        let before = before.unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match peer {
            Some(peer) => {
                let Some(peer_id) = self.peer_ids.lookup(&self.conn, &peer)? else {
                    return Ok(Vec::new());
                };
                let mut statement = self.conn.prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM {MESSAGES}
                     WHERE m.peer_id = ?1 AND m.row_id < ?2 ORDER BY m.row_id DESC LIMIT ?3"
                ))?;
                collect(statement.query(params![peer_id, before, limit])?)
            }
            None => {
                let mut statement = self.conn.prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM {MESSAGES}
                     WHERE m.row_id < ?1 ORDER BY m.row_id DESC LIMIT ?2"
                ))?;
                collect(statement.query(params![before, limit])?)
            }
        }
    }

    /// One stored message by peer, direction and id.
    pub fn message(
        &self,
        peer: PublicKey,
        direction: Direction,
        id: MessageId,
    ) -> Result<Option<StoredMessage>> {
        let Some(peer_id) = self.peer_ids.lookup(&self.conn, &peer)? else {
            return Ok(None);
        };
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGES}
             WHERE m.peer_id = ?1 AND m.direction = ?2 AND m.msg_id = ?3"
        ))?;
        let mut found =
            collect(statement.query(params![peer_id, direction.as_str(), IdBytes::of(id)])?)?;
        Ok(found.pop())
    }

    /// The outgoing message stored with idempotency key `key`, if any.
    pub fn message_by_idempotency_key(&self, key: &str) -> Result<Option<StoredMessage>> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGES} WHERE m.idempotency_key = ?1"
        ))?;
        let mut found = collect(statement.query(params![key])?)?;
        Ok(found.pop())
    }

    /// Every conversation, the most recently active first.
    pub fn peers(&self) -> Result<Vec<PeerSummary>> {
        // With a single max(), SQLite takes the bare column stored_at_ms from the newest row.
        let mut statement = self.conn.prepare_cached(
            "SELECT p.key, s.last_row, s.last_at, s.count, s.unread FROM (
                 SELECT peer_id, max(row_id) AS last_row, stored_at_ms AS last_at,
                        count(*) AS count, sum(direction = 'in' AND read_at_ms IS NULL) AS unread
                 FROM messages GROUP BY peer_id) s
             JOIN peers p ON p.id = s.peer_id
             ORDER BY s.last_row DESC",
        )?;
        let mut rows = statement.query([])?;
        let mut summaries = Vec::new();
        while let Some(row) = rows.next()? {
            summaries.push(PeerSummary {
                peer: parse_peer(&row.get::<_, String>(0)?)?,
                last_row: row.get(1)?,
                last_message_at_ms: from_sql(row.get(2)?),
                count: from_sql(row.get(3)?),
                unread: from_sql(row.get(4)?),
            });
        }
        Ok(summaries)
    }

    /// Message counts by direction and status.
    pub fn counts(&self) -> Result<Counts> {
        let mut counts = Counts::default();
        let mut statement = self.conn.prepare_cached(
            "SELECT direction, acked_at_ms IS NOT NULL, read_at_ms IS NOT NULL, in_outbox,
                    count(*)
             FROM messages GROUP BY 1, 2, 3, 4",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let direction = Direction::parse(&row.get::<_, String>(0)?)?;
            let acked = row.get::<_, bool>(1)?.then_some(0);
            let read = row.get::<_, bool>(2)?.then_some(0);
            let in_outbox: bool = row.get(3)?;
            let n = from_sql(row.get(4)?);
            match direction {
                Direction::In => {
                    counts.incoming += n;
                    if read.is_none() {
                        counts.unread += n;
                    }
                }
                Direction::Out => {
                    counts.outgoing += n;
                    if in_outbox {
                        counts.in_outbox += n;
                    }
                    let slot = match Status::of(direction, acked, read) {
                        Status::Queued => &mut counts.queued,
                        Status::Acked => &mut counts.acked,
                        Status::Read => &mut counts.read,
                        Status::Received => {
                            return Err(StoreError::Corrupt(
                                "an outgoing message read as received".into(),
                            ));
                        }
                    };
                    *slot += n;
                }
            }
        }
        Ok(counts)
    }

    /// The outbox: outgoing messages not yet acked, in the order they were recorded, for
    /// re-queueing in the node at startup.
    pub fn outbox(&self) -> Result<Vec<(PublicKey, ChatMessage)>> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGES} WHERE m.in_outbox = 1 ORDER BY m.row_id"
        ))?;
        Ok(collect(statement.query([])?)?
            .into_iter()
            .map(|stored| (stored.peer, stored.message))
            .collect())
    }

    /// The dedup marks, for restoring the node at startup: per peer at most the
    /// [`MAX_STREAMS_PER_PEER`] most recently advanced streams, each peer's oldest first (so
    /// restoring them in order keeps the newest when the node has to forget some).
    pub fn dedup_records(&self) -> Result<Vec<DedupRecord>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT p.key, d.stream, d.stored_seq FROM (
                 SELECT peer_id, stream, stored_seq, updated_row,
                        row_number() OVER (PARTITION BY peer_id ORDER BY updated_row DESC)
                            AS recency
                 FROM dedup) d
             JOIN peers p ON p.id = d.peer_id
             WHERE d.recency <= ?1 ORDER BY p.key, d.updated_row",
        )?;
        let mut rows = statement.query([to_sql(MAX_STREAMS_PER_PEER as u64)])?;
        let mut records = Vec::new();
        while let Some(row) = rows.next()? {
            records.push(DedupRecord {
                peer: parse_peer(&row.get::<_, String>(0)?)?,
                stream: from_sql(row.get(1)?),
                stored: from_sql(row.get(2)?),
            });
        }
        Ok(records)
    }
}

/// Reads every row of a query over [`MESSAGE_COLUMNS`].
pub(super) fn collect(mut rows: rusqlite::Rows<'_>) -> Result<Vec<StoredMessage>> {
    let mut messages = Vec::new();
    while let Some(row) = rows.next()? {
        messages.push(read_message(row)?);
    }
    Ok(messages)
}

fn read_message(row: &Row<'_>) -> Result<StoredMessage> {
    let optional_time =
        |index| -> Result<Option<u64>> { Ok(row.get::<_, Option<i64>>(index)?.map(from_sql)) };
    let direction = Direction::parse(&row.get::<_, String>(2)?)?;
    let acked_at_ms = optional_time(8)?;
    let read_at_ms = optional_time(9)?;
    Ok(StoredMessage {
        row: row.get(0)?,
        peer: parse_peer(&row.get::<_, String>(1)?)?,
        direction,
        message: ChatMessage {
            id: id_at(row, 3)?,
            sent_at_ms: from_sql(row.get(4)?),
            body: row.get(5)?,
            reply_to: optional_id_at(row, 6)?,
        },
        stored_at_ms: from_sql(row.get(7)?),
        status: Status::of(direction, acked_at_ms, read_at_ms),
        acked_at_ms,
        read_at_ms,
        in_outbox: row.get(10)?,
        deleted_at_ms: optional_time(11)?,
        network: network_from_sql(row.get(12)?),
    })
}

pub(super) fn parse_peer(text: &str) -> Result<PublicKey> {
    text.parse()
        .map_err(|error| StoreError::Corrupt(format!("peer key {text:?}: {error}")))
}
