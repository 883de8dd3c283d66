//! Retention: deleting messages past a TTL or over per-peer and total caps, and giving the space
//! back to the file system. Messages still in the outbox (unacked outgoing) are never deleted.

use rusqlite::TransactionBehavior;
use skychat_core::MAX_STREAMS_PER_PEER;

use super::Store;
use super::codec::to_sql;
use super::error::Result;

/// Deleting at least this many messages at once also rewrites the full-text index into one
/// segment, so its space is reclaimed too rather than left to background merges.
pub const FTS_OPTIMIZE_AFTER: u64 = 1000;

/// What [`Store::enforce_retention`] deletes. `None` turns a rule off; the default keeps
/// everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Delete messages stored longer ago than this many ms.
    pub ttl_ms: Option<u64>,
    /// Keep at most this many messages per peer (both directions), deleting the oldest.
    pub max_per_peer: Option<u64>,
    /// Keep at most this many messages in all, deleting the oldest.
    pub max_total: Option<u64>,
}

/// What one [`Store::enforce_retention`] run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Messages deleted for being older than the TTL.
    pub expired: u64,
    /// Messages deleted for being over their peer's cap.
    pub over_peer_cap: u64,
    /// Messages deleted for being over the total cap.
    pub over_total_cap: u64,
    /// Dedup marks deleted (streams beyond the node's per-peer limit).
    pub dedup_pruned: u64,
    /// Database pages returned to the file system.
    pub pages_freed: u64,
}

impl RetentionReport {
    /// Messages deleted in all.
    pub fn deleted(&self) -> u64 {
        self.expired + self.over_peer_cap + self.over_total_cap
    }
}

impl Store {
    /// Applies the retention policy at wall-clock time `now_ms` (ms since the Unix epoch): first
    /// the TTL, then the per-peer cap, then the total cap, each keeping the newest messages and
    /// never touching the outbox. The deletes commit in one transaction (the full-text index is
    /// kept in step by triggers); then freed pages are returned to the file system
    /// (`incremental_vacuum`, and a WAL checkpoint so the file actually shrinks).
    ///
    /// Because space is reclaimed, a database that hit its size limit
    /// ([`StoreError::DiskFull`](super::StoreError::DiskFull)) accepts writes again afterwards.
    pub fn enforce_retention(&mut self, now_ms: u64) -> Result<RetentionReport> {
        let policy = self.retention;
        let mut report = RetentionReport::default();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(ttl_ms) = policy.ttl_ms {
            let cutoff = now_ms.saturating_sub(ttl_ms);
            report.expired = tx.execute(
                "DELETE FROM messages WHERE in_outbox = 0 AND stored_at_ms < ?1",
                [to_sql(cutoff)],
            )? as u64;
        }
        if let Some(cap) = policy.max_per_peer {
            report.over_peer_cap = tx.execute(
                "DELETE FROM messages WHERE row_id IN (
                     SELECT row_id FROM (
                         SELECT row_id, in_outbox,
                                row_number() OVER (PARTITION BY peer_id ORDER BY row_id DESC) AS age
                         FROM messages)
                     WHERE age > ?1 AND in_outbox = 0)",
                [to_sql(cap)],
            )? as u64;
        }
        if let Some(cap) = policy.max_total {
            report.over_total_cap = tx.execute(
                "DELETE FROM messages WHERE in_outbox = 0 AND row_id NOT IN (
                     SELECT row_id FROM messages ORDER BY row_id DESC LIMIT ?1)",
                [to_sql(cap)],
            )? as u64;
        }
        report.dedup_pruned = tx.execute(
            "DELETE FROM dedup WHERE (peer_id, stream) IN (
                 SELECT peer_id, stream FROM (
                     SELECT peer_id, stream,
                            row_number() OVER (PARTITION BY peer_id ORDER BY updated_row DESC)
                                AS age
                     FROM dedup)
                 WHERE age > ?1)",
            [to_sql(MAX_STREAMS_PER_PEER as u64)],
        )? as u64;
        if report.deleted() >= FTS_OPTIMIZE_AFTER {
            tx.execute(
                "INSERT INTO messages_fts (messages_fts) VALUES ('optimize')",
                [],
            )?;
        }
        tx.commit()?;
        if report.deleted() > 0 || report.dedup_pruned > 0 {
            report.pages_freed = self.reclaim_space()?;
        }
        Ok(report)
    }

    /// Returns free pages to the file system and checkpoints the WAL into the main file, so
    /// the file shrinks now rather than at some later checkpoint. Returns the pages freed.
    pub fn reclaim_space(&mut self) -> Result<u64> {
        let free_before: i64 = self
            .conn
            .pragma_query_value(None, "freelist_count", |row| row.get(0))?;
        // `incremental_vacuum` frees one page per step: step it to completion.
        let mut vacuum = self.conn.prepare("PRAGMA incremental_vacuum")?;
        let mut steps = vacuum.query([])?;
        while steps.next()?.is_some() {}
        drop(steps);
        drop(vacuum);
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let free_after: i64 = self
            .conn
            .pragma_query_value(None, "freelist_count", |row| row.get(0))?;
        Ok(free_before.saturating_sub(free_after).max(0) as u64)
    }
}
