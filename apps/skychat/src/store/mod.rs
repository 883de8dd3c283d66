//! The durable message store: history both ways with delivery and read states, the outbox of
//! unacked outgoing messages, the receive-side dedup marks, full-text search and retention, in
//! one SQLite database at `<data_dir>/skychat.db`.
//!
//! [`Store`] is synchronous and owns one connection; the app calls it from a dedicated thread or
//! through a blocking-task pool. Every write is a transaction, and [`Store::write_batch`] applies
//! many writes in one transaction so a burst of messages costs one commit, not one each.
//!
//! The store also records which identity it belongs to ([`Store::claim_owner`]), so that one
//! identity's outbox is never sent under another's name.
//!
//! Peers are integer ids in the database (`peer_ids` keeps the key → id mapping in memory, next
//! to the connection) and message ids are binary ([`codec`]). `outbox_rows` keeps the row of
//! each message in the outbox in memory, for the acks.
//!
//! - [`schema`]: tables and migrations. [`write`]: the write operations. [`query`]: history,
//!   peers, counts, outbox and dedup reads. [`search`]: full-text search. [`retention`]: caps,
//!   TTL and space reclaim. [`model`]: the returned values. [`codec`]: stored forms of ids and
//!   numbers. [`error`]: [`StoreError`]. [`aliases`]: the local names of peers. [`links`]: the
//!   remembered dial addresses of peers.

pub mod aliases;
pub mod codec;
pub mod error;
pub mod links;
pub mod model;
mod outbox_rows;
pub mod peer_flags;
mod peer_ids;
pub mod query;
pub mod retention;
pub mod schema;
pub mod search;
pub mod write;

use std::fs::{DirBuilder, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use aliases::{AliasChange, KnownPeer};
pub use error::{Result, StoreError};
pub use model::{Counts, Direction, PeerSummary, Status, StoredMessage};
pub use peer_flags::PeerFlag;
pub use retention::{RetentionPolicy, RetentionReport};
pub use write::{Applied, ImportedTimes, WriteOp};

/// The database file name inside the data directory.
pub const DB_FILE_NAME: &str = "skychat.db";

/// How hard a commit tries to reach the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = NORMAL` in WAL mode: a committed write survives a crash of the process,
    /// but the last commits before a power loss or kernel crash may be lost (never corrupted).
    #[default]
    ProcessCrash,
    /// `synchronous = FULL`: every commit is flushed to disk (one fsync per commit) and survives
    /// a power loss. Slower; group commit with [`Store::write_batch`] matters more here.
    PowerLoss,
}

/// How to open a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Commit durability.
    pub durability: Durability,
    /// How long a write waits for a lock held by another connection before failing with
    /// [`StoreError::Busy`].
    pub busy_timeout: Duration,
    /// The largest the database may grow, in bytes (rounded down to whole pages). A write that
    /// would pass it fails with [`StoreError::DiskFull`]; `None` means only the disk limits it.
    pub max_db_bytes: Option<u64>,
    /// What [`Store::enforce_retention`] deletes.
    pub retention: RetentionPolicy,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            durability: Durability::default(),
            busy_timeout: Duration::from_secs(2),
            max_db_bytes: None,
            retention: RetentionPolicy::default(),
        }
    }
}

/// The message store. See the [module docs](self).
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    retention: RetentionPolicy,
    peer_ids: peer_ids::PeerIds,
    outbox_rows: outbox_rows::OutboxRows,
}

impl Store {
    /// Opens (creating if needed) `<data_dir>/skychat.db`. A new data directory is created with
    /// mode 0700 and a new database file with mode 0600 (its WAL files inherit that mode).
    pub fn open(data_dir: &Path, options: StoreOptions) -> Result<Self> {
        create_private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE_NAME);
        create_private_file(&path)?;
        // The file exists (created above with private permissions); SQLite must not create it.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&path, flags)?;
        conn.busy_timeout(options.busy_timeout)?;
        schema::prepare_new(&conn)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "cannot switch {} to WAL mode (got {mode})",
                path.display()
            )));
        }
        schema::migrate(&mut conn)?;
        let synchronous = match options.durability {
            Durability::ProcessCrash => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        conn.pragma_update(None, "synchronous", synchronous)?;
        // Statement journals (one per write statement inside a batch) and temporary tables stay
        // in memory instead of going through a temporary file.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        // Every statement the store runs stays prepared (the writes alone are about a dozen).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Before the size limit applies, so that a store at its limit can still be claimed. On a
        // full disk the store still opens; claiming it then fails with `DiskFull`.
        match conn.execute_batch(OWNER_TABLE).map_err(StoreError::from) {
            Ok(()) | Err(StoreError::DiskFull(_)) => {}
            Err(e) => return Err(e),
        }
        let outbox_rows = outbox_rows::OutboxRows::load(&conn)?;
        let mut store = Self {
            conn,
            path,
            retention: options.retention,
            peer_ids: peer_ids::PeerIds::default(),
            outbox_rows,
        };
        store.set_max_db_bytes(options.max_db_bytes)?;
        Ok(store)
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes the size limit (see [`StoreOptions::max_db_bytes`]). A limit below the current
    /// size holds the database at its current size.
    pub fn set_max_db_bytes(&mut self, max_db_bytes: Option<u64>) -> Result<()> {
        let page_size: u64 = self
            .conn
            .pragma_query_value(None, "page_size", |row| row.get(0))?;
        // SQLite's own ceiling when no limit is wanted.
        let pages = max_db_bytes.map_or(0xFFFF_FFFE, |bytes| (bytes / page_size).max(1));
        self.conn
            .pragma_update(None, "max_page_count", pages.min(0xFFFF_FFFE))?;
        Ok(())
    }

    /// The SQLite settings in force, for status pages and diagnostics.
    pub fn settings(&self) -> Result<StoreSettings> {
        let text = |name: &str| -> Result<String> {
            Ok(self.conn.pragma_query_value(None, name, |row| row.get(0))?)
        };
        let number = |name: &str| -> Result<i64> {
            Ok(self.conn.pragma_query_value(None, name, |row| row.get(0))?)
        };
        Ok(StoreSettings {
            journal_mode: text("journal_mode")?,
            synchronous: match number("synchronous")? {
                0 => "OFF",
                1 => "NORMAL",
                2 => "FULL",
                _ => "EXTRA",
            },
            auto_vacuum: match number("auto_vacuum")? {
                0 => "NONE",
                1 => "FULL",
                _ => "INCREMENTAL",
            },
            schema_version: number("user_version")?,
            page_size: number("page_size")? as u64,
            page_count: number("page_count")? as u64,
            max_page_count: number("max_page_count")? as u64,
        })
    }

    /// Replaces the retention policy used by [`Store::enforce_retention`].
    pub fn set_retention(&mut self, policy: RetentionPolicy) {
        self.retention = policy;
    }

    /// The retention policy in force.
    pub fn retention(&self) -> &RetentionPolicy {
        &self.retention
    }

    /// Records that this store belongs to the identity `owner` (a public key in hex), or checks
    /// that it already does. A store holds one identity's outbox and history: a node with
    /// another key must not send that outbox under its own name.
    pub fn claim_owner(&mut self, owner: &str) -> Result<Owner> {
        self.conn.execute_batch(OWNER_TABLE)?;
        let tx = self.conn.transaction()?;
        let found: Option<String> = tx
            .query_row(
                "SELECT value FROM store_meta WHERE key = 'owner_pk'",
                [],
                |row| row.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })?;
        let owner_now = match found {
            Some(pk) if pk == owner => Owner::Same,
            Some(pk) => Owner::Other(pk),
            None => {
                tx.execute(
                    "INSERT INTO store_meta (key, value) VALUES ('owner_pk', ?1)",
                    [owner],
                )?;
                Owner::Claimed
            }
        };
        tx.commit()?;
        Ok(owner_now)
    }
}

/// The page cache, in KiB (SQLite's convention for a negative `cache_size`).
const CACHE_KIB: i64 = -16_384;

/// Prepared statements kept: more than the store has, reads and writes together.
const STATEMENT_CACHE: usize = 64;

/// A small key-value table of facts about the store itself. Created on demand rather than by a
/// migration, so that it does not change the schema version.
const OWNER_TABLE: &str = "CREATE TABLE IF NOT EXISTS store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;";

/// Whose store this is, from [`Store::claim_owner`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The store had no owner recorded; it now belongs to the given identity.
    Claimed,
    /// The store already belonged to the given identity.
    Same,
    /// The store belongs to another identity: this public key (hex).
    Other(String),
}

/// The SQLite settings of an open store, from [`Store::settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// `wal` once open.
    pub journal_mode: String,
    /// `NORMAL` or `FULL`, from [`Durability`].
    pub synchronous: &'static str,
    /// `INCREMENTAL` for every database this store created.
    pub auto_vacuum: &'static str,
    /// The schema version (`user_version`).
    pub schema_version: i64,
    /// Bytes per page.
    pub page_size: u64,
    /// Pages in the database.
    pub page_count: u64,
    /// The page limit from [`StoreOptions::max_db_bytes`].
    pub max_page_count: u64,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_error(dir))
}

fn create_private_file(path: &Path) -> Result<()> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop).map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_records_its_owner_and_names_it_to_another_identity() {
        let dir = tempfile::TempDir::new().unwrap();
        let full = StoreOptions {
            max_db_bytes: Some(1),
            ..StoreOptions::default()
        };
        let mut store = Store::open(dir.path(), full.clone()).unwrap();
        assert_eq!(store.claim_owner("aa").unwrap(), Owner::Claimed);
        assert_eq!(store.claim_owner("aa").unwrap(), Owner::Same);
        drop(store);
        let mut store = Store::open(dir.path(), full).unwrap();
        assert_eq!(store.claim_owner("bb").unwrap(), Owner::Other("aa".into()));
        assert_eq!(
            store.settings().unwrap().schema_version,
            schema::SCHEMA_VERSION
        );
    }
}
