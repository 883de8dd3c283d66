//! Connections that a host's Skywire visor relays (skynet, dmsg), as the driver sees them.
//!
//! Such a connection is not a socket of this host: the visor carries its bytes over the app
//! server's RPC. [`pipe`] makes an in-process pipe of two ends. The driver holds the
//! [`MeshStream`] like a TCP socket (it reads and writes it with the same non-blocking polls and
//! wakers); the transport that speaks to the visor holds the [`MeshPort`]: it delivers what the
//! visor read, takes what the node wrote, and learns when the node closed the connection.
//!
//! Both directions are bounded: the stream takes at most [`OUTBOUND_LIMIT`] bytes the transport
//! has not taken yet (beyond that a write is pending, and the driver's write deadline runs), and
//! [`MeshPort::has_room`] tells the transport to stop reading from the visor while
//! [`INBOUND_LIMIT`] bytes wait for the driver.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use futures_lite::{AsyncRead, AsyncWrite};
use skychat_core::{Network, PublicKey};

use crate::error::DialError;

/// Bytes the node may write ahead of the transport.
pub const OUTBOUND_LIMIT: usize = 256 * 1024;
/// Bytes delivered and not yet read by the driver beyond which the transport stops reading.
pub const INBOUND_LIMIT: usize = 256 * 1024;

/// A transport that reaches Skywire peers through a visor. The driver asks it to dial a peer
/// that has no address for TCP-direct (see [`skychat_core::NodeConfig::dial_on_demand`]).
pub trait MeshDialer: Send + Sync + 'static {
    /// Opens a connection to `peer`, on whichever network answers first (skynet, then dmsg, as
    /// the Go skychat does).
    fn dial(&self, peer: PublicKey) -> MeshDial;
}

/// What a [`MeshDialer`] gives: the network that answered and the driver's end of the pipe.
pub type MeshDial = Pin<Box<dyn Future<Output = Result<(Network, MeshStream), DialError>> + Send>>;

/// A mesh connection for the driver task.
pub(crate) enum MeshInput {
    /// The visor relayed a connection from `peer` on `network`.
    Accepted {
        peer: PublicKey,
        network: Network,
        stream: MeshStream,
    },
    /// A dial through the visor, for the core's dial request, finished.
    Dialed {
        peer: PublicKey,
        result: Result<(Network, MeshStream), DialError>,
    },
}

/// Where a visor transport hands the connections it accepts to the node
/// ([`crate::NodeHandle::attach_mesh`]). Bounded: when the node is busy, `accepted` waits.
#[derive(Clone)]
pub struct MeshInlet {
    pub(crate) inputs: async_channel::Sender<MeshInput>,
}

impl MeshInlet {
    /// Hands the node a connection the visor relayed from `peer` on `network`. Returns false
    /// (and closes the stream) if the node has shut down.
    pub async fn accepted(&self, peer: PublicKey, network: Network, stream: MeshStream) -> bool {
        let input = MeshInput::Accepted {
            peer,
            network,
            stream,
        };
        match self.inputs.send(input).await {
            Ok(()) => true,
            Err(async_channel::SendError(input)) => {
                if let MeshInput::Accepted { stream, .. } = input {
                    stream.shutdown();
                }
                false
            }
        }
    }
}

/// Makes a connected pair: the driver's end and the transport's end.
pub fn pipe() -> (MeshStream, MeshPort) {
    let shared = Arc::new(Pipe::default());
    (
        MeshStream {
            pipe: shared.clone(),
        },
        MeshPort { pipe: shared },
    )
}

#[derive(Default)]
struct Pipe {
    state: Mutex<PipeState>,
}

#[derive(Default)]
struct PipeState {
    /// Delivered by the transport, not yet read by the driver.
    inbound: VecDeque<Bytes>,
    inbound_len: usize,
    /// The transport will deliver nothing more (the remote closed, or the visor failed).
    finished: bool,
    /// Written by the driver, not yet taken by the transport.
    outbound: BytesMut,
    /// The driver closed its end: nothing more will be written.
    closed: bool,
    driver_reader: Option<Waker>,
    driver_writer: Option<Waker>,
    port: Option<Waker>,
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, PipeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn wake(waker: &mut Option<Waker>) {
    if let Some(waker) = waker.take() {
        waker.wake();
    }
}

/// The driver's end of a mesh connection: an `AsyncRead + AsyncWrite` like a socket.
#[derive(Clone)]
pub struct MeshStream {
    pipe: Arc<Pipe>,
}

impl MeshStream {
    /// Closes the connection from the driver's side: reads end, writes fail, and the transport
    /// sees [`Outbound::Closed`] once it has taken what was written before.
    pub fn shutdown(&self) {
        let mut state = self.pipe.lock();
        state.closed = true;
        wake(&mut state.port);
        wake(&mut state.driver_reader);
        wake(&mut state.driver_writer);
    }
}

impl AsyncRead for MeshStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut state = self.pipe.lock();
        if state.inbound.is_empty() {
            if state.finished || state.closed {
                return Poll::Ready(Ok(0));
            }
            state.driver_reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let had_room = state.inbound_len < INBOUND_LIMIT;
        let mut copied = 0;
        while copied < buf.len() {
            let Some(front) = state.inbound.front_mut() else {
                break;
            };
            let n = front.len().min(buf.len() - copied);
            buf[copied..copied + n].copy_from_slice(&front[..n]);
            front.advance(n);
            if front.is_empty() {
                state.inbound.pop_front();
            }
            copied += n;
        }
        state.inbound_len -= copied;
        if !had_room && state.inbound_len < INBOUND_LIMIT {
            wake(&mut state.port);
        }
        Poll::Ready(Ok(copied))
    }
}

impl AsyncWrite for MeshStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut state = self.pipe.lock();
        if state.closed || state.finished {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = OUTBOUND_LIMIT.saturating_sub(state.outbound.len());
        if room == 0 {
            state.driver_writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        state.outbound.extend_from_slice(&buf[..n]);
        wake(&mut state.port);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shutdown();
        Poll::Ready(Ok(()))
    }
}

/// What the transport takes from the pipe.
#[derive(Debug, PartialEq, Eq)]
pub enum Outbound {
    /// Bytes the node wrote, to write to the visor in order.
    Data(Bytes),
    /// The node closed the connection and everything it wrote has been taken: close it at the
    /// visor.
    Closed,
}

/// The transport's end of a mesh connection.
pub struct MeshPort {
    pipe: Arc<Pipe>,
}

impl MeshPort {
    /// Hands bytes read from the visor to the driver.
    pub fn deliver(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut state = self.pipe.lock();
        if state.closed {
            return;
        }
        state.inbound_len += bytes.len();
        state.inbound.push_back(Bytes::copy_from_slice(bytes));
        wake(&mut state.driver_reader);
    }

    /// Whether the driver has read enough of what was delivered for the transport to read more.
    /// When it returns false, `cx` is woken once it has.
    pub fn has_room(&self, cx: &mut Context<'_>) -> bool {
        let mut state = self.pipe.lock();
        if state.inbound_len < INBOUND_LIMIT {
            return true;
        }
        state.port = Some(cx.waker().clone());
        false
    }

    /// The remote end closed, or the visor failed: the driver reads what was delivered, then
    /// the end of the stream, and its writes fail.
    pub fn finish(&self) {
        let mut state = self.pipe.lock();
        state.finished = true;
        wake(&mut state.driver_reader);
        wake(&mut state.driver_writer);
    }

    /// Up to `max` bytes the node wrote, or whether it closed the connection; pending (waking
    /// `cx`) while there is neither.
    pub fn poll_outbound(&self, cx: &mut Context<'_>, max: usize) -> Poll<Outbound> {
        let mut state = self.pipe.lock();
        if !state.outbound.is_empty() {
            let n = state.outbound.len().min(max.max(1));
            let data = state.outbound.split_to(n).freeze();
            if state.outbound.is_empty() {
                state.outbound = BytesMut::new();
            }
            wake(&mut state.driver_writer);
            return Poll::Ready(Outbound::Data(data));
        }
        if state.closed {
            return Poll::Ready(Outbound::Closed);
        }
        state.port = Some(cx.waker().clone());
        Poll::Pending
    }

    /// True once the driver closed its end.
    pub fn is_closed(&self) -> bool {
        self.pipe.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn context() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker::default());
        (counter.clone(), Waker::from(counter))
    }

    #[test]
    fn bytes_cross_both_ways_and_a_reader_is_woken_by_delivery() {
        let (mut stream, port) = pipe();
        let (count, waker) = context();
        let mut cx = Context::from_waker(&waker);
        let mut buf = [0u8; 8];
        assert!(
            Pin::new(&mut stream)
                .poll_read(&mut cx, &mut buf)
                .is_pending()
        );
        port.deliver(b"hello");
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            Pin::new(&mut stream).poll_read(&mut cx, &mut buf),
            Poll::Ready(Ok(5))
        ));
        assert_eq!(&buf[..5], b"hello");
        assert!(matches!(
            Pin::new(&mut stream).poll_write(&mut cx, b"world"),
            Poll::Ready(Ok(5))
        ));
        assert_eq!(
            port.poll_outbound(&mut cx, 3),
            Poll::Ready(Outbound::Data(Bytes::from_static(b"wor")))
        );
        assert_eq!(
            port.poll_outbound(&mut cx, 64),
            Poll::Ready(Outbound::Data(Bytes::from_static(b"ld")))
        );
        assert!(port.poll_outbound(&mut cx, 64).is_pending());
    }

    #[test]
    fn a_full_pipe_holds_the_writer_until_the_transport_takes_bytes() {
        let (mut stream, port) = pipe();
        let (count, waker) = context();
        let mut cx = Context::from_waker(&waker);
        let big = vec![7u8; OUTBOUND_LIMIT + 10];
        assert!(matches!(
            Pin::new(&mut stream).poll_write(&mut cx, &big),
            Poll::Ready(Ok(n)) if n == OUTBOUND_LIMIT
        ));
        assert!(Pin::new(&mut stream).poll_write(&mut cx, &big).is_pending());
        let before = count.0.load(Ordering::SeqCst);
        assert!(port.poll_outbound(&mut cx, 1024).is_ready());
        assert!(
            count.0.load(Ordering::SeqCst) > before,
            "the writer is woken"
        );
        assert!(matches!(
            Pin::new(&mut stream).poll_write(&mut cx, &big),
            Poll::Ready(Ok(1024))
        ));
    }

    #[test]
    fn inbound_room_is_bounded_and_given_back_as_the_driver_reads() {
        let (mut stream, port) = pipe();
        let (count, waker) = context();
        let mut cx = Context::from_waker(&waker);
        port.deliver(&vec![1u8; INBOUND_LIMIT]);
        assert!(!port.has_room(&mut cx));
        let mut buf = vec![0u8; 64 * 1024];
        assert!(
            Pin::new(&mut stream)
                .poll_read(&mut cx, &mut buf)
                .is_ready()
        );
        assert!(
            count.0.load(Ordering::SeqCst) >= 1,
            "the transport is woken"
        );
        assert!(port.has_room(&mut cx));
    }

    #[test]
    fn closing_ends_both_sides_after_what_was_written() {
        let (mut stream, port) = pipe();
        let (_, waker) = context();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut stream).poll_write(&mut cx, b"bye").is_ready());
        stream.shutdown();
        assert!(matches!(
            Pin::new(&mut stream).poll_write(&mut cx, b"more"),
            Poll::Ready(Err(_))
        ));
        assert_eq!(
            port.poll_outbound(&mut cx, 64),
            Poll::Ready(Outbound::Data(Bytes::from_static(b"bye")))
        );
        assert_eq!(
            port.poll_outbound(&mut cx, 64),
            Poll::Ready(Outbound::Closed)
        );
        let mut buf = [0u8; 4];
        assert!(matches!(
            Pin::new(&mut stream).poll_read(&mut cx, &mut buf),
            Poll::Ready(Ok(0))
        ));
    }

    #[test]
    fn a_finished_transport_gives_the_driver_its_bytes_then_the_end() {
        let (mut stream, port) = pipe();
        let (_, waker) = context();
        let mut cx = Context::from_waker(&waker);
        port.deliver(b"last");
        port.finish();
        let mut buf = [0u8; 8];
        assert!(matches!(
            Pin::new(&mut stream).poll_read(&mut cx, &mut buf),
            Poll::Ready(Ok(4))
        ));
        assert!(matches!(
            Pin::new(&mut stream).poll_read(&mut cx, &mut buf),
            Poll::Ready(Ok(0))
        ));
        assert!(Pin::new(&mut stream).poll_write(&mut cx, b"x").is_ready());
    }
}
