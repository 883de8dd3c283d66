//! The calls of the visor's `RPCIngressGateway` service and their argument and reply types,
//! with the Go field names gob matches on.

use gobwire::{
    Decode, Describer, Encode, GoTime, Gob, GobType, MarshalKind, TypeTable, ValueDecoder,
    ValueEncoder, WireType,
};

/// A 33-byte compressed secp256k1 public key. Go's `cipher.PubKey` is a `BinaryMarshaler`, so
/// gob carries it as a byte string under a marshaler type definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PubKey(pub [u8; 33]);

impl Default for PubKey {
    fn default() -> Self {
        Self([0; 33])
    }
}

impl PubKey {
    /// The key as 66 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl GobType for PubKey {
    fn describe(d: &mut Describer<'_>) -> gobwire::Result<i64> {
        Ok(d.marshaler("skychat_visor::PubKey", "PubKey", MarshalKind::Binary))
    }

    fn compatible(types: &TypeTable, wire: i64) -> bool {
        matches!(
            types.get(wire).map(|t| &**t),
            Some(WireType::Marshaler {
                kind: MarshalKind::Binary,
                ..
            })
        )
    }
}

impl Encode for PubKey {
    fn describe_value(&self, d: &mut Describer<'_>) -> gobwire::Result<i64> {
        Self::describe(d)
    }

    /// Go omits a struct field whose array is all zeros: the null key.
    fn is_zero(&self) -> bool {
        self.0 == [0; 33]
    }

    fn encode(&self, e: &mut ValueEncoder<'_>) -> gobwire::Result<()> {
        e.bytes(&self.0);
        Ok(())
    }
}

impl Decode for PubKey {
    fn decode_into(&mut self, d: &mut ValueDecoder<'_>, wire: i64) -> gobwire::Result<()> {
        if !Self::compatible(d.types(), wire) {
            return Err(d.mismatch::<Self>(wire));
        }
        let bytes = d.read_bytes()?;
        // `cipher.PubKey.UnmarshalBinary` reads an empty slice as the null key.
        self.0 = if bytes.is_empty() {
            [0; 33]
        } else {
            bytes.try_into().map_err(|_| {
                gobwire::Error::Corrupt(format!("a public key of {} bytes, not 33", bytes.len()))
            })?
        };
        Ok(())
    }
}

/// `appnet.Addr`: a network (`skynet` or `dmsg`), a visor's key and a routing port.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
pub struct Addr {
    #[gob(name = "Net")]
    pub net: String,
    #[gob(name = "PubKey")]
    pub pub_key: PubKey,
    #[gob(name = "Port")]
    pub port: u32,
}

/// The reply to `Accept`: the dialing peer and the new connection's id.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptResp {
    #[gob(name = "Remote")]
    pub remote: Addr,
    #[gob(name = "ConnID")]
    pub conn_id: u16,
}

/// The reply to `Dial`: the new connection's id and the local port the visor gave it.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
pub struct DialResp {
    #[gob(name = "ConnID")]
    pub conn_id: u16,
    #[gob(name = "LocalPort")]
    pub local_port: u32,
}

/// The argument of `Write`: one chunk of bytes for a connection.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReq {
    #[gob(name = "ConnID")]
    pub conn_id: u16,
    #[gob(name = "B")]
    pub b: Vec<u8>,
}

/// An I/O error on a visor connection, carried inside `WriteResp` and `ReadResp`.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
#[gob(name = "RPCIOErr")]
pub struct RpcIoErr {
    #[gob(name = "Text")]
    pub text: String,
    #[gob(name = "IsNetErr")]
    pub is_net_err: bool,
    #[gob(name = "IsTimeoutErr")]
    pub is_timeout_err: bool,
    #[gob(name = "IsTemporaryErr")]
    pub is_temporary_err: bool,
}

/// The reply to `Write`: how many bytes were written, or the connection's error.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteResp {
    #[gob(name = "N")]
    pub n: i64,
    #[gob(name = "Err")]
    pub err: Option<RpcIoErr>,
}

/// The argument of `Read`: a connection and the most bytes to return.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReq {
    #[gob(name = "ConnID")]
    pub conn_id: u16,
    #[gob(name = "BufLen")]
    pub buf_len: i64,
}

/// The reply to `Read`: the bytes read (one peer message), or the connection's error.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadResp {
    #[gob(name = "B")]
    pub b: Vec<u8>,
    #[gob(name = "N")]
    pub n: i64,
    #[gob(name = "Err")]
    pub err: Option<RpcIoErr>,
}

/// The argument of the three deadline calls: a connection and a Go `time.Time`.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadlineReq {
    #[gob(name = "ConnID")]
    pub conn_id: u16,
    #[gob(name = "Deadline")]
    pub deadline: GoTime,
}

/// Go's `struct{}`: the reply of the calls that return nothing.
#[derive(Gob, Debug, Clone, Default, PartialEq, Eq)]
#[gob(name = "")]
pub struct Empty {}

/// A method of the visor's `RPCIngressGateway`, which fixes the reply's type (see [`Call`]
/// for what each does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Listen,
    Accept,
    Dial,
    Read,
    Write,
    CloseConn,
    CloseListener,
    SetDeadline,
    SetReadDeadline,
    SetWriteDeadline,
    SetDetailedStatus,
    SetError,
    SetAppPort,
    SetConnectionDuration,
}

impl Method {
    /// Every method, in the order of the reference table.
    pub const ALL: [Method; 14] = [
        Self::Listen,
        Self::Accept,
        Self::Dial,
        Self::Read,
        Self::Write,
        Self::CloseConn,
        Self::CloseListener,
        Self::SetDeadline,
        Self::SetReadDeadline,
        Self::SetWriteDeadline,
        Self::SetDetailedStatus,
        Self::SetError,
        Self::SetAppPort,
        Self::SetConnectionDuration,
    ];

    /// The method of a Go method name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The Go method name, after `"<proc key>."` in `ServiceMethod`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Listen => "Listen",
            Self::Accept => "Accept",
            Self::Dial => "Dial",
            Self::Read => "Read",
            Self::Write => "Write",
            Self::CloseConn => "CloseConn",
            Self::CloseListener => "CloseListener",
            Self::SetDeadline => "SetDeadline",
            Self::SetReadDeadline => "SetReadDeadline",
            Self::SetWriteDeadline => "SetWriteDeadline",
            Self::SetDetailedStatus => "SetDetailedStatus",
            Self::SetError => "SetError",
            Self::SetAppPort => "SetAppPort",
            Self::SetConnectionDuration => "SetConnectionDuration",
        }
    }
}

/// One call with its argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// Listen on a local address (the visor's own key); replies a listener id.
    Listen(Addr),
    /// Wait for a peer on a listener id; blocks in the visor.
    Accept(u16),
    /// Open a connection to a remote address.
    Dial(Addr),
    /// Read from a connection; blocks in the visor.
    Read(ReadReq),
    /// Write to a connection.
    Write(WriteReq),
    /// Close a connection id.
    CloseConn(u16),
    /// Close a listener id.
    CloseListener(u16),
    /// Set a connection's read and write deadline.
    SetDeadline(DeadlineReq),
    /// Set a connection's read deadline.
    SetReadDeadline(DeadlineReq),
    /// Set a connection's write deadline.
    SetWriteDeadline(DeadlineReq),
    /// The status the visor shows for the app (`Running`, `Stopped`, …).
    SetDetailedStatus(String),
    /// An error the visor shows for the app.
    SetError(String),
    /// The app's routing port.
    SetAppPort(u32),
    /// Used by the VPN client only; here for completeness.
    SetConnectionDuration(i64),
}

impl Call {
    /// Which method this is.
    pub fn method(&self) -> Method {
        match self {
            Self::Listen(_) => Method::Listen,
            Self::Accept(_) => Method::Accept,
            Self::Dial(_) => Method::Dial,
            Self::Read(_) => Method::Read,
            Self::Write(_) => Method::Write,
            Self::CloseConn(_) => Method::CloseConn,
            Self::CloseListener(_) => Method::CloseListener,
            Self::SetDeadline(_) => Method::SetDeadline,
            Self::SetReadDeadline(_) => Method::SetReadDeadline,
            Self::SetWriteDeadline(_) => Method::SetWriteDeadline,
            Self::SetDetailedStatus(_) => Method::SetDetailedStatus,
            Self::SetError(_) => Method::SetError,
            Self::SetAppPort(_) => Method::SetAppPort,
            Self::SetConnectionDuration(_) => Method::SetConnectionDuration,
        }
    }

    /// Encode the argument as the next value of `encoder`'s stream.
    pub(crate) fn encode_arg(
        &self,
        encoder: &mut gobwire::Encoder,
        out: &mut Vec<u8>,
    ) -> gobwire::Result<()> {
        match self {
            Self::Listen(a) | Self::Dial(a) => encoder.encode_into(a, out),
            Self::Accept(id) | Self::CloseConn(id) | Self::CloseListener(id) => {
                encoder.encode_into(id, out)
            }
            Self::Read(r) => encoder.encode_into(r, out),
            Self::Write(w) => encoder.encode_into(w, out),
            Self::SetDeadline(d) | Self::SetReadDeadline(d) | Self::SetWriteDeadline(d) => {
                encoder.encode_into(d, out)
            }
            Self::SetDetailedStatus(s) | Self::SetError(s) => encoder.encode_into(s, out),
            Self::SetAppPort(p) => encoder.encode_into(p, out),
            Self::SetConnectionDuration(d) => encoder.encode_into(d, out),
        }
    }
}

impl Call {
    /// Decode the buffered argument of a `method` call from `decoder` (the server's side).
    pub(crate) fn decode(method: Method, decoder: &mut gobwire::Decoder) -> gobwire::Result<Self> {
        Ok(match method {
            Method::Listen => Self::Listen(decoder.decode()?),
            Method::Accept => Self::Accept(decoder.decode()?),
            Method::Dial => Self::Dial(decoder.decode()?),
            Method::Read => Self::Read(decoder.decode()?),
            Method::Write => Self::Write(decoder.decode()?),
            Method::CloseConn => Self::CloseConn(decoder.decode()?),
            Method::CloseListener => Self::CloseListener(decoder.decode()?),
            Method::SetDeadline => Self::SetDeadline(decoder.decode()?),
            Method::SetReadDeadline => Self::SetReadDeadline(decoder.decode()?),
            Method::SetWriteDeadline => Self::SetWriteDeadline(decoder.decode()?),
            Method::SetDetailedStatus => Self::SetDetailedStatus(decoder.decode()?),
            Method::SetError => Self::SetError(decoder.decode()?),
            Method::SetAppPort => Self::SetAppPort(decoder.decode()?),
            Method::SetConnectionDuration => Self::SetConnectionDuration(decoder.decode()?),
        })
    }
}

/// A successful reply, typed by the method it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `Listen`: the listener id.
    Listener(u16),
    /// `Accept`.
    Accepted(AcceptResp),
    /// `Dial`.
    Dialed(DialResp),
    /// `Read`.
    Read(ReadResp),
    /// `Write`.
    Written(WriteResp),
    /// Every other call: `struct{}`.
    Done,
}

impl Reply {
    /// Decode the buffered reply value of `method` from `decoder`.
    pub(crate) fn decode(method: Method, decoder: &mut gobwire::Decoder) -> gobwire::Result<Self> {
        Ok(match method {
            Method::Listen => Self::Listener(decoder.decode()?),
            Method::Accept => Self::Accepted(decoder.decode()?),
            Method::Dial => Self::Dialed(decoder.decode()?),
            Method::Read => Self::Read(decoder.decode()?),
            Method::Write => Self::Written(decoder.decode()?),
            _ => {
                decoder.decode::<Empty>()?;
                Self::Done
            }
        })
    }

    /// Encode the reply value as the next value of `encoder`'s stream (the server's side).
    pub(crate) fn encode(
        &self,
        encoder: &mut gobwire::Encoder,
        out: &mut Vec<u8>,
    ) -> gobwire::Result<()> {
        match self {
            Self::Listener(id) => encoder.encode_into(id, out),
            Self::Accepted(a) => encoder.encode_into(a, out),
            Self::Dialed(d) => encoder.encode_into(d, out),
            Self::Read(r) => encoder.encode_into(r, out),
            Self::Written(w) => encoder.encode_into(w, out),
            Self::Done => encoder.encode_into(&Empty {}, out),
        }
    }
}
