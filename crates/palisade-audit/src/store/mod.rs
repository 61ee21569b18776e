//! Where records live: the `Store` trait, the query filter, and the stores
//! (memory, segment files, SQLite, PostgreSQL).

use std::time::SystemTime;

use crate::record::{Record, Sealed};
use crate::{Hash, Result};

pub(crate) mod file;
pub(crate) mod memory;
#[cfg(any(feature = "postgres", feature = "postgres-async"))]
pub(crate) mod postgres;
#[cfg(feature = "postgres-rustls")]
#[path = "postgres/tls.rs"]
pub(crate) mod postgres_tls;
pub(crate) mod recovery;
pub(crate) mod segment;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

/// The acknowledgement of one recorded event: its index and leaf hash.
///
/// A receipt is returned only once the record is durable under the store's
/// durability policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Receipt {
    /// The position of the record in the log, from 0.
    pub index: u64,
    /// `SHA-256(0x00 || canonical encoding)` of the record.
    pub leaf_hash: Hash,
}

/// A filter over records; every field set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Records concerning this data subject.
    pub subject: Option<String>,
    /// Records of this actor.
    pub actor: Option<String>,
    /// Records at or after this time.
    pub since: Option<SystemTime>,
    /// Records strictly before this time.
    pub until: Option<SystemTime>,
}

impl Query {
    /// Records concerning `subject`.
    pub fn subject(subject: impl Into<String>) -> Query {
        Query {
            subject: Some(subject.into()),
            ..Query::default()
        }
    }

    /// Records of `actor`.
    pub fn actor(actor: impl Into<String>) -> Query {
        Query {
            actor: Some(actor.into()),
            ..Query::default()
        }
    }

    /// Records in the time range `since..until`.
    pub fn between(since: SystemTime, until: SystemTime) -> Query {
        Query {
            since: Some(since),
            until: Some(until),
            ..Query::default()
        }
    }

    /// Whether `record` matches.
    pub fn matches(&self, record: &Record) -> bool {
        self.subject.as_deref().is_none_or(|s| record.concerns(s))
            && self.actor.as_deref().is_none_or(|a| record.actor() == a)
            && self.since.is_none_or(|t| record.time() >= t)
            && self.until.is_none_or(|t| record.time() < t)
    }
}

/// Persistence for a log. A store assigns indexes and predecessors itself, so
/// that a shared store (PostgreSQL) can sequence appends from many processes.
pub trait Store: Send + Sync {
    /// Number of acknowledged (durable) records.
    fn len(&self) -> Result<u64>;

    /// Whether the store holds no acknowledged record.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Appends sealed events as the next records, in order. Returns once they
    /// are durable under the store's policy.
    fn append(&self, batch: Vec<Sealed>) -> Result<Vec<Receipt>>;

    /// Appends one sealed event: [`Store::append`] of a batch of one, which
    /// a store may do without the batch's lists.
    fn append_one(&self, sealed: Sealed) -> Result<Receipt> {
        self.append(vec![sealed])?
            .pop()
            .ok_or(crate::Error::IndexOutOfRange(0))
    }

    /// Records `start..end` (clamped to the acknowledged length).
    fn read(&self, start: u64, end: u64) -> Result<Vec<Record>>;

    /// Leaf hashes of records `start..end`.
    fn leaf_hashes(&self, start: u64, end: u64) -> Result<Vec<Hash>> {
        Ok(self
            .read(start, end)?
            .iter()
            .map(|r| *r.leaf_hash())
            .collect())
    }

    /// Records matching `query`, in index order.
    fn query(&self, query: &Query) -> Result<Vec<Record>> {
        let len = self.len()?;
        let mut out = Vec::new();
        let mut start = 0;
        while start < len {
            let end = len.min(start + 4096);
            out.extend(
                self.read(start, end)?
                    .into_iter()
                    .filter(|r| query.matches(r)),
            );
            start = end;
        }
        Ok(out)
    }

    /// Deletes the payload's salt and text of record `index`, keeping its
    /// commitment. Returns whether there was a payload to erase.
    fn erase_payload(&self, index: u64) -> Result<bool>;

    /// Stores a signed checkpoint (note text).
    fn add_checkpoint(&self, note: &str) -> Result<()>;

    /// Every stored checkpoint, oldest first.
    fn checkpoints(&self) -> Result<Vec<String>>;
}

/// A shared store is a store: a blocking [`AuditLog`](crate::AuditLog) and
/// an async log (through `BlockingStore`) can write the same files, since
/// the store sequences appends itself.
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn len(&self) -> Result<u64> {
        (**self).len()
    }

    fn is_empty(&self) -> Result<bool> {
        (**self).is_empty()
    }

    fn append(&self, batch: Vec<Sealed>) -> Result<Vec<Receipt>> {
        (**self).append(batch)
    }

    fn read(&self, start: u64, end: u64) -> Result<Vec<Record>> {
        (**self).read(start, end)
    }

    fn leaf_hashes(&self, start: u64, end: u64) -> Result<Vec<Hash>> {
        (**self).leaf_hashes(start, end)
    }

    fn query(&self, query: &Query) -> Result<Vec<Record>> {
        (**self).query(query)
    }

    fn erase_payload(&self, index: u64) -> Result<bool> {
        (**self).erase_payload(index)
    }

    fn add_checkpoint(&self, note: &str) -> Result<()> {
        (**self).add_checkpoint(note)
    }

    fn checkpoints(&self) -> Result<Vec<String>> {
        (**self).checkpoints()
    }
}
