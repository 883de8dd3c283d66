//! The node's events on their way to the host: an unbounded queue that the driver fills with
//! everything one pass over the node produced, under one lock, and then wakes the host once
//! ("lock and wake"), where a channel would wake it for every event.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use event_listener::Event as Signal;
use skychat_core::Event;

/// Why [`Events::try_recv`] returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// No event is waiting now.
    Empty,
    /// The node has stopped and every event has been taken.
    Closed,
}

/// The node has stopped and every event has been taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the node has stopped")
    }
}

impl std::error::Error for Closed {}

#[derive(Default)]
struct Queue {
    events: VecDeque<Event>,
    closed: bool,
}

#[derive(Default)]
struct Inner {
    queue: Mutex<Queue>,
    ready: Signal,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic elsewhere while holding the lock leaves the queue itself consistent.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The host's end: every clone takes from the same queue, each event goes to one taker.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queue = self.inner.lock();
        f.debug_struct("Events")
            .field("waiting", &queue.events.len())
            .field("closed", &queue.closed)
            .finish()
    }
}

impl Events {
    /// The next event, waiting for one; [`Closed`] once the node has stopped and nothing is
    /// left.
    pub async fn recv(&self) -> Result<Event, Closed> {
        loop {
            match self.try_recv() {
                Ok(event) => return Ok(event),
                Err(TryRecvError::Closed) => return Err(Closed),
                Err(TryRecvError::Empty) => {}
            }
            let listener = self.inner.ready.listen();
            // An event pushed between the check and the listening would not wake us.
            match self.try_recv() {
                Ok(event) => return Ok(event),
                Err(TryRecvError::Closed) => return Err(Closed),
                Err(TryRecvError::Empty) => listener.await,
            }
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Result<Event, TryRecvError> {
        let mut queue = self.inner.lock();
        match queue.events.pop_front() {
            Some(event) => Ok(event),
            None if queue.closed => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Moves up to `max` waiting events to the end of `out`, under one lock, and returns how many
    /// it moved (0 if none was waiting); [`Closed`] once the node has stopped and nothing is
    /// left.
    pub fn try_recv_many(&self, out: &mut Vec<Event>, max: usize) -> Result<usize, Closed> {
        let mut queue = self.inner.lock();
        if queue.events.is_empty() && queue.closed {
            return Err(Closed);
        }
        let count = max.min(queue.events.len());
        out.extend(queue.events.drain(..count));
        Ok(count)
    }

    /// Events waiting to be taken.
    pub fn len(&self) -> usize {
        self.inner.lock().events.len()
    }

    /// True if no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The driver's end.
pub(crate) struct EventSink {
    inner: Arc<Inner>,
    /// Events of the current pass, handed over together by [`EventSink::publish`].
    pass: Vec<Event>,
}

impl EventSink {
    /// A new queue: the driver's end and the host's.
    pub(crate) fn new() -> (Self, Events) {
        let inner = Arc::new(Inner::default());
        let sink = Self {
            inner: inner.clone(),
            pass: Vec::new(),
        };
        (sink, Events { inner })
    }

    /// Adds an event to the current pass.
    pub(crate) fn push(&mut self, event: Event) {
        self.pass.push(event);
    }

    /// Hands the pass's events to the host and wakes as many takers as there are events.
    pub(crate) fn publish(&mut self) {
        if self.pass.is_empty() {
            return;
        }
        let count = self.pass.len();
        self.inner.lock().events.extend(self.pass.drain(..));
        self.inner.ready.notify(count);
    }

    /// Publishes what is left and tells every taker that no more will come.
    pub(crate) fn close(&mut self) {
        self.publish();
        self.inner.lock().closed = true;
        self.inner.ready.notify(usize::MAX);
    }
}

impl Drop for EventSink {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skychat_core::PublicKey;

    fn event(n: u8) -> Event {
        Event::ReadReceipt {
            peer: PublicKey::native([n; 32]),
            id: skychat_core::MessageId { stream: 1, seq: 1 },
        }
    }

    fn peers(events: &[Event]) -> Vec<u8> {
        events
            .iter()
            .map(|e| match e {
                Event::ReadReceipt { peer, .. } => peer.as_native().expect("native")[0],
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn nothing_is_visible_before_the_pass_is_published_and_order_is_kept() {
        let (mut sink, events) = EventSink::new();
        sink.push(event(1));
        sink.push(event(2));
        assert_eq!(events.try_recv().err(), Some(TryRecvError::Empty));
        sink.publish();
        assert_eq!(events.len(), 2);
        let mut taken = Vec::new();
        assert_eq!(events.try_recv_many(&mut taken, 1), Ok(1));
        sink.push(event(3));
        sink.publish();
        assert_eq!(events.try_recv_many(&mut taken, 8), Ok(2));
        assert_eq!(peers(&taken), [1, 2, 3]);
        assert_eq!(events.try_recv_many(&mut taken, 8), Ok(0));
        assert_eq!(events.try_recv().err(), Some(TryRecvError::Empty));
    }

    #[test]
    fn a_waiting_taker_is_woken_and_closing_drains_first() {
        let (mut sink, events) = EventSink::new();
        let taker = events.clone();
        let waiting = std::thread::spawn(move || {
            futures_lite::future::block_on(async {
                let first = taker.recv().await;
                let second = taker.recv().await;
                let after = taker.recv().await;
                (first.is_ok(), second.is_ok(), after)
            })
        });
        sink.push(event(1));
        sink.publish();
        sink.push(event(2));
        drop(sink);
        assert_eq!(waiting.join().expect("taker"), (true, true, Err(Closed)));
        assert_eq!(events.try_recv().err(), Some(TryRecvError::Closed));
        assert_eq!(events.try_recv_many(&mut Vec::new(), 8), Err(Closed));
    }
}
