//! One handshake between a node under test and a [`ScriptedPeer`] on a single connection: feeding
//! the node fuzzer-chunked bytes, jumping its clock, and handing what it transmits to the peer,
//! with every drain checked by an [`Observer`].

use std::time::Duration;

use skychat_core::fuzzing::{ScriptedPeer, max_pre_auth_transmit};
use skychat_core::{ConnId, Node, PublicKey, Role};

use crate::{Cursor, Observer, chunks};

/// A node, the scripted peer at the other end of its connection, and what passed between them.
pub struct Exchange {
    node: Node,
    conn: ConnId,
    now: Duration,
    limit: usize,
    /// The other end of the connection.
    pub peer: ScriptedPeer,
    /// The checks on everything the node outputs.
    pub seen: Observer,
    /// Every frame plaintext the peer decrypted from the node, in order.
    pub frames: Vec<Vec<u8>>,
}

impl Exchange {
    /// An exchange on `conn`, which `node` (playing `role`) opened at time zero. `allowed_peer`
    /// is the only key the node may ever authenticate.
    pub fn new(
        node: Node,
        conn: ConnId,
        role: Role,
        peer: ScriptedPeer,
        allowed_peer: Option<PublicKey>,
    ) -> Self {
        Self {
            node,
            conn,
            now: Duration::ZERO,
            limit: max_pre_auth_transmit(role),
            peer,
            seen: Observer::new(conn, allowed_peer),
            frames: Vec::new(),
        }
    }

    /// The most bytes the node may transmit before it has authenticated the peer.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Drains the node's outputs through the observer; returns the bytes it transmitted.
    pub fn drain(&mut self) -> Vec<u8> {
        self.seen.drain(&mut self.node, self.limit)
    }

    /// Gives the node one chunk of received bytes; returns what it transmitted in response.
    pub fn deliver(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.node.handle_receive(self.now, self.conn, chunk);
        self.drain()
    }

    /// Hands bytes the node transmitted to the peer; false if they break the protocol.
    pub fn forward(&mut self, sent: &[u8]) -> bool {
        self.peer.receive(sent, &mut self.frames)
    }

    /// Delivers `bytes` in chunks cycling through `sizes`, asserting after each chunk that the
    /// peer (named `peer_name` in the failure) can read everything the node sent.
    pub fn feed(&mut self, bytes: &[u8], sizes: &[u8], peer_name: &str) {
        for chunk in chunks(bytes, sizes) {
            let sent = self.deliver(chunk);
            assert!(
                self.forward(&sent),
                "the node sent bytes the {peer_name} cannot read"
            );
        }
    }

    /// Advances the clock by `ms` milliseconds, runs the node's timers and returns what it
    /// transmitted.
    pub fn wait(&mut self, ms: u16) -> Vec<u8> {
        self.now += Duration::from_millis(u64::from(ms));
        self.node.handle_timeout(self.now);
        self.drain()
    }

    /// Appends the rest of `input`, read as frame plaintexts, to `stream`: each one encrypted by
    /// the peer once its handshake has finished, raw before.
    pub fn append_frames(&mut self, input: &mut Cursor<'_>, stream: &mut Vec<u8>) {
        while !input.is_empty() {
            let plaintext = input.field();
            match self.peer.encrypt(plaintext) {
                Some(message) => stream.extend_from_slice(&message),
                None => stream.extend_from_slice(plaintext),
            }
        }
    }
}
