//! Storage: one small SQL dialect over SQLite (embedded) and PostgreSQL.
//!
//! Every statement uses `$1, $2, …` placeholders in increasing order of first
//! appearance, `TEXT` and `BIGINT` columns only, so the same text runs on
//! both engines. Each engine has a small pool of connections; calls block and
//! are made from Tokio's blocking pool.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use postgres::config::SslMode;

use crate::error::{Error, Result};

/// One SQL value: the schema uses only these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Val {
    Null,
    Int(i64),
    Text(String),
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::Text(s.to_owned())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::Text(s)
    }
}
impl From<&String> for Val {
    fn from(s: &String) -> Self {
        Val::Text(s.clone())
    }
}
impl From<i64> for Val {
    fn from(n: i64) -> Self {
        Val::Int(n)
    }
}
impl From<Option<String>> for Val {
    fn from(s: Option<String>) -> Self {
        s.map_or(Val::Null, Val::Text)
    }
}
impl From<Option<i64>> for Val {
    fn from(n: Option<i64>) -> Self {
        n.map_or(Val::Null, Val::Int)
    }
}

/// A result row: values by column name.
#[derive(Debug)]
pub(crate) struct Row {
    names: Arc<[String]>,
    vals: Vec<Val>,
}

impl Row {
    fn get(&self, column: &str) -> Option<&Val> {
        self.names
            .iter()
            .position(|n| n == column)
            .and_then(|i| self.vals.get(i))
    }

    /// The text in `column`; an error when it is missing or not text.
    pub(crate) fn text(&self, column: &str) -> Result<String> {
        match self.get(column) {
            Some(Val::Text(s)) => Ok(s.clone()),
            _ => Err(Error::Storage(format!("column `{column}` is not text"))),
        }
    }

    /// The text in `column`, or `None` when it is NULL.
    pub(crate) fn opt_text(&self, column: &str) -> Option<String> {
        match self.get(column) {
            Some(Val::Text(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// The integer in `column`; an error when it is missing or not one.
    pub(crate) fn int(&self, column: &str) -> Result<i64> {
        match self.get(column) {
            Some(Val::Int(n)) => Ok(*n),
            _ => Err(Error::Storage(format!(
                "column `{column}` is not an integer"
            ))),
        }
    }

    /// The integer in `column`, or `None` when it is NULL.
    pub(crate) fn opt_int(&self, column: &str) -> Option<i64> {
        match self.get(column) {
            Some(Val::Int(n)) => Some(*n),
            _ => None,
        }
    }
}

/// A struct read from a row, by column names.
pub(crate) trait FromRow: Sized {
    fn from_row(row: &Row) -> Result<Self>;
}

/// The schema. Every personal value is a palisade-crypt ciphertext bound
/// to its tenant, table, column and row (client names, phones and e-mails,
/// employee names and e-mails, attachment names, bodies and holds, invoice
/// amounts and holds); equality lookups go through blind indexes
/// (`phone_index`, `email_index`). Ids, times and policy documents are clear.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL, \
     policy TEXT NOT NULL, policy_version BIGINT NOT NULL, settings TEXT NOT NULL DEFAULT '{}', \
     created BIGINT NOT NULL, closing_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, \
     email TEXT NOT NULL, email_index TEXT NOT NULL, name TEXT NOT NULL, \
     password_hash TEXT NOT NULL, role TEXT NOT NULL, totp_secret TEXT, totp_pending TEXT, \
     totp_state TEXT NOT NULL, recovery TEXT, created BIGINT NOT NULL, \
     UNIQUE (tenant, email_index))",
    "CREATE TABLE IF NOT EXISTS sessions (token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, \
     tenant TEXT NOT NULL, stage TEXT NOT NULL, expires BIGINT NOT NULL, stepped_up BIGINT, \
     viewing_as TEXT)",
    "CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id)",
    "CREATE TABLE IF NOT EXISTS clients (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, \
     name TEXT NOT NULL, phone TEXT NOT NULL, email TEXT NOT NULL, phone_index TEXT NOT NULL, \
     created_by TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL, last_activity BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS clients_phone ON clients (tenant, phone_index)",
    "CREATE INDEX IF NOT EXISTS clients_tenant ON clients (tenant, created)",
    "CREATE TABLE IF NOT EXISTS attachments (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, \
     client_id TEXT NOT NULL, file_name TEXT NOT NULL, body TEXT NOT NULL, \
     created BIGINT NOT NULL, ticket_closed BIGINT, legal_hold TEXT)",
    "CREATE TABLE IF NOT EXISTS invoices (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, \
     client_id TEXT NOT NULL, amount TEXT NOT NULL, created BIGINT NOT NULL, \
     legal_hold TEXT)",
    "CREATE TABLE IF NOT EXISTS bookings (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, \
     client_id TEXT NOT NULL, created_by TEXT NOT NULL, starts BIGINT NOT NULL, \
     minutes BIGINT NOT NULL, note TEXT NOT NULL, created BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS bookings_tenant ON bookings (tenant, starts)",
    "CREATE TABLE IF NOT EXISTS payments (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, \
     invoice_id TEXT NOT NULL, amount TEXT NOT NULL, created BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tariffs (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, \
     name TEXT NOT NULL, price_cents BIGINT NOT NULL, created BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS login_attempts (key TEXT PRIMARY KEY, attempts BIGINT NOT NULL, \
     retry_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS login_attempts_expires ON login_attempts (expires_at)",
    "CREATE TABLE IF NOT EXISTS audit_keys (tenant TEXT PRIMARY KEY, origin TEXT NOT NULL, \
     signer TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS alerts (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, \
     rule TEXT NOT NULL, actor TEXT NOT NULL, raised BIGINT NOT NULL, detail TEXT NOT NULL, \
     record BIGINT)",
    "CREATE INDEX IF NOT EXISTS alerts_tenant ON alerts (tenant, raised)",
    "CREATE TABLE IF NOT EXISTS job_leases (job TEXT PRIMARY KEY, holder TEXT NOT NULL, \
     expires BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS job_runs (job TEXT NOT NULL, instance TEXT NOT NULL, \
     at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS downloads (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, \
     user_id TEXT NOT NULL, created BIGINT NOT NULL, file_name TEXT NOT NULL, body TEXT NOT NULL, \
     bytes BIGINT NOT NULL, sha256 TEXT NOT NULL)",
    // Single sign-on (see `sso`): each tenant's identity provider (its client
    // secret sealed; one tenant per issuer and client), the provider's users
    // linked to accounts by a blind index of their subject, and the sessions
    // opened through it (the sealed ID token for logout, their hard end).
    "CREATE TABLE IF NOT EXISTS sso_providers (tenant TEXT PRIMARY KEY, issuer TEXT NOT NULL, \
     client_id TEXT NOT NULL, settings TEXT NOT NULL, client_secret TEXT NOT NULL, \
     revision TEXT NOT NULL, updated BIGINT NOT NULL, updated_by TEXT NOT NULL, \
     UNIQUE (issuer, client_id))",
    "CREATE TABLE IF NOT EXISTS sso_links (tenant TEXT NOT NULL, subject_index TEXT NOT NULL, \
     user_id TEXT NOT NULL, created BIGINT NOT NULL, PRIMARY KEY (tenant, subject_index))",
    "CREATE TABLE IF NOT EXISTS sso_sessions (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, \
     tenant TEXT NOT NULL, user_id TEXT NOT NULL, subject_index TEXT NOT NULL, sid_index TEXT, \
     id_token TEXT NOT NULL, expires BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sso_sessions_subject ON sso_sessions (tenant, subject_index)",
];

/// The database: SQLite or PostgreSQL, each behind a small connection pool.
pub(crate) enum Db {
    Sqlite(Pool<rusqlite::Connection>),
    Postgres(Pool<PgConn>),
}

/// A PostgreSQL connection with the statements it prepared: a statement
/// run again is bound and executed in one round trip, without the server
/// parsing and planning it anew.
pub(crate) struct PgConn {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

/// The most statements one connection keeps prepared (the app's statements
/// are a fixed set; DDL with names in it is not kept).
const STATEMENTS_KEPT: usize = 256;

impl PgConn {
    fn new(client: postgres::Client) -> PgConn {
        PgConn {
            client,
            statements: HashMap::new(),
        }
    }

    /// `sql` prepared on this connection, from the cache when it was before.
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).map_err(pg_error)?;
        if self.statements.len() < STATEMENTS_KEPT {
            self.statements.insert(sql.to_owned(), statement.clone());
        }
        Ok(statement)
    }
}

pub(crate) struct Pool<C> {
    conns: Vec<Mutex<C>>,
    next: AtomicUsize,
}

impl<C> Pool<C> {
    fn new(conns: Vec<C>) -> Self {
        Pool {
            conns: conns.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut C) -> Result<T>) -> Result<T> {
        let len = self.conns.len().max(1);
        let start = self.next.fetch_add(1, Ordering::Relaxed) % len;
        // Take the first free connection, else wait on ours.
        for k in 0..len {
            if let Some(slot) = self.conns.get((start + k) % len)
                && let Ok(mut guard) = slot.try_lock()
            {
                return f(&mut guard);
            }
        }
        let slot = self
            .conns
            .get(start)
            .ok_or_else(|| Error::Storage("empty connection pool".into()))?;
        let mut guard = slot
            .lock()
            .map_err(|_| Error::Storage("connection poisoned".into()))?;
        f(&mut guard)
    }
}

fn sqlite_error(e: rusqlite::Error) -> Error {
    Error::Storage(e.to_string())
}

fn pg_error(e: postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::Storage(format!("{} ({})", db.message(), db.code().code())),
        None => Error::Storage(with_sources(&e)),
    }
}

/// An error and its sources, `: `-separated: the driver says only "error
/// performing TLS handshake", its source which certificate problem.
pub(crate) fn with_sources(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let part = e.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = e.source();
    }
    text
}

/// The CA certificates (PEM) that connections to the PostgreSQL server at
/// `url` verify it against: read from the file `ca`, or `None` (no TLS) when
/// no CA is given. A URL that asks for TLS (`sslmode=require`) without a CA,
/// or turns it off (`sslmode=disable`) with one, is refused: a server that
/// cannot be verified is not trusted with the data, and a CA given for
/// nothing is a mistake worth stopping for.
pub(crate) fn pg_ca(url: &str, ca: Option<&Path>) -> Result<Option<Vec<u8>>> {
    let config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
        let hint = if url.contains("sslmode=verify") {
            "; libpq's `sslmode=verify-full` is `--database-ca FILE` here \
             (TLS required, the server's certificate verified against FILE and its host name)"
        } else {
            ""
        };
        Error::Storage(format!(
            "the database URL is invalid: {}{hint}",
            with_sources(&e)
        ))
    })?;
    match (ca, config.get_ssl_mode()) {
        (Some(path), SslMode::Disable) => Err(Error::Storage(format!(
            "the database URL turns TLS off (`sslmode=disable`) but a CA `{}` is given for it",
            path.display()
        ))),
        (Some(path), _) => std::fs::read(path).map(Some).map_err(|e| {
            Error::Storage(format!(
                "cannot read the database CA certificate `{}`: {e}",
                path.display()
            ))
        }),
        (None, SslMode::Require) => Err(Error::Storage(
            "the database URL requires TLS (`sslmode=require`) but no CA certificate \
             is given to verify the server with (`--database-ca FILE`)"
                .into(),
        )),
        (None, _) => Ok(None),
    }
}

/// Whether every host of `url` is on this machine (a Unix socket or a
/// loopback address), where PostgreSQL in the clear crosses no network.
pub(crate) fn pg_is_local(url: &str) -> Result<bool> {
    let config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
        Error::Storage(format!("the database URL is invalid: {}", with_sources(&e)))
    })?;
    Ok(config.get_hosts().iter().all(|host| match host {
        postgres::config::Host::Unix(_) => true,
        postgres::config::Host::Tcp(name) => {
            name == "localhost"
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    }) && config
        .get_hostaddrs()
        .iter()
        .all(std::net::IpAddr::is_loopback))
}

/// A blocking connection to the PostgreSQL server at `url`. With `ca` (a
/// PEM file of CA certificates), TLS is required and the server's
/// certificate must chain to one of them and name the host connected to:
/// libpq's `sslmode=verify-full`. A server that offers no TLS, or presents
/// a certificate another CA signed, is refused.
pub(crate) fn pg_connect(url: &str, ca: Option<&Path>) -> Result<postgres::Client> {
    match pg_ca(url, ca)? {
        None => postgres::Client::connect(url, postgres::NoTls).map_err(pg_error),
        Some(pem) => {
            let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
                Error::Storage(format!("the database URL is invalid: {}", with_sources(&e)))
            })?;
            config.ssl_mode(SslMode::Require);
            let tls = palisade_audit::postgres_rustls_connector(&pem)
                .map_err(|e| Error::Storage(format!("the database CA certificate: {e}")))?;
            config.connect(tls).map_err(pg_error)
        }
    }
}

/// `url` for libpq's tools (`pg_dump`, `pg_restore`, `psql`): with a CA,
/// `sslmode=verify-full` and `sslrootcert` appended (libpq keeps the last
/// value of a repeated setting), so they verify the server as
/// [`pg_connect`] does.
pub(crate) fn pg_tool_url(url: &str, ca: Option<&Path>) -> String {
    let Some(ca) = ca else {
        return url.to_owned();
    };
    let path = ca.to_string_lossy();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        let mut encoded = String::new();
        for byte in path.bytes() {
            if byte.is_ascii_alphanumeric() || b"/._-~".contains(&byte) {
                encoded.push(char::from(byte));
            } else {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
        format!("{url}{sep}sslmode=verify-full&sslrootcert={encoded}")
    } else {
        let quoted = path.replace('\\', "\\\\").replace('\'', "\\'");
        format!("{url} sslmode=verify-full sslrootcert='{quoted}'")
    }
}

impl Db {
    /// Opens (creating) the SQLite database file with `pool` connections.
    /// The file is created readable by its owner only (0600) before SQLite
    /// opens it; SQLite gives its journal files the same mode.
    pub(crate) fn sqlite(path: &Path, pool: usize) -> Result<Db> {
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(path)?;
        }
        let mut conns = Vec::new();
        for _ in 0..pool.max(1) {
            let conn = rusqlite::Connection::open(path).map_err(sqlite_error)?;
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .map_err(sqlite_error)?;
            conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
                .map_err(sqlite_error)?;
            // Query plans that do not depend on bound values: without it
            // SQLite (3.47 and later) marks a statement whose `LIMIT` or
            // `LIKE` takes a parameter as expired on every new binding, and
            // re-parses and re-plans it on each execution (the statement
            // cache then saves nothing for the client list).
            conn.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
                true,
            )
            .map_err(sqlite_error)?;
            // Defensive mode: no raw page writes through `sqlite_dbpage`
            // (compiled in for the backup, which only reads it), no
            // writable schema, no journal switched off.
            conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
                .map_err(sqlite_error)?;
            conns.push(conn);
        }
        let db = Db::Sqlite(Pool::new(conns));
        db.migrate()?;
        Ok(db)
    }

    /// Connects to PostgreSQL at `url` with `pool` connections, over TLS
    /// verified against the CA certificates in the file `ca` when given (see
    /// [`pg_connect`]).
    pub(crate) fn postgres(url: &str, ca: Option<&Path>, pool: usize) -> Result<Db> {
        let mut conns = Vec::new();
        for _ in 0..pool.max(1) {
            conns.push(PgConn::new(pg_connect(url, ca)?));
        }
        let db = Db::Postgres(Pool::new(conns));
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&self) -> Result<()> {
        for statement in SCHEMA {
            self.exec(statement, &[])?;
        }
        Ok(())
    }

    /// Runs a statement; returns the number of rows changed.
    pub(crate) fn exec(&self, sql: &str, params: &[Val]) -> Result<u64> {
        match self {
            Db::Sqlite(pool) => pool.with(|c| sqlite_exec(c, sql, params)),
            Db::Postgres(pool) => pool.with(|c| {
                let statement = c.statement(sql)?;
                pg_exec(&mut c.client, &statement, params)
            }),
        }
    }

    /// Runs a query and returns every row.
    pub(crate) fn query(&self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        match self {
            Db::Sqlite(pool) => pool.with(|c| sqlite_query(c, sql, params)),
            Db::Postgres(pool) => pool.with(|c| {
                let statement = c.statement(sql)?;
                pg_query(&mut c.client, &statement, params)
            }),
        }
    }

    /// Runs a query and returns its first row, if any.
    pub(crate) fn query_one(&self, sql: &str, params: &[Val]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs a query and reads every row into a `T`.
    pub(crate) fn query_as<T: FromRow>(&self, sql: &str, params: &[Val]) -> Result<Vec<T>> {
        self.query(sql, params)?.iter().map(T::from_row).collect()
    }

    /// Runs a query and reads its first row, if any, into a `T`.
    pub(crate) fn query_one_as<T: FromRow>(&self, sql: &str, params: &[Val]) -> Result<Option<T>> {
        self.query_one(sql, params)?
            .as_ref()
            .map(T::from_row)
            .transpose()
    }

    /// Runs `f` in one transaction: every statement it makes is committed
    /// together when it returns `Ok`, and none is when it returns `Err`.
    /// SQLite takes the write lock at `BEGIN` (`IMMEDIATE`), so two
    /// transactions never interleave their reads and writes.
    pub(crate) fn transaction<T>(&self, f: impl FnOnce(&mut Tx<'_, '_>) -> Result<T>) -> Result<T> {
        match self {
            Db::Sqlite(pool) => pool.with(|c| {
                let tx = c
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(sqlite_error)?;
                let out = f(&mut Tx::Sqlite(&tx))?;
                tx.commit().map_err(sqlite_error)?;
                Ok(out)
            }),
            Db::Postgres(pool) => pool.with(|c| {
                let mut tx = c.client.transaction().map_err(pg_error)?;
                let out = f(&mut Tx::Postgres(&mut tx))?;
                tx.commit().map_err(pg_error)?;
                Ok(out)
            }),
        }
    }

    /// The SQLite database's file (for a backup's own connection).
    pub(crate) fn sqlite_path(&self) -> Result<std::path::PathBuf> {
        match self {
            Db::Sqlite(pool) => pool.with(|c| {
                c.path()
                    .filter(|p| !p.is_empty())
                    .map(std::path::PathBuf::from)
                    .ok_or_else(|| Error::Internal("the SQLite database has no file".into()))
            }),
            Db::Postgres(_) => Err(Error::Internal("not a SQLite database".into())),
        }
    }

    /// A consistent copy of the SQLite database in `file` (SQLite's online
    /// backup API: writers go on while it copies). All pages are copied in
    /// one step, under one read lock: a backup stepped a few pages at a time
    /// starts over whenever another connection writes between two steps.
    pub(crate) fn sqlite_backup(&self, file: &Path) -> Result<()> {
        match self {
            Db::Sqlite(pool) => pool.with(|c| {
                let mut copy = rusqlite::Connection::open(file).map_err(sqlite_error)?;
                let backup = rusqlite::backup::Backup::new(c, &mut copy).map_err(sqlite_error)?;
                backup
                    .run_to_completion(i32::MAX, std::time::Duration::from_millis(10), None)
                    .map_err(sqlite_error)
            }),
            Db::Postgres(_) => Err(Error::Internal("not a SQLite database".into())),
        }
    }

    /// Which engine this is, for messages.
    pub(crate) fn engine(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgresql",
        }
    }
}

/// The statements of one transaction (see [`Db::transaction`]).
pub(crate) enum Tx<'a, 'c> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(&'a mut postgres::Transaction<'c>),
}

impl Tx<'_, '_> {
    /// Runs a statement; returns the number of rows changed.
    pub(crate) fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        match self {
            Tx::Sqlite(c) => sqlite_exec(c, sql, params),
            Tx::Postgres(c) => pg_exec(&mut **c, sql, params),
        }
    }

    /// Runs a query and returns every row.
    pub(crate) fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        match self {
            Tx::Sqlite(c) => sqlite_query(c, sql, params),
            Tx::Postgres(c) => pg_query(&mut **c, sql, params),
        }
    }

    /// Runs a query and returns its first row, if any.
    pub(crate) fn query_one(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Sends `payload` on the notification `channel` when the transaction
    /// commits (PostgreSQL's `pg_notify`, to every session that `LISTEN`s,
    /// on every instance); nothing on SQLite, which has one instance.
    pub(crate) fn notify(&mut self, channel: &str, payload: &str) -> Result<()> {
        match self {
            Tx::Sqlite(_) => Ok(()),
            Tx::Postgres(c) => pg_exec(
                &mut **c,
                "SELECT pg_notify($1, $2)",
                &[channel.into(), payload.into()],
            )
            .map(drop),
        }
    }
}

fn sqlite_exec(c: &rusqlite::Connection, sql: &str, params: &[Val]) -> Result<u64> {
    let mut stmt = c.prepare_cached(sql).map_err(sqlite_error)?;
    let n = stmt
        .execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))
        .map_err(sqlite_error)?;
    Ok(n as u64)
}

fn sqlite_query(c: &rusqlite::Connection, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
    let mut stmt = c.prepare_cached(sql).map_err(sqlite_error)?;
    let columns = stmt.column_count();
    let names: Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter().map(sqlite_value)))
        .map_err(sqlite_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_error)? {
        let mut vals = Vec::with_capacity(columns);
        for i in 0..columns {
            vals.push(match row.get_ref(i).map_err(sqlite_error)? {
                rusqlite::types::ValueRef::Integer(n) => Val::Int(n),
                rusqlite::types::ValueRef::Text(t) => {
                    Val::Text(String::from_utf8_lossy(t).into_owned())
                }
                _ => Val::Null,
            });
        }
        out.push(Row {
            names: Arc::clone(&names),
            vals,
        });
    }
    Ok(out)
}

fn pg_exec<Q>(c: &mut impl postgres::GenericClient, sql: &Q, params: &[Val]) -> Result<u64>
where
    Q: postgres::ToStatement + ?Sized,
{
    let owned = pg_params(params);
    let refs = pg_refs(&owned);
    c.execute(sql, &refs).map_err(pg_error)
}

fn pg_query<Q>(c: &mut impl postgres::GenericClient, sql: &Q, params: &[Val]) -> Result<Vec<Row>>
where
    Q: postgres::ToStatement + ?Sized,
{
    let owned = pg_params(params);
    let refs = pg_refs(&owned);
    let rows = c.query(sql, &refs).map_err(pg_error)?;
    let mut out = Vec::with_capacity(rows.len());
    let names: Arc<[String]> = rows
        .first()
        .map(|r| r.columns().iter().map(|c| c.name().to_owned()).collect())
        .unwrap_or_else(|| Arc::from(Vec::new()));
    for row in rows {
        let mut vals = Vec::with_capacity(row.len());
        for (i, column) in row.columns().iter().enumerate() {
            let ty = column.type_();
            let v = if *ty == postgres::types::Type::INT8 {
                row.try_get::<_, Option<i64>>(i)
                    .map_err(pg_error)?
                    .map_or(Val::Null, Val::Int)
            } else if *ty == postgres::types::Type::INT4 {
                row.try_get::<_, Option<i32>>(i)
                    .map_err(pg_error)?
                    .map_or(Val::Null, |n| Val::Int(i64::from(n)))
            } else {
                row.try_get::<_, Option<String>>(i)
                    .map_err(pg_error)?
                    .map_or(Val::Null, Val::Text)
            };
            vals.push(v);
        }
        out.push(Row {
            names: Arc::clone(&names),
            vals,
        });
    }
    Ok(out)
}

fn sqlite_value(v: &Val) -> rusqlite::types::Value {
    match v {
        Val::Null => rusqlite::types::Value::Null,
        Val::Int(n) => rusqlite::types::Value::Integer(*n),
        Val::Text(s) => rusqlite::types::Value::Text(s.clone()),
    }
}

enum PgParam {
    Int(i64),
    Text(Option<String>),
}

fn pg_params(params: &[Val]) -> Vec<PgParam> {
    params
        .iter()
        .map(|v| match v {
            Val::Null => PgParam::Text(None),
            Val::Int(n) => PgParam::Int(*n),
            Val::Text(s) => PgParam::Text(Some(s.clone())),
        })
        .collect()
}

fn pg_refs(params: &[PgParam]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| match p {
            PgParam::Int(n) => n as &(dyn postgres::types::ToSql + Sync),
            PgParam::Text(s) => s as &(dyn postgres::types::ToSql + Sync),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use std::path::Path;

    use super::{pg_is_local, pg_tool_url};

    /// libpq keeps the last value of a repeated setting (in both forms), so
    /// what is appended overrides a weaker `sslmode` already in the URL.
    #[test]
    fn tool_urls_verify_the_server_with_the_ca() {
        let ca = Path::new("/etc/pg ca/it's.pem");
        assert_eq!(
            pg_tool_url("host=db user=app sslmode=require", Some(ca)),
            r"host=db user=app sslmode=require sslmode=verify-full sslrootcert='/etc/pg ca/it\'s.pem'"
        );
        assert_eq!(
            pg_tool_url("postgres://app@db/app?sslmode=prefer", Some(ca)),
            "postgres://app@db/app?sslmode=prefer&sslmode=verify-full&sslrootcert=/etc/pg%20ca/it%27s.pem"
        );
        assert_eq!(
            pg_tool_url("postgresql://app@db/app", Some(ca)),
            "postgresql://app@db/app?sslmode=verify-full&sslrootcert=/etc/pg%20ca/it%27s.pem"
        );
        assert_eq!(pg_tool_url("host=db", None), "host=db");
    }

    #[test]
    fn local_databases_are_sockets_and_loopback_only() {
        assert!(pg_is_local("host=/run/postgresql user=app").unwrap());
        assert!(pg_is_local("host=localhost user=app").unwrap());
        assert!(pg_is_local("postgres://app@127.0.0.1:5432/app").unwrap());
        assert!(pg_is_local("postgres://app@[::1]:5432/app").unwrap());
        assert!(!pg_is_local("host=db.example.org user=app").unwrap());
        assert!(!pg_is_local("host=localhost,db.example.org user=app").unwrap());
        assert!(!pg_is_local("host=localhost hostaddr=10.0.0.7 user=app").unwrap());
        assert!(!pg_is_local("postgres://app@10.1.2.3/app").unwrap());
    }
}
