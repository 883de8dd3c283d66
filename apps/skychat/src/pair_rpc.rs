//! Pair-RPC: the connection from the /pair routes to the visor's own RPC (`--pair-enable`,
//! `--pair-rpc`, default `localhost:3435`, the visor's `cli_addr`).
//!
//! One TCP connection, opened on the first request (within [`DIAL_TIMEOUT`]) and kept for the
//! next ones; one call at a time on it, answered within [`CALL_TIMEOUT`]. The bytes are the
//! visor crate's sans-IO [`ApiClient`]'s: Go `net/rpc` over gob, no Hello, service
//! `app-visor`. A connection that fails (cannot connect, closed, silent, unreadable) is dropped
//! and the next request dials again; a call that fails at once on a connection kept from an
//! earlier request (the visor restarted meanwhile) is sent once more on a fresh one.
//! Each failure says which it was ([`PairRpcError`]), so that the routes can answer 503 with
//! the reason.

mod gotime;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use skychat_visor::visor_api::{self, ApiCall, ApiClient, ApiReply};

pub use gotime::{format_rfc3339, parse_rfc3339};

/// The visor RPC address when `--pair-rpc` is not given (the visor's default `cli_addr`).
pub const DEFAULT_ADDR: &str = "localhost:3435";

/// How long connecting to the visor may take.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one call may wait for the visor's answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call got no answer from the visor's pair-RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairRpcError {
    /// Nothing answers at the address, or the connection broke or went silent.
    Unreachable(String),
    /// The visor answered that it has no such method: a visor without pair-RPC (the 2024
    /// visors have none).
    NoPairRpc(String),
    /// The visor ran the call and it failed; its error text.
    Visor(String),
    /// The visor's answer was not a reply this client can read.
    Protocol(String),
}

impl fmt::Display for PairRpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(e) | Self::Protocol(e) => f.write_str(e),
            Self::NoPairRpc(e) | Self::Visor(e) => write!(f, "the visor answered: {e}"),
        }
    }
}

/// The /pair routes' handle on the visor's RPC; clones share the connection.
#[derive(Clone)]
pub struct PairRpc(Arc<Inner>);

struct Inner {
    addr: String,
    conn: smol::lock::Mutex<Option<Connection>>,
}

struct Connection {
    stream: smol::net::TcpStream,
    client: ApiClient,
}

impl fmt::Debug for PairRpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PairRpc({})", self.0.addr)
    }
}

/// The pair-RPC the node flags ask for: `None` without `--pair-enable`, and in standalone mode
/// (which has no visor; a warning says the flag is ignored). A `--pair-rpc` that is not
/// `host:port` is an error naming the flag.
pub fn from_flags(
    standalone: bool,
    enable: bool,
    addr: Option<&str>,
) -> Result<Option<PairRpc>, String> {
    let addr = addr.map(check_addr).transpose()?;
    if !enable {
        if addr.is_some() {
            log::warn!("--pair-rpc has no effect without --pair-enable");
        }
        return Ok(None);
    }
    if standalone {
        log::warn!(
            "--pair-enable has no effect with --standalone: there is no visor, so the /pair \
             routes answer 503"
        );
        return Ok(None);
    }
    let addr = addr.unwrap_or_else(|| DEFAULT_ADDR.to_string());
    log::info!("pair-RPC: the /pair routes call the visor's RPC at {addr}");
    Ok(Some(PairRpc::new(addr)))
}

/// Checks a `--pair-rpc` value: `host:port` (a name, an IPv4 address or a bracketed IPv6
/// address), or `:port` for localhost.
fn check_addr(text: &str) -> Result<String, String> {
    let bad = |why: &str| {
        format!(
            "--pair-rpc {text:?}: {why}; give the visor's RPC address as host:port, such as {DEFAULT_ADDR}"
        )
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(bad("the port is not a number from 1 to 65535")),
    }
    if host.is_empty() {
        return Ok(format!("localhost:{port}"));
    }
    if host.contains(char::is_whitespace) || (host.contains(':') && !host.starts_with('[')) {
        return Err(bad("not a host name or address"));
    }
    Ok(text.to_string())
}

impl PairRpc {
    /// A handle for the visor RPC at `addr` (`host:port`); nothing is dialled yet.
    pub fn new(addr: impl Into<String>) -> Self {
        Self(Arc::new(Inner {
            addr: addr.into(),
            conn: smol::lock::Mutex::new(None),
        }))
    }

    /// The visor RPC address.
    pub fn addr(&self) -> &str {
        &self.0.addr
    }

    /// Runs `call` on the visor and returns its reply.
    pub async fn call(&self, call: &ApiCall) -> Result<ApiReply, PairRpcError> {
        let mut slot = self.0.conn.lock().await;
        let reused = slot.is_some();
        let mut conn = match slot.take() {
            Some(conn) => conn,
            None => self.dial().await?,
        };
        let mut outcome = exchange(&mut conn, call).await;
        if reused && matches!(outcome, Err(Broke::Stale(_))) {
            conn = self.dial().await?;
            outcome = exchange(&mut conn, call).await;
        }
        match outcome {
            Ok(Ok(reply)) => {
                *slot = Some(conn);
                Ok(reply)
            }
            Ok(Err(text)) => {
                *slot = Some(conn);
                Err(if visor_api::is_missing_method(&text) {
                    PairRpcError::NoPairRpc(text)
                } else {
                    PairRpcError::Visor(text)
                })
            }
            Err(broke) => Err(broke.into_error(&self.0.addr, call)),
        }
    }

    async fn dial(&self) -> Result<Connection, PairRpcError> {
        let addr = &self.0.addr;
        let unreachable = |e: String| {
            PairRpcError::Unreachable(format!("cannot connect to the visor's RPC at {addr}: {e}"))
        };
        let connect = async {
            let mut last = None;
            for target in smol::net::resolve(addr.as_str()).await? {
                match smol::net::TcpStream::connect(target).await {
                    Ok(stream) => return Ok(stream),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| std::io::Error::other("the name has no address")))
        };
        let stream = within(DIAL_TIMEOUT, connect)
            .await
            .ok_or_else(|| unreachable(format!("no answer within {}s", DIAL_TIMEOUT.as_secs())))?
            .map_err(|e| unreachable(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream,
            client: ApiClient::new(),
        })
    }
}

/// How an exchange broke (the connection is then dropped).
enum Broke {
    /// It failed before any byte of an answer came back: the visor may have closed a kept
    /// connection.
    Stale(std::io::Error),
    /// It failed after part of an answer, or the answer did not come in time.
    Lost(String),
    /// The answer could not be read.
    Unreadable(String),
}

impl Broke {
    fn into_error(self, addr: &str, call: &ApiCall) -> PairRpcError {
        let method = call.name();
        match self {
            Self::Stale(e) => PairRpcError::Unreachable(format!(
                "the visor's RPC at {addr} closed the connection during {method}: {e}"
            )),
            Self::Lost(e) => PairRpcError::Unreachable(format!(
                "the visor's RPC at {addr} did not answer {method}: {e}"
            )),
            Self::Unreadable(e) => PairRpcError::Protocol(format!(
                "the visor's RPC at {addr} answered {method} with bytes this node cannot read: {e}"
            )),
        }
    }
}

/// One call and its answer on `conn`: the reply or the visor's error text.
async fn exchange(
    conn: &mut Connection,
    call: &ApiCall,
) -> Result<Result<ApiReply, String>, Broke> {
    let bytes = conn
        .client
        .call(call)
        .map_err(|e| Broke::Unreadable(e.to_string()))?;
    let answer = async {
        conn.stream.write_all(&bytes).await.map_err(Broke::Stale)?;
        let mut buf = vec![0u8; 16 * 1024];
        let mut got_any = false;
        loop {
            let n = conn.stream.read(&mut buf).await.map_err(|e| {
                if got_any {
                    Broke::Lost(e.to_string())
                } else {
                    Broke::Stale(e)
                }
            })?;
            if n == 0 {
                let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
                return Err(if got_any {
                    Broke::Lost(eof.to_string())
                } else {
                    Broke::Stale(eof)
                });
            }
            got_any = true;
            conn.client.push(&buf[..n]);
            if let Some(result) = conn
                .client
                .poll()
                .map_err(|e| Broke::Unreadable(e.to_string()))?
            {
                return Ok(result);
            }
        }
    };
    within(CALL_TIMEOUT, answer).await.unwrap_or_else(|| {
        Err(Broke::Lost(format!(
            "no answer within {}s",
            CALL_TIMEOUT.as_secs()
        )))
    })
}

/// `future`'s output, or `None` if it takes longer than `limit`.
async fn within<T>(limit: Duration, future: impl std::future::Future<Output = T>) -> Option<T> {
    futures_lite::future::or(async { Some(future.await) }, async {
        smol::Timer::after(limit).await;
        None
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked() {
        assert_eq!(check_addr("localhost:3435"), Ok("localhost:3435".into()));
        assert_eq!(check_addr(":3435"), Ok("localhost:3435".into()));
        assert_eq!(check_addr("[::1]:3435"), Ok("[::1]:3435".into()));
        for bad in [
            "localhost",
            "localhost:0",
            "host:99999",
            "::1:3435",
            "a b:1",
        ] {
            let e = check_addr(bad).expect_err(bad);
            assert!(e.starts_with("--pair-rpc"), "{e}");
        }
    }

    #[test]
    fn the_flags_choose_the_mode() {
        assert!(from_flags(false, false, None).expect("ok").is_none());
        assert!(from_flags(true, true, None).expect("ok").is_none());
        let rpc = from_flags(false, true, None).expect("ok").expect("enabled");
        assert_eq!(rpc.addr(), DEFAULT_ADDR);
        let rpc = from_flags(false, true, Some("127.0.0.1:13435")).expect("ok");
        assert_eq!(rpc.expect("enabled").addr(), "127.0.0.1:13435");
        assert!(from_flags(false, true, Some("nope")).is_err());
    }

    #[test]
    fn nothing_listening_is_unreachable() {
        // A port that was just free: bind, note it, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let rpc = PairRpc::new(format!("127.0.0.1:{port}"));
        let got = smol::block_on(rpc.call(&ApiCall::PairList));
        assert!(
            matches!(&got, Err(PairRpcError::Unreachable(e)) if e.contains("cannot connect")),
            "{got:?}"
        );
    }
}
