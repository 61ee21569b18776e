//! The async PostgreSQL store on tokio-postgres and a deadpool pool
//! (feature `postgres-async`).

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::Socket;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

use super::{
    ADD_CHECKPOINT, CHECKPOINTS, ERASE, INSERT_RECORDS, INSERT_SUBJECTS, LEAVES, LEN, LOCK_HEAD,
    MOVE_HEAD, Placed, QuerySql, READ, SCHEMA, SCHEMA_LOCK, bounds, db, erased, leaf_from,
    len_from, note_from, record_from, to_i64,
};
use crate::asynclog::AsyncStore;
use crate::record::{Record, Sealed};
use crate::store::{Query, Receipt};
use crate::{Error, Hash, Result};

/// The most connections a pool built by [`AsyncPostgresStore::connect`]
/// opens: the group commit needs one at a time per log, the rest serve
/// reads, queries and proofs.
const POOL_SIZE: usize = 4;

/// A log in PostgreSQL for async services (feature `postgres-async`):
/// tokio-postgres connections from a deadpool pool, the application's own
/// or one built here.
///
/// Same tables and statements as the blocking `PostgresStore`: each append
/// is one transaction that locks the head row (`SELECT … FOR UPDATE`), so
/// any number of instances, blocking or async, append to one valid log. Used
/// through [`AsyncAuditLog`](crate::AsyncAuditLog), each instance commits
/// the appends of its concurrent requests together, one transaction per
/// batch.
#[derive(Clone)]
pub struct AsyncPostgresStore {
    pool: Pool,
}

impl std::fmt::Debug for AsyncPostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncPostgresStore")
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> Error {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db(e),
        other => Error::DatabaseFailed(Box::new(other)),
    }
}

impl AsyncPostgresStore {
    /// A store over the application's pool (any TLS it was built with),
    /// creating the tables if needed under an advisory lock, so instances
    /// starting together do not race. The pool's connections must reach the
    /// schema the log lives in (`options=-csearch_path=…` to pick one).
    pub async fn from_pool(pool: Pool) -> Result<AsyncPostgresStore> {
        let mut client = pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(db)?;
        tx.execute(SCHEMA_LOCK, &[]).await.map_err(db)?;
        tx.batch_execute(SCHEMA).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        drop(client);
        Ok(AsyncPostgresStore { pool })
    }

    /// Connects with a libpq-style connection string (`host=… user=…
    /// dbname=…`) through `tls`, in a pool of up to four connections.
    ///
    /// `tls` is the caller's choice: `postgres_rustls_connector` (feature
    /// `postgres-rustls`) to verify the server against a CA, any other
    /// `MakeTlsConnect`, or `tokio_postgres::NoTls` to connect in the clear.
    /// Put `sslmode=require` in `params` so that a server (or an attacker in
    /// between) cannot decline TLS; `AsyncPostgresStore::connect_rustls`
    /// does (feature `postgres-rustls`).
    pub async fn connect<T>(params: &str, tls: T) -> Result<AsyncPostgresStore>
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let config: tokio_postgres::Config = params.parse().map_err(db)?;
        AsyncPostgresStore::with_config(config, tls).await
    }

    /// Connects over TLS (`sslmode=require`), verifying the server's
    /// certificate and name against the CA certificates in `ca_pem`
    /// ([`postgres_rustls_connector`](crate::postgres_rustls_connector)). A
    /// server whose certificate another CA signed, or that offers no TLS, is
    /// refused with [`Error::TlsFailed`].
    #[cfg(feature = "postgres-rustls")]
    pub async fn connect_rustls(params: &str, ca_pem: &[u8]) -> Result<AsyncPostgresStore> {
        let mut config: tokio_postgres::Config = params.parse().map_err(db)?;
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
        let tls = crate::store::postgres_tls::postgres_rustls_connector(ca_pem)?;
        AsyncPostgresStore::with_config(config, tls).await
    }

    async fn with_config<T>(config: tokio_postgres::Config, tls: T) -> Result<AsyncPostgresStore>
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| Error::DatabaseFailed(Box::new(e)))?;
        AsyncPostgresStore::from_pool(pool).await
    }

    /// The pool the store draws connections from.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_error)
    }
}

impl AsyncStore for AsyncPostgresStore {
    async fn len(&self) -> Result<u64> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(LEN).await.map_err(db)?;
        len_from(&client.query_one(&stmt, &[]).await.map_err(db)?)
    }

    async fn append(&self, batch: Vec<Sealed>) -> Result<Vec<Receipt>> {
        let mut client = self.client().await?;
        // Statements prepared once per pooled connection: a commit is then
        // one round trip per statement.
        let lock_head = client.prepare_cached(LOCK_HEAD).await.map_err(db)?;
        let insert_records = client.prepare_cached(INSERT_RECORDS).await.map_err(db)?;
        let insert_subjects = client.prepare_cached(INSERT_SUBJECTS).await.map_err(db)?;
        let move_head = client.prepare_cached(MOVE_HEAD).await.map_err(db)?;
        let tx = client.transaction().await.map_err(db)?;
        let head = tx.query_one(&lock_head, &[]).await.map_err(db)?;
        let placed = Placed::new(&head, batch)?;
        tx.execute(&insert_records, &placed.records_params())
            .await
            .map_err(db)?;
        if placed.has_subjects() {
            tx.execute(&insert_subjects, &placed.subjects_params())
                .await
                .map_err(db)?;
        }
        tx.execute(&move_head, &placed.head_params())
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(placed.receipts)
    }

    async fn read(&self, start: u64, end: u64) -> Result<Vec<Record>> {
        let [s, e] = bounds(start, end)?;
        let client = self.client().await?;
        let stmt = client.prepare_cached(READ).await.map_err(db)?;
        let rows = client.query(&stmt, &[&s, &e]).await.map_err(db)?;
        rows.iter().map(record_from).collect()
    }

    async fn leaf_hashes(&self, start: u64, end: u64) -> Result<Vec<Hash>> {
        let [s, e] = bounds(start, end)?;
        let client = self.client().await?;
        let stmt = client.prepare_cached(LEAVES).await.map_err(db)?;
        let rows = client.query(&stmt, &[&s, &e]).await.map_err(db)?;
        rows.iter().map(leaf_from).collect()
    }

    async fn query(&self, query: &Query) -> Result<Vec<Record>> {
        let sql = QuerySql::new(query)?;
        let client = self.client().await?;
        let rows = client.query(sql.sql, &sql.params()).await.map_err(db)?;
        QuerySql::filter(query, &rows)
    }

    async fn erase_payload(&self, index: u64) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute(ERASE, &[&erased(), &to_i64(index)?])
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn add_checkpoint(&self, note: &str) -> Result<()> {
        let client = self.client().await?;
        client.execute(ADD_CHECKPOINT, &[&note]).await.map_err(db)?;
        Ok(())
    }

    async fn checkpoints(&self) -> Result<Vec<String>> {
        let client = self.client().await?;
        let rows = client.query(CHECKPOINTS, &[]).await.map_err(db)?;
        rows.iter().map(note_from).collect()
    }
}
