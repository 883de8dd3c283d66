//! The user's choices per peer (schema version 10): blocked, muted. Each is a flag in the
//! peer's row; setting one adds the row if the peer has none (a peer may be blocked before any
//! message).

use rusqlite::params;
use skychat_core::PublicKey;

use super::Store;
use super::error::Result;
use super::query::parse_peer;

/// A per-peer choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerFlag {
    /// Refused on every network, never dialed, nothing sent to it.
    Blocked,
    /// No notifications in the web page.
    Muted,
}

impl PeerFlag {
    fn column(self) -> &'static str {
        match self {
            Self::Blocked => "blocked",
            Self::Muted => "muted",
        }
    }
}

impl Store {
    /// Sets or clears `flag` for `peer`. Returns whether it changed.
    pub fn set_peer_flag(&mut self, peer: PublicKey, flag: PeerFlag, on: bool) -> Result<bool> {
        self.update_peer_row(peer, |tx, key| {
            let changed = tx.execute(
                &format!(
                    "UPDATE peers SET {0} = ?2 WHERE key = ?1 AND {0} <> ?2",
                    flag.column()
                ),
                params![key, on],
            )?;
            Ok(changed == 1)
        })
    }

    /// The peers with `flag` set, in key order.
    pub fn peers_with_flag(&self, flag: PeerFlag) -> Result<Vec<PublicKey>> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT key FROM peers WHERE {} = 1 ORDER BY key",
            flag.column()
        ))?;
        let mut rows = statement.query([])?;
        let mut peers = Vec::new();
        while let Some(row) = rows.next()? {
            peers.push(parse_peer(&row.get::<_, String>(0)?)?);
        }
        Ok(peers)
    }
}
