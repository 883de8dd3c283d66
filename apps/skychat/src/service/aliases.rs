//! Local names for peers, in memory: the rule an alias must follow ([`check_alias`]) and the
//! book of every peer's alias ([`AliasBook`]), looked up both ways without a store read. The
//! store keeps the aliases across restarts; the book is loaded from it at start and changed only
//! on the store's thread, right after the store, so the two never disagree.

use std::collections::BTreeMap;
use std::sync::Mutex;

use skychat_core::PublicKey;

use crate::store::aliases::folded;

/// The longest alias, in bytes of UTF-8.
pub const MAX_ALIAS_BYTES: usize = 64;

/// Checks an alias and returns it trimmed: 1 to [`MAX_ALIAS_BYTES`] bytes after trimming, no
/// control characters, not a peer key (64 or 66 hex) and not a `tcp://` address, either of which
/// would be read as such wherever a peer is named. The reason names the rule that failed.
pub fn check_alias(text: &str) -> Result<String, String> {
    let alias = text.trim();
    if alias.is_empty() {
        return Err("invalid alias: it is empty (to remove an alias, use DELETE)".into());
    }
    let key_shaped = matches!(alias.len(), 64 | 66) && alias.bytes().all(|b| b.is_ascii_hexdigit());
    if key_shaped || alias.parse::<PublicKey>().is_ok() {
        return Err(
            "invalid alias: it has the form of a peer key (64 or 66 hex); an alias must not look \
             like one"
                .into(),
        );
    }
    if alias.len() > MAX_ALIAS_BYTES {
        return Err(format!(
            "invalid alias: it is {} bytes; an alias is at most {MAX_ALIAS_BYTES} bytes of UTF-8",
            alias.len()
        ));
    }
    if alias.chars().any(char::is_control) {
        return Err("invalid alias: it holds a control character (tab, newline, …)".into());
    }
    if alias.to_ascii_lowercase().starts_with("tcp://") {
        return Err(
            "invalid alias: it starts with tcp://, the form of a peer address; an alias must \
             not look like one"
                .into(),
        );
    }
    Ok(alias.to_string())
}

#[derive(Default)]
struct Entries {
    by_peer: BTreeMap<PublicKey, String>,
    by_folded: BTreeMap<String, PublicKey>,
}

/// Every peer's alias, both ways.
#[derive(Default)]
pub struct AliasBook {
    entries: Mutex<Entries>,
}

impl AliasBook {
    /// Replaces the book with `aliases`, as the store holds them.
    pub fn load(&self, aliases: impl IntoIterator<Item = (PublicKey, String)>) {
        let mut entries = self.entries.lock().expect("alias lock");
        *entries = Entries::default();
        for (peer, alias) in aliases {
            entries.by_folded.insert(folded(&alias), peer);
            entries.by_peer.insert(peer, alias);
        }
    }

    /// Records that `peer` is called `alias` now (or nothing, with `None`).
    pub fn set(&self, peer: PublicKey, alias: Option<String>) {
        let mut entries = self.entries.lock().expect("alias lock");
        if let Some(old) = entries.by_peer.remove(&peer) {
            entries.by_folded.remove(&folded(&old));
        }
        if let Some(alias) = alias {
            entries.by_folded.insert(folded(&alias), peer);
            entries.by_peer.insert(peer, alias);
        }
    }

    /// The alias of `peer`.
    pub fn alias_of(&self, peer: &PublicKey) -> Option<String> {
        self.entries
            .lock()
            .expect("alias lock")
            .by_peer
            .get(peer)
            .cloned()
    }

    /// The peer called `alias`, ignoring case.
    pub fn peer_named(&self, alias: &str) -> Option<PublicKey> {
        self.entries
            .lock()
            .expect("alias lock")
            .by_folded
            .get(&folded(alias.trim()))
            .copied()
    }

    /// Every peer with an alias.
    pub fn snapshot(&self) -> BTreeMap<PublicKey, String> {
        self.entries.lock().expect("alias lock").by_peer.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_name_what_is_wrong() {
        assert_eq!(check_alias("  Alice B  ").unwrap(), "Alice B");
        assert_eq!(check_alias(&"é".repeat(32)).unwrap().len(), 64);
        for (text, rule) in [
            ("   ", "empty"),
            (&"é".repeat(33) as &str, "at most 64 bytes"),
            ("al\tice", "control character"),
            ("bob\u{7f}", "control character"),
            (&"ab".repeat(32) as &str, "peer key"),
            (&format!("02{}", "cd".repeat(32)) as &str, "peer key"),
            ("TCP://x@y:1", "tcp://"),
        ] {
            let error = check_alias(text).unwrap_err();
            assert!(error.contains(rule), "{text:?}: {error}");
        }
        // Hex of another length is a fine name.
        assert!(check_alias("cafe").is_ok());
    }

    #[test]
    fn the_book_finds_peers_by_alias_ignoring_case_and_forgets_replaced_names() {
        let (a, b) = (PublicKey::native([1; 32]), PublicKey::native([2; 32]));
        let book = AliasBook::default();
        book.load([(a, "Alice".to_string())]);
        assert_eq!(book.peer_named("aLICE "), Some(a));
        book.set(a, Some("Ally".into()));
        assert_eq!(book.peer_named("alice"), None);
        assert_eq!(book.alias_of(&a).as_deref(), Some("Ally"));
        book.set(b, Some("Ÿvonne".into()));
        assert_eq!(book.peer_named("ÿVONNE"), Some(b));
        book.set(a, None);
        assert_eq!(book.alias_of(&a), None);
        assert_eq!(book.snapshot().len(), 1);
    }
}
