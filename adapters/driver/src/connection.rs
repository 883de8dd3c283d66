//! One connection's two tasks: the reader feeds received bytes to the run loop, and the writer
//! gathers every queued transmit into one write.
//!
//! An idle connection holds no read buffer: the reader reads into a per-thread buffer only
//! while polling and copies out what arrived, so a waiting read owns nothing.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_channel::Receiver;
use futures_lite::{AsyncRead, AsyncWriteExt};
use skychat_core::ConnId;

use crate::runtime::{Runtime, timeout};
use crate::tasks::{Input, TaskContext, Write};

/// Size of the per-thread read buffer; one read takes at most this much.
pub(crate) const READ_BUFFER: usize = 4096;

thread_local! {
    static BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_BUFFER].into_boxed_slice());
}

/// Polls one read through the thread's buffer and returns the bytes read (empty at end of
/// stream). A pending read keeps nothing, since a reader that returns `Pending` has consumed
/// no data.
fn poll_read_owned<S: AsyncRead + Unpin>(
    stream: &mut S,
    cx: &mut Context<'_>,
) -> Poll<io::Result<Vec<u8>>> {
    BUFFER.with_borrow_mut(|buffer| {
        Pin::new(stream)
            .poll_read(cx, buffer)
            .map_ok(|n| buffer[..n].to_vec())
    })
}

/// Whatever `stream` has already received, without waiting: `None` if nothing is there yet (or
/// at end of stream, which the reader then sees). The run loop calls it on a connection it has
/// just accepted, so that a real initiator's message 1, which is usually there by then, reaches
/// the node at once, before newer connections can crowd it out of the pending handshakes.
pub(crate) fn read_ready<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Vec<u8>> {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match poll_read_owned(stream, &mut cx) {
        Poll::Ready(Ok(bytes)) if !bytes.is_empty() => Some(bytes),
        _ => None,
    }
}

/// How long the final flush before closing may take.
const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// Reads until end of stream or error, then reports the connection closed.
pub(crate) async fn read_loop<R: Runtime>(
    ctx: TaskContext<R>,
    conn: ConnId,
    mut stream: R::TcpStream,
) {
    loop {
        let read = std::future::poll_fn(|cx| poll_read_owned(&mut stream, cx)).await;
        match read {
            Ok(bytes) if !bytes.is_empty() => {
                if ctx.input.send(Input::Received(conn, bytes)).await.is_err() {
                    return;
                }
            }
            _ => break,
        }
    }
    let _ = ctx.input.send(Input::SocketClosed(conn)).await;
}

/// Writes what the run loop queues, several transmits per write when they queue up. A write
/// that makes no progress for `stall_limit` (the peer stopped reading) fails the connection.
/// After [`Write::Close`], or when the run loop drops the queue, closes the socket. Once the
/// node stops, writing (the close frame included) may go on for [`CLOSE_FLUSH_LIMIT`] more at
/// most, so that a peer that stopped reading cannot hold up shutdown for `stall_limit`.
pub(crate) async fn write_loop<R: Runtime>(
    ctx: TaskContext<R>,
    conn: ConnId,
    mut stream: R::TcpStream,
    queue: Receiver<Write>,
    stall_limit: Duration,
) {
    let mut flush_time_left = std::pin::pin!(async {
        let _ = ctx.stop.recv().await;
        ctx.runtime
            .sleep_until(Instant::now() + CLOSE_FLUSH_LIMIT)
            .await;
    });
    let mut closing = false;
    while !closing {
        let Ok(first) = queue.recv().await else {
            break;
        };
        let mut chunks = Vec::new();
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Write::Data(data) => chunks.push(data),
                Write::Close => {
                    closing = true;
                    break;
                }
            }
            next = queue.try_recv().ok();
        }
        if chunks.is_empty() {
            continue;
        }
        let buffer = if chunks.len() == 1 {
            chunks.pop().expect("one chunk")
        } else {
            chunks.concat().into()
        };
        let limit = if closing {
            CLOSE_FLUSH_LIMIT.min(stall_limit)
        } else {
            stall_limit
        };
        let write = timeout(&*ctx.runtime, limit, async {
            stream.write_all(&buffer).await?;
            stream.flush().await
        });
        // Completes at most once: the loop ends when it does.
        let written = futures_lite::future::or(write, async {
            flush_time_left.as_mut().await;
            None
        })
        .await;
        if !matches!(written, Some(Ok(()))) {
            if !closing {
                let _ = ctx.input.send(Input::SocketClosed(conn)).await;
            }
            break;
        }
    }
    R::shutdown(&stream);
}
