//! The values the store hands back: stored messages with their delivery state, per-peer
//! summaries and status counts.

use skychat_core::{ChatMessage, PublicKey};

use super::error::{Result, StoreError};

/// Which way a message travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received from the peer.
    In,
    /// Sent by this node to the peer.
    Out,
}

impl Direction {
    /// The stored form: `in` or `out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }

    pub(super) fn parse(text: &str) -> Result<Self> {
        match text {
            "in" => Ok(Self::In),
            "out" => Ok(Self::Out),
            other => Err(StoreError::Corrupt(format!("unknown direction {other:?}"))),
        }
    }
}

/// Where a message stands. Outgoing: `Queued` → `Acked` (a native peer stored it; a Skywire
/// peer decoded it) → `Read`. Incoming: `Received` → `Read` (read here).
///
/// The store keeps no status column: a status follows from the message's direction and its
/// `acked_at_ms` and `read_at_ms` ([`Status::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Outgoing, accepted and not yet acked: in the outbox.
    Queued,
    /// Outgoing, acked by the peer: stored by it (native suite), or decoded by it (Skywire
    /// suite, shown as "delivered").
    Acked,
    /// Outgoing: the peer read it. Incoming: read here.
    Read,
    /// Incoming, stored, not read yet.
    Received,
}

impl Status {
    /// The form clients see: `queued`, `acked`, `read` or `received`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Acked => "acked",
            Self::Read => "read",
            Self::Received => "received",
        }
    }

    /// The status of a message that travelled `direction`, acked and read at these times.
    pub fn of(direction: Direction, acked_at_ms: Option<u64>, read_at_ms: Option<u64>) -> Self {
        match (direction, acked_at_ms, read_at_ms) {
            (_, _, Some(_)) => Self::Read,
            (Direction::Out, Some(_), None) => Self::Acked,
            (Direction::Out, None, None) => Self::Queued,
            (Direction::In, _, None) => Self::Received,
        }
    }
}

/// A message as stored, with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The row id: increases with every stored message and is never reused, so it orders
    /// messages by storage time and serves as the paging cursor of
    /// [`Store::history`](super::Store::history).
    pub row: i64,
    /// The other side of the conversation.
    pub peer: PublicKey,
    /// Which way it travelled.
    pub direction: Direction,
    /// The message itself.
    pub message: ChatMessage,
    /// When it was stored here (received, or accepted for sending), in ms since the Unix epoch.
    pub stored_at_ms: u64,
    /// Where it stands.
    pub status: Status,
    /// Outgoing: when the peer's ack arrived.
    pub acked_at_ms: Option<u64>,
    /// When it was read (by the peer for outgoing, here for incoming).
    pub read_at_ms: Option<u64>,
    /// Outgoing and not yet acked: the node still has to deliver it.
    pub in_outbox: bool,
    /// When it was deleted, by its sender for everyone or here (its body is then empty).
    pub deleted_at_ms: Option<u64>,
    /// The network it went over: the session it arrived on, or that its ack came over; `None`
    /// while an outgoing message waits for its ack.
    pub network: Option<skychat_core::Network>,
}

/// One conversation in [`Store::peers`](super::Store::peers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSummary {
    /// The peer.
    pub peer: PublicKey,
    /// Row id of the newest message with this peer.
    pub last_row: i64,
    /// Storage time of the newest message, in ms since the Unix epoch.
    pub last_message_at_ms: u64,
    /// Messages stored with this peer, both ways.
    pub count: u64,
    /// Incoming messages not read here yet.
    pub unread: u64,
}

/// Message counts by direction and status, from [`Store::counts`](super::Store::counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Incoming messages.
    pub incoming: u64,
    /// Incoming messages not read here yet.
    pub unread: u64,
    /// Outgoing messages.
    pub outgoing: u64,
    /// Outgoing, queued (not acked yet).
    pub queued: u64,
    /// Outgoing, acked and not (yet) known to be read.
    pub acked: u64,
    /// Outgoing, read by the peer.
    pub read: u64,
    /// Outgoing messages still in the outbox.
    pub in_outbox: u64,
}
