//! How many messages wait in the node's outbox for each peer, kept by the service as the outbox
//! changes: messages restored at start, held for sending, withdrawn after a failed write, and
//! acked (the node reports an ack exactly when a message leaves its outbox). `/status` reads
//! these counts in one go instead of asking the node once per peer, and without waiting for the
//! store, so a held message counts while its write is still under way.

use std::collections::BTreeMap;
use std::sync::Mutex;

use skychat_core::PublicKey;

/// Messages in the node's outbox, per peer.
#[derive(Debug, Default)]
pub struct QueuedCounts(Mutex<BTreeMap<PublicKey, u64>>);

impl QueuedCounts {
    /// `n` more messages wait for `peer`.
    pub fn add(&self, peer: PublicKey, n: u64) {
        *self.0.lock().expect("queued lock").entry(peer).or_default() += n;
    }

    /// `n` messages for `peer` left the outbox.
    pub fn remove(&self, peer: PublicKey, n: u64) {
        let mut counts = self.0.lock().expect("queued lock");
        if let Some(count) = counts.get_mut(&peer) {
            *count = count.saturating_sub(n);
            if *count == 0 {
                counts.remove(&peer);
            }
        }
    }

    /// Every peer with messages waiting, with their number.
    pub fn snapshot(&self) -> BTreeMap<PublicKey, u64> {
        self.0.lock().expect("queued lock").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_additions_and_removals_and_forget_empty_peers() {
        let counts = QueuedCounts::default();
        let (a, b) = (PublicKey::native([1; 32]), PublicKey::native([2; 32]));
        counts.add(a, 3);
        counts.add(b, 1);
        counts.add(a, 1);
        counts.remove(a, 2);
        counts.remove(b, 1);
        assert_eq!(counts.snapshot(), BTreeMap::from([(a, 2)]));
        counts.remove(a, 5);
        counts.remove(b, 1);
        assert!(counts.snapshot().is_empty());
    }
}
