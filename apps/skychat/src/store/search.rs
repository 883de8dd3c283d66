//! Full-text search over message bodies with FTS5. User text is never parsed as FTS5 syntax:
//! each whitespace-separated word becomes a quoted FTS5 string, so quotes, `*`, `-`, `:`,
//! parentheses and keywords such as `OR` or `NEAR` are searched for as plain text.

use rusqlite::params;

use super::error::{Result, StoreError};
use super::query::{MESSAGE_COLUMNS, collect};
use super::{Store, StoredMessage};

/// Longest search text accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 1024;

impl Store {
    /// Messages (both ways, all peers) whose body contains every word of `text`, newest first,
    /// at most `limit`. Matching ignores case and diacritics and works on whole words.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<StoredMessage>> {
        let query = fts_query(text)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS}
             FROM messages_fts f JOIN messages m ON m.row_id = f.rowid
             JOIN peers p ON p.id = m.peer_id
             WHERE messages_fts MATCH ?1 ORDER BY m.row_id DESC LIMIT ?2"
        ))?;
        let rows = statement.query(params![query, limit])?;
        collect(rows).map_err(|error| match error {
            StoreError::Sqlite(inner) if inner.to_string().contains("fts5") => {
                StoreError::InvalidQuery(inner.to_string())
            }
            other => other,
        })
    }
}

/// Turns user text into an FTS5 query matching rows that contain every word: each word becomes
/// an FTS5 string (double quotes, inner quotes doubled), and the strings are joined by spaces,
/// which FTS5 reads as AND.
pub fn fts_query(text: &str) -> Result<String> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(StoreError::InvalidQuery(format!(
            "longer than {MAX_QUERY_BYTES} bytes"
        )));
    }
    let words: Vec<String> = text
        .split_whitespace()
        .filter(|word| word.chars().any(char::is_alphanumeric))
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect();
    if words.is_empty() {
        return Err(StoreError::InvalidQuery(
            "no words to search for (letters or digits)".into(),
        ));
    }
    Ok(words.join(" "))
}
