//! One connection's socket as the driver task holds it: the stream (a TCP socket or a mesh
//! pipe), the waker its readiness wakes, and the bytes the socket has not taken yet. Reads and writes are non-blocking polls
//! made by the driver task itself; a socket that is not ready registers its waker and the
//! driver polls it again when it wakes.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures_lite::{AsyncRead, AsyncWrite};

use crate::mesh::MeshStream;
use crate::shared::SocketWaker;

/// What a connection runs on: a TCP socket of this host, or a pipe to a connection the visor
/// relays. The driver reads and writes both the same way.
pub(crate) enum Link<T> {
    Tcp(T),
    Mesh(MeshStream),
}

impl<T: AsyncRead + Unpin> AsyncRead for Link<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Mesh(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Link<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Mesh(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Self::Mesh(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_flush(cx),
            Self::Mesh(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_close(cx),
            Self::Mesh(stream) => Pin::new(stream).poll_close(cx),
        }
    }
}

/// At most this many buffered chunks go into one vectored write.
const WRITE_SLICES: usize = 32;

/// What a read poll gave.
pub(crate) enum ReadOutcome {
    /// This many bytes, at the start of the buffer.
    Data(usize),
    /// End of stream, or the socket failed.
    Closed,
    /// Nothing yet; the socket's waker is registered.
    Pending,
}

/// What flushing the buffered bytes gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WriteOutcome {
    /// Everything buffered is written.
    Done,
    /// The socket takes no more for now; the rest waits and the socket's waker is registered.
    Blocked,
    /// The socket failed.
    Failed,
}

/// A connection's socket and its unwritten bytes.
pub(crate) struct Socket<S> {
    pub stream: S,
    waker: Arc<SocketWaker>,
    task_waker: Waker,
    unwritten: VecDeque<Bytes>,
    /// When the write side last made progress, while bytes wait: a write deadline runs from it.
    pub last_progress: Option<Duration>,
    /// When the node closed the connection: the socket is flushed, then closed.
    pub closing_since: Option<Duration>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Socket<S> {
    pub fn new(stream: S, waker: Arc<SocketWaker>) -> Self {
        Self {
            stream,
            task_waker: Waker::from(waker.clone()),
            waker,
            unwritten: VecDeque::new(),
            last_progress: None,
            closing_since: None,
        }
    }

    /// Whether bytes wait for the socket.
    pub fn has_unwritten(&self) -> bool {
        !self.unwritten.is_empty()
    }

    /// Called before polling the socket after it woke: wake-ups from now on queue it again.
    pub fn polling(&self) {
        self.waker.polling();
    }

    /// Reads once into `buffer`.
    pub fn read(&mut self, buffer: &mut [u8]) -> ReadOutcome {
        let mut cx = Context::from_waker(&self.task_waker);
        match Pin::new(&mut self.stream).poll_read(&mut cx, buffer) {
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => ReadOutcome::Closed,
            Poll::Ready(Ok(n)) => ReadOutcome::Data(n),
            Poll::Pending => ReadOutcome::Pending,
        }
    }

    /// Queues `data` behind what waits and writes as much as the socket takes now.
    pub fn send(&mut self, data: Bytes, now: Duration) -> WriteOutcome {
        if !data.is_empty() {
            self.unwritten.push_back(data);
        }
        self.flush(now)
    }

    /// Writes what waits until it is all written or the socket takes no more.
    pub fn flush(&mut self, now: Duration) -> WriteOutcome {
        let waker = self.task_waker.clone();
        let mut cx = Context::from_waker(&waker);
        while !self.unwritten.is_empty() {
            let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
            let count = self.unwritten.len().min(WRITE_SLICES);
            for (slice, chunk) in slices.iter_mut().zip(&self.unwritten) {
                *slice = IoSlice::new(chunk);
            }
            let written = Pin::new(&mut self.stream).poll_write_vectored(&mut cx, &slices[..count]);
            match written {
                Poll::Ready(Ok(0)) => return WriteOutcome::Failed,
                Poll::Ready(Ok(n)) => {
                    self.consume(n);
                    self.last_progress = Some(now);
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(_)) => return WriteOutcome::Failed,
                Poll::Pending => {
                    self.last_progress.get_or_insert(now);
                    return WriteOutcome::Blocked;
                }
            }
        }
        // Nothing waits: give the queue's memory back, an idle connection holds none.
        self.unwritten = VecDeque::new();
        self.last_progress = None;
        WriteOutcome::Done
    }

    fn consume(&mut self, mut written: usize) {
        while written > 0 {
            let Some(front) = self.unwritten.front_mut() else {
                return;
            };
            if front.len() > written {
                front.advance(written);
                return;
            }
            written -= front.len();
            self.unwritten.pop_front();
        }
    }
}
