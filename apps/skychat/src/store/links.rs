//! Remembered dial addresses of peers (schema version 9): the TCP-direct `host:port` a peer was
//! added with through an invite or a `tcp://` address, kept in its row so that the node links to
//! it again after a restart. What makes a good address is checked before it gets here.

use rusqlite::{TransactionBehavior, params};
use skychat_core::PublicKey;

use super::Store;
use super::error::Result;
use super::query::parse_peer;

impl Store {
    /// Remembers `addr` as where to dial `peer` (replacing the one it had), adding its row if it
    /// has none.
    pub fn set_dial_addr(&mut self, peer: PublicKey, addr: &str) -> Result<()> {
        self.update_peer_row(peer, |tx, key| {
            tx.prepare_cached("UPDATE peers SET dial_addr = ?1 WHERE key = ?2")?
                .execute(params![addr, key])?;
            Ok(())
        })
    }

    /// Runs `update` on `peer`'s row, added first if the peer has none, in one immediate
    /// transaction; `update` gets the transaction and the key as the row holds it.
    pub(super) fn update_peer_row<T>(
        &mut self,
        peer: PublicKey,
        update: impl FnOnce(&rusqlite::Transaction<'_>, &str) -> Result<T>,
    ) -> Result<T> {
        let key = peer.to_hex();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.prepare_cached("INSERT INTO peers (key) VALUES (?1) ON CONFLICT (key) DO NOTHING")?
            .execute([&key])?;
        let value = update(&tx, &key)?;
        tx.commit()?;
        Ok(value)
    }

    /// Every peer with a remembered dial address, in key order.
    pub fn dial_addrs(&self) -> Result<Vec<(PublicKey, String)>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT key, dial_addr FROM peers WHERE dial_addr IS NOT NULL ORDER BY key",
        )?;
        let mut rows = statement.query([])?;
        let mut links = Vec::new();
        while let Some(row) = rows.next()? {
            links.push((parse_peer(&row.get::<_, String>(0)?)?, row.get(1)?));
        }
        Ok(links)
    }
}
