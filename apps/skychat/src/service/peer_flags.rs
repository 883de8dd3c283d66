//! Blocking and muting peers: the user's choices kept in the store (so they survive restarts),
//! in memory for `/status` and `/peers`, and, for a block, in the node, which refuses the peer
//! on every network and stops dialing it. Sending to a blocked peer is refused.

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde::Serialize;
use skychat_core::PublicKey;

use super::{Service, ServiceError};
use crate::store::PeerFlag;

/// The blocked and the muted peers.
#[derive(Default)]
pub struct FlagBook {
    blocked: Mutex<BTreeSet<PublicKey>>,
    muted: Mutex<BTreeSet<PublicKey>>,
}

impl FlagBook {
    fn set(&self, flag: PeerFlag, peer: PublicKey, on: bool) {
        let mut peers = self.of(flag).lock().expect("flag lock");
        if on {
            peers.insert(peer);
        } else {
            peers.remove(&peer);
        }
    }

    fn of(&self, flag: PeerFlag) -> &Mutex<BTreeSet<PublicKey>> {
        match flag {
            PeerFlag::Blocked => &self.blocked,
            PeerFlag::Muted => &self.muted,
        }
    }

    /// Whether `peer` has `flag`.
    pub fn has(&self, flag: PeerFlag, peer: &PublicKey) -> bool {
        self.of(flag).lock().expect("flag lock").contains(peer)
    }

    /// Every peer with `flag`.
    pub fn snapshot(&self, flag: PeerFlag) -> BTreeSet<PublicKey> {
        self.of(flag).lock().expect("flag lock").clone()
    }
}

/// A peer's flag after a change, as the routes answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlagChange {
    /// The peer.
    pub pk: String,
    /// Whether it is blocked now (for a block change).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<bool>,
    /// Whether it is muted now (for a mute change).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
}

impl Service {
    /// Records the flags the store holds, at start (the node is already told the blocked
    /// peers, through its configuration).
    pub fn load_flags(&self, blocked: Vec<PublicKey>, muted: Vec<PublicKey>) {
        for peer in blocked {
            self.0.flags.set(PeerFlag::Blocked, peer, true);
        }
        for peer in muted {
            self.0.flags.set(PeerFlag::Muted, peer, true);
        }
    }

    /// Whether `peer` is blocked.
    pub fn is_blocked(&self, peer: &PublicKey) -> bool {
        self.0.flags.has(PeerFlag::Blocked, peer)
    }

    /// Blocks or unblocks `peer`: stored first, then the node closes its sessions and refuses
    /// it (or takes it back, dialing it again if it keeps a link to it).
    pub async fn set_blocked(&self, peer: PublicKey, on: bool) -> Result<FlagChange, ServiceError> {
        self.set_flag(peer, PeerFlag::Blocked, on).await?;
        self.0.node.set_blocked(peer, on).await;
        Ok(FlagChange {
            pk: peer.to_hex(),
            blocked: Some(on),
            muted: None,
        })
    }

    /// Mutes or unmutes `peer`.
    pub async fn set_muted(&self, peer: PublicKey, on: bool) -> Result<FlagChange, ServiceError> {
        self.set_flag(peer, PeerFlag::Muted, on).await?;
        Ok(FlagChange {
            pk: peer.to_hex(),
            blocked: None,
            muted: Some(on),
        })
    }

    async fn set_flag(
        &self,
        peer: PublicKey,
        flag: PeerFlag,
        on: bool,
    ) -> Result<(), ServiceError> {
        let own = self.own_keys();
        if own.native == peer || own.skywire == Some(peer) {
            return Err(ServiceError::BadRequest(
                "that is this node's own key".into(),
            ));
        }
        self.0
            .storage
            .read(move |store| store.set_peer_flag(peer, flag, on))
            .await??;
        self.0.flags.set(flag, peer, on);
        Ok(())
    }
}
