//! How values are laid out in the database: message ids as BLOBs, `u64`s as SQLite's signed
//! integers.
//!
//! A message id is stored as the bytes of its hex form ([`MessageId::to_hex`]): 16 bytes, the
//! stream then the sequence, each big-endian; an id of stream 0 (a Go skychat peer's 16-hex id)
//! as the 8 bytes of its sequence. So `hex(msg_id)` in SQL gives back exactly the id's text, and
//! a Go id keeps its 16-hex form through the store.

use skychat_core::MessageId;

use super::error::{Result, StoreError};

/// A message id's stored bytes: 16, or 8 for stream 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdBytes {
    bytes: [u8; 16],
    len: usize,
}

impl IdBytes {
    /// The stored form of `id`.
    pub fn of(id: MessageId) -> Self {
        let mut bytes = [0u8; 16];
        if id.stream == 0 {
            bytes[..8].copy_from_slice(&id.seq.to_be_bytes());
            return Self { bytes, len: 8 };
        }
        bytes[..8].copy_from_slice(&id.stream.to_be_bytes());
        bytes[8..].copy_from_slice(&id.seq.to_be_bytes());
        Self { bytes, len: 16 }
    }

    /// The bytes to bind.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl rusqlite::ToSql for IdBytes {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(
            rusqlite::types::ValueRef::Blob(self.as_slice()),
        ))
    }
}

/// The id stored as `bytes` (the inverse of [`IdBytes::of`]).
pub fn id_from_bytes(bytes: &[u8]) -> Result<MessageId> {
    let word = |range: std::ops::Range<usize>| {
        u64::from_be_bytes(bytes[range].try_into().expect("8 bytes"))
    };
    match bytes.len() {
        8 => Ok(MessageId {
            stream: 0,
            seq: word(0..8),
        }),
        16 => Ok(MessageId {
            stream: word(0..8),
            seq: word(8..16),
        }),
        other => Err(StoreError::Corrupt(format!(
            "a message id of {other} bytes (8 or 16 expected)"
        ))),
    }
}

/// The message id in column `index` of `row`.
pub fn id_at(row: &rusqlite::Row<'_>, index: usize) -> Result<MessageId> {
    optional_id_at(row, index)?
        .ok_or_else(|| StoreError::Corrupt(format!("no message id in column {index}")))
}

/// The message id in column `index` of `row`, or `None` for NULL.
pub fn optional_id_at(row: &rusqlite::Row<'_>, index: usize) -> Result<Option<MessageId>> {
    row.get_ref(index)?
        .as_blob_or_null()
        .map_err(|error| StoreError::Corrupt(format!("message id: {error}")))?
        .map(id_from_bytes)
        .transpose()
}

/// SQLite integers are signed 64-bit: a `u64` is stored bit-cast.
pub fn to_sql(value: u64) -> i64 {
    value as i64
}

/// The inverse of [`to_sql`].
pub fn from_sql(value: i64) -> u64 {
    value as u64
}

/// A network as the `messages.network` column keeps it.
pub fn network_to_sql(network: skychat_core::Network) -> i64 {
    match network {
        skychat_core::Network::Skynet => 1,
        skychat_core::Network::Dmsg => 2,
        _ => 0,
    }
}

/// The network of a `messages.network` value; `None` for NULL or a value this build does not
/// know.
pub fn network_from_sql(value: Option<i64>) -> Option<skychat_core::Network> {
    match value? {
        0 => Some(skychat_core::Network::Tcp),
        1 => Some(skychat_core::Network::Skynet),
        2 => Some(skychat_core::Network::Dmsg),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_ids_are_the_bytes_of_their_hex_form_and_round_trip() {
        let ids = [
            MessageId {
                stream: 0xdead_beef_0102_0304,
                seq: 42,
            },
            MessageId {
                stream: u64::MAX,
                seq: u64::MAX,
            },
            "18ed000000000001".parse().expect("a Go id"),
            MessageId { stream: 0, seq: 0 },
        ];
        for id in ids {
            let stored = IdBytes::of(id);
            assert_eq!(hex::encode(stored.as_slice()), id.to_hex());
            let back = id_from_bytes(stored.as_slice()).unwrap();
            assert_eq!(back, id);
            assert_eq!(back.to_hex(), id.to_hex());
        }
        assert_eq!(IdBytes::of(ids[2]).as_slice().len(), 8);
        assert!(matches!(
            id_from_bytes(&[1, 2, 3]),
            Err(StoreError::Corrupt(_))
        ));
    }
}
