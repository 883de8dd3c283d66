//! The pair calls of the visor's own RPC service, sans-IO: the argument and reply types with
//! the Go field names gob matches on, a one-call-at-a-time client, and a server that stands in
//! for a visor in tests.
//!
//! This is a second, separate Go `net/rpc` (gob) connection: to the visor's RPC address (its
//! config's `cli_addr`, `localhost:3435` by default), with no Hello, and every method under the
//! fixed service name [`SERVICE`] (`visor.RPCPrefix`). The pair methods exist only in newer
//! visors; a visor without them answers with Go's `rpc: can't find method …` error, which
//! [`is_missing_method`] recognises.
//!
//! The framing (message lengths, the `rpc.Request` and `rpc.Response` headers, gob type
//! definitions) is the app-server client's ([`crate::rpc`], [`crate::gob`]).

use gobwire::{Dynamic, GoTime, Gob, Progress};

use crate::calls::{Empty, PubKey};
use crate::gob::MessageReader;
use crate::rpc::{EncodeError, ProtocolError, RequestHeader, ResponseHeader};

/// The service every method of the visor's RPC is registered under (`visor.RPCPrefix`, the
/// same in the 2024 and the newer visors).
pub const SERVICE: &str = "app-visor";

/// The start of the error text Go's `net/rpc` server sends for a method or service it does not
/// have (`rpc: can't find method app-visor.PairList`, `rpc: can't find service …`).
const MISSING_PREFIX: &str = "rpc: can't find ";

/// Whether a visor's error text says that it has no such method (or service).
pub fn is_missing_method(error: &str) -> bool {
    error.starts_with(MISSING_PREFIX)
}

/// The text Go's `net/rpc` server sends for a method it does not have.
pub fn missing_method_error(service_method: &str) -> String {
    format!("{MISSING_PREFIX}method {service_method}")
}

/// `visor.PairAddRequest`.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
pub struct PairAddRequest {
    #[gob(name = "PeerPK")]
    pub peer_pk: PubKey,
}

/// `visor.PairSendRequest`.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
pub struct PairSendRequest {
    #[gob(name = "PeerPK")]
    pub peer_pk: PubKey,
    #[gob(name = "Text")]
    pub text: String,
}

/// `visor.PairPollRequest`: messages strictly after `since` (the zero time: all the visor
/// holds).
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
pub struct PairPollRequest {
    #[gob(name = "Since")]
    pub since: GoTime,
}

/// `visor.PairInfo`, one element of `PairList`'s reply.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
pub struct PairInfo {
    #[gob(name = "PeerPK")]
    pub peer_pk: PubKey,
    /// `pending`, `active` or `revoked`.
    #[gob(name = "Status")]
    pub status: String,
    #[gob(name = "Port")]
    pub port: u16,
    #[gob(name = "EstablishedAt")]
    pub established_at: GoTime,
    #[gob(name = "LastMessageAt")]
    pub last_message_at: GoTime,
}

/// `visor.PairMessage`, one element of `PairPoll`'s reply. `ID` and `Type` appear only in
/// newer visors (a message id, and a control record's kind such as `delete`); older ones leave
/// them empty.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
pub struct PairMessage {
    #[gob(name = "PeerPK")]
    pub peer_pk: PubKey,
    #[gob(name = "Text")]
    pub text: String,
    #[gob(name = "TS")]
    pub ts: GoTime,
    #[gob(name = "ID")]
    pub id: String,
    #[gob(name = "Type")]
    pub kind: String,
}

/// One call of the visor's pair API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiCall {
    /// Every pair the visor knows (`struct{}` → `[]PairInfo`).
    PairList,
    /// Create a pair (`PairAddRequest` → `struct{}`).
    PairAdd(PubKey),
    /// Tear a pair down (`cipher.PubKey` → `struct{}`).
    PairRemove(PubKey),
    /// Mark a pending pair active (`cipher.PubKey` → `struct{}`).
    PairMarkActive(PubKey),
    /// Publish a message into a pair's feed (`PairSendRequest` → `struct{}`, or a message id
    /// in newer visors).
    PairSend(PairSendRequest),
    /// Inbound messages after a time (`PairPollRequest` → `[]PairMessage`).
    PairPoll(GoTime),
}

impl ApiCall {
    /// The Go method name, after `"app-visor."`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::PairList => "PairList",
            Self::PairAdd(_) => "PairAdd",
            Self::PairRemove(_) => "PairRemove",
            Self::PairMarkActive(_) => "PairMarkActive",
            Self::PairSend(_) => "PairSend",
            Self::PairPoll(_) => "PairPoll",
        }
    }

    fn encode_arg(&self, encoder: &mut gobwire::Encoder, out: &mut Vec<u8>) -> gobwire::Result<()> {
        match self {
            Self::PairList => encoder.encode_into(&Empty {}, out),
            Self::PairAdd(pk) => encoder.encode_into(&PairAddRequest { peer_pk: *pk }, out),
            Self::PairRemove(pk) | Self::PairMarkActive(pk) => encoder.encode_into(pk, out),
            Self::PairSend(req) => encoder.encode_into(req, out),
            Self::PairPoll(since) => encoder.encode_into(&PairPollRequest { since: *since }, out),
        }
    }

    /// The call named `name`, its argument decoded from `decoder` (the server's side); `None`
    /// for a name this module does not know.
    fn decode(name: &str, decoder: &mut gobwire::Decoder) -> gobwire::Result<Option<Self>> {
        Ok(Some(match name {
            "PairList" => {
                decoder.decode::<Empty>()?;
                Self::PairList
            }
            "PairAdd" => Self::PairAdd(decoder.decode::<PairAddRequest>()?.peer_pk),
            "PairRemove" => Self::PairRemove(decoder.decode()?),
            "PairMarkActive" => Self::PairMarkActive(decoder.decode()?),
            "PairSend" => Self::PairSend(decoder.decode()?),
            "PairPoll" => Self::PairPoll(decoder.decode::<PairPollRequest>()?.since),
            _ => return Ok(None),
        }))
    }

    fn decode_reply(&self, decoder: &mut gobwire::Decoder) -> gobwire::Result<ApiReply> {
        Ok(match self {
            Self::PairList => ApiReply::Pairs(decoder.decode()?),
            Self::PairPoll(_) => ApiReply::Messages(decoder.decode()?),
            Self::PairSend(_) => {
                // `struct{}` in the visors whose source is known; a message id (a string) in
                // newer ones. Anything else is not a reply this client understands.
                let reply: Dynamic = decoder.decode()?;
                match reply.value {
                    gobwire::Value::String(id) => ApiReply::Sent(Some(id)),
                    gobwire::Value::Struct(fields) if fields.iter().all(Option::is_none) => {
                        ApiReply::Sent(None)
                    }
                    _ => {
                        return Err(gobwire::Error::Corrupt(
                            "PairSend replied with neither struct{} nor a message id".into(),
                        ));
                    }
                }
            }
            Self::PairAdd(_) | Self::PairRemove(_) | Self::PairMarkActive(_) => {
                decoder.decode::<Empty>()?;
                ApiReply::Done
            }
        })
    }
}

/// A successful reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiReply {
    /// `PairList`.
    Pairs(Vec<PairInfo>),
    /// `PairPoll`.
    Messages(Vec<PairMessage>),
    /// `PairSend`, with the message id when the visor returns one.
    Sent(Option<String>),
    /// The calls that return `struct{}`.
    Done,
}

impl ApiReply {
    fn encode(&self, encoder: &mut gobwire::Encoder, out: &mut Vec<u8>) -> gobwire::Result<()> {
        match self {
            Self::Pairs(pairs) => encoder.encode_into(pairs, out),
            Self::Messages(messages) => encoder.encode_into(messages, out),
            Self::Sent(Some(id)) => encoder.encode_into(id, out),
            Self::Sent(None) | Self::Done => encoder.encode_into(&Empty {}, out),
        }
    }
}

/// One answered call: the visor's reply, or the text of its `Response.Error`.
pub type ApiResult = Result<ApiReply, String>;

/// Gob values read off a stream, one at a time.
#[derive(Debug, Default)]
struct ValueStream {
    reader: MessageReader,
    decoder: gobwire::Decoder,
}

impl ValueStream {
    /// Whether a whole value is buffered in the decoder (type definitions are consumed on the
    /// way; a value spread over messages is held to one message's limit).
    fn next_value(&mut self) -> Result<bool, ProtocolError> {
        let mut spread = 0;
        while let Some(message) = self.reader.next_message()? {
            spread += message.len();
            match self.decoder.push_message(message)? {
                Progress::Ready => return Ok(true),
                Progress::TypeDefinition(_) => spread = 0,
                Progress::NeedMore if spread > self.reader.max_len() => {
                    return Err(ProtocolError::Gob(format!(
                        "a value spread over {spread} bytes of messages"
                    )));
                }
                Progress::NeedMore => {}
            }
        }
        Ok(false)
    }
}

/// The client side of one connection to the visor's RPC: one call at a time.
#[derive(Debug)]
pub struct ApiClient {
    encoder: gobwire::Encoder,
    stream: ValueStream,
    next_seq: u64,
    in_flight: Option<(u64, ApiCall)>,
    /// The header of the reply whose body comes next.
    header: Option<ResponseHeader>,
}

impl Default for ApiClient {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiClient {
    /// A client with nothing sent yet.
    pub fn new() -> Self {
        Self {
            encoder: gobwire::Encoder::new(),
            stream: ValueStream::default(),
            next_seq: 0,
            in_flight: None,
            header: None,
        }
    }

    /// The bytes of `call`, to write to the visor. The previous call must have been answered.
    pub fn call(&mut self, call: &ApiCall) -> Result<Vec<u8>, EncodeError> {
        if self.in_flight.is_some() {
            return Err(EncodeError(
                "the previous call on this connection is unanswered".into(),
            ));
        }
        let mut arg = Vec::new();
        call.encode_arg(&mut self.encoder, &mut arg)
            .map_err(|e| EncodeError(e.to_string()))?;
        let header = RequestHeader {
            service_method: format!("{SERVICE}.{}", call.name()),
            seq: self.next_seq,
        };
        let mut out = Vec::with_capacity(64 + arg.len());
        self.encoder
            .encode_into(&header, &mut out)
            .map_err(|e| EncodeError(e.to_string()))?;
        out.extend_from_slice(&arg);
        self.in_flight = Some((self.next_seq, call.clone()));
        self.next_seq += 1;
        Ok(out)
    }

    /// Feed bytes read from the visor.
    pub fn push(&mut self, bytes: &[u8]) {
        self.stream.reader.push(bytes);
    }

    /// The answer to the call in flight, once its bytes are all in. After an error the
    /// stream's state is unknown (gob type definitions are stream-wide): drop this client with
    /// its connection.
    pub fn poll(&mut self) -> Result<Option<ApiResult>, ProtocolError> {
        while self.stream.next_value()? {
            let decoder = &mut self.stream.decoder;
            let Some(header) = self.header.take() else {
                let header: ResponseHeader = decoder.decode()?;
                match &self.in_flight {
                    Some((seq, _)) if *seq == header.seq => self.header = Some(header),
                    _ => return Err(ProtocolError::UnknownSeq { seq: header.seq }),
                }
                continue;
            };
            let (_, call) = self.in_flight.take().ok_or(ProtocolError::Broken)?;
            if !header.error.is_empty() {
                decoder.discard()?;
                return Ok(Some(Err(header.error)));
            }
            return Ok(Some(Ok(call.decode_reply(decoder)?)));
        }
        Ok(None)
    }
}

/// One call as the server read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingApiCall {
    /// The caller's `Seq`.
    pub seq: u64,
    /// `"app-visor.<Method>"` as sent.
    pub service_method: String,
    /// The call, or `None` when the method is not one of this module's (its argument was
    /// read and dropped, as Go's server does).
    pub call: Option<ApiCall>,
}

/// The visor's side of the connection, for tests: reads calls, writes replies, with the same
/// framing. It is not a visor.
#[derive(Debug, Default)]
pub struct ApiServer {
    encoder: gobwire::Encoder,
    stream: ValueStream,
    header: Option<RequestHeader>,
}

impl ApiServer {
    /// A server with nothing read or sent.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed bytes the client wrote.
    pub fn push(&mut self, bytes: &[u8]) {
        self.stream.reader.push(bytes);
    }

    /// The next complete call, or `None` until more bytes arrive.
    pub fn poll(&mut self) -> Result<Option<IncomingApiCall>, ProtocolError> {
        while self.stream.next_value()? {
            let decoder = &mut self.stream.decoder;
            let Some(header) = self.header.take() else {
                self.header = Some(decoder.decode()?);
                continue;
            };
            let name = header
                .service_method
                .strip_prefix(SERVICE)
                .and_then(|rest| rest.strip_prefix('.'))
                .unwrap_or("");
            let call = ApiCall::decode(name, decoder)?;
            if call.is_none() {
                decoder.discard()?;
            }
            return Ok(Some(IncomingApiCall {
                seq: header.seq,
                service_method: header.service_method,
                call,
            }));
        }
        Ok(None)
    }

    /// The bytes of the reply to `call`: the `Response` header, then the reply value (an
    /// empty `struct{}` after an error, as Go's server sends).
    pub fn reply(&mut self, call: &IncomingApiCall, result: &ApiResult) -> Vec<u8> {
        let (error, value) = match result {
            Ok(reply) => (String::new(), Some(reply)),
            Err(text) => (text.clone(), None),
        };
        let mut out = Vec::new();
        let header = ResponseHeader {
            service_method: call.service_method.clone(),
            seq: call.seq,
            error,
        };
        let encoder = &mut self.encoder;
        let written = encoder
            .encode_into(&header, &mut out)
            .and_then(|()| match value {
                Some(reply) => reply.encode(encoder, &mut out),
                None => encoder.encode_into(&Empty {}, &mut out),
            });
        written.expect("rpc.Response and the pair replies always encode");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gobwire::Zone;

    fn key(byte: u8) -> PubKey {
        let mut k = [byte; 33];
        k[0] = 2;
        PubKey(k)
    }

    /// Runs `call` through a client and the test server answering `answer`, bytes fed one at a
    /// time both ways.
    fn round_trip(call: ApiCall, answer: impl Fn(&IncomingApiCall) -> ApiResult) -> ApiResult {
        let mut client = ApiClient::new();
        let mut server = ApiServer::new();
        let mut result = None;
        for _ in 0..2 {
            let bytes = client.call(&call).expect("encode");
            let mut incoming = None;
            for b in &bytes {
                server.push(std::slice::from_ref(b));
                if let Some(c) = server.poll().expect("server reads") {
                    incoming = Some(c);
                }
            }
            let incoming = incoming.expect("a whole call");
            assert_eq!(
                incoming.service_method,
                format!("app-visor.{}", call.name())
            );
            if incoming.call.is_some() {
                assert_eq!(incoming.call.as_ref(), Some(&call));
            }
            let reply = server.reply(&incoming, &answer(&incoming));
            let mut answered = None;
            for b in &reply {
                client.push(std::slice::from_ref(b));
                if let Some(r) = client.poll().expect("client reads") {
                    answered = Some(r);
                }
            }
            // The second round reuses the type definitions sent in the first.
            let answered = answered.expect("a whole reply");
            if let Some(first) = &result {
                assert_eq!(first, &answered);
            }
            result = Some(answered);
        }
        result.expect("two rounds")
    }

    #[test]
    fn every_call_and_reply_round_trips() {
        let when = GoTime::from_unix(1_764_000_000, 5, Zone::Utc);
        let pairs = vec![PairInfo {
            peer_pk: key(7),
            status: "active".into(),
            port: 49_200,
            established_at: when,
            last_message_at: GoTime::default(),
        }];
        let got = round_trip(ApiCall::PairList, |_| Ok(ApiReply::Pairs(pairs.clone())));
        assert_eq!(got, Ok(ApiReply::Pairs(pairs.clone())));
        let messages = vec![PairMessage {
            peer_pk: key(8),
            text: "hi".into(),
            ts: when,
            ..PairMessage::default()
        }];
        let got = round_trip(ApiCall::PairPoll(GoTime::default()), |_| {
            Ok(ApiReply::Messages(messages.clone()))
        });
        assert_eq!(got, Ok(ApiReply::Messages(messages)));
        for call in [
            ApiCall::PairAdd(key(1)),
            ApiCall::PairRemove(key(2)),
            ApiCall::PairMarkActive(key(3)),
        ] {
            assert_eq!(round_trip(call, |_| Ok(ApiReply::Done)), Ok(ApiReply::Done));
        }
        let send = ApiCall::PairSend(PairSendRequest {
            peer_pk: key(4),
            text: "x".into(),
        });
        assert_eq!(
            round_trip(send.clone(), |_| Ok(ApiReply::Sent(None))),
            Ok(ApiReply::Sent(None))
        );
        let id = Some("1764-0".to_string());
        assert_eq!(
            round_trip(send, |_| Ok(ApiReply::Sent(id.clone()))),
            Ok(ApiReply::Sent(id.clone()))
        );
    }

    #[test]
    fn a_visor_without_the_method_is_recognised() {
        let got = round_trip(ApiCall::PairList, |c| {
            Err(missing_method_error(&c.service_method))
        });
        let error = got.expect_err("an error");
        assert_eq!(error, "rpc: can't find method app-visor.PairList");
        assert!(is_missing_method(&error));
        assert!(!is_missing_method("pairing: manager not initialized"));
    }

    #[test]
    fn a_reply_to_another_seq_is_an_error() {
        let mut client = ApiClient::new();
        let mut server = ApiServer::new();
        server.push(&client.call(&ApiCall::PairList).expect("encode"));
        let mut incoming = server.poll().expect("read").expect("a call");
        incoming.seq += 5;
        client.push(&server.reply(&incoming, &Ok(ApiReply::Pairs(Vec::new()))));
        assert_eq!(client.poll(), Err(ProtocolError::UnknownSeq { seq: 5 }));
    }

    #[test]
    fn a_second_call_waits_for_the_first_answer() {
        let mut client = ApiClient::new();
        client.call(&ApiCall::PairList).expect("first");
        assert!(client.call(&ApiCall::PairList).is_err());
    }
}
