//! The PostgreSQL stores: one log shared by several application instances.
//!
//! The blocking [`PostgresStore`](blocking::PostgresStore) (feature
//! `postgres`) and the pooled, async
//! [`AsyncPostgresStore`](pooled::AsyncPostgresStore) (feature
//! `postgres-async`) run the same statements over the same tables, built and
//! read by the functions of this module; only the calls that send them
//! differ.
//!
//! An append is one transaction of five statements whatever the batch size:
//! lock the head row (`SELECT … FOR UPDATE`), insert the records and their
//! subjects as arrays (`UNNEST`), move the head, commit. The head lock
//! serializes appends from every instance into one chain; the indexes and
//! links are computed inside the transaction from the head it read.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::event::time_to_nanos;
use crate::record::{Record, Sealed};
use crate::store::segment::{encode_sidecar, erased_sidecar, record_from_parts};
use crate::store::{Query, Receipt};
use crate::{Error, Hash, Result, error::malformed};

#[cfg(feature = "postgres")]
pub(crate) mod blocking;
#[cfg(feature = "postgres-async")]
pub(crate) mod pooled;

/// Serializes schema creation between instances starting together.
pub(crate) const SCHEMA_LOCK: &str = "SELECT pg_advisory_xact_lock(73062026)";

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next_idx BIGINT NOT NULL,
    last_leaf BYTEA NOT NULL
);
INSERT INTO audit_head (id, next_idx, last_leaf)
    VALUES (1, 0, '\\x0000000000000000000000000000000000000000000000000000000000000000')
    ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS audit_records (
    idx BIGINT PRIMARY KEY,
    leaf BYTEA NOT NULL,
    record BYTEA NOT NULL,
    sidecar BYTEA NOT NULL,
    actor TEXT NOT NULL,
    time BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_subjects (
    subject TEXT NOT NULL,
    idx BIGINT NOT NULL,
    PRIMARY KEY (subject, idx)
);
CREATE INDEX IF NOT EXISTS audit_records_actor ON audit_records (actor, idx);
CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    id BIGSERIAL PRIMARY KEY,
    note TEXT NOT NULL
);
";

pub(crate) const LEN: &str = "SELECT next_idx FROM audit_head WHERE id = 1";
pub(crate) const LOCK_HEAD: &str =
    "SELECT next_idx, last_leaf FROM audit_head WHERE id = 1 FOR UPDATE";
pub(crate) const INSERT_RECORDS: &str = "INSERT INTO audit_records (idx, leaf, record, sidecar, actor, time) \
     SELECT * FROM UNNEST($1::int8[], $2::bytea[], $3::bytea[], $4::bytea[], $5::text[], $6::int8[])";
pub(crate) const INSERT_SUBJECTS: &str = "INSERT INTO audit_subjects (subject, idx) \
     SELECT * FROM UNNEST($1::text[], $2::int8[]) ON CONFLICT DO NOTHING";
pub(crate) const MOVE_HEAD: &str =
    "UPDATE audit_head SET next_idx = $1, last_leaf = $2 WHERE id = 1";
pub(crate) const READ: &str =
    "SELECT record, sidecar FROM audit_records WHERE idx >= $1 AND idx < $2 ORDER BY idx";
pub(crate) const LEAVES: &str =
    "SELECT leaf FROM audit_records WHERE idx >= $1 AND idx < $2 ORDER BY idx";
pub(crate) const ERASE: &str = "UPDATE audit_records SET sidecar = $1 WHERE idx = $2 AND substr(sidecar, 1, 1) = '\\x01'::bytea";
pub(crate) const ADD_CHECKPOINT: &str = "INSERT INTO audit_checkpoints (note) VALUES ($1)";
pub(crate) const CHECKPOINTS: &str = "SELECT note FROM audit_checkpoints ORDER BY id";

/// A driver error as the crate's error: a failed TLS handshake (a server
/// certificate the CA did not sign, or a server without TLS when TLS is
/// required) is [`Error::TlsFailed`], anything else
/// [`Error::DatabaseFailed`]. tokio-postgres keeps its error kinds private;
/// its message for the TLS kind is the one public mark of it.
pub(crate) fn db(e: tokio_postgres::Error) -> Error {
    if e.to_string().starts_with("error performing TLS handshake") {
        Error::TlsFailed(Box::new(e))
    } else {
        Error::DatabaseFailed(Box::new(e))
    }
}

pub(crate) fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::IndexOutOfRange(v))
}

fn to_u64(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| malformed("stored index", "negative"))
}

/// `start..end` as SQL bounds (clamped to `i64`).
pub(crate) fn bounds(start: u64, end: u64) -> Result<[i64; 2]> {
    Ok([to_i64(start)?, to_i64(end.min(i64::MAX as u64))?])
}

/// The log's length from a [`LEN`] row.
pub(crate) fn len_from(row: &Row) -> Result<u64> {
    to_u64(row.try_get(0).map_err(db)?)
}

/// A record from a `record, sidecar` row.
pub(crate) fn record_from(row: &Row) -> Result<Record> {
    let record: &[u8] = row.try_get(0).map_err(db)?;
    let sidecar: &[u8] = row.try_get(1).map_err(db)?;
    record_from_parts(record, sidecar)
}

/// A leaf hash from a [`LEAVES`] row.
pub(crate) fn leaf_from(row: &Row) -> Result<Hash> {
    Hash::from_slice(row.try_get::<_, &[u8]>(0).map_err(db)?)
}

/// A checkpoint note from a [`CHECKPOINTS`] row.
pub(crate) fn note_from(row: &Row) -> Result<String> {
    row.try_get(0).map_err(db)
}

/// The sidecar that [`ERASE`] writes.
pub(crate) fn erased() -> Vec<u8> {
    erased_sidecar(1)
}

/// A batch placed after the head row read inside the append transaction:
/// the column arrays of [`INSERT_RECORDS`] and [`INSERT_SUBJECTS`], the new
/// head for [`MOVE_HEAD`], and the receipts to hand out after the commit.
pub(crate) struct Placed {
    idx: Vec<i64>,
    leaf: Vec<Vec<u8>>,
    record: Vec<Vec<u8>>,
    sidecar: Vec<Vec<u8>>,
    actor: Vec<String>,
    time: Vec<i64>,
    subject: Vec<String>,
    subject_idx: Vec<i64>,
    next: i64,
    last: Vec<u8>,
    pub(crate) receipts: Vec<Receipt>,
}

impl Placed {
    /// Places `batch` after the head read by [`LOCK_HEAD`].
    pub(crate) fn new(head: &Row, batch: Vec<Sealed>) -> Result<Placed> {
        let mut next = to_u64(head.try_get(0).map_err(db)?)?;
        let mut last = Hash::from_slice(head.try_get::<_, &[u8]>(1).map_err(db)?)?;
        let n = batch.len();
        let mut p = Placed {
            idx: Vec::with_capacity(n),
            leaf: Vec::with_capacity(n),
            record: Vec::with_capacity(n),
            sidecar: Vec::with_capacity(n),
            actor: Vec::with_capacity(n),
            time: Vec::with_capacity(n),
            subject: Vec::new(),
            subject_idx: Vec::new(),
            next: 0,
            last: Vec::new(),
            receipts: Vec::with_capacity(n),
        };
        for sealed in batch {
            let record = sealed.place(next, last);
            let idx = to_i64(next)?;
            p.idx.push(idx);
            p.leaf.push(record.leaf_hash().as_bytes().to_vec());
            p.record.push(record.encode());
            p.sidecar.push(encode_sidecar(record.payload_state()));
            p.actor.push(record.actor().to_owned());
            p.time.push(record.time_nanos());
            for s in record.subjects() {
                p.subject.push(s.to_owned());
                p.subject_idx.push(idx);
            }
            p.receipts.push(Receipt {
                index: next,
                leaf_hash: *record.leaf_hash(),
            });
            last = *record.leaf_hash();
            next += 1;
        }
        p.next = to_i64(next)?;
        p.last = last.as_bytes().to_vec();
        Ok(p)
    }

    pub(crate) fn records_params(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.idx,
            &self.leaf,
            &self.record,
            &self.sidecar,
            &self.actor,
            &self.time,
        ]
    }

    /// Whether any record names a subject (else [`INSERT_SUBJECTS`] is
    /// skipped).
    pub(crate) fn has_subjects(&self) -> bool {
        !self.subject.is_empty()
    }

    pub(crate) fn subjects_params(&self) -> [&(dyn ToSql + Sync); 2] {
        [&self.subject, &self.subject_idx]
    }

    pub(crate) fn head_params(&self) -> [&(dyn ToSql + Sync); 2] {
        [&self.next, &self.last]
    }
}

/// The statement and arguments that answer a [`Query`] from an index (by
/// subject, else by actor, else by time); the rows are then filtered by
/// [`Query::matches`].
pub(crate) struct QuerySql {
    pub(crate) sql: &'static str,
    text: Option<String>,
    range: [i64; 2],
}

impl QuerySql {
    pub(crate) fn new(query: &Query) -> Result<QuerySql> {
        let since = query.since.map(time_to_nanos).transpose()?;
        let until = query.until.map(time_to_nanos).transpose()?;
        let range = [since.unwrap_or(0), until.unwrap_or(i64::MAX)];
        Ok(match (&query.subject, &query.actor) {
            (Some(s), _) => QuerySql {
                sql: "SELECT r.record, r.sidecar FROM audit_subjects s JOIN audit_records r ON r.idx = s.idx WHERE s.subject = $1 ORDER BY r.idx",
                text: Some(s.clone()),
                range,
            },
            (None, Some(a)) => QuerySql {
                sql: "SELECT record, sidecar FROM audit_records WHERE actor = $1 ORDER BY idx",
                text: Some(a.clone()),
                range,
            },
            (None, None) => QuerySql {
                sql: "SELECT record, sidecar FROM audit_records WHERE time >= $1 AND time < $2 ORDER BY idx",
                text: None,
                range,
            },
        })
    }

    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        match &self.text {
            Some(t) => vec![t],
            None => vec![&self.range[0], &self.range[1]],
        }
    }

    /// The matching records of the rows.
    pub(crate) fn filter(query: &Query, rows: &[Row]) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for row in rows {
            let r = record_from(row)?;
            if query.matches(&r) {
                out.push(r);
            }
        }
        Ok(out)
    }
}
