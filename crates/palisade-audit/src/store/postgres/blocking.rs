//! The blocking PostgreSQL store (feature `postgres`).

use std::sync::{Mutex, MutexGuard};

use postgres::Client;
use postgres::tls::{MakeTlsConnect, TlsConnect};

use super::{
    ADD_CHECKPOINT, CHECKPOINTS, ERASE, INSERT_RECORDS, INSERT_SUBJECTS, LEAVES, LEN, LOCK_HEAD,
    MOVE_HEAD, Placed, QuerySql, READ, SCHEMA, SCHEMA_LOCK, bounds, db, erased, leaf_from,
    len_from, note_from, record_from, to_i64,
};
use crate::record::{Record, Sealed};
use crate::store::{Query, Receipt, Store};
use crate::{Error, Hash, Result};

/// A log in PostgreSQL over one blocking connection (feature `postgres`).
///
/// Each append is one transaction that locks the head row (`SELECT … FOR
/// UPDATE`), computes indexes and the chain from it, inserts the records and
/// moves the head: appends from any number of processes are serialized into
/// one valid log, and a commit is durable under the server's
/// `synchronous_commit`. For an async service, use `AsyncPostgresStore`
/// (feature `postgres-async`) on the same tables.
pub struct PostgresStore {
    client: Mutex<Client>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects with a libpq-style connection string (`host=… user=…
    /// dbname=…`) through `tls` and creates the tables if needed.
    ///
    /// `tls` is the caller's choice: `postgres_rustls_connector` (feature
    /// `postgres-rustls`) to verify the server against a CA, any other
    /// `MakeTlsConnect`, or `tokio_postgres::NoTls` to connect in the clear.
    /// Set `sslmode=require` in `params` so that a server (or an attacker in
    /// between) cannot decline TLS; `PostgresStore::connect_rustls` (feature
    /// `postgres-rustls`) does.
    pub fn connect<T>(params: &str, tls: T) -> Result<PostgresStore>
    where
        T: MakeTlsConnect<postgres::Socket> + 'static + Send,
        T::TlsConnect: Send,
        T::Stream: Send,
        <T::TlsConnect as TlsConnect<postgres::Socket>>::Future: Send,
    {
        PostgresStore::from_client(Client::connect(params, tls).map_err(db)?)
    }

    /// Connects over TLS (`sslmode=require`), verifying the server's
    /// certificate and name against the CA certificates in `ca_pem`.
    #[cfg(feature = "postgres-rustls")]
    pub fn connect_rustls(params: &str, ca_pem: &[u8]) -> Result<PostgresStore> {
        let mut config: postgres::Config = params.parse().map_err(db)?;
        config.ssl_mode(postgres::config::SslMode::Require);
        let tls = crate::store::postgres_tls::postgres_rustls_connector(ca_pem)?;
        PostgresStore::from_client(config.connect(tls).map_err(db)?)
    }

    /// A store over a connection the application opened, creating the tables
    /// if needed (under an advisory lock, so instances starting together do
    /// not race).
    pub fn from_client(mut client: Client) -> Result<PostgresStore> {
        let mut tx = client.transaction().map_err(db)?;
        tx.execute(SCHEMA_LOCK, &[]).map_err(db)?;
        tx.batch_execute(SCHEMA).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(PostgresStore {
            client: Mutex::new(client),
        })
    }

    fn client(&self) -> Result<MutexGuard<'_, Client>> {
        self.client.lock().map_err(|_| Error::LockPoisoned)
    }
}

impl Store for PostgresStore {
    fn len(&self) -> Result<u64> {
        len_from(&self.client()?.query_one(LEN, &[]).map_err(db)?)
    }

    fn append(&self, batch: Vec<Sealed>) -> Result<Vec<Receipt>> {
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(db)?;
        let head = tx.query_one(LOCK_HEAD, &[]).map_err(db)?;
        let placed = Placed::new(&head, batch)?;
        tx.execute(INSERT_RECORDS, &placed.records_params())
            .map_err(db)?;
        if placed.has_subjects() {
            tx.execute(INSERT_SUBJECTS, &placed.subjects_params())
                .map_err(db)?;
        }
        tx.execute(MOVE_HEAD, &placed.head_params()).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(placed.receipts)
    }

    fn read(&self, start: u64, end: u64) -> Result<Vec<Record>> {
        let [s, e] = bounds(start, end)?;
        let rows = self.client()?.query(READ, &[&s, &e]).map_err(db)?;
        rows.iter().map(record_from).collect()
    }

    fn leaf_hashes(&self, start: u64, end: u64) -> Result<Vec<Hash>> {
        let [s, e] = bounds(start, end)?;
        let rows = self.client()?.query(LEAVES, &[&s, &e]).map_err(db)?;
        rows.iter().map(leaf_from).collect()
    }

    fn query(&self, query: &Query) -> Result<Vec<Record>> {
        let sql = QuerySql::new(query)?;
        let rows = self.client()?.query(sql.sql, &sql.params()).map_err(db)?;
        QuerySql::filter(query, &rows)
    }

    fn erase_payload(&self, index: u64) -> Result<bool> {
        let n = self
            .client()?
            .execute(ERASE, &[&erased(), &to_i64(index)?])
            .map_err(db)?;
        Ok(n > 0)
    }

    fn add_checkpoint(&self, note: &str) -> Result<()> {
        self.client()?
            .execute(ADD_CHECKPOINT, &[&note])
            .map_err(db)?;
        Ok(())
    }

    fn checkpoints(&self) -> Result<Vec<String>> {
        let rows = self.client()?.query(CHECKPOINTS, &[]).map_err(db)?;
        rows.iter().map(note_from).collect()
    }
}
