//! The back office itself: configuration, shared state, sessions and the
//! authorization check every operation starts with.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use palisade_audit::{
    AuditLog, AuditSink, Bundle, CheckpointSigner, CheckpointVerifier, Event, FileOptions,
    FileStore, Outcome, PostgresStore, Receipt,
};
use palisade_crypt::{Context, Keyring};
use palisade_pii::{Masker, Operator, PartialMask};
use palisade_rbac::{Policy, PolicyDocument, Request, Resource, Visibility};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::db::{Db, Tx, Val};
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
/// Searches by a field per user: 30 at once, then one every two seconds.
const SEARCH_QUOTA: governor::Quota =
    governor::Quota::per_minute(match std::num::NonZeroU32::new(30) {
        Some(n) => n,
        None => std::num::NonZeroU32::MIN,
    });
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "bo_session";

/// How the back office is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the keyring, the SQLite database and the audit logs live.
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (`postgres://…`); SQLite in `data_dir` when `None`.
    pub database_url: Option<String>,
    /// Issuer shown in authenticator apps.
    pub issuer: String,
    /// Session lifetime in seconds.
    pub session_ttl: i64,
    /// Database connections.
    pub db_pool: usize,
    /// Whether the session cookie carries `Secure` (behind HTTPS).
    pub secure_cookie: bool,
}

impl Config {
    /// Defaults with data in `data_dir` and SQLite.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            database_url: None,
            issuer: "Palisade Back Office".into(),
            session_ttl: 8 * 3600,
            db_pool: 4,
            secure_cookie: false,
        }
    }
}

/// The application clock: the system clock plus an offset that tests and
/// demos may advance (to see attachments expire, or to get a fresh TOTP step).
#[derive(Debug, Default)]
pub struct Clock {
    offset: AtomicI64,
}

impl Clock {
    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        let system = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        system.saturating_add(self.offset.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}

/// One tenant's compiled policy at a version.
pub(crate) struct TenantPolicy {
    pub(crate) version: i64,
    pub(crate) policy: Policy,
}

/// An authenticated caller.
pub(crate) struct Auth {
    pub(crate) user_id: String,
    pub(crate) tenant: String,
    pub(crate) stage: Stage,
    pub(crate) token_hash: String,
    pub(crate) policy: Arc<TenantPolicy>,
}

/// How far a session has come through sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Password accepted; a TOTP or recovery code is due.
    Totp,
    /// Password accepted; the user has no second factor yet and must enroll.
    Enroll,
    /// Fully signed in.
    Full,
}

impl Stage {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stage::Totp => "totp",
            Stage::Enroll => "enroll",
            Stage::Full => "ok",
        }
    }
    fn parse(s: &str) -> Result<Stage> {
        match s {
            "totp" => Ok(Stage::Totp),
            "enroll" => Ok(Stage::Enroll),
            "ok" => Ok(Stage::Full),
            _ => Err(Error::Storage("unknown session stage".into())),
        }
    }
}

/// One tenant's audit log: segment files next to SQLite, or tables in the
/// tenant's own PostgreSQL schema (shared by every app instance).
pub(crate) enum TenantLog {
    File(AuditLog<FileStore>),
    Postgres(AuditLog<PostgresStore>),
}

impl TenantLog {
    pub(crate) fn append(&self, event: Event) -> palisade_audit::Result<Receipt> {
        match self {
            TenantLog::File(l) => l.append(event),
            TenantLog::Postgres(l) => l.append(event),
        }
    }
    pub(crate) fn len(&self) -> palisade_audit::Result<u64> {
        match self {
            TenantLog::File(l) => l.len(),
            TenantLog::Postgres(l) => l.len(),
        }
    }
    pub(crate) fn export(&self, from: u64, to: u64) -> palisade_audit::Result<Bundle> {
        match self {
            TenantLog::File(l) => l.export(from, to),
            TenantLog::Postgres(l) => l.export(from, to),
        }
    }
    pub(crate) fn verifier(&self) -> Option<CheckpointVerifier> {
        match self {
            TenantLog::File(l) => l.verifier(),
            TenantLog::Postgres(l) => l.verifier(),
        }
    }
    /// Verifies the stored log; `dir` is where segment files live.
    pub(crate) fn verify(&self, dir: &Path) -> palisade_audit::Result<u64> {
        let key = self.verifier();
        match self {
            TenantLog::File(_) => palisade_audit::verify_dir(dir, key.as_ref()).map(|r| r.records),
            TenantLog::Postgres(l) => {
                palisade_audit::verify_store(l.store(), Some(l.origin()), key.as_ref())
                    .map(|r| r.records)
            }
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
    pub(crate) db: Db,
    pub(crate) keyring: Keyring,
    pub(crate) clock: Arc<Clock>,
    pub(crate) policies: RwLock<HashMap<String, Arc<TenantPolicy>>>,
    pub(crate) audit_logs: Mutex<HashMap<String, Arc<TenantLog>>>,
    pub(crate) retention: palisade_retention::Policy,
    pub(crate) masker: Masker,
    /// Failed sign-ins for e-mail addresses with no account, hashed.
    pub(crate) unknown_failures: Mutex<HashMap<String, (u32, i64)>>,
    /// Searches by a field, per user: a burst of 30, then one every 2 s.
    pub(crate) search_limiter: governor::DefaultKeyedRateLimiter<String>,
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
        private_dir(&config.data_dir)?;
        let key_path = config.data_dir.join("keyring.json");
        let keyring = if key_path.exists() {
            Keyring::load(&key_path).map_err(internal)?
        } else {
            let keyring = Keyring::generate().map_err(internal)?;
            keyring.create_file(&key_path).map_err(internal)?;
            keyring
        };
        let db = match &config.database_url {
            Some(url) => Db::postgres(url, config.db_pool)?,
            None => Db::sqlite(&config.data_dir.join("backoffice.sqlite3"), config.db_pool)?,
        };
        private_dir(&config.data_dir.join("audit"))?;
        let retention = palisade_retention::Policy::parse(RETENTION_POLICY).map_err(internal)?;
        let masker = Masker::new(Operator::Partial(PartialMask::default()));
        tracing::info!(engine = db.engine(), "back office opened");
        Ok(Backoffice {
            config,
            db,
            keyring,
            clock: Arc::new(Clock::default()),
            policies: RwLock::new(HashMap::new()),
            audit_logs: Mutex::new(HashMap::new()),
            retention,
            masker,
            unknown_failures: Mutex::new(HashMap::new()),
            search_limiter: governor::RateLimiter::keyed(SEARCH_QUOTA),
        })
    }

    /// Takes one search from `user`'s allowance, or says in how many
    /// seconds the next one is allowed.
    pub(crate) fn search_limit(&self, user: &str) -> std::result::Result<(), u64> {
        use governor::clock::Clock as _;
        self.search_limiter
            .check_key(&user.to_owned())
            .map_err(|not_until| {
                let now = self.search_limiter.clock().now();
                not_until.wait_time_from(now).as_secs().max(1)
            })
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
                TenantLog::File(AuditLog::from_file_store(store, None).map_err(internal)?)
            }
            Some(url) => {
                let schema = audit_schema(tenant);
                self.db
                    .exec(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"), &[])?;
                let store =
                    PostgresStore::connect(&with_search_path(url, &schema), postgres::NoTls)
                        .map_err(internal)?;
                let (origin, signer) = self.audit_signer(tenant)?;
                TenantLog::Postgres(AuditLog::with_store(store).with_signer(origin, signer))
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
        let ciphertext = row.text(1)?.parse().map_err(internal)?;
        let text = self
            .keyring
            .decrypt(&ciphertext, &context)
            .map_err(internal)?;
        let text = std::str::from_utf8(&text).map_err(internal)?;
        let signer = CheckpointSigner::from_text(text).map_err(internal)?;
        Ok((row.text(0)?, signer))
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
        let receipt = self.audit(tenant)?.append(event).map_err(internal)?;
        Ok(receipt.index)
    }

    /// Records a refused or failed attempt.
    pub(crate) fn record_denied(&self, tenant: &str, actor: &str, action: &str, resource: &str) {
        let event = Event::new(actor, action, resource)
            .with_tenant(tenant)
            .with_outcome(Outcome::Denied);
        if let Err(e) = self
            .audit(tenant)
            .and_then(|l| l.append(event).map_err(internal))
        {
            tracing::error!(error = %e, "audit append failed");
        }
    }

    // ---- policies -------------------------------------------------------------

    /// The compiled policy of `tenant` at `version` (cached).
    pub(crate) fn tenant_policy(&self, tenant: &str, version: i64) -> Result<Arc<TenantPolicy>> {
        if let Ok(cache) = self.policies.read()
            && let Some(p) = cache.get(tenant)
            && p.version == version
        {
            return Ok(Arc::clone(p));
        }
        let row = self
            .db
            .query_one(
                "SELECT policy, policy_version FROM tenants WHERE id = $1",
                &[tenant.into()],
            )?
            .ok_or(Error::NotFound)?;
        let document = PolicyDocument::from_toml(&row.text(0)?).map_err(internal)?;
        let policy = document.compile();
        let entry = Arc::new(TenantPolicy {
            version: row.int(1)?,
            policy,
        });
        if let Ok(mut cache) = self.policies.write() {
            cache.insert(tenant.to_owned(), Arc::clone(&entry));
        }
        Ok(entry)
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
                let version = row.int(1)?;
                let mut document = PolicyDocument::from_toml(&row.text(0)?).map_err(internal)?;
                change(&mut document).map_err(policy_refusal)?;
                let text = document.to_toml().map_err(internal)?;
                let n = tx.exec(
                    "UPDATE tenants SET policy = $1, policy_version = $2 WHERE id = $3 AND policy_version = $4",
                    &[text.into(), (version + 1).into(), tenant.into(), version.into()],
                )?;
                if n != 1 {
                    return Ok(false);
                }
                also(tx)?;
                Ok(true)
            })?;
            if stored {
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

    // ---- sessions ---------------------------------------------------------------

    /// Opens a session for `user_id` at `stage`; returns the token.
    pub(crate) fn new_session(&self, user_id: &str, tenant: &str, stage: Stage) -> Result<String> {
        let token = random_token()?;
        self.db.exec(
            "INSERT INTO sessions (token_hash, user_id, tenant, stage, expires) VALUES ($1, $2, $3, $4, $5)",
            &[
                token_hash(&token).into(),
                user_id.into(),
                tenant.into(),
                stage.as_str().into(),
                (self.clock.now() + self.config.session_ttl).into(),
            ],
        )?;
        Ok(token)
    }

    /// Replaces the caller's session with a new token at `stage` (a new
    /// token at each step of sign-in: no session fixation).
    pub(crate) fn promote(&self, auth: &Auth, stage: Stage) -> Result<String> {
        self.db.exec(
            "DELETE FROM sessions WHERE token_hash = $1",
            &[auth.token_hash.clone().into()],
        )?;
        self.new_session(&auth.user_id, &auth.tenant, stage)
    }

    /// Ends every session of `user_id`.
    pub(crate) fn end_sessions(&self, user_id: &str) -> Result<u64> {
        self.db
            .exec("DELETE FROM sessions WHERE user_id = $1", &[user_id.into()])
    }

    /// The caller behind `token`, which must have reached `Stage::Full`
    /// unless `allow` says otherwise. A blocked principal loses its sessions.
    pub(crate) fn authenticate(&self, token: Option<&str>, allow: &[Stage]) -> Result<Auth> {
        let unauthorized = || Error::Unauthorized("sign in first".into());
        let token = token.ok_or_else(unauthorized)?;
        let hash = token_hash(token);
        let row = self
            .db
            .query_one(
                "SELECT s.user_id, s.tenant, s.stage, s.expires, t.policy_version \
                 FROM sessions s JOIN tenants t ON t.id = s.tenant WHERE s.token_hash = $1",
                &[hash.clone().into()],
            )?
            .ok_or_else(unauthorized)?;
        if row.int(3)? <= self.clock.now() {
            self.db
                .exec("DELETE FROM sessions WHERE token_hash = $1", &[hash.into()])?;
            return Err(unauthorized());
        }
        let user_id = row.text(0)?;
        let tenant = row.text(1)?;
        let stage = Stage::parse(&row.text(2)?)?;
        let policy = self.tenant_policy(&tenant, row.int(4)?)?;
        if policy.policy.is_blocked(&user_id) {
            self.end_sessions(&user_id)?;
            return Err(Error::Unauthorized("the account is blocked".into()));
        }
        if stage != Stage::Full && !allow.contains(&stage) {
            return Err(Error::Unauthorized(
                "finish signing in with your second factor".into(),
            ));
        }
        Ok(Auth {
            user_id,
            tenant,
            stage,
            token_hash: hash,
            policy,
        })
    }

    /// Asks the tenant's policy whether the caller may `action` on
    /// `type_name:id`; refusals are audited and answered with 403.
    pub(crate) fn authorize(
        &self,
        auth: &Auth,
        type_name: &str,
        action: &str,
        id: &str,
    ) -> Result<()> {
        let resource = if type_name == "Account" {
            Resource::new(type_name, id).owned_by(id)
        } else {
            Resource::new(type_name, id)
        };
        let request = Request::new(&auth.user_id, action, resource).in_tenant(&auth.tenant);
        if auth.policy.policy.decide(&request).is_allowed() {
            Ok(())
        } else {
            self.record_denied(
                &auth.tenant,
                &auth.user_id,
                &format!("{}.{action}", type_name.to_lowercase()),
                &format!("{type_name}:{id}"),
            );
            Err(Error::Forbidden(format!(
                "not allowed to {action} {}",
                type_name.to_lowercase()
            )))
        }
    }

    /// Whether the caller may `action` any `type_name` (asked for nested
    /// values: an invoice inside a client is decided as an `Invoice`).
    pub(crate) fn allowed(&self, auth: &Auth, type_name: &str, action: &str) -> bool {
        let request = Request::new(&auth.user_id, action, Resource::new(type_name, "*"))
            .in_tenant(&auth.tenant);
        auth.policy.policy.decide(&request).is_allowed()
    }

    /// The answer to an id the caller's tenant does not have: 404, with the
    /// probe recorded in the caller's audit log, and in the log of the
    /// tenant that does have it (an id guessed or leaked across tenants).
    pub(crate) fn not_found(&self, auth: &Auth, table: &str, action: &str, id: &str) -> Error {
        let kind = table.trim_end_matches('s');
        let resource = format!("{table}/{id}");
        self.record_denied(
            &auth.tenant,
            &auth.user_id,
            &format!("{kind}.{action}"),
            &resource,
        );
        let owner = match table {
            "clients" => "SELECT tenant FROM clients WHERE id = $1",
            "attachments" => "SELECT tenant FROM attachments WHERE id = $1",
            "invoices" => "SELECT tenant FROM invoices WHERE id = $1",
            "users" => "SELECT tenant FROM users WHERE id = $1",
            _ => return Error::NotFound,
        };
        if let Ok(Some(row)) = self.db.query_one(owner, &[id.into()])
            && let Ok(other) = row.text(0)
            && other != auth.tenant
        {
            self.record_denied(
                &other,
                &format!("{}/{}", auth.tenant, auth.user_id),
                &format!("{kind}.cross_tenant"),
                &resource,
            );
            tracing::warn!(tenant = %auth.tenant, user = %auth.user_id, "cross-tenant probe");
        }
        Error::NotFound
    }

    /// How the caller sees each client field (`name`, `phone`, `email`);
    /// also checks `Client:read`.
    pub(crate) fn client_fields(
        &self,
        auth: &Auth,
        action: &str,
    ) -> Result<HashMap<String, Visibility>> {
        let request = Request::new(&auth.user_id, action, Resource::new("Client", "*"))
            .in_tenant(&auth.tenant);
        let decision = auth.policy.policy.decide(&request);
        if !decision.is_allowed() {
            self.record_denied(
                &auth.tenant,
                &auth.user_id,
                &format!("client.{action}"),
                "clients",
            );
            return Err(Error::Forbidden(format!("not allowed to {action} clients")));
        }
        Ok(decision
            .fields()
            .into_iter()
            .map(|f| (f.field.to_owned(), f.visibility))
            .collect())
    }

    /// Encryption context of a client field.
    pub(crate) fn field_context(tenant: &str, table: &str, column: &str, row: &str) -> Context {
        Context::field(table, column, row).with("tenant", tenant)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// How many accounts `tenant` has.
    pub fn user_count(&self, tenant: &str) -> Result<usize> {
        Ok(self
            .db
            .query("SELECT id FROM users WHERE tenant = $1", &[tenant.into()])?
            .len())
    }

    pub(crate) fn exists(&self, sql: &str, params: &[Val]) -> Result<bool> {
        Ok(self.db.query_one(sql, params)?.is_some())
    }
}

/// How a refused policy change is answered.
fn policy_refusal(e: palisade_rbac::Error) -> Error {
    match e {
        palisade_rbac::Error::OwnerCannotBeBlocked { .. }
        | palisade_rbac::Error::OwnerCannotBeDeleted { .. }
        | palisade_rbac::Error::OwnerCannotBeDemoted { .. }
        | palisade_rbac::Error::TenantWithoutOwner(_) => Error::Conflict(e.to_string()),
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
            "SELECT idx, encode(leaf, 'hex'), encode(record, 'hex'), encode(sidecar, 'hex') \
             FROM {schema}.audit_records ORDER BY idx"
        ),
        &[],
    )?;
    let mut previous = palisade_audit::Hash::ZERO;
    for (expected, row) in (0_i64..).zip(rows) {
        let idx = row.int(0)?;
        let hex = |i: usize| -> Result<Vec<u8>> {
            HEXLOWER.decode(row.text(i)?.as_bytes()).map_err(internal)
        };
        let (leaf, bytes, sidecar) = (hex(1)?, hex(2)?, hex(3)?);
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
