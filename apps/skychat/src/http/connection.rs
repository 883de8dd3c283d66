//! One HTTP connection, with the limits that keep a client from holding it forever: a cap on
//! concurrent connections (over it, an immediate 503 and close), an idle keep-alive deadline
//! (which is also the deadline for a request's head), a deadline for the whole request including
//! its body, a 400 with a JSON body for a request that does not parse, and a close after any
//! response that says `Connection: close` (every 401 does) without reading the rest of the body.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, FutureExt};
use smol::Timer;
use smol::net::TcpStream;
use tide::http::headers::CONNECTION;

/// How long a connection may wait for the head of its next request (the first one included)
/// before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one request, head and body, may take to arrive, counted from when the server starts
/// waiting for it. A body still arriving then is cut off and the connection closed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connection that is being closed with unread input is drained first, so that the
/// client reads the answer instead of a reset.
const LINGER: Duration = Duration::from_secs(1);

/// The same for a connection refused over the cap: shorter, so that the places for refusals
/// free quickly during a flood (a real client has sent its request by then).
const LINGER_OVER_CAP: Duration = Duration::from_millis(250);

/// The most connections answered with a 503 at the same time; beyond it they are closed at once.
const MAX_REFUSING: usize = 32;

/// The cap on concurrent connections: a quarter of the open-file limit, between 16 and 1,024.
pub fn connection_cap(nofile: Option<u64>) -> usize {
    nofile.map_or(1024, |n| (n / 4).clamp(16, 1024) as usize)
}

/// Counts open connections against the cap.
#[derive(Clone, Debug)]
pub struct Gate {
    cap: usize,
    open: Arc<AtomicUsize>,
    refusing: Arc<AtomicUsize>,
}

/// One admitted connection; frees its place when dropped.
pub struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What to do with a newly accepted connection.
pub enum Admission {
    /// Serve it.
    Serve(Admitted),
    /// Answer 503 and close it.
    Refuse(Admitted),
    /// Close it at once: too many are being refused already.
    Drop,
}

impl Gate {
    /// A gate admitting at most `cap` connections at once.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            open: Arc::new(AtomicUsize::new(0)),
            refusing: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Admits a connection if there is room.
    pub fn admit(&self) -> Admission {
        if take_place(&self.open, self.cap) {
            Admission::Serve(Admitted(self.open.clone()))
        } else if take_place(&self.refusing, MAX_REFUSING) {
            Admission::Refuse(Admitted(self.refusing.clone()))
        } else {
            Admission::Drop
        }
    }
}

fn take_place(count: &AtomicUsize, cap: usize) -> bool {
    count
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < cap).then_some(n + 1)
        })
        .is_ok()
}

/// Serves requests on `stream` until the client closes it or a limit ends it.
pub async fn serve<State: Clone + Send + Sync + 'static>(
    stream: TcpStream,
    app: tide::Server<State>,
) {
    let conn = Conn::new(stream);
    loop {
        conn.set_read_deadline(Instant::now() + REQUEST_TIMEOUT);
        let head = async_h1::server::decode(conn.clone())
            .or(async {
                Timer::after(IDLE_TIMEOUT).await;
                Ok(None)
            })
            .await;
        let (request, mut body) = match head {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return,
            Err(e) if e.downcast_ref::<io::Error>().is_some() => {
                log::debug!("http connection ended: {e}");
                return;
            }
            Err(e) => {
                let status = if e.status().is_client_error() {
                    e.status() as u16
                } else {
                    400
                };
                let reason = format!("malformed HTTP request: {e}");
                refuse(conn, status, &reason, &[], LINGER).await;
                return;
            }
        };
        let close_asked = request
            .header(CONNECTION)
            .is_some_and(|c| c.as_str().eq_ignore_ascii_case("close"));
        let method = request.method();
        let response: tide::http::Response = match app.respond(request).await {
            Ok(response) => response,
            Err(e) => {
                log::debug!("http handler failed: {e}");
                return;
            }
        };
        let close = close_asked
            || response
                .header(CONNECTION)
                .is_some_and(|c| c.as_str().eq_ignore_ascii_case("close"));
        let mut encoder = async_h1::server::Encoder::new(response, method);
        let mut writer = conn.clone();
        if futures_lite::io::copy(&mut encoder, &mut writer)
            .await
            .is_err()
        {
            return;
        }
        if close {
            linger_close(conn, LINGER).await;
            return;
        }
        // Whatever of the body the handler left unread is skipped, within the request deadline.
        if futures_lite::io::copy(&mut body, &mut futures_lite::io::sink())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Answers a connection over the cap with a 503 and closes it.
pub async fn refuse_over_cap(stream: TcpStream, cap: usize) {
    let reason =
        format!("too many HTTP connections: this node serves at most {cap} at once; retry shortly");
    let retry = [("Retry-After", "1")];
    refuse(Conn::new(stream), 503, &reason, &retry, LINGER_OVER_CAP).await;
}

/// Writes a JSON error answer with `Connection: close`, then closes the connection.
async fn refuse(conn: Conn, status: u16, reason: &str, extra: &[(&str, &str)], linger: Duration) {
    let body = serde_json::json!({ "error": reason }).to_string();
    let phrase = tide::StatusCode::try_from(status)
        .map(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut head = format!(
        "HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n",
        body.len()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(&body);
    let mut writer = conn.clone();
    let written = writer
        .write_all(head.as_bytes())
        .or(async {
            Timer::after(linger).await;
            Err(io::Error::from(io::ErrorKind::TimedOut))
        })
        .await;
    if written.is_ok() {
        linger_close(conn, linger).await;
    }
}

/// Half-closes the connection, then reads and drops what the client still sends for a moment
/// (a close with unread input would reset the connection, and the client could lose the
/// answer), then closes it.
async fn linger_close(conn: Conn, linger: Duration) {
    let _ = conn.stream.shutdown(std::net::Shutdown::Write);
    conn.set_read_deadline(Instant::now() + linger);
    let mut reader = conn;
    let mut sink = [0u8; 4096];
    while let Ok(n) = reader.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}

/// The stream with a read deadline shared by its clones: once the deadline passes, reads fail
/// with `TimedOut`, including a read already waiting.
#[derive(Clone)]
struct Conn {
    stream: TcpStream,
    deadline: Arc<Mutex<Deadline>>,
}

struct Deadline {
    at: Instant,
    timer: Option<Timer>,
}

impl Conn {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            deadline: Arc::new(Mutex::new(Deadline {
                at: Instant::now() + REQUEST_TIMEOUT,
                timer: None,
            })),
        }
    }

    fn set_read_deadline(&self, at: Instant) {
        let mut deadline = self.deadline.lock().unwrap_or_else(|e| e.into_inner());
        deadline.at = at;
        deadline.timer = None;
    }
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the request did not arrive within its deadline",
    )
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        {
            let mut deadline = this.deadline.lock().unwrap_or_else(|e| e.into_inner());
            let at = deadline.at;
            if Instant::now() >= at {
                return Poll::Ready(Err(timed_out()));
            }
            let timer = deadline.timer.get_or_insert_with(|| Timer::at(at));
            if Pin::new(timer).poll(cx).is_ready() {
                return Poll::Ready(Err(timed_out()));
            }
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_a_quarter_of_the_fd_limit_within_bounds() {
        assert_eq!(connection_cap(Some(512)), 128);
        assert_eq!(connection_cap(Some(20)), 16);
        assert_eq!(connection_cap(Some(1 << 20)), 1024);
        assert_eq!(connection_cap(None), 1024);
    }

    #[test]
    fn the_gate_serves_up_to_the_cap_then_refuses_then_drops() {
        let gate = Gate::new(2);
        let served: Vec<_> = (0..2).map(|_| gate.admit()).collect();
        assert!(served.iter().all(|a| matches!(a, Admission::Serve(_))));
        let refused: Vec<_> = (0..MAX_REFUSING).map(|_| gate.admit()).collect();
        assert!(refused.iter().all(|a| matches!(a, Admission::Refuse(_))));
        assert!(matches!(gate.admit(), Admission::Drop));
        drop(served);
        assert!(matches!(gate.admit(), Admission::Serve(_)));
    }
}
