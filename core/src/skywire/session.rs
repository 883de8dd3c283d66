//! One Skywire connection, sans-IO: received bytes go in, decoded payloads and bytes to send
//! come out. The handshake, then records carrying u32-framed chat payloads. Any error ends the
//! session (the Go peer treats every record error as permanent); the host closes the socket.
//!
//! Work for an unauthenticated peer is bounded: a responder reads one message 1 of at most 4094
//! bytes (one DH, one decryption, at most one ML-KEM encapsulation), answers once, and decrypts
//! nothing else until message 3 has authenticated the initiator.

use bytes::BytesMut;

use super::chat::{self, ChatFrameError, ChatFrameReader};
use super::envelope::SkywirePayload;
use super::handshake::{
    AwaitingMessage3, HandshakeError, HandshakeRandomness, Initiator, MIN_MSG1_LEN, MIN_MSG2_LEN,
    MSG3_LEN, PqPolicy, Responder,
};
use super::keys::{SkywirePublicKey, SkywireSecretKey};
use super::record::{
    self, MAX_BODY_LEN, MIN_RECORD_LEN, NoncesExhausted, RecordError, RecordOpener, RecordSealer,
    WireError, WireReader,
};

/// What the session read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkywireReceived {
    /// The handshake finished.
    Established(Established),
    /// One chat frame, classified.
    Payload(SkywirePayload),
}

/// A finished handshake, as the host needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Established {
    /// The peer's Skywire key (pinned by an initiator, proven to a responder).
    pub remote: SkywirePublicKey,
    /// False if the peer completed classically: a downgrade the host should log.
    pub pq: bool,
    /// The final handshake hash, equal on both ends.
    pub handshake_hash: [u8; 32],
}

/// Why the session ended. Details stay local; the peer sees only the connection close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkywireError {
    /// A length prefix outside the limits of the current phase.
    Wire(WireError),
    /// A handshake message was refused.
    Handshake(HandshakeError),
    /// A transport record was refused.
    Record(RecordError),
    /// A chat frame header was refused.
    Frame(ChatFrameError),
}

impl std::fmt::Display for SkywireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Wire(e) => write!(f, "framing: {e}"),
            Self::Handshake(e) => write!(f, "handshake: {e}"),
            Self::Record(e) => write!(f, "record: {e}"),
            Self::Frame(e) => write!(f, "chat frame: {e}"),
        }
    }
}

impl std::error::Error for SkywireError {}

/// Why a payload was not sent. Nothing was written in any of these cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkywireSendError {
    /// The handshake has not finished, or the session failed.
    NotEstablished,
    /// The payload is empty or larger than a chat frame allows.
    Frame(ChatFrameError),
    /// The sending direction has used every nonce; open a new connection.
    NoncesExhausted,
}

impl std::fmt::Display for SkywireSendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotEstablished => f.write_str("the Skywire session is not established"),
            Self::Frame(e) => write!(f, "cannot send: {e}"),
            Self::NoncesExhausted => f.write_str("record nonces exhausted; reconnect"),
        }
    }
}

impl std::error::Error for SkywireSendError {}

enum Phase {
    AwaitingMessage1(Box<Responder>),
    AwaitingMessage2(Box<Initiator>),
    AwaitingMessage3(Box<AwaitingMessage3>),
    Transport {
        sealer: Box<RecordSealer>,
        opener: Box<RecordOpener>,
    },
    Failed,
}

/// One Skywire connection's state.
pub struct SkywireSession {
    phase: Phase,
    wire: WireReader,
    frames: ChatFrameReader,
    established: Option<Established>,
}

impl SkywireSession {
    /// Starts an initiator pinned to `remote` and appends message 1 to `tx`. All randomness
    /// comes from `seed` (see `HandshakeRandomness::from_seed`).
    pub fn initiator(
        local: &SkywireSecretKey,
        remote: &SkywirePublicKey,
        policy: PqPolicy,
        seed: [u8; 32],
        tx: &mut BytesMut,
    ) -> Self {
        Self::initiator_with(
            local,
            remote,
            policy,
            HandshakeRandomness::from_seed(seed),
            tx,
        )
    }

    /// Like [`SkywireSession::initiator`] with the randomness given explicitly (test vectors).
    pub fn initiator_with(
        local: &SkywireSecretKey,
        remote: &SkywirePublicKey,
        policy: PqPolicy,
        randomness: HandshakeRandomness,
        tx: &mut BytesMut,
    ) -> Self {
        let (initiator, message1) = Initiator::start(local, remote, policy, randomness);
        record::write_body(tx, &message1);
        Self::new(Phase::AwaitingMessage2(Box::new(initiator)))
    }

    /// Starts a responder that waits for message 1. All randomness comes from `seed`.
    pub fn responder(local: &SkywireSecretKey, policy: PqPolicy, seed: [u8; 32]) -> Self {
        Self::responder_with(local, policy, HandshakeRandomness::from_seed(seed))
    }

    /// Like [`SkywireSession::responder`] with the randomness given explicitly (test vectors).
    pub fn responder_with(
        local: &SkywireSecretKey,
        policy: PqPolicy,
        randomness: HandshakeRandomness,
    ) -> Self {
        Self::new(Phase::AwaitingMessage1(Box::new(Responder::new(
            local, policy, randomness,
        ))))
    }

    fn new(phase: Phase) -> Self {
        Self {
            phase,
            wire: WireReader::default(),
            frames: ChatFrameReader::default(),
            established: None,
        }
    }

    /// The finished handshake, once there is one.
    pub fn established(&self) -> Option<Established> {
        self.established
    }

    /// True once the handshake has finished and the session has not failed.
    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Transport { .. })
    }

    /// Handshake messages read and verified so far (a responder has sent message 2 once this is
    /// 1); meaningful only during the handshake.
    pub fn handshake_messages_read(&self) -> u8 {
        u8::from(matches!(self.phase, Phase::AwaitingMessage3(_)))
    }

    /// Appends received bytes. Call [`SkywireSession::next`] until it yields `Ok(None)`.
    /// A failed session drops what it is given, so a peer cannot make it buffer.
    pub fn push(&mut self, bytes: &[u8]) {
        if !matches!(self.phase, Phase::Failed) {
            self.wire.push(bytes);
        }
    }

    /// Bytes received and not yet consumed (undecrypted, or decrypted but not a whole frame).
    pub fn buffered(&self) -> usize {
        self.wire.buffered() + self.frames.buffered()
    }

    /// Releases receive memory when nothing is buffered.
    pub fn shrink(&mut self) {
        self.wire.shrink_if_empty();
        self.frames.shrink_if_empty();
    }

    /// Processes buffered input up to the next event, appending any handshake reply to `tx`.
    /// `Ok(None)` means more bytes are needed. After an error the session stays failed and
    /// yields `Ok(None)`; the host should close the connection.
    pub fn next(&mut self, tx: &mut BytesMut) -> Result<Option<SkywireReceived>, SkywireError> {
        let result = self.step(tx);
        if result.is_err() {
            self.phase = Phase::Failed;
            self.wire = WireReader::default();
            self.frames = ChatFrameReader::default();
        }
        result
    }

    fn step(&mut self, tx: &mut BytesMut) -> Result<Option<SkywireReceived>, SkywireError> {
        loop {
            if let Phase::Transport { opener, .. } = &mut self.phase {
                if let Some(frame) = self.frames.next_frame().map_err(SkywireError::Frame)? {
                    return Ok(Some(SkywireReceived::Payload(SkywirePayload::parse(
                        &frame,
                    ))));
                }
                let Some(mut body) = self
                    .wire
                    .next_body(MIN_RECORD_LEN, MAX_BODY_LEN)
                    .map_err(SkywireError::Wire)?
                else {
                    return Ok(None);
                };
                let plain = opener.open(&mut body).map_err(SkywireError::Record)?;
                self.frames.push(plain);
                continue;
            }
            let min = match &self.phase {
                Phase::AwaitingMessage1(_) => MIN_MSG1_LEN,
                Phase::AwaitingMessage2(_) => MIN_MSG2_LEN,
                Phase::AwaitingMessage3(_) => MSG3_LEN,
                Phase::Transport { .. } | Phase::Failed => return Ok(None),
            };
            let Some(body) = self
                .wire
                .next_body(min, MAX_BODY_LEN)
                .map_err(SkywireError::Wire)?
            else {
                return Ok(None);
            };
            match std::mem::replace(&mut self.phase, Phase::Failed) {
                Phase::AwaitingMessage1(responder) => {
                    let (awaiting, message2) = responder
                        .read_message1(&body)
                        .map_err(SkywireError::Handshake)?;
                    record::write_body(tx, &message2);
                    self.phase = Phase::AwaitingMessage3(Box::new(awaiting));
                }
                Phase::AwaitingMessage2(initiator) => {
                    let (completed, message3) = initiator
                        .read_message2(&body)
                        .map_err(SkywireError::Handshake)?;
                    record::write_body(tx, &message3);
                    return Ok(Some(self.enter_transport(completed)));
                }
                Phase::AwaitingMessage3(awaiting) => {
                    let completed = awaiting
                        .read_message3(&body)
                        .map_err(SkywireError::Handshake)?;
                    return Ok(Some(self.enter_transport(completed)));
                }
                Phase::Transport { .. } | Phase::Failed => return Ok(None),
            }
        }
    }

    fn enter_transport(&mut self, completed: super::handshake::Completed) -> SkywireReceived {
        self.phase = Phase::Transport {
            sealer: Box::new(RecordSealer::new(&completed.keys.send)),
            opener: Box::new(RecordOpener::new(&completed.keys.recv)),
        };
        let established = Established {
            remote: completed.remote,
            pq: completed.pq,
            handshake_hash: completed.handshake_hash,
        };
        self.established = Some(established);
        SkywireReceived::Established(established)
    }

    /// Encodes `payload` and sends it as one chat frame (see [`SkywireSession::send_frame`]).
    pub fn send(
        &mut self,
        payload: &SkywirePayload,
        tx: &mut BytesMut,
    ) -> Result<(), SkywireSendError> {
        self.send_frame(&payload.encode(), tx)
    }

    /// Sends one chat frame of 1..=65536 bytes: the u32 header in one record, then the payload
    /// in records of up to 4070 bytes, as the Go writer does.
    pub fn send_frame(&mut self, frame: &[u8], tx: &mut BytesMut) -> Result<(), SkywireSendError> {
        let Phase::Transport { sealer, .. } = &mut self.phase else {
            return Err(SkywireSendError::NotEstablished);
        };
        let header = chat::frame_header(frame.len()).map_err(SkywireSendError::Frame)?;
        let start = tx.len();
        let sealed = sealer
            .seal(&header, tx)
            .and_then(|()| sealer.seal(frame, tx));
        if let Err(NoncesExhausted) = sealed {
            tx.truncate(start);
            return Err(SkywireSendError::NoncesExhausted);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX_CHAT_FRAME_PLUS_ONE: usize = chat::MAX_CHAT_FRAME + 1;

    fn pair() -> (SkywireSession, SkywireSession) {
        let (a, b) = (
            SkywireSecretKey::from_bytes([1; 32]).unwrap(),
            SkywireSecretKey::from_bytes([2; 32]).unwrap(),
        );
        let policy = PqPolicy::default();
        let mut tx = BytesMut::new();
        let mut initiator =
            SkywireSession::initiator(&a, &b.public_key(), policy, [3; 32], &mut tx);
        let mut responder = SkywireSession::responder(&b, policy, [4; 32]);
        responder.push(&tx.split());
        assert_eq!(responder.next(&mut tx), Ok(None));
        initiator.push(&tx.split());
        let Ok(Some(SkywireReceived::Established(done))) = initiator.next(&mut tx) else {
            panic!("the initiator finishes on message 2");
        };
        assert!(done.pq);
        responder.push(&tx.split());
        assert!(matches!(
            responder.next(&mut tx),
            Ok(Some(SkywireReceived::Established(e))) if e.remote == a.public_key() && e.pq
        ));
        (initiator, responder)
    }

    #[test]
    fn nothing_is_sent_before_the_handshake_or_out_of_bounds() {
        let key = SkywireSecretKey::from_bytes([1; 32]).unwrap();
        let mut responder = SkywireSession::responder(&key, PqPolicy::default(), [0; 32]);
        let mut tx = BytesMut::new();
        assert_eq!(
            responder.send_frame(b"hi", &mut tx),
            Err(SkywireSendError::NotEstablished)
        );
        let (mut initiator, _) = pair();
        assert_eq!(
            initiator.send_frame(b"", &mut tx),
            Err(SkywireSendError::Frame(ChatFrameError::Empty))
        );
        assert_eq!(
            initiator.send_frame(&vec![0; MAX_CHAT_FRAME_PLUS_ONE], &mut tx),
            Err(SkywireSendError::Frame(ChatFrameError::TooLong {
                len: MAX_CHAT_FRAME_PLUS_ONE as u64
            }))
        );
        assert!(tx.is_empty());
    }

    #[test]
    fn a_failed_session_stays_failed_and_buffers_nothing() {
        let (mut initiator, mut responder) = pair();
        let mut tx = BytesMut::new();
        initiator.send_frame(b"first", &mut tx).unwrap();
        let mut tampered = tx.split();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        responder.push(&tampered);
        assert_eq!(
            responder.next(&mut tx),
            Err(SkywireError::Record(RecordError::DecryptFailed))
        );
        assert_eq!(responder.buffered(), 0);
        initiator.send_frame(b"second", &mut tx).unwrap();
        responder.push(&tx.split());
        assert_eq!(responder.buffered(), 0);
        assert_eq!(responder.next(&mut tx), Ok(None));
        assert!(!responder.is_established());
    }
}
