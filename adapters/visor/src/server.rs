//! The visor's side of the app-server RPC, sans-IO: reads calls and writes replies with the
//! same gob and `net/rpc` framing. It stands in for a visor in tests of the client and of the
//! adapters that drive it; it is not a visor (it does no routing).

use crate::calls::{Call, Empty, Method, Reply};
use crate::gob::MessageReader;
use crate::rpc::{ProtocolError, RequestHeader, ResponseHeader};

use gobwire::Progress;

/// One call as the server read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCall {
    /// The caller's `Seq`, to answer with.
    pub seq: u64,
    /// `"<proc key>.<Method>"` as sent.
    pub service_method: String,
    /// The typed call.
    pub call: Call,
}

#[derive(Debug)]
enum Awaiting {
    Header,
    Body {
        seq: u64,
        service_method: String,
        method: Method,
    },
}

/// The server side of one app-server connection, after the Hello.
#[derive(Debug, Default)]
pub struct Server {
    encoder: gobwire::Encoder,
    reader: MessageReader,
    decoder: gobwire::Decoder,
    awaiting: Option<Awaiting>,
}

impl Server {
    /// A server with nothing read or sent yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed bytes the client wrote.
    pub fn push(&mut self, bytes: &[u8]) {
        self.reader.push(bytes);
    }

    /// The next complete call, or `None` until more bytes arrive.
    pub fn poll(&mut self) -> Result<Option<IncomingCall>, ProtocolError> {
        loop {
            let Some(message) = self.reader.next_message()? else {
                return Ok(None);
            };
            match self.decoder.push_message(message)? {
                Progress::TypeDefinition(_) | Progress::NeedMore => continue,
                Progress::Ready => {}
            }
            match self.awaiting.take().unwrap_or(Awaiting::Header) {
                Awaiting::Header => {
                    let header: RequestHeader = self.decoder.decode()?;
                    let method = header
                        .service_method
                        .rsplit_once('.')
                        .and_then(|(_, name)| Method::from_name(name))
                        .ok_or_else(|| {
                            ProtocolError::Gob(format!(
                                "unknown method {:?}",
                                header.service_method
                            ))
                        })?;
                    self.awaiting = Some(Awaiting::Body {
                        seq: header.seq,
                        service_method: header.service_method,
                        method,
                    });
                }
                Awaiting::Body {
                    seq,
                    service_method,
                    method,
                } => {
                    let call = Call::decode(method, &mut self.decoder)?;
                    return Ok(Some(IncomingCall {
                        seq,
                        service_method,
                        call,
                    }));
                }
            }
        }
    }

    /// The bytes of the reply to `call`: the `Response` header, then the reply value (an
    /// empty `struct{}` when `result` is an error, as Go's server sends).
    pub fn reply(&mut self, call: &IncomingCall, result: &Result<Reply, String>) -> Vec<u8> {
        let header = ResponseHeader {
            service_method: call.service_method.clone(),
            seq: call.seq,
            error: result.as_ref().err().cloned().unwrap_or_default(),
        };
        let mut out = Vec::new();
        self.encoder
            .encode_into(&header, &mut out)
            .expect("rpc.Response always encodes");
        match result {
            Ok(reply) => reply.encode(&mut self.encoder, &mut out),
            Err(_) => self.encoder.encode_into(&Empty {}, &mut out),
        }
        .expect("the visor's reply types always encode");
        out
    }
}
