//! The inbound whitelist: which authenticated initiators a responder accepts.

use std::collections::BTreeSet;

use crate::keys::PublicKey;

/// The set of keys allowed to connect inbound. An empty whitelist rejects everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Whitelist {
    allowed: BTreeSet<PublicKey>,
}

impl Whitelist {
    /// A whitelist of exactly these keys.
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        Self {
            allowed: keys.into_iter().collect(),
        }
    }

    /// Whether an initiator that proved it holds `key` may proceed.
    pub fn allows(&self, key: &PublicKey) -> bool {
        self.allowed.contains(key)
    }

    /// True when nobody is allowed.
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
    }

    /// The allowed keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.allowed.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_rejects_everyone_and_a_list_admits_only_its_keys() {
        let a = PublicKey::native([1; 32]);
        let b = PublicKey::native([2; 32]);
        assert!(!Whitelist::default().allows(&a));
        let list = Whitelist::new([a]);
        assert!(list.allows(&a));
        assert!(!list.allows(&b));
    }
}
