//! What the node tells its host: transmits, dials, events, and the next deadline.

use std::time::Duration;

use bytes::Bytes;

use crate::frame::CloseCode;
use crate::keys::PublicKey;
use crate::message::{ChatMessage, MessageId};
use crate::session::{Role, SessionError};
use crate::timer::ConnId;

/// How a connection came to be, which decides its place in the choice of sending session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConnKind {
    /// Dialed to keep a persistent peer connected.
    Persistent,
    /// Accepted from a listener.
    Inbound,
    /// Dialed for a short task (such as a one-shot send). Never preferred over another session.
    OneShot,
}

/// The network a connection runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Network {
    /// TCP-direct: a socket of this host, with a Noise handshake of either suite.
    Tcp,
    /// A skynet route, relayed by this host's Skywire visor.
    Skynet,
    /// A dmsg stream, relayed by this host's Skywire visor.
    Dmsg,
}

impl Network {
    /// The name the HTTP API and the Go skychat use: `tcp`, `skynet` or `dmsg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Skynet => "skynet",
            Self::Dmsg => "dmsg",
        }
    }

    /// True for the networks a visor relays.
    pub fn is_mesh(self) -> bool {
        matches!(self, Self::Skynet | Self::Dmsg)
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The host asked for it (for example at shutdown).
    ClosedByHost,
    /// The host reported end of stream or a socket error after the handshake.
    SocketClosed,
    /// The socket closed before the handshake finished. For a dialer this is what a wrong pinned
    /// key looks like: the responder cannot verify message 1 and hangs up without a word.
    HandshakeIncomplete,
    /// The peer sent a close frame.
    RemoteClosed(CloseCode),
    /// This node's whitelist does not include the peer.
    NotAuthorized,
    /// The handshake did not finish in time.
    HandshakeTimeout,
    /// Nothing arrived for longer than the idle timeout.
    IdleTimeout,
    /// The peer broke the protocol.
    ProtocolViolation(SessionError),
    /// Too many sessions with this peer.
    Busy,
    /// The connection was still in its handshake when the pending-handshake cap was reached,
    /// and it had done least of all: it was closed to make room for a newer one.
    Evicted,
    /// A Skywire peer was dialed, but this node's secret is not a valid secp256k1 secret, so it
    /// has no Skywire key.
    SuiteUnavailable,
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClosedByHost => f.write_str("closed locally"),
            Self::SocketClosed => f.write_str("connection closed by the network or the peer"),
            Self::HandshakeIncomplete => f.write_str(
                "the peer closed the connection during the handshake \
                 (wrong public key in the address, or not a skychat node)",
            ),
            Self::RemoteClosed(CloseCode::NotAuthorized) => {
                f.write_str("the peer rejected us: our key is not on its whitelist")
            }
            Self::RemoteClosed(code) => write!(f, "the peer closed the session ({code:?})"),
            Self::NotAuthorized => f.write_str("peer is not on the whitelist"),
            Self::HandshakeTimeout => f.write_str("handshake timed out"),
            Self::IdleTimeout => f.write_str("nothing received within the idle timeout"),
            Self::ProtocolViolation(e) => write!(f, "protocol violation: {e}"),
            Self::Busy => f.write_str("too many sessions with this peer"),
            Self::Evicted => f.write_str("evicted to make room: too many handshakes were pending"),
            Self::SuiteUnavailable => f.write_str(
                "this node's secret key is not a valid secp256k1 key, so it cannot speak the \
                 Skywire suite (make a new key with `skychat keygen`)",
            ),
        }
    }
}

/// Something that happened, for the host to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A session finished its handshake and may carry messages.
    Authenticated {
        /// The connection.
        conn: ConnId,
        /// The proven remote key.
        peer: PublicKey,
        /// Our end of the handshake.
        role: Role,
        /// How the connection came to be.
        kind: ConnKind,
        /// The network it runs over.
        network: Network,
    },
    /// An inbound peer authenticated but is not on the whitelist. Its connection closes next.
    Rejected {
        /// The connection.
        conn: ConnId,
        /// The key it proved.
        peer: PublicKey,
    },
    /// A new message, in order and never seen before. Store it, then call
    /// [`Node::confirm_stored`](crate::Node::confirm_stored); the sender gets its ack after that.
    MessageReceived {
        /// The connection it arrived on.
        conn: ConnId,
        /// The sender.
        peer: PublicKey,
        /// The message.
        message: ChatMessage,
    },
    /// The peer stored our message (native suite), or decoded it (Skywire suite: a Go peer acks
    /// before storing). It has left the outbox.
    MessageAcked {
        /// The recipient.
        peer: PublicKey,
        /// The message.
        id: MessageId,
        /// Time from the message's last transmission to its ack.
        rtt: Duration,
    },
    /// A Skywire peer finished the handshake without the post-quantum hybrid (a classical or
    /// older Go peer). The session is up; hosts should log the downgrade. Comes just before
    /// [`Event::Authenticated`] (or [`Event::Rejected`]) for the same connection.
    ClassicalHandshake {
        /// The connection.
        conn: ConnId,
        /// The peer's Skywire key.
        peer: PublicKey,
    },
    /// The peer deleted a message for everyone (a native `Delete` frame or a Skywire
    /// `chat-delete`): its own, it says; the host checks that.
    MessageDeleted {
        /// The peer.
        peer: PublicKey,
        /// The deleted message.
        id: MessageId,
    },
    /// The peer read our message.
    ReadReceipt {
        /// The reader.
        peer: PublicKey,
        /// The message read.
        id: MessageId,
    },
    /// A connection ended. Write out any transmit already returned for it, then close the socket.
    ConnectionClosed {
        /// The connection.
        conn: ConnId,
        /// The remote key, if known.
        peer: Option<PublicKey>,
        /// Whether the session had authenticated.
        was_authenticated: bool,
        /// Why.
        reason: CloseReason,
    },
}

/// Bytes to write to one connection's socket, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The connection.
    pub conn: ConnId,
    /// Everything pending for it, coalesced into one buffer.
    pub data: Bytes,
}

/// One result of [`Node::poll_output`](crate::Node::poll_output). Deliberately exhaustive: each
/// variant is a duty of the host, and a new one must break every host that would not do it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write these bytes.
    Transmit(Transmit),
    /// Act on this event.
    Event(Event),
    /// Dial this persistent peer now (the host keeps the addresses), then call
    /// [`Node::connect`](crate::Node::connect) with [`ConnKind::Persistent`] once connected, or
    /// [`Node::dial_failed`](crate::Node::dial_failed). A duty of the host, not news for the
    /// application: that is why it is not an [`Event`].
    Dial {
        /// The peer to dial.
        peer: PublicKey,
    },
    /// Nothing more to do until this instant (or until the next input, if `None`): call
    /// [`Node::handle_timeout`](crate::Node::handle_timeout) then.
    Timeout(Option<Duration>),
}
