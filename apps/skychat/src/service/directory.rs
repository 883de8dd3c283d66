//! Peers by name: what a client wrote for a peer (a key, a `tcp://<pk>@host:port` address or an
//! alias) resolved to its key, aliases set and removed (in the store first, then in the
//! [`AliasBook`](super::aliases::AliasBook)), and the list of every peer this node knows.

use skychat_core::PublicKey;

use super::aliases::check_alias;
use super::status::PeerStatus;
use super::{Service, ServiceError};
use crate::store::{AliasChange, StoreError};

impl Service {
    /// Loads the aliases the store holds, before the service serves.
    pub fn load_aliases(&self, aliases: Vec<(PublicKey, String)>) {
        self.0.aliases.load(aliases);
    }

    /// The key `text` names, for the request field `field`: a peer key (64 or 66 hex), a
    /// `tcp://<pk>@host:port` address (its key), or a peer's alias (ignoring case).
    pub fn resolve_peer(&self, field: &str, text: &str) -> Result<PublicKey, ServiceError> {
        let text = text.trim();
        if let Ok(key) = text.parse::<PublicKey>() {
            return Ok(key);
        }
        if text.to_ascii_lowercase().starts_with("tcp://") {
            return crate::address::parse_peer_spec(text)
                .map(|spec| spec.pk)
                .map_err(|e| bad(format!("invalid {field}: {e}")));
        }
        if let Some(key) = self.0.aliases.peer_named(text) {
            return Ok(key);
        }
        // Long hex is a mistyped key rather than a name: say what is wrong with it as a key.
        if text.len() > 16
            && text.bytes().all(|b| b.is_ascii_hexdigit())
            && let Err(e) = text.parse::<PublicKey>()
        {
            return Err(bad(format!(
                "invalid {field}: {e}, and no peer has it as alias"
            )));
        }
        Err(bad(format!(
            "invalid {field}: no peer key or alias {text:?}; set one with PUT /peers/<pk>/alias"
        )))
    }

    /// The alias of `peer`, if it has one.
    pub fn alias_of(&self, peer: &PublicKey) -> Option<String> {
        self.0.aliases.alias_of(peer)
    }

    /// Gives `peer` the alias `text` (trimmed; see [`check_alias`]), replacing the one it had.
    /// Returns the alias as stored.
    pub async fn set_alias(&self, peer: PublicKey, text: &str) -> Result<String, ServiceError> {
        let alias = check_alias(text).map_err(bad)?;
        let book = self.0.aliases.clone();
        let stored = alias.clone();
        let change = self
            .0
            .storage
            .read(move |store| {
                let change = store.set_alias(peer, &stored)?;
                if change == AliasChange::Set {
                    book.set(peer, Some(stored));
                }
                Ok::<_, StoreError>(change)
            })
            .await??;
        match change {
            AliasChange::Set => Ok(alias),
            AliasChange::Taken(holder) => Err(bad(format!(
                "invalid alias: {alias:?} is already the alias of {holder} (aliases are unique \
                 on this node, ignoring case); remove it there first with DELETE \
                 /peers/{holder}/alias"
            ))),
        }
    }

    /// Removes `peer`'s alias; returns the one it had.
    pub async fn clear_alias(&self, peer: PublicKey) -> Result<Option<String>, ServiceError> {
        let book = self.0.aliases.clone();
        Ok(self
            .0
            .storage
            .read(move |store| {
                let old = store.clear_alias(peer)?;
                book.set(peer, None);
                Ok::<_, StoreError>(old)
            })
            .await??)
    }

    /// Every peer this node knows: those `/status` lists, and every peer the store has a row
    /// for (messages were exchanged with it, or it was given an alias), in key order.
    pub async fn known_peers(&self) -> Result<Vec<PeerStatus>, ServiceError> {
        let stored = self.0.storage.read(|store| store.known_peers()).await??;
        Ok(self.peer_statuses(stored.into_iter().map(|p| p.peer)))
    }
}

fn bad(message: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(message.into())
}
