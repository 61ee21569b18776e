//! The file store: append-only segment files with group commit.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::format::{CHECKPOINTS_FILE, LOCK_FILE, SEGMENTS_DIR};
use crate::record::{Record, Sealed};
use crate::store::recovery::{Mode, Recovery, Scanned, scan};
use crate::store::segment::{
    FRAME_HEADER_LEN, SEGMENT_HEADER_LEN, encode_frame, encode_sidecar, erased_sidecar,
    frame_to_record, masked_crc, read_frame, segment_header,
};
use crate::store::{Query, Receipt, Store};
use crate::{Error, Finding, Hash, Result};

/// When appended records reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Every append call is followed by its own `fsync` before it returns.
    EveryAppend,
    /// Concurrent appends share `fsync`s: the first waiting writer syncs for
    /// everyone, waiting up to `max_delay` (or until `max_batch` records are
    /// pending) for others to join. Appends still return only once durable.
    GroupCommit {
        /// Stop waiting for company once this many records are pending.
        max_batch: usize,
        /// The longest a writer waits for company before syncing.
        max_delay: Duration,
    },
    /// Never `fsync`: records survive a process crash (they are in the
    /// operating system's cache) but not a power loss.
    None,
}

impl Default for Durability {
    fn default() -> Self {
        Durability::GroupCommit {
            max_batch: 1024,
            max_delay: Duration::ZERO,
        }
    }
}

/// Options of a [`FileStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileOptions {
    /// The durability policy.
    pub durability: Durability,
    /// Start a new segment file once the current one reaches this size.
    pub segment_size: u64,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            durability: Durability::default(),
            segment_size: 64 << 20,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Position {
    segment: u32,
    offset: u64,
    record_len: u32,
    sidecar_len: u32,
}

impl Position {
    fn frame_len(&self) -> u64 {
        FRAME_HEADER_LEN as u64 + u64::from(self.record_len) + u64::from(self.sidecar_len)
    }
}

pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    pub(crate) file: Arc<File>,
}

/// What the store knows of its records: where each frame is, its leaf hash
/// and time, and the subject and actor indexes.
pub(crate) struct Index {
    dir: PathBuf,
    pub(crate) segments: Vec<Segment>,
    pub(crate) current_len: u64,
    pub(crate) next_index: u64,
    last_hash: Hash,
    positions: Vec<Position>,
    leaf_hashes: Vec<Hash>,
    times: Vec<i64>,
    by_subject: HashMap<String, Vec<u64>>,
    by_actor: HashMap<String, Vec<u64>>,
    failed: bool,
    buf: Vec<u8>,
}

struct SyncState {
    written: u64,
    durable: u64,
    syncing: bool,
    failed: bool,
    file: Arc<File>,
}

/// A log kept in append-only segment files in one directory.
///
/// Layout (see [`crate::format`]): `DIR/segments/<first index, 20
/// digits>.seg` and `DIR/checkpoints.log`. One process appends at a time (an
/// advisory lock on `DIR/LOCK` enforces it); any number may read or verify.
///
/// After a crash, [`FileStore::open`] refuses a directory with a torn tail
/// ([`Error::RecoveryNeeded`]); [`FileStore::recover`] repairs it, opens it,
/// and reports what it dropped or finished in a [`Recovery`]. A service that
/// restarts unattended calls `recover` and logs the report.
pub struct FileStore {
    options: FileOptions,
    inner: Mutex<Index>,
    sync: Mutex<SyncState>,
    synced: Condvar,
    checkpoints: Mutex<File>,
    _lock: File,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(SEGMENTS_DIR).join(format!("{first:020}.seg"))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// The segment files of a log directory, in order.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let seg_dir = dir.join(SEGMENTS_DIR);
    if !seg_dir.exists() {
        return Ok(out);
    }
    for entry in fs::read_dir(seg_dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(stem) = name.strip_suffix(".seg") else {
            continue;
        };
        if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
            let first: u64 = stem.parse().map_err(|_| Error::IndexOutOfRange(0))?;
            out.push((first, path));
        }
    }
    out.sort();
    Ok(out)
}

impl FileStore {
    /// Opens (or creates) the log in `dir` for appending, checking every
    /// record's index and chain link on the way.
    ///
    /// Opening never repairs: a directory that a crash left with an
    /// incomplete tail or an interrupted erasure is refused with
    /// [`Error::RecoveryNeeded`] naming the place; [`FileStore::recover`]
    /// repairs it. Damage anywhere else is [`Error::LogInvalid`]; another
    /// process appending is [`Error::LogLocked`].
    pub fn open(dir: impl AsRef<Path>, options: FileOptions) -> Result<FileStore> {
        let (store, _clean) = FileStore::open_in(dir.as_ref(), options, Mode::Strict)?;
        Ok(store)
    }

    /// Repairs what a crash left in `dir` and opens it: an incomplete record
    /// at the very end of the log (a write torn by the crash, never
    /// acknowledged) is dropped, an interrupted payload erasure is finished,
    /// and both are reported in the returned [`Recovery`]. Damage anywhere
    /// else is not repaired: it is [`Error::LogInvalid`] naming the record.
    ///
    /// ```
    /// use palisade_audit::{FileOptions, FileStore};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let (store, recovery) = FileStore::recover(dir.path(), FileOptions::default())?;
    /// if !recovery.is_clean() {
    ///     eprintln!("audit log recovered: {recovery:?}");
    /// }
    /// # drop(store);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recover(dir: impl AsRef<Path>, options: FileOptions) -> Result<(FileStore, Recovery)> {
        FileStore::open_in(dir.as_ref(), options, Mode::Repair)
    }

    fn open_in(dir: &Path, options: FileOptions, mode: Mode) -> Result<(FileStore, Recovery)> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir.join(SEGMENTS_DIR))?;
        let lock = OpenOptions::new()
            .mode(0o600)
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        if fs4::FileExt::try_lock(&lock).is_err() {
            return Err(Error::LogLocked);
        }
        let Scanned {
            index,
            checkpoints,
            recovery,
        } = scan(dir, mode)?;
        let file = index
            .segments
            .last()
            .map(|s| Arc::clone(&s.file))
            .ok_or(Error::IndexOutOfRange(0))?;
        let n = index.next_index;
        let store = FileStore {
            options,
            inner: Mutex::new(index),
            sync: Mutex::new(SyncState {
                written: n,
                durable: n,
                syncing: false,
                failed: false,
                file,
            }),
            synced: Condvar::new(),
            checkpoints: Mutex::new(checkpoints),
            _lock: lock,
        };
        Ok((store, recovery))
    }

    /// The directory of the log.
    pub fn dir(&self) -> Result<PathBuf> {
        Ok(self.inner()?.dir.clone())
    }

    /// The options in force.
    pub fn options(&self) -> &FileOptions {
        &self.options
    }

    fn inner(&self) -> Result<MutexGuard<'_, Index>> {
        self.inner.lock().map_err(|_| Error::LockPoisoned)
    }

    fn sync_state(&self) -> Result<MutexGuard<'_, SyncState>> {
        self.sync.lock().map_err(|_| Error::LockPoisoned)
    }

    /// Waits until record `target - 1` is durable, syncing as the leader of
    /// a group when nobody else is.
    fn wait_durable(&self, target: u64, max_batch: usize, max_delay: Duration) -> Result<()> {
        let mut state = self.sync_state()?;
        loop {
            if state.failed {
                return Err(Error::IoFailed(std::io::Error::other(
                    "an earlier fsync failed",
                )));
            }
            if state.durable >= target {
                return Ok(());
            }
            if state.syncing {
                state = self.synced.wait(state).map_err(|_| Error::LockPoisoned)?;
                continue;
            }
            state.syncing = true;
            if !max_delay.is_zero() {
                let deadline = Instant::now() + max_delay;
                while state.written.saturating_sub(state.durable) < max_batch as u64 {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    let (s, _) = self
                        .synced
                        .wait_timeout(state, deadline - now)
                        .map_err(|_| Error::LockPoisoned)?;
                    state = s;
                }
            }
            let upto = state.written;
            let file = Arc::clone(&state.file);
            drop(state);
            let outcome = file.sync_data();
            state = self.sync_state()?;
            state.syncing = false;
            match outcome {
                Ok(()) => state.durable = state.durable.max(upto),
                Err(_) => state.failed = true,
            }
            self.synced.notify_all();
        }
    }
}

/// Splits a checkpoints file into notes; returns them and the length of the
/// valid prefix.
pub(crate) fn parse_checkpoint_frames(bytes: &[u8]) -> (Vec<String>, usize) {
    let mut notes = Vec::new();
    let mut at = 0;
    while let Some(rest) = bytes.get(at..) {
        let (Some(len), Some(crc)) = (
            rest.get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes),
            rest.get(4..8)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes),
        ) else {
            break;
        };
        let len = len as usize;
        if len > crate::format::MAX_NOTE_LEN {
            break;
        }
        let Some(note) = rest.get(8..8 + len) else {
            break;
        };
        if masked_crc(note) != crc {
            break;
        }
        let Ok(text) = std::str::from_utf8(note) else {
            break;
        };
        notes.push(text.to_owned());
        at += 8 + len;
    }
    (notes, at)
}

pub(crate) fn checkpoint_frame(note: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + note.len());
    out.extend_from_slice(&u32::try_from(note.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&masked_crc(note.as_bytes()).to_le_bytes());
    out.extend_from_slice(note.as_bytes());
    out
}

impl Index {
    pub(crate) fn new(dir: PathBuf) -> Index {
        Index {
            dir,
            segments: Vec::new(),
            current_len: 0,
            next_index: 0,
            last_hash: Hash::ZERO,
            positions: Vec::new(),
            leaf_hashes: Vec::new(),
            times: Vec::new(),
            by_subject: HashMap::new(),
            by_actor: HashMap::new(),
            failed: false,
            buf: Vec::new(),
        }
    }

    pub(crate) fn admit(
        &mut self,
        record: &Record,
        segment: u32,
        offset: u64,
        frame: &crate::store::segment::Frame<'_>,
    ) -> Result<()> {
        if record.index() != self.next_index {
            return Err(Error::LogInvalid(Finding::at(
                self.next_index,
                format!("found record `{}` in its place", record.index()),
            )));
        }
        if record.previous() != &self.last_hash {
            return Err(Error::LogInvalid(Finding::at(
                self.next_index,
                "does not chain to the previous record",
            )));
        }
        self.push(
            record,
            Position {
                segment,
                offset,
                record_len: u32::try_from(frame.record.len())
                    .map_err(|_| Error::IndexOutOfRange(0))?,
                sidecar_len: u32::try_from(frame.sidecar.len())
                    .map_err(|_| Error::IndexOutOfRange(0))?,
            },
        );
        Ok(())
    }

    fn push(&mut self, record: &Record, position: Position) {
        let index = record.index();
        self.positions.push(position);
        self.leaf_hashes.push(*record.leaf_hash());
        self.times.push(record.time_nanos());
        for s in record.subjects() {
            match self.by_subject.get_mut(s) {
                Some(indexes) => indexes.push(index),
                None => {
                    self.by_subject.insert(s.to_owned(), vec![index]);
                }
            }
        }
        self.by_actor
            .entry(record.actor().to_owned())
            .or_default()
            .push(index);
        self.next_index = index + 1;
        self.last_hash = *record.leaf_hash();
    }

    pub(crate) fn new_segment(&mut self) -> Result<()> {
        let path = segment_path(&self.dir, self.next_index);
        let mut file = OpenOptions::new()
            .mode(0o600)
            .create_new(true)
            .read(true)
            .append(true)
            .open(&path)?;
        file.write_all(&segment_header(self.next_index))?;
        file.sync_all()?;
        sync_dir(&self.dir.join(SEGMENTS_DIR))?;
        self.segments.push(Segment {
            path,
            file: Arc::new(file),
        });
        self.current_len = SEGMENT_HEADER_LEN as u64;
        Ok(())
    }

    fn read_range(&self, start: u64, end: u64) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let mut i = start;
        while i < end {
            let Some(first) = self.positions.get(i as usize) else {
                break;
            };
            // A run of records in the same segment, read with one call.
            let mut j = i;
            let mut span_end = first.offset;
            while j < end {
                match self.positions.get(j as usize) {
                    Some(p) if p.segment == first.segment => {
                        span_end = p.offset + p.frame_len();
                        j += 1;
                    }
                    _ => break,
                }
            }
            let segment = self
                .segments
                .get(first.segment as usize)
                .ok_or(Error::IndexOutOfRange(i))?;
            let mut bytes = vec![
                0u8;
                usize::try_from(span_end - first.offset)
                    .map_err(|_| Error::IndexOutOfRange(i))?
            ];
            segment.file.read_exact_at(&mut bytes, first.offset)?;
            let mut at = 0;
            for _ in i..j {
                let rest = bytes.get(at..).unwrap_or_default();
                let frame = read_frame(rest)
                    .map_err(|e| Error::LogInvalid(Finding::at(i, e.describe())))?;
                out.push(frame_to_record(&frame)?);
                at += frame.len;
            }
            i = j;
        }
        Ok(out)
    }
}

impl Store for FileStore {
    fn len(&self) -> Result<u64> {
        Ok(self.sync_state()?.durable)
    }

    fn append(&self, batch: Vec<Sealed>) -> Result<Vec<Receipt>> {
        let target;
        let mut receipts = Vec::with_capacity(batch.len());
        {
            let mut inner = self.inner()?;
            if inner.failed {
                return Err(Error::IoFailed(std::io::Error::other(
                    "an earlier write failed",
                )));
            }
            let mut buf = std::mem::take(&mut inner.buf);
            buf.clear();
            if inner.current_len > SEGMENT_HEADER_LEN as u64
                && inner.current_len >= self.options.segment_size
            {
                // Rotate: the old segment is synced in full first.
                if let Some(seg) = inner.segments.last() {
                    seg.file.sync_all()?;
                }
                inner.new_segment()?;
                let file = inner
                    .segments
                    .last()
                    .map(|s| Arc::clone(&s.file))
                    .ok_or(Error::IndexOutOfRange(0))?;
                let mut state = self.sync_state()?;
                state.file = file;
                state.durable = state.written;
            }
            let seg_no = u32::try_from(inner.segments.len().saturating_sub(1))
                .map_err(|_| Error::IndexOutOfRange(0))?;
            let mut offset = inner.current_len;
            for sealed in batch {
                let record = sealed.place(inner.next_index, inner.last_hash);
                let bytes = record.encode();
                let sidecar = encode_sidecar(record.payload_state());
                let start = buf.len();
                encode_frame(&bytes, &sidecar, &mut buf);
                let position = Position {
                    segment: seg_no,
                    offset,
                    record_len: u32::try_from(bytes.len())
                        .map_err(|_| Error::IndexOutOfRange(0))?,
                    sidecar_len: u32::try_from(sidecar.len())
                        .map_err(|_| Error::IndexOutOfRange(0))?,
                };
                offset += (buf.len() - start) as u64;
                receipts.push(Receipt {
                    index: record.index(),
                    leaf_hash: *record.leaf_hash(),
                });
                inner.push(&record, position);
            }
            let file = inner
                .segments
                .last()
                .map(|s| Arc::clone(&s.file))
                .ok_or(Error::IndexOutOfRange(0))?;
            if let Err(e) = (&*file).write_all(&buf) {
                inner.failed = true;
                return Err(e.into());
            }
            inner.current_len = offset;
            inner.buf = buf;
            target = inner.next_index;
            let mut state = self.sync_state()?;
            state.written = target;
            if self.options.durability == Durability::None {
                state.durable = target;
            }
            self.synced.notify_all();
        }
        match self.options.durability {
            Durability::None => {}
            Durability::EveryAppend => {
                let file = Arc::clone(&self.sync_state()?.file);
                file.sync_data()?;
                let mut state = self.sync_state()?;
                state.durable = state.durable.max(target);
            }
            Durability::GroupCommit {
                max_batch,
                max_delay,
            } => self.wait_durable(target, max_batch, max_delay)?,
        }
        Ok(receipts)
    }

    fn read(&self, start: u64, end: u64) -> Result<Vec<Record>> {
        let end = end.min(self.len()?);
        self.inner()?.read_range(start, end)
    }

    fn leaf_hashes(&self, start: u64, end: u64) -> Result<Vec<Hash>> {
        let end = end.min(self.len()?);
        let inner = self.inner()?;
        let s = usize::try_from(start).unwrap_or(usize::MAX);
        let e = usize::try_from(end).unwrap_or(usize::MAX);
        Ok(inner.leaf_hashes.get(s..e).unwrap_or_default().to_vec())
    }

    fn query(&self, query: &Query) -> Result<Vec<Record>> {
        let len = self.len()?;
        let inner = self.inner()?;
        let candidates: Vec<u64> = match (&query.subject, &query.actor) {
            (Some(s), _) => inner.by_subject.get(s).cloned().unwrap_or_default(),
            (None, Some(a)) => inner.by_actor.get(a).cloned().unwrap_or_default(),
            (None, None) => {
                let since = query.since.map(crate::event::time_to_nanos).transpose()?;
                let until = query.until.map(crate::event::time_to_nanos).transpose()?;
                inner
                    .times
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| {
                        since.is_none_or(|s| **t >= s) && until.is_none_or(|u| **t < u)
                    })
                    .map(|(i, _)| i as u64)
                    .collect()
            }
        };
        let mut out = Vec::new();
        for index in candidates.into_iter().filter(|&i| i < len) {
            for r in inner.read_range(index, index + 1)? {
                if query.matches(&r) {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    fn erase_payload(&self, index: u64) -> Result<bool> {
        let inner = self.inner()?;
        let p = *inner
            .positions
            .get(usize::try_from(index).map_err(|_| Error::IndexOutOfRange(index))?)
            .ok_or(Error::IndexOutOfRange(index))?;
        let record = inner
            .read_range(index, index + 1)?
            .pop()
            .ok_or(Error::IndexOutOfRange(index))?;
        if !matches!(record.payload_state(), crate::PayloadState::Present(_)) {
            return Ok(false);
        }
        let segment = inner
            .segments
            .get(p.segment as usize)
            .ok_or(Error::IndexOutOfRange(index))?;
        let side = erased_sidecar(p.sidecar_len as usize);
        let file = OpenOptions::new().write(true).open(&segment.path)?;
        file.write_all_at(
            &side,
            p.offset + FRAME_HEADER_LEN as u64 + u64::from(p.record_len),
        )?;
        file.write_all_at(&masked_crc(&side).to_le_bytes(), p.offset + 12)?;
        file.sync_data()?;
        Ok(true)
    }

    fn add_checkpoint(&self, note: &str) -> Result<()> {
        let mut file = self.checkpoints.lock().map_err(|_| Error::LockPoisoned)?;
        file.write_all(&checkpoint_frame(note))?;
        file.sync_data()?;
        Ok(())
    }

    fn checkpoints(&self) -> Result<Vec<String>> {
        let mut bytes = Vec::new();
        File::open(self.inner()?.dir.join(CHECKPOINTS_FILE))?.read_to_end(&mut bytes)?;
        Ok(parse_checkpoint_frames(&bytes).0)
    }
}
