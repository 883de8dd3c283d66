//! The live event feed behind `/sse` and `/events`: a ring of recent events, each with an id,
//! that subscribers read at their own pace by cursor. A subscriber never blocks the node.
//!
//! Ids stay meaningful across restarts: a run's ids start just above its start time in
//! milliseconds times [`IDS_PER_MS`], and grow by one per event, so every id of a later run is
//! larger than every id of an earlier one. A cursor the feed cannot serve exactly (its events
//! were dropped from the ring, it comes from an earlier run, or it is ahead of anything issued)
//! gets an explicit [`Reset`], never a silent gap.
//!
//! The ring is bounded both in events and in bytes of JSON, so its memory stays bounded whatever
//! the events carry. Events are kept as JSON text, serialized once when published (with their
//! keys in order), so that publishing costs one small allocation rather than a tree of them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use event_listener::{Event, Listener};
use serde_json::{Value, json};

/// Events kept for resuming subscribers, at most.
pub const RING_CAPACITY: usize = 65_536;

/// JSON bytes kept for resuming subscribers, at most (the oldest events go first).
pub const RING_BYTES: usize = 32 * 1024 * 1024;

/// Ids a run may use per millisecond of the time it started after the previous run started:
/// a run's first id is its start time (ms since the Unix epoch) times this, plus one.
pub const IDS_PER_MS: u64 = 1_000;

/// The id just below a run's first, for a run started at `start_ms` (ms since the Unix epoch).
/// Below 2^53 until the year 2255, so ids are exact as JavaScript numbers.
pub fn run_base(start_ms: u64) -> u64 {
    start_ms.saturating_mul(IDS_PER_MS)
}

/// `value` as compact JSON text in an allocation of its exact size: written into a buffer
/// kept by the thread, then copied once (no growing, no shrinking).
pub fn json_text(value: &impl serde::Serialize) -> String {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> =
            std::cell::RefCell::new(Vec::with_capacity(4096));
    }
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        match serde_json::to_writer(&mut *buffer, value) {
            // serde_json writes UTF-8.
            Ok(()) => String::from_utf8(buffer.as_slice().to_vec()).unwrap_or_default(),
            Err(_) => "{}".into(),
        }
    })
}

/// One feed entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    /// Its id: one more than the previous event's.
    pub seq: u64,
    /// The channel: `dm`, `status` or `peer`.
    pub channel: &'static str,
    /// The event's JSON body (an object), as text.
    pub data: Box<str>,
}

impl FeedEvent {
    /// The body as a JSON value.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

/// Why a cursor cannot be served exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetReason {
    /// The events after the cursor are no longer kept.
    TooOld,
    /// The cursor is from an earlier run of the node: nothing of that run is kept.
    Restarted,
    /// The cursor is ahead of every id issued: not an id of this node's feed.
    Unknown,
}

impl ResetReason {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooOld => "too_old",
            Self::Restarted => "restarted",
            Self::Unknown => "unknown",
        }
    }
}

/// The feed cannot continue exactly after a cursor: the subscriber must reload its state (for
/// example `/history`) and continues with the oldest event still kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reset {
    /// Why.
    pub reason: ResetReason,
    /// The cursor to continue from: the events after it follow.
    pub resume_after: u64,
}

impl Reset {
    /// The reset as the data of a `reset` event.
    pub fn to_json(self) -> Value {
        json!({
            "channel": "system",
            "event": "reset",
            "reason": self.reason.as_str(),
            "oldest": self.resume_after + 1,
            "resume_after": self.resume_after,
        })
    }
}

/// What a subscriber at some cursor should receive next.
#[derive(Debug, PartialEq)]
pub enum Batch {
    /// Events after the cursor, in order (none yet when it is at the head).
    Events(Vec<Arc<FeedEvent>>),
    /// The cursor cannot be served exactly.
    Reset(Reset),
}

/// How much the feed holds, for `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedStats {
    /// The id just below this run's first.
    pub base: u64,
    /// The latest id issued (`base` before any).
    pub head: u64,
    /// Events kept.
    pub kept: usize,
    /// JSON bytes of the events kept.
    pub kept_bytes: usize,
}

struct Kept {
    event: Arc<FeedEvent>,
    bytes: usize,
}

struct Ring {
    events: VecDeque<Kept>,
    bytes: usize,
    base: u64,
    head: u64,
    capacity: usize,
    max_bytes: usize,
}

/// The feed.
pub struct Feed {
    ring: Mutex<Ring>,
    changed: Event,
}

impl Default for Feed {
    /// A feed for this run: ids above the current time, the usual bounds.
    fn default() -> Self {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self::new(run_base(now_ms), RING_CAPACITY, RING_BYTES)
    }
}

impl Feed {
    /// A feed whose first id is `base + 1`, keeping at most `capacity` events and `max_bytes`
    /// bytes of their JSON (always at least the newest event).
    pub fn new(base: u64, capacity: usize, max_bytes: usize) -> Self {
        Self {
            ring: Mutex::new(Ring {
                events: VecDeque::new(),
                bytes: 0,
                base,
                head: base,
                capacity: capacity.max(1),
                max_bytes,
            }),
            changed: Event::new(),
        }
    }

    /// Appends an event and wakes subscribers. Returns its id.
    pub fn publish(&self, channel: &'static str, data: Value) -> u64 {
        self.publish_text(channel, json_text(&data))
    }

    /// Appends an event whose body is already JSON text (an object with its keys in order, as
    /// `serde_json` writes a [`Value`]), and wakes subscribers. Returns its id.
    pub fn publish_text(&self, channel: &'static str, data: String) -> u64 {
        let data = data.into_boxed_str();
        let bytes = data.len();
        let seq = {
            let mut ring = self.ring.lock().expect("feed lock");
            ring.head += 1;
            let seq = ring.head;
            while ring.events.len() >= ring.capacity
                || (!ring.events.is_empty() && ring.bytes + bytes > ring.max_bytes)
            {
                let gone = ring.events.pop_front().expect("not empty");
                ring.bytes -= gone.bytes;
            }
            ring.bytes += bytes;
            ring.events.push_back(Kept {
                event: Arc::new(FeedEvent { seq, channel, data }),
                bytes,
            });
            seq
        };
        self.changed.notify(usize::MAX);
        seq
    }

    /// The latest id issued (the base before any).
    pub fn head(&self) -> u64 {
        self.ring.lock().expect("feed lock").head
    }

    /// How much the feed holds.
    pub fn stats(&self) -> FeedStats {
        let ring = self.ring.lock().expect("feed lock");
        FeedStats {
            base: ring.base,
            head: ring.head,
            kept: ring.events.len(),
            kept_bytes: ring.bytes,
        }
    }

    /// What follows `cursor`: at most `max_events` events and, past the first, at most
    /// `max_bytes` bytes of JSON; or a reset when the cursor cannot be served exactly.
    pub fn after(&self, cursor: u64, max_events: usize, max_bytes: usize) -> Batch {
        let ring = self.ring.lock().expect("feed lock");
        let oldest = ring.events.front().map_or(ring.head + 1, |k| k.event.seq);
        let reason = if cursor > ring.head {
            Some(ResetReason::Unknown)
        } else if cursor < ring.base {
            Some(ResetReason::Restarted)
        } else if cursor + 1 < oldest {
            Some(ResetReason::TooOld)
        } else {
            None
        };
        if let Some(reason) = reason {
            return Batch::Reset(Reset {
                reason,
                resume_after: oldest - 1,
            });
        }
        let skip = usize::try_from(cursor + 1 - oldest).expect("within the ring");
        let mut bytes = 0;
        let mut events = Vec::new();
        for kept in ring.events.iter().skip(skip).take(max_events) {
            if !events.is_empty() && bytes + kept.bytes > max_bytes {
                break;
            }
            bytes += kept.bytes;
            events.push(kept.event.clone());
        }
        Batch::Events(events)
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

    fn seqs(batch: Batch) -> Vec<u64> {
        match batch {
            Batch::Events(events) => events.iter().map(|e| e.seq).collect(),
            Batch::Reset(reset) => panic!("expected events, got {reset:?}"),
        }
    }

    fn reset(reason: ResetReason, resume_after: u64) -> Batch {
        Batch::Reset(Reset {
            reason,
            resume_after,
        })
    }

    #[test]
    fn subscribers_read_by_cursor_and_lagging_ones_get_an_explicit_reset() {
        let feed = Feed::new(100, 3, usize::MAX);
        for n in 0..5 {
            feed.publish("dm", json!({ "n": n }));
        }
        assert_eq!(feed.head(), 105);
        assert_eq!(seqs(feed.after(103, 10, usize::MAX)), [104, 105]);
        assert_eq!(seqs(feed.after(102, 10, usize::MAX)), [103, 104, 105]);
        assert_eq!(seqs(feed.after(105, 10, usize::MAX)), Vec::<u64>::new());
        assert_eq!(
            feed.after(101, 10, usize::MAX),
            reset(ResetReason::TooOld, 102)
        );
    }

    #[test]
    fn cursors_of_an_earlier_run_or_never_issued_get_a_reset_to_the_oldest_kept_event() {
        let earlier = Feed::new(run_base(1_000), 10, usize::MAX);
        let old_cursor = (0..20).map(|_| earlier.publish("dm", json!({}))).last();
        let later = Feed::new(run_base(1_001), 10, usize::MAX);
        assert!(later.head() > old_cursor.unwrap(), "ids grow across runs");
        assert_eq!(
            later.after(old_cursor.unwrap(), 10, usize::MAX),
            reset(ResetReason::Restarted, run_base(1_001))
        );
        let first = later.publish("dm", json!({}));
        assert_eq!(first, run_base(1_001) + 1);
        assert_eq!(
            later.after(old_cursor.unwrap(), 10, usize::MAX),
            reset(ResetReason::Restarted, run_base(1_001))
        );
        assert_eq!(seqs(later.after(run_base(1_001), 10, usize::MAX)), [first]);
        assert_eq!(
            later.after(first + 1, 10, usize::MAX),
            reset(ResetReason::Unknown, run_base(1_001))
        );
        assert_eq!(
            Reset {
                reason: ResetReason::Unknown,
                resume_after: 7
            }
            .to_json(),
            json!({"channel": "system", "event": "reset", "reason": "unknown",
                   "oldest": 8, "resume_after": 7})
        );
    }

    #[test]
    fn the_ring_is_bounded_in_bytes_and_batches_in_bytes() {
        let event = json!({ "text": "x".repeat(90) });
        let size = serde_json::to_string(&event).unwrap().len();
        let feed = Feed::new(0, 1_000, size * 4);
        for _ in 0..10 {
            feed.publish("dm", event.clone());
        }
        let stats = feed.stats();
        assert_eq!(
            (stats.kept, stats.kept_bytes, stats.head),
            (4, size * 4, 10)
        );
        assert_eq!(seqs(feed.after(6, 100, size * 2)), [7, 8]);
        assert_eq!(seqs(feed.after(6, 100, 1)), [7], "at least one event");
        let huge = json!({ "text": "y".repeat(size * 10) });
        let seq = feed.publish("dm", huge);
        assert_eq!(seqs(feed.after(seq - 1, 100, 1)), [seq], "kept alone");
        assert_eq!(feed.stats().kept, 1);
    }

    #[test]
    fn waiting_returns_once_something_new_is_published() {
        let feed = Arc::new(Feed::new(0, 10, usize::MAX));
        let publisher = {
            let feed = feed.clone();
            std::thread::spawn(move || feed.publish("dm", json!({})))
        };
        feed.wait_after_blocking(0);
        assert_eq!(publisher.join().unwrap(), 1);
    }
}
