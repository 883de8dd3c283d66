//! The store's error type, sorted by what a caller can do about it: a full disk (HTTP 507), a
//! database held by someone else (503), a bad search query (400), and everything else (500).

use std::fmt;
use std::io;
use std::path::PathBuf;

use rusqlite::ErrorCode;

/// Why a store operation failed. Any failed write changed nothing: its transaction was rolled
/// back, and every earlier committed write is still there.
#[derive(Debug)]
pub enum StoreError {
    /// The disk, or the size limit set for the database, is full (`SQLITE_FULL`). Deleting old
    /// messages ([`Store::enforce_retention`](super::Store::enforce_retention)) or freeing disk
    /// space makes writes work again.
    DiskFull(String),
    /// Another connection held the database lock for longer than the busy timeout
    /// (`SQLITE_BUSY` or `SQLITE_LOCKED`). Retrying later may succeed.
    Busy(String),
    /// The search text cannot be used as a full-text query (for example, it holds no words).
    InvalidQuery(String),
    /// The database was written by a newer version of skychat.
    UnsupportedSchema {
        /// The schema version found in the file.
        found: i64,
        /// The newest version this build understands.
        supported: i64,
    },
    /// The data directory or database file could not be created or opened.
    Io {
        /// The path involved.
        path: PathBuf,
        /// The operating-system error.
        source: io::Error,
    },
    /// A stored value does not parse (a key or message id that is not hex, an unknown status).
    Corrupt(String),
    /// Any other SQLite failure.
    Sqlite(rusqlite::Error),
}

impl StoreError {
    /// The HTTP status that fits: 507 for a full disk, 503 for a busy database, 400 for an
    /// invalid query, 500 otherwise.
    pub fn http_status(&self) -> u16 {
        match self {
            _ if self.is_disk_full() => 507,
            Self::Busy(_) => 503,
            Self::InvalidQuery(_) => 400,
            _ => 500,
        }
    }

    /// Whether the disk (or the database's size limit) is full: a [`StoreError::DiskFull`], or
    /// a data directory that could not be written for want of space.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Self::DiskFull(_) => true,
            Self::Io { source, .. } => source.kind() == io::ErrorKind::StorageFull,
            _ => false,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DiskFull(detail) => write!(
                f,
                "message store is full (disk or database size limit reached): {detail}"
            ),
            Self::Busy(detail) => write!(
                f,
                "message store is busy (locked by another connection): {detail}"
            ),
            Self::InvalidQuery(reason) => write!(f, "invalid search query: {reason}"),
            Self::UnsupportedSchema { found, supported } => write!(
                f,
                "message store has schema version {found}, but this skychat supports up to \
                 {supported}; upgrade skychat or use another data directory"
            ),
            Self::Io { path, source } => write!(f, "cannot open {}: {source}", path.display()),
            Self::Corrupt(detail) => write!(f, "message store holds invalid data: {detail}"),
            Self::Sqlite(error) => write!(f, "message store error: {error}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Sqlite(error) => Some(error),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => Self::DiskFull(error.to_string()),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                Self::Busy(error.to_string())
            }
            _ => Self::Sqlite(error),
        }
    }
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
