//! The in-memory store.

use std::sync::Mutex;

use crate::record::{Record, Sealed};
use crate::store::{Receipt, Store};
use crate::{Error, Hash, Result};

/// A store in memory: fast, for tests and for processes that ship their log
/// elsewhere.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    records: Records,
    checkpoints: Vec<String>,
}

/// Records in fixed-size chunks: appending never moves (copies) the records
/// already held, as one growing `Vec` would at every doubling.
#[derive(Debug, Default)]
struct Records {
    chunks: Vec<Vec<Record>>,
    len: usize,
}

impl Records {
    const CHUNK: usize = 4096;

    fn len(&self) -> usize {
        self.len
    }

    fn last(&self) -> Option<&Record> {
        self.chunks.last()?.last()
    }

    fn push(&mut self, record: Record) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < Self::CHUNK => chunk.push(record),
            _ => {
                let mut chunk = Vec::with_capacity(Self::CHUNK);
                chunk.push(record);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    fn get_mut(&mut self, index: usize) -> Option<&mut Record> {
        self.chunks
            .get_mut(index / Self::CHUNK)?
            .get_mut(index % Self::CHUNK)
    }

    /// Records `start..end`, clamped to the length.
    fn range(&self, start: u64, end: u64) -> impl Iterator<Item = &Record> {
        let end = usize::try_from(end).unwrap_or(usize::MAX).min(self.len);
        let start = usize::try_from(start).unwrap_or(usize::MAX).min(end);
        self.chunks
            .iter()
            .skip(start / Self::CHUNK)
            .flatten()
            .skip(start % Self::CHUNK)
            .take(end - start)
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
}

impl Store for MemoryStore {
    fn len(&self) -> Result<u64> {
        Ok(self.lock()?.records.len() as u64)
    }

    fn append(&self, batch: Vec<Sealed>) -> Result<Vec<Receipt>> {
        let mut inner = self.lock()?;
        let mut receipts = Vec::with_capacity(batch.len());
        for sealed in batch {
            let index = inner.records.len() as u64;
            let previous = inner.records.last().map_or(Hash::ZERO, |r| *r.leaf_hash());
            let record = sealed.place(index, previous);
            receipts.push(Receipt {
                index,
                leaf_hash: *record.leaf_hash(),
            });
            inner.records.push(record);
        }
        Ok(receipts)
    }

    fn read(&self, start: u64, end: u64) -> Result<Vec<Record>> {
        Ok(self.lock()?.records.range(start, end).cloned().collect())
    }

    fn leaf_hashes(&self, start: u64, end: u64) -> Result<Vec<Hash>> {
        Ok(self
            .lock()?
            .records
            .range(start, end)
            .map(|r| *r.leaf_hash())
            .collect())
    }

    fn erase_payload(&self, index: u64) -> Result<bool> {
        let mut inner = self.lock()?;
        let record = usize::try_from(index)
            .ok()
            .and_then(|i| inner.records.get_mut(i))
            .ok_or(Error::IndexOutOfRange(index))?;
        Ok(record.erase_payload())
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
        let n = Records::CHUNK * 2 + 10;
        let events = (0..n).map(|i| Event::new(format!("staff:{i}"), "read", "r"));
        log.append_batch(events.collect()).unwrap();
        let store = log.store();
        assert_eq!(store.len().unwrap(), n as u64);
        let edge = Records::CHUNK as u64;
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
}
