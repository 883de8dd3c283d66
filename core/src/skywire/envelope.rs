//! The payloads of Skywire chat frames: raw UTF-8 text (the Go app's default) and the JSON
//! envelopes `chat-msg`, `chat-ack`, `chat-read` and `chat-delete`, recognised and written as the
//! Go code does (fields in Go's order, empty ones omitted, `<`, `>`, `&`, U+2028 and U+2029
//! escaped like Go's `encoding/json`).

use serde::{Deserialize, Serialize};

/// A `chat-msg` envelope.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatMsg {
    /// The sender's id for the message (hex in the Go code); acks, reads and deletes name it.
    pub id: String,
    /// The text.
    pub body: String,
    /// True if the sender asks for a `chat-ack` on this connection.
    pub ack: bool,
    /// The id of the message this one answers; empty for none.
    pub reply_to: String,
}

/// One chat frame's meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkywirePayload {
    /// Raw UTF-8 text: no id, so it cannot be acked.
    Text(String),
    /// A frame that is neither an envelope nor valid UTF-8; kept as bytes.
    Binary(Vec<u8>),
    /// A `chat-msg` envelope.
    Message(ChatMsg),
    /// `chat-ack`: the peer has decoded the message with this id.
    Ack {
        /// The acked message's id.
        id: String,
    },
    /// `chat-read`: the peer has read the message with this id.
    Read {
        /// The read message's id.
        id: String,
    },
    /// `chat-delete`: the peer deleted the message with this id.
    Delete {
        /// The deleted message's id.
        id: String,
    },
}

/// The JSON shape, with the Go field order. Fields are optional so that a missing field or a
/// `null` reads as empty, as Go's `encoding/json` leaves a string or bool at its zero value.
#[derive(Serialize, Deserialize)]
struct WireEnvelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ack: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply_to: Option<String>,
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

const CHAT_MSG: &str = "chat-msg";
const CHAT_ACK: &str = "chat-ack";
const CHAT_READ: &str = "chat-read";
const CHAT_DELETE: &str = "chat-delete";

impl SkywirePayload {
    /// Classifies a frame as the Go `ParseEnvelope` does: trimmed, starting with `{`, valid JSON
    /// with a known `type` is an envelope; anything else is text.
    pub fn parse(frame: &[u8]) -> Self {
        if let Some(envelope) = Self::parse_envelope(frame) {
            return envelope;
        }
        match std::str::from_utf8(frame) {
            Ok(text) => Self::Text(text.to_owned()),
            Err(_) => Self::Binary(frame.to_vec()),
        }
    }

    fn parse_envelope(frame: &[u8]) -> Option<Self> {
        let trimmed = std::str::from_utf8(frame).ok()?.trim();
        if !trimmed.starts_with('{') {
            return None;
        }
        let wire: WireEnvelope = serde_json::from_str(trimmed).ok()?;
        let id = wire.id.unwrap_or_default();
        Some(match wire.kind.as_str() {
            CHAT_MSG => Self::Message(ChatMsg {
                id,
                body: wire.body.unwrap_or_default(),
                ack: wire.ack.unwrap_or_default(),
                reply_to: wire.reply_to.unwrap_or_default(),
            }),
            CHAT_ACK => Self::Ack { id },
            CHAT_READ => Self::Read { id },
            CHAT_DELETE => Self::Delete { id },
            _ => return None,
        })
    }

    /// The frame payload: the text itself, or the envelope as Go writes it.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, id, message) = match self {
            Self::Text(text) => return text.as_bytes().to_vec(),
            Self::Binary(bytes) => return bytes.clone(),
            Self::Message(message) => (CHAT_MSG, &message.id, Some(message)),
            Self::Ack { id } => (CHAT_ACK, id, None),
            Self::Read { id } => (CHAT_READ, id, None),
            Self::Delete { id } => (CHAT_DELETE, id, None),
        };
        let wire = WireEnvelope {
            kind: kind.to_owned(),
            id: Some(id.clone()),
            body: message.and_then(|m| non_empty(&m.body)),
            ack: message.is_some_and(|m| m.ack).then_some(true),
            reply_to: message.and_then(|m| non_empty(&m.reply_to)),
        };
        let json = serde_json::to_string(&wire).expect("strings and a bool always serialise");
        go_escape(&json).into_bytes()
    }
}

/// Escapes as Go's `encoding/json` does by default. These characters can only occur inside JSON
/// strings here, so replacing them in the whole text is exact.
fn go_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_msg_is_written_like_go_writes_it() {
        let msg = SkywirePayload::Message(ChatMsg {
            id: "18ed".into(),
            body: "pq <ack> & co".into(),
            ack: true,
            reply_to: String::new(),
        });
        assert_eq!(
            String::from_utf8(msg.encode()).unwrap(),
            r#"{"type":"chat-msg","id":"18ed","body":"pq \u003cack\u003e \u0026 co","ack":true}"#
        );
        assert_eq!(SkywirePayload::parse(&msg.encode()), msg);
        let ack = SkywirePayload::Ack { id: "18ed".into() };
        assert_eq!(ack.encode(), br#"{"type":"chat-ack","id":"18ed"}"#);
    }

    #[test]
    fn anything_but_a_known_envelope_is_text() {
        for text in [
            "hello",
            "{not json",
            r#"{"type":"chat-other","id":"1"}"#,
            r#"["chat-msg"]"#,
            r#"{"type":"chat-msg","id":5}"#,
        ] {
            assert_eq!(
                SkywirePayload::parse(text.as_bytes()),
                SkywirePayload::Text(text.into())
            );
        }
        assert_eq!(
            SkywirePayload::parse(&[0xff, 0xfe]),
            SkywirePayload::Binary(vec![0xff, 0xfe])
        );
        assert_eq!(
            SkywirePayload::parse(b"  {\"type\":\"chat-read\",\"id\":\"ab\",\"x\":1}\n"),
            SkywirePayload::Read { id: "ab".into() }
        );
        // Missing and null fields read as empty, as in Go.
        assert_eq!(
            SkywirePayload::parse(br#"{"type":"chat-msg","id":null,"body":"hi","ack":null}"#),
            SkywirePayload::Message(ChatMsg {
                body: "hi".into(),
                ..ChatMsg::default()
            })
        );
        assert_eq!(
            SkywirePayload::parse(br#"{"type":"chat-delete"}"#),
            SkywirePayload::Delete { id: String::new() }
        );
    }
}
