//! Peers added by the user: this node's own invite (`GET /invite`), and adding a peer from an
//! invite, a `tcp://` address or a key (`POST /peers`): its alias, and for an address a
//! persistent link, remembered in the store (so it is restored at start, [`Service::load_links`])
//! and kept in the [`LinkBook`] for `/status` and `/peers`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;
use skychat_core::PublicKey;

use super::invite::{Invite, parse_peer_text};
use super::status::PeerStatus;
use super::{Mode, Service, ServiceError};

/// The dial address of every peer added with one, as the store holds them.
#[derive(Default)]
pub struct LinkBook {
    addrs: Mutex<BTreeMap<PublicKey, String>>,
}

impl LinkBook {
    /// Records that `peer` is dialled at `addr`.
    pub fn set(&self, peer: PublicKey, addr: String) {
        self.addrs.lock().expect("link lock").insert(peer, addr);
    }

    /// Every peer with an address.
    pub fn snapshot(&self) -> BTreeMap<PublicKey, String> {
        self.addrs.lock().expect("link lock").clone()
    }
}

/// This node's invite, as `GET /invite` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnInvite {
    /// The invite string: `skychat:<pk>[?tcp=host:port][&name=…]`.
    pub invite: String,
    /// The key in it.
    pub pk: String,
    /// The address in it, if this node has one a peer can dial.
    pub tcp: Option<String>,
    /// The name in it, if one was asked for.
    pub name: Option<String>,
    /// Why the invite has no address, when it has none.
    pub note: Option<String>,
}

impl Service {
    /// Records the address peers dial to reach this node (`--advertise`), for the invite.
    pub fn set_advertise(&self, addr: String) {
        let _ = self.0.advertise.set(addr);
    }

    /// Records the dial addresses the store remembers, at start (the node is already told to
    /// keep the links).
    pub fn load_links(&self, links: Vec<(PublicKey, String)>) {
        for (peer, addr) in links {
            self.0.links.set(peer, addr);
        }
    }

    /// This node's invite, suggesting `name` (checked as an alias is) for it.
    pub fn invite(&self, name: Option<&str>) -> Result<OwnInvite, ServiceError> {
        let name = name
            .map(super::aliases::check_alias)
            .transpose()
            .map_err(|e| ServiceError::BadRequest(e.replacen("alias", "name", 1)))?;
        let info = &self.0.info;
        let (tcp, note) = match (self.0.advertise.get(), info.tcp_listen) {
            (Some(addr), _) => (Some(addr.clone()), None),
            (None, Some(listen)) if !listen.ip().is_unspecified() => {
                (Some(listen.to_string()), None)
            }
            (None, Some(listen)) => (
                None,
                Some(format!(
                    "this node listens on every interface ({listen}) and does not know which \
                     address peers reach it at: start it with --advertise tcp://<host>:{} to put \
                     one in the invite; until then a peer with this invite waits for this node \
                     to dial it",
                    listen.port()
                )),
            ),
            (None, None) => (
                None,
                Some(
                    "this node has no TCP listener (--tcp-listen): a peer with this invite \
                     waits for this node to dial it"
                        .to_string(),
                ),
            ),
        };
        // Under a visor without a TCP listener, peers reach this node over skynet and dmsg,
        // by its Skywire key.
        let pk = match (info.mode, info.tcp_listen, self.own_keys().skywire) {
            (Mode::Embedded, None, Some(skywire)) => skywire,
            _ => self.public_key(),
        };
        let invite = Invite {
            pk,
            tcp: tcp.clone(),
            name: name.clone(),
        };
        Ok(OwnInvite {
            invite: invite.to_string(),
            pk: pk.to_hex(),
            tcp,
            name,
            note,
        })
    }

    /// Adds the peer `text` names (an invite, a `tcp://` address or a key): gives it `alias`,
    /// or else the invite's name if it has no alias yet and nobody else has that one; and with
    /// an address, remembers it and keeps a persistent link. Returns the peer as `/peers` lists
    /// it.
    pub async fn add_peer(
        &self,
        text: &str,
        alias: Option<&str>,
    ) -> Result<PeerStatus, ServiceError> {
        let invite = parse_peer_text(text).map_err(ServiceError::BadRequest)?;
        let own = self.own_keys();
        if invite.pk == own.native || Some(invite.pk) == own.skywire {
            return Err(ServiceError::BadRequest(
                "invalid invite: it is this node's own; paste the invite of the person you want \
                 to talk to"
                    .into(),
            ));
        }
        let peer = invite.pk;
        match (alias, invite.name) {
            (Some(alias), _) => {
                self.set_alias(peer, alias).await?;
            }
            (None, Some(name)) if self.alias_of(&peer).is_none() => {
                // A suggested name another peer already has is not taken; the key stays shown.
                match self.set_alias(peer, &name).await {
                    Ok(_) | Err(ServiceError::BadRequest(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            _ => {}
        }
        if let Some(addr) = invite.tcp {
            let stored = addr.clone();
            self.0
                .storage
                .read(move |store| store.set_dial_addr(peer, &stored))
                .await??;
            self.0.links.set(peer, addr.clone());
            self.0.node.keep_connected(peer, addr).await;
        }
        let pk = peer.to_hex();
        self.peer_statuses([peer])
            .into_iter()
            .find(|p| p.pk == pk)
            .ok_or_else(|| ServiceError::Internal(format!("peer {pk} is missing from the list")))
    }
}
