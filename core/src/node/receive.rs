//! What arrives on an authenticated session: native frames and Skywire payloads, turned into
//! deduplicated deliveries, acks and events.

use std::time::Duration;

use super::Node;
use crate::dedup::Verdict;
use crate::event::{CloseReason, Event};
use crate::frame::{Decoded, Frame};
use crate::keys::PublicKey;
use crate::message::{ChatMessage, MessageId};
use crate::skywire::inbox::InboxVerdict;
use crate::skywire::{ChatMsg, SkywirePayload, ids};
use crate::timer::ConnId;

impl Node {
    pub(super) fn on_frame(&mut self, now: Duration, conn: ConnId, decoded: Decoded) {
        let Some(peer) = self.conns.get(&conn).and_then(|c| c.session.remote()) else {
            return;
        };
        let frame = match decoded {
            Decoded::Frame(frame) => frame,
            Decoded::UnknownKind(_) => return,
        };
        match frame {
            Frame::Chat(message) => match self.dedup.receive(peer, message.id, conn) {
                Verdict::Deliver => {
                    self.events.push_back(Event::MessageReceived {
                        conn,
                        peer,
                        message,
                    });
                }
                Verdict::Duplicate => {
                    self.to_pump.insert(peer);
                }
                Verdict::Gap => {}
            },
            Frame::Ack { stream, upto } => {
                for acked in self.outbox.ack(&peer, stream, upto, now) {
                    self.events.push_back(Event::MessageAcked {
                        peer,
                        id: acked.id,
                        rtt: acked.rtt,
                    });
                }
                self.to_pump.insert(peer);
            }
            Frame::Read { id } => self.events.push_back(Event::ReadReceipt { peer, id }),
            Frame::Delete { id } => self.events.push_back(Event::MessageDeleted { peer, id }),
            Frame::Ping { nonce } => self.send_frame(conn, &Frame::Pong { nonce }),
            Frame::Pong { .. } => {}
            Frame::Features { bits } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.session
                        .set_peer_features(bits, &mut c.tx, &mut self.scratch);
                }
            }
            Frame::Close { code } => {
                self.close_connection(now, conn, CloseReason::RemoteClosed(code), None);
            }
        }
    }

    pub(super) fn on_skywire_payload(
        &mut self,
        now: Duration,
        conn: ConnId,
        payload: SkywirePayload,
    ) {
        let Some(peer) = self.conns.get(&conn).and_then(|c| c.session.remote()) else {
            return;
        };
        let text = match payload {
            SkywirePayload::Message(ChatMsg {
                id: wire_id,
                body,
                ack,
                reply_to,
            }) => {
                let Some(id) = ids::message_id(&wire_id) else {
                    return self.deliver_unacked_text(conn, peer, body);
                };
                match self.skywire_inbox.receive(peer, id, &wire_id, ack, conn) {
                    InboxVerdict::Deliver => {
                        let message = ChatMessage {
                            id,
                            sent_at_ms: 0,
                            body,
                            reply_to: ids::message_id(&reply_to),
                        };
                        self.events.push_back(Event::MessageReceived {
                            conn,
                            peer,
                            message,
                        });
                    }
                    InboxVerdict::Duplicate => {
                        self.to_pump.insert(peer);
                    }
                }
                return;
            }
            SkywirePayload::Ack { id } => {
                if let Some(acked) =
                    ids::message_id(&id).and_then(|id| self.outbox.ack_one(&peer, id, now))
                {
                    self.events.push_back(Event::MessageAcked {
                        peer,
                        id: acked.id,
                        rtt: acked.rtt,
                    });
                    self.to_pump.insert(peer);
                }
                return;
            }
            SkywirePayload::Read { id } => {
                if let Some(id) = ids::message_id(&id) {
                    self.events.push_back(Event::ReadReceipt { peer, id });
                }
                return;
            }
            SkywirePayload::Delete { id } => {
                if let Some(id) = ids::message_id(&id) {
                    self.events.push_back(Event::MessageDeleted { peer, id });
                }
                return;
            }
            SkywirePayload::Text(text) => text,
            SkywirePayload::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        };
        self.deliver_unacked_text(conn, peer, text);
    }

    /// Raw text (or an envelope without a usable id): it cannot be acked or deduplicated, so it
    /// gets a fresh id of its own and is delivered as it comes.
    pub(super) fn deliver_unacked_text(&mut self, conn: ConnId, peer: PublicKey, body: String) {
        let id = MessageId {
            stream: self.rng.next_u64() | 1 << 63,
            seq: 1,
        };
        self.events.push_back(Event::MessageReceived {
            conn,
            peer,
            message: ChatMessage {
                id,
                sent_at_ms: 0,
                body,
                reply_to: None,
            },
        });
    }
}
