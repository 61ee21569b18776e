//! The file store: append-only segment files with group commit and recovery.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::merkle::Hash;
use crate::record::{Record, Sealed};
use crate::segment::{
    FRAME_HEADER_LEN, FrameError, SEGMENT_HEADER_LEN, encode_frame, encode_sidecar, erased_sidecar,
    frame_to_record, masked_crc, parse_segment_header, read_frame, segment_header,
};
use crate::store::{Query, Receipt, Store};
use crate::{Error, Finding, Result};

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

/// What opening a file store found and repaired.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Records found.
    pub records: u64,
    /// Bytes of an incomplete tail record that were dropped (a write torn
    /// by a crash: never acknowledged).
    pub dropped_tail_bytes: u64,
    /// Records whose interrupted payload erasure was completed.
    pub completed_erasures: Vec<u64>,
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

struct Segment {
    path: PathBuf,
    file: Arc<File>,
}

struct Inner {
    dir: PathBuf,
    segments: Vec<Segment>,
    current_len: u64,
    next_index: u64,
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
/// Layout: `DIR/segments/<first index, 20 digits>.seg` and
/// `DIR/checkpoints.log`. One process appends at a time (an advisory lock on
/// `DIR/LOCK` enforces it); any number may read or verify.
pub struct FileStore {
    options: FileOptions,
    inner: Mutex<Inner>,
    sync: Mutex<SyncState>,
    synced: Condvar,
    checkpoints: Mutex<File>,
    recovery: Recovery,
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
    dir.join("segments").join(format!("{first:020}.seg"))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// The segment files of a log directory, in order.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let seg_dir = dir.join("segments");
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
            let first: u64 = stem.parse().map_err(|_| Error::OutOfRange(0))?;
            out.push((first, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Whether a valid frame holding record `index` or a later one starts
/// anywhere in `bytes`: then the damage is not a torn tail.
fn valid_frame_follows(bytes: &[u8], index: u64) -> bool {
    (1..bytes.len()).any(|at| {
        let Some(rest) = bytes.get(at..) else {
            return false;
        };
        read_frame(rest).is_ok_and(|f| Record::decode(f.record).is_ok_and(|r| r.index() >= index))
    })
}

impl FileStore {
    /// Opens (or creates) the log in `dir`, recovering from a crash: an
    /// incomplete record at the very end is dropped and reported in
    /// [`FileStore::recovery`]; damage anywhere else is an error.
    pub fn open(dir: impl AsRef<Path>, options: FileOptions) -> Result<FileStore> {
        let dir = dir.as_ref().to_path_buf();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir.join("segments"))?;
        let lock = OpenOptions::new()
            .mode(0o600)
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))?;
        if fs4::FileExt::try_lock(&lock).is_err() {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "the log is open for appending in another process",
            )));
        }
        let mut recovery = Recovery::default();
        let mut inner = Inner {
            dir: dir.clone(),
            segments: Vec::new(),
            current_len: 0,
            next_index: 0,
            last_hash: [0; 32],
            positions: Vec::new(),
            leaf_hashes: Vec::new(),
            times: Vec::new(),
            by_subject: HashMap::new(),
            by_actor: HashMap::new(),
            failed: false,
            buf: Vec::new(),
        };
        let listed = list_segments(&dir)?;
        let count = listed.len();
        for (n, (first, path)) in listed.into_iter().enumerate() {
            let last = n + 1 == count;
            let mut bytes = Vec::new();
            File::open(&path)?.read_to_end(&mut bytes)?;
            if last && bytes.len() < SEGMENT_HEADER_LEN && first == inner.next_index {
                // Created but its header never reached the disk.
                fs::remove_file(&path)?;
                recovery.dropped_tail_bytes += bytes.len() as u64;
                continue;
            }
            let header_first = parse_segment_header(&bytes).map_err(|_| {
                Error::Verification(Finding::log(format!(
                    "segment `{}` has a bad header",
                    path.display()
                )))
            })?;
            if header_first != first || first != inner.next_index {
                return Err(Error::Verification(Finding::at(
                    inner.next_index,
                    format!("segment `{}` does not start at this record", path.display()),
                )));
            }
            let seg_no = u32::try_from(inner.segments.len()).map_err(|_| Error::OutOfRange(0))?;
            let mut offset = SEGMENT_HEADER_LEN;
            let mut truncate_at = None;
            while offset < bytes.len() {
                let rest = bytes.get(offset..).unwrap_or_default();
                match read_frame(rest) {
                    Ok(frame) => {
                        let record = frame_to_record(&frame).map_err(|e| {
                            Error::Verification(Finding::at(inner.next_index, e.to_string()))
                        })?;
                        inner.admit(&record, seg_no, offset as u64, &frame)?;
                        offset += frame.len;
                    }
                    Err(FrameError::SidecarChecksum) => {
                        // An erasure interrupted by a crash: the record part
                        // is intact; finish erasing.
                        let rl = crate::segment::FRAME_HEADER_LEN;
                        let record_len = rest
                            .get(..4)
                            .and_then(|b| b.try_into().ok())
                            .map(u32::from_le_bytes)
                            .unwrap_or(0) as usize;
                        let sidecar_len = rest
                            .get(4..8)
                            .and_then(|b| b.try_into().ok())
                            .map(u32::from_le_bytes)
                            .unwrap_or(0) as usize;
                        let record_bytes = rest.get(rl..rl + record_len).unwrap_or_default();
                        let decoded = Record::decode(record_bytes).map_err(|e| {
                            Error::Verification(Finding::at(inner.next_index, e.to_string()))
                        })?;
                        let tag = rest.get(rl + record_len).copied();
                        if decoded.payload_commitment().is_none() || !matches!(tag, Some(1 | 2)) {
                            return Err(Error::Verification(Finding::at(
                                inner.next_index,
                                FrameError::SidecarChecksum.describe(),
                            )));
                        }
                        let side = erased_sidecar(sidecar_len);
                        let file = OpenOptions::new().write(true).open(&path)?;
                        let at = (offset + rl + record_len) as u64;
                        file.write_all_at(&side, at)?;
                        file.write_all_at(&masked_crc(&side).to_le_bytes(), offset as u64 + 12)?;
                        file.sync_data()?;
                        let mut patched = rest
                            .get(..rl + record_len + sidecar_len)
                            .unwrap_or_default()
                            .to_vec();
                        if let Some(dst) = patched.get_mut(rl + record_len..) {
                            dst.copy_from_slice(&side);
                        }
                        if let Some(dst) = patched.get_mut(12..16) {
                            dst.copy_from_slice(&masked_crc(&side).to_le_bytes());
                        }
                        let frame = read_frame(&patched).map_err(|e| {
                            Error::Verification(Finding::at(inner.next_index, e.describe()))
                        })?;
                        let record = frame_to_record(&frame)?;
                        recovery.completed_erasures.push(record.index());
                        inner.admit(&record, seg_no, offset as u64, &frame)?;
                        offset += frame.len;
                    }
                    Err(e) => {
                        if !last || valid_frame_follows(rest, inner.next_index) {
                            return Err(Error::Verification(Finding::at(
                                inner.next_index,
                                e.describe(),
                            )));
                        }
                        truncate_at = Some(offset);
                        break;
                    }
                }
            }
            if let Some(at) = truncate_at {
                let file = OpenOptions::new().write(true).open(&path)?;
                recovery.dropped_tail_bytes += (bytes.len() - at) as u64;
                file.set_len(at as u64)?;
                file.sync_all()?;
                offset = at;
            }
            let file = OpenOptions::new().read(true).append(true).open(&path)?;
            inner.current_len = offset as u64;
            inner.segments.push(Segment {
                path,
                file: Arc::new(file),
            });
        }
        if inner.segments.is_empty() {
            inner.new_segment()?;
        }
        recovery.records = inner.next_index;
        let (checkpoints, dropped) = open_checkpoints(&dir)?;
        recovery.dropped_tail_bytes += dropped;
        let file = inner
            .segments
            .last()
            .map(|s| Arc::clone(&s.file))
            .ok_or(Error::OutOfRange(0))?;
        let n = inner.next_index;
        Ok(FileStore {
            options,
            inner: Mutex::new(inner),
            sync: Mutex::new(SyncState {
                written: n,
                durable: n,
                syncing: false,
                failed: false,
                file,
            }),
            synced: Condvar::new(),
            checkpoints: Mutex::new(checkpoints),
            recovery,
            _lock: lock,
        })
    }

    /// What opening found and repaired.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The options in force.
    pub fn options(&self) -> &FileOptions {
        &self.options
    }

    fn inner(&self) -> Result<MutexGuard<'_, Inner>> {
        self.inner.lock().map_err(|_| Error::Poisoned)
    }

    fn sync_state(&self) -> Result<MutexGuard<'_, SyncState>> {
        self.sync.lock().map_err(|_| Error::Poisoned)
    }

    /// Waits until record `target - 1` is durable, syncing as the leader of
    /// a group when nobody else is.
    fn wait_durable(&self, target: u64, max_batch: usize, max_delay: Duration) -> Result<()> {
        let mut state = self.sync_state()?;
        loop {
            if state.failed {
                return Err(Error::Io(std::io::Error::other("an earlier fsync failed")));
            }
            if state.durable >= target {
                return Ok(());
            }
            if state.syncing {
                state = self.synced.wait(state).map_err(|_| Error::Poisoned)?;
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
                        .map_err(|_| Error::Poisoned)?;
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

fn open_checkpoints(dir: &Path) -> Result<(File, u64)> {
    let path = dir.join("checkpoints.log");
    let mut file = OpenOptions::new()
        .mode(0o600)
        .create(true)
        .read(true)
        .append(true)
        .open(&path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let (notes, valid) = parse_checkpoint_frames(&bytes);
    let _ = notes;
    let dropped = (bytes.len() - valid) as u64;
    if dropped > 0 {
        file.set_len(valid as u64)?;
        file.sync_all()?;
    }
    Ok((file, dropped))
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
        if len > crate::checkpoint::MAX_NOTE_LEN {
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

impl Inner {
    fn admit(
        &mut self,
        record: &Record,
        segment: u32,
        offset: u64,
        frame: &crate::segment::Frame<'_>,
    ) -> Result<()> {
        if record.index() != self.next_index {
            return Err(Error::Verification(Finding::at(
                self.next_index,
                format!("found record `{}` in its place", record.index()),
            )));
        }
        if record.previous() != &self.last_hash {
            return Err(Error::Verification(Finding::at(
                self.next_index,
                "does not chain to the previous record",
            )));
        }
        self.push(
            record,
            Position {
                segment,
                offset,
                record_len: u32::try_from(frame.record.len()).map_err(|_| Error::OutOfRange(0))?,
                sidecar_len: u32::try_from(frame.sidecar.len())
                    .map_err(|_| Error::OutOfRange(0))?,
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
            self.by_subject.entry(s.clone()).or_default().push(index);
        }
        self.by_actor
            .entry(record.actor().to_owned())
            .or_default()
            .push(index);
        self.next_index = index + 1;
        self.last_hash = *record.leaf_hash();
    }

    fn new_segment(&mut self) -> Result<()> {
        let path = segment_path(&self.dir, self.next_index);
        let mut file = OpenOptions::new()
            .mode(0o600)
            .create_new(true)
            .read(true)
            .append(true)
            .open(&path)?;
        file.write_all(&segment_header(self.next_index))?;
        file.sync_all()?;
        sync_dir(&self.dir.join("segments"))?;
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
                .ok_or(Error::OutOfRange(i))?;
            let mut bytes = vec![
                0u8;
                usize::try_from(span_end - first.offset)
                    .map_err(|_| Error::OutOfRange(i))?
            ];
            segment.file.read_exact_at(&mut bytes, first.offset)?;
            let mut at = 0;
            for _ in i..j {
                let rest = bytes.get(at..).unwrap_or_default();
                let frame = read_frame(rest)
                    .map_err(|e| Error::Verification(Finding::at(i, e.describe())))?;
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
                return Err(Error::Io(std::io::Error::other("an earlier write failed")));
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
                    .ok_or(Error::OutOfRange(0))?;
                let mut state = self.sync_state()?;
                state.file = file;
                state.durable = state.written;
            }
            let seg_no = u32::try_from(inner.segments.len().saturating_sub(1))
                .map_err(|_| Error::OutOfRange(0))?;
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
                    record_len: u32::try_from(bytes.len()).map_err(|_| Error::OutOfRange(0))?,
                    sidecar_len: u32::try_from(sidecar.len()).map_err(|_| Error::OutOfRange(0))?,
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
                .ok_or(Error::OutOfRange(0))?;
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
            .get(usize::try_from(index).map_err(|_| Error::OutOfRange(index))?)
            .ok_or(Error::OutOfRange(index))?;
        let record = inner
            .read_range(index, index + 1)?
            .pop()
            .ok_or(Error::OutOfRange(index))?;
        if !matches!(record.payload_state(), crate::PayloadState::Present(_)) {
            return Ok(false);
        }
        let segment = inner
            .segments
            .get(p.segment as usize)
            .ok_or(Error::OutOfRange(index))?;
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
        let mut file = self.checkpoints.lock().map_err(|_| Error::Poisoned)?;
        file.write_all(&checkpoint_frame(note))?;
        file.sync_data()?;
        Ok(())
    }

    fn checkpoints(&self) -> Result<Vec<String>> {
        let mut bytes = Vec::new();
        File::open(self.inner()?.dir.join("checkpoints.log"))?.read_to_end(&mut bytes)?;
        Ok(parse_checkpoint_frames(&bytes).0)
    }
}
