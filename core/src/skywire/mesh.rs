//! A connection a Skywire visor relays (skynet or dmsg), sans-IO. The visor's transport has
//! already proven the remote visor's key, so there is no handshake and no record layer: the
//! stream carries the chat frames (`[u32 BE length][payload]`) and envelopes of the TCP-direct
//! wire as they are. Any framing error ends the connection, as on TCP-direct.

use bytes::BytesMut;

use super::chat::{self, ChatFrameReader};
use super::envelope::SkywirePayload;
use super::session::{SkywireError, SkywireSendError};

/// One mesh connection's stream state.
#[derive(Debug, Default)]
pub struct MeshWire {
    frames: ChatFrameReader,
    failed: bool,
}

impl MeshWire {
    /// Appends received bytes; a failed connection drops them, so a peer cannot make it buffer.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.frames.push(bytes);
        }
    }

    /// The next whole payload, `Ok(None)` until more bytes arrive. After an error the wire stays
    /// failed and yields `Ok(None)`; the host closes the connection.
    pub fn next_payload(&mut self) -> Result<Option<SkywirePayload>, SkywireError> {
        if self.failed {
            return Ok(None);
        }
        match self.frames.next_frame() {
            Ok(frame) => Ok(frame.map(|frame| SkywirePayload::parse(&frame))),
            Err(error) => {
                self.failed = true;
                self.frames = ChatFrameReader::default();
                Err(SkywireError::Frame(error))
            }
        }
    }

    /// Appends `payload` to `tx` as one chat frame.
    pub fn send(
        &mut self,
        payload: &SkywirePayload,
        tx: &mut BytesMut,
    ) -> Result<(), SkywireSendError> {
        if self.failed {
            return Err(SkywireSendError::NotEstablished);
        }
        let body = payload.encode();
        let header = chat::frame_header(body.len()).map_err(SkywireSendError::Frame)?;
        tx.extend_from_slice(&header);
        tx.extend_from_slice(&body);
        Ok(())
    }

    /// Releases receive memory when nothing is buffered.
    pub fn shrink(&mut self) {
        self.frames.shrink_if_empty();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skywire::ChatMsg;
    use crate::skywire::chat::{ChatFrameError, MAX_CHAT_FRAME};

    fn message(body: &str) -> SkywirePayload {
        SkywirePayload::Message(ChatMsg {
            id: "00000000000000aa".into(),
            body: body.into(),
            ack: true,
            reply_to: String::new(),
        })
    }

    #[test]
    fn payloads_cross_split_at_every_byte() {
        let mut sender = MeshWire::default();
        let mut tx = BytesMut::new();
        sender.send(&message("hello"), &mut tx).unwrap();
        sender
            .send(&SkywirePayload::Ack { id: "7".into() }, &mut tx)
            .unwrap();
        let mut receiver = MeshWire::default();
        let mut got = Vec::new();
        for byte in tx.iter() {
            receiver.push(&[*byte]);
            while let Some(payload) = receiver.next_payload().unwrap() {
                got.push(payload);
            }
        }
        assert_eq!(
            got,
            [message("hello"), SkywirePayload::Ack { id: "7".into() }]
        );
    }

    #[test]
    fn a_bad_header_fails_the_wire_for_good() {
        let mut wire = MeshWire::default();
        wire.push(&((MAX_CHAT_FRAME + 1) as u32).to_be_bytes());
        assert_eq!(
            wire.next_payload(),
            Err(SkywireError::Frame(ChatFrameError::TooLong {
                len: MAX_CHAT_FRAME as u64 + 1
            }))
        );
        wire.push(&[0, 0, 0, 1, b'x']);
        assert_eq!(wire.next_payload(), Ok(None));
        let mut tx = BytesMut::new();
        assert_eq!(
            wire.send(&message("late"), &mut tx),
            Err(SkywireSendError::NotEstablished)
        );
        assert!(tx.is_empty());
    }
}
