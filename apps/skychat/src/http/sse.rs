//! Server-sent event streams. `/sse` sends the Go chat shape (one unnamed `data:` JSON line per
//! event) with an `id:` on every event; `/events` sends structured events with their sequence
//! cursor. Both resume after `Last-Event-ID`, send a `: ping` comment every 15 s, and close the
//! stream of a subscriber that falls too far behind, after telling it where to resume.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::{AsyncBufRead, AsyncRead, Stream};
use serde_json::{Value, json};

use crate::service::Service;
use crate::service::feed::{Batch, FeedEvent};

/// Keepalive comment interval.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// How far behind the head a subscriber may fall before it is disconnected to resume later.
pub const LAG_LIMIT: u64 = 8_192;

/// Which stream shape to produce.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `/sse`: the chat-line JSON itself.
    Chat,
    /// `/events`: `{seq, channel, ...}`.
    Structured,
}

/// Formats one event.
pub fn format_event(shape: Shape, event: &FeedEvent) -> String {
    let data = match shape {
        Shape::Chat => event.data.clone(),
        Shape::Structured => {
            let mut data = json!({"seq": event.seq, "channel": event.channel});
            if let (Value::Object(target), Value::Object(source)) = (&mut data, &event.data) {
                for (k, v) in source {
                    target.entry(k.clone()).or_insert(v.clone());
                }
            }
            data
        }
    };
    format!("id: {}\ndata: {}\n\n", event.seq, data)
}

/// Streams feed events after `cursor` into `out` until the client goes away or lags too far.
pub async fn pump(
    service: Service,
    shape: Shape,
    mut cursor: u64,
    channels: Option<Vec<String>>,
    out: async_channel::Sender<Vec<u8>>,
) {
    service.subscriber_delta(1);
    let _ = out.send(b": connected\n\n".to_vec()).await;
    loop {
        let feed = service.feed();
        if feed.head().saturating_sub(cursor) > LAG_LIMIT {
            let note = format!(": too slow; reconnect with Last-Event-ID: {cursor}\n\n");
            let _ = out.send(note.into_bytes()).await;
            break;
        }
        match feed.after(cursor, 256) {
            Batch::Reset {
                oldest,
                resume_after,
            } => {
                let data = json!({"channel": "system", "event": "reset", "oldest": oldest});
                let text = format!("id: {resume_after}\nevent: reset\ndata: {data}\n\n");
                if out.send(text.into_bytes()).await.is_err() {
                    break;
                }
                cursor = resume_after;
            }
            Batch::Events(events) if events.is_empty() => {
                let woke = futures_lite::future::or(
                    async {
                        feed.wait_after(cursor).await;
                        true
                    },
                    async {
                        smol::Timer::after(KEEPALIVE).await;
                        false
                    },
                )
                .await;
                if !woke && out.send(b": ping\n\n".to_vec()).await.is_err() {
                    break;
                }
            }
            Batch::Events(events) => {
                let mut chunk = String::new();
                for event in &events {
                    cursor = event.seq;
                    let wanted = channels
                        .as_ref()
                        .is_none_or(|c| c.iter().any(|c| c == event.channel || c == "all"));
                    if wanted {
                        chunk.push_str(&format_event(shape, event));
                    }
                }
                if !chunk.is_empty() && out.send(chunk.into_bytes()).await.is_err() {
                    break;
                }
            }
        }
    }
    service.subscriber_delta(-1);
}

/// An `AsyncBufRead` over chunks arriving on a channel: the body of a streaming response.
pub struct ChannelBody {
    chunks: Pin<Box<async_channel::Receiver<Vec<u8>>>>,
    current: Vec<u8>,
    pos: usize,
}

impl ChannelBody {
    /// A body that yields every chunk sent to the paired sender, and ends when it is dropped.
    pub fn new(chunks: async_channel::Receiver<Vec<u8>>) -> Self {
        Self {
            chunks: Box::pin(chunks),
            current: Vec::new(),
            pos: 0,
        }
    }
}

impl AsyncBufRead for ChannelBody {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<&[u8]>> {
        let this = self.get_mut();
        while this.pos >= this.current.len() {
            match this.chunks.as_mut().poll_next(cx) {
                Poll::Ready(Some(chunk)) => {
                    this.current = chunk;
                    this.pos = 0;
                }
                Poll::Ready(None) => return Poll::Ready(Ok(&[])),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(&this.current[this.pos..]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().pos += amt;
    }
}

impl AsyncRead for ChannelBody {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let available = match self.as_mut().poll_fill_buf(cx) {
            Poll::Ready(Ok(bytes)) => bytes,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(n))
    }
}
