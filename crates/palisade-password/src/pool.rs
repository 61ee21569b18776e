//! A hashing pool that bounds the memory Argon2 holds under load.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::hasher::Memory;
use crate::{Error, Password, PasswordHasher, Result, StoredHash, Verdict, Verified};

enum Task {
    Hash(Password),
    Verify(Password, StoredHash),
    Upgrade(Password, StoredHash),
    Dummy(Password),
}

enum Outcome {
    Hash(Result<String>),
    Verify(Result<Verdict>),
    Upgrade(Result<Verified>),
}

enum Reply {
    Blocking(mpsc::SyncSender<Outcome>),
    #[cfg(feature = "tokio")]
    Async(tokio::sync::oneshot::Sender<Outcome>),
}

struct Job {
    task: Task,
    /// Memory the task allocates outside the worker's reused blocks (scrypt), in KiB.
    extra_kib: u64,
    reply: Reply,
}

/// A fixed set of hashing threads that bounds the memory Argon2 holds to a
/// budget: `budget / m_cost` workers (at most one per CPU), each reusing its
/// own preallocated blocks from hash to hash. Requests beyond the workers
/// wait in a queue, so a login flood queues instead of exhausting memory.
///
/// Blocking calls run on the caller's thread until a worker answers; with
/// the `tokio` feature the `*_async` calls await the answer instead, without
/// holding a runtime thread.
///
/// ```
/// use std::sync::Arc;
/// use palisade_password::{HashingPool, ParamsBuilder, Password, PasswordHasher};
///
/// let hasher = PasswordHasher::builder()
///     .params(ParamsBuilder::new().m_cost(1024).build()?)
///     .build()?;
/// let pool = HashingPool::new(Arc::new(hasher), 4 * 1024 * 1024)?;
/// let hash = pool.hash(Password::new("correct horse battery staple")?)?;
/// let verdict = pool.verify(Password::new("correct horse battery staple")?, &hash)?;
/// assert!(verdict.is_valid());
/// # Ok::<(), palisade_password::Error>(())
/// ```
pub struct HashingPool {
    sender: Option<mpsc::Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    worker_kib: u64,
    budget_kib: u64,
}

impl core::fmt::Debug for HashingPool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HashingPool")
            .field("workers", &self.workers.len())
            .field("worker_kib", &self.worker_kib)
            .field("budget_kib", &self.budget_kib)
            .finish_non_exhaustive()
    }
}

impl HashingPool {
    /// Starts a pool over `hasher` whose workers together hold at most
    /// `memory_budget_bytes` of Argon2 memory.
    ///
    /// # Errors
    /// [`Error::BudgetTooSmall`] when the budget cannot hold one hash at the
    /// hasher's parameters.
    pub fn new(hasher: Arc<PasswordHasher>, memory_budget_bytes: u64) -> Result<Self> {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_max_workers(hasher, memory_budget_bytes, cpus)
    }

    /// Like [`new`](Self::new), with at most `max_workers` threads.
    ///
    /// # Errors
    /// As [`new`](Self::new); [`Error::ParamInvalid`] when `max_workers` is 0.
    pub fn with_max_workers(
        hasher: Arc<PasswordHasher>,
        memory_budget_bytes: u64,
        max_workers: usize,
    ) -> Result<Self> {
        if max_workers == 0 {
            return Err(Error::ParamInvalid {
                name: "max_workers",
                requirement: "must be at least 1",
            });
        }
        let budget_kib = memory_budget_bytes / 1024;
        let per_hash = hasher.params().memory_kib().max(1);
        let fit = usize::try_from(budget_kib / per_hash).unwrap_or(usize::MAX);
        if fit == 0 {
            return Err(Error::BudgetTooSmall {
                budget_kib,
                needed_kib: per_hash,
            });
        }
        let count = fit.min(max_workers);
        let worker_kib = budget_kib / count as u64;
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        // The first worker takes over the memory the hasher kept from direct
        // calls, so that it is not held twice.
        let mut kept = Some(hasher.take_kept_memory());
        let workers = (0..count)
            .map(|i| {
                let receiver = Arc::clone(&receiver);
                let hasher = Arc::clone(&hasher);
                let memory = kept.take().unwrap_or_default();
                std::thread::Builder::new()
                    .name(format!("palisade-hash-{i}"))
                    .spawn(move || work(&hasher, &receiver, worker_kib, memory))
                    .map_err(|_| Error::PoolClosed)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            sender: Some(sender),
            workers,
            worker_kib,
            budget_kib,
        })
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// The memory budget, in KiB.
    pub fn budget_kib(&self) -> u64 {
        self.budget_kib
    }

    fn job(&self, task: Task, reply: Reply) -> Result<()> {
        let need_kib = match &task {
            Task::Verify(_, stored) | Task::Upgrade(_, stored) => {
                PasswordHasher::memory_kib_of(stored)
            }
            Task::Hash(_) | Task::Dummy(_) => 0,
        };
        if need_kib > self.worker_kib {
            return Err(Error::BudgetTooSmall {
                budget_kib: self.worker_kib,
                needed_kib: need_kib,
            });
        }
        let extra_kib = match &task {
            Task::Verify(_, stored) | Task::Upgrade(_, stored)
                if stored.scheme() == crate::Scheme::Scrypt =>
            {
                need_kib
            }
            _ => 0,
        };
        let sender = self.sender.as_ref().ok_or(Error::PoolClosed)?;
        sender
            .send(Job {
                task,
                extra_kib,
                reply,
            })
            .map_err(|_| Error::PoolClosed)
    }

    fn blocking(&self, task: Task) -> Result<Outcome> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.job(task, Reply::Blocking(tx))?;
        rx.recv().map_err(|_| Error::PoolClosed)
    }

    /// [`PasswordHasher::hash`] on a worker.
    ///
    /// # Errors
    /// As [`PasswordHasher::hash`]; [`Error::PoolClosed`].
    pub fn hash(&self, password: Password) -> Result<String> {
        match self.blocking(Task::Hash(password))? {
            Outcome::Hash(result) => result,
            _ => Err(Error::PoolClosed),
        }
    }

    /// [`PasswordHasher::verify`] on a worker.
    ///
    /// # Errors
    /// As [`PasswordHasher::verify`]; [`Error::BudgetTooSmall`] when the
    /// stored hash needs more memory than one worker's share of the budget.
    pub fn verify(&self, password: Password, stored_hash: &str) -> Result<Verdict> {
        let stored = StoredHash::parse(stored_hash)?;
        match self.blocking(Task::Verify(password, stored))? {
            Outcome::Verify(result) => result,
            _ => Err(Error::PoolClosed),
        }
    }

    /// [`PasswordHasher::verify_and_upgrade`] on a worker.
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub fn verify_and_upgrade(&self, password: Password, stored_hash: &str) -> Result<Verified> {
        let stored = StoredHash::parse(stored_hash)?;
        match self.blocking(Task::Upgrade(password, stored))? {
            Outcome::Upgrade(result) => result,
            _ => Err(Error::PoolClosed),
        }
    }

    /// [`PasswordHasher::verify_dummy`] on a worker.
    ///
    /// # Errors
    /// As [`PasswordHasher::verify_dummy`]; [`Error::PoolClosed`].
    pub fn verify_dummy(&self, password: Password) -> Result<Verdict> {
        match self.blocking(Task::Dummy(password))? {
            Outcome::Verify(result) => result,
            _ => Err(Error::PoolClosed),
        }
    }
}

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl HashingPool {
    async fn awaiting(&self, task: Task) -> Result<Outcome> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.job(task, Reply::Async(tx))?;
        rx.await.map_err(|_| Error::PoolClosed)
    }

    /// [`hash`](Self::hash), awaiting a worker.
    ///
    /// # Errors
    /// As [`hash`](Self::hash).
    pub async fn hash_async(&self, password: Password) -> Result<String> {
        match self.awaiting(Task::Hash(password)).await? {
            Outcome::Hash(result) => result,
            _ => Err(Error::PoolClosed),
        }
    }

    /// [`verify`](Self::verify), awaiting a worker.
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub async fn verify_async(&self, password: Password, stored_hash: &str) -> Result<Verdict> {
        let stored = StoredHash::parse(stored_hash)?;
        match self.awaiting(Task::Verify(password, stored)).await? {
            Outcome::Verify(result) => result,
            _ => Err(Error::PoolClosed),
        }
    }

    /// [`verify_and_upgrade`](Self::verify_and_upgrade), awaiting a worker.
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub async fn verify_and_upgrade_async(
        &self,
        password: Password,
        stored_hash: &str,
    ) -> Result<Verified> {
        let stored = StoredHash::parse(stored_hash)?;
        match self.awaiting(Task::Upgrade(password, stored)).await? {
            Outcome::Upgrade(result) => result,
            _ => Err(Error::PoolClosed),
        }
    }

    /// [`verify_dummy`](Self::verify_dummy), awaiting a worker.
    ///
    /// # Errors
    /// As [`verify_dummy`](Self::verify_dummy).
    pub async fn verify_dummy_async(&self, password: Password) -> Result<Verdict> {
        match self.awaiting(Task::Dummy(password)).await? {
            Outcome::Verify(result) => result,
            _ => Err(Error::PoolClosed),
        }
    }
}

impl Drop for HashingPool {
    fn drop(&mut self) {
        // Closing the queue lets each worker finish its job and exit.
        drop(self.sender.take());
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn work(
    hasher: &PasswordHasher,
    receiver: &Mutex<mpsc::Receiver<Job>>,
    worker_kib: u64,
    mut memory: Memory,
) {
    loop {
        let job = match receiver.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // scrypt allocates its own memory: release ours first if both would
        // not fit in this worker's share.
        if job.extra_kib > 0 && memory.held_kib().saturating_add(job.extra_kib) > worker_kib {
            memory = Memory::default();
        }
        let outcome = match job.task {
            Task::Hash(password) => Outcome::Hash(
                hasher
                    .hash_in(&password, &mut memory)
                    .map(|h| h.to_string()),
            ),
            Task::Verify(password, stored) => {
                Outcome::Verify(hasher.verify_in(&password, &stored, &mut memory))
            }
            Task::Upgrade(password, stored) => {
                Outcome::Upgrade(hasher.verify_and_upgrade_in(&password, &stored, &mut memory))
            }
            Task::Dummy(password) => {
                Outcome::Verify(hasher.verify_dummy_in(&password, &mut memory))
            }
        };
        match job.reply {
            Reply::Blocking(tx) => {
                let _ = tx.send(outcome);
            }
            #[cfg(feature = "tokio")]
            Reply::Async(tx) => {
                let _ = tx.send(outcome);
            }
        }
    }
}
