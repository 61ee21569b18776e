//! The back office itself: configuration, shared state, sessions and the
//! authorization check every operation starts with.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use palisade_audit::{
    AsyncAuditLog, AsyncPostgresStore, AuditLog, AuditSink, BlockingStore, Bundle,
    CheckpointSigner, CheckpointVerifier, Event, FileOptions, FileStore, Outcome, PostgresStore,
    Receipt,
};
use palisade_crypt::{Context, Keyring};
use palisade_password::{Limits, LoginLimiter};
use palisade_pii::{Masker, Operator, PartialMask};
use palisade_rbac::{Policy, PolicyDocument};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::attempts::DbAttempts;
use crate::db::{Db, Tx};
use crate::error::{Error, Result, internal};

/// The authorization policy template every tenant starts from.
pub const POLICY_TEMPLATE: &str = include_str!("../assets/policy.toml");
/// The retention policy the sweeper applies.
pub const RETENTION_POLICY: &str = include_str!("../assets/retention.toml");
/// The five seed roles, most privileged first.
pub const ROLES: [&str; 5] = [
    "Administrator",
    "Manager",
    "Operator supervisor",
    "Senior operator",
    "Operator",
];
/// The role of a tenant's owner.
pub const OWNER_ROLE: &str = "Administrator";
/// Wrong passwords an account may try before its back-off starts.
pub const PASSWORD_FREE_ATTEMPTS: u32 = 5;
/// The largest attachment accepted, in bytes (and the scanner's stream limit).
pub(crate) const ATTACHMENT_MAX: u64 = 1 << 20;
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "bo_session";

/// How the back office is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the SQLite database, the audit logs and the backups' keys live.
    pub data_dir: PathBuf,
    /// Where the keyring and its key-encryption key come from (default: a
    /// plain `DATA/keyring.json`, for development).
    pub keys: crate::keys::KeySource,
    /// A development configuration: a plain keyring file or a key file in
    /// the data folder is accepted, and attachments may be stored unscanned
    /// when no scanner is configured. Never in production.
    pub dev: bool,
    /// The ClamAV daemon that scans every attachment before it is stored.
    pub scanner: Option<palisade_scan::Address>,
    /// Store an attachment unscanned when the scanner cannot be reached
    /// (fail open); by default such an upload is refused.
    pub scan_fail_open: bool,
    /// A PostgreSQL URL (`postgres://…`); SQLite in `data_dir` when `None`.
    pub database_url: Option<String>,
    /// The CA certificates (a PEM file) that signed the PostgreSQL server's
    /// certificate. When set, every connection to the database (the pool,
    /// the audit logs, the backup tools) uses TLS, and the server must
    /// present a certificate chaining to one of them and naming the host
    /// connected to (libpq's `sslmode=verify-full`); a server that offers no
    /// TLS is refused. Without it connections are in the clear, which a
    /// production start accepts only to a server on this machine.
    pub database_ca: Option<PathBuf>,
    /// Issuer shown in authenticator apps.
    pub issuer: String,
    /// Session lifetime in seconds.
    pub session_ttl: i64,
    /// Database connections.
    pub db_pool: usize,
    /// Served behind a proxy that terminates TLS: the session cookie carries
    /// `Secure`, answers carry HSTS, and the proxy's `X-Forwarded-For` is
    /// trusted for the client's address.
    pub secure_cookie: bool,
    /// Served over HTTPS by the back office itself (implies `Secure` and HSTS).
    pub tls: Option<crate::tls::Tls>,
    /// Also listen here for plain HTTP, answering every request with a
    /// redirect to HTTPS (with [`Config::tls`]).
    pub redirect_http: Option<std::net::SocketAddr>,
    /// A backup (and its restore drill) every day, if set.
    pub backups: Option<crate::backup::BackupSchedule>,
    /// What happens to a payment card number typed into a free-text field
    /// (a client's or employee's name, an attachment's name, a hold reason):
    /// card data is never stored.
    pub card_numbers: CardNumbers,
    /// The URL browsers reach the back office at (`https://backoffice.example`):
    /// single sign-on's redirect URI is made from it. Without it, single
    /// sign-on cannot be configured.
    pub public_url: Option<String>,
}

/// What the back office does with a payment card number in free text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CardNumbers {
    /// The request is refused (422) with a message saying why.
    #[default]
    Refuse,
    /// The number is masked (`XXXXXXXXXXXX1111`) before anything is stored.
    Mask,
}

impl Config {
    /// Whether clients reach the server over TLS (its own or a proxy's).
    pub fn over_tls(&self) -> bool {
        self.secure_cookie || self.tls.is_some()
    }

    /// A development configuration with data in `data_dir` and SQLite: a
    /// plain keyring file in the data folder, no scanner (attachments stored
    /// unscanned). A production start sets [`Config::keys`] and
    /// [`Config::scanner`] and turns [`Config::dev`] off.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Config {
            keys: crate::keys::KeySource::Plain(data_dir.join("keyring.json")),
            dev: true,
            scanner: None,
            scan_fail_open: false,
            data_dir,
            database_url: None,
            database_ca: None,
            issuer: "Palisade Back Office".into(),
            session_ttl: 8 * 3600,
            db_pool: 4,
            secure_cookie: false,
            tls: None,
            redirect_http: None,
            card_numbers: CardNumbers::Refuse,
            backups: None,
            public_url: None,
        }
    }
}

/// The application clock: the system clock plus an offset that tests and
/// demos may advance (to see attachments expire, or to get a fresh TOTP
/// step), and may freeze (to act within one second, whatever the machine).
#[derive(Debug)]
pub struct Clock {
    offset: AtomicI64,
    /// The frozen time, or `i64::MIN` when the clock runs.
    frozen: AtomicI64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            offset: AtomicI64::new(0),
            frozen: AtomicI64::new(i64::MIN),
        }
    }
}

fn system_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Clock {
    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        match self.frozen.load(Ordering::Relaxed) {
            i64::MIN => system_seconds().saturating_add(self.offset.load(Ordering::Relaxed)),
            frozen => frozen,
        }
    }

    /// Moves the clock forward by `seconds` (frozen or not).
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
        let _ = self
            .frozen
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |f| {
                (f != i64::MIN).then(|| f.saturating_add(seconds))
            });
    }

    /// Stops the clock at the current time until [`Clock::resume`].
    pub fn freeze(&self) {
        self.frozen.store(self.now(), Ordering::Relaxed);
    }

    /// Lets a frozen clock run again from where it stood.
    pub fn resume(&self) {
        let frozen = self.frozen.swap(i64::MIN, Ordering::Relaxed);
        if frozen != i64::MIN {
            self.offset
                .store(frozen.saturating_sub(system_seconds()), Ordering::Relaxed);
        }
    }
}

/// One tenant's audit log: segment files next to SQLite, or tables in the
/// tenant's own PostgreSQL schema (shared by every app instance).
#[allow(
    clippy::large_enum_variant,
    reason = "one per tenant, held behind an Arc: never moved around"
)]
pub(crate) enum TenantLog {
    File(FileLog),
    Postgres(PostgresLog),
}

/// A tenant's audit log in segment files, written two ways over one store:
/// blocking appends for the operations that already run on the blocking
/// pool, and the async log for the guard's decision records, one per
/// request, which concurrent requests commit together (one `fsync` per
/// batch, no blocking thread parked per request). The store sequences both.
pub(crate) struct FileLog {
    blocking: AuditLog<Arc<FileStore>>,
    decisions: AsyncAuditLog<BlockingStore<Arc<FileStore>>>,
}

/// A tenant's audit log in PostgreSQL, written two ways: blocking appends
/// for the operations that already run on the blocking pool (a handler's
/// own records, retention, backups), and the async log for the guard's
/// decision records, one per request, which concurrent requests commit
/// together (one transaction per batch, no blocking-pool hop per record).
/// Every append locks the log's head row, so the two interleave into one
/// valid log, as two app instances do.
pub(crate) struct PostgresLog {
    blocking: AuditLog<PostgresStore>,
    decisions: tokio::sync::OnceCell<AsyncAuditLog<AsyncPostgresStore>>,
    /// The connection string (with the tenant's `search_path`).
    params: String,
    /// The CA certificates the server is verified against (TLS), if any.
    ca_pem: Option<Vec<u8>>,
    origin: String,
    /// The checkpoint key, for the async log made on first use.
    signer: zeroize::Zeroizing<String>,
}

impl PostgresLog {
    /// The async log, connected on first use (from async code only: its
    /// pool's connections live on the runtime).
    async fn decisions(&self) -> palisade_audit::Result<&AsyncAuditLog<AsyncPostgresStore>> {
        self.decisions
            .get_or_try_init(|| async {
                let store = match &self.ca_pem {
                    Some(ca) => AsyncPostgresStore::connect_rustls(&self.params, ca).await?,
                    None => AsyncPostgresStore::connect(&self.params, postgres::NoTls).await?,
                };
                let signer = CheckpointSigner::from_text(&self.signer)?;
                Ok(AsyncAuditLog::builder(store)
                    .with_signer(self.origin.clone(), signer)
                    .build())
            })
            .await
    }
}

impl TenantLog {
    pub(crate) fn append(&self, event: Event) -> palisade_audit::Result<Receipt> {
        match self {
            TenantLog::File(l) => l.blocking.append(event),
            TenantLog::Postgres(l) => l.blocking.append(event),
        }
    }
    pub(crate) fn query(
        &self,
        query: &palisade_audit::Query,
    ) -> palisade_audit::Result<Vec<palisade_audit::Record>> {
        match self {
            TenantLog::File(l) => l.blocking.query(query),
            TenantLog::Postgres(l) => l.blocking.query(query),
        }
    }
    pub(crate) fn len(&self) -> palisade_audit::Result<u64> {
        match self {
            TenantLog::File(l) => l.blocking.len(),
            TenantLog::Postgres(l) => l.blocking.len(),
        }
    }
    pub(crate) fn export(&self, from: u64, to: u64) -> palisade_audit::Result<Bundle> {
        match self {
            TenantLog::File(l) => l.blocking.export(from, to),
            TenantLog::Postgres(l) => l.blocking.export(from, to),
        }
    }
    pub(crate) fn verifier(&self) -> Option<CheckpointVerifier> {
        match self {
            TenantLog::File(l) => l.blocking.verifier(),
            TenantLog::Postgres(l) => l.blocking.verifier(),
        }
    }
    /// Verifies the stored log; `dir` is where segment files live.
    pub(crate) fn verify(&self, dir: &Path) -> palisade_audit::Result<u64> {
        let key = self.verifier();
        match self {
            TenantLog::File(_) => palisade_audit::verify_dir(dir, key.as_ref()).map(|r| r.records),
            TenantLog::Postgres(l) => palisade_audit::verify_store(
                l.blocking.store(),
                Some(l.blocking.origin()),
                key.as_ref(),
            )
            .map(|r| r.records),
        }
    }
}

impl AuditSink for TenantLog {
    fn record(&self, event: Event) -> palisade_audit::Result<Receipt> {
        self.append(event)
    }
}

/// The PostgreSQL schema of a tenant's audit log.
pub fn audit_schema(tenant: &str) -> String {
    format!("audit_{}", tenant.replace('-', "_"))
}

/// `url` with `search_path` set to `schema` (key=value or URL form).
fn with_search_path(url: &str, schema: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-c%20search_path%3D{schema}")
    } else {
        format!("{url} options='-c search_path={schema}'")
    }
}

/// The running back office: storage, keys, policies, audit logs.
pub struct Backoffice {
    pub(crate) config: Config,
    pub(crate) db: Arc<Db>,
    pub(crate) keyring: Keyring,
    pub(crate) clock: Arc<Clock>,
    /// The compiled tenant policies, kept current across instances.
    pub(crate) policies: Arc<crate::policy_cache::PolicyCache>,
    pub(crate) audit_logs: Mutex<HashMap<String, Arc<TenantLog>>>,
    pub(crate) retention: palisade_retention::Policy,
    pub(crate) masker: Arc<Masker>,
    /// Sign-in attempts, reserved before each password check (per account
    /// and per client address), in the shared database.
    pub(crate) login_limiter: LoginLimiter<DbAttempts>,
    /// The virus scanner attachments go through, when configured.
    pub(crate) scanner: Option<palisade_scan::Scanner>,
    /// The HTTPS configuration, when served over TLS.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// Finds payment card numbers (brand ranges, lengths, Luhn) in free
    /// text, and masks them (all but the last four digits).
    pub(crate) card_masker: Masker,
    /// What the misuse-detection rules remember (see `alerts`).
    pub(crate) alert_state: Mutex<crate::alerts::AlertState>,
    /// Tenants' settings as the alert rules last read them, and when (see
    /// `alerts::SETTINGS_FRESH`).
    pub(crate) settings_seen:
        Mutex<HashMap<String, (std::time::Instant, crate::settings::TenantSettings)>>,
    /// This instance's name in job leases (random per start).
    pub(crate) instance: String,
    /// Single sign-on through each tenant's identity provider (see `sso`).
    pub(crate) sso: crate::sso::SsoState,
}

impl std::fmt::Debug for Backoffice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backoffice")
            .field("engine", &self.db.engine())
            .finish_non_exhaustive()
    }
}

/// Creates `dir` (and its parents) readable by its owner only (0700), or
/// checks that an existing one is: the data folder holds the database, the
/// keyring and the audit logs, none of which another local user may read.
pub(crate) fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Internal(format!(
            "the data folder `{}` is open to other users (mode {mode:o}); `chmod 700` it",
            dir.display()
        )));
    }
    Ok(())
}

/// A fresh random token (256 bits, base64url).
pub(crate) fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    OsRng.try_fill_bytes(&mut bytes).map_err(internal)?;
    Ok(BASE64URL_NOPAD.encode(&bytes))
}

/// A fresh identifier with a prefix (`c-3f9a…`).
pub(crate) fn random_id(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 9];
    OsRng.try_fill_bytes(&mut bytes).map_err(internal)?;
    Ok(format!("{prefix}-{}", HEXLOWER.encode(&bytes)))
}

/// SHA-256 of a token, hex: what the sessions table stores.
pub(crate) fn token_hash(token: &str) -> String {
    HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

impl Backoffice {
    /// Opens the back office: creates the data directory, the keyring
    /// (mode 0600), the database schema and the audit log folder.
    pub fn open(config: Config) -> Result<Backoffice> {
        if let Some(url) = &config.database_url
            && !config.dev
            && config.database_ca.is_none()
            && !crate::db::pg_is_local(url)?
        {
            return Err(Error::Storage(
                "PostgreSQL on another machine is reached only over verified TLS: \
                 give the CA certificate that signed the server's (`--database-ca FILE`)"
                    .into(),
            ));
        }
        private_dir(&config.data_dir)?;
        let keyring = config.keys.open(&config.data_dir, config.dev)?;
        let db = match &config.database_url {
            Some(url) => Db::postgres(url, config.database_ca.as_deref(), config.db_pool)?,
            None => Db::sqlite(&config.data_dir.join("backoffice.sqlite3"), config.db_pool)?,
        };
        private_dir(&config.data_dir.join("audit"))?;
        // A certificate that cannot be read (or made) stops the start now.
        let tls = match &config.tls {
            Some(tls) => Some(crate::tls::server_config(tls, &config.data_dir)?),
            None => None,
        };
        let retention =
            palisade_retention::Policy::from_toml(RETENTION_POLICY).map_err(internal)?;
        let masker = Arc::new(Masker::new(Operator::Partial(PartialMask::default())));
        tracing::info!(engine = db.engine(), "back office opened");
        let policies = Arc::new(crate::policy_cache::PolicyCache::default());
        if let Some(url) = &config.database_url {
            crate::policy_cache::PolicyCache::listen(
                &policies,
                url.clone(),
                config.database_ca.clone(),
            );
        }
        let db = Arc::new(db);
        let scanner = config.scanner.clone().map(|address| {
            palisade_scan::Scanner::new(address)
                .with_stream_max_length(ATTACHMENT_MAX)
                .with_failure_policy(if config.scan_fail_open {
                    palisade_scan::FailurePolicy::FailOpen
                } else {
                    palisade_scan::FailurePolicy::FailClosed
                })
        });
        Ok(Backoffice {
            scanner,
            tls,
            config,
            keyring,
            clock: Arc::new(Clock::default()),
            policies,
            audit_logs: Mutex::new(HashMap::new()),
            retention,
            masker,
            login_limiter: LoginLimiter::new(DbAttempts(Arc::clone(&db)), Limits::default()),
            card_masker: Masker::with_scanner(
                palisade_pii::Scanner::builder()
                    .kinds([palisade_pii::Kind::PaymentCard])
                    .build()
                    .map_err(internal)?,
                Operator::Partial(PartialMask::new('X', 4).map_err(internal)?),
            ),
            db,
            alert_state: Mutex::new(crate::alerts::AlertState::default()),
            settings_seen: Mutex::new(HashMap::new()),
            instance: random_id("i")?,
            sso: crate::sso::SsoState::default(),
        })
    }

    /// Runs `f` on Tokio's blocking pool (the storage engines block).
    pub(crate) async fn blocking<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        F: FnOnce(&Backoffice) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let app = Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&app))
            .await
            .map_err(|_| internal("a worker failed"))?
    }

    /// The application clock.
    pub fn clock(&self) -> Arc<Clock> {
        Arc::clone(&self.clock)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The storage engine in use: `sqlite` or `postgresql`.
    pub fn engine(&self) -> &'static str {
        self.db.engine()
    }

    /// The folder of `tenant`'s audit log (segment files, checkpoint keys).
    pub fn audit_dir(&self, tenant: &str) -> PathBuf {
        self.config.data_dir.join("audit").join(tenant)
    }

    /// The audit log of `tenant` (`_system` for events outside any tenant),
    /// opened on first use. Each tenant has its own log, its own signing key
    /// and its own evidence bundles.
    pub(crate) fn audit(&self, tenant: &str) -> Result<Arc<TenantLog>> {
        let mut logs = self
            .audit_logs
            .lock()
            .map_err(|_| internal("audit logs poisoned"))?;
        if let Some(log) = logs.get(tenant) {
            return Ok(Arc::clone(log));
        }
        let log = match &self.config.database_url {
            None => {
                let dir = self.audit_dir(tenant);
                private_dir(&dir)?;
                let (store, recovery) =
                    FileStore::recover(&dir, FileOptions::default()).map_err(internal)?;
                if !recovery.is_clean() {
                    tracing::warn!(tenant, ?recovery, "audit log recovered after a crash");
                }
                let store = Arc::new(store);
                TenantLog::File(FileLog {
                    blocking: AuditLog::from_shared_file_store(Arc::clone(&store), None)
                        .map_err(internal)?,
                    decisions: AsyncAuditLog::from_shared_file_store(store, None)
                        .map_err(internal)?,
                })
            }
            Some(url) => {
                let schema = audit_schema(tenant);
                self.db
                    .exec(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"), &[])?;
                let params = with_search_path(url, &schema);
                let ca_pem = crate::db::pg_ca(url, self.config.database_ca.as_deref())?;
                let store = match &ca_pem {
                    Some(ca) => PostgresStore::connect_rustls(&params, ca),
                    None => PostgresStore::connect(&params, postgres::NoTls),
                }
                // palisade-audit's errors name their causes (a certificate
                // problem) themselves.
                .map_err(|e| Error::Storage(e.to_string()))?;
                let (origin, signer) = self.audit_signer(tenant)?;
                TenantLog::Postgres(PostgresLog {
                    params,
                    ca_pem,
                    origin: origin.clone(),
                    signer: signer.to_text(),
                    decisions: tokio::sync::OnceCell::new(),
                    blocking: AuditLog::with_store(store).with_signer(origin, signer),
                })
            }
        };
        let log = Arc::new(log);
        logs.insert(tenant.to_owned(), Arc::clone(&log));
        Ok(log)
    }

    /// The checkpoint key of a tenant's PostgreSQL log, kept in the database
    /// encrypted under the keyring so every instance signs with it.
    fn audit_signer(&self, tenant: &str) -> Result<(String, CheckpointSigner)> {
        let context = Context::field("audit_keys", "signer", tenant);
        if self
            .db
            .query_one(
                "SELECT tenant FROM audit_keys WHERE tenant = $1",
                &[tenant.into()],
            )?
            .is_none()
        {
            let origin = format!("palisade-backoffice/{tenant}");
            let signer = CheckpointSigner::generate(&origin).map_err(internal)?;
            let sealed = self
                .keyring
                .encrypt(signer.to_text().as_bytes(), &context)
                .map_err(internal)?
                .to_token();
            self.db.exec(
                "INSERT INTO audit_keys (tenant, origin, signer) VALUES ($1, $2, $3) ON CONFLICT (tenant) DO NOTHING",
                &[tenant.into(), origin.into(), sealed.into()],
            )?;
        }
        let row = self
            .db
            .query_one(
                "SELECT origin, signer FROM audit_keys WHERE tenant = $1",
                &[tenant.into()],
            )?
            .ok_or_else(|| internal("audit key missing"))?;
        let ciphertext = row.text("signer")?.parse().map_err(internal)?;
        let text = self
            .keyring
            .decrypt(&ciphertext, &context)
            .map_err(internal)?;
        let text = std::str::from_utf8(&text).map_err(internal)?;
        let signer = CheckpointSigner::from_text(text).map_err(internal)?;
        Ok((row.text("origin")?, signer))
    }

    /// Appends `event` to `tenant`'s audit log; returns its index.
    pub(crate) fn append(&self, tenant: &str, event: Event) -> Result<u64> {
        let receipt = self
            .audit(tenant)?
            .append(event.clone())
            .map_err(internal)?;
        self.watch(tenant, &event, receipt.index);
        Ok(receipt.index)
    }

    /// [`Backoffice::append`] from async code; resolves once the record is
    /// durable and the alert rules have seen it (and stored what it raised).
    /// The record goes through the tenant's async log, whose commits
    /// concurrent requests share (one transaction or `fsync` per batch, no
    /// blocking thread parked per request).
    pub(crate) async fn append_async(self: &Arc<Self>, tenant: &str, event: Event) -> Result<u64> {
        let cached = self
            .audit_logs
            .lock()
            .map_err(|_| internal("audit logs poisoned"))?
            .get(tenant)
            .cloned();
        let log = match cached {
            Some(log) => log,
            // Opening a log blocks (files, the blocking driver).
            None => {
                let tenant = tenant.to_owned();
                self.blocking(move |app| app.audit(&tenant)).await?
            }
        };
        let receipt = match &*log {
            TenantLog::Postgres(pg) => pg
                .decisions()
                .await
                .map_err(|e| Error::Storage(e.to_string()))?
                .append(event.clone())
                .await
                .map_err(internal)?,
            TenantLog::File(file) => file
                .decisions
                .append(event.clone())
                .await
                .map_err(internal)?,
        };
        self.watch_async(tenant, &event, receipt.index).await;
        Ok(receipt.index)
    }

    /// Appends an event to the tenant's audit log; returns its index.
    pub(crate) fn record(
        &self,
        tenant: &str,
        actor: &str,
        action: &str,
        resource: &str,
        subjects: &[String],
        payload: serde_json::Value,
    ) -> Result<u64> {
        let mut event = Event::new(actor, action, resource)
            .with_tenant(tenant)
            .with_outcome(Outcome::Success)
            .with_payload(payload);
        for s in subjects.iter().take(palisade_audit::format::MAX_SUBJECTS) {
            event = event.with_subject(s.clone());
        }
        self.append(tenant, event)
    }

    /// Records a refused or failed attempt.
    pub(crate) fn record_denied(&self, tenant: &str, actor: &str, action: &str, resource: &str) {
        let event = Event::new(actor, action, resource)
            .with_tenant(tenant)
            .with_outcome(Outcome::Denied);
        if let Err(e) = self.append(tenant, event) {
            tracing::error!(error = %e, "audit append failed");
        }
    }

    // ---- policies -------------------------------------------------------------

    /// The current compiled policy of `tenant`: cached, dropped when
    /// another instance's change is announced (PostgreSQL `NOTIFY`), and its
    /// version compared with the database's now and then in case a notice
    /// was missed (see `policy_cache`); a change made through this instance
    /// is in force at once.
    pub(crate) fn tenant_policy(&self, tenant: &str) -> Result<Arc<Policy>> {
        if let Some(policy) = self.policies.fresh(tenant) {
            return Ok(policy);
        }
        let version = self
            .db
            .query_one(
                "SELECT policy_version FROM tenants WHERE id = $1",
                &[tenant.into()],
            )?
            .ok_or(Error::NotFound)?
            .int("policy_version")?;
        if let Some(policy) = self.policies.confirm(tenant, version) {
            return Ok(policy);
        }
        self.load_policy(tenant)
    }

    /// `tenant`'s policy if the cache holds a recently checked one (no
    /// database access: callable from async code).
    pub(crate) fn cached_policy(&self, tenant: &str) -> Option<Arc<Policy>> {
        self.policies.fresh(tenant)
    }

    /// Reads, compiles and caches `tenant`'s policy.
    fn load_policy(&self, tenant: &str) -> Result<Arc<Policy>> {
        let generation = self.policies.generation();
        let row = self
            .db
            .query_one(
                "SELECT policy, policy_version FROM tenants WHERE id = $1",
                &[tenant.into()],
            )?
            .ok_or(Error::NotFound)?;
        let document = PolicyDocument::from_toml(&row.text("policy")?).map_err(internal)?;
        let policy = Arc::new(document.compile());
        self.policies.insert(
            tenant,
            row.int("policy_version")?,
            Arc::clone(&policy),
            generation,
        );
        Ok(policy)
    }

    /// Applies `change` to the tenant's policy document and stores it with a
    /// conditional write (retried when another instance changed it first).
    pub(crate) fn change_policy(
        &self,
        tenant: &str,
        change: impl Fn(&mut PolicyDocument) -> std::result::Result<(), palisade_rbac::Error>,
    ) -> Result<()> {
        self.change_policy_and(tenant, change, |_| Ok(()))
    }

    /// [`Self::change_policy`], with `also` run in the same transaction: the
    /// rows it writes and the policy change are stored together or not at all.
    pub(crate) fn change_policy_and(
        &self,
        tenant: &str,
        change: impl Fn(&mut PolicyDocument) -> std::result::Result<(), palisade_rbac::Error>,
        also: impl Fn(&mut Tx<'_, '_>) -> Result<()>,
    ) -> Result<()> {
        for _ in 0..5 {
            let stored = self.db.transaction(|tx| {
                let row = tx
                    .query_one(
                        "SELECT policy, policy_version FROM tenants WHERE id = $1",
                        &[tenant.into()],
                    )?
                    .ok_or(Error::NotFound)?;
                let version = row.int("policy_version")?;
                let mut document =
                    PolicyDocument::from_toml(&row.text("policy")?).map_err(internal)?;
                change(&mut document).map_err(policy_refusal)?;
                let text = document.to_toml().map_err(internal)?;
                let n = tx.exec(
                    "UPDATE tenants SET policy = $1, policy_version = $2 WHERE id = $3 AND policy_version = $4",
                    &[text.into(), (version + 1).into(), tenant.into(), version.into()],
                )?;
                if n != 1 {
                    return Ok(false);
                }
                // Every other instance drops its cached policy when this
                // commits (PostgreSQL; nothing to tell on SQLite).
                tx.notify(crate::policy_cache::CHANNEL, tenant)?;
                also(tx)?;
                Ok(true)
            })?;
            if stored {
                self.load_policy(tenant)?;
                return Ok(());
            }
        }
        Err(Error::Conflict(
            "the policy changed concurrently; try again".into(),
        ))
    }

    /// The policy text of a new tenant owned by `owner`.
    pub(crate) fn new_tenant_policy(tenant: &str, owner: &str) -> Result<String> {
        let text = format!(
            "{POLICY_TEMPLATE}\n[tenants.\"{tenant}\"]\nowners = [\"{owner}\"]\nowner_role = \"{OWNER_ROLE}\"\n\n\
             [users.\"{owner}\"]\ntenants = {{ \"{tenant}\" = [\"{OWNER_ROLE}\"] }}\n"
        );
        // Validate now, so a bad template fails at sign-up, not at first use.
        PolicyDocument::from_toml(&text).map_err(internal)?;
        Ok(text)
    }

    /// `value` encrypted for `table.column` of row `row` in `tenant` (the
    /// ciphertext opens only there: a value copied to another row, column
    /// or tenant does not decrypt), as a text token.
    pub(crate) fn seal_text(
        &self,
        tenant: &str,
        table: &str,
        column: &str,
        row: &str,
        value: &str,
    ) -> Result<String> {
        let context = Self::field_context(tenant, table, column, row);
        Ok(self
            .keyring
            .encrypt(value.as_bytes(), &context)
            .map_err(internal)?
            .to_token())
    }

    /// The text [`Self::seal_text`] sealed.
    pub(crate) fn open_text(
        &self,
        tenant: &str,
        table: &str,
        column: &str,
        row: &str,
        token: &str,
    ) -> Result<String> {
        let context = Self::field_context(tenant, table, column, row);
        let ciphertext = token.parse().map_err(internal)?;
        let plain = self
            .keyring
            .decrypt(&ciphertext, &context)
            .map_err(internal)?;
        String::from_utf8(plain.to_vec()).map_err(internal)
    }

    /// Free text as it may be stored: a payment card number in it is
    /// refused or masked, per [`Config::card_numbers`] (PCI DSS: card data
    /// is not stored; it never reaches the database, the logs or the audit
    /// log, whose records name fields, never values).
    pub(crate) fn free_text<'t>(
        &self,
        field: &str,
        text: &'t str,
    ) -> Result<std::borrow::Cow<'t, str>> {
        if self.card_masker.scanner().scan(text).is_empty() {
            return Ok(std::borrow::Cow::Borrowed(text));
        }
        match self.config.card_numbers {
            CardNumbers::Refuse => Err(Error::Unprocessable(format!(
                "{field}: a payment card number may not be stored; remove it"
            ))),
            CardNumbers::Mask => self.card_masker.mask(text).map_err(internal),
        }
    }

    /// Raises an alert: recorded in the `_system` audit log and logged as an
    /// error (the alerts page and webhook read these records).
    pub(crate) fn raise_alert(
        &self,
        kind: &str,
        resource: &str,
        details: serde_json::Value,
    ) -> Result<u64> {
        tracing::error!(alert = kind, resource, "alert");
        if let Err(e) = self.store_alert(SYSTEM_ALERTS, kind, "system", details.clone(), None) {
            tracing::error!(error = %e, "storing a system alert failed");
        }
        self.record_system(
            &format!("alert.{kind}"),
            resource,
            palisade_audit::Outcome::Failure,
            details,
        )
    }

    /// Encryption context of a client field.
    pub(crate) fn field_context(tenant: &str, table: &str, column: &str, row: &str) -> Context {
        Context::field(table, column, row).with("tenant", tenant)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// The current compiled policy of `tenant` (for tools and tests that
    /// compare the app's answers with the policy's decisions).
    pub fn policy(&self, tenant: &str) -> Result<Arc<Policy>> {
        self.tenant_policy(tenant)
    }

    /// How many accounts `tenant` has.
    pub fn user_count(&self, tenant: &str) -> Result<usize> {
        Ok(self
            .db
            .query("SELECT id FROM users WHERE tenant = $1", &[tenant.into()])?
            .len())
    }
}

/// The tenant column of alerts about the whole installation (a failed
/// restore drill), not one tenant.
pub(crate) const SYSTEM_ALERTS: &str = "_system";

/// How a refused policy change is answered.
fn policy_refusal(e: palisade_rbac::Error) -> Error {
    match e {
        palisade_rbac::Error::OwnerCannotBeBlocked { .. }
        | palisade_rbac::Error::OwnerCannotBeDeleted { .. }
        | palisade_rbac::Error::OwnerCannotBeDemoted { .. }
        | palisade_rbac::Error::TenantWithoutOwner(_) => Error::Conflict(e.to_string()),
        // Delegation: the actor may not make this change.
        palisade_rbac::Error::ActorBlocked { .. }
        | palisade_rbac::Error::SelfChangeRefused { .. }
        | palisade_rbac::Error::OwnerProtected { .. }
        | palisade_rbac::Error::ActorUnranked { .. }
        | palisade_rbac::Error::RoleNotOutranked { .. }
        | palisade_rbac::Error::ActorLacksRight { .. }
        | palisade_rbac::Error::ActorLacksFieldRight { .. } => Error::Forbidden(e.to_string()),
        palisade_rbac::Error::PrincipalUnknown(_) => Error::NotFound,
        other => Error::BadRequest(other.to_string()),
    }
}

/// Checks every row of a tenant's PostgreSQL audit table on its own: the
/// stored leaf hash against the record bytes, the chain link, and the
/// payload against its salted commitment. Returns the first bad row, so a
/// finding names the altered row itself (palisade-audit's `verify_store`
/// reads through the store, which refuses a bad payload without an index,
/// and names the successor of an altered record).
pub(crate) fn first_bad_row(db: &Db, schema: &str) -> Result<Option<String>> {
    let rows = db.query(
        &format!(
            "SELECT idx, encode(leaf, 'hex') AS leaf, encode(record, 'hex') AS record, \
             encode(sidecar, 'hex') AS sidecar FROM {schema}.audit_records ORDER BY idx"
        ),
        &[],
    )?;
    let mut previous = palisade_audit::Hash::ZERO;
    for (expected, row) in (0_i64..).zip(rows) {
        let idx = row.int("idx")?;
        let hex = |column: &str| -> Result<Vec<u8>> {
            HEXLOWER
                .decode(row.text(column)?.as_bytes())
                .map_err(internal)
        };
        let (leaf, bytes, sidecar) = (hex("leaf")?, hex("record")?, hex("sidecar")?);
        if idx != expected {
            return Ok(Some(format!("record {expected}: missing from the store")));
        }
        if palisade_audit::format::leaf_hash(&bytes)
            .as_bytes()
            .as_slice()
            != leaf.as_slice()
        {
            return Ok(Some(format!(
                "record {idx}: the record does not match its leaf hash"
            )));
        }
        let Ok(record) = palisade_audit::Record::decode(&bytes) else {
            return Ok(Some(format!("record {idx}: malformed record")));
        };
        if *record.previous() != previous {
            return Ok(Some(format!(
                "record {idx}: does not chain to the previous record"
            )));
        }
        if let (Some(commitment), Some((&1, rest))) =
            (record.payload_commitment(), sidecar.split_first())
        {
            let ok = rest.split_first_chunk::<32>().is_some_and(|(salt, json)| {
                palisade_audit::format::payload_commitment(salt, json) == *commitment
            });
            if !ok {
                return Ok(Some(format!(
                    "record {idx}: payload does not match its commitment"
                )));
            }
        }
        previous = *record.leaf_hash();
    }
    Ok(None)
}
