//! The identities of a run: each node's secret and its two public keys, one per wire suite (the
//! native 64-hex key and the Skywire 66-hex key of the same secret), the keys that belong to no
//! node (the mispinned node's wrong key and the unreachable peer), and the lookup from a key back
//! to its node. One node is two different peers depending on which key names it, so everything
//! the simulator keys by peer uses the key, never the node alone.

use std::sync::OnceLock;

use skychat_core::{PublicKey, SecretKey, Suite};

/// Nodes in every scenario.
pub const NODE_COUNT: usize = 5;

/// Both public keys of one secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeKeys {
    /// The native suite's key.
    pub native: PublicKey,
    /// The Skywire suite's key.
    pub skywire: PublicKey,
}

impl NodeKeys {
    /// The keys of `secret`.
    pub fn of(secret: &SecretKey) -> Self {
        Self {
            native: secret.public_key(),
            skywire: secret
                .skywire_public_key()
                .expect("simulated secrets are valid secp256k1 secrets"),
        }
    }

    /// The key that names this node on `suite`.
    pub fn on(&self, suite: Suite) -> PublicKey {
        match suite {
            Suite::Native => self.native,
            Suite::Skywire => self.skywire,
        }
    }

    /// Whether `key` is one of these keys.
    pub fn owns(&self, key: &PublicKey) -> bool {
        *key == self.native || *key == self.skywire
    }
}

/// The identity of node `index` (stable across restarts).
pub fn secret(index: usize) -> SecretKey {
    let mut bytes = [0u8; 32];
    bytes[0] = 0x51;
    bytes[1] = index as u8 + 1;
    SecretKey::from_bytes(bytes)
}

/// Every key pair a scenario uses, derived once: the nodes', then the wrong and the unreachable
/// ones. (Deriving a key is a scalar multiplication, slow in a debug build.)
fn known_keys() -> &'static [NodeKeys; NODE_COUNT + 2] {
    static KEYS: OnceLock<[NodeKeys; NODE_COUNT + 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        std::array::from_fn(|i| match i {
            NODE_COUNT => NodeKeys::of(&SecretKey::from_bytes([0xee; 32])),
            i if i > NODE_COUNT => NodeKeys::of(&SecretKey::from_bytes([0xdd; 32])),
            i => NodeKeys::of(&secret(i)),
        })
    })
}

/// Both keys of node `index`.
pub fn keys(index: usize) -> NodeKeys {
    known_keys()[index]
}

/// The native public key of node `index`.
pub fn public(index: usize) -> PublicKey {
    keys(index).native
}

/// The key of node `index` on `suite`.
pub fn key_on(index: usize, suite: Suite) -> PublicKey {
    keys(index).on(suite)
}

/// The key of `suite` the mispinned node believes the receiver has.
pub fn wrong_key(suite: Suite) -> PublicKey {
    known_keys()[NODE_COUNT].on(suite)
}

/// A key of `suite` that no reachable address belongs to.
pub fn unreachable_key(suite: Suite) -> PublicKey {
    known_keys()[NODE_COUNT + 1].on(suite)
}

/// Whether `key` is the unreachable peer, under either suite.
pub fn is_unreachable(key: &PublicKey) -> bool {
    known_keys()[NODE_COUNT + 1].owns(key)
}

/// Whether `key` is the wrong key, under either suite.
pub fn is_wrong(key: &PublicKey) -> bool {
    known_keys()[NODE_COUNT].owns(key)
}

/// The node that `key` names, under either suite.
pub fn node_of(key: &PublicKey) -> Option<usize> {
    (0..NODE_COUNT).find(|&i| keys(i).owns(key))
}
