//! Server-sent event streams. `/sse` sends the Go chat shape (one unnamed `data:` JSON line per
//! event) with an `id:` on every event; `/events` sends structured events with their id as
//! `seq`. Both resume after `Last-Event-ID`, answer a cursor the feed cannot serve exactly with
//! an `event: reset`, and send a `: ping` comment every 15 s.
//!
//! What a subscriber holds is bounded: at most [`QUEUED_CHUNKS`] chunks of about
//! [`CHUNK_BYTES`] wait for its connection. One that takes nothing while more than
//! [`LAG_LIMIT`] events are published is disconnected, after a last comment naming the id to
//! resume after; reconnecting with it gets the missed events, or a reset if they are gone.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::{AsyncBufRead, AsyncRead, Stream};
use serde_json::{Value, json};

use crate::service::Service;
use crate::service::feed::{Batch, Feed, FeedEvent, Reset};

/// Keepalive comment interval.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// How many events may be published while a subscriber takes nothing before it is
/// disconnected to resume later.
pub const LAG_LIMIT: u64 = 8_192;

/// Chunks that may wait for a subscriber's connection.
pub const QUEUED_CHUNKS: usize = 16;

/// Bytes of event JSON in one chunk, past its first event.
pub const CHUNK_BYTES: usize = 16 * 1024;

/// Events in one chunk, at most.
pub const CHUNK_EVENTS: usize = 256;

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
    match shape {
        Shape::Chat => format!("id: {}\ndata: {}\n\n", event.seq, event.data),
        Shape::Structured => {
            let mut data = json!({"seq": event.seq, "channel": event.channel});
            if let (Value::Object(target), Value::Object(source)) = (&mut data, event.value()) {
                for (k, v) in source {
                    target.entry(k).or_insert(v);
                }
            }
            format!("id: {}\ndata: {}\n\n", event.seq, data)
        }
    }
}

/// Formats a reset: its id is the cursor the stream continues from.
pub fn format_reset(reset: Reset) -> String {
    format!(
        "id: {}\nevent: reset\ndata: {}\n\n",
        reset.resume_after,
        reset.to_json()
    )
}

/// Starts streaming the feed after `cursor` (only `channels`, when given); returns the body
/// of the response, which ends when the subscriber is cut off.
pub fn open(
    service: Service,
    shape: Shape,
    cursor: u64,
    channels: Option<Vec<String>>,
) -> ChannelBody {
    let (sender, receiver) = async_channel::bounded(QUEUED_CHUNKS);
    let farewell = Arc::new(Mutex::new(None));
    let outlet = Outlet {
        chunks: sender,
        farewell: farewell.clone(),
    };
    skychat_smol::spawn(pump(service, shape, cursor, channels, outlet));
    ChannelBody::new(receiver, farewell)
}

/// Where a pump puts its chunks, and the last words of a stream that is cut off.
struct Outlet {
    chunks: async_channel::Sender<Vec<u8>>,
    farewell: Arc<Mutex<Option<Vec<u8>>>>,
}

/// How handing a chunk to the subscriber went.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Queued for the connection.
    Sent,
    /// The connection is gone.
    Gone,
    /// More than [`LAG_LIMIT`] events were published while it waited for room.
    TooSlow,
}

impl Outlet {
    async fn deliver(&self, feed: &Feed, chunk: Vec<u8>) -> Delivery {
        let limit = feed.head().saturating_add(LAG_LIMIT);
        futures_lite::future::or(
            async {
                match self.chunks.send(chunk).await {
                    Ok(()) => Delivery::Sent,
                    Err(_) => Delivery::Gone,
                }
            },
            async {
                feed.wait_after(limit).await;
                Delivery::TooSlow
            },
        )
        .await
    }

    /// A keepalive, unless chunks are already waiting to be written.
    fn ping(&self) -> Delivery {
        match self.chunks.try_send(b": ping\n\n".to_vec()) {
            Err(async_channel::TrySendError::Closed(_)) => Delivery::Gone,
            _ => Delivery::Sent,
        }
    }

    /// Ends the stream after what is queued, with a comment naming the cursor to resume after.
    fn cut_off(&self, cursor: u64) {
        let note = format!(": too slow; reconnect with Last-Event-ID: {cursor}\n\n");
        *self.farewell.lock().expect("farewell lock") = Some(note.into_bytes());
        self.chunks.close();
    }
}

/// Streams feed events after `cursor` into `out` until the client goes away or is cut off.
async fn pump(
    service: Service,
    shape: Shape,
    mut cursor: u64,
    channels: Option<Vec<String>>,
    out: Outlet,
) {
    service.subscriber_delta(1);
    let feed = service.feed();
    let mut delivery = out.deliver(feed, b": connected\n\n".to_vec()).await;
    while delivery == Delivery::Sent {
        delivery = match feed.after(cursor, CHUNK_EVENTS, CHUNK_BYTES) {
            Batch::Reset(reset) => {
                let delivery = out.deliver(feed, format_reset(reset).into_bytes()).await;
                if delivery == Delivery::Sent {
                    cursor = reset.resume_after;
                }
                delivery
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
                if woke { Delivery::Sent } else { out.ping() }
            }
            Batch::Events(events) => {
                let last = events.last().map_or(cursor, |e| e.seq);
                let mut chunk = String::new();
                for event in &events {
                    let wanted = channels
                        .as_ref()
                        .is_none_or(|c| c.iter().any(|c| c == event.channel || c == "all"));
                    if wanted {
                        chunk.push_str(&format_event(shape, event));
                    }
                }
                let delivery = if chunk.is_empty() {
                    Delivery::Sent
                } else {
                    out.deliver(feed, chunk.into_bytes()).await
                };
                if delivery == Delivery::Sent {
                    cursor = last;
                }
                delivery
            }
        };
    }
    if delivery == Delivery::TooSlow {
        out.cut_off(cursor);
    }
    service.subscriber_delta(-1);
}

/// An `AsyncBufRead` over chunks arriving on a channel, then a last chunk if one was left: the
/// body of a streaming response.
pub struct ChannelBody {
    chunks: Pin<Box<async_channel::Receiver<Vec<u8>>>>,
    farewell: Arc<Mutex<Option<Vec<u8>>>>,
    current: Vec<u8>,
    pos: usize,
}

impl ChannelBody {
    /// A body that yields every chunk sent to the paired sender and, once the channel is closed
    /// and drained, what `farewell` holds then.
    pub fn new(
        chunks: async_channel::Receiver<Vec<u8>>,
        farewell: Arc<Mutex<Option<Vec<u8>>>>,
    ) -> Self {
        Self {
            chunks: Box::pin(chunks),
            farewell,
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
                Poll::Ready(None) => match this.farewell.lock().expect("farewell lock").take() {
                    Some(last) => {
                        this.current = last;
                        this.pos = 0;
                    }
                    None => return Poll::Ready(Ok(&[])),
                },
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
