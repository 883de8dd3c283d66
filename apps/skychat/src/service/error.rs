//! Why a service call failed, sorted by what the caller can do about it. The variants say what
//! went wrong, not how a transport reports it: the HTTP module maps each to its status code in
//! one place.

use std::fmt;

use crate::store::StoreError;

/// A failed service call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// The request is malformed: fix it before retrying.
    BadRequest(String),
    /// The message or request body is larger than allowed.
    TooLarge(String),
    /// Nothing matches what the request names.
    NotFound(String),
    /// Well-formed but contradicting what is stored, such as an idempotency key reused for
    /// another message.
    Conflict(String),
    /// Not possible in the state the thing named is in, until that changes: a message that
    /// already went out cannot be cancelled, nothing is sent to a blocked peer.
    WrongState(String),
    /// Temporarily unable, for a reason other than the store: the outbox is full, or the
    /// request needs a visor this node does not have.
    Unavailable(String),
    /// The message store is locked by another connection (or has shut down); retrying later may
    /// succeed.
    StorageUnavailable(String),
    /// The disk, or the size limit set for the database, is full.
    StorageFull(String),
    /// The node is shutting down and takes no more work.
    ShuttingDown,
    /// Anything else.
    Internal(String),
}

impl ServiceError {
    /// The same error with `note` appended to its reason (a [`ServiceError::ShuttingDown`] keeps
    /// its fixed reason).
    pub fn with_note(self, note: &str) -> Self {
        let add = |text: String| format!("{text}{note}");
        match self {
            Self::BadRequest(t) => Self::BadRequest(add(t)),
            Self::TooLarge(t) => Self::TooLarge(add(t)),
            Self::NotFound(t) => Self::NotFound(add(t)),
            Self::Conflict(t) => Self::Conflict(add(t)),
            Self::WrongState(t) => Self::WrongState(add(t)),
            Self::Unavailable(t) => Self::Unavailable(add(t)),
            Self::StorageUnavailable(t) => Self::StorageUnavailable(add(t)),
            Self::StorageFull(t) => Self::StorageFull(add(t)),
            Self::ShuttingDown => Self::ShuttingDown,
            Self::Internal(t) => Self::Internal(add(t)),
        }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadRequest(reason)
            | Self::TooLarge(reason)
            | Self::NotFound(reason)
            | Self::Conflict(reason)
            | Self::WrongState(reason)
            | Self::Unavailable(reason)
            | Self::StorageUnavailable(reason)
            | Self::StorageFull(reason)
            | Self::Internal(reason) => f.write_str(reason),
            Self::ShuttingDown => f.write_str("the node is shutting down"),
        }
    }
}

impl std::error::Error for ServiceError {}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        let text = format!("store: {error}");
        if error.is_disk_full() {
            return Self::StorageFull(text);
        }
        match error {
            StoreError::Busy(_) => Self::StorageUnavailable(text),
            StoreError::InvalidQuery(_) => Self::BadRequest(text),
            _ => Self::Internal(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_are_sorted_by_what_went_wrong() {
        let cases = [
            (
                StoreError::DiskFull("no room".into()),
                "StorageFull",
                "store: message store is full",
            ),
            (
                StoreError::Io {
                    path: "/data".into(),
                    source: std::io::Error::from(std::io::ErrorKind::StorageFull),
                },
                "StorageFull",
                "store: cannot open /data",
            ),
            (
                StoreError::Busy("locked".into()),
                "StorageUnavailable",
                "store: message store is busy",
            ),
            (
                StoreError::InvalidQuery("no words".into()),
                "BadRequest",
                "store: invalid search query",
            ),
            (
                StoreError::Corrupt("bad hex".into()),
                "Internal",
                "store: message store holds invalid data",
            ),
        ];
        for (store_error, variant, prefix) in cases {
            let error = ServiceError::from(store_error);
            assert!(format!("{error:?}").starts_with(variant), "{error:?}");
            assert!(error.to_string().starts_with(prefix), "{error}");
        }
    }

    #[test]
    fn a_note_extends_the_reason_and_keeps_the_kind() {
        let full = ServiceError::StorageFull("full".into()).with_note("; retry");
        assert_eq!(full, ServiceError::StorageFull("full; retry".into()));
        assert_eq!(
            ServiceError::ShuttingDown.with_note("; retry").to_string(),
            "the node is shutting down"
        );
    }
}
