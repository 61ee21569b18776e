//! The front door: `AuditLog` over a store.

use std::sync::{Mutex, MutexGuard};

use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};

use crate::merkle::{Hash, MerkleTree};
use crate::record::{Record, Sealed};
use crate::store::{AuditSink, MemoryStore, Query, Receipt, Store};
use crate::{Error, Event, Result};

/// A tamper-evident audit log over a [`Store`].
///
/// Records events, answers queries, proves inclusion and consistency, and
/// erases payloads without breaking any proof. Safe to share between threads.
pub struct AuditLog<S: Store> {
    store: S,
    /// Salts come from a ChaCha20 generator seeded once from the operating
    /// system (seeded on first use, so that construction cannot fail).
    rng: Mutex<Option<ChaCha20Rng>>,
    tree: Mutex<MerkleTree>,
}

/// An audit log held in memory.
pub type MemoryLog = AuditLog<MemoryStore>;

impl AuditLog<MemoryStore> {
    /// An empty log in memory.
    pub fn new() -> MemoryLog {
        AuditLog::with_store(MemoryStore::new())
    }
}

impl Default for AuditLog<MemoryStore> {
    fn default() -> Self {
        AuditLog::new()
    }
}

impl<S: Store> std::fmt::Debug for AuditLog<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

impl<S: Store> AuditLog<S> {
    /// A log over `store` (which may already hold records).
    pub fn with_store(store: S) -> AuditLog<S> {
        AuditLog {
            store,
            rng: Mutex::new(None),
            tree: Mutex::new(MerkleTree::new()),
        }
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn seal_all(&self, events: Vec<Event>) -> Result<Vec<Sealed>> {
        let mut slot = self.rng.lock().map_err(|_| Error::Poisoned)?;
        let rng = match &mut *slot {
            Some(rng) => rng,
            none => none.insert(ChaCha20Rng::from_rng(OsRng).map_err(|_| Error::Entropy)?),
        };
        events.into_iter().map(|e| Sealed::seal(e, rng)).collect()
    }

    /// Records one event; returns once it is durable.
    pub fn append(&self, event: Event) -> Result<Receipt> {
        let mut receipts = self.append_batch(vec![event])?;
        receipts.pop().ok_or(Error::Poisoned)
    }

    /// Records several events in order with one durability barrier.
    pub fn append_batch(&self, events: Vec<Event>) -> Result<Vec<Receipt>> {
        let sealed = self.seal_all(events)?;
        let receipts = self.store.append(sealed)?;
        // Keep the tree current when this batch is next in line; otherwise
        // (concurrent writers) `sync_tree` catches up on demand.
        if let (Ok(mut tree), Some(first)) = (self.tree.lock(), receipts.first())
            && tree.len() == first.index
        {
            for r in &receipts {
                tree.push(r.leaf_hash);
            }
        }
        Ok(receipts)
    }

    /// Brings the in-memory tree up to the store's length and returns it locked.
    fn sync_tree(&self) -> Result<MutexGuard<'_, MerkleTree>> {
        let mut tree = self.tree.lock().map_err(|_| Error::Poisoned)?;
        let len = self.store.len()?;
        while tree.len() < len {
            let end = len.min(tree.len() + 65_536);
            let hashes = self.store.leaf_hashes(tree.len(), end)?;
            if hashes.is_empty() {
                return Err(Error::OutOfRange(tree.len()));
            }
            for h in hashes {
                tree.push(h);
            }
        }
        Ok(tree)
    }

    /// Number of acknowledged records.
    pub fn len(&self) -> Result<u64> {
        self.store.len()
    }

    /// Whether the log has no records.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The current size and Merkle root.
    pub fn head(&self) -> Result<(u64, Hash)> {
        let tree = self.sync_tree()?;
        let size = tree.len();
        Ok((size, tree.root(size)?))
    }

    /// The Merkle root of the first `size` records.
    pub fn root(&self, size: u64) -> Result<Hash> {
        self.sync_tree()?.root(size)
    }

    /// The inclusion proof of record `index` in the tree of `size` records.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        self.sync_tree()?.inclusion_proof(index, size)
    }

    /// The consistency proof between tree sizes `old` and `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>> {
        self.sync_tree()?.consistency_proof(old, new)
    }

    /// Record `index`.
    pub fn get(&self, index: u64) -> Result<Record> {
        self.store
            .read(index, index.saturating_add(1))?
            .pop()
            .ok_or(Error::OutOfRange(index))
    }

    /// Records `start..end`.
    pub fn read(&self, start: u64, end: u64) -> Result<Vec<Record>> {
        self.store.read(start, end)
    }

    /// Records matching `query`, in index order.
    pub fn query(&self, query: &Query) -> Result<Vec<Record>> {
        self.store.query(query)
    }

    /// Erases the payloads of every record concerning `subject` (GDPR
    /// article 17) and records the erasure itself, by `actor`, first.
    ///
    /// Every hash, proof and checkpoint stays valid: the log keeps each
    /// payload's salted commitment and loses only the salt and the text.
    pub fn erase_subject(&self, subject: &str, actor: &str) -> Result<Erasure> {
        let targets: Vec<u64> = self
            .store
            .query(&Query::subject(subject))?
            .iter()
            .filter(|r| matches!(r.payload_state(), crate::PayloadState::Present(_)))
            .map(Record::index)
            .collect();
        let receipt = self.append(
            Event::new(actor, "audit.erase", "audit-log")
                .with_subject(subject)
                .with_payload(serde_json::json!({ "erased": targets })),
        )?;
        let mut erased = Vec::new();
        for index in targets {
            if self.store.erase_payload(index)? {
                erased.push(index);
            }
        }
        Ok(Erasure { erased, receipt })
    }
}

/// What [`AuditLog::erase_subject`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Erasure {
    /// Indexes of the records whose payloads were erased.
    pub erased: Vec<u64>,
    /// The receipt of the event that records the erasure.
    pub receipt: Receipt,
}

impl<S: Store> AuditSink for AuditLog<S> {
    fn record(&self, event: Event) -> Result<Receipt> {
        self.append(event)
    }
}
