//! Sign-up, sign-in (password, then TOTP or a recovery code), enrollment and
//! replacement of the second factor, step-up, sign-out, and accounts.

use palisade_crypt::Normalizer;
use palisade_otp::{
    Enrollment, FactorState, KeyUri, Proof, RecoveryCodes, Secret, StepUp as OtpStepUp, Throttle,
    Totp,
};
use palisade_password::{
    Context as PasswordContext, LoginVerdict, Password, PasswordHasher, Policy as PasswordPolicy,
};
use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::app::{Backoffice, OWNER_ROLE, random_id};
use crate::db::Tx;
use crate::error::{Error, Result, internal};
use crate::http::{ApiJson, AppState, ClientAddr};
use crate::sessions::{Caller, Session, Stage};
use crate::views::Me;

/// A new tenant and its owner.
#[derive(Deserialize)]
pub(crate) struct SignUp {
    pub(crate) tenant: String,
    pub(crate) company: String,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) password: Zeroizing<String>,
}

/// The first step of sign-in. Accounts belong to one tenant: the same
/// address may have an account in several tenants, each with its own password.
#[derive(Deserialize)]
pub(crate) struct SignIn {
    pub(crate) tenant: String,
    pub(crate) email: String,
    pub(crate) password: Zeroizing<String>,
}

#[derive(Deserialize)]
pub(crate) struct SecondFactor {
    pub(crate) code: Option<Zeroizing<String>>,
    pub(crate) recovery_code: Option<Zeroizing<String>>,
}

/// Proof that the person at the keyboard holds the account, asked before a
/// sensitive change such as replacing the second factor: the password, a
/// current code or a recovery code.
#[derive(Deserialize)]
pub(crate) struct PasswordChange {
    pub(crate) current: Zeroizing<String>,
    pub(crate) new: Zeroizing<String>,
}

/// A step-up proof (see above).
#[derive(Deserialize, Default)]
pub(crate) struct StepUp {
    pub(crate) password: Option<Zeroizing<String>>,
    pub(crate) code: Option<Zeroizing<String>>,
    pub(crate) recovery_code: Option<Zeroizing<String>>,
}

/// A validated account, its password hashed, ready to be stored.
pub(crate) struct NewAccount {
    pub(crate) id: String,
    email: String,
    name: String,
    role: String,
    hash: String,
}

/// How long a step-up (the password or a code entered again) counts for
/// sensitive actions, in seconds (palisade-otp's default).
pub(crate) const STEP_UP_WINDOW: i64 = 300;

/// The one answer to every failed password step, whatever failed (unknown
/// tenant, unknown address, wrong password, blocked account).
const SIGN_IN_REFUSED: &str = "invalid tenant, e-mail or password";

/// What a successful step of sign-in returns: the JSON body and the new token.
pub(crate) struct SignedIn {
    pub(crate) body: Value,
    pub(crate) token: String,
}

fn valid_email(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None)
        if !l.is_empty() && d.contains('.') && email.len() <= 254 && !email.contains(char::is_whitespace))
}

fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Backoffice {
    fn check_password_policy(&self, password: &Password, email: &str, name: &str) -> Result<()> {
        let context = PasswordContext::new().email(email).user_name(name);
        let verdict = PasswordPolicy::new()
            .with_service_word("palisade")
            .with_service_word("backoffice")
            .check(password, &context)
            .map_err(internal)?;
        if verdict.is_accepted() {
            Ok(())
        } else {
            Err(Error::BadRequest(format!("password refused: {verdict}")))
        }
    }

    /// Validates a new account and hashes its password (Argon2id); nothing
    /// is stored yet (see [`store_account`]), so the slow hash runs outside
    /// any transaction.
    pub(crate) fn new_account(
        &self,
        email: &str,
        name: &str,
        role: &str,
        password: &str,
    ) -> Result<NewAccount> {
        let email = normalize_email(email);
        if !valid_email(&email) {
            return Err(Error::BadRequest("invalid e-mail address".into()));
        }
        let name = name.trim();
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(Error::BadRequest(
                "a name of 1 to 200 bytes without control characters is required".into(),
            ));
        }
        let name = self.free_text("name", name)?.into_owned();
        let password = Password::new(password).map_err(|e| Error::BadRequest(e.to_string()))?;
        self.check_password_policy(&password, &email, &name)?;
        let hash = PasswordHasher::shared_default()
            .hash(&password)
            .map_err(internal)?;
        Ok(NewAccount {
            id: random_id("u")?,
            email,
            name,
            role: role.to_owned(),
            hash,
        })
    }

    /// Creates an account in `tenant` (the seed's path: no policy change).
    pub(crate) fn insert_user(
        &self,
        tenant: &str,
        email: &str,
        name: &str,
        role: &str,
        password: &str,
    ) -> Result<String> {
        let account = self.new_account(email, name, role, password)?;
        let now = self.clock.now();
        self.db
            .transaction(|tx| self.store_account(tx, tenant, &account, now))?;
        Ok(account.id)
    }

    /// Sign-up: a new tenant with its owner (role Administrator), stored in
    /// one transaction: the tenant row first, so that of racing sign-ups for
    /// one tenant id exactly one creates it and the others store nothing.
    pub(crate) fn sign_up(&self, form: &SignUp) -> Result<Value> {
        let tenant = form.tenant.trim();
        if !(2..=32).contains(&tenant.len())
            || !tenant
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            || tenant.starts_with('-')
        {
            return Err(Error::BadRequest(
                "tenant: 2 to 32 characters among a-z, 0-9 and `-`".into(),
            ));
        }
        let company = form.company.trim();
        if company.is_empty() || company.len() > 200 || company.chars().any(char::is_control) {
            return Err(Error::BadRequest(
                "a company name of 1 to 200 bytes is required".into(),
            ));
        }
        let company = self.free_text("company", company)?.into_owned();
        let owner = self.new_account(&form.email, &form.name, OWNER_ROLE, &form.password)?;
        let policy = Self::new_tenant_policy(tenant, &owner.id)?;
        let now = self.clock.now();
        self.db.transaction(|tx| {
            let created = tx.exec(
                "INSERT INTO tenants (id, name, policy, policy_version, created) VALUES ($1, $2, $3, 1, $4) \
                 ON CONFLICT (id) DO NOTHING",
                &[tenant.into(), company.into(), policy.clone().into(), now.into()],
            )?;
            if created == 0 {
                return Err(Error::Conflict(format!("tenant `{tenant}` already exists")));
            }
            self.store_account(tx, tenant, &owner, now)
        })?;
        self.record(
            tenant,
            &owner.id,
            "tenant.create",
            &format!("tenants/{tenant}"),
            &[],
            json!({}),
        )?;
        tracing::info!(tenant, user = %owner.id, "tenant created");
        Ok(
            json!({ "tenant": tenant, "user": owner.id, "next": "sign in, then enroll your authenticator" }),
        )
    }

    /// Sign-in, first step: the password. The attempt is reserved in the
    /// limiter before Argon2 runs (per account and per client address, in
    /// the database every instance shares); an unknown tenant or address
    /// costs a dummy verification and meets the same back-off, so the
    /// answers do not tell which accounts exist.
    pub(crate) fn sign_in(&self, form: &SignIn, address: IpAddr) -> Result<SignedIn> {
        let refused = || Error::Unauthorized(SIGN_IN_REFUSED.into());
        let tenant = form.tenant.trim();
        let email = normalize_email(&form.email);
        let now = u64::try_from(self.clock.now()).unwrap_or(0);
        let password = Password::new(&form.password).map_err(|_| refused())?;
        let row = self.db.query_one(
            "SELECT id, password_hash, totp_secret FROM users WHERE tenant = $1 AND email_index = $2",
            &[tenant.into(), self.email_index(tenant, &email)?.into()],
        )?;
        let stored = row.as_ref().map(|r| r.text("password_hash")).transpose()?;
        let account = format!("{tenant}/{email}");
        let verdict = self
            .login_limiter
            .verify(
                PasswordHasher::shared_default(),
                &account,
                address,
                &password,
                stored.as_deref(),
                now,
            )
            .map_err(|e| match e {
                palisade_password::Error::IdentifierTooLong { .. } => refused(),
                other => internal(other),
            })?;
        let (log, actor) = match &row {
            Some(r) => (tenant.to_owned(), r.text("id")?),
            None => ("_system".to_owned(), "anonymous".to_owned()),
        };
        let verified = match verdict {
            LoginVerdict::Accepted(verified) => verified,
            LoginVerdict::Rejected => {
                self.record_denied(&log, &actor, "auth.sign_in", &format!("users/{actor}"));
                tracing::info!("sign-in refused");
                return Err(refused());
            }
            LoginVerdict::Throttled { retry_after } => {
                self.record_denied(&log, &actor, "auth.sign_in_throttled", "users");
                return Err(Error::Throttled(retry_after.max(1)));
            }
            LoginVerdict::Locked => return Err(Error::Throttled(15 * 60)),
        };
        let Some(row) = row else {
            // Unreachable: an unknown account is never accepted.
            return Err(refused());
        };
        let id = row.text("id")?;
        if let Some(new_hash) = verified.new_hash {
            // Upgrade on login: a legacy or weaker hash is replaced now.
            self.db.exec(
                "UPDATE users SET password_hash = $1 WHERE id = $2",
                &[new_hash.into(), id.clone().into()],
            )?;
            tracing::info!(user = %id, "password hash upgraded");
        }
        // A blocked employee does not get even a partial session.
        if self.tenant_policy(tenant)?.is_blocked(&id) {
            self.record_denied(tenant, &id, "auth.sign_in", &format!("users/{id}"));
            return Err(refused());
        }
        let stage = if row.opt_text("totp_secret").is_some() {
            Stage::Totp
        } else {
            Stage::Enroll
        };
        let token = self.new_session(&id, tenant, stage)?;
        tracing::info!(user = %id, stage = stage.as_str(), "password accepted");
        Ok(SignedIn {
            body: json!({ "stage": stage.as_str() }),
            token,
        })
    }

    fn user_secret(&self, session: &Session, column: &str, token: &str) -> Result<Secret> {
        let ciphertext = token.parse().map_err(internal)?;
        let context = Self::field_context(&session.tenant, "users", column, &session.user_id);
        let bytes = self
            .keyring
            .decrypt(&ciphertext, &context)
            .map_err(internal)?;
        Secret::from_bytes(&bytes).map_err(internal)
    }

    /// Sign-in, second step: a TOTP code (replays refused, failures
    /// throttled) or a single-use recovery code.
    pub(crate) fn second_factor(&self, session: &Session, form: &SecondFactor) -> Result<SignedIn> {
        if let Some(code) = &form.code {
            self.verify_code(session, code)?;
        } else if let Some(code) = &form.recovery_code {
            self.redeem_recovery_code(session, code)?;
        } else {
            return Err(Error::BadRequest("give `code` or `recovery_code`".into()));
        }
        let token = self.promote(session, Stage::Full)?;
        self.record(
            &session.tenant,
            &session.user_id,
            "auth.sign_in",
            &format!("users/{}", session.user_id),
            &[],
            json!({}),
        )?;
        tracing::info!(user = %session.user_id, "signed in");
        Ok(SignedIn {
            body: json!({ "stage": Stage::Full.as_str() }),
            token,
        })
    }

    /// Checks a TOTP code of the caller's active factor: replays refused,
    /// failures throttled then locked, the factor's state stored with a
    /// conditional write (two requests with one code cannot both pass).
    fn verify_code(&self, session: &Session, code: &str) -> Result<()> {
        let row = self
            .db
            .query_one(
                "SELECT totp_secret, totp_state FROM users WHERE id = $1",
                &[session.user_id.clone().into()],
            )?
            .ok_or(Error::NotFound)?;
        let secret_token = row
            .opt_text("totp_secret")
            .ok_or_else(|| Error::BadRequest("no second factor enrolled".into()))?;
        let state_text = row.text("totp_state")?;
        let mut state: FactorState = serde_json::from_str(&state_text).map_err(internal)?;
        let totp = Totp::new(self.user_secret(session, "totp_secret", &secret_token)?);
        let now = u64::try_from(self.clock.now()).unwrap_or(0);
        let verdict = totp.verify(code.trim(), now, &mut state);
        let new_state = serde_json::to_string(&state).map_err(internal)?;
        let n = self.db.exec(
            "UPDATE users SET totp_state = $1 WHERE id = $2 AND totp_state = $3",
            &[
                new_state.into(),
                session.user_id.clone().into(),
                state_text.into(),
            ],
        )?;
        if n != 1 {
            return Err(Error::Conflict("concurrent sign-in; try again".into()));
        }
        self.factor_verdict(session, verdict, now, "auth.totp")
            .map(|_| ())
    }

    /// Redeems one of the caller's recovery codes (each works once),
    /// throttled like codes: a wrong one counts in the factor's state, toward
    /// the same back-off and lock; both are written in one conditional update.
    fn redeem_recovery_code(&self, session: &Session, code: &str) -> Result<()> {
        let row = self
            .db
            .query_one(
                "SELECT recovery, totp_state FROM users WHERE id = $1",
                &[session.user_id.clone().into()],
            )?
            .ok_or(Error::NotFound)?;
        let codes_text = row
            .opt_text("recovery")
            .ok_or_else(|| Error::Unauthorized("invalid code".into()))?;
        let state_text = row.text("totp_state")?;
        let mut codes: RecoveryCodes = serde_json::from_str(&codes_text).map_err(internal)?;
        let mut state: FactorState = serde_json::from_str(&state_text).map_err(internal)?;
        let now = u64::try_from(self.clock.now()).unwrap_or(0);
        let verdict = codes.redeem(code.trim(), now, &mut state, &Throttle::default());
        let n = self.db.exec(
            "UPDATE users SET recovery = $1, totp_state = $2 WHERE id = $3 AND recovery = $4 AND totp_state = $5",
            &[
                serde_json::to_string(&codes).map_err(internal)?.into(),
                serde_json::to_string(&state).map_err(internal)?.into(),
                session.user_id.clone().into(),
                codes_text.into(),
                state_text.into(),
            ],
        )?;
        if n != 1 {
            return Err(Error::Conflict("concurrent sign-in; try again".into()));
        }
        let remaining = self.factor_verdict(session, verdict, now, "auth.recovery")?;
        self.record(
            &session.tenant,
            &session.user_id,
            "auth.recovery_code_used",
            "users",
            &[],
            json!({ "remaining": remaining }),
        )?;
        Ok(())
    }

    /// How a factor's refusal is answered (codes and recovery codes alike).
    fn factor_verdict<T>(
        &self,
        session: &Session,
        verdict: palisade_otp::Result<T>,
        now: u64,
        action: &str,
    ) -> Result<T> {
        match verdict {
            Ok(value) => Ok(value),
            Err(palisade_otp::Error::Replayed) => {
                self.record_denied(
                    &session.tenant,
                    &session.user_id,
                    "auth.totp_replayed",
                    "users",
                );
                tracing::warn!(user = %session.user_id, "replayed TOTP code refused");
                Err(Error::Unauthorized(
                    "code already used; wait for the next one".into(),
                ))
            }
            Err(palisade_otp::Error::Throttled { until }) => {
                Err(Error::Throttled(until.saturating_sub(now).max(1)))
            }
            Err(palisade_otp::Error::Locked) => Err(Error::Unauthorized(
                "second factor locked; ask an administrator".into(),
            )),
            Err(
                palisade_otp::Error::StepUpRequired | palisade_otp::Error::StepUpExpired { .. },
            ) => {
                self.record_denied(&session.tenant, &session.user_id, "auth.step_up", "users");
                Err(Error::Forbidden(
                    "replacing the second factor needs your password, a current code or a recovery code"
                        .into(),
                ))
            }
            Err(_) => {
                self.record_denied(&session.tenant, &session.user_id, action, "users");
                Err(Error::Unauthorized("invalid code".into()))
            }
        }
    }

    /// Step-up: proof, given with the request, that the person at the
    /// keyboard holds the account (not only its session): the password, a
    /// current code or a recovery code. A stolen session has none of them.
    pub(crate) fn step_up(&self, session: &Session, proof: &StepUp) -> Result<()> {
        if let Some(password) = &proof.password {
            let stored = self
                .db
                .query_one(
                    "SELECT password_hash FROM users WHERE id = $1",
                    &[session.user_id.clone().into()],
                )?
                .ok_or(Error::NotFound)?
                .text("password_hash")?;
            let password =
                Password::new(password).map_err(|_| Error::Unauthorized("proof refused".into()))?;
            let verdict = PasswordHasher::shared_default()
                .verify(&password, &stored)
                .map_err(internal)?;
            if verdict.is_valid() {
                return Ok(());
            }
            self.record_denied(&session.tenant, &session.user_id, "auth.step_up", "users");
            return Err(Error::Unauthorized("proof refused".into()));
        }
        if let Some(code) = &proof.code {
            return self.verify_code(session, code);
        }
        if let Some(code) = &proof.recovery_code {
            return self.redeem_recovery_code(session, code);
        }
        self.record_denied(&session.tenant, &session.user_id, "auth.step_up", "users");
        Err(Error::Forbidden(
            "replacing the second factor needs your password, a current code or a recovery code"
                .into(),
        ))
    }

    /// Changes the signed-in employee's own password: the current one is
    /// checked through the login limiter (a stolen session cannot guess it
    /// faster than sign-in could), the new one against the password policy;
    /// every other session of the account ends.
    pub(crate) fn change_password(
        &self,
        session: &Session,
        form: &PasswordChange,
        address: IpAddr,
    ) -> Result<u64> {
        if session.viewing_as.is_some() {
            return Err(Error::Forbidden(
                "read-only while viewing as an employee".into(),
            ));
        }
        let refused = || Error::Unauthorized("the current password is not right".into());
        let row = self
            .db
            .query_one(
                "SELECT id, email, name, password_hash FROM users WHERE id = $1",
                &[session.user_id.clone().into()],
            )?
            .ok_or(Error::NotFound)?;
        let (email, name) = self.employee_identity(&session.tenant, &row)?;
        let current = Password::new(&form.current).map_err(|_| refused())?;
        let now = u64::try_from(self.clock.now()).unwrap_or(0);
        let stored = row.text("password_hash")?;
        let verdict = self
            .login_limiter
            .verify(
                PasswordHasher::shared_default(),
                &format!("{}/password-change/{}", session.tenant, session.user_id),
                address,
                &current,
                Some(&stored),
                now,
            )
            .map_err(internal)?;
        match verdict {
            LoginVerdict::Accepted(_) => {}
            LoginVerdict::Rejected => {
                self.record_denied(
                    &session.tenant,
                    &session.user_id,
                    "auth.password_change",
                    "users",
                );
                return Err(refused());
            }
            LoginVerdict::Throttled { retry_after } => {
                return Err(Error::Throttled(retry_after.max(1)));
            }
            LoginVerdict::Locked => return Err(Error::Throttled(15 * 60)),
        }
        let new = Password::new(&form.new).map_err(|e| Error::BadRequest(e.to_string()))?;
        self.check_password_policy(&new, &email, &name)?;
        let hash = PasswordHasher::shared_default()
            .hash(&new)
            .map_err(internal)?;
        self.db.exec(
            "UPDATE users SET password_hash = $1 WHERE id = $2",
            &[hash.into(), session.user_id.clone().into()],
        )?;
        let ended = self.db.exec(
            "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2",
            &[
                session.user_id.clone().into(),
                session.token_hash.clone().into(),
            ],
        )?;
        self.record(
            &session.tenant,
            &session.user_id,
            "auth.password_change",
            &format!("users/{}", session.user_id),
            &[],
            json!({ "sessions_ended": ended }),
        )?;
        Ok(ended)
    }

    /// Starts TOTP enrollment: a new secret (kept encrypted until
    /// confirmed) and its QR code. Replacing an active factor needs a
    /// step-up proof first.
    pub(crate) fn enroll_start(&self, session: &Session, proof: &StepUp) -> Result<Value> {
        let row = self
            .db
            .query_one(
                "SELECT id, email, name, totp_secret FROM users WHERE id = $1",
                &[session.user_id.clone().into()],
            )?
            .ok_or(Error::NotFound)?;
        if row.opt_text("totp_secret").is_some() {
            // Replacing an active factor: a proof now (or a recent step-up),
            // checked again by palisade-otp when the new factor is confirmed.
            let fresh = session
                .stepped_up
                .is_some_and(|at| self.clock.now() - at <= STEP_UP_WINDOW);
            if !fresh
                || proof.password.is_some()
                || proof.code.is_some()
                || proof.recovery_code.is_some()
            {
                self.step_up(session, proof)?;
                self.mark_stepped_up(session)?;
            }
        }
        let (email, _) = self.employee_identity(&session.tenant, &row)?;
        let secret = Secret::generate().map_err(internal)?;
        let context =
            Self::field_context(&session.tenant, "users", "totp_pending", &session.user_id);
        let sealed = self
            .keyring
            .encrypt(secret.expose_bytes(), &context)
            .map_err(internal)?
            .to_token();
        self.db.exec(
            "UPDATE users SET totp_pending = $1 WHERE id = $2",
            &[sealed.into(), session.user_id.clone().into()],
        )?;
        let totp = Totp::new(secret);
        let uri = KeyUri::totp(&totp, &self.config.issuer, &email).map_err(internal)?;
        let svg = uri.qr_svg().map_err(internal)?;
        let secret_b32 = totp.secret().to_base32_exposed();
        Ok(json!({
            "qr_svg": svg.as_str(),
            "secret": secret_b32.as_str(),
            "uri": uri.to_uri_exposed().as_str(),
        }))
    }

    /// Confirms enrollment with a first code; returns the recovery codes
    /// (shown once) and a fully signed-in session.
    pub(crate) fn enroll_confirm(
        &self,
        session: &Session,
        form: &SecondFactor,
    ) -> Result<SignedIn> {
        let code = form
            .code
            .as_ref()
            .ok_or_else(|| Error::BadRequest("give `code`".into()))?;
        let pending = self
            .db
            .query_one(
                "SELECT totp_pending FROM users WHERE id = $1",
                &[session.user_id.clone().into()],
            )?
            .and_then(|r| r.opt_text("totp_pending"))
            .ok_or_else(|| Error::BadRequest("start enrollment first".into()))?;
        let secret = self.user_secret(session, "totp_pending", &pending)?;
        let row = self
            .db
            .query_one(
                "SELECT id, email, name, totp_secret, totp_state FROM users WHERE id = $1",
                &[session.user_id.clone().into()],
            )?
            .ok_or(Error::NotFound)?;
        let (email, _) = self.employee_identity(&session.tenant, &row)?;
        let enrollment = Enrollment::with_totp(Totp::new(secret), &self.config.issuer, &email)
            .map_err(internal)?;
        let mut state = FactorState::new();
        let now = u64::try_from(self.clock.now()).unwrap_or(0);
        let confirmed = match row.opt_text("totp_secret") {
            None => enrollment.confirm_first(code.trim(), now, &mut state),
            Some(current_secret) => {
                // A replacement: palisade-otp asks for the session's recent
                // step-up, and counts a refusal in the current factor's state.
                let current =
                    Totp::new(self.user_secret(session, "totp_secret", &current_secret)?);
                let state_text = row.text("totp_state")?;
                let mut current_state: FactorState =
                    serde_json::from_str(&state_text).map_err(internal)?;
                let proof = session
                    .stepped_up
                    .and_then(|at| u64::try_from(at).ok())
                    .map(|verified_at| Proof::RecentPasswordCheck { verified_at });
                let confirmed = enrollment.confirm_replacement(
                    code.trim(),
                    now,
                    &mut state,
                    OtpStepUp::new(&current, &mut current_state, proof)
                        .with_window(u64::try_from(STEP_UP_WINDOW).unwrap_or(0)),
                );
                let n = self.db.exec(
                    "UPDATE users SET totp_state = $1 WHERE id = $2 AND totp_state = $3",
                    &[
                        serde_json::to_string(&current_state)
                            .map_err(internal)?
                            .into(),
                        session.user_id.clone().into(),
                        state_text.into(),
                    ],
                )?;
                if n != 1 {
                    return Err(Error::Conflict("concurrent change; try again".into()));
                }
                confirmed
            }
        };
        let totp = self.factor_verdict(session, confirmed, now, "auth.totp_enroll")?;
        let context =
            Self::field_context(&session.tenant, "users", "totp_secret", &session.user_id);
        let sealed = self
            .keyring
            .encrypt(totp.secret().expose_bytes(), &context)
            .map_err(internal)?
            .to_token();
        let (stored, codes) =
            RecoveryCodes::generate(palisade_otp::DEFAULT_RECOVERY_CODES).map_err(internal)?;
        self.db.exec(
            "UPDATE users SET totp_secret = $1, totp_pending = NULL, totp_state = $2, recovery = $3 WHERE id = $4",
            &[
                sealed.into(),
                serde_json::to_string(&state).map_err(internal)?.into(),
                serde_json::to_string(&stored).map_err(internal)?.into(),
                session.user_id.clone().into(),
            ],
        )?;
        self.record(
            &session.tenant,
            &session.user_id,
            "auth.totp_enrolled",
            &format!("users/{}", session.user_id),
            &[],
            json!({}),
        )?;
        let token = self.promote(session, Stage::Full)?;
        let shown: Vec<&str> = codes.iter().map(|c| c.expose()).collect();
        Ok(SignedIn {
            body: json!({ "stage": Stage::Full.as_str(), "recovery_codes": shown }),
            token,
        })
    }

    /// Who the caller is and what it may do.
    pub(crate) fn me(&self, session: &Session) -> Result<Me> {
        // "Log in as": the employee's identity and rights, and who views.
        let user = session.viewing_as.as_ref().unwrap_or(&session.user_id);
        let row = self
            .db
            .query_one(
                "SELECT id, email, name, role FROM users WHERE id = $1 AND tenant = $2",
                &[user.clone().into(), session.tenant.clone().into()],
            )?
            .ok_or(Error::NotFound)?;
        let identity = self.employee_identity(&session.tenant, &row)?;
        let permissions: Vec<String> = self
            .tenant_policy(&session.tenant)?
            .permissions(user, Some(&session.tenant))
            .map_err(internal)?
            .into_iter()
            .filter(|p| matches!(p.access, palisade_rbac::Access::Allowed))
            .map(|p| format!("{}:{}", p.resource_type, p.action))
            .collect();
        Ok(Me {
            viewed_by: session.viewing_as.as_ref().map(|_| session.user_id.clone()),
            user: user.clone(),
            tenant: session.tenant.clone(),
            email: identity.0,
            name: identity.1,
            role: row.text("role")?,
            stage: session.stage.as_str(),
            permissions,
        })
    }
}

impl Backoffice {
    /// The blind index of `tenant`'s employee e-mails: sign-in finds an
    /// account by it without the address in clear (256 bits: one account
    /// per address and tenant, no collisions to resolve).
    pub(crate) fn email_index(&self, tenant: &str, email: &str) -> Result<String> {
        Ok(self
            .keyring
            .blind_index(
                &format!("{tenant}/users.email"),
                256,
                Normalizer::CaseInsensitive,
            )
            .map_err(internal)?
            .compute(email)
            .to_hex())
    }

    /// Stores `account` in `tenant`, its e-mail and name encrypted; an
    /// address already used in this tenant is a conflict (other tenants'
    /// accounts are neither seen nor revealed).
    pub(crate) fn store_account(
        &self,
        tx: &mut Tx<'_, '_>,
        tenant: &str,
        account: &NewAccount,
        now: i64,
    ) -> Result<()> {
        let state = serde_json::to_string(&FactorState::new()).map_err(internal)?;
        let id = &account.id;
        let n = tx.exec(
            "INSERT INTO users (id, tenant, email, email_index, name, password_hash, role, totp_state, created) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant, email_index) DO NOTHING",
            &[
                id.clone().into(),
                tenant.into(),
                self.seal_text(tenant, "users", "email", id, &account.email)?.into(),
                self.email_index(tenant, &account.email)?.into(),
                self.seal_text(tenant, "users", "name", id, &account.name)?.into(),
                account.hash.clone().into(),
                account.role.clone().into(),
                state.into(),
                now.into(),
            ],
        )?;
        if n == 0 {
            return Err(Error::Conflict(
                "that e-mail address already has an account in this tenant".into(),
            ));
        }
        Ok(())
    }

    /// An employee's e-mail and name, decrypted.
    pub(crate) fn employee_identity(
        &self,
        tenant: &str,
        row: &crate::db::Row,
    ) -> Result<(String, String)> {
        let id = row.text("id")?;
        Ok((
            self.open_text(tenant, "users", "email", &id, &row.text("email")?)?,
            self.open_text(tenant, "users", "name", &id, &row.text("name")?)?,
        ))
    }
}

/// An answer that sets (or clears) the session cookie.
fn with_cookie(state: &AppState, body: Value, token: Option<&str>) -> Response {
    let cookie = match token {
        Some(token) => state.cookie.set(token),
        None => state.cookie.clear(),
    };
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, v);
    }
    (headers, Json(body)).into_response()
}

/// `POST /api/signup`
pub(crate) async fn sign_up_route(
    State(app): State<Arc<Backoffice>>,
    ApiJson(form): ApiJson<SignUp>,
) -> Result<(StatusCode, Json<Value>)> {
    let body = app.blocking(move |app| app.sign_up(&form)).await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// `POST /api/login`: the password step.
pub(crate) async fn sign_in_route(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    ApiJson(form): ApiJson<SignIn>,
) -> Result<Response> {
    let signed = state
        .app
        .blocking(move |app| app.sign_in(&form, address))
        .await?;
    Ok(with_cookie(&state, signed.body, Some(&signed.token)))
}

/// `POST /api/login/second-factor`: a TOTP or recovery code.
pub(crate) async fn second_factor_route(
    State(state): State<AppState>,
    Caller(session): Caller,
    ApiJson(form): ApiJson<SecondFactor>,
) -> Result<Response> {
    if session.stage != Stage::Totp {
        return Err(Error::BadRequest("no code is due in this session".into()));
    }
    let signed = state
        .app
        .blocking(move |app| app.second_factor(&session, &form))
        .await?;
    Ok(with_cookie(&state, signed.body, Some(&signed.token)))
}

/// `POST /api/totp/enroll`: a new secret; replacing an active factor needs
/// a step-up proof in the request.
pub(crate) async fn enroll_route(
    State(app): State<Arc<Backoffice>>,
    Caller(session): Caller,
    ApiJson(proof): ApiJson<StepUp>,
) -> Result<Json<Value>> {
    if session.stage == Stage::Totp {
        return Err(Error::Unauthorized(
            "finish signing in with your second factor".into(),
        ));
    }
    let body = app
        .blocking(move |app| app.enroll_start(&session, &proof))
        .await?;
    Ok(Json(body))
}

/// `POST /api/totp/confirm`: the first code of the new secret.
pub(crate) async fn confirm_route(
    State(state): State<AppState>,
    Caller(session): Caller,
    ApiJson(form): ApiJson<SecondFactor>,
) -> Result<Response> {
    if session.stage == Stage::Totp {
        return Err(Error::Unauthorized(
            "finish signing in with your second factor".into(),
        ));
    }
    let signed = state
        .app
        .blocking(move |app| app.enroll_confirm(&session, &form))
        .await?;
    Ok(with_cookie(&state, signed.body, Some(&signed.token)))
}

/// `POST /api/step-up`: the password or a code again; sensitive actions
/// (rights changes, export) are allowed for a few minutes after.
pub(crate) async fn step_up_route(
    State(app): State<Arc<Backoffice>>,
    Caller(session): Caller,
    ApiJson(proof): ApiJson<StepUp>,
) -> Result<Json<Value>> {
    if session.stage != Stage::Full {
        return Err(Error::Unauthorized("sign in first".into()));
    }
    app.blocking(move |app| {
        app.step_up(&session, &proof)?;
        app.mark_stepped_up(&session)?;
        app.record(
            &session.tenant,
            &session.user_id,
            "auth.step_up",
            &format!("users/{}", session.user_id),
            &[],
            json!({}),
        )?;
        Ok(())
    })
    .await?;
    Ok(Json(json!({ "stepped_up": true })))
}

/// `POST /api/logout`
pub(crate) async fn sign_out_route(
    State(state): State<AppState>,
    Caller(session): Caller,
) -> Result<Response> {
    state
        .app
        .blocking(move |app| app.end_session(&session))
        .await?;
    Ok(with_cookie(&state, json!({ "signed_out": true }), None))
}

/// `GET /api/me`: who the caller is, at any stage of sign-in.
pub(crate) async fn me_route(
    State(app): State<Arc<Backoffice>>,
    Caller(session): Caller,
) -> Result<Json<Me>> {
    Ok(Json(app.blocking(move |app| app.me(&session)).await?))
}

/// `POST /api/me/password`: the signed-in employee changes its password.
pub(crate) async fn change_password_route(
    State(app): State<Arc<Backoffice>>,
    ClientAddr(address): ClientAddr,
    Caller(session): Caller,
    ApiJson(form): ApiJson<PasswordChange>,
) -> Result<Json<Value>> {
    if session.stage != Stage::Full {
        return Err(Error::Unauthorized("finish signing in first".into()));
    }
    let ended = app
        .blocking(move |app| app.change_password(&session, &form, address))
        .await?;
    Ok(Json(
        json!({ "done": "password changed", "sessions_ended": ended }),
    ))
}

/// `POST /api/view-as/end`: back to the administrator's own view.
pub(crate) async fn end_view_as_route(
    State(app): State<Arc<Backoffice>>,
    Caller(session): Caller,
) -> Result<Json<Value>> {
    let ended = app
        .blocking(move |app| {
            let viewed = app.end_view_as(&session)?;
            if let Some(employee) = &viewed {
                app.record(
                    &session.tenant,
                    &session.user_id,
                    "account.view_as_end",
                    &format!("Account:{employee}"),
                    &[],
                    json!({}),
                )?;
            }
            Ok(viewed)
        })
        .await?;
    Ok(Json(json!({ "viewing_as": null, "ended": ended })))
}
