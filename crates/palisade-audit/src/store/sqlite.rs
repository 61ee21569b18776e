//! The SQLite store (feature `sqlite`): one database file, WAL journal.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::record::{Record, Sealed};
use crate::store::file::Durability;
use crate::store::segment::{encode_sidecar, erased_sidecar, record_from_parts};
use crate::store::{Query, Receipt, Store};
use crate::{Error, Hash, Result, error::malformed};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_records (
    idx INTEGER PRIMARY KEY,
    leaf BLOB NOT NULL,
    record BLOB NOT NULL,
    sidecar BLOB NOT NULL,
    actor TEXT NOT NULL,
    time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_subjects (
    subject TEXT NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (subject, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_records_actor ON audit_records (actor, idx);
CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    id INTEGER PRIMARY KEY,
    note TEXT NOT NULL
);
";

/// A log in one SQLite database (feature `sqlite`; WAL journal,
/// `secure_delete` on so erased payloads do not linger in free pages). Appends run in `BEGIN IMMEDIATE`
/// transactions that read the head inside, so several processes may append
/// to one database file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn db(e: rusqlite::Error) -> Error {
    Error::DatabaseFailed(Box::new(e))
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::IndexOutOfRange(v))
}

fn to_u64(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| malformed("stored index", "negative"))
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`. `durability` maps to
    /// `synchronous = FULL` (every commit is fsynced; one append call is one
    /// transaction, so a batch shares one fsync) or `OFF` for
    /// [`Durability::None`].
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<SqliteStore> {
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(db)?;
        let sync = match durability {
            Durability::None => "OFF",
            _ => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA secure_delete = ON;"
        ))
        .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>> {
        self.conn.lock().map_err(|_| Error::LockPoisoned)
    }

    fn records_where(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<Record>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(sql).map_err(db)?;
        let mut rows = stmt.query(args).map_err(db)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db)? {
            let record: Vec<u8> = row.get(0).map_err(db)?;
            let sidecar: Vec<u8> = row.get(1).map_err(db)?;
            out.push(record_from_parts(&record, &sidecar)?);
        }
        Ok(out)
    }
}

impl Store for SqliteStore {
    fn len(&self) -> Result<u64> {
        let conn = self.conn()?;
        let n: Option<i64> = conn
            .query_row("SELECT MAX(idx) FROM audit_records", [], |r| r.get(0))
            .map_err(db)?;
        n.map_or(Ok(0), |n| Ok(to_u64(n)? + 1))
    }

    fn append(&self, batch: Vec<Sealed>) -> Result<Vec<Receipt>> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let head: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT idx, leaf FROM audit_records ORDER BY idx DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)?;
        let (mut next, mut last) = match head {
            None => (0u64, Hash::ZERO),
            Some((i, leaf)) => (to_u64(i)? + 1, Hash::from_slice(&leaf)?),
        };
        let mut receipts = Vec::with_capacity(batch.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO audit_records (idx, leaf, record, sidecar, actor, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(db)?;
            let mut subject = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO audit_subjects (subject, idx) VALUES (?1, ?2)",
                )
                .map_err(db)?;
            for sealed in batch {
                let record = sealed.place(next, last);
                let idx = to_i64(next)?;
                insert
                    .execute(params![
                        idx,
                        &record.leaf_hash().as_bytes()[..],
                        record.encode(),
                        encode_sidecar(record.payload_state()),
                        record.actor(),
                        record.time_nanos(),
                    ])
                    .map_err(db)?;
                for s in record.subjects() {
                    subject.execute(params![s, idx]).map_err(db)?;
                }
                receipts.push(Receipt {
                    index: next,
                    leaf_hash: *record.leaf_hash(),
                });
                last = *record.leaf_hash();
                next += 1;
            }
        }
        tx.commit().map_err(db)?;
        Ok(receipts)
    }

    fn read(&self, start: u64, end: u64) -> Result<Vec<Record>> {
        self.records_where(
            "SELECT record, sidecar FROM audit_records WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            &[&to_i64(start)?, &to_i64(end.min(i64::MAX as u64))?],
        )
    }

    fn leaf_hashes(&self, start: u64, end: u64) -> Result<Vec<Hash>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT leaf FROM audit_records WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )
            .map_err(db)?;
        let mut rows = stmt
            .query(params![to_i64(start)?, to_i64(end.min(i64::MAX as u64))?])
            .map_err(db)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db)? {
            let leaf: Vec<u8> = row.get(0).map_err(db)?;
            out.push(Hash::from_slice(&leaf)?);
        }
        Ok(out)
    }

    fn query(&self, query: &Query) -> Result<Vec<Record>> {
        let since = query.since.map(crate::event::time_to_nanos).transpose()?;
        let until = query.until.map(crate::event::time_to_nanos).transpose()?;
        let candidates = match (&query.subject, &query.actor) {
            (Some(s), _) => self.records_where(
                "SELECT r.record, r.sidecar FROM audit_subjects s JOIN audit_records r ON r.idx = s.idx WHERE s.subject = ?1 ORDER BY r.idx",
                &[s],
            )?,
            (None, Some(a)) => self.records_where(
                "SELECT record, sidecar FROM audit_records WHERE actor = ?1 ORDER BY idx",
                &[a],
            )?,
            (None, None) => self.records_where(
                "SELECT record, sidecar FROM audit_records WHERE time >= ?1 AND time < ?2 ORDER BY idx",
                &[&since.unwrap_or(0), &until.unwrap_or(i64::MAX)],
            )?,
        };
        Ok(candidates
            .into_iter()
            .filter(|r| query.matches(r))
            .collect())
    }

    fn erase_payload(&self, index: u64) -> Result<bool> {
        let conn = self.conn()?;
        let n = conn
            .execute(
                "UPDATE audit_records SET sidecar = ?1 WHERE idx = ?2 AND substr(sidecar, 1, 1) = X'01'",
                params![erased_sidecar(1), to_i64(index)?],
            )
            .map_err(db)?;
        // Push the old page images out of the write-ahead log.
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(db)?;
        Ok(n > 0)
    }

    fn add_checkpoint(&self, note: &str) -> Result<()> {
        self.conn()?
            .execute("INSERT INTO audit_checkpoints (note) VALUES (?1)", [note])
            .map_err(db)?;
        Ok(())
    }

    fn checkpoints(&self) -> Result<Vec<String>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached("SELECT note FROM audit_checkpoints ORDER BY id")
            .map_err(db)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(db)?;
        rows.collect::<std::result::Result<Vec<String>, _>>()
            .map_err(db)
    }
}
