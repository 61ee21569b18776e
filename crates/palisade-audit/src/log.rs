//! The front door: `AuditLog` over a store, and the bookkeeping it shares
//! with the async log (salts, the Merkle tree, checkpoint timing, bundle
//! assembly).

use std::cell::RefCell;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore, SeedableRng};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::format::{KEY_FILE, ORIGIN_FILE, PUBLIC_KEY_FILE};
use crate::proof::bundle::{
    BUNDLE_FORMAT, Bundle, BundlePayload, BundleRecord, EarlierCheckpoint, MAX_BUNDLE_RECORDS,
    ProvenLeaf,
};
use crate::proof::checkpoint::{
    Checkpoint, CheckpointSigner, CheckpointVerifier, parse_checkpoint_unverified,
};
use crate::proof::merkle::MerkleTree;
use crate::record::{PayloadState, Record, Sealed};
use crate::store::file::{FileOptions, FileStore};
use crate::store::memory::MemoryStore;
use crate::store::{Query, Receipt, Store};
use crate::verify::ERASE_ACTION;
use crate::{AuditSink, Error, Event, Hash, Result};

/// A tamper-evident audit log over a [`Store`].
///
/// Records events, answers queries, proves inclusion and consistency, signs
/// checkpoints, exports evidence bundles, and erases payloads without
/// breaking any proof. Safe to share between threads; every call blocks
/// until the store answers (an async service uses `AsyncAuditLog`, feature
/// `tokio`).
pub struct AuditLog<S: Store> {
    store: S,
    core: LogCore,
}

impl AuditLog<MemoryStore> {
    /// An empty log in memory.
    pub fn new() -> AuditLog<MemoryStore> {
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
        f.debug_struct("AuditLog")
            .field("origin", &self.core.origin)
            .finish_non_exhaustive()
    }
}

impl<S: Store> AuditLog<S> {
    /// A log over `store` (which may already hold records).
    pub fn with_store(store: S) -> AuditLog<S> {
        AuditLog {
            store,
            core: LogCore::new(),
        }
    }

    /// Signs checkpoints with `signer` for the log named `origin`.
    pub fn with_signer(mut self, origin: impl Into<String>, signer: CheckpointSigner) -> Self {
        self.core.origin = origin.into();
        self.core.signer = Some(signer);
        self
    }

    /// Writes checkpoints automatically under `policy` (needs a signer).
    pub fn with_checkpoint_policy(mut self, policy: CheckpointPolicy) -> Self {
        self.core.policy = policy;
        self
    }

    /// The log's origin (its name in checkpoints).
    pub fn origin(&self) -> &str {
        &self.core.origin
    }

    /// The public key that verifies this log's checkpoints, if it signs.
    pub fn verifier(&self) -> Option<CheckpointVerifier> {
        self.core.verifier()
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Records one event; returns once it is durable.
    pub fn append(&self, event: Event) -> Result<Receipt> {
        // One event: sealed and stored without the batch's lists.
        let sealed = self.core.seal_one(event)?;
        let receipt = self.store.append_one(sealed)?;
        if self.core.checkpoint_due(receipt.index + 1)? {
            self.checkpoint()?;
        }
        Ok(receipt)
    }

    /// Records several events in order with one durability barrier.
    pub fn append_batch(&self, events: Vec<Event>) -> Result<Vec<Receipt>> {
        let sealed = self.core.seal_all(events)?;
        // The Merkle tree is not extended here: it catches up from the
        // stored leaf hashes when a root, a proof or a checkpoint asks for
        // it (`sync_tree`, as after a restart), so that an append costs its
        // record and leaf hash, without the tree's lock and node hashes.
        let receipts = self.store.append(sealed)?;
        if let Some(last) = receipts.last()
            && self.core.checkpoint_due(last.index + 1)?
        {
            self.checkpoint()?;
        }
        Ok(receipts)
    }

    /// Signs and stores a checkpoint of the current tree head; returns the
    /// note. Fails with [`Error::SignerMissing`] without a signer.
    pub fn checkpoint(&self) -> Result<String> {
        let mut last = self.core.checkpoint_lock()?;
        let (size, root) = self.head()?;
        let note = self.core.sign(size, root)?;
        self.store.add_checkpoint(&note)?;
        *last = (size, Instant::now());
        Ok(note)
    }

    /// The stored checkpoints, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<String>> {
        self.store.checkpoints()
    }

    /// Exports records `start..end` as an evidence bundle, proven against
    /// the latest checkpoint (a new one is signed if none covers `end`), with
    /// the earliest checkpoint that covers `end` as evidence of when the
    /// records were already in the log.
    pub fn export(&self, start: u64, end: u64) -> Result<Bundle> {
        let key = self.core.export_key(start, end, self.len()?)?;
        let notes = self.core.open_notes(&key, self.store.checkpoints()?);
        let latest = match LogCore::covering(&notes, end) {
            Some(latest) => latest,
            None => {
                let note = self.checkpoint()?;
                let cp = key.open(&note)?;
                (note, cp)
            }
        };
        let records = self.store.read(start, end)?;
        let tree = self.sync_tree()?;
        self.core
            .assemble(&key, &tree, &notes, latest, start, records)
    }

    /// Brings the in-memory tree up to the store's length and returns it locked.
    fn sync_tree(&self) -> Result<MutexGuard<'_, MerkleTree>> {
        let mut tree = self.core.tree()?;
        let len = self.store.len()?;
        while tree.len() < len {
            let end = len.min(tree.len() + TREE_CHUNK);
            let hashes = self.store.leaf_hashes(tree.len(), end)?;
            if hashes.is_empty() {
                return Err(Error::IndexOutOfRange(tree.len()));
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
            .ok_or(Error::IndexOutOfRange(index))
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
        let targets = erasure_targets(&self.store.query(&Query::subject(subject))?);
        let receipt = self.append(erasure_event(subject, actor, &targets))?;
        let mut erased = Vec::new();
        for index in targets {
            if self.store.erase_payload(index)? {
                erased.push(index);
            }
        }
        Ok(Erasure { erased, receipt })
    }
}

impl<S: Store> AuditSink for AuditLog<S> {
    fn record(&self, event: Event) -> Result<Receipt> {
        self.append(event)
    }
}

/// Leaf hashes fetched per store call while the tree catches up.
pub(crate) const TREE_CHUNK: u64 = 65_536;

/// The records of `hits` whose payload is present: what an erasure erases.
pub(crate) fn erasure_targets(hits: &[Record]) -> Vec<u64> {
    hits.iter()
        .filter(|r| matches!(r.payload_state(), PayloadState::Present(_)))
        .map(Record::index)
        .collect()
}

/// The event that records an erasure of `targets`, recorded before them.
pub(crate) fn erasure_event(subject: &str, actor: &str, targets: &[u64]) -> Event {
    Event::new(actor, ERASE_ACTION, "audit-log")
        .with_subject(subject)
        .with_payload(serde_json::json!({ "erased": targets }))
}

thread_local! {
    /// The thread's salt generator: ChaCha20, seeded from the operating
    /// system on the thread's first draw. One a thread, not one a log behind
    /// a lock: appenders on several cores share no generator state.
    static SALTS: RefCell<Option<ChaCha20Rng>> = const { RefCell::new(None) };
}

/// Fills `out` with salt: from the thread's generator, or from the
/// operating system's where the thread's is out of reach (the thread being
/// torn down).
fn draw(out: &mut [u8]) -> Result<()> {
    let drawn = SALTS.try_with(|slot| -> Result<bool> {
        let Ok(mut slot) = slot.try_borrow_mut() else {
            return Ok(false);
        };
        let rng = match &mut *slot {
            Some(rng) => rng,
            none => {
                none.insert(ChaCha20Rng::from_rng(OsRng).map_err(|_| Error::RandomUnavailable)?)
            }
        };
        rng.fill_bytes(out);
        Ok(true)
    });
    if drawn.unwrap_or(Ok(false))? {
        return Ok(());
    }
    OsRng
        .try_fill_bytes(out)
        .map_err(|_| Error::RandomUnavailable)
}

/// Salts drawn from the thread's generator in one go (a batch's, or one
/// event's), handed out in order by [`Sealed::seal`]. Should sealing ever
/// ask for more than was drawn, the operating system's generator gives the
/// rest. The caller wipes the drawn bytes.
struct Drawn<'a> {
    bytes: &'a [u8],
    taken: usize,
}

impl<'a> Drawn<'a> {
    fn new(bytes: &'a [u8]) -> Drawn<'a> {
        Drawn { bytes, taken: 0 }
    }
}

impl RngCore for Drawn<'_> {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        match self
            .bytes
            .get(self.taken..self.taken.saturating_add(dest.len()))
        {
            Some(drawn) => {
                dest.copy_from_slice(drawn);
                self.taken = self.taken.saturating_add(dest.len());
            }
            None => OsRng.fill_bytes(dest),
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> std::result::Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// The bookkeeping of a log, shared by [`AuditLog`] and the async log: who
/// signs, when, the salt generator, and the Merkle tree kept in memory.
pub(crate) struct LogCore {
    pub(crate) signer: Option<CheckpointSigner>,
    pub(crate) origin: String,
    pub(crate) policy: CheckpointPolicy,
    last_checkpoint: Mutex<(u64, Instant)>,
    tree: Mutex<MerkleTree>,
}

impl LogCore {
    pub(crate) fn new() -> LogCore {
        LogCore {
            signer: None,
            origin: String::from("palisade-audit"),
            policy: CheckpointPolicy::default(),
            last_checkpoint: Mutex::new((0, Instant::now())),
            tree: Mutex::new(MerkleTree::new()),
        }
    }

    pub(crate) fn verifier(&self) -> Option<CheckpointVerifier> {
        self.signer.as_ref().map(CheckpointSigner::verifier)
    }

    pub(crate) fn seal_all(&self, events: Vec<Event>) -> Result<Vec<Sealed>> {
        // Salts are drawn only for payloads. A batch without any (most
        // decision records) needs no generator; the operating system's is
        // passed, should sealing ever draw from it.
        let payloads = events.iter().filter(|e| e.payload().is_some()).count();
        if payloads == 0 {
            return events
                .into_iter()
                .map(|e| Sealed::seal(e, &mut OsRng))
                .collect();
        }
        // The batch's salts are drawn from the thread's generator at once.
        let mut salts = Zeroizing::new(vec![0; payloads.saturating_mul(crate::record::SALT_LEN)]);
        draw(&mut salts)?;
        let mut salts = Drawn::new(&salts);
        events
            .into_iter()
            .map(|e| Sealed::seal(e, &mut salts))
            .collect()
    }

    /// [`LogCore::seal_all`] of one event, its salt drawn on the stack.
    pub(crate) fn seal_one(&self, event: Event) -> Result<Sealed> {
        if event.payload().is_none() {
            return Sealed::seal(event, &mut OsRng);
        }
        let mut salt = Zeroizing::new([0; crate::record::SALT_LEN]);
        draw(&mut *salt)?;
        Sealed::seal(event, &mut Drawn::new(&*salt))
    }

    pub(crate) fn tree(&self) -> Result<MutexGuard<'_, MerkleTree>> {
        self.tree.lock().map_err(|_| Error::LockPoisoned)
    }

    /// Keeps the tree current when this batch is next in line; otherwise
    /// (several writers on one store) the tree catches up on demand. The
    /// async log's committer calls it, off its callers' path.
    #[cfg(feature = "tokio")]
    pub(crate) fn note_appended(&self, receipts: &[Receipt]) {
        if let (Ok(mut tree), Some(first)) = (self.tree.lock(), receipts.first())
            && tree.len() == first.index
        {
            for r in receipts {
                tree.push(r.leaf_hash);
            }
        }
    }

    /// Appends `hashes` as leaves `start..` if the tree still ends at
    /// `start` (another caller may have caught up meanwhile).
    #[cfg(feature = "tokio")]
    pub(crate) fn extend_tree(&self, start: u64, hashes: Vec<Hash>) -> Result<()> {
        let mut tree = self.tree()?;
        if tree.len() == start {
            for h in hashes {
                tree.push(h);
            }
        }
        Ok(())
    }

    pub(crate) fn checkpoint_lock(&self) -> Result<MutexGuard<'_, (u64, Instant)>> {
        self.last_checkpoint.lock().map_err(|_| Error::LockPoisoned)
    }

    /// Whether the policy asks for a checkpoint now that the log has `len`
    /// records.
    pub(crate) fn checkpoint_due(&self, len: u64) -> Result<bool> {
        if self.signer.is_none() {
            return Ok(false);
        }
        let last = self.checkpoint_lock()?;
        Ok(len > last.0
            && (self.policy.every_records.is_some_and(|n| len - last.0 >= n)
                || self.policy.every.is_some_and(|t| last.1.elapsed() >= t)))
    }

    /// Records that a checkpoint of `size` records was stored.
    pub(crate) fn checkpointed(&self, size: u64) -> Result<()> {
        let mut last = self.checkpoint_lock()?;
        if size >= last.0 {
            *last = (size, Instant::now());
        }
        Ok(())
    }

    /// Signs a checkpoint of the tree head `size`, `root`.
    pub(crate) fn sign(&self, size: u64, root: Hash) -> Result<String> {
        let signer = self.signer.as_ref().ok_or(Error::SignerMissing)?;
        signer.sign(&Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            time: SystemTime::now(),
        })
    }

    /// Checks an export request against the log's length; returns the key
    /// the bundle is signed with.
    pub(crate) fn export_key(&self, start: u64, end: u64, len: u64) -> Result<CheckpointVerifier> {
        let key = self.verifier().ok_or(Error::SignerMissing)?;
        if start >= end {
            return Err(Error::RangeInvalid(format!("empty range `{start}..{end}`")));
        }
        if end > len {
            return Err(Error::IndexOutOfRange(end));
        }
        if end - start > MAX_BUNDLE_RECORDS as u64 {
            return Err(Error::RangeInvalid(format!(
                "`{start}..{end}` is more than one bundle holds"
            )));
        }
        Ok(key)
    }

    /// The stored notes this log's key signed, opened.
    pub(crate) fn open_notes(
        &self,
        key: &CheckpointVerifier,
        notes: Vec<String>,
    ) -> Vec<(String, Checkpoint)> {
        notes
            .into_iter()
            .filter_map(|note| {
                let cp = key.open(&note).ok()?;
                (cp.origin == self.origin).then_some((note, cp))
            })
            .collect()
    }

    /// The latest note, if it covers record `end - 1`.
    pub(crate) fn covering(
        notes: &[(String, Checkpoint)],
        end: u64,
    ) -> Option<(String, Checkpoint)> {
        notes.last().filter(|(_, cp)| cp.size >= end).cloned()
    }

    /// Builds the bundle of `records` (starting at `start`) proven against
    /// `latest`, with the earliest stored checkpoint that already covered
    /// them.
    pub(crate) fn assemble(
        &self,
        key: &CheckpointVerifier,
        tree: &MerkleTree,
        notes: &[(String, Checkpoint)],
        latest: (String, Checkpoint),
        start: u64,
        records: Vec<Record>,
    ) -> Result<Bundle> {
        let (note, cp) = latest;
        let end = start + records.len() as u64;
        let previous = match start.checked_sub(1) {
            None => None,
            Some(before) => Some(ProvenLeaf {
                leaf_hash: *tree.leaf(before).ok_or(Error::IndexOutOfRange(before))?,
                inclusion: tree.inclusion_proof(before, cp.size)?,
            }),
        };
        let mut bundled = Vec::with_capacity(records.len());
        for (i, r) in (start..).zip(records) {
            bundled.push(BundleRecord {
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
            format: BUNDLE_FORMAT.to_owned(),
            origin: self.origin.clone(),
            public_key: key.to_text(),
            checkpoint: note,
            start,
            previous,
            records: bundled,
            earlier_checkpoints,
        })
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

impl AuditLog<FileStore> {
    /// Opens (creating if needed) the log in `dir`: its segments, its origin
    /// and its checkpoint key. A new log gets a random origin and a fresh key,
    /// written to `dir/checkpoint.key` with mode 0600, and the public key to
    /// `dir/checkpoint.pub`.
    ///
    /// Like [`FileStore::open`], this never repairs a directory a crash left
    /// with a torn tail ([`Error::RecoveryNeeded`]); to repair and open in
    /// one go, recover the store and build the log from it:
    ///
    /// ```
    /// use palisade_audit::{AuditLog, FileOptions, FileStore};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let (store, recovery) = FileStore::recover(dir.path(), FileOptions::default())?;
    /// if !recovery.is_clean() {
    ///     eprintln!("audit log recovered: {recovery:?}");
    /// }
    /// let log = AuditLog::from_file_store(store, None)?;
    /// # drop(log);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(dir: impl AsRef<Path>, options: FileOptions) -> Result<AuditLog<FileStore>> {
        AuditLog::from_file_store(FileStore::open(dir, options)?, None)
    }

    /// Opens the log in `dir` with a signing key kept elsewhere.
    pub fn open_with_key(
        dir: impl AsRef<Path>,
        options: FileOptions,
        signer: CheckpointSigner,
    ) -> Result<AuditLog<FileStore>> {
        AuditLog::from_file_store(FileStore::open(dir, options)?, Some(signer))
    }

    /// The log over an opened (or recovered) file store: its origin from the
    /// directory (created if missing), and `signer` or else the directory's
    /// key (created if missing, mode 0600, with the public key beside it).
    pub fn from_file_store(
        store: FileStore,
        signer: Option<CheckpointSigner>,
    ) -> Result<AuditLog<FileStore>> {
        let (origin, signer, last) = file_identity(&store, signer)?;
        let log = AuditLog::with_store(store).with_signer(origin, signer);
        log.core.checkpointed(last)?;
        Ok(log)
    }
}

impl AuditLog<Arc<FileStore>> {
    /// [`AuditLog::from_file_store`] over a store it shares, with an async
    /// log (`AsyncAuditLog::from_shared_file_store`, feature `tokio`) for
    /// example: both write the same segment files, which sequence their
    /// appends, and sign checkpoints with the directory's key.
    pub fn from_shared_file_store(
        store: Arc<FileStore>,
        signer: Option<CheckpointSigner>,
    ) -> Result<AuditLog<Arc<FileStore>>> {
        let (origin, signer, last) = file_identity(&store, signer)?;
        let log = AuditLog::with_store(store).with_signer(origin, signer);
        log.core.checkpointed(last)?;
        Ok(log)
    }
}

/// A file log's origin (from its directory, created if missing), its signer
/// (`signer`, or else the directory's key, created if missing, mode 0600,
/// with the public key beside it) and the size of its last checkpoint.
pub(crate) fn file_identity(
    store: &FileStore,
    signer: Option<CheckpointSigner>,
) -> Result<(String, CheckpointSigner, u64)> {
    let dir = store.dir()?;
    let origin = read_or_create_origin(&dir)?;
    let signer = match signer {
        Some(signer) => signer,
        None => {
            let key_path = dir.join(KEY_FILE);
            if key_path.exists() {
                let text = Zeroizing::new(std::fs::read_to_string(&key_path)?);
                CheckpointSigner::from_text(&text)?
            } else {
                let signer = CheckpointSigner::generate(&origin)?;
                write_atomically(&dir, KEY_FILE, signer.to_text().as_bytes())?;
                signer
            }
        }
    };
    if !dir.join(PUBLIC_KEY_FILE).exists() {
        let public = signer.verifier().to_text();
        write_atomically(&dir, PUBLIC_KEY_FILE, public.as_bytes())?;
    }
    let last = store
        .checkpoints()?
        .last()
        .map_or(0, |n| parse_checkpoint_unverified(n).map_or(0, |c| c.size));
    Ok((origin, signer, last))
}

fn read_or_create_origin(dir: &Path) -> Result<String> {
    let path = dir.join(ORIGIN_FILE);
    if path.exists() {
        return Ok(std::fs::read_to_string(path)?.trim_end().to_owned());
    }
    let mut id = [0u8; 8];
    OsRng
        .try_fill_bytes(&mut id)
        .map_err(|_| Error::RandomUnavailable)?;
    let origin = format!("palisade-audit/{}", data_encoding::HEXLOWER.encode(&id));
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Erasure {
    /// Indexes of the records whose payloads were erased.
    pub erased: Vec<u64>,
    /// The receipt of the event that records the erasure.
    pub receipt: Receipt,
}
