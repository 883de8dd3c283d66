//! The store's own thread. Writes queue up and are committed together, one transaction per
//! batch (group commit); reads run on the same thread in turn. Async callers never block.
//! [`Storage::submit`] queues a set of writes without waiting and hands back a receiver of their
//! results; [`Storage::write_all`] commits a set of writes as one transaction of its own, all or
//! none.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::store::{Applied, Store, StoreError, WriteOp};

/// Writes committed together at most (whole submissions are never split).
const MAX_BATCH: usize = 4096;

type ReadJob = Box<dyn FnOnce(&mut Store) + Send>;
type AllReply = async_channel::Sender<Result<Vec<Applied>, StoreError>>;

enum Job {
    Write(Vec<WriteOp>, async_channel::Sender<Vec<Completion>>),
    WriteAll(Vec<WriteOp>, AllReply),
    Read(ReadJob),
}

/// A write and its result.
pub type Completion = (WriteOp, Result<Applied, StoreError>);

/// The results of writes queued with [`Storage::submit`], once committed: one [`Completion`] per
/// write, in order. Closed without a value if the store stopped first.
pub type Submitted = async_channel::Receiver<Vec<Completion>>;

/// A handle to the store thread.
#[derive(Clone)]
pub struct Storage {
    jobs: async_channel::Sender<Job>,
    thread: std::sync::Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
    /// Reads asked for so far, for tests that count a call's queries.
    #[cfg(test)]
    reads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Storage {
    /// Moves `store` to its own thread.
    pub fn start(mut store: Store) -> Self {
        let (jobs, queue) = async_channel::unbounded::<Job>();
        let thread = std::thread::Builder::new()
            .name("skychat-store".into())
            .spawn(move || run(&mut store, &queue))
            .expect("spawn the store thread");
        Self {
            jobs,
            thread: std::sync::Arc::new(std::sync::Mutex::new(Some(thread))),
            #[cfg(test)]
            reads: std::sync::Arc::default(),
        }
    }

    /// Writes `op` in the next batch and waits for its commit.
    pub async fn write(&self, op: WriteOp) -> Result<Applied, StoreError> {
        let done = self.submit(vec![op]);
        let mut results = done.recv().await.map_err(|_| stopped())?;
        results
            .pop()
            .map_or_else(|| Err(stopped()), |(_, result)| result)
    }

    /// Queues `ops` for the next batch without waiting. They commit in order, together with
    /// whatever other writes are queued; if that transaction fails, each write is tried on its
    /// own, so that one bad write does not fail the others.
    pub fn submit(&self, ops: Vec<WriteOp>) -> Submitted {
        let (reply, done) = async_channel::bounded(1);
        let _ = self.jobs.try_send(Job::Write(ops, reply));
        done
    }

    /// Writes `ops` in one transaction of their own, in order, and waits for the commit: either
    /// all of them are stored or, on error, none is.
    pub async fn write_all(&self, ops: Vec<WriteOp>) -> Result<Vec<Applied>, StoreError> {
        let (reply, result) = async_channel::bounded(1);
        self.jobs
            .send(Job::WriteAll(ops, reply))
            .await
            .map_err(|_| stopped())?;
        result.recv().await.map_err(|_| stopped())?
    }

    /// Runs `read` on the store thread and returns its result.
    pub async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        #[cfg(test)]
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (reply, result) = async_channel::bounded(1);
        let job = Job::Read(Box::new(move |store| {
            let _ = reply.try_send(read(store));
        }));
        self.jobs.send(job).await.map_err(|_| stopped())?;
        result.recv().await.map_err(|_| stopped())
    }

    /// Reads asked for so far.
    #[cfg(test)]
    pub fn reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops the thread and waits until every queued write is committed.
    pub fn close_and_wait(&self) {
        self.jobs.close();
        if let Some(thread) = self.thread.lock().expect("store thread lock").take() {
            let _ = thread.join();
        }
    }
}

/// The error of a call that found the store stopped.
pub fn stopped() -> StoreError {
    StoreError::Busy("the store has shut down".into())
}

fn run(store: &mut Store, queue: &async_channel::Receiver<Job>) {
    let mut pending_job = None;
    while let Some(first) = pending_job.take().or_else(|| queue.recv_blocking().ok()) {
        let mut writes = Vec::new();
        let mut queued = 0;
        match first {
            Job::Read(read) => {
                read(store);
                continue;
            }
            Job::WriteAll(ops, reply) => {
                let _ = reply.try_send(store.write_batch(&ops));
                continue;
            }
            Job::Write(ops, reply) => {
                queued += ops.len();
                writes.push((ops, reply));
            }
        }
        while queued < MAX_BATCH {
            match queue.try_recv() {
                Ok(Job::Write(ops, reply)) => {
                    queued += ops.len();
                    writes.push((ops, reply));
                }
                Ok(other) => {
                    pending_job = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        commit(store, writes);
    }
}

fn commit(store: &mut Store, writes: Vec<(Vec<WriteOp>, async_channel::Sender<Vec<Completion>>)>) {
    let mut ops = Vec::with_capacity(writes.iter().map(|(ops, _)| ops.len()).sum());
    let mut replies = Vec::with_capacity(writes.len());
    for (batch, reply) in writes {
        replies.push((batch.len(), reply));
        ops.extend(batch);
    }
    let results: Vec<Result<Applied, StoreError>> = match store.write_batch(&ops) {
        Ok(applied) => applied.into_iter().map(Ok).collect(),
        // The batch failed as a whole; retry one by one so that one bad write does not fail
        // the others.
        Err(_) => ops
            .iter()
            .map(|op| store.write_batch(std::slice::from_ref(op)).map(|a| a[0]))
            .collect(),
    };
    let mut done = ops.into_iter().zip(results);
    for (len, reply) in replies {
        let _ = reply.try_send(done.by_ref().take(len).collect());
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use skychat_core::{ChatMessage, MessageId, PublicKey};

    use super::*;
    use crate::store::StoreOptions;

    fn message(seq: u64) -> ChatMessage {
        ChatMessage {
            id: MessageId { stream: 3, seq },
            sent_at_ms: seq,
            body: format!("message {seq}"),
            reply_to: None,
        }
    }

    fn keyed(seq: u64, key: &str) -> WriteOp {
        WriteOp::OutgoingWithKey {
            peer: PublicKey::native([1; 32]),
            message: message(seq),
            idempotency_key: key.into(),
        }
    }

    #[test]
    fn submissions_committed_together_fail_only_where_a_write_fails() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let storage = Storage::start(store);
        smol::block_on(async {
            // Held back by a read, so that the submissions queue up behind it and commit as
            // one transaction, which the reused key fails.
            let (gate, wait) = async_channel::bounded::<()>(1);
            let (started, running) = async_channel::bounded::<()>(1);
            let reader = storage.clone();
            let held = smol::spawn(async move {
                reader
                    .read(move |_| {
                        let _ = started.send_blocking(());
                        wait.recv_blocking()
                    })
                    .await
            });
            running.recv().await.unwrap();
            let first = storage.submit(vec![keyed(1, "k")]);
            let second = storage.submit(vec![
                keyed(2, "k"),
                WriteOp::Incoming {
                    peer: PublicKey::native([2; 32]),
                    message: message(9),
                    received_at_ms: 9,
                    network: None,
                },
            ]);
            gate.send(()).await.unwrap();
            held.await.unwrap().unwrap();
            let first = first.recv().await.unwrap();
            let second = second.recv().await.unwrap();
            assert!(
                matches!(first[..], [(_, Ok(Applied::Inserted(_)))]),
                "{first:?}"
            );
            assert!(
                matches!(
                    second[..],
                    [
                        (_, Err(_)),
                        (WriteOp::Incoming { .. }, Ok(Applied::Inserted(_)))
                    ]
                ),
                "{second:?}"
            );
        });
        storage.close_and_wait();
    }
}
