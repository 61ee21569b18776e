//! The in-memory store.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use zeroize::{Zeroize, Zeroizing};

use crate::chunks::Chunks;
use crate::record::{HEAD_LEN, Record, Sealed, Sink, encode_head, leaf_hash_of_body};
use crate::store::segment::{erase_sidecar_in_place, record_from_parts};
use crate::store::{Receipt, Store};
use crate::{Error, Hash, Result};

/// A store in memory: fast, for tests and for processes that ship their log
/// elsewhere.
///
/// Each record is held as bytes: the body of its canonical encoding (the
/// encoding less its version, index and predecessor, which its place gives
/// back) followed by its payload sidecar, as in a segment file, packed in
/// arenas of a mebibyte mapped from the system; beside it its leaf hash. A
/// record costs its encoding and about 50 bytes, where a [`Record`] of the
/// same event with its strings costs twice as much or more, which a process
/// that logs every request feels. Records are decoded (and their payloads
/// checked against their commitments) when read. Payload bytes are zeroized
/// when erased and when the store is dropped.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
    /// The next arena, its pages already in memory
    /// ([`MemoryStore::prepare_spare`]).
    spare: Mutex<Option<Arena>>,
    /// Whether an appender should prepare the next arena.
    spare_wanted: AtomicBool,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (records, bytes) = self
            .inner
            .lock()
            .map(|i| (i.spans.len(), i.arenas.iter().map(|a| a.len).sum::<usize>()))
            .unwrap_or_default();
        f.debug_struct("MemoryStore")
            .field("records", &records)
            .field("bytes", &bytes)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct MemoryInner {
    leaves: Chunks<Hash>,
    spans: Chunks<Span>,
    arenas: Vec<Arena>,
    checkpoints: Vec<String>,
}

impl Drop for MemoryInner {
    fn drop(&mut self) {
        for arena in &mut self.arenas {
            arena.written_mut().zeroize();
        }
    }
}

/// Where a record's bytes are: `body` bytes of encoding, then `sidecar`
/// bytes, from `start` in arena `arena`.
#[derive(Clone, Copy, Debug)]
struct Span {
    arena: u32,
    start: u32,
    body: u32,
    sidecar: u32,
}

impl Span {
    /// The record's bytes in its arena, and the length of its body.
    fn bytes(self) -> (std::ops::Range<usize>, usize) {
        let start = self.start as usize;
        let body = self.body as usize;
        (start..start + body + self.sidecar as usize, body)
    }
}

/// The size of an arena (a record longer than this gets an arena of its
/// own length).
const ARENA: usize = 1 << 20;

/// Memory records are written in: an anonymous map from the system, not
/// the allocator's (which may map its arenas with huge pages, each faulted
/// in, and cleared, 2 MiB at once). The pages of a spare arena are
/// populated ahead of use ([`MemoryStore::prepare_spare`]); those of an
/// arena mapped when none was ready are faulted in 4 KiB at a time as
/// written. They go back to the system when the store drops.
struct Arena {
    map: memmap2::MmapMut,
    /// Bytes written from the start.
    len: usize,
}

impl Arena {
    /// An arena of `capacity` bytes (at least one). `populate`: mapped with
    /// `MAP_POPULATE`, so that the kernel allocates and clears its pages in
    /// the one system call, without a page fault each.
    fn new(capacity: usize, populate: bool) -> Result<Arena> {
        let mut options = memmap2::MmapOptions::new();
        options.len(capacity.max(1));
        if populate {
            options.populate();
        }
        Ok(Arena {
            map: options.map_anon()?,
            len: 0,
        })
    }

    fn room(&self) -> usize {
        self.map.len() - self.len
    }

    fn written(&self) -> &[u8] {
        self.map.get(..self.len).unwrap_or_default()
    }

    fn written_mut(&mut self) -> &mut [u8] {
        self.map.get_mut(..self.len).unwrap_or_default()
    }
}

impl crate::record::Sink for Arena {
    /// Appends `bytes`; the caller has checked there is room (bytes beyond
    /// it are not written and the length does not count them, which the
    /// record's span then notices).
    fn put(&mut self, bytes: &[u8]) {
        if let Some(to) = self.map.get_mut(self.len..self.len + bytes.len()) {
            to.copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }
}

impl MemoryInner {
    /// The arena a record of `len` bytes goes in, with room for it: the
    /// last, or a new one (`spare`'s arena if it has room).
    fn arena_for(
        &mut self,
        len: usize,
        spare: impl FnOnce() -> Option<Arena>,
    ) -> Result<(u32, &mut Arena)> {
        let full = self.arenas.last().is_none_or(|a| a.room() < len);
        if full {
            let arena = match spare() {
                Some(a) if a.room() >= len => a,
                _ => Arena::new(len.max(ARENA), false)?,
            };
            self.arenas.push(arena);
        }
        let index = u32::try_from(self.arenas.len() - 1).map_err(|_| Error::FieldTooLong("log"))?;
        let arena = self.arenas.last_mut().ok_or(Error::IndexOutOfRange(0))?;
        Ok((index, arena))
    }

    /// The stored bytes of record `index`: its encoding body and sidecar.
    fn bytes_mut(&mut self, index: usize) -> Option<(&mut [u8], &mut [u8])> {
        let span = *self.spans.get(index)?;
        let (range, body) = span.bytes();
        let bytes = self
            .arenas
            .get_mut(span.arena as usize)?
            .written_mut()
            .get_mut(range)?;
        Some(bytes.split_at_mut(body))
    }

    fn record(&self, index: usize) -> Result<Record> {
        let missing = || Error::IndexOutOfRange(index as u64);
        let span = *self.spans.get(index).ok_or_else(missing)?;
        let (range, body) = span.bytes();
        let bytes = self
            .arenas
            .get(span.arena as usize)
            .and_then(|a| a.written().get(range))
            .ok_or_else(missing)?;
        let (body, sidecar) = bytes.split_at(body);
        let previous = match index.checked_sub(1) {
            None => Hash::ZERO,
            Some(i) => *self.leaves.get(i).ok_or_else(missing)?,
        };
        let mut encoding = Vec::with_capacity(HEAD_LEN + body.len());
        encode_head(index as u64, &previous, &mut encoding);
        encoding.extend_from_slice(body);
        record_from_parts(&encoding, sidecar)
    }

    /// `start..end` clamped to the length.
    fn clamp(&self, start: u64, end: u64) -> std::ops::Range<usize> {
        let end = usize::try_from(end)
            .unwrap_or(usize::MAX)
            .min(self.spans.len());
        let start = usize::try_from(start).unwrap_or(usize::MAX).min(end);
        start..end
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemoryInner>> {
        self.inner.lock().map_err(|_| Error::LockPoisoned)
    }

    /// Writes `placed` (a record's body of `body` bytes, then its sidecar)
    /// as the next record, under the store's lock; returns its receipt.
    fn place(&self, inner: &mut MemoryInner, placed: &[u8], body: usize) -> Result<Receipt> {
        let too_long = |_| Error::FieldTooLong("record");
        let index = inner.spans.len() as u64;
        let previous = inner.leaves.last().copied().unwrap_or(Hash::ZERO);
        let (arena_index, arena) = inner.arena_for(placed.len(), || self.take_spare())?;
        let start = arena.len;
        let span = Span {
            arena: arena_index,
            start: u32::try_from(start).map_err(too_long)?,
            body: u32::try_from(body).map_err(too_long)?,
            sidecar: u32::try_from(placed.len().saturating_sub(body)).map_err(too_long)?,
        };
        arena.put(placed);
        if arena.len - start != placed.len() {
            // Not reached: the arena had room for the record.
            return Err(Error::FieldTooLong("record"));
        }
        let leaf_hash = leaf_hash_of_body(index, &previous, placed.get(..body).unwrap_or_default());
        inner.spans.push(span);
        inner.leaves.push(leaf_hash);
        Ok(Receipt { index, leaf_hash })
    }

    /// Takes the arena prepared by [`MemoryStore::prepare_spare`], if any,
    /// and asks for the next one.
    fn take_spare(&self) -> Option<Arena> {
        self.spare_wanted.store(true, Ordering::Release);
        self.spare.lock().ok()?.take()
    }

    /// Prepares the next arena when one is wanted: mapped and its pages
    /// populated here, outside the store's lock, so that the clearing of
    /// fresh memory holds up this appender only, not every other one waiting
    /// for the lock. One appender does it; the others go on.
    fn prepare_spare(&self) {
        // Looked at before the exchange: an exchange takes the line from
        // the other cores even when it fails, and most appends want nothing.
        if !self.spare_wanted.load(Ordering::Relaxed)
            || self
                .spare_wanted
                .compare_exchange(true, false, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let Ok(arena) = Arena::new(ARENA, true) else {
            // Out of address space: the next arena is mapped when needed,
            // where the failure is reported.
            return;
        };
        if let Ok(mut spare) = self.spare.lock() {
            *spare = Some(arena);
        }
    }
}

impl Store for MemoryStore {
    fn len(&self) -> Result<u64> {
        Ok(self.lock()?.spans.len() as u64)
    }

    fn append(&self, batch: Vec<Sealed>) -> Result<Vec<Receipt>> {
        // What each record keeps is written out before the lock is taken:
        // under it are left the leaf hash (which chains on the record
        // before) and a copy. The bytes hold payloads: wiped when dropped.
        let lens: Vec<(usize, usize)> = batch.iter().map(Sealed::placed_len).collect();
        let total = lens.iter().map(|(body, sidecar)| body + sidecar).sum();
        let mut bytes = Zeroizing::new(Vec::with_capacity(total));
        for sealed in &batch {
            sealed.put_placed(&mut *bytes);
        }
        drop(batch);
        if bytes.len() != total {
            // Not reached: `placed_len` is the length `put_placed` writes.
            return Err(Error::FieldTooLong("record"));
        }
        self.prepare_spare();
        let mut inner = self.lock()?;
        let mut receipts = Vec::with_capacity(lens.len());
        let mut rest = bytes.as_slice();
        for (body, sidecar) in lens {
            let (placed, tail) = rest
                .split_at_checked(body + sidecar)
                .ok_or(Error::FieldTooLong("record"))?;
            rest = tail;
            receipts.push(self.place(&mut inner, placed, body)?);
        }
        Ok(receipts)
    }

    fn append_one(&self, sealed: Sealed) -> Result<Receipt> {
        // As `append`, for one record.
        let (body, sidecar) = sealed.placed_len();
        let mut bytes = Zeroizing::new(Vec::with_capacity(body + sidecar));
        sealed.put_placed(&mut *bytes);
        drop(sealed);
        if bytes.len() != body + sidecar {
            // Not reached: `placed_len` is the length `put_placed` writes.
            return Err(Error::FieldTooLong("record"));
        }
        self.prepare_spare();
        let mut inner = self.lock()?;
        self.place(&mut inner, &bytes, body)
    }

    fn read(&self, start: u64, end: u64) -> Result<Vec<Record>> {
        let inner = self.lock()?;
        inner.clamp(start, end).map(|i| inner.record(i)).collect()
    }

    fn leaf_hashes(&self, start: u64, end: u64) -> Result<Vec<Hash>> {
        let inner = self.lock()?;
        Ok(inner
            .leaves
            .range(inner.clamp(start, end))
            .copied()
            .collect())
    }

    fn erase_payload(&self, index: u64) -> Result<bool> {
        let mut inner = self.lock()?;
        let (_, sidecar) = usize::try_from(index)
            .ok()
            .and_then(|i| inner.bytes_mut(i))
            .ok_or(Error::IndexOutOfRange(index))?;
        Ok(erase_sidecar_in_place(sidecar))
    }

    fn add_checkpoint(&self, note: &str) -> Result<()> {
        self.lock()?.checkpoints.push(note.to_owned());
        Ok(())
    }

    fn checkpoints(&self) -> Result<Vec<String>> {
        Ok(self.lock()?.checkpoints.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuditLog, Event};

    #[test]
    fn memory_store_reads_across_chunk_boundaries() {
        let log = AuditLog::new();
        let n = Chunks::<Hash>::CHUNK * 2 + 10;
        let events = (0..n).map(|i| Event::new(format!("staff:{i}"), "read", "r"));
        log.append_batch(events.collect()).unwrap();
        let store = log.store();
        assert_eq!(store.len().unwrap(), n as u64);
        let edge = Chunks::<Hash>::CHUNK as u64;
        let records = store.read(edge - 3, edge + 3).unwrap();
        let indices: Vec<u64> = records.iter().map(Record::index).collect();
        assert_eq!(indices, (edge - 3..edge + 3).collect::<Vec<_>>());
        assert_eq!(records[0].actor(), format!("staff:{}", edge - 3));
        // Every record names its predecessor's leaf hash, across chunks too.
        let all = store.read(0, u64::MAX).unwrap();
        assert_eq!(all.len(), n);
        for pair in all.windows(2) {
            assert_eq!(pair[1].previous(), pair[0].leaf_hash());
        }
        let hashes = store.leaf_hashes(edge, edge + 2).unwrap();
        assert_eq!(
            hashes,
            vec![
                *all[edge as usize].leaf_hash(),
                *all[edge as usize + 1].leaf_hash()
            ]
        );
        assert!(store.read(n as u64, n as u64 + 5).unwrap().is_empty());
        assert!(store.erase_payload(n as u64).is_err());
    }

    #[test]
    fn records_read_back_as_appended_and_erase_zeroes_the_payload_in_place() {
        let store = MemoryStore::new();
        let mut rng = rand_core::OsRng;
        let big = "s".repeat(60_000);
        let events = [
            Event::new("staff:1", "client.read", "client:1")
                .with_tenant("acme")
                .with_subjects(["client:1", "client:2"])
                .with_payload(serde_json::json!({"fields": ["phone"], "status": 200})),
            Event::new("staff:2", "client.list", "client:*"),
            // Longer than an arena: gets one of its own.
            Event::new("staff:3", "export", "client:*")
                .with_subjects(std::iter::repeat_n(big.as_str(), 20))
                .with_payload(serde_json::json!({"n": 1})),
            Event::new("staff:4", "client.read", "client:2")
                .with_payload(serde_json::json!("secret text")),
        ];
        let expected: Vec<Record> = {
            let mut previous = Hash::ZERO;
            events
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let sealed = Sealed::seal(e.clone(), &mut rng).unwrap();
                    let record = sealed.clone().place(i as u64, previous);
                    store.append(vec![sealed]).unwrap();
                    previous = *record.leaf_hash();
                    record
                })
                .collect()
        };
        assert_eq!(store.read(0, 10).unwrap(), expected);
        assert_eq!(
            store.leaf_hashes(0, 10).unwrap(),
            expected.iter().map(|r| *r.leaf_hash()).collect::<Vec<_>>()
        );
        assert_eq!(
            store.lock().unwrap().arenas.len(),
            3,
            "the long record has its own arena"
        );
        let secret = b"secret text";
        let holds = |store: &MemoryStore| {
            store
                .lock()
                .unwrap()
                .arenas
                .iter()
                .any(|a| a.written().windows(secret.len()).any(|w| w == secret))
        };
        assert!(holds(&store));
        assert!(store.erase_payload(3).unwrap());
        assert!(!store.erase_payload(3).unwrap(), "already erased");
        assert!(!store.erase_payload(1).unwrap(), "no payload");
        assert!(!holds(&store), "the erased text is gone from memory");
        let erased = store.read(3, 4).unwrap();
        assert_eq!(
            erased[0].payload_state(),
            &crate::record::PayloadState::Erased
        );
        assert_eq!(erased[0].leaf_hash(), expected[3].leaf_hash());
        assert_eq!(store.read(0, 3).unwrap(), expected[..3]);
    }

    /// Many appenders at once, over several arenas (and the spare arena one
    /// of them prepares while the others append): every index handed out
    /// once, every record read back as its appender wrote it, the chain and
    /// tree whole.
    #[test]
    fn concurrent_appends_across_arenas_keep_the_log_whole() {
        let log = std::sync::Arc::new(AuditLog::new());
        let per_thread = 800;
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let log = std::sync::Arc::clone(&log);
                std::thread::spawn(move || {
                    (0..per_thread)
                        .map(|i| {
                            let event = Event::new(format!("staff:{t}"), "client.read", "client:*")
                                .with_subjects((0..20).map(|c| format!("client:{t}-{i}-{c}")))
                                .with_payload(
                                    serde_json::json!({"t": t, "i": i, "pad": "x".repeat(200)}),
                                );
                            (log.append(event).unwrap().index, t, i)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut appended: Vec<(u64, usize, usize)> = threads
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        appended.sort_unstable();
        let n = 6 * per_thread;
        assert_eq!(
            appended.iter().map(|a| a.0).collect::<Vec<_>>(),
            (0..n as u64).collect::<Vec<_>>(),
            "every index once"
        );
        let store = log.store();
        assert!(
            store.lock().unwrap().arenas.len() > 2,
            "spans several arenas"
        );
        let records = store.read(0, n as u64).unwrap();
        for ((index, t, i), record) in appended.iter().zip(&records) {
            assert_eq!(record.index(), *index);
            assert_eq!(record.actor(), format!("staff:{t}"));
            assert_eq!(
                record.subjects().get(19),
                Some(format!("client:{t}-{i}-19").as_str())
            );
            assert_eq!(record.payload().unwrap()["i"], *i);
        }
        let report = crate::verify_store(store, None, None).unwrap();
        assert_eq!(report.records, n as u64);
    }

    /// An erasure racing appends (records written outside the store's
    /// lock, arenas populated by whichever appender is first): the erased
    /// subject's secrets are gone from memory, every other subject's are
    /// kept and read back, and the log verifies.
    #[test]
    fn erasures_racing_appends_erase_exactly_their_subject() {
        let log = std::sync::Arc::new(AuditLog::new());
        let appenders: Vec<_> = (0..4)
            .map(|t| {
                let log = std::sync::Arc::clone(&log);
                std::thread::spawn(move || {
                    for i in 0..600 {
                        let subject = if i % 2 == 0 {
                            "client:victim"
                        } else {
                            "client:other"
                        };
                        let event = Event::new(format!("staff:{t}"), "client.read", subject)
                            .with_subject(subject)
                            .with_payload(serde_json::json!({
                                "secret": format!("{subject}-secret-{t}-{i}"),
                                "pad": "x".repeat(400),
                            }));
                        log.append(event).unwrap();
                    }
                })
            })
            .collect();
        let eraser = {
            let log = std::sync::Arc::clone(&log);
            std::thread::spawn(move || {
                for _ in 0..20 {
                    log.erase_subject("client:victim", "dpo").unwrap();
                    std::thread::yield_now();
                }
            })
        };
        for a in appenders {
            a.join().unwrap();
        }
        eraser.join().unwrap();
        // What was appended after the last racing erasure goes too.
        log.erase_subject("client:victim", "dpo").unwrap();
        let store = log.store();
        let in_memory = |needle: &[u8]| {
            store
                .lock()
                .unwrap()
                .arenas
                .iter()
                .any(|a| a.written().windows(needle.len()).any(|w| w == needle))
        };
        assert!(
            !in_memory(b"client:victim-secret"),
            "an erased secret is left in memory"
        );
        assert!(in_memory(b"client:other-secret-3-599"));
        let records = store.read(0, store.len().unwrap()).unwrap();
        let mut kept = 0;
        for r in &records {
            if r.action() != "client.read" {
                continue;
            }
            let present = matches!(r.payload_state(), crate::record::PayloadState::Present(_));
            assert_eq!(
                present,
                r.subjects().get(0) == Some("client:other"),
                "record {}",
                r.index()
            );
            kept += usize::from(present);
        }
        assert_eq!(kept, 4 * 300);
        let report = crate::verify_store(store, None, None).unwrap();
        assert_eq!(report.records, records.len() as u64);
    }
}
