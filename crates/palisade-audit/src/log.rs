//! The front door: `AuditLog` over a store.

use std::sync::{Mutex, MutexGuard};

use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::bundle::{Bundle, BundlePayload, BundleRecord, EarlierCheckpoint, ProvenLeaf};
use crate::checkpoint::{Checkpoint, CheckpointSigner, CheckpointVerifier};
use crate::file::{FileOptions, FileStore};
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
    signer: Option<CheckpointSigner>,
    origin: String,
    policy: CheckpointPolicy,
    last_checkpoint: Mutex<(u64, Instant)>,
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
            signer: None,
            origin: String::from("palisade-audit"),
            policy: CheckpointPolicy::default(),
            last_checkpoint: Mutex::new((0, Instant::now())),
            rng: Mutex::new(None),
            tree: Mutex::new(MerkleTree::new()),
        }
    }

    /// Signs checkpoints with `signer` for the log named `origin`.
    pub fn with_signer(mut self, origin: impl Into<String>, signer: CheckpointSigner) -> Self {
        self.origin = origin.into();
        self.signer = Some(signer);
        self
    }

    /// Writes checkpoints automatically under `policy` (needs a signer).
    pub fn with_checkpoint_policy(mut self, policy: CheckpointPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The log's origin (its name in checkpoints).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The public key that verifies this log's checkpoints, if it signs.
    pub fn verifier(&self) -> Option<CheckpointVerifier> {
        self.signer.as_ref().map(CheckpointSigner::verifier)
    }

    /// Signs and stores a checkpoint of the current tree head; returns the
    /// note. Fails without a signer.
    pub fn checkpoint(&self) -> Result<String> {
        let signer = self
            .signer
            .as_ref()
            .ok_or_else(|| Error::InvalidRequest("the log has no signing key".into()))?;
        let mut last = self.last_checkpoint.lock().map_err(|_| Error::Poisoned)?;
        let (size, root) = self.head()?;
        let note = signer.sign(&Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            time: SystemTime::now(),
        })?;
        self.store.add_checkpoint(&note)?;
        *last = (size, Instant::now());
        Ok(note)
    }

    /// Exports records `start..end` as an evidence bundle, proven against
    /// the latest checkpoint (a new one is signed if none covers `end`), with
    /// the earliest checkpoint that covers `end` as evidence of when the
    /// records were already in the log.
    pub fn export(&self, start: u64, end: u64) -> Result<Bundle> {
        let key = self
            .verifier()
            .ok_or_else(|| Error::InvalidRequest("the log has no signing key".into()))?;
        if start >= end {
            return Err(Error::InvalidRequest(format!(
                "empty range `{start}..{end}`"
            )));
        }
        if end > self.len()? {
            return Err(Error::OutOfRange(end));
        }
        if end - start > crate::bundle::MAX_BUNDLE_RECORDS as u64 {
            return Err(Error::InvalidRequest(
                "range too large for one bundle".into(),
            ));
        }
        let mut notes: Vec<(String, Checkpoint)> = Vec::new();
        for note in self.checkpoints()? {
            if let Ok(cp) = key.open(&note)
                && cp.origin == self.origin
            {
                notes.push((note, cp));
            }
        }
        let (note, cp) = match notes.last() {
            Some((n, cp)) if cp.size >= end => (n.clone(), cp.clone()),
            _ => {
                let n = self.checkpoint()?;
                let cp = key.open(&n)?;
                (n, cp)
            }
        };
        let tree = self.sync_tree()?;
        let previous = if start == 0 {
            None
        } else {
            Some(ProvenLeaf {
                leaf_hash: *tree.leaf(start - 1).ok_or(Error::OutOfRange(start - 1))?,
                inclusion: tree.inclusion_proof(start - 1, cp.size)?,
            })
        };
        let mut records = Vec::new();
        for (i, r) in (start..end).zip(self.store.read(start, end)?) {
            records.push(BundleRecord {
                record: r.encode(),
                payload: BundlePayload::from_state(r.payload_state()),
                inclusion: tree.inclusion_proof(i, cp.size)?,
            });
        }
        let mut earlier_checkpoints = Vec::new();
        if let Some((n, old)) = notes
            .iter()
            .find(|(_, c)| c.size >= end && c.size < cp.size)
        {
            earlier_checkpoints.push(EarlierCheckpoint {
                note: n.clone(),
                consistency: tree.consistency_proof(old.size, cp.size)?,
            });
        }
        Ok(Bundle {
            format: crate::bundle::BUNDLE_FORMAT.to_owned(),
            origin: self.origin.clone(),
            public_key: key.to_text(),
            checkpoint: note,
            start,
            previous,
            records,
            earlier_checkpoints,
        })
    }

    /// The stored checkpoints, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<String>> {
        self.store.checkpoints()
    }

    fn maybe_checkpoint(&self, len: u64) -> Result<()> {
        if self.signer.is_none() {
            return Ok(());
        }
        let due = {
            let last = self.last_checkpoint.lock().map_err(|_| Error::Poisoned)?;
            len > last.0
                && (self.policy.every_records.is_some_and(|n| len - last.0 >= n)
                    || self.policy.every.is_some_and(|t| last.1.elapsed() >= t))
        };
        if due {
            self.checkpoint()?;
        }
        Ok(())
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
        if let Some(last) = receipts.last() {
            self.maybe_checkpoint(last.index + 1)?;
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
            Event::new(actor, crate::verify::ERASE_ACTION, "audit-log")
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

/// When checkpoints are written automatically (checked after each append).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// After this many new records.
    pub every_records: Option<u64>,
    /// After this much time, at the next append.
    pub every: Option<Duration>,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy {
            every_records: Some(10_000),
            every: Some(Duration::from_secs(60)),
        }
    }
}

/// File names in a log directory besides the store's own.
pub const KEY_FILE: &str = "checkpoint.key";
/// The public key file in a log directory.
pub const PUBLIC_KEY_FILE: &str = "checkpoint.pub";
/// The file naming the log (its origin).
pub const ORIGIN_FILE: &str = "origin";

impl AuditLog<FileStore> {
    /// Opens (creating if needed) the log in `dir`: its segments, its origin
    /// and its checkpoint key. A new log gets a random origin and a fresh key,
    /// written to `dir/checkpoint.key` with mode 0600, and the public key to
    /// `dir/checkpoint.pub`.
    pub fn open(dir: impl AsRef<Path>, options: FileOptions) -> Result<AuditLog<FileStore>> {
        let dir = dir.as_ref();
        let store = FileStore::open(dir, options)?;
        let origin = read_or_create_origin(dir)?;
        let key_path = dir.join(KEY_FILE);
        let signer = if key_path.exists() {
            let text = zeroize::Zeroizing::new(std::fs::read_to_string(&key_path)?);
            CheckpointSigner::from_text(&text)?
        } else {
            let signer = CheckpointSigner::generate(&origin)?;
            write_atomically(dir, KEY_FILE, signer.to_text().as_bytes())?;
            signer
        };
        if !dir.join(PUBLIC_KEY_FILE).exists() {
            let public = signer.verifier().to_text();
            write_atomically(dir, PUBLIC_KEY_FILE, public.as_bytes())?;
        }
        Self::open_with(store, origin, signer)
    }

    /// Opens the store in `dir` with a signing key kept elsewhere.
    pub fn open_with_key(
        dir: impl AsRef<Path>,
        options: FileOptions,
        signer: CheckpointSigner,
    ) -> Result<AuditLog<FileStore>> {
        let dir = dir.as_ref();
        let store = FileStore::open(dir, options)?;
        let origin = read_or_create_origin(dir)?;
        if !dir.join(PUBLIC_KEY_FILE).exists() {
            let public = signer.verifier().to_text();
            write_atomically(dir, PUBLIC_KEY_FILE, public.as_bytes())?;
        }
        Self::open_with(store, origin, signer)
    }

    fn open_with(
        store: FileStore,
        origin: String,
        signer: CheckpointSigner,
    ) -> Result<AuditLog<FileStore>> {
        let log = AuditLog::with_store(store).with_signer(origin, signer);
        let last = log
            .store
            .checkpoints()?
            .last()
            .map(|n| crate::checkpoint::parse_checkpoint_unverified(n).map_or(0, |c| c.size));
        if let Ok(mut guard) = log.last_checkpoint.lock() {
            guard.0 = last.unwrap_or(0);
        }
        Ok(log)
    }
}

fn read_or_create_origin(dir: &Path) -> Result<String> {
    let path = dir.join(ORIGIN_FILE);
    if path.exists() {
        return Ok(std::fs::read_to_string(path)?.trim_end().to_owned());
    }
    let mut id = [0u8; 8];
    rand_core::RngCore::try_fill_bytes(&mut OsRng, &mut id).map_err(|_| Error::Entropy)?;
    let origin = format!(
        "palisade-audit/{}",
        id.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    write_atomically(dir, ORIGIN_FILE, origin.as_bytes())?;
    Ok(origin)
}

/// Writes `dir/name` (plus a newline) through a temporary file and a rename,
/// so a crash leaves either no file or the whole file. Every file of a log
/// folder is private to its owner (mode 0600 from the start): the public key
/// is not secret, but the folder holds personal data and is checked as one.
pub(crate) fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
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
