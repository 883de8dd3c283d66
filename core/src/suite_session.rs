//! One connection's wire, whichever suite it speaks: the native Noise session, the Skywire
//! session, a visor-relayed mesh stream (Skywire chat frames without a handshake), or (for an
//! inbound connection that has not said enough yet) not decided.
//!
//! An initiator knows its suite from the key it dials. A responder tells the suites apart by the
//! length prefix of the first handshake message: the native message 1 is exactly
//! [`MSG1_LEN`] bytes, a Skywire message 1 at least [`MIN_MSG1_LEN`]. Both suites put a 2-byte
//! big-endian length first, so two bytes decide, before any cryptography.

use bytes::BytesMut;

use crate::frame::{Decoded, Frame};
use crate::handshake::MSG1_LEN;
use crate::keys::{KEY_LEN, PublicKey, SecretKey};
use crate::message::ChatMessage;
use crate::session::{Received, Role, Session, SessionError};
use crate::skywire::handshake::MIN_MSG1_LEN;
use crate::skywire::mesh::MeshWire;
use crate::skywire::record::MAX_BODY_LEN;
use crate::skywire::{
    PqPolicy, SkywirePayload, SkywirePublicKey, SkywireReceived, SkywireSecretKey, SkywireSession,
};

/// What a connection read, in either suite.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// The handshake finished. `post_quantum` is `None` for the native suite.
    Authenticated {
        peer: PublicKey,
        post_quantum: Option<bool>,
    },
    /// A native transport frame.
    Native(Decoded),
    /// A Skywire chat frame.
    Skywire(SkywirePayload),
}

enum Wire {
    /// An inbound connection before its first two bytes; `buffer` holds what arrived.
    Undecided {
        buffer: BytesMut,
        seed: [u8; 32],
    },
    Native(Box<Session>),
    Skywire(Box<SkywireSession>),
    Mesh(MeshWire),
}

/// This node's keys and policy, as a responder needs them once it knows the suite.
#[derive(Clone)]
pub(crate) struct LocalKeys {
    pub(crate) native: SecretKey,
    pub(crate) skywire: Option<SkywireSecretKey>,
    pub(crate) policy: PqPolicy,
}

/// A connection's protocol state in its suite.
pub(crate) struct SuiteSession {
    wire: Wire,
    role: Role,
    pinned: Option<PublicKey>,
    authenticated: Option<PublicKey>,
}

impl SuiteSession {
    /// An initiator to a native peer; message 1 goes to `tx`.
    pub(crate) fn native_initiator(
        local: &SecretKey,
        remote: &[u8; KEY_LEN],
        seed: [u8; 32],
        tx: &mut BytesMut,
    ) -> Self {
        Self {
            wire: Wire::Native(Box::new(Session::initiator(local, remote, seed, tx))),
            role: Role::Initiator,
            pinned: Some(PublicKey::native(*remote)),
            authenticated: None,
        }
    }

    /// An initiator to a Skywire peer; message 1 goes to `tx`.
    pub(crate) fn skywire_initiator(
        local: &SkywireSecretKey,
        remote: &SkywirePublicKey,
        policy: PqPolicy,
        seed: [u8; 32],
        tx: &mut BytesMut,
    ) -> Self {
        let session = SkywireSession::initiator(local, remote, policy, seed, tx);
        Self {
            wire: Wire::Skywire(Box::new(session)),
            role: Role::Initiator,
            pinned: Some((*remote).into()),
            authenticated: None,
        }
    }

    /// A responder that will answer whichever suite the initiator speaks (the Skywire one only
    /// if this node has a Skywire key). Its randomness comes from `seed`.
    pub(crate) fn responder(seed: [u8; 32]) -> Self {
        Self {
            wire: Wire::Undecided {
                buffer: BytesMut::new(),
                seed,
            },
            role: Role::Responder,
            pinned: None,
            authenticated: None,
        }
    }

    /// A connection a visor relays to `remote`, whose key the visor's transport proved: it is
    /// established from the start.
    pub(crate) fn mesh(remote: PublicKey, role: Role) -> Self {
        Self {
            wire: Wire::Mesh(MeshWire::default()),
            role,
            pinned: Some(remote),
            authenticated: Some(remote),
        }
    }

    /// Our end of the handshake.
    pub(crate) fn role(&self) -> Role {
        self.role
    }

    /// True once the handshake has finished, even if the session failed afterwards.
    pub(crate) fn is_established(&self) -> bool {
        self.authenticated.is_some()
    }

    /// The remote key: pinned by an initiator, proven to a responder.
    pub(crate) fn remote(&self) -> Option<PublicKey> {
        self.authenticated.or(self.pinned)
    }

    /// True if this connection carries Skywire chat payloads (TCP-direct or mesh).
    pub(crate) fn is_skywire(&self) -> bool {
        matches!(self.wire, Wire::Skywire(_) | Wire::Mesh(_))
    }

    /// Handshake messages read and verified so far.
    pub(crate) fn handshake_messages_read(&self) -> u8 {
        match &self.wire {
            Wire::Undecided { .. } | Wire::Mesh(_) => 0,
            Wire::Native(session) => session.handshake_messages_read(),
            Wire::Skywire(session) => session.handshake_messages_read(),
        }
    }

    /// Appends received bytes.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        match &mut self.wire {
            Wire::Undecided { buffer, .. } => buffer.extend_from_slice(bytes),
            Wire::Native(session) => session.push(bytes),
            Wire::Skywire(session) => session.push(bytes),
            Wire::Mesh(wire) => wire.push(bytes),
        }
    }

    /// Releases receive memory when nothing is buffered.
    pub(crate) fn shrink(&mut self) {
        match &mut self.wire {
            Wire::Undecided { .. } => {}
            Wire::Native(session) => session.shrink(),
            Wire::Skywire(session) => session.shrink(),
            Wire::Mesh(wire) => wire.shrink(),
        }
    }

    /// Processes buffered input up to the next event, appending any handshake reply to `tx`.
    pub(crate) fn next(
        &mut self,
        keys: &LocalKeys,
        tx: &mut BytesMut,
        scratch: &mut Vec<u8>,
    ) -> Result<Option<Incoming>, SessionError> {
        if matches!(self.wire, Wire::Undecided { .. }) && !self.decide(keys)? {
            return Ok(None);
        }
        let incoming = match &mut self.wire {
            Wire::Undecided { .. } => None,
            Wire::Native(session) => match session.next(tx, scratch)? {
                None => None,
                Some(Received::Authenticated(peer)) => Some(Incoming::Authenticated {
                    peer,
                    post_quantum: None,
                }),
                Some(Received::Frame(decoded)) => Some(Incoming::Native(decoded)),
            },
            Wire::Skywire(session) => match session.next(tx).map_err(SessionError::Skywire)? {
                None => None,
                Some(SkywireReceived::Established(done)) => Some(Incoming::Authenticated {
                    peer: done.remote.into(),
                    post_quantum: Some(done.pq),
                }),
                Some(SkywireReceived::Payload(payload)) => Some(Incoming::Skywire(payload)),
            },
            Wire::Mesh(wire) => wire
                .next_payload()
                .map_err(SessionError::Skywire)?
                .map(Incoming::Skywire),
        };
        if let Some(Incoming::Authenticated { peer, .. }) = &incoming {
            self.authenticated = Some(*peer);
        }
        Ok(incoming)
    }

    /// Picks the suite from the first length prefix once two bytes are in. Returns whether a
    /// suite is now chosen.
    fn decide(&mut self, keys: &LocalKeys) -> Result<bool, SessionError> {
        let Wire::Undecided { buffer, seed } = &mut self.wire else {
            return Ok(true);
        };
        if buffer.len() < 2 {
            return Ok(false);
        }
        let len = usize::from(u16::from_be_bytes([buffer[0], buffer[1]]));
        let (buffer, seed) = (std::mem::take(buffer), *seed);
        self.wire = match &keys.skywire {
            _ if len == MSG1_LEN => {
                let mut session = Session::responder(&keys.native, seed);
                session.push(&buffer);
                Wire::Native(Box::new(session))
            }
            Some(key) if (MIN_MSG1_LEN..=MAX_BODY_LEN).contains(&len) => {
                let mut session = SkywireSession::responder(key, keys.policy, seed);
                session.push(&buffer);
                Wire::Skywire(Box::new(session))
            }
            _ => return Err(SessionError::UnknownSuite { len }),
        };
        Ok(true)
    }

    /// Sends a native frame, or its Skywire payload (see [`crate::skywire::ids`]); returns
    /// whether anything was written. Skywire has no ping, pong or close: those are skipped.
    pub(crate) fn send_native(
        &mut self,
        frame: &Frame,
        tx: &mut BytesMut,
        scratch: &mut Vec<u8>,
    ) -> bool {
        match &mut self.wire {
            Wire::Native(session) => {
                session.send(frame, tx, scratch);
                true
            }
            Wire::Undecided { .. } | Wire::Skywire(_) | Wire::Mesh(_) => false,
        }
    }

    /// [`SuiteSession::send_native`] of a chat frame, from a borrowed message.
    pub(crate) fn send_native_chat(
        &mut self,
        message: &ChatMessage,
        tx: &mut BytesMut,
        scratch: &mut Vec<u8>,
    ) -> bool {
        match &mut self.wire {
            Wire::Native(session) => {
                session.send_chat(message, tx, scratch);
                true
            }
            Wire::Undecided { .. } | Wire::Skywire(_) | Wire::Mesh(_) => false,
        }
    }

    /// Seals the native frames packed since the last flush (see [`Session::flush`]); nothing
    /// for the other wires, which write each payload as it is sent.
    pub(crate) fn flush(&mut self, tx: &mut BytesMut, scratch: &mut Vec<u8>) {
        if let Wire::Native(session) = &mut self.wire {
            session.flush(tx, scratch);
        }
    }

    /// Takes note of a native peer's features frame.
    pub(crate) fn set_peer_features(
        &mut self,
        bits: u64,
        tx: &mut BytesMut,
        scratch: &mut Vec<u8>,
    ) {
        if let Wire::Native(session) = &mut self.wire {
            session.set_peer_features(bits, tx, scratch);
        }
    }

    /// Sends a Skywire payload; false if this is not an established Skywire session or the
    /// payload cannot be sent (then the connection should close).
    pub(crate) fn send_skywire(&mut self, payload: &SkywirePayload, tx: &mut BytesMut) -> bool {
        match &mut self.wire {
            Wire::Skywire(session) => session.send(payload, tx).is_ok(),
            Wire::Mesh(wire) => wire.send(payload, tx).is_ok(),
            Wire::Undecided { .. } | Wire::Native(_) => false,
        }
    }
}
