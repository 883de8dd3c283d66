//! Go `net/rpc` over gob as the client, sans-IO: [`Client::call`] gives the bytes of a call
//! (the `Request` header then the argument, each preceded by any type definition this stream has
//! not sent yet); [`Client::push`] takes bytes read from the visor in any chunks and
//! [`Client::poll`] hands out each complete reply, matched by `Seq` to the call it answers.
//!
//! Several calls may be in flight and the visor answers them in any order (`Accept` and `Read`
//! block there until something arrives). Any error from `poll` leaves the stream's state unknown
//! (gob type definitions are stream-wide), so the client refuses everything after it: the caller
//! closes the connection.

use std::collections::HashMap;
use std::fmt;

use gobwire::{Gob, Progress};

use crate::calls::{Call, Method, Reply};
use crate::gob::{FrameError, MessageReader};
use crate::proc_config::ProcKey;

/// `rpc.Request`, the header of every call.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
#[gob(name = "Request")]
pub(crate) struct RequestHeader {
    #[gob(name = "ServiceMethod")]
    pub(crate) service_method: String,
    #[gob(name = "Seq")]
    pub(crate) seq: u64,
}

/// `rpc.Response`, the header of every reply.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
#[gob(name = "Response")]
pub(crate) struct ResponseHeader {
    #[gob(name = "ServiceMethod")]
    pub(crate) service_method: String,
    #[gob(name = "Seq")]
    pub(crate) seq: u64,
    #[gob(name = "Error")]
    pub(crate) error: String,
}

/// One answered call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The `Seq` [`Client::call`] returned for the call.
    pub seq: u64,
    /// The method called.
    pub method: Method,
    /// The typed reply, or the text of the visor's `Response.Error`.
    pub result: Result<Reply, String>,
}

/// A call whose argument gob cannot encode (see [`Client::call`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError(pub String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode the call: {}", self.0)
    }
}

impl std::error::Error for EncodeError {}

/// Why the reply stream cannot be read further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// The stream's message framing is broken.
    Frame(FrameError),
    /// A message is not gob the client can read (or a reply of the wrong type).
    Gob(String),
    /// A reply to a `Seq` with no call in flight.
    UnknownSeq { seq: u64 },
    /// An earlier error already ended the stream.
    Broken,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Frame(e) => write!(f, "visor app-server stream: {e}"),
            Self::Gob(e) => write!(f, "visor app-server stream: {e}"),
            Self::UnknownSeq { seq } => {
                write!(f, "visor answered seq {seq}, which no call in flight has")
            }
            Self::Broken => f.write_str("visor app-server stream already failed"),
        }
    }
}

impl std::error::Error for ProtocolError {}

impl From<FrameError> for ProtocolError {
    fn from(e: FrameError) -> Self {
        Self::Frame(e)
    }
}

impl From<gobwire::Error> for ProtocolError {
    fn from(e: gobwire::Error) -> Self {
        Self::Gob(e.to_string())
    }
}

/// Where the reply stream is: between replies, or after a header whose body comes next.
#[derive(Debug)]
enum Awaiting {
    Header,
    Body {
        seq: u64,
        method: Method,
        error: String,
    },
}

/// The client side of one app-server connection, after the Hello.
#[derive(Debug)]
pub struct Client {
    service: String,
    encoder: gobwire::Encoder,
    next_seq: u64,
    in_flight: HashMap<u64, Method>,
    reader: MessageReader,
    decoder: gobwire::Decoder,
    awaiting: Awaiting,
    /// Bytes of the value being assembled from several messages (gob continues a value in the
    /// next message only around interface types, which this protocol never sends).
    partial_value: usize,
    broken: bool,
}

impl Client {
    /// A client for the service the visor registered under `proc_key`.
    pub fn new(proc_key: &ProcKey) -> Self {
        Self::with_reader(proc_key, MessageReader::default())
    }

    /// Like [`Client::new`] with a given limit on the length of one reply message.
    pub fn with_message_limit(proc_key: &ProcKey, max_len: usize) -> Self {
        Self::with_reader(proc_key, MessageReader::with_limit(max_len))
    }

    fn with_reader(proc_key: &ProcKey, reader: MessageReader) -> Self {
        Self {
            service: proc_key.to_hex(),
            encoder: gobwire::Encoder::new(),
            next_seq: 0,
            in_flight: HashMap::new(),
            reader,
            decoder: gobwire::Decoder::new(),
            awaiting: Awaiting::Header,
            partial_value: 0,
            broken: false,
        }
    }

    /// Starts `call`: returns its `Seq` and the bytes to write to the visor, in order. Calls
    /// must be written in the order they were made (a call may define types later ones use).
    ///
    /// Only a deadline Go cannot marshal (a zone offset of exactly -1 minute or beyond ±22
    /// days) fails; then nothing was sent, and the stream's state is unchanged.
    pub fn call(&mut self, call: &Call) -> Result<(u64, Vec<u8>), EncodeError> {
        // The argument is encoded first, so that if it fails nothing has changed: its type
        // definitions travel inside its own bytes, which still follow the header's on the wire.
        let mut arg = Vec::new();
        call.encode_arg(&mut self.encoder, &mut arg)
            .map_err(|e| EncodeError(e.to_string()))?;
        let seq = self.next_seq;
        let header = RequestHeader {
            service_method: format!("{}.{}", self.service, call.method().name()),
            seq,
        };
        let mut out = Vec::with_capacity(64 + arg.len());
        // A struct of a string and a uint has nothing gob could refuse.
        self.encoder
            .encode_into(&header, &mut out)
            .expect("rpc.Request always encodes");
        out.extend_from_slice(&arg);
        self.next_seq += 1;
        self.in_flight.insert(seq, call.method());
        Ok((seq, out))
    }

    /// The number of calls sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Feed bytes read from the visor, in whatever chunks they came.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.broken {
            self.reader.push(bytes);
        }
    }

    /// The next complete reply, or `None` until more bytes arrive.
    pub fn poll(&mut self) -> Result<Option<Completion>, ProtocolError> {
        if self.broken {
            return Err(ProtocolError::Broken);
        }
        let result = self.poll_inner();
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn poll_inner(&mut self) -> Result<Option<Completion>, ProtocolError> {
        loop {
            let Some(message) = self.reader.next_message()? else {
                return Ok(None);
            };
            let len = message.len();
            match self.decoder.push_message(message)? {
                Progress::TypeDefinition(_) => continue,
                Progress::NeedMore => {
                    // One value spread over many messages is held to one message's limit.
                    self.partial_value += len;
                    let max = self.reader.max_len();
                    if self.partial_value > max {
                        return Err(FrameError::TooLong {
                            len: self.partial_value as u64,
                            max,
                        }
                        .into());
                    }
                    continue;
                }
                Progress::Ready => self.partial_value = 0,
            }
            match std::mem::replace(&mut self.awaiting, Awaiting::Header) {
                Awaiting::Header => {
                    let header: ResponseHeader = self.decoder.decode()?;
                    let method = self
                        .in_flight
                        .remove(&header.seq)
                        .ok_or(ProtocolError::UnknownSeq { seq: header.seq })?;
                    self.awaiting = Awaiting::Body {
                        seq: header.seq,
                        method,
                        error: header.error,
                    };
                }
                Awaiting::Body { seq, method, error } => {
                    let result = if error.is_empty() {
                        Ok(Reply::decode(method, &mut self.decoder)?)
                    } else {
                        // With an error the body is an empty `struct{}`; Go's client discards it.
                        self.decoder.discard()?;
                        Err(error)
                    };
                    return Ok(Some(Completion {
                        seq,
                        method,
                        result,
                    }));
                }
            }
        }
    }
}
