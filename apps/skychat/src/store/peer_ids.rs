//! Peers as integer ids. The `peers` table gives each peer's key (either suite's, in hex: 64
//! characters for a native key, 66 for a Skywire one) the integer that messages and dedup marks
//! refer to. The store keeps the mapping it has seen in memory, next to its connection, so that
//! a write looks a peer up in the database only the first time.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};
use skychat_core::PublicKey;

use super::error::Result;

/// Entries kept at most; past it the cache starts over (the table still has every peer).
const MAX_CACHED: usize = 65_536;

/// The cache of peer ids.
#[derive(Debug, Default)]
pub(super) struct PeerIds {
    known: HashMap<PublicKey, i64>,
}

/// Peer ids a transaction added: they join the cache only if it commits, since a rolled-back
/// insert gives its id back to the table.
pub(super) type Added = HashMap<PublicKey, i64>;

impl PeerIds {
    /// The id of `peer` for a write in the open transaction on `conn`, adding the peer to the
    /// table if it is new (recorded in `added`).
    pub(super) fn resolve(
        &self,
        conn: &Connection,
        added: &mut Added,
        peer: PublicKey,
    ) -> Result<i64> {
        if let Some(&id) = self.known.get(&peer).or_else(|| added.get(&peer)) {
            return Ok(id);
        }
        let id = match find(conn, &peer)? {
            Some(id) => id,
            None => {
                conn.prepare_cached("INSERT INTO peers (key) VALUES (?1)")?
                    .execute([peer.to_hex()])?;
                conn.last_insert_rowid()
            }
        };
        added.insert(peer, id);
        Ok(id)
    }

    /// The id of `peer` for a read: `None` if no message or mark with it was ever stored.
    pub(super) fn lookup(&self, conn: &Connection, peer: &PublicKey) -> Result<Option<i64>> {
        self.lookup_in(conn, &Added::new(), peer)
    }

    /// [`PeerIds::lookup`] in the open transaction on `conn`, which added `added`.
    pub(super) fn lookup_in(
        &self,
        conn: &Connection,
        added: &Added,
        peer: &PublicKey,
    ) -> Result<Option<i64>> {
        match self.known.get(peer).or_else(|| added.get(peer)) {
            Some(&id) => Ok(Some(id)),
            None => find(conn, peer),
        }
    }

    /// Takes in the ids of a committed transaction.
    pub(super) fn remember(&mut self, added: Added) {
        if self.known.len() + added.len() > MAX_CACHED {
            self.known.clear();
        }
        self.known.extend(added);
    }
}

fn find(conn: &Connection, peer: &PublicKey) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM peers WHERE key = ?1")?
        .query_row([peer.to_hex()], |row| row.get(0))
        .optional()?)
}
