//! "Sign in with your company account": each tenant's administrator sets
//! the company's OpenID Connect provider, and staff sign in through it
//! (palisade-sso), alongside password + TOTP.
//!
//! - **Configuration** (`GET`, `PUT`, `DELETE /api/sso`; resource type `Sso`,
//!   which only Administrators and Managers hold; changes need a fresh
//!   step-up): stored per tenant in `sso_providers`, the client secret sealed
//!   under the keyring, validated by palisade-sso's own rules plus the back
//!   office's (its roles only, and only roles the editor may give through
//!   delegation; one tenant per issuer and client). Every instance reloads
//!   a tenant's provider when its stored revision changes.
//! - **Sign-in** (`GET /api/sso/{tenant}/start`, then the provider, then
//!   `GET /api/sso/callback`): `state`, `nonce` and the PKCE verifier stay
//!   on the server, under a random key the browser holds in a short-lived
//!   cookie (`SameSite=Lax`, so that it comes back with the provider's
//!   redirect). The verified identity is matched to the tenant's accounts by
//!   its subject, or on its first sign-in by its verified e-mail address;
//!   an unknown user is provisioned or refused as configured. The session
//!   starts at the stage the second-factor rule asks: a factor the provider
//!   proved (`amr`/`acr`) gives a full session, otherwise the account's TOTP
//!   comes next, as after a password. Sessions end with the ID token.
//! - **Logout**: `POST /api/logout` of a session opened here also answers
//!   with the provider's end-session URL (RP-initiated logout); the provider
//!   may end sessions itself at `POST /api/sso/{tenant}/backchannel-logout`.
//!
//! Every sign-in, refusal, provisioning and logout is a record of the
//! tenant's audit log (palisade-sso writes through [`TenantLogs`]).
//!
//! Provisioning and role changes from claims use the policy's *author*
//! edits ([`palisade_rbac::Unchecked`]): no signed-in actor makes them. What
//! they may give was checked when the mapping was saved, against the
//! delegation rights of the administrator who saved it; the policy's
//! invariants (an owner is never demoted, blocked or deleted) still hold,
//! and palisade-sso never changes an owner's role from claims either.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use palisade_audit::{AuditSink, Event, Outcome, Receipt};
use palisade_axum::{Authorized, Field, Fresh, Guarded, Principal, Protected, SessionCookie};
use palisade_crypt::Normalizer;
use palisade_otp::FactorState;
use palisade_password::{Password, PasswordHasher};
use palisade_rbac::{Actor, PolicyDocument};
use palisade_sso::{Authenticated, Callback, LocalAccount, PendingSignIn, Provisioning, SignIn};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::app::{Backoffice, ROLES, random_id, random_token, token_hash};
use crate::error::{Error, Result, internal};
use crate::gate::{Edit, Read, Sso};
use crate::http::{ApiJson, AppState};
use crate::sessions::{Session, Stage};

/// The callback every tenant's provider redirects to (under the public URL).
const CALLBACK_PATH: &str = "/api/sso/callback";
/// The cookie that ties a begun sign-in to the browser.
const PENDING_COOKIE: &str = "bo_sso";
/// How long a begun sign-in may take (palisade-sso's default).
const PENDING_TTL: Duration = Duration::from_secs(600);
/// Sign-ins begun and not completed that this server keeps; past it the
/// oldest are forgotten (anyone may begin one).
const PENDING_MAX: usize = 10_000;
/// Limits of a provider's settings.
const MAX_RULES: usize = 64;
const MAX_LIST: usize = 32;
const MAX_SECRET: usize = 4096;

// ---- settings ---------------------------------------------------------------

/// What happens to a user who has no account yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Jit {
    /// Refused: an administrator creates accounts.
    #[default]
    Refuse,
    /// An account is created with the mapped role.
    Provision,
}

impl Jit {
    fn as_str(self) -> &'static str {
        match self {
            Jit::Refuse => "refuse",
            Jit::Provision => "provision",
        }
    }
}

/// What happens when the provider proves no second factor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Fallback {
    /// The account's own TOTP, as after a password.
    #[default]
    LocalTotp,
    /// The sign-in is refused.
    Refuse,
}

impl Fallback {
    fn as_str(self) -> &'static str {
        match self {
            Fallback::LocalTotp => "local-totp",
            Fallback::Refuse => "refuse",
        }
    }
}

/// The `acr`/`amr` values that prove a second factor at the provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecondFactor {
    #[serde(default)]
    pub(crate) acr: Vec<String>,
    #[serde(default)]
    pub(crate) amr: Vec<String>,
    #[serde(default)]
    pub(crate) fallback: Fallback,
}

impl Default for SecondFactor {
    /// RFC 8176's multi-factor, one-time-password and hardware-key methods;
    /// the account's TOTP otherwise.
    fn default() -> Self {
        SecondFactor {
            acr: Vec::new(),
            amr: vec!["mfa".into(), "otp".into(), "hwk".into()],
            fallback: Fallback::LocalTotp,
        }
    }
}

/// A claim value that gives a role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleRule {
    pub(crate) claim: String,
    pub(crate) value: String,
    pub(crate) role: String,
}

/// A client secret as given to `PUT /api/sso`: never serialized, never printed.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub(crate) struct SecretText(Zeroizing<String>);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

/// A tenant's identity provider, as the administrator sets it (the body of
/// `PUT /api/sso`) and as it is stored (without the secret). E-mail
/// addresses must be verified by the provider: an account is found by its
/// address on its first single sign-on.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderSettings {
    /// The provider's issuer, exactly as in its discovery document.
    pub(crate) issuer: String,
    /// The client registered at the provider for this tenant.
    pub(crate) client_id: String,
    /// The client's secret: required the first time, kept when left out.
    #[serde(default, skip_serializing)]
    pub(crate) client_secret: Option<SecretText>,
    /// Scopes besides `openid` (palisade-sso's default: `email`, `profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scopes: Option<Vec<String>>,
    /// The company's e-mail domains.
    pub(crate) allowed_email_domains: Vec<String>,
    /// Unknown users: `refuse` (default) or `provision`.
    #[serde(default)]
    pub(crate) jit: Jit,
    /// The role of users no rule matches (refused otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) default_role: Option<String>,
    /// Which `acr`/`amr` prove a second factor; `fallback` otherwise.
    #[serde(default)]
    pub(crate) second_factor: SecondFactor,
    /// Claim values to roles, the first match winning.
    #[serde(default)]
    pub(crate) roles: Vec<RoleRule>,
    /// The longest session (palisade-sso's default: 8 hours); the ID
    /// token's end comes first when it is sooner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_session_seconds: Option<i64>,
}

impl ProviderSettings {
    /// Every role the settings can give, once each.
    fn roles(&self) -> Vec<&str> {
        let mut roles: Vec<&str> = Vec::new();
        for role in self
            .roles
            .iter()
            .map(|r| r.role.as_str())
            .chain(self.default_role.as_deref())
        {
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        roles
    }

    /// The back office's own rules (palisade-sso checks the rest).
    fn check_limits(&self) -> Result<()> {
        if self.roles.len() > MAX_RULES {
            return Err(Error::BadRequest(format!(
                "`roles`: at most {MAX_RULES} rules"
            )));
        }
        let lists = [
            ("allowed_email_domains", self.allowed_email_domains.len()),
            ("scopes", self.scopes.as_ref().map_or(0, Vec::len)),
            ("second_factor.acr", self.second_factor.acr.len()),
            ("second_factor.amr", self.second_factor.amr.len()),
        ];
        for (name, len) in lists {
            if len > MAX_LIST {
                return Err(Error::BadRequest(format!(
                    "`{name}`: at most {MAX_LIST} values"
                )));
            }
        }
        for role in self.roles() {
            if !ROLES.contains(&role) {
                return Err(Error::BadRequest(format!(
                    "role `{role}` is not a role of the back office (one of {})",
                    ROLES.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// The issuer as the uniqueness of (issuer, client) compares it.
fn issuer_key(issuer: &str) -> &str {
    issuer.trim_end_matches('/')
}

// ---- palisade-sso's configuration ---------------------------------------------

#[derive(Serialize)]
struct TomlFile<'a> {
    tenants: BTreeMap<&'a str, TomlTenant<'a>>,
}

#[derive(Serialize)]
struct TomlTenant<'a> {
    issuer: &'a str,
    client_id: &'a str,
    client_secret_key: &'a str,
    redirect_uri: String,
    post_logout_redirect_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<&'a [String]>,
    allowed_email_domains: &'a [String],
    require_verified_email: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_session_seconds: Option<i64>,
    jit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_role: Option<&'a str>,
    second_factor: TomlSecondFactor<'a>,
    roles: &'a [RoleRule],
}

#[derive(Serialize)]
struct TomlSecondFactor<'a> {
    acr: &'a [String],
    amr: &'a [String],
    fallback: &'static str,
}

/// palisade-sso's configuration file of `tenants` (the client secret of
/// each is asked of the secret provider under the tenant's name).
fn config_text(tenants: &[(&str, &ProviderSettings)], public_url: &str) -> Result<String> {
    let file = TomlFile {
        tenants: tenants
            .iter()
            .map(|(tenant, s)| {
                (
                    *tenant,
                    TomlTenant {
                        issuer: &s.issuer,
                        client_id: &s.client_id,
                        client_secret_key: tenant,
                        redirect_uri: format!("{public_url}{CALLBACK_PATH}"),
                        post_logout_redirect_uri: format!("{public_url}/"),
                        scopes: s.scopes.as_deref(),
                        allowed_email_domains: &s.allowed_email_domains,
                        require_verified_email: true,
                        max_session_seconds: s.max_session_seconds,
                        jit: s.jit.as_str(),
                        default_role: s.default_role.as_deref(),
                        second_factor: TomlSecondFactor {
                            acr: &s.second_factor.acr,
                            amr: &s.second_factor.amr,
                            fallback: s.second_factor.fallback.as_str(),
                        },
                        roles: &s.roles,
                    },
                )
            })
            .collect(),
    };
    toml::to_string(&file).map_err(internal)
}

/// palisade-sso's refusal of a configuration, as the administrator reads
/// it (the lines of the generated file mean nothing to them).
fn config_refusal(e: palisade_sso::Error) -> Error {
    match e {
        palisade_sso::Error::Invalid { problems } => Error::BadRequest(
            problems
                .iter()
                .map(|p| p.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => Error::BadRequest(other.to_string()),
    }
}

// ---- the shared state -----------------------------------------------------------

/// The back office's single sign-on: the palisade-sso client serving every
/// configured tenant, the revisions it serves, the decrypted client
/// secrets, and the sign-ins begun on this server.
#[derive(Default)]
pub(crate) struct SsoState {
    client: OnceLock<Arc<palisade_sso::Sso>>,
    loaded: Mutex<Loaded>,
    secrets: Arc<RwLock<HashMap<String, Zeroizing<String>>>>,
    pending: Mutex<PendingSignIns>,
}

/// Which stored revision of each tenant's provider the client was built
/// from, and which tenants it serves.
#[derive(Default)]
struct Loaded {
    revisions: HashMap<String, String>,
    served: std::collections::HashSet<String>,
}

/// Begun sign-ins, by the SHA-256 of their cookie.
#[derive(Default)]
struct PendingSignIns {
    by_key: HashMap<[u8; 32], (PendingSignIn, Instant)>,
}

impl PendingSignIns {
    fn insert(&mut self, key: [u8; 32], pending: PendingSignIn, now: Instant) {
        if self.by_key.len() >= PENDING_MAX {
            self.by_key
                .retain(|_, (_, at)| now.duration_since(*at) <= PENDING_TTL);
        }
        if self.by_key.len() >= PENDING_MAX
            && let Some(oldest) = self
                .by_key
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| *k)
        {
            self.by_key.remove(&oldest);
        }
        self.by_key.insert(key, (pending, now));
    }

    fn take(&mut self, key: &[u8; 32], now: Instant) -> Option<PendingSignIn> {
        let (pending, at) = self.by_key.remove(key)?;
        (now.duration_since(at) <= PENDING_TTL).then_some(pending)
    }
}

fn pending_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Writes palisade-sso's records to the log of the tenant each names.
///
/// The crate writes from async code; the PostgreSQL audit store blocks on a
/// runtime of its own, which may not run inside the server's: each record
/// is written from a short-lived thread of its own, and the crate gets the
/// real receipt (or error: a sign-in that cannot be recorded is refused).
struct TenantLogs(Weak<Backoffice>);

fn audit_unavailable(why: impl std::fmt::Display) -> palisade_audit::Error {
    palisade_audit::Error::IoFailed(std::io::Error::other(why.to_string()))
}

impl AuditSink for TenantLogs {
    fn record(&self, event: Event) -> palisade_audit::Result<Receipt> {
        let app = self
            .0
            .upgrade()
            .ok_or_else(|| audit_unavailable("the back office stopped"))?;
        let tenant = event
            .tenant()
            .map(str::to_owned)
            .ok_or_else(|| audit_unavailable("a single sign-on record names no tenant"))?;
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let log = app.audit(&tenant).map_err(audit_unavailable)?;
                    let receipt = log.record(event.clone())?;
                    app.watch(&tenant, &event, receipt.index);
                    Ok(receipt)
                })
                .join()
                .unwrap_or_else(|_| Err(audit_unavailable("the audit writer failed")))
        })
    }
}

/// A stored provider.
struct Stored {
    tenant: String,
    settings: ProviderSettings,
    secret: String,
    revision: String,
    updated: i64,
    updated_by: String,
}

impl Stored {
    fn from_row(row: &crate::db::Row) -> Result<Stored> {
        Ok(Stored {
            tenant: row.text("tenant")?,
            settings: serde_json::from_str(&row.text("settings")?).map_err(internal)?,
            secret: row.text("client_secret")?,
            revision: row.text("revision")?,
            updated: row.int("updated")?,
            updated_by: row.text("updated_by")?,
        })
    }
}

const STORED_COLUMNS: &str = "tenant, settings, client_secret, revision, updated, updated_by";

impl Backoffice {
    /// The URL browsers reach the back office at, without a trailing `/`.
    fn public_url(&self) -> Result<String> {
        let url = self.config.public_url.as_deref().ok_or_else(|| {
            Error::Unavailable(
                "single sign-on needs the server's public url (start it with --public-url)".into(),
            )
        })?;
        Ok(url.trim_end_matches('/').to_owned())
    }

    /// The palisade-sso client (made on first use).
    pub(crate) fn sso_client(self: &Arc<Self>) -> Result<Arc<palisade_sso::Sso>> {
        if let Some(client) = self.sso.client.get() {
            return Ok(Arc::clone(client));
        }
        let secrets = Arc::clone(&self.sso.secrets);
        let client = palisade_sso::Sso::new(
            palisade_sso::Config::default(),
            Arc::new(TenantLogs(Arc::downgrade(self))),
        )
        .map_err(internal)?
        .with_max_pending(PENDING_MAX)
        .with_client_secrets(move |tenant| {
            let secrets = secrets.read().ok()?;
            secrets
                .get(tenant)
                .map(|s| palisade_sso::ClientSecret::new(s.as_str()))
        });
        // Of two first uses at once, one client is kept.
        let _ = self.sso.client.set(Arc::new(client));
        self.sso
            .client
            .get()
            .cloned()
            .ok_or_else(|| internal("single sign-on client missing"))
    }

    /// Brings `client` up to date with the stored providers if `tenant`'s
    /// changed (here or on another instance); returns whether `tenant` has
    /// a provider it serves. Blocking: call from the blocking pool.
    fn sso_refresh(&self, client: &palisade_sso::Sso, tenant: &str) -> Result<bool> {
        let stored = self
            .db
            .query_one(
                "SELECT revision FROM sso_providers WHERE tenant = $1",
                &[tenant.into()],
            )?
            .map(|row| row.text("revision"))
            .transpose()?;
        let mut loaded = lock(&self.sso.loaded);
        if loaded.revisions.get(tenant) == stored.as_ref() {
            return Ok(loaded.served.contains(tenant));
        }
        *loaded = self.sso_rebuild(client)?;
        Ok(loaded.served.contains(tenant))
    }

    /// Rebuilds the client's configuration from every stored provider. A
    /// provider that cannot join the others (it would clash with one
    /// stored before it) is left out and logged.
    fn sso_rebuild(&self, client: &palisade_sso::Sso) -> Result<Loaded> {
        let mut stored = self
            .db
            .query(&format!("SELECT {STORED_COLUMNS} FROM sso_providers"), &[])?;
        let mut providers = stored
            .drain(..)
            .map(|row| Stored::from_row(&row))
            .collect::<Result<Vec<_>>>()?;
        providers.sort_by(|a, b| (a.updated, &a.tenant).cmp(&(b.updated, &b.tenant)));
        let mut loaded = Loaded::default();
        let mut secrets = HashMap::new();
        let public_url = match self.public_url() {
            Ok(url) => url,
            Err(e) => {
                if !providers.is_empty() {
                    tracing::error!(error = %e, "single sign-on is configured but cannot serve");
                }
                for p in providers {
                    loaded.revisions.insert(p.tenant, p.revision);
                }
                client.reload(palisade_sso::Config::default());
                return Ok(loaded);
            }
        };
        let all: Vec<(&str, &ProviderSettings)> = providers
            .iter()
            .map(|p| (p.tenant.as_str(), &p.settings))
            .collect();
        let config = match palisade_sso::Config::from_toml(&config_text(&all, &public_url)?) {
            Ok(config) => config,
            Err(_) => {
                // One by one, keeping each that still makes a valid whole.
                let mut kept: Vec<(&str, &ProviderSettings)> = Vec::new();
                let mut config = palisade_sso::Config::default();
                for one in all {
                    kept.push(one);
                    match palisade_sso::Config::from_toml(&config_text(&kept, &public_url)?) {
                        Ok(c) => config = c,
                        Err(e) => {
                            tracing::error!(tenant = one.0, error = %e, "a tenant's identity provider is left out");
                            kept.pop();
                        }
                    }
                }
                config
            }
        };
        for p in &providers {
            if config.tenants().any(|t| t == p.tenant) {
                let secret = self.open_text(
                    &p.tenant,
                    "sso_providers",
                    "client_secret",
                    &p.tenant,
                    &p.secret,
                )?;
                secrets.insert(p.tenant.clone(), Zeroizing::new(secret));
                loaded.served.insert(p.tenant.clone());
            }
            loaded
                .revisions
                .insert(p.tenant.clone(), p.revision.clone());
        }
        match self.sso.secrets.write() {
            Ok(mut guard) => *guard = secrets,
            Err(poisoned) => *poisoned.into_inner() = secrets,
        }
        client.reload(config);
        tracing::info!(
            tenants = loaded.served.len(),
            "single sign-on providers loaded"
        );
        Ok(loaded)
    }

    fn sso_stored(&self, tenant: &str) -> Result<Option<Stored>> {
        self.db
            .query_one(
                &format!("SELECT {STORED_COLUMNS} FROM sso_providers WHERE tenant = $1"),
                &[tenant.into()],
            )?
            .as_ref()
            .map(Stored::from_row)
            .transpose()
    }

    /// What `GET /api/sso` shows: the settings (never the secret) and the
    /// URLs to register at the provider.
    fn sso_view(&self, tenant: &str) -> Result<SsoView> {
        let stored = self.sso_stored(tenant)?;
        let public = self.public_url().ok();
        let at = |path: String| public.as_ref().map(|p| format!("{p}{path}"));
        Ok(SsoView {
            configured: stored.is_some(),
            sign_in_url: at(format!("/api/sso/{tenant}/start")),
            redirect_uri: at(CALLBACK_PATH.to_owned()),
            post_logout_redirect_uri: at("/".to_owned()),
            backchannel_logout_uri: at(format!("/api/sso/{tenant}/backchannel-logout")),
            client_secret_set: stored.is_some(),
            updated: stored.as_ref().map(|s| s.updated),
            updated_by: stored.as_ref().map(|s| s.updated_by.clone()),
            provider: stored.map(|s| s.settings),
        })
    }

    /// Validates and stores `tenant`'s provider, set by `who`.
    fn sso_store(&self, who: &Principal, mut settings: ProviderSettings) -> Result<()> {
        let tenant = who.tenant();
        let public_url = self.public_url()?;
        let secret = settings.client_secret.take();
        settings.check_limits()?;
        // Only roles the editor may give through delegation.
        let row = self
            .db
            .query_one("SELECT policy FROM tenants WHERE id = $1", &[tenant.into()])?
            .ok_or(Error::NotFound)?;
        let document = PolicyDocument::from_toml(&row.text("policy")?).map_err(internal)?;
        let actor = Actor::new(who.user(), tenant);
        let probe = random_id("sso-probe")?;
        for role in settings.roles() {
            if let Err(e) = document.clone().add_user(&actor, &probe, &[role]) {
                return Err(Error::Forbidden(format!(
                    "role `{role}` cannot be given through single sign-on by you: {e}"
                )));
            }
        }
        palisade_sso::Config::from_toml(&config_text(&[(tenant, &settings)], &public_url)?)
            .map_err(config_refusal)?;
        let existing = self.sso_stored(tenant)?;
        let sealed = match (secret, &existing) {
            (Some(SecretText(secret)), _) => {
                if secret.is_empty()
                    || secret.len() > MAX_SECRET
                    || secret.chars().any(char::is_control)
                {
                    return Err(Error::BadRequest(format!(
                        "`client_secret`: 1 to {MAX_SECRET} bytes without control characters"
                    )));
                }
                self.seal_text(tenant, "sso_providers", "client_secret", tenant, &secret)?
            }
            (None, Some(stored)) => stored.secret.clone(),
            (None, None) => {
                return Err(Error::BadRequest(
                    "`client_secret` is required (the secret of the client registered at the provider)"
                        .into(),
                ));
            }
        };
        let issuer = issuer_key(&settings.issuer).to_owned();
        let text = serde_json::to_string(&settings).map_err(internal)?;
        let now = self.clock.now();
        self.db.transaction(|tx| {
            if tx
                .query_one(
                    "SELECT tenant FROM sso_providers WHERE issuer = $1 AND client_id = $2 AND tenant <> $3",
                    &[issuer.clone().into(), settings.client_id.clone().into(), tenant.into()],
                )?
                .is_some()
            {
                return Err(Error::Conflict(
                    "this issuer and client id are another tenant's: register a client of your own at the provider".into(),
                ));
            }
            tx.exec(
                "INSERT INTO sso_providers (tenant, issuer, client_id, settings, client_secret, revision, updated, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant) DO UPDATE SET \
                 issuer = excluded.issuer, client_id = excluded.client_id, settings = excluded.settings, \
                 client_secret = excluded.client_secret, revision = excluded.revision, \
                 updated = excluded.updated, updated_by = excluded.updated_by",
                &[
                    tenant.into(),
                    issuer.clone().into(),
                    settings.client_id.clone().into(),
                    text.clone().into(),
                    sealed.clone().into(),
                    random_token()?.into(),
                    now.into(),
                    who.user().into(),
                ],
            )?;
            Ok(())
        })
    }

    // ---- sign-in ------------------------------------------------------------

    /// A blind index of a provider value (`subject`, `sid`) in `tenant`.
    fn sso_index(&self, tenant: &str, what: &str, value: &str) -> Result<String> {
        Ok(self
            .keyring
            .blind_index(&format!("{tenant}/sso.{what}"), 256, Normalizer::Exact)
            .map_err(internal)?
            .compute(value)
            .to_hex())
    }

    /// Records a refusal palisade-sso did not record itself.
    fn sso_refusal(&self, tenant: &str, subject: Option<&str>, reason: &str, outcome: Outcome) {
        let actor = subject.map_or_else(|| "oidc:unknown".to_owned(), |s| format!("oidc:{s}"));
        let mut event = Event::new(actor.clone(), "sso.sign_in", format!("sso/{tenant}"))
            .with_tenant(tenant)
            .with_outcome(outcome)
            .with_payload(json!({ "reason": reason }));
        if subject.is_some() {
            event = event.with_subject(actor);
        }
        if let Err(e) = self.append(tenant, event) {
            tracing::error!(error = %e, "audit append failed");
        }
    }

    /// The account a verified identity signs in to: the one linked to its
    /// subject, else the one with its (verified) e-mail address unless that
    /// one is linked to another subject (a reused address).
    fn sso_account(&self, tenant: &str, subject: &str, email: &str) -> Result<Option<Account>> {
        let read = |id: &str| -> Result<Option<Account>> {
            self.db
                .query_one(
                    "SELECT id, role, totp_secret FROM users WHERE id = $1 AND tenant = $2",
                    &[id.into(), tenant.into()],
                )?
                .map(|row| {
                    Ok(Account {
                        id: row.text("id")?,
                        role: row.text("role")?,
                        totp: row.opt_text("totp_secret").is_some(),
                        linked: true,
                    })
                })
                .transpose()
        };
        if let Some(link) = self.db.query_one(
            "SELECT user_id FROM sso_links WHERE tenant = $1 AND subject_index = $2",
            &[tenant.into(), subject.into()],
        )? {
            let id = link.text("user_id")?;
            if let Some(account) = read(&id)? {
                return Ok(Some(account));
            }
            // The account was deleted: the link goes with it.
            self.db.exec(
                "DELETE FROM sso_links WHERE tenant = $1 AND subject_index = $2",
                &[tenant.into(), subject.into()],
            )?;
        }
        let Some(row) = self.db.query_one(
            "SELECT id FROM users WHERE tenant = $1 AND email_index = $2",
            &[
                tenant.into(),
                self.email_index(tenant, &email.trim().to_lowercase())?
                    .into(),
            ],
        )?
        else {
            return Ok(None);
        };
        let id = row.text("id")?;
        if self
            .db
            .query_one(
                "SELECT subject_index FROM sso_links WHERE tenant = $1 AND user_id = $2",
                &[tenant.into(), id.clone().into()],
            )?
            .is_some()
        {
            return Err(Error::Conflict("linked_to_another_subject".into()));
        }
        Ok(read(&id)?.map(|a| Account { linked: false, ..a }))
    }

    /// Links `user_id` to the provider's `subject`.
    fn sso_link(&self, tenant: &str, subject: &str, user_id: &str) -> Result<()> {
        self.db.exec(
            "INSERT INTO sso_links (tenant, subject_index, user_id, created) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, subject_index) DO NOTHING",
            &[
                tenant.into(),
                subject.into(),
                user_id.into(),
                self.clock.now().into(),
            ],
        )?;
        Ok(())
    }

    /// Creates the account of a provisioned identity: the account row (its
    /// e-mail and name sealed, a password nobody knows), its link, and its
    /// role in the policy, in one transaction. The policy change is an
    /// author edit (see the module documentation).
    fn sso_provision(
        &self,
        tenant: &str,
        subject: &str,
        identity: &palisade_sso::Identity,
    ) -> Result<String> {
        let id = random_id("u")?;
        let email = identity.email().trim().to_lowercase();
        let local = email.split('@').next().unwrap_or("employee").to_owned();
        let name = identity
            .name()
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.len() <= 200 && !n.chars().any(char::is_control))
            .and_then(|n| self.free_text("name", n).ok().map(|n| n.into_owned()))
            .unwrap_or(local);
        let unknown = Zeroizing::new(random_token()?);
        let password = Password::new(&unknown).map_err(internal)?;
        let hash = PasswordHasher::shared_default()
            .hash(&password)
            .map_err(internal)?;
        let state = serde_json::to_string(&FactorState::new()).map_err(internal)?;
        let role = identity.role().to_owned();
        let now = self.clock.now();
        let email_index = self.email_index(tenant, &email)?;
        let sealed_email = self.seal_text(tenant, "users", "email", &id, &email)?;
        let sealed_name = self.seal_text(tenant, "users", "name", &id, &name)?;
        self.change_policy_and(
            tenant,
            |doc| {
                let mut author = doc.unchecked();
                author.add_user(&id)?;
                author.set_roles(&id, Some(tenant), &[role.as_str()])
            },
            |tx| {
                let n = tx.exec(
                    "INSERT INTO users (id, tenant, email, email_index, name, password_hash, role, totp_state, created) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant, email_index) DO NOTHING",
                    &[
                        id.clone().into(),
                        tenant.into(),
                        sealed_email.clone().into(),
                        email_index.clone().into(),
                        sealed_name.clone().into(),
                        hash.clone().into(),
                        role.clone().into(),
                        state.clone().into(),
                        now.into(),
                    ],
                )?;
                if n == 0 {
                    return Err(Error::Conflict("concurrent sign-in; try again".into()));
                }
                tx.exec(
                    "INSERT INTO sso_links (tenant, subject_index, user_id, created) VALUES ($1, $2, $3, $4)",
                    &[tenant.into(), subject.into(), id.clone().into(), now.into()],
                )?;
                Ok(())
            },
        )?;
        tracing::info!(user = %id, role = %role, "account provisioned by single sign-on");
        Ok(id)
    }

    /// Gives an existing account the role its claims map to (an author
    /// edit; an owner cannot be demoted by it).
    fn sso_set_role(&self, tenant: &str, id: &str, role: &str) -> Result<()> {
        self.change_policy_and(
            tenant,
            |doc| doc.unchecked().set_roles(id, Some(tenant), &[role]),
            |tx| {
                tx.exec(
                    "UPDATE users SET role = $1 WHERE id = $2 AND tenant = $3",
                    &[role.into(), id.into(), tenant.into()],
                )?;
                Ok(())
            },
        )?;
        tracing::info!(user = %id, role, "role set by single sign-on");
        Ok(())
    }

    /// Admits a verified identity: finds or provisions its account, and
    /// opens its session at the stage the second-factor rule asks.
    fn sso_admit(&self, user: Authenticated) -> Result<String> {
        let tenant = user.tenant().to_owned();
        let sub = user.subject().to_owned();
        let subject = self.sso_index(&tenant, "subject", &sub)?;
        let refuse = |reason: &str, outcome: Outcome| {
            self.sso_refusal(&tenant, Some(&sub), reason, outcome);
            Error::Unauthorized(format!("single sign-on refused: {reason}"))
        };
        let account = match self.sso_account(&tenant, &subject, user.email()) {
            Ok(account) => account,
            Err(Error::Conflict(reason)) => return Err(refuse(&reason, Outcome::Denied)),
            Err(e) => return Err(e),
        };
        let local = match &account {
            Some(a) => {
                if self.tenant_policy(&tenant)?.is_blocked(&a.id) {
                    return Err(refuse("account_blocked", Outcome::Denied));
                }
                Some(LocalAccount::new(a.role.clone()).with_owner(self.is_owner(&tenant, &a.id)?))
            }
            None => None,
        };
        let signed = user.admit(local.as_ref()).map_err(refusal)?;
        let identity = signed.identity();
        let stored = match (&account, identity.provisioning()) {
            (None, _) => self.sso_provision(&tenant, &subject, identity),
            (Some(a), provisioning) => {
                let changed = match provisioning {
                    Provisioning::RoleChanged { .. } => {
                        self.sso_set_role(&tenant, &a.id, identity.role())
                    }
                    _ => Ok(()),
                };
                changed
                    .and_then(|()| {
                        if a.linked {
                            Ok(())
                        } else {
                            self.sso_link(&tenant, &subject, &a.id)
                        }
                    })
                    .map(|()| a.id.clone())
            }
        };
        let id = stored.inspect_err(|e| {
            tracing::error!(error = %e, "single sign-on could not store the account");
            self.sso_refusal(&tenant, Some(&sub), "account_not_stored", Outcome::Failure);
        })?;
        let stage = match (&signed, account.as_ref().is_some_and(|a| a.totp)) {
            (SignIn::Admitted(_), _) => Stage::Full,
            (SignIn::NeedsTotp(_), true) => Stage::Totp,
            (SignIn::NeedsTotp(_), false) => Stage::Enroll,
        };
        self.sso_session(&tenant, &id, &subject, signed.identity(), stage)
    }

    /// Opens the session of an admitted identity: it ends with the ID token
    /// (or the tenant's session lifetime, if sooner); its ID token is kept
    /// sealed for logout.
    fn sso_session(
        &self,
        tenant: &str,
        user_id: &str,
        subject: &str,
        identity: &palisade_sso::Identity,
        stage: Stage,
    ) -> Result<String> {
        let token = random_token()?;
        let hash = token_hash(&token);
        let now = self.clock.now();
        let left = identity
            .expires_at()
            .duration_since(SystemTime::now())
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let expires = now.saturating_add(left.min(self.config.session_ttl));
        let row = random_id("sso")?;
        let id_token = self.seal_text(
            tenant,
            "sso_sessions",
            "id_token",
            &row,
            identity.id_token_hint(),
        )?;
        let sid = identity
            .session_id()
            .map(|sid| self.sso_index(tenant, "sid", sid))
            .transpose()?;
        self.db.transaction(|tx| {
            tx.exec("DELETE FROM sso_sessions WHERE expires <= $1", &[now.into()])?;
            tx.exec(
                "INSERT INTO sessions (token_hash, user_id, tenant, stage, expires) VALUES ($1, $2, $3, $4, $5)",
                &[
                    hash.clone().into(),
                    user_id.into(),
                    tenant.into(),
                    stage.as_str().into(),
                    expires.into(),
                ],
            )?;
            tx.exec(
                "INSERT INTO sso_sessions (id, token_hash, tenant, user_id, subject_index, sid_index, id_token, expires) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    row.clone().into(),
                    hash.clone().into(),
                    tenant.into(),
                    user_id.into(),
                    subject.into(),
                    sid.clone().into(),
                    id_token.clone().into(),
                    expires.into(),
                ],
            )?;
            Ok(())
        })?;
        tracing::info!(user = %user_id, stage = stage.as_str(), "signed in through single sign-on");
        Ok(token)
    }

    /// Moves a single sign-on session to the token of its next stage, which
    /// ends no later than it did (the TOTP step does not outlive the ID token).
    pub(crate) fn carry_sso_session(&self, from_hash: &str, to_hash: &str) -> Result<()> {
        self.db.transaction(|tx| {
            let Some(row) = tx.query_one(
                "SELECT expires FROM sso_sessions WHERE token_hash = $1",
                &[from_hash.into()],
            )?
            else {
                return Ok(());
            };
            let expires = row.int("expires")?;
            tx.exec(
                "UPDATE sso_sessions SET token_hash = $1 WHERE token_hash = $2",
                &[to_hash.into(), from_hash.into()],
            )?;
            tx.exec(
                "UPDATE sessions SET expires = $1 WHERE token_hash = $2 AND expires > $1",
                &[expires.into(), to_hash.into()],
            )?;
            Ok(())
        })
    }

    /// The tenant and ID token of a single sign-on session, removed (the
    /// session is ending).
    fn take_sso_session(&self, session: &Session) -> Result<Option<(String, String)>> {
        let Some(row) = self.db.query_one(
            "SELECT id, tenant, id_token FROM sso_sessions WHERE token_hash = $1",
            &[session.token_hash.clone().into()],
        )?
        else {
            return Ok(None);
        };
        let (id, tenant) = (row.text("id")?, row.text("tenant")?);
        let id_token = self.open_text(
            &tenant,
            "sso_sessions",
            "id_token",
            &id,
            &row.text("id_token")?,
        )?;
        self.db
            .exec("DELETE FROM sso_sessions WHERE id = $1", &[id.into()])?;
        Ok(Some((tenant, id_token)))
    }

    /// Ends the sessions a back-channel logout names: those of the
    /// provider session `sid`, or every session of the subject.
    fn end_sso_sessions(&self, tenant: &str, notice: &palisade_sso::LogoutNotice) -> Result<u64> {
        let (column, value) = match (&notice.session_id, &notice.subject) {
            (Some(sid), _) => ("sid_index", self.sso_index(tenant, "sid", sid)?),
            (None, Some(sub)) => ("subject_index", self.sso_index(tenant, "subject", sub)?),
            (None, None) => return Ok(0),
        };
        self.db.transaction(|tx| {
            let rows = tx.query(
                &format!("SELECT token_hash FROM sso_sessions WHERE tenant = $1 AND {column} = $2"),
                &[tenant.into(), value.clone().into()],
            )?;
            let mut ended = 0;
            for row in rows {
                let hash = row.text("token_hash")?;
                ended += tx.exec(
                    "DELETE FROM sessions WHERE token_hash = $1",
                    &[hash.clone().into()],
                )?;
                tx.exec(
                    "DELETE FROM sso_sessions WHERE token_hash = $1",
                    &[hash.into()],
                )?;
            }
            Ok(ended)
        })
    }
}

/// An account found for a verified identity.
struct Account {
    id: String,
    role: String,
    totp: bool,
    /// Whether it is linked to the identity's subject already.
    linked: bool,
}

/// How a palisade-sso refusal (already in the audit log) is answered: the
/// reason code only, never the details.
fn refusal(e: palisade_sso::Error) -> Error {
    match e {
        palisade_sso::Error::ProviderUnavailable { .. }
        | palisade_sso::Error::ProviderMetadataInvalid { .. }
        | palisade_sso::Error::ClientSecretUnavailable { .. }
        | palisade_sso::Error::HttpClientUnavailable(_) => Error::Unavailable(
            "the company's identity provider cannot be reached; try again later".into(),
        ),
        palisade_sso::Error::TenantUnknown(_) => Error::NotFound,
        palisade_sso::Error::AuditUnavailable(_) | palisade_sso::Error::RandomUnavailable => {
            internal(e)
        }
        other => Error::Unauthorized(format!("single sign-on refused: {}", other.code())),
    }
}

// ---- the answers -------------------------------------------------------------

/// A tenant's single sign-on, as `GET /api/sso` shows it.
#[derive(Debug, Serialize)]
pub(crate) struct SsoView {
    configured: bool,
    /// Where staff start: "sign in with your company account".
    sign_in_url: Option<String>,
    /// The URIs to register for the client at the provider.
    redirect_uri: Option<String>,
    post_logout_redirect_uri: Option<String>,
    backchannel_logout_uri: Option<String>,
    provider: Option<ProviderSettings>,
    client_secret_set: bool,
    updated: Option<i64>,
    updated_by: Option<String>,
}

impl Protected for SsoView {
    const TYPE: &'static str = "Sso";
    const FIELDS: &'static [Field] = &[
        Field::plain("configured"),
        Field::plain("sign_in_url"),
        Field::plain("redirect_uri"),
        Field::plain("post_logout_redirect_uri"),
        Field::plain("backchannel_logout_uri"),
        Field::plain("provider"),
        Field::plain("client_secret_set"),
        Field::plain("updated"),
        Field::plain("updated_by"),
    ];
}

/// The cookie of a begun sign-in (its name; `__Host-` over TLS).
fn pending_cookie(app: &Backoffice) -> SessionCookie {
    SessionCookie::new(PENDING_COOKIE, app.config.over_tls())
}

/// The `Set-Cookie` value of a begun sign-in: `SameSite=Lax`, because the
/// provider's redirect back is a cross-site navigation.
fn set_pending_cookie(app: &Backoffice, token: &str, max_age: u64) -> Result<HeaderValue> {
    let cookie = pending_cookie(app);
    HeaderValue::from_str(&format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        cookie.name(),
        if app.config.over_tls() {
            "; Secure"
        } else {
            ""
        }
    ))
    .map_err(internal)
}

/// `GET /api/sso`
pub(crate) async fn get(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Sso>,
) -> Result<Guarded<SsoView>> {
    let tenant = auth.tenant().to_owned();
    let view = app.blocking(move |app| app.sso_view(&tenant)).await?;
    Ok(auth.respond(view))
}

/// `PUT /api/sso`: sets the tenant's provider (a fresh step-up first).
pub(crate) async fn put(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Edit, Sso>,
    _fresh: Fresh,
    ApiJson(settings): ApiJson<ProviderSettings>,
) -> Result<Guarded<SsoView>> {
    auth.note("issuer", settings.issuer.clone());
    auth.note("client_id", settings.client_id.clone());
    auth.note("client_secret_changed", settings.client_secret.is_some());
    auth.note("jit", settings.jit.as_str());
    let client = app.sso_client()?;
    let who = auth.principal().clone();
    let view = app
        .blocking(move |app| {
            app.sso_store(&who, settings)?;
            app.sso_refresh(&client, who.tenant())?;
            app.sso_view(who.tenant())
        })
        .await?;
    Ok(auth.respond(view))
}

/// `DELETE /api/sso`: turns single sign-on off (sessions opened through it
/// end with their ID tokens).
pub(crate) async fn delete(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Edit, Sso>,
    _fresh: Fresh,
) -> Result<Guarded<SsoView>> {
    let client = app.sso_client()?;
    let tenant = auth.tenant().to_owned();
    let view = app
        .blocking(move |app| {
            app.db.exec(
                "DELETE FROM sso_providers WHERE tenant = $1",
                &[tenant.clone().into()],
            )?;
            app.sso_refresh(&client, &tenant)?;
            app.sso_view(&tenant)
        })
        .await?;
    Ok(auth.respond(view))
}

/// `GET /api/sso/{tenant}/start`: to the tenant's provider, the sign-in's
/// secrets kept here under a short-lived cookie.
pub(crate) async fn start(
    State(app): State<Arc<Backoffice>>,
    Path(tenant): Path<String>,
) -> Result<Response> {
    if tenant.len() > 64 {
        return Err(Error::NotFound);
    }
    let client = app.sso_client()?;
    let configured = app
        .blocking({
            let (client, tenant) = (Arc::clone(&client), tenant.clone());
            move |app| app.sso_refresh(&client, &tenant)
        })
        .await?;
    if !configured {
        return Err(Error::NotFound);
    }
    let begun = client.begin(&tenant).await.map_err(refusal)?;
    let token = random_token()?;
    lock(&app.sso.pending).insert(pending_key(&token), begun.pending, Instant::now());
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        set_pending_cookie(&app, &token, PENDING_TTL.as_secs())?,
    );
    Ok((headers, Redirect::to(begun.redirect_url.as_str())).into_response())
}

/// `GET /api/sso/callback`: the provider's answer. The sign-in begun in
/// this browser completes, or is refused (and recorded).
pub(crate) async fn callback(
    State(state): State<AppState>,
    request_headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let app = Arc::clone(&state.app);
    let pending = pending_cookie(&app)
        .read(&request_headers)
        .and_then(|token| lock(&app.sso.pending).take(&pending_key(token), Instant::now()));
    let Some(pending) = pending else {
        app.blocking(|app| {
            app.sso_refusal("_system", None, "sign_in_unknown", Outcome::Denied);
            Ok(())
        })
        .await?;
        return Err(Error::BadRequest(
            "no single sign-on is in progress in this browser; start again".into(),
        ));
    };
    let tenant = pending.tenant().to_owned();
    let client = app.sso_client()?;
    app.blocking({
        let (client, tenant) = (Arc::clone(&client), tenant.clone());
        move |app| app.sso_refresh(&client, &tenant)
    })
    .await?;
    let callback = match Callback::from_query(query.as_deref().unwrap_or("")) {
        Ok(callback) => callback,
        Err(e) => {
            let reason = e.code();
            app.blocking(move |app| {
                app.sso_refusal(&tenant, None, reason, Outcome::Denied);
                Ok(())
            })
            .await?;
            return Err(refusal(e));
        }
    };
    let user = client.complete(pending, &callback).await.map_err(refusal)?;
    let token = app.blocking(move |app| app.sso_admit(user)).await?;
    let mut headers = HeaderMap::new();
    headers.append(
        header::SET_COOKIE,
        HeaderValue::from_str(&state.cookie.set(&token)).map_err(internal)?,
    );
    headers.append(header::SET_COOKIE, set_pending_cookie(&app, "", 0)?);
    Ok((headers, Redirect::to("/")).into_response())
}

/// The provider's end-session URL for a session opened by single sign-on
/// (its ID token as the hint), if it has one; the session's record of the
/// token is removed. Failures are logged: the local sign-out goes on.
pub(crate) async fn logout_url(app: &Arc<Backoffice>, session: &Session) -> Option<String> {
    let taken = {
        let session = session.clone();
        app.blocking(move |app| {
            let taken = app.take_sso_session(&session)?;
            if let Some((tenant, _)) = &taken {
                app.record(
                    tenant,
                    &session.user_id,
                    "sso.logout",
                    &format!("sso/{tenant}"),
                    &[],
                    json!({ "initiated_by": "user" }),
                )?;
            }
            Ok(taken)
        })
        .await
    };
    let (tenant, hint) = match taken {
        Ok(Some(found)) => found,
        Ok(None) => return None,
        Err(e) => {
            tracing::error!(error = %e, "single sign-on logout failed");
            return None;
        }
    };
    let client = app.sso_client().ok()?;
    let refreshed = app
        .blocking({
            let (client, tenant) = (Arc::clone(&client), tenant.clone());
            move |app| app.sso_refresh(&client, &tenant)
        })
        .await;
    if !matches!(refreshed, Ok(true)) {
        return None;
    }
    match client.logout_url(&tenant, &hint).await {
        Ok(url) => url.map(|u| u.to_string()),
        Err(e) => {
            tracing::warn!(error = %e, "no end-session url from the identity provider");
            None
        }
    }
}

/// The body the provider posts to the back-channel logout URI.
#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    logout_token: String,
}

/// `POST /api/sso/{tenant}/backchannel-logout`: the provider ends its
/// sessions here (the token verified, replays refused, each recorded).
pub(crate) async fn backchannel_logout(
    State(app): State<Arc<Backoffice>>,
    Path(tenant): Path<String>,
    Form(form): Form<LogoutForm>,
) -> Response {
    let answer = async {
        let client = app.sso_client()?;
        let configured = app
            .blocking({
                let (client, tenant) = (Arc::clone(&client), tenant.clone());
                move |app| app.sso_refresh(&client, &tenant)
            })
            .await?;
        if !configured {
            return Err(Error::NotFound);
        }
        let notice = client
            .verify_logout_token(&tenant, &form.logout_token)
            .await
            .map_err(refusal)?;
        app.blocking(move |app| app.end_sso_sessions(&tenant, &notice))
            .await
    }
    .await;
    match answer {
        Ok(ended) => {
            tracing::info!(ended, "back-channel logout");
            (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response()
        }
        // OpenID Connect Back-Channel Logout 1.0, §2.8: 400 on a bad token.
        Err(Error::Unauthorized(_)) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "invalid_request" })),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
