//! Driver nodes for the scenarios: identities, configs, a receiving host that confirms storage at
//! once, a connected sender/receiver pair on either runtime and either suite, and a pipelined send
//! that counts acks.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use skychat_core::{Event, NodeConfig, PublicKey, SecretKey, Suite, Whitelist};
use skychat_driver::{Draft, DriverConfig, NodeHandle};

/// Messages sent and not yet acked before the pipelined sender waits (below the outbox limit).
const WINDOW: usize = 8192;
/// Messages per `send_many` call of the pipelined sender, as the baseline seals 64 per write.
const SEND_BATCH: usize = 64;
/// Stored messages confirmed per `confirm_stored_many` call at most.
const CONFIRM_BATCH: usize = 1024;

/// The secret key number `n` (deterministic, distinct per `n`).
pub fn secret(n: u32) -> SecretKey {
    let mut bytes = [0x42; 32];
    // Not the first byte: X25519 clamping clears its low bits.
    bytes[4..8].copy_from_slice(&n.to_le_bytes());
    SecretKey::from_bytes(bytes)
}

/// The public key of identity `n` in `suite`: its X25519 key (64 hex) or its Skywire key (66 hex,
/// the secp256k1 key of the same 32 secret bytes).
pub fn public_key(n: u32, suite: Suite) -> PublicKey {
    match suite {
        Suite::Native => secret(n).public_key(),
        Suite::Skywire => secret(n)
            .skywire_public_key()
            .expect("0x42.. is a secp256k1 secret"),
    }
}

/// A driver config for identity `n` accepting `whitelist`.
pub fn config(n: u32, whitelist: Vec<PublicKey>) -> DriverConfig {
    let mut seed = [9u8; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    let pending = whitelist.len().max(256);
    DriverConfig {
        identity: secret(n),
        node: NodeConfig {
            whitelist: Whitelist::new(whitelist),
            max_pending_handshakes: pending,
            ..NodeConfig::default()
        },
        seed,
        restore_outbox: Vec::new(),
        restore_dedup: Vec::new(),
        tcp_keepalive: None,
    }
}

/// Which adapter runs a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// `skychat-smol`.
    Smol,
    /// `skychat-async-std`.
    AsyncStd,
}

impl Adapter {
    /// Starts a node on this adapter.
    pub fn start(self, config: DriverConfig) -> NodeHandle {
        match self {
            Self::Smol => skychat_smol::start(config),
            Self::AsyncStd => skychat_async_std::start(config),
        }
    }

    /// Runs `future` to completion on this adapter's runtime.
    pub fn block_on<T>(self, future: impl Future<Output = T>) -> T {
        match self {
            Self::Smol => smol::block_on(future),
            Self::AsyncStd => skychat_async_std::block_on(future),
        }
    }

    /// Runs `future` in the background on this adapter's runtime.
    pub fn spawn(self, future: impl Future<Output = ()> + Send + 'static) {
        match self {
            Self::Smol => skychat_smol::spawn(future),
            Self::AsyncStd => skychat_async_std::spawn(future),
        }
    }
}

/// Confirms every received message as stored at once, until the node stops: everything queued
/// when it wakes, in one `confirm_stored_many` call, as a host that stores in batches does.
pub async fn confirm_all(node: NodeHandle) {
    let events = node.events();
    let mut batch = Vec::new();
    while let Ok(first) = events.recv().await {
        batch.push(first);
        let _ = events.try_recv_many(&mut batch, CONFIRM_BATCH - 1);
        let stored = batch
            .drain(..)
            .filter_map(|event| match event {
                Event::MessageReceived { peer, message, .. } => Some((peer, message.id)),
                _ => None,
            })
            .collect();
        node.confirm_stored_many(stored).await;
    }
}

/// A sender connected to a receiver that confirms at once, both on `adapter`.
pub struct Pair {
    /// The sending node; the bench is the only consumer of its events.
    pub sender: NodeHandle,
    /// The receiving node.
    pub receiver: NodeHandle,
    /// The receiver's key as the sender names it (which picks the suite).
    pub peer: PublicKey,
    /// The runtime.
    pub adapter: Adapter,
}

impl Pair {
    /// Starts both nodes, connected over the native suite, and waits until the session is up.
    pub fn start(adapter: Adapter, first_id: u32) -> Pair {
        Self::start_on(adapter, first_id, Suite::Native)
    }

    /// Starts both nodes (identities `first_id` and `first_id + 1`), connected over `suite`, and
    /// waits until the sender's session is up.
    pub fn start_on(adapter: Adapter, first_id: u32, suite: Suite) -> Pair {
        let sender = adapter.start(config(first_id, Vec::new()));
        let receiver = adapter.start(config(first_id + 1, vec![public_key(first_id, suite)]));
        let peer = public_key(first_id + 1, suite);
        adapter.spawn(confirm_all(receiver.clone()));
        adapter.block_on(async {
            let addr = receiver
                .listen("127.0.0.1:0".parse().expect("addr"))
                .await
                .expect("listen");
            sender.keep_connected(peer, addr.to_string()).await;
            wait_for(&sender, |e| matches!(e, Event::Authenticated { .. })).await;
        });
        Pair {
            sender,
            receiver,
            peer,
            adapter,
        }
    }

    /// Sends `count` messages of `size` bytes pipelined; returns acked messages per second.
    pub fn pipelined(&self, count: usize, size: usize) -> f64 {
        let body = "x".repeat(size);
        self.adapter.block_on(async {
            let started = Instant::now();
            pipeline(&self.sender, self.peer, count, &body).await;
            count as f64 / started.elapsed().as_secs_f64()
        })
    }

    /// Sends one message at a time `count` times; returns each send-to-ack time.
    pub fn round_trips(&self, count: usize) -> Vec<Duration> {
        let peer = self.peer;
        let events = self.sender.events();
        // One time limit around the whole run: a timer per round trip would put a timer
        // registration with the reactor into every sample.
        self.adapter.block_on(within(async {
            let mut samples = Vec::with_capacity(count);
            for _ in 0..count {
                let started = Instant::now();
                self.sender
                    .send(peer, "ping".into(), None)
                    .await
                    .expect("send");
                while !matches!(events.recv().await, Ok(Event::MessageAcked { .. })) {}
                samples.push(started.elapsed());
            }
            samples
        }))
    }

    /// Shuts both nodes down.
    pub fn stop(self) {
        self.adapter.block_on(async {
            self.sender.shutdown().await;
            self.receiver.shutdown().await;
        });
    }
}

/// Waits (at most 30 s) for an event of `node` matching `want`.
pub async fn wait_for(node: &NodeHandle, want: impl Fn(&Event) -> bool) -> Event {
    let events = node.events();
    within(async {
        loop {
            let event = events.recv().await.expect("node stopped");
            if want(&event) {
                return event;
            }
        }
    })
    .await
}

/// Runs `future`, panicking if it takes more than 30 s (a stuck scenario fails loudly).
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    let limit = async {
        async_io_timer(Duration::from_secs(30)).await;
        panic!("a benchmark step took more than 30 s");
    };
    futures_lite::future::or(future, limit).await
}

async fn async_io_timer(d: Duration) {
    smol::Timer::after(d).await;
}

/// Sends `count` copies of `body` to `peer` in `send_many` batches of [`SEND_BATCH`], keeping at
/// most [`WINDOW`] unacked, and returns once every one is acked.
pub async fn pipeline(sender: &NodeHandle, peer: PublicKey, count: usize, body: &str) {
    let events = sender.events();
    let draft = Draft {
        peer,
        body: body.to_owned(),
        reply_to: None,
    };
    within(async {
        let (mut sent, mut acked) = (0, 0);
        let mut batch = Vec::new();
        while acked < count {
            while sent < count && sent - acked < WINDOW {
                let batch = SEND_BATCH.min(count - sent).min(WINDOW - (sent - acked));
                for result in sender.send_many(vec![draft.clone(); batch]).await {
                    result.expect("send");
                }
                sent += batch;
            }
            batch.push(events.recv().await.expect("node stopped"));
            let _ = events.try_recv_many(&mut batch, WINDOW);
            for event in batch.drain(..) {
                match event {
                    Event::MessageAcked { .. } => acked += 1,
                    Event::ConnectionClosed { reason, .. } => panic!("session closed: {reason}"),
                    _ => {}
                }
            }
        }
    })
    .await;
}

/// Polls every future until all are done.
pub async fn join_all<F: Future<Output = ()>>(futures: Vec<F>) {
    let mut slots: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut slots {
            if let Some(future) = slot {
                if future.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}
