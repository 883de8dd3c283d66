//! Message identities and chat message contents.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Largest chat body in bytes of UTF-8.
pub const MAX_BODY_BYTES: usize = 64_000;

/// A message id, unique per sender: a random 64-bit stream, drawn afresh for each peer every time
/// a node starts, and a sequence number that counts from 1 within that stream. Because a restarted
/// sender always opens a new stream, ids never repeat even when the sender lost all its state.
///
/// Stream 0 is never drawn: it holds the Go skychat's 16-hex ids (an 8-byte number) as the
/// sequence, so that they keep their form (see the Skywire suite's `ids` module).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MessageId {
    /// The sender's stream for this peer.
    pub stream: u64,
    /// Position within the stream, from 1.
    pub seq: u64,
}

impl MessageId {
    /// The id as 32 lowercase hex characters: the stream, then the sequence, each big-endian;
    /// an id of stream 0 as the 16 hex characters of its sequence.
    pub fn to_hex(&self) -> String {
        if self.stream == 0 {
            return format!("{:016x}", self.seq);
        }
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.stream.to_be_bytes());
        bytes[8..].copy_from_slice(&self.seq.to_be_bytes());
        hex::encode(bytes)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}/{}", self.stream, self.seq)
    }
}

/// A message id string was not 32 (or 16) hex characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageIdParseError;

impl fmt::Display for MessageIdParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message id is 32 hex characters (or 16, for a Go skychat peer's id)")
    }
}

impl std::error::Error for MessageIdParseError {}

impl FromStr for MessageId {
    type Err = MessageIdParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().len() == 16 {
            let mut bytes = [0u8; 8];
            hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| MessageIdParseError)?;
            return Ok(Self {
                stream: 0,
                seq: u64::from_be_bytes(bytes),
            });
        }
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| MessageIdParseError)?;
        let stream = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
        let seq = u64::from_be_bytes(bytes[8..].try_into().expect("8 bytes"));
        Ok(Self { stream, seq })
    }
}

/// A chat message as it travels and as the host receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Sender-assigned id.
    pub id: MessageId,
    /// Sender's wall clock when the message was accepted, in milliseconds since the Unix epoch.
    pub sent_at_ms: u64,
    /// UTF-8 text, at most [`MAX_BODY_BYTES`].
    pub body: String,
    /// The message this one answers, if any.
    pub reply_to: Option<MessageId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trips_through_hex() {
        let id = MessageId {
            stream: 0xdead_beef_0102_0304,
            seq: 42,
        };
        assert_eq!(id.to_hex().len(), 32);
        assert_eq!(id.to_hex().parse::<MessageId>().unwrap(), id);
        assert!("xyz".parse::<MessageId>().is_err());
        let go = MessageId {
            stream: 0,
            seq: 0x18ed_0000_0000_0001,
        };
        assert_eq!(go.to_hex(), "18ed000000000001");
        assert_eq!("18ed000000000001".parse::<MessageId>().unwrap(), go);
    }
}
