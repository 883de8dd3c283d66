//! One connection's protocol state: the Noise XK handshake, then the transport phase that
//! encrypts and decrypts frames: one per Noise message, or, once the peer has announced that it
//! accepts them, several frames sent together as one bundle. A session knows nothing of peers,
//! outboxes or policy; the node decides what to do with what it yields.

use bytes::BytesMut;
use snow::{HandshakeState, TransportState};

use crate::bundle::{BUNDLE_TARGET, BundleItems, BundleWriter, FEATURE_BUNDLE};
use crate::frame::{self, DecodeError, Decoded, Frame, KIND_BUNDLE};
use crate::framing::{self, FramingError, MAX_NOISE_MESSAGE, NoiseMessageReader};
use crate::handshake::{self, MSG1_LEN, MSG2_LEN, MSG3_LEN};
use crate::keys::{KEY_LEN, PublicKey, SecretKey};
use crate::message::ChatMessage;
use crate::skywire::SkywireError;

/// Bytes of AEAD tag on every Noise message.
pub const TAG_LEN: usize = 16;

/// Largest frame plaintext in one Noise transport message.
pub const MAX_FRAME_LEN: usize = MAX_NOISE_MESSAGE - TAG_LEN;

/// Which end of the handshake this session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Dialed out; pins the remote key.
    Initiator,
    /// Accepted; learns the remote key at message 3.
    Responder,
}

/// Something the session read from the stream.
#[derive(Debug)]
pub enum Received {
    /// The handshake finished; the remote proved it holds this key.
    Authenticated(PublicKey),
    /// A transport frame.
    Frame(Decoded),
}

/// The stream broke the protocol. Details stay local: the peer only ever sees the connection
/// close (or, after the handshake, a close frame with a generic code).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// Bad length prefix.
    Framing(FramingError),
    /// A handshake message failed to verify or decrypt, or carried a payload.
    HandshakeFailed,
    /// A transport message failed to decrypt.
    DecryptFailed,
    /// A transport frame did not decode.
    Frame(DecodeError),
    /// The Skywire suite refused the stream.
    Skywire(SkywireError),
    /// An inbound connection's first length prefix fits neither suite.
    UnknownSuite {
        /// The announced length of message 1.
        len: usize,
    },
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Framing(e) => write!(f, "framing: {e}"),
            Self::HandshakeFailed => f.write_str("handshake message did not verify"),
            Self::DecryptFailed => f.write_str("transport message did not decrypt"),
            Self::Frame(e) => write!(f, "frame: {e}"),
            Self::Skywire(e) => write!(f, "skywire: {e}"),
            Self::UnknownSuite { len } => write!(
                f,
                "first handshake message of {len} bytes matches neither suite"
            ),
        }
    }
}

/// Where a connection's Noise state stands. Shared with the fuzzing support's scripted peer.
pub(crate) enum Phase {
    Handshake(Box<HandshakeState>),
    Transport(Box<TransportState>),
    Failed,
}

/// One connection's Noise state and receive buffer.
pub struct Session {
    role: Role,
    phase: Phase,
    reader: NoiseMessageReader,
    remote: Option<PublicKey>,
    broken: bool,
    handshake_read: u8,
    /// The rest of a received bundle, read one item per call of [`Session::next`].
    unbundling: Option<BundleItems>,
    /// Frames sent since the last [`Session::flush`], when the peer accepts bundles.
    bundling: Option<BundleWriter>,
}

impl Session {
    /// Starts an initiator pinned to `remote` and appends message 1 to `tx`.
    pub fn initiator(
        local: &SecretKey,
        remote: &[u8; KEY_LEN],
        seed: [u8; 32],
        tx: &mut BytesMut,
    ) -> Self {
        let mut state = handshake::initiator(local, remote, seed);
        let mut msg = [0u8; MSG1_LEN];
        let len = state
            .write_message(&[], &mut msg)
            .expect("message 1 fits its buffer");
        framing::write_message(tx, &msg[..len]);
        Self {
            role: Role::Initiator,
            phase: Phase::Handshake(Box::new(state)),
            reader: NoiseMessageReader::default(),
            remote: Some(PublicKey::native(*remote)),
            broken: false,
            handshake_read: 0,
            unbundling: None,
            bundling: None,
        }
    }

    /// Starts a responder that waits for message 1.
    pub fn responder(local: &SecretKey, seed: [u8; 32]) -> Self {
        Self {
            role: Role::Responder,
            phase: Phase::Handshake(Box::new(handshake::responder(local, seed))),
            reader: NoiseMessageReader::default(),
            remote: None,
            broken: false,
            handshake_read: 0,
            unbundling: None,
            bundling: None,
        }
    }

    /// Handshake messages read and verified so far (a responder has sent message 2 once this is
    /// 1).
    pub fn handshake_messages_read(&self) -> u8 {
        self.handshake_read
    }

    /// Appends received bytes. Call [`Session::next`] until it yields `Ok(None)`.
    pub fn push(&mut self, bytes: &[u8]) {
        self.reader.push(bytes);
    }

    /// Releases receive memory when nothing is buffered.
    pub fn shrink(&mut self) {
        self.reader.shrink_if_empty();
        if let Some(writer) = &mut self.bundling {
            writer.shrink();
        }
    }

    /// Takes note of the peer's features frame: with [`FEATURE_BUNDLE`], frames sent from now on
    /// are packed together until [`Session::flush`].
    pub fn set_peer_features(&mut self, bits: u64, tx: &mut BytesMut, scratch: &mut Vec<u8>) {
        if bits & FEATURE_BUNDLE != 0 {
            self.bundling.get_or_insert_with(BundleWriter::default);
        } else if self.bundling.is_some() {
            self.flush(tx, scratch);
            self.bundling = None;
        }
    }

    fn max_incoming(&self) -> usize {
        match (&self.phase, self.role) {
            (Phase::Transport(_), _) => MAX_NOISE_MESSAGE,
            (_, Role::Responder) => MSG3_LEN,
            (_, Role::Initiator) => MSG2_LEN,
        }
    }

    /// Processes the next complete Noise message, appending any handshake reply to `tx`.
    /// `scratch` is working memory shared between sessions.
    pub fn next(
        &mut self,
        tx: &mut BytesMut,
        scratch: &mut Vec<u8>,
    ) -> Result<Option<Received>, SessionError> {
        loop {
            let before = self.reader.buffered();
            let received = self.next_step(tx, scratch)?;
            if received.is_some() || self.reader.buffered() == before {
                return Ok(received);
            }
        }
    }

    fn next_step(
        &mut self,
        tx: &mut BytesMut,
        scratch: &mut Vec<u8>,
    ) -> Result<Option<Received>, SessionError> {
        if self.broken || matches!(self.phase, Phase::Failed) {
            return Ok(None);
        }
        if let Some(items) = &mut self.unbundling {
            let item = items.next_item().and_then(|item| match item {
                Some(bytes) => frame::decode(bytes).map(Some),
                None => Ok(None),
            });
            if items.is_done() {
                self.unbundling = None;
            }
            match item {
                Ok(Some(decoded)) => return Ok(Some(Received::Frame(decoded))),
                Ok(None) => {}
                Err(e) => return Err(self.fail(SessionError::Frame(e))),
            }
        }
        let message = match self.reader.next_message(self.max_incoming()) {
            Ok(Some(message)) => message,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.fail(SessionError::Framing(e))),
        };
        // Grow only when needed: re-zeroing 64 KiB per message would dominate small frames.
        let needed = message.len().max(MSG3_LEN);
        if scratch.len() < needed {
            scratch.resize(needed, 0);
        }
        let result = match &mut self.phase {
            Phase::Handshake(state) => {
                let step = Self::handshake_step(state, &message, tx, scratch);
                if step.is_ok() {
                    self.handshake_read += 1;
                }
                step
            }
            Phase::Transport(state) => match state.read_message(&message, scratch) {
                Ok(len) if scratch.first() == Some(&KIND_BUNDLE) => {
                    match BundleItems::new(scratch[..len].to_vec()) {
                        Ok(items) => {
                            self.unbundling = Some(items);
                            return self.next_step(tx, scratch);
                        }
                        Err(e) => Err(SessionError::Frame(e)),
                    }
                }
                Ok(len) => frame::decode(&scratch[..len])
                    .map(|decoded| Some(Received::Frame(decoded)))
                    .map_err(SessionError::Frame),
                Err(_) => Err(SessionError::DecryptFailed),
            },
            Phase::Failed => return Ok(None),
        };
        match result {
            Ok(Some(Received::Authenticated(_))) | Ok(None) => self.maybe_enter_transport(),
            Ok(received) => Ok(received),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn handshake_step(
        state: &mut HandshakeState,
        message: &[u8],
        tx: &mut BytesMut,
        scratch: &mut [u8],
    ) -> Result<Option<Received>, SessionError> {
        let payload_len = state
            .read_message(message, scratch)
            .map_err(|_| SessionError::HandshakeFailed)?;
        if payload_len != 0 {
            return Err(SessionError::HandshakeFailed);
        }
        if !state.is_handshake_finished() && state.is_my_turn() {
            let len = state
                .write_message(&[], scratch)
                .map_err(|_| SessionError::HandshakeFailed)?;
            framing::write_message(tx, &scratch[..len]);
        }
        Ok(None)
    }

    fn maybe_enter_transport(&mut self) -> Result<Option<Received>, SessionError> {
        let finished = matches!(&self.phase, Phase::Handshake(s) if s.is_handshake_finished());
        if !finished {
            return Ok(None);
        }
        let Phase::Handshake(state) = std::mem::replace(&mut self.phase, Phase::Failed) else {
            unreachable!("checked above");
        };
        let remote = state
            .get_remote_static()
            .and_then(|key| <[u8; 32]>::try_from(key).ok())
            .map(PublicKey::native)
            .ok_or(SessionError::HandshakeFailed)?;
        let transport = state
            .into_transport_mode()
            .map_err(|_| SessionError::HandshakeFailed)?;
        self.phase = Phase::Transport(Box::new(transport));
        self.remote = Some(remote);
        Ok(Some(Received::Authenticated(remote)))
    }

    /// Stops reading. An established session keeps its send state, so the node can still tell
    /// the peer why it is closing and still knows the session as established.
    fn fail(&mut self, error: SessionError) -> SessionError {
        self.broken = true;
        if !matches!(self.phase, Phase::Transport(_)) {
            self.phase = Phase::Failed;
        }
        error
    }

    /// Encrypts `frame` and appends it to `tx`, or, when the peer accepts bundles, packs it with
    /// the frames sent before it until [`Session::flush`] (or until the bundle is full). Does
    /// nothing before the handshake has finished.
    pub fn send(&mut self, frame: &Frame, tx: &mut BytesMut, scratch: &mut Vec<u8>) {
        if matches!(self.phase, Phase::Transport(_)) {
            scratch.clear();
            frame::encode_into(frame, scratch);
            self.send_encoded(tx, scratch);
        }
    }

    /// [`Session::send`] of a chat frame, encoded from a borrowed message.
    pub fn send_chat(&mut self, message: &ChatMessage, tx: &mut BytesMut, scratch: &mut Vec<u8>) {
        if matches!(self.phase, Phase::Transport(_)) {
            scratch.clear();
            frame::encode_chat_into(message, scratch);
            self.send_encoded(tx, scratch);
        }
    }

    /// Sends the frame encoded in `scratch`.
    fn send_encoded(&mut self, tx: &mut BytesMut, scratch: &mut Vec<u8>) {
        debug_assert!(scratch.len() <= MAX_FRAME_LEN);
        let Some(writer) = &mut self.bundling else {
            let plain_len = scratch.len();
            self.seal_in_place(plain_len, tx, scratch);
            return;
        };
        if writer.len_with(scratch.len()) > BUNDLE_TARGET {
            let frame = std::mem::take(scratch);
            self.flush(tx, scratch);
            let plain_len = frame.len();
            *scratch = frame;
            if plain_len > BUNDLE_TARGET / 2 {
                self.seal_in_place(plain_len, tx, scratch);
                return;
            }
        }
        if let Some(writer) = &mut self.bundling {
            writer.push(scratch);
        }
    }

    /// Seals the frames packed since the last flush into one Noise message (a lone frame as
    /// itself) and appends it to `tx`. Call it before handing `tx` to the socket.
    pub fn flush(&mut self, tx: &mut BytesMut, scratch: &mut Vec<u8>) {
        let Some(writer) = &mut self.bundling else {
            return;
        };
        let Some(plain) = writer.plaintext() else {
            return;
        };
        scratch.clear();
        scratch.extend_from_slice(plain);
        writer.clear();
        let plain_len = scratch.len();
        self.seal_in_place(plain_len, tx, scratch);
    }

    /// Encrypts the first `plain_len` bytes of `scratch` and appends the Noise message to `tx`.
    fn seal_in_place(&mut self, plain_len: usize, tx: &mut BytesMut, scratch: &mut Vec<u8>) {
        let Phase::Transport(state) = &mut self.phase else {
            return;
        };
        scratch.resize(plain_len + plain_len + TAG_LEN, 0);
        let (plain, cipher) = scratch.split_at_mut(plain_len);
        let len = state
            .write_message(plain, cipher)
            .expect("frame fits a Noise message");
        framing::write_message(tx, &cipher[..len]);
    }
}
