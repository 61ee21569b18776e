//! The async log (feature `tokio`): group commit shared by concurrent
//! requests, over an async store.
//!
//! Every `append` seals its event in the caller's task (salt, payload
//! commitment) and queues it. One writer task per log, started when the
//! queue goes from empty to busy and ending when it is empty again, takes
//! everything queued (up to `max_batch` records), appends it to the store in
//! one call (one transaction, one `fsync`), and only then answers each
//! waiting caller with its receipt. While a batch is being committed the
//! next one gathers, so under load the batches grow by themselves; at low
//! load a lone request is committed at once. A batch that fails fails every
//! caller in it with [`Error::BatchFailed`]; none gets a receipt.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::oneshot;

use crate::log::{CheckpointPolicy, LogCore, TREE_CHUNK, erasure_event, erasure_targets};
use crate::proof::bundle::Bundle;
use crate::proof::checkpoint::{CheckpointSigner, CheckpointVerifier};
use crate::record::{Record, Sealed};
use crate::store::file::FileStore;
use crate::store::{Query, Receipt, Store};
use crate::verify::{LogReport, StoreChecker};
use crate::{Erasure, Error, Event, Hash, Result};

/// Anything that records audit events asynchronously: the trait an async
/// service (a web back end's request guard) depends on.
///
/// The future resolves only once the record is durable; dropping it does
/// not withdraw the event (it is recorded all the same, unacknowledged).
pub trait AsyncAuditSink: Send + Sync {
    /// Records `event` and returns its receipt once it is durable.
    fn record(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<Receipt>> + Send + '_>>;
}

/// Persistence for an [`AsyncAuditLog`]: the async twin of
/// [`Store`](crate::Store), with the same contract. `AsyncPostgresStore`
/// (feature `postgres-async`) implements it natively; [`BlockingStore`]
/// adapts any blocking store (files, SQLite, memory).
pub trait AsyncStore: Send + Sync + 'static {
    /// Number of acknowledged (durable) records.
    fn len(&self) -> impl Future<Output = Result<u64>> + Send;

    /// Whether the store holds no acknowledged record.
    fn is_empty(&self) -> impl Future<Output = Result<bool>> + Send {
        async { Ok(self.len().await? == 0) }
    }

    /// Appends sealed events as the next records, in order, in one durable
    /// step (one transaction or one `fsync`). Returns once they are durable.
    fn append(&self, batch: Vec<Sealed>) -> impl Future<Output = Result<Vec<Receipt>>> + Send;

    /// Records `start..end` (clamped to the acknowledged length).
    fn read(&self, start: u64, end: u64) -> impl Future<Output = Result<Vec<Record>>> + Send;

    /// Leaf hashes of records `start..end`, as stored.
    fn leaf_hashes(&self, start: u64, end: u64) -> impl Future<Output = Result<Vec<Hash>>> + Send;

    /// Records matching `query`, in index order.
    fn query(&self, query: &Query) -> impl Future<Output = Result<Vec<Record>>> + Send;

    /// Deletes the payload's salt and text of record `index`, keeping its
    /// commitment. Returns whether there was a payload to erase.
    fn erase_payload(&self, index: u64) -> impl Future<Output = Result<bool>> + Send;

    /// Stores a signed checkpoint (note text).
    fn add_checkpoint(&self, note: &str) -> impl Future<Output = Result<()>> + Send;

    /// Every stored checkpoint, oldest first.
    fn checkpoints(&self) -> impl Future<Output = Result<Vec<String>>> + Send;
}

/// A blocking [`Store`] used from async code: every call runs on tokio's
/// blocking pool (`spawn_blocking`), so a file `fsync` or an SQLite commit
/// never stalls a worker thread of the runtime.
#[derive(Debug)]
pub struct BlockingStore<S> {
    store: Arc<S>,
}

impl<S> Clone for BlockingStore<S> {
    fn clone(&self) -> Self {
        BlockingStore {
            store: Arc::clone(&self.store),
        }
    }
}

impl<S: Store + 'static> BlockingStore<S> {
    /// Wraps `store`.
    pub fn new(store: S) -> BlockingStore<S> {
        BlockingStore {
            store: Arc::new(store),
        }
    }

    /// The wrapped store (for blocking calls, such as
    /// [`verify_store`](crate::verify_store), from a blocking context).
    pub fn get(&self) -> &S {
        &self.store
    }

    async fn run<T: Send + 'static>(
        &self,
        call: impl FnOnce(&S) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .map_err(|_| Error::WorkerStopped)?
    }
}

impl<S: Store + 'static> AsyncStore for BlockingStore<S> {
    async fn len(&self) -> Result<u64> {
        self.run(|s| s.len()).await
    }

    async fn append(&self, batch: Vec<Sealed>) -> Result<Vec<Receipt>> {
        self.run(move |s| s.append(batch)).await
    }

    async fn read(&self, start: u64, end: u64) -> Result<Vec<Record>> {
        self.run(move |s| s.read(start, end)).await
    }

    async fn leaf_hashes(&self, start: u64, end: u64) -> Result<Vec<Hash>> {
        self.run(move |s| s.leaf_hashes(start, end)).await
    }

    async fn query(&self, query: &Query) -> Result<Vec<Record>> {
        let query = query.clone();
        self.run(move |s| s.query(&query)).await
    }

    async fn erase_payload(&self, index: u64) -> Result<bool> {
        self.run(move |s| s.erase_payload(index)).await
    }

    async fn add_checkpoint(&self, note: &str) -> Result<()> {
        let note = note.to_owned();
        self.run(move |s| s.add_checkpoint(&note)).await
    }

    async fn checkpoints(&self) -> Result<Vec<String>> {
        self.run(|s| s.checkpoints()).await
    }
}

/// How the async log groups concurrent appends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupCommit {
    /// The most records committed together (a caller's batch is never
    /// split, so one larger batch is committed alone).
    pub max_batch: usize,
    /// How long the writer waits for company before committing a batch
    /// smaller than `max_batch`. Zero (the default) commits at once: batches
    /// still form from the requests that arrive while the previous batch is
    /// being committed.
    pub max_delay: Duration,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            max_batch: 1024,
            max_delay: Duration::ZERO,
        }
    }
}

/// Counts of an async log's group commits since it was built: how well
/// concurrent requests share commits (`records / batches`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CommitStats {
    /// Batches committed (store appends that succeeded: transactions or
    /// `fsync`s).
    pub batches: u64,
    /// Records committed in them.
    pub records: u64,
    /// The most records one batch held.
    pub largest_batch: u64,
    /// Batches whose commit failed (every caller in them got an error).
    pub failed_batches: u64,
    /// Automatic checkpoints that failed after a batch was committed (the
    /// batch's callers still got their receipts; the next one retries).
    pub failed_checkpoints: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    records: AtomicU64,
    largest_batch: AtomicU64,
    failed_batches: AtomicU64,
    failed_checkpoints: AtomicU64,
}

struct Job {
    sealed: Vec<Sealed>,
    reply: oneshot::Sender<Result<Vec<Receipt>>>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Records in `jobs`.
    records: usize,
    /// Whether a writer task is running (it empties the queue before it
    /// ends).
    writer: bool,
}

struct Shared<S> {
    store: S,
    core: LogCore,
    group: GroupCommit,
    queue: Mutex<Queue>,
    counters: Counters,
}

impl<S> Shared<S> {
    /// The queue; nothing panics while it is held, so a poisoned lock still
    /// holds a consistent queue.
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A tamper-evident audit log for async services (feature `tokio`), over an
/// [`AsyncStore`]: the async twin of [`AuditLog`](crate::AuditLog), with
/// group commit shared by concurrent requests.
///
/// `append(event).await` resolves once the event is durable in a batch
/// committed together with whatever other requests queued meanwhile (see
/// [`GroupCommit`]); [`AsyncAuditLog::stats`] counts the batches. Store
/// calls never block the runtime's worker threads. Cheap to clone (an
/// `Arc`): clones share the log and its writer.
///
/// ```
/// use palisade_audit::{AsyncAuditLog, BlockingStore, Event, FileOptions, FileStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), palisade_audit::Error> {
/// # let dir = tempfile::tempdir()?;
/// let store = FileStore::open(dir.path(), FileOptions::default())?;
/// let log = AsyncAuditLog::builder(BlockingStore::new(store)).build();
/// let receipt = log
///     .append(Event::new("staff:alice", "customer.read", "customers/4711"))
///     .await?;
/// assert_eq!(receipt.index, 0);
/// # Ok(())
/// # }
/// ```
pub struct AsyncAuditLog<S: AsyncStore> {
    shared: Arc<Shared<S>>,
}

impl<S: AsyncStore> Clone for AsyncAuditLog<S> {
    fn clone(&self) -> Self {
        AsyncAuditLog {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: AsyncStore> std::fmt::Debug for AsyncAuditLog<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncAuditLog")
            .field("origin", &self.shared.core.origin)
            .field("group", &self.shared.group)
            .finish_non_exhaustive()
    }
}

/// Configures an [`AsyncAuditLog`] before its first use.
pub struct AsyncLogBuilder<S> {
    store: S,
    core: LogCore,
    group: GroupCommit,
}

impl<S> std::fmt::Debug for AsyncLogBuilder<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncLogBuilder")
            .field("origin", &self.core.origin)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncStore> AsyncLogBuilder<S> {
    /// Signs checkpoints with `signer` for the log named `origin`.
    pub fn with_signer(mut self, origin: impl Into<String>, signer: CheckpointSigner) -> Self {
        self.core.origin = origin.into();
        self.core.signer = Some(signer);
        self
    }

    /// Writes checkpoints automatically under `policy` (needs a signer),
    /// checked after each committed batch.
    pub fn with_checkpoint_policy(mut self, policy: CheckpointPolicy) -> Self {
        self.core.policy = policy;
        self
    }

    /// Groups concurrent appends under `group` (default:
    /// [`GroupCommit::default`]).
    pub fn with_group_commit(mut self, group: GroupCommit) -> Self {
        self.group = GroupCommit {
            max_batch: group.max_batch.max(1),
            max_delay: group.max_delay,
        };
        self
    }

    /// The log.
    pub fn build(self) -> AsyncAuditLog<S> {
        AsyncAuditLog {
            shared: Arc::new(Shared {
                store: self.store,
                core: self.core,
                group: self.group,
                queue: Mutex::new(Queue::default()),
                counters: Counters::default(),
            }),
        }
    }
}

impl AsyncAuditLog<BlockingStore<Arc<FileStore>>> {
    /// The async log over a file store it shares with a blocking
    /// [`AuditLog`](crate::AuditLog) (built with
    /// [`AuditLog::from_shared_file_store`](crate::AuditLog::from_shared_file_store)):
    /// the same segment files, origin and checkpoint key. Requests append
    /// through this one (concurrent appends share one `fsync` without a
    /// blocking thread per request); code that already blocks uses the other.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use palisade_audit::{AsyncAuditLog, AuditLog, Event, FileOptions, FileStore};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), palisade_audit::Error> {
    /// # let dir = tempfile::tempdir()?;
    /// let store = Arc::new(FileStore::open(dir.path(), FileOptions::default())?);
    /// let blocking = AuditLog::from_shared_file_store(Arc::clone(&store), None)?;
    /// let requests = AsyncAuditLog::from_shared_file_store(store, None)?;
    /// requests.append(Event::new("staff:alice", "customer.read", "customers/4711")).await?;
    /// blocking.append(Event::new("system", "retention.sweep", "customers"))?;
    /// assert_eq!(blocking.len()?, 2);
    /// assert_eq!(requests.origin(), blocking.origin());
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_shared_file_store(
        store: Arc<FileStore>,
        signer: Option<CheckpointSigner>,
    ) -> Result<AsyncAuditLog<BlockingStore<Arc<FileStore>>>> {
        let (origin, signer, last) = crate::log::file_identity(&store, signer)?;
        let log = AsyncAuditLog::builder(BlockingStore::new(store))
            .with_signer(origin, signer)
            .build();
        log.shared.core.checkpointed(last)?;
        Ok(log)
    }
}

impl<S: AsyncStore> AsyncAuditLog<S> {
    /// A builder for a log over `store` (which may already hold records).
    pub fn builder(store: S) -> AsyncLogBuilder<S> {
        AsyncLogBuilder {
            store,
            core: LogCore::new(),
            group: GroupCommit::default(),
        }
    }

    /// The log's origin (its name in checkpoints).
    pub fn origin(&self) -> &str {
        &self.shared.core.origin
    }

    /// The public key that verifies this log's checkpoints, if it signs.
    pub fn verifier(&self) -> Option<CheckpointVerifier> {
        self.shared.core.verifier()
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.shared.store
    }

    /// How the log's group commits went so far.
    pub fn stats(&self) -> CommitStats {
        let c = &self.shared.counters;
        CommitStats {
            batches: c.batches.load(Ordering::Relaxed),
            records: c.records.load(Ordering::Relaxed),
            largest_batch: c.largest_batch.load(Ordering::Relaxed),
            failed_batches: c.failed_batches.load(Ordering::Relaxed),
            failed_checkpoints: c.failed_checkpoints.load(Ordering::Relaxed),
        }
    }

    /// Records one event; resolves once it is durable, committed together
    /// with the events of concurrent callers.
    pub async fn append(&self, event: Event) -> Result<Receipt> {
        let mut receipts = self.append_batch(vec![event]).await?;
        receipts.pop().ok_or(Error::IndexOutOfRange(0))
    }

    /// Records several events in order, in one commit (possibly shared with
    /// concurrent callers); resolves once they are durable.
    pub async fn append_batch(&self, events: Vec<Event>) -> Result<Vec<Receipt>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let sealed = self.shared.core.seal_all(events)?;
        let (reply, answer) = oneshot::channel();
        let start_writer = {
            let mut queue = self.shared.queue();
            queue.records += sealed.len();
            queue.jobs.push_back(Job { sealed, reply });
            !std::mem::replace(&mut queue.writer, true)
        };
        if start_writer {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(write(Arc::clone(&self.shared)));
                }
                Err(_) => {
                    let mut queue = self.shared.queue();
                    queue.writer = false;
                    queue.jobs.clear();
                    queue.records = 0;
                    return Err(Error::RuntimeMissing);
                }
            }
        }
        answer.await.map_err(|_| Error::WorkerStopped)?
    }

    /// Signs and stores a checkpoint of the current tree head; returns the
    /// note. Fails with [`Error::SignerMissing`] without a signer.
    pub async fn checkpoint(&self) -> Result<String> {
        checkpoint(&self.shared).await
    }

    /// The stored checkpoints, oldest first.
    pub async fn checkpoints(&self) -> Result<Vec<String>> {
        self.shared.store.checkpoints().await
    }

    /// Number of acknowledged records (of every instance sharing the store).
    pub async fn len(&self) -> Result<u64> {
        self.shared.store.len().await
    }

    /// Whether the log has no records.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// The current size and Merkle root.
    pub async fn head(&self) -> Result<(u64, Hash)> {
        head(&self.shared).await
    }

    /// The Merkle root of the first `size` records.
    pub async fn root(&self, size: u64) -> Result<Hash> {
        sync_tree(&self.shared).await?;
        self.shared.core.tree()?.root(size)
    }

    /// The inclusion proof of record `index` in the tree of `size` records.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        sync_tree(&self.shared).await?;
        self.shared.core.tree()?.inclusion_proof(index, size)
    }

    /// The consistency proof between tree sizes `old` and `new`.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>> {
        sync_tree(&self.shared).await?;
        self.shared.core.tree()?.consistency_proof(old, new)
    }

    /// Record `index`.
    pub async fn get(&self, index: u64) -> Result<Record> {
        self.shared
            .store
            .read(index, index.saturating_add(1))
            .await?
            .pop()
            .ok_or(Error::IndexOutOfRange(index))
    }

    /// Records `start..end`.
    pub async fn read(&self, start: u64, end: u64) -> Result<Vec<Record>> {
        self.shared.store.read(start, end).await
    }

    /// Records matching `query`, in index order.
    pub async fn query(&self, query: &Query) -> Result<Vec<Record>> {
        self.shared.store.query(query).await
    }

    /// Erases the payloads of every record concerning `subject` and records
    /// the erasure, by `actor`, first; as
    /// [`AuditLog::erase_subject`](crate::AuditLog::erase_subject).
    pub async fn erase_subject(&self, subject: &str, actor: &str) -> Result<Erasure> {
        let hits = self.shared.store.query(&Query::subject(subject)).await?;
        let targets = erasure_targets(&hits);
        let receipt = self.append(erasure_event(subject, actor, &targets)).await?;
        let mut erased = Vec::new();
        for index in targets {
            if self.shared.store.erase_payload(index).await? {
                erased.push(index);
            }
        }
        Ok(Erasure { erased, receipt })
    }

    /// Exports records `start..end` as an evidence bundle; as
    /// [`AuditLog::export`](crate::AuditLog::export).
    pub async fn export(&self, start: u64, end: u64) -> Result<Bundle> {
        let shared = &self.shared;
        let len = shared.store.len().await?;
        let key = shared.core.export_key(start, end, len)?;
        let notes = shared
            .core
            .open_notes(&key, shared.store.checkpoints().await?);
        let latest = match LogCore::covering(&notes, end) {
            Some(latest) => latest,
            None => {
                let note = checkpoint(shared).await?;
                let cp = key.open(&note)?;
                (note, cp)
            }
        };
        let records = shared.store.read(start, end).await?;
        sync_tree(shared).await?;
        let tree = shared.core.tree()?;
        shared
            .core
            .assemble(&key, &tree, &notes, latest, start, records)
    }

    /// Verifies the whole log in the store as
    /// [`verify_store`](crate::verify_store) does, against this log's origin
    /// and public key.
    pub async fn verify(&self) -> Result<LogReport> {
        verify_async_store(
            &self.shared.store,
            Some(self.origin()),
            self.verifier().as_ref(),
        )
        .await
    }
}

impl<S: AsyncStore> AsyncAuditSink for AsyncAuditLog<S> {
    fn record(&self, event: Event) -> Pin<Box<dyn Future<Output = Result<Receipt>> + Send + '_>> {
        Box::pin(self.append(event))
    }
}

/// Verifies a log held in an [`AsyncStore`], as
/// [`verify_store`](crate::verify_store) does for a blocking one.
pub async fn verify_async_store<S: AsyncStore>(
    store: &S,
    origin: Option<&str>,
    key: Option<&CheckpointVerifier>,
) -> Result<LogReport> {
    let mut checker = StoreChecker::default();
    let len = store.len().await?;
    while let Some((start, end)) = checker.next_chunk(len) {
        let records = store.read(start, end).await?;
        let stored = store.leaf_hashes(start, end).await?;
        checker.check(start, end, records, stored)?;
    }
    checker.finish(&store.checkpoints().await?, origin, key)
}

/// Brings the in-memory tree up to the store's length; returns that length.
async fn sync_tree<S: AsyncStore>(shared: &Shared<S>) -> Result<u64> {
    let len = shared.store.len().await?;
    loop {
        let have = shared.core.tree()?.len();
        if have >= len {
            return Ok(len);
        }
        let end = len.min(have + TREE_CHUNK);
        let hashes = shared.store.leaf_hashes(have, end).await?;
        if hashes.is_empty() {
            return Err(Error::IndexOutOfRange(have));
        }
        shared.core.extend_tree(have, hashes)?;
    }
}

async fn head<S: AsyncStore>(shared: &Shared<S>) -> Result<(u64, Hash)> {
    sync_tree(shared).await?;
    let tree = shared.core.tree()?;
    let size = tree.len();
    Ok((size, tree.root(size)?))
}

async fn checkpoint<S: AsyncStore>(shared: &Shared<S>) -> Result<String> {
    let (size, root) = head(shared).await?;
    let note = shared.core.sign(size, root)?;
    shared.store.add_checkpoint(&note).await?;
    shared.core.checkpointed(size)?;
    Ok(note)
}

/// Fails the queued callers if the writer ends without emptying the queue
/// (its runtime shut down mid-commit): they get [`Error::WorkerStopped`]
/// instead of waiting forever, and the next append starts a new writer.
struct WriterGuard<'a, S> {
    shared: &'a Shared<S>,
    done: bool,
}

impl<S> Drop for WriterGuard<'_, S> {
    fn drop(&mut self) {
        if !self.done {
            let mut queue = self.shared.queue();
            queue.jobs.clear();
            queue.records = 0;
            queue.writer = false;
        }
    }
}

/// The writer: commits queued jobs in batches until the queue is empty.
async fn write<S: AsyncStore>(shared: Arc<Shared<S>>) {
    let mut guard = WriterGuard {
        shared: &shared,
        done: false,
    };
    let group = shared.group;
    loop {
        if !group.max_delay.is_zero() && shared.queue().records < group.max_batch {
            tokio::time::sleep(group.max_delay).await;
        }
        let jobs = {
            let mut queue = shared.queue();
            if queue.jobs.is_empty() {
                queue.writer = false;
                guard.done = true;
                return;
            }
            let mut jobs = Vec::new();
            let mut count = 0;
            while let Some(job) = queue.jobs.front() {
                let n = job.sealed.len();
                if !jobs.is_empty() && count + n > group.max_batch {
                    break;
                }
                count += n;
                if let Some(job) = queue.jobs.pop_front() {
                    jobs.push(job);
                }
            }
            queue.records = queue.records.saturating_sub(count);
            jobs
        };
        commit(&shared, jobs).await;
    }
}

/// Appends the jobs' events as one batch and answers each caller: receipts
/// only after the store's append returned (the batch is durable), an error
/// for every caller if it failed.
async fn commit<S: AsyncStore>(shared: &Shared<S>, jobs: Vec<Job>) {
    let mut batch = Vec::new();
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        replies.push((job.sealed.len(), job.reply));
        batch.extend(job.sealed);
    }
    let count = batch.len();
    let counters = &shared.counters;
    match shared.store.append(batch).await {
        Ok(receipts) if receipts.len() == count => {
            shared.core.note_appended(&receipts);
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters.records.fetch_add(count as u64, Ordering::Relaxed);
            counters
                .largest_batch
                .fetch_max(count as u64, Ordering::Relaxed);
            let next = receipts.last().map(|r| r.index + 1);
            let mut rest = receipts.into_iter();
            for (n, reply) in replies {
                // A caller that gave up has dropped its receiver: its record
                // is committed all the same.
                let _ = reply.send(Ok(rest.by_ref().take(n).collect()));
            }
            if let Some(len) = next
                && shared.core.checkpoint_due(len).unwrap_or(false)
                && checkpoint(shared).await.is_err()
            {
                counters.failed_checkpoints.fetch_add(1, Ordering::Relaxed);
            }
        }
        outcome => {
            let error = Arc::new(match outcome {
                Err(e) => e,
                Ok(receipts) => Error::IndexOutOfRange(receipts.len() as u64),
            });
            counters.failed_batches.fetch_add(1, Ordering::Relaxed);
            for (_, reply) in replies {
                let _ = reply.send(Err(Error::BatchFailed(Arc::clone(&error))));
            }
        }
    }
}
