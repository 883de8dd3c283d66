//! One connection's two tasks: the reader feeds received bytes to the run loop through a small
//! reused buffer, and the writer gathers every queued transmit into one write.

use std::time::Duration;

use async_channel::Receiver;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use skychat_core::ConnId;

use crate::runtime::{Runtime, timeout};
use crate::tasks::{Input, TaskContext, Write};

/// Read buffer per connection. It lives in the reader task, so an idle connection costs this
/// much plus the task; received bytes are copied out at their exact size.
pub(crate) const READ_BUFFER: usize = 4096;

/// How long the final flush before closing may take.
const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// Reads until end of stream or error, then reports the connection closed.
pub(crate) async fn read_loop<R: Runtime>(
    ctx: TaskContext<R>,
    conn: ConnId,
    mut stream: R::TcpStream,
) {
    let mut buffer = [0u8; READ_BUFFER];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if ctx
                    .input
                    .send(Input::Received(conn, buffer[..n].to_vec()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
    let _ = ctx.input.send(Input::SocketClosed(conn)).await;
}

/// Writes what the run loop queues, several transmits per write when they queue up. A write
/// that makes no progress for `stall_limit` (the peer stopped reading) fails the connection.
/// After [`Write::Close`], or when the run loop drops the queue, closes the socket.
pub(crate) async fn write_loop<R: Runtime>(
    ctx: TaskContext<R>,
    conn: ConnId,
    mut stream: R::TcpStream,
    queue: Receiver<Write>,
    stall_limit: Duration,
) {
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
        let written = timeout(&*ctx.runtime, limit, async {
            stream.write_all(&buffer).await?;
            stream.flush().await
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
