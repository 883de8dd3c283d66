//! What the fuzz targets share: reading a structured input from the fuzzer's bytes, splitting a
//! byte stream into fuzzer-chosen chunks, and draining a node's outputs while checking the
//! properties that hold for every connection whatever the peer sends. Driving one handshake
//! against a scripted peer is [`Exchange`].

mod exchange;

pub use exchange::Exchange;

use skychat_core::{ConnId, Event, Node, Output, PublicKey};

/// Reads fields from the fuzzer's bytes; past the end every read yields zeros or empty slices,
/// so any input is a valid scenario.
pub struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    /// A cursor over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self(data)
    }

    /// One byte.
    pub fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// A field: one length byte, then up to that many bytes.
    pub fn field(&mut self) -> &'a [u8] {
        let len = usize::from(self.byte()).min(self.0.len());
        let (field, rest) = self.0.split_at(len);
        self.0 = rest;
        field
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }

    /// Whether anything is left.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The start every handshake target's input shares: a flag byte (its bits mean something per
/// target), two delays in ms (u16 each) and the chunk sizes field.
pub struct Head<'a> {
    /// The flag byte.
    pub flags: u8,
    /// How long to wait after each phase of the handshake, in ms.
    pub delays: [u16; 2],
    /// Chunk sizes for [`chunks`].
    pub sizes: &'a [u8],
}

impl<'a> Head<'a> {
    /// Reads the head from the start of `input`.
    pub fn read(input: &mut Cursor<'a>) -> Self {
        Self {
            flags: input.byte(),
            delays: [input.u16(), input.u16()],
            sizes: input.field(),
        }
    }
}

/// Splits `data` into chunks whose sizes cycle through `sizes` (each 1 to 256). With no sizes
/// the whole stream is one chunk.
pub fn chunks<'a>(data: &'a [u8], sizes: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = data;
    let mut size = sizes.iter().cycle();
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = size
            .next()
            .map_or(rest.len(), |&s| usize::from(s) + 1)
            .min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// How a handshake message is chosen from the fuzzer's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The genuine message, as the honest peer wrote it.
    Genuine,
    /// The genuine message with the field's bytes XORed over its start.
    Flipped,
    /// The field's bytes in place of the message (they carry their own length prefix).
    Raw,
}

impl Pick {
    /// The pick encoded in two bits.
    pub fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => Self::Genuine,
            1 => Self::Flipped,
            _ => Self::Raw,
        }
    }

    /// The bytes to send, given the genuine message (if the honest peer could write one).
    pub fn apply(self, genuine: Option<&[u8]>, field: &[u8]) -> Vec<u8> {
        match (self, genuine) {
            (Self::Genuine, Some(genuine)) => genuine.to_vec(),
            (Self::Flipped, Some(genuine)) => {
                let mut bytes = genuine.to_vec();
                for (b, x) in bytes.iter_mut().zip(field) {
                    *b ^= x;
                }
                bytes
            }
            _ => field.to_vec(),
        }
    }
}

/// Everything one connection of a node produced, with the checks every target shares.
pub struct Observer {
    conn: ConnId,
    /// The only key the node may ever report as authenticated (`None`: no key may be).
    pub allowed_peer: Option<PublicKey>,
    /// Every event, in order.
    pub events: Vec<Event>,
    /// Bytes transmitted on the connection so far.
    pub transmitted: usize,
    /// Bytes transmitted before the batch in which the node authenticated or rejected the peer.
    pub transmitted_before_auth: usize,
    authenticated: bool,
    decided: bool,
    closed: bool,
}

impl Observer {
    /// An observer of `conn`.
    pub fn new(conn: ConnId, allowed_peer: Option<PublicKey>) -> Self {
        Self {
            conn,
            allowed_peer,
            events: Vec::new(),
            transmitted: 0,
            transmitted_before_auth: 0,
            authenticated: false,
            decided: false,
            closed: false,
        }
    }

    /// Whether the node reported the peer as authenticated.
    pub fn authenticated(&self) -> bool {
        self.authenticated
    }

    /// Whether the node authenticated or rejected the peer.
    pub fn decided(&self) -> bool {
        self.decided
    }

    /// Whether the node closed the connection.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Whether the node rejected the peer (authenticated but not on the whitelist).
    pub fn rejected(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::Rejected { .. }))
    }

    /// Drains the node's outputs and returns the bytes it transmitted on the connection. Panics
    /// if an application event appears for a peer that has not authenticated, if an
    /// authenticated key is not the allowed one, if anything is sent after the close, or if more
    /// than `pre_auth_limit` bytes went out before the peer was authenticated.
    pub fn drain(&mut self, node: &mut Node, pre_auth_limit: usize) -> Vec<u8> {
        let mut sent = Vec::new();
        for _ in 0..10_000 {
            match node.poll_output() {
                Output::Transmit(t) => {
                    assert_eq!(t.conn, self.conn, "transmit on a connection never opened");
                    assert!(!self.closed, "transmit after the connection closed");
                    sent.extend_from_slice(&t.data);
                }
                Output::Event(event) => self.check_event(&event),
                Output::Dial { peer } => panic!("a dial with no persistent peer: {peer:?}"),
                Output::Timeout(_) => {
                    // A close queued its final transmit before the event: it was drained above.
                    self.transmitted += sent.len();
                    if !self.decided {
                        self.transmitted_before_auth = self.transmitted;
                        assert!(
                            self.transmitted <= pre_auth_limit,
                            "{} bytes sent before authentication (limit {pre_auth_limit})",
                            self.transmitted
                        );
                    }
                    return sent;
                }
            }
        }
        panic!("poll_output never returned Timeout");
    }

    fn check_event(&mut self, event: &Event) {
        match event {
            Event::Authenticated { conn, peer, .. } => {
                assert_eq!(*conn, self.conn);
                assert_eq!(
                    Some(*peer),
                    self.allowed_peer,
                    "authenticated a key that may not connect"
                );
                assert!(
                    !self.closed && !self.decided,
                    "authenticated twice or after close"
                );
                self.authenticated = true;
                self.decided = true;
            }
            Event::Rejected { conn, .. } => {
                assert_eq!(*conn, self.conn);
                assert!(!self.decided, "rejected after a decision");
                self.decided = true;
            }
            Event::MessageReceived { conn, .. } => {
                assert_eq!(*conn, self.conn);
                assert!(
                    self.authenticated && !self.closed,
                    "message delivered from an unauthenticated peer"
                );
            }
            Event::ClassicalHandshake { conn, .. } => {
                assert_eq!(*conn, self.conn);
                assert!(!self.decided, "handshake reported after a decision");
            }
            Event::MessageAcked { .. }
            | Event::ReadReceipt { .. }
            | Event::MessageDeleted { .. } => {
                assert!(
                    self.authenticated,
                    "application event before authentication"
                );
            }
            Event::ConnectionClosed {
                conn,
                was_authenticated,
                ..
            } => {
                assert_eq!(*conn, self.conn);
                assert!(!self.closed, "closed twice");
                assert_eq!(*was_authenticated, self.authenticated);
                self.closed = true;
            }
            _ => {}
        }
        self.events.push(event.clone());
    }
}
