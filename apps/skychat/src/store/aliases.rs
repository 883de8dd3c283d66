//! Local names of peers: the optional alias kept in each peer's row (schema version 8), unique
//! per store ignoring case. The store checks uniqueness and keeps the rows; what makes a good
//! alias is the service's rule, not the store's.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use skychat_core::PublicKey;

use super::Store;
use super::error::Result;
use super::query::parse_peer;

/// What [`Store::set_alias`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasChange {
    /// The peer has the alias now (it may have had it already).
    Set,
    /// Another peer has an alias equal to it ignoring case: nothing changed.
    Taken(PublicKey),
}

/// A peer the store knows, with its alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownPeer {
    /// The peer.
    pub peer: PublicKey,
    /// Its alias, if it has one.
    pub alias: Option<String>,
}

/// The form of an alias that uniqueness compares: lower case.
pub fn folded(alias: &str) -> String {
    alias.to_lowercase()
}

impl Store {
    /// Every peer with a row: all that messages or dedup marks were ever stored with, and all
    /// that were given an alias, in key order.
    pub fn known_peers(&self) -> Result<Vec<KnownPeer>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT key, alias FROM peers ORDER BY key")?;
        let mut rows = statement.query([])?;
        let mut peers = Vec::new();
        while let Some(row) = rows.next()? {
            peers.push(KnownPeer {
                peer: parse_peer(&row.get::<_, String>(0)?)?,
                alias: row.get(1)?,
            });
        }
        Ok(peers)
    }

    /// The peers that have an alias, in key order.
    pub fn aliases(&self) -> Result<Vec<(PublicKey, String)>> {
        Ok(self
            .known_peers()?
            .into_iter()
            .filter_map(|p| p.alias.map(|alias| (p.peer, alias)))
            .collect())
    }

    /// Gives `peer` the alias `alias` (replacing the one it had), adding its row if it has
    /// none; refuses an alias another peer has, ignoring case. `alias` is stored as given.
    pub fn set_alias(&mut self, peer: PublicKey, alias: &str) -> Result<AliasChange> {
        let key = peer.to_hex();
        let folded = folded(alias);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let holder: Option<String> = tx
            .prepare_cached("SELECT key FROM peers WHERE alias_folded = ?1 AND key <> ?2")?
            .query_row(params![folded, key], |row| row.get(0))
            .optional()?;
        if let Some(holder) = holder {
            return Ok(AliasChange::Taken(parse_peer(&holder)?));
        }
        tx.prepare_cached("INSERT INTO peers (key) VALUES (?1) ON CONFLICT (key) DO NOTHING")?
            .execute([&key])?;
        tx.prepare_cached("UPDATE peers SET alias = ?1, alias_folded = ?2 WHERE key = ?3")?
            .execute(params![alias, folded, key])?;
        tx.commit()?;
        Ok(AliasChange::Set)
    }

    /// Removes `peer`'s alias. Returns the alias it had, if any.
    pub fn clear_alias(&mut self, peer: PublicKey) -> Result<Option<String>> {
        let key = peer.to_hex();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let old: Option<String> = tx
            .prepare_cached("SELECT alias FROM peers WHERE key = ?1")?
            .query_row([&key], |row| row.get(0))
            .optional()?
            .flatten();
        if old.is_some() {
            tx.prepare_cached("UPDATE peers SET alias = NULL, alias_folded = NULL WHERE key = ?1")?
                .execute([&key])?;
        }
        tx.commit()?;
        Ok(old)
    }
}
