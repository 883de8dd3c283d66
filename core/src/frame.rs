//! The application frames, carried one per Noise transport message or several in a bundle (see
//! the `bundle` module), and their encoding: one kind byte followed by the postcard encoding of
//! that kind's fields.

use serde::{Deserialize, Serialize};

use crate::message::{ChatMessage, MAX_BODY_BYTES, MessageId};

/// Kind byte of a chat message frame.
pub const KIND_CHAT: u8 = 0x01;
/// Kind byte of an ack frame.
pub const KIND_ACK: u8 = 0x02;
/// Kind byte of a read receipt frame.
pub const KIND_READ: u8 = 0x03;
/// Kind byte of a keepalive ping.
pub const KIND_PING: u8 = 0x04;
/// Kind byte of a keepalive pong.
pub const KIND_PONG: u8 = 0x05;
/// Kind byte of a close frame.
pub const KIND_CLOSE: u8 = 0x06;
/// Kind byte of a features frame.
pub const KIND_FEATURES: u8 = 0x07;
/// Kind byte of a bundle: several frames in one Noise message. Not a frame itself.
pub const KIND_BUNDLE: u8 = 0x08;
/// Kind byte of a deletion: the sender deleted one of its messages for everyone.
pub const KIND_DELETE: u8 = 0x09;

/// Why a session is being closed, as carried by a close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CloseCode {
    /// Orderly shutdown or a one-shot client finishing.
    Normal,
    /// The responder's whitelist does not include the initiator.
    NotAuthorized,
    /// The peer sent something the protocol does not allow.
    ProtocolError,
    /// Nothing was received for longer than the idle timeout.
    IdleTimeout,
    /// The node has too many sessions with this peer, or too many overall.
    Busy,
    /// A code this version does not know.
    Other(u16),
}

impl CloseCode {
    /// The code's number on the wire.
    pub fn to_wire(self) -> u16 {
        match self {
            Self::Normal => 0,
            Self::NotAuthorized => 1,
            Self::ProtocolError => 2,
            Self::IdleTimeout => 3,
            Self::Busy => 4,
            Self::Other(code) => code,
        }
    }

    /// The code for a number from the wire; unknown numbers are kept as [`CloseCode::Other`].
    pub fn from_wire(code: u16) -> Self {
        match code {
            0 => Self::Normal,
            1 => Self::NotAuthorized,
            2 => Self::ProtocolError,
            3 => Self::IdleTimeout,
            4 => Self::Busy,
            other => Self::Other(other),
        }
    }
}

/// One application frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A chat message.
    Chat(ChatMessage),
    /// The receiver has stored every message of `stream` up to and including `upto`.
    Ack {
        /// The sender stream being acknowledged.
        stream: u64,
        /// Highest sequence number stored, with every lower one.
        upto: u64,
    },
    /// The receiver's user has read the message `id`.
    Read {
        /// The message that was read.
        id: MessageId,
    },
    /// Keepalive probe; the peer answers with a pong carrying the same nonce.
    Ping {
        /// Echoed in the pong.
        nonce: u64,
    },
    /// Keepalive answer.
    Pong {
        /// The nonce of the ping being answered.
        nonce: u64,
    },
    /// The sender is about to close the connection.
    Close {
        /// Why.
        code: CloseCode,
    },
    /// The sender deleted its message `id` for everyone: the receiver removes it from view.
    Delete {
        /// The deleted message, one the sender of this frame sent.
        id: MessageId,
    },
    /// What the sender of this frame accepts beyond the first version: a bit set of
    /// `bundle::FEATURE_*` values; unknown bits are ignored.
    Features {
        /// The feature bits.
        bits: u64,
    },
}

/// What decoding a frame found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A frame of a known kind.
    Frame(Frame),
    /// A frame of a kind this version does not know. Receivers ignore it, so new kinds can be
    /// added without breaking older peers.
    UnknownKind(u8),
}

/// A frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// No bytes at all.
    Empty,
    /// The kind byte 0x00, which is reserved as invalid.
    ReservedKind,
    /// The fields do not decode as postcard for this kind, or bytes remain after them.
    Malformed(u8),
    /// A chat body larger than [`MAX_BODY_BYTES`].
    BodyTooLarge(usize),
    /// A bundle where one frame belongs: inside another bundle.
    NestedBundle,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("empty frame"),
            Self::ReservedKind => f.write_str("reserved frame kind 0"),
            Self::Malformed(kind) => write!(f, "malformed frame of kind {kind:#04x}"),
            Self::BodyTooLarge(len) => {
                write!(f, "chat body of {len} bytes exceeds {MAX_BODY_BYTES}")
            }
            Self::NestedBundle => f.write_str("a bundle inside a bundle"),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct AckFields {
    stream: u64,
    upto: u64,
}

#[derive(Serialize, Deserialize)]
struct NonceFields {
    nonce: u64,
}

fn append<T: Serialize>(out: &mut Vec<u8>, kind: u8, fields: &T) {
    out.push(kind);
    let encoded = postcard::to_extend(fields, std::mem::take(out));
    *out = encoded.expect("encoding into a Vec cannot fail");
}

/// Appends the encoding of a chat frame holding `message` to `out`.
pub fn encode_chat_into(message: &ChatMessage, out: &mut Vec<u8>) {
    append(out, KIND_CHAT, message);
}

/// Appends the encoding of `frame` to `out`.
pub fn encode_into(frame: &Frame, out: &mut Vec<u8>) {
    match frame {
        Frame::Chat(message) => encode_chat_into(message, out),
        Frame::Ack { stream, upto } => append(
            out,
            KIND_ACK,
            &AckFields {
                stream: *stream,
                upto: *upto,
            },
        ),
        Frame::Read { id } => append(out, KIND_READ, id),
        Frame::Ping { nonce } => append(out, KIND_PING, &NonceFields { nonce: *nonce }),
        Frame::Pong { nonce } => append(out, KIND_PONG, &NonceFields { nonce: *nonce }),
        Frame::Close { code } => append(out, KIND_CLOSE, &code.to_wire()),
        Frame::Features { bits } => append(out, KIND_FEATURES, bits),
        Frame::Delete { id } => append(out, KIND_DELETE, id),
    }
}

/// The encoding of `frame`.
#[cfg(any(test, fuzzing, feature = "fuzzing"))]
pub fn encode(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(frame, &mut out);
    out
}

fn fields<'a, T: Deserialize<'a>>(kind: u8, bytes: &'a [u8]) -> Result<T, DecodeError> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        _ => Err(DecodeError::Malformed(kind)),
    }
}

/// Decodes one frame. A bundle is not one frame: its kind is [`DecodeError::NestedBundle`] here
/// (the session opens bundles before decoding their items). Never panics, whatever the input.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let (&kind, rest) = bytes.split_first().ok_or(DecodeError::Empty)?;
    let frame = match kind {
        0 => return Err(DecodeError::ReservedKind),
        KIND_CHAT => {
            let message: ChatMessage = fields(kind, rest)?;
            if message.body.len() > MAX_BODY_BYTES {
                return Err(DecodeError::BodyTooLarge(message.body.len()));
            }
            Frame::Chat(message)
        }
        KIND_ACK => {
            let ack: AckFields = fields(kind, rest)?;
            Frame::Ack {
                stream: ack.stream,
                upto: ack.upto,
            }
        }
        KIND_READ => Frame::Read {
            id: fields(kind, rest)?,
        },
        KIND_PING => Frame::Ping {
            nonce: fields::<NonceFields>(kind, rest)?.nonce,
        },
        KIND_PONG => Frame::Pong {
            nonce: fields::<NonceFields>(kind, rest)?.nonce,
        },
        KIND_CLOSE => Frame::Close {
            code: CloseCode::from_wire(fields(kind, rest)?),
        },
        KIND_FEATURES => Frame::Features {
            bits: fields(kind, rest)?,
        },
        KIND_BUNDLE => return Err(DecodeError::NestedBundle),
        KIND_DELETE => Frame::Delete {
            id: fields(kind, rest)?,
        },
        unknown => return Ok(Decoded::UnknownKind(unknown)),
    };
    Ok(Decoded::Frame(frame))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_id() -> impl Strategy<Value = MessageId> {
        (any::<u64>(), any::<u64>()).prop_map(|(stream, seq)| MessageId { stream, seq })
    }

    fn any_frame() -> impl Strategy<Value = Frame> {
        prop_oneof![
            (
                any_id(),
                any::<u64>(),
                ".{0,200}",
                proptest::option::of(any_id())
            )
                .prop_map(|(id, sent_at_ms, body, reply_to)| Frame::Chat(
                    ChatMessage {
                        id,
                        sent_at_ms,
                        body,
                        reply_to
                    }
                )),
            (any::<u64>(), any::<u64>()).prop_map(|(stream, upto)| Frame::Ack { stream, upto }),
            any_id().prop_map(|id| Frame::Read { id }),
            any::<u64>().prop_map(|nonce| Frame::Ping { nonce }),
            any::<u64>().prop_map(|nonce| Frame::Pong { nonce }),
            any::<u16>().prop_map(|code| Frame::Close {
                code: CloseCode::from_wire(code)
            }),
            any::<u64>().prop_map(|bits| Frame::Features { bits }),
            any_id().prop_map(|id| Frame::Delete { id }),
        ]
    }

    proptest! {
        #[test]
        fn every_frame_kind_round_trips(frame in any_frame()) {
            let bytes = encode(&frame);
            prop_assert_eq!(decode(&bytes), Ok(Decoded::Frame(frame)));
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics_and_reencodes_to_the_same_frame(
            bytes in prop::collection::vec(any::<u8>(), 0..300)
        ) {
            // Not byte for byte: the decoder accepts non-minimal varints (docs/protocol.md 6.2).
            if let Ok(Decoded::Frame(frame)) = decode(&bytes) {
                let encoded = encode(&frame);
                prop_assert!(encoded.len() <= bytes.len());
                prop_assert_eq!(decode(&encoded), Ok(Decoded::Frame(frame)));
            }
        }
    }

    #[test]
    fn unknown_kinds_are_reported_not_rejected() {
        assert_eq!(decode(&[0x7f, 1, 2, 3]), Ok(Decoded::UnknownKind(0x7f)));
    }

    #[test]
    fn trailing_bytes_make_a_frame_malformed() {
        let mut bytes = encode(&Frame::Ping { nonce: 5 });
        bytes.push(0);
        assert_eq!(decode(&bytes), Err(DecodeError::Malformed(KIND_PING)));
    }

    #[test]
    fn reserved_kind_and_empty_are_errors() {
        assert_eq!(decode(&[]), Err(DecodeError::Empty));
        assert_eq!(decode(&[0]), Err(DecodeError::ReservedKind));
    }
}
