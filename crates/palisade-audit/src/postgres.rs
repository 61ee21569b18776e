//! The PostgreSQL store (feature `postgres`): one log shared by several
//! application instances.

use std::sync::{Mutex, MutexGuard};

use postgres::{Client, NoTls};

use crate::merkle::Hash;
use crate::record::{Record, Sealed};
use crate::segment::{encode_sidecar, erased_sidecar, record_from_parts};
use crate::store::{Query, Receipt, Store};
use crate::{Error, Result};

const SCHEMA: &str = "
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

/// A log in PostgreSQL. Each append is one transaction that locks the head
/// row (`SELECT … FOR UPDATE`), computes indexes and the chain from it,
/// inserts the records and moves the head: appends from any number of
/// processes are serialized into one valid log, and a commit is durable
/// under the server's `synchronous_commit`.
pub struct PostgresStore {
    client: Mutex<Client>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

fn db(e: postgres::Error) -> Error {
    match e.as_db_error() {
        Some(d) => Error::Database(format!("{} ({})", d.message(), d.code().code())),
        None => Error::Database(e.to_string()),
    }
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::OutOfRange(v))
}

fn to_u64(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::Database("negative index".into()))
}

fn hash(bytes: &[u8]) -> Result<Hash> {
    bytes
        .try_into()
        .map_err(|_| Error::Database("bad leaf hash".into()))
}

impl PostgresStore {
    /// Connects with a libpq-style connection string (`host=… user=…
    /// dbname=…`) and creates the tables if needed (under an advisory lock,
    /// so instances starting together do not race).
    pub fn connect(params: &str) -> Result<PostgresStore> {
        let mut client = Client::connect(params, NoTls).map_err(db)?;
        let mut tx = client.transaction().map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock(73062026)", &[])
            .map_err(db)?;
        tx.batch_execute(SCHEMA).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(PostgresStore {
            client: Mutex::new(client),
        })
    }

    fn client(&self) -> Result<MutexGuard<'_, Client>> {
        self.client.lock().map_err(|_| Error::Poisoned)
    }

    fn records_where(
        &self,
        sql: &str,
        args: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Record>> {
        let mut client = self.client()?;
        let rows = client.query(sql, args).map_err(db)?;
        rows.iter()
            .map(|row| {
                let record: Vec<u8> = row.try_get(0).map_err(db)?;
                let sidecar: Vec<u8> = row.try_get(1).map_err(db)?;
                record_from_parts(&record, &sidecar)
            })
            .collect()
    }
}

impl Store for PostgresStore {
    fn len(&self) -> Result<u64> {
        let row = self
            .client()?
            .query_one("SELECT next_idx FROM audit_head WHERE id = 1", &[])
            .map_err(db)?;
        to_u64(row.try_get(0).map_err(db)?)
    }

    fn append(&self, batch: Vec<Sealed>) -> Result<Vec<Receipt>> {
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(db)?;
        let head = tx
            .query_one(
                "SELECT next_idx, last_leaf FROM audit_head WHERE id = 1 FOR UPDATE",
                &[],
            )
            .map_err(db)?;
        let mut next = to_u64(head.try_get(0).map_err(db)?)?;
        let mut last = hash(head.try_get::<_, &[u8]>(1).map_err(db)?)?;
        let insert = tx
            .prepare(
                "INSERT INTO audit_records (idx, leaf, record, sidecar, actor, time) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .map_err(db)?;
        let subject = tx
            .prepare(
                "INSERT INTO audit_subjects (subject, idx) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .map_err(db)?;
        let mut receipts = Vec::with_capacity(batch.len());
        for sealed in batch {
            let record = sealed.place(next, last);
            let idx = to_i64(next)?;
            tx.execute(
                &insert,
                &[
                    &idx,
                    &&record.leaf_hash()[..],
                    &record.encode(),
                    &encode_sidecar(record.payload_state()),
                    &record.actor(),
                    &record.time_nanos(),
                ],
            )
            .map_err(db)?;
            for s in record.subjects() {
                tx.execute(&subject, &[s, &idx]).map_err(db)?;
            }
            receipts.push(Receipt {
                index: next,
                leaf_hash: *record.leaf_hash(),
            });
            last = *record.leaf_hash();
            next += 1;
        }
        tx.execute(
            "UPDATE audit_head SET next_idx = $1, last_leaf = $2 WHERE id = 1",
            &[&to_i64(next)?, &&last[..]],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(receipts)
    }

    fn read(&self, start: u64, end: u64) -> Result<Vec<Record>> {
        self.records_where(
            "SELECT record, sidecar FROM audit_records WHERE idx >= $1 AND idx < $2 ORDER BY idx",
            &[&to_i64(start)?, &to_i64(end.min(i64::MAX as u64))?],
        )
    }

    fn leaf_hashes(&self, start: u64, end: u64) -> Result<Vec<Hash>> {
        let rows = self
            .client()?
            .query(
                "SELECT leaf FROM audit_records WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                &[&to_i64(start)?, &to_i64(end.min(i64::MAX as u64))?],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| hash(r.try_get::<_, &[u8]>(0).map_err(db)?))
            .collect()
    }

    fn query(&self, query: &Query) -> Result<Vec<Record>> {
        let since = query.since.map(crate::event::time_to_nanos).transpose()?;
        let until = query.until.map(crate::event::time_to_nanos).transpose()?;
        let candidates = match (&query.subject, &query.actor) {
            (Some(s), _) => self.records_where(
                "SELECT r.record, r.sidecar FROM audit_subjects s JOIN audit_records r ON r.idx = s.idx WHERE s.subject = $1 ORDER BY r.idx",
                &[s],
            )?,
            (None, Some(a)) => self.records_where(
                "SELECT record, sidecar FROM audit_records WHERE actor = $1 ORDER BY idx",
                &[a],
            )?,
            (None, None) => self.records_where(
                "SELECT record, sidecar FROM audit_records WHERE time >= $1 AND time < $2 ORDER BY idx",
                &[&since.unwrap_or(0), &until.unwrap_or(i64::MAX)],
            )?,
        };
        Ok(candidates
            .into_iter()
            .filter(|r| query.matches(r))
            .collect())
    }

    fn erase_payload(&self, index: u64) -> Result<bool> {
        let n = self
            .client()?
            .execute(
                "UPDATE audit_records SET sidecar = $1 WHERE idx = $2 AND substr(sidecar, 1, 1) = '\\x01'::bytea",
                &[&erased_sidecar(1), &to_i64(index)?],
            )
            .map_err(db)?;
        Ok(n > 0)
    }

    fn add_checkpoint(&self, note: &str) -> Result<()> {
        self.client()?
            .execute("INSERT INTO audit_checkpoints (note) VALUES ($1)", &[&note])
            .map_err(db)?;
        Ok(())
    }

    fn checkpoints(&self) -> Result<Vec<String>> {
        let rows = self
            .client()?
            .query("SELECT note FROM audit_checkpoints ORDER BY id", &[])
            .map_err(db)?;
        rows.iter().map(|r| r.try_get(0).map_err(db)).collect()
    }
}
