//! The live event feed behind `/sse` and `/events`: a sequence-numbered ring of recent events
//! that subscribers read at their own pace by cursor. A subscriber never blocks the node; one
//! that falls further behind than the ring holds is told so explicitly (a `reset`), never left
//! to miss events silently.

use std::collections::VecDeque;
use std::sync::Mutex;

use event_listener::{Event, Listener};
use serde_json::Value;

/// Events kept for resuming subscribers.
pub const RING_CAPACITY: usize = 65_536;

/// One feed entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    /// Position in the feed, from 1, increasing by one per event.
    pub seq: u64,
    /// The channel: `dm`, `status`, `peer` or `system`.
    pub channel: &'static str,
    /// The event's JSON body.
    pub data: Value,
}

/// What a subscriber at some cursor should receive next.
#[derive(Debug, PartialEq)]
pub enum Batch {
    /// Events after the cursor (possibly none yet).
    Events(Vec<FeedEvent>),
    /// The cursor is older than anything kept: events between it and `oldest` are gone from
    /// the ring. The subscriber must reload state (for example, history) and continue from
    /// `resume_after`.
    Reset {
        /// The first sequence still available.
        oldest: u64,
        /// The cursor to continue from.
        resume_after: u64,
    },
}

struct Ring {
    events: VecDeque<FeedEvent>,
    next_seq: u64,
    capacity: usize,
}

/// The feed.
pub struct Feed {
    ring: Mutex<Ring>,
    changed: Event,
}

impl Default for Feed {
    fn default() -> Self {
        Self::with_capacity(RING_CAPACITY)
    }
}

impl Feed {
    /// A feed keeping at most `capacity` events.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            ring: Mutex::new(Ring {
                events: VecDeque::new(),
                next_seq: 1,
                capacity,
            }),
            changed: Event::new(),
        }
    }

    /// Appends an event and wakes subscribers. Returns its sequence number.
    pub fn publish(&self, channel: &'static str, data: Value) -> u64 {
        let seq = {
            let mut ring = self.ring.lock().expect("feed lock");
            let seq = ring.next_seq;
            ring.next_seq += 1;
            if ring.events.len() == ring.capacity {
                ring.events.pop_front();
            }
            ring.events.push_back(FeedEvent { seq, channel, data });
            seq
        };
        self.changed.notify(usize::MAX);
        seq
    }

    /// The latest sequence number published (0 before any).
    pub fn head(&self) -> u64 {
        self.ring.lock().expect("feed lock").next_seq - 1
    }

    /// Everything after `cursor`, at most `limit` events.
    pub fn after(&self, cursor: u64, limit: usize) -> Batch {
        let ring = self.ring.lock().expect("feed lock");
        let oldest = ring.events.front().map_or(ring.next_seq, |e| e.seq);
        if cursor + 1 < oldest {
            return Batch::Reset {
                oldest,
                resume_after: oldest - 1,
            };
        }
        let skip = (cursor + 1 - oldest) as usize;
        Batch::Events(ring.events.iter().skip(skip).take(limit).cloned().collect())
    }

    /// Waits until an event after `cursor` exists.
    pub async fn wait_after(&self, cursor: u64) {
        loop {
            let listener = self.changed.listen();
            if self.head() > cursor {
                return;
            }
            listener.await;
        }
    }

    /// Blocking form of [`Feed::wait_after`], for tests.
    pub fn wait_after_blocking(&self, cursor: u64) {
        loop {
            let listener = self.changed.listen();
            if self.head() > cursor {
                return;
            }
            listener.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subscribers_read_by_cursor_and_lagging_ones_get_an_explicit_reset() {
        let feed = Feed::with_capacity(3);
        for n in 0..5 {
            feed.publish("dm", json!({ "n": n }));
        }
        assert_eq!(feed.head(), 5);
        let Batch::Events(events) = feed.after(3, 10) else {
            panic!("expected events")
        };
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5]);
        assert_eq!(
            feed.after(0, 10),
            Batch::Reset {
                oldest: 3,
                resume_after: 2
            }
        );
        assert_eq!(feed.after(2, 10), Batch::Events(feed_events(&feed, 3)));
    }

    fn feed_events(feed: &Feed, from: u64) -> Vec<FeedEvent> {
        match feed.after(from - 1, 100) {
            Batch::Events(e) => e,
            Batch::Reset { .. } => unreachable!(),
        }
    }

    #[test]
    fn waiting_returns_once_something_new_is_published() {
        let feed = std::sync::Arc::new(Feed::default());
        let publisher = {
            let feed = feed.clone();
            std::thread::spawn(move || feed.publish("system", json!({})))
        };
        feed.wait_after_blocking(0);
        assert_eq!(publisher.join().unwrap(), 1);
    }
}
