//! What history, search and the conversation list hand back: stored messages as clients see
//! them (in the Go chat line shape plus delivery state), a page of history with its paging
//! cursor, and one conversation. Each serializes to the JSON the HTTP surface and the live feed
//! show.

use serde::Serialize;
use skychat_core::{MessageId, PublicKey, Suite};

use crate::store::codec::IdBytes;
use crate::store::{Direction, Status, StoredMessage};

/// This node's key in each suite: a conversation names this side by the key of the peer's suite.
#[derive(Debug, Clone, Copy)]
pub struct OwnKeys {
    /// The native (X25519) key.
    pub native: PublicKey,
    /// The Skywire (secp256k1) key, once known.
    pub skywire: Option<PublicKey>,
}

impl OwnKeys {
    /// The key `peer` knows this node by.
    pub fn for_peer(&self, peer: &PublicKey) -> PublicKey {
        match peer.suite() {
            Suite::Skywire => self.skywire.unwrap_or(self.native),
            Suite::Native => self.native,
        }
    }
}

/// A network as the API names it: `tcp-direct`, `skynet` or `dmsg` (the Go skychat's words).
pub fn transport_name(network: skychat_core::Network) -> &'static str {
    match network {
        skychat_core::Network::Skynet => "skynet",
        skychat_core::Network::Dmsg => "dmsg",
        _ => "tcp-direct",
    }
}

/// How a delivery state is shown for a message with `peer`. A Skywire-suite peer (a Go skychat)
/// acks a message once it has decoded it, before it stores it, so its ack shows as `delivered`;
/// a native peer acks after storing, which shows as `acked`. The store keeps `acked` for both.
pub fn status_label(peer: &PublicKey, status: Status) -> &'static str {
    match (status, peer.suite()) {
        (Status::Acked, Suite::Skywire) => "delivered",
        (status, _) => status.as_str(),
    }
}

/// A stored message as clients see it. Keys and ids are lowercase hex, times ms since the Unix
/// epoch. The fields are in the order of their names, so that serializing the struct itself
/// gives the same text as serializing it through a [`serde_json::Value`] (whose keys are
/// sorted): the live feed does the former, the HTTP answers the latter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageView {
    /// Outgoing: when the peer's ack arrived.
    pub acked_at: Option<u64>,
    /// When it was deleted: by its sender for everyone, or here.
    pub deleted_at: Option<u64>,
    /// `in` or `out`.
    pub dir: &'static str,
    /// The same as `sender`, under the Go chat line's name.
    pub from: String,
    /// The message id.
    pub id: String,
    /// The text's length in bytes.
    pub len: usize,
    /// The text.
    pub message: String,
    /// The network it went over (`tcp-direct`, `skynet`, `dmsg`); `null` while an outgoing
    /// message waits for its ack.
    pub network: Option<&'static str>,
    /// Whether this node sent it.
    pub outgoing: bool,
    /// The other side of the conversation.
    pub peer: String,
    /// When it was read.
    pub read_at: Option<u64>,
    /// The message it answers.
    pub reply_to: Option<String>,
    /// Its row: the history paging cursor.
    pub row: i64,
    /// Who wrote it (this node by the key the peer knows it by, or the peer).
    pub sender: String,
    /// When the sender sent it.
    pub sent_at: u64,
    /// Its delivery state ([`status_label`]).
    pub status: &'static str,
    /// The peer's suite: `native` or `skywire`.
    pub suite: String,
    /// The same text, under the Go chat line's name.
    pub text: String,
    /// When it was stored here.
    pub timestamp: u64,
    /// Who it is for.
    pub to: String,
}

impl MessageView {
    /// `m` as shown to this node (`own`).
    pub fn new(own: &OwnKeys, m: &StoredMessage) -> Self {
        let outgoing = m.direction == Direction::Out;
        let me = own.for_peer(&m.peer).to_hex();
        let peer = m.peer.to_hex();
        let (from, to) = if outgoing {
            (me, peer.clone())
        } else {
            (peer.clone(), me)
        };
        Self {
            id: m.message.id.to_hex(),
            peer,
            suite: m.peer.suite().to_string(),
            sender: from.clone(),
            from,
            to,
            dir: m.direction.as_str(),
            outgoing,
            message: m.message.body.clone(),
            text: m.message.body.clone(),
            len: m.message.body.len(),
            network: m.network.map(transport_name),
            reply_to: m.message.reply_to.map(|r| r.to_hex()),
            sent_at: m.message.sent_at_ms,
            timestamp: m.stored_at_ms,
            status: status_label(&m.peer, m.status),
            acked_at: m.acked_at_ms,
            read_at: m.read_at_ms,
            deleted_at: m.deleted_at_ms,
            row: m.row,
        }
    }
}

/// A stored message as the live feed shows it: exactly the JSON of its [`MessageView`] (a test
/// holds them equal), written straight from the stored message, without copying the text or
/// allocating the keys' and ids' hex.
#[derive(Serialize)]
pub struct FeedMessage<'a> {
    acked_at: Option<u64>,
    deleted_at: Option<u64>,
    dir: &'static str,
    from: Hex,
    id: Hex,
    len: usize,
    message: &'a str,
    network: Option<&'static str>,
    outgoing: bool,
    peer: Hex,
    read_at: Option<u64>,
    reply_to: Option<Hex>,
    row: i64,
    sender: Hex,
    sent_at: u64,
    status: &'static str,
    suite: &'static str,
    text: &'a str,
    timestamp: u64,
    to: Hex,
}

impl<'a> FeedMessage<'a> {
    /// `m` as shown to this node (`own`).
    pub fn new(own: &OwnKeys, m: &'a StoredMessage) -> Self {
        let outgoing = m.direction == Direction::Out;
        let me = Hex::key(&own.for_peer(&m.peer));
        let peer = Hex::key(&m.peer);
        let (from, to) = if outgoing { (me, peer) } else { (peer, me) };
        Self {
            acked_at: m.acked_at_ms,
            deleted_at: m.deleted_at_ms,
            dir: m.direction.as_str(),
            from,
            id: Hex::id(m.message.id),
            len: m.message.body.len(),
            message: &m.message.body,
            network: m.network.map(transport_name),
            outgoing,
            peer,
            read_at: m.read_at_ms,
            reply_to: m.message.reply_to.map(Hex::id),
            row: m.row,
            sender: from,
            sent_at: m.message.sent_at_ms,
            status: status_label(&m.peer, m.status),
            suite: match m.peer.suite() {
                Suite::Skywire => "skywire",
                _ => "native",
            },
            text: &m.message.body,
            timestamp: m.stored_at_ms,
            to,
        }
    }
}

/// Lowercase hex of a key or message id (at most 33 bytes), kept inline.
#[derive(Clone, Copy)]
struct Hex {
    text: [u8; 66],
    len: usize,
}

impl Hex {
    fn of(bytes: &[u8]) -> Self {
        let mut text = [0u8; 66];
        let len = bytes.len() * 2;
        hex::encode_to_slice(bytes, &mut text[..len]).expect("room for 33 bytes");
        Self { text, len }
    }

    fn key(key: &PublicKey) -> Self {
        match (key.as_native(), key.as_skywire()) {
            (Some(native), _) => Self::of(native),
            (None, Some(skywire)) => Self::of(skywire.as_bytes()),
            (None, None) => Self::of(&[]),
        }
    }

    /// The id's hex form ([`MessageId::to_hex`]): the hex of its stored bytes.
    fn id(id: MessageId) -> Self {
        Self::of(IdBytes::of(id).as_slice())
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len]).expect("hex is ASCII")
    }
}

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One page of history./// One page of history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// The messages, newest first.
    pub messages: Vec<MessageView>,
    /// The cursor of the page before this one (the row of its oldest message), or `None` for an
    /// empty page: there is nothing older.
    pub next_cursor: Option<i64>,
}

/// One conversation of the conversation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conversation {
    /// The peer, in hex.
    pub peer: String,
    /// The local name given to it, if any.
    pub alias: Option<String>,
    /// When its newest message was stored.
    #[serde(rename = "last_message_at")]
    pub last_message_at_ms: u64,
    /// Messages stored with it, both ways.
    pub count: u64,
    /// Incoming messages not read here yet.
    pub unread: u64,
    /// Whether a session with it is up.
    pub connected: bool,
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use skychat_core::{ChatMessage, MessageId};

    use super::*;

    fn key(byte: u8) -> PublicKey {
        PublicKey::native([byte; 32])
    }

    #[test]
    fn an_outgoing_message_renders_every_field_under_its_name() {
        let own = OwnKeys {
            native: key(1),
            skywire: None,
        };
        let id: MessageId = "0102030405060708090a0b0c0d0e0f10".parse().unwrap();
        let stored = StoredMessage {
            row: 7,
            peer: key(2),
            direction: Direction::Out,
            message: ChatMessage {
                id,
                sent_at_ms: 100,
                body: "hé".into(),
                reply_to: None,
            },
            stored_at_ms: 101,
            status: Status::Acked,
            acked_at_ms: Some(102),
            read_at_ms: None,
            in_outbox: false,
            deleted_at_ms: None,
            network: Some(skychat_core::Network::Tcp),
        };
        let me = key(1).to_hex();
        let peer = key(2).to_hex();
        let view = MessageView::new(&own, &stored);
        assert_eq!(
            serde_json::to_string(&view).unwrap(),
            serde_json::to_value(&view).unwrap().to_string(),
            "the fields are in the order of their names"
        );
        assert_eq!(
            serde_json::to_string(&FeedMessage::new(&own, &stored)).unwrap(),
            serde_json::to_string(&view).unwrap(),
            "the feed writes the same JSON"
        );
        assert_eq!(
            serde_json::to_value(view).unwrap(),
            json!({
                "id": "0102030405060708090a0b0c0d0e0f10",
                "peer": peer,
                "suite": "native",
                "sender": me,
                "from": me,
                "to": peer,
                "dir": "out",
                "outgoing": true,
                "message": "hé",
                "text": "hé",
                "len": 3,
                "network": "tcp-direct",
                "reply_to": null,
                "sent_at": 100,
                "timestamp": 101,
                "status": "acked",
                "acked_at": 102,
                "read_at": null,
                "deleted_at": null,
                "row": 7,
            })
        );
    }

    #[test]
    fn the_feed_writes_each_message_as_its_view_does() {
        let skywire = skychat_core::SecretKey::from_bytes([3; 32])
            .skywire_public_key()
            .unwrap();
        let own_skywire = skychat_core::SecretKey::from_bytes([4; 32])
            .skywire_public_key()
            .unwrap();
        let go_id: MessageId = "18ed000000000002".parse().unwrap();
        let base = StoredMessage {
            row: 42,
            peer: skywire,
            direction: Direction::In,
            message: ChatMessage {
                id: go_id,
                sent_at_ms: 5,
                body: "quote \" and \\ and é and \u{1} and </script>".into(),
                reply_to: Some("18ed000000000001".parse().unwrap()),
            },
            stored_at_ms: 6,
            status: Status::Read,
            acked_at_ms: None,
            read_at_ms: Some(7),
            in_outbox: false,
            deleted_at_ms: Some(8),
            network: Some(skychat_core::Network::Skynet),
        };
        let outgoing = StoredMessage {
            direction: Direction::Out,
            status: Status::Acked,
            acked_at_ms: Some(9),
            read_at_ms: None,
            deleted_at_ms: None,
            network: Some(skychat_core::Network::Skynet),
            message: ChatMessage {
                id: MessageId {
                    stream: u64::MAX,
                    seq: 1,
                },
                reply_to: None,
                ..base.message.clone()
            },
            ..base.clone()
        };
        let native = StoredMessage {
            peer: key(9),
            status: Status::Queued,
            acked_at_ms: None,
            in_outbox: true,
            ..outgoing.clone()
        };
        for own in [
            OwnKeys {
                native: key(1),
                skywire: Some(own_skywire),
            },
            OwnKeys {
                native: key(1),
                skywire: None,
            },
        ] {
            for m in [&base, &outgoing, &native] {
                assert_eq!(
                    serde_json::to_string(&FeedMessage::new(&own, m)).unwrap(),
                    serde_json::to_value(MessageView::new(&own, m))
                        .unwrap()
                        .to_string()
                );
            }
        }
    }
}
