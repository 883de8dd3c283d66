//! Waiters for acks: a sender that wants to know when its message was stored by the peer. Acks
//! that arrive before anyone waits are remembered for a while, so no wait misses a fast ack.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use skychat_core::MessageId;

/// Acks remembered without a waiter.
const RECENT: usize = 16_384;

/// The waiters.
#[derive(Default)]
pub struct AckWaiters {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    waiting: HashMap<MessageId, Vec<async_channel::Sender<()>>>,
    recent: HashSet<MessageId>,
    recent_order: VecDeque<MessageId>,
}

impl AckWaiters {
    /// Records that `id` was acked and wakes its waiters.
    pub fn acked(&self, id: MessageId) {
        let mut inner = self.inner.lock().expect("ack lock");
        if let Some(waiters) = inner.waiting.remove(&id) {
            for waiter in waiters {
                let _ = waiter.try_send(());
            }
        }
        if inner.recent.insert(id) {
            inner.recent_order.push_back(id);
            if inner.recent_order.len() > RECENT
                && let Some(old) = inner.recent_order.pop_front()
            {
                inner.recent.remove(&old);
            }
        }
    }

    /// A receiver that yields once `id` is acked (at once if it already was).
    pub fn wait(&self, id: MessageId) -> async_channel::Receiver<()> {
        let (sender, receiver) = async_channel::bounded(1);
        let mut inner = self.inner.lock().expect("ack lock");
        if inner.recent.contains(&id) {
            let _ = sender.try_send(());
        } else {
            inner.waiting.entry(id).or_default().push(sender);
        }
        receiver
    }

    /// Drops waiters whose receivers are gone (timed-out requests).
    pub fn forget(&self, id: MessageId) {
        let mut inner = self.inner.lock().expect("ack lock");
        if let Some(waiters) = inner.waiting.get_mut(&id) {
            waiters.retain(|w| w.receiver_count() > 0);
            if waiters.is_empty() {
                inner.waiting.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_before_the_wait_is_not_missed() {
        let waiters = AckWaiters::default();
        let id = MessageId { stream: 1, seq: 1 };
        waiters.acked(id);
        assert!(waiters.wait(id).try_recv().is_ok());
        let later = MessageId { stream: 1, seq: 2 };
        let rx = waiters.wait(later);
        assert!(rx.try_recv().is_err());
        waiters.acked(later);
        assert!(rx.try_recv().is_ok());
    }
}
