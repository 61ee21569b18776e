//! Sign-up, sign-in (password, then TOTP or a recovery code), enrollment of
//! the second factor, and employee accounts (create, block, restrict).

use palisade_otp::{FactorState, KeyUri, RecoveryCodes, Secret, Throttle, Totp};
use palisade_password::{
    Context as PasswordContext, Password, PasswordHasher, Policy as PasswordPolicy,
};
use palisade_rbac::Visibility;
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::app::{Auth, Backoffice, OWNER_ROLE, ROLES, Stage, random_id, token_hash};
use crate::db::Val;
use crate::error::{Error, Result, internal};

/// A new tenant and its owner.
#[derive(Deserialize)]
pub(crate) struct SignUp {
    pub(crate) tenant: String,
    pub(crate) company: String,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) password: Zeroizing<String>,
}

#[derive(Deserialize)]
pub(crate) struct SignIn {
    pub(crate) email: String,
    pub(crate) password: Zeroizing<String>,
}

#[derive(Deserialize)]
pub(crate) struct SecondFactor {
    pub(crate) code: Option<Zeroizing<String>>,
    pub(crate) recovery_code: Option<Zeroizing<String>>,
}

#[derive(Deserialize)]
pub(crate) struct NewEmployee {
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) password: Zeroizing<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct Restrictions {
    #[serde(default)]
    pub(crate) grant: Vec<String>,
    #[serde(default)]
    pub(crate) deny: Vec<String>,
    #[serde(default)]
    pub(crate) fields: std::collections::BTreeMap<String, String>,
}

/// What a successful step of sign-in returns: the JSON body and the new token.
pub(crate) struct SignedIn {
    pub(crate) body: Value,
    pub(crate) token: String,
}

fn password_throttle() -> Throttle {
    // Five free failures, then 1 s, 2 s, 4 s, … up to 15 minutes.
    Throttle::new(5, 1, 15 * 60).with_lock_after(None)
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

    /// Creates an account row (password hashed with Argon2id).
    pub(crate) fn insert_user(
        &self,
        tenant: &str,
        email: &str,
        name: &str,
        role: &str,
        password: &str,
    ) -> Result<String> {
        let email = normalize_email(email);
        if !valid_email(&email) {
            return Err(Error::BadRequest("invalid e-mail address".into()));
        }
        if name.trim().is_empty() || name.len() > 200 {
            return Err(Error::BadRequest(
                "a name of 1 to 200 bytes is required".into(),
            ));
        }
        let password = Password::new(password).map_err(|e| Error::BadRequest(e.to_string()))?;
        self.check_password_policy(&password, &email, name)?;
        if self.exists(
            "SELECT id FROM users WHERE email = $1",
            &[email.clone().into()],
        )? {
            return Err(Error::Conflict(
                "that e-mail address is already registered".into(),
            ));
        }
        let hash = PasswordHasher::shared_default()
            .hash(&password)
            .map_err(internal)?;
        let id = random_id("u")?;
        let state = serde_json::to_string(&FactorState::new()).map_err(internal)?;
        self.db.exec(
            "INSERT INTO users (id, tenant, email, name, password_hash, role, totp_state, \
             login_failures, login_blocked_until, created) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, $8)",
            &[
                id.clone().into(),
                tenant.into(),
                email.into(),
                name.trim().into(),
                hash.into(),
                role.into(),
                state.into(),
                self.clock.now().into(),
            ],
        )?;
        Ok(id)
    }

    /// Sign-up: a new tenant with its owner (role Administrator).
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
        if form.company.trim().is_empty() || form.company.len() > 200 {
            return Err(Error::BadRequest(
                "a company name of 1 to 200 bytes is required".into(),
            ));
        }
        if self.exists("SELECT id FROM tenants WHERE id = $1", &[tenant.into()])? {
            return Err(Error::Conflict(format!("tenant `{tenant}` already exists")));
        }
        let owner =
            self.insert_user(tenant, &form.email, &form.name, OWNER_ROLE, &form.password)?;
        let policy = Self::new_tenant_policy(tenant, &owner)?;
        self.db.exec(
            "INSERT INTO tenants (id, name, policy, policy_version, created) VALUES ($1, $2, $3, 1, $4)",
            &[tenant.into(), form.company.trim().into(), policy.into(), self.clock.now().into()],
        )?;
        self.record(
            tenant,
            &owner,
            "tenant.create",
            &format!("tenants/{tenant}"),
            &[],
            json!({}),
        )?;
        tracing::info!(tenant, user = %owner, "tenant created");
        Ok(
            json!({ "tenant": tenant, "user": owner, "next": "sign in, then enroll your authenticator" }),
        )
    }

    /// Sign-in, first step: the password. Unknown users cost one dummy
    /// verification; repeated failures are throttled per account.
    pub(crate) fn sign_in(&self, form: &SignIn) -> Result<SignedIn> {
        let email = normalize_email(&form.email);
        let now = self.clock.now();
        let password = Password::new(&form.password)
            .map_err(|_| Error::Unauthorized("invalid e-mail or password".into()))?;
        let hasher = PasswordHasher::shared_default();
        let row = self.db.query_one(
            "SELECT id, tenant, password_hash, totp_secret, login_failures, login_blocked_until \
             FROM users WHERE email = $1",
            &[email.clone().into()],
        )?;
        let Some(row) = row else {
            let key = token_hash(&email);
            self.check_unknown_throttle(&key, now)?;
            let _ = hasher.verify_dummy(&password).map_err(internal)?;
            self.note_unknown_failure(&key, now);
            self.record_denied("_system", "anonymous", "auth.sign_in", "users/unknown");
            tracing::info!("sign-in refused");
            return Err(Error::Unauthorized("invalid e-mail or password".into()));
        };
        let (id, tenant, stored) = (row.text(0)?, row.text(1)?, row.text(2)?);
        let failures = u32::try_from(row.int(4)?).unwrap_or(u32::MAX);
        let blocked_until = row.int(5)?;
        if blocked_until > now {
            return Err(Error::Throttled(
                u64::try_from(blocked_until - now).unwrap_or(1),
            ));
        }
        let verified = hasher
            .verify_and_upgrade(&password, &stored)
            .map_err(internal)?;
        if !verified.verdict.is_valid() {
            let failures = failures.saturating_add(1);
            let delay = password_throttle().delay_after(failures).unwrap_or(0);
            self.db.exec(
                "UPDATE users SET login_failures = $1, login_blocked_until = $2 WHERE id = $3",
                &[
                    i64::from(failures).into(),
                    (now + i64::try_from(delay).unwrap_or(i64::MAX / 2)).into(),
                    id.clone().into(),
                ],
            )?;
            self.record_denied(&tenant, &id, "auth.sign_in", &format!("users/{id}"));
            tracing::info!(user = %id, failures, "sign-in refused");
            return Err(Error::Unauthorized("invalid e-mail or password".into()));
        }
        if let Some(new_hash) = verified.new_hash {
            // Upgrade on login: a legacy or weaker hash is replaced now.
            self.db.exec(
                "UPDATE users SET password_hash = $1 WHERE id = $2",
                &[new_hash.into(), id.clone().into()],
            )?;
            tracing::info!(user = %id, "password hash upgraded");
        }
        self.db.exec(
            "UPDATE users SET login_failures = 0, login_blocked_until = 0 WHERE id = $1",
            &[id.clone().into()],
        )?;
        // A blocked employee does not get even a partial session.
        let version = self
            .db
            .query_one(
                "SELECT policy_version FROM tenants WHERE id = $1",
                &[tenant.clone().into()],
            )?
            .ok_or(Error::NotFound)?
            .int(0)?;
        if self.tenant_policy(&tenant, version)?.policy.is_blocked(&id) {
            self.record_denied(&tenant, &id, "auth.sign_in", &format!("users/{id}"));
            return Err(Error::Unauthorized("invalid e-mail or password".into()));
        }
        let stage = if row.opt_text(3).is_some() {
            Stage::Totp
        } else {
            Stage::Enroll
        };
        let token = self.new_session(&id, &tenant, stage)?;
        tracing::info!(user = %id, stage = stage.as_str(), "password accepted");
        Ok(SignedIn {
            body: json!({ "stage": stage.as_str() }),
            token,
        })
    }

    fn check_unknown_throttle(&self, key: &str, now: i64) -> Result<()> {
        let map = self
            .unknown_failures
            .lock()
            .map_err(|_| internal("throttle poisoned"))?;
        match map.get(key) {
            Some(&(_, until)) if until > now => {
                Err(Error::Throttled(u64::try_from(until - now).unwrap_or(1)))
            }
            _ => Ok(()),
        }
    }

    fn note_unknown_failure(&self, key: &str, now: i64) {
        if let Ok(mut map) = self.unknown_failures.lock() {
            if map.len() > 100_000 {
                map.retain(|_, (_, until)| *until > now);
            }
            let entry = map.entry(key.to_owned()).or_insert((0, 0));
            entry.0 = entry.0.saturating_add(1);
            let delay = password_throttle().delay_after(entry.0).unwrap_or(0);
            entry.1 = now + i64::try_from(delay).unwrap_or(0);
        }
    }

    fn user_secret(&self, auth: &Auth, column: &str, token: &str) -> Result<Secret> {
        let ciphertext = token.parse().map_err(internal)?;
        let context = Self::field_context(&auth.tenant, "users", column, &auth.user_id);
        let bytes = self
            .keyring
            .decrypt(&ciphertext, &context)
            .map_err(internal)?;
        Secret::from_bytes(&bytes).map_err(internal)
    }

    /// Sign-in, second step: a TOTP code (replays refused, failures
    /// throttled) or a single-use recovery code.
    pub(crate) fn second_factor(&self, auth: &Auth, form: &SecondFactor) -> Result<SignedIn> {
        let row = self
            .db
            .query_one(
                "SELECT totp_secret, totp_state, recovery FROM users WHERE id = $1",
                &[auth.user_id.clone().into()],
            )?
            .ok_or(Error::NotFound)?;
        let secret_token = row
            .opt_text(0)
            .ok_or_else(|| Error::BadRequest("no second factor enrolled".into()))?;
        if let Some(code) = &form.code {
            let state_text = row.text(1)?;
            let mut state: FactorState = serde_json::from_str(&state_text).map_err(internal)?;
            let totp = Totp::new(self.user_secret(auth, "totp_secret", &secret_token)?);
            let now = u64::try_from(self.clock.now()).unwrap_or(0);
            let verdict = totp.verify(code.trim(), now, &mut state);
            // Conditional write: two requests with one code cannot both pass.
            let new_state = serde_json::to_string(&state).map_err(internal)?;
            let n = self.db.exec(
                "UPDATE users SET totp_state = $1 WHERE id = $2 AND totp_state = $3",
                &[
                    new_state.into(),
                    auth.user_id.clone().into(),
                    state_text.into(),
                ],
            )?;
            if n != 1 {
                return Err(Error::Conflict("concurrent sign-in; try again".into()));
            }
            match verdict {
                Ok(_) => {}
                Err(palisade_otp::Error::Replayed) => {
                    self.record_denied(&auth.tenant, &auth.user_id, "auth.totp_replayed", "users");
                    tracing::warn!(user = %auth.user_id, "replayed TOTP code refused");
                    return Err(Error::Unauthorized(
                        "code already used; wait for the next one".into(),
                    ));
                }
                Err(palisade_otp::Error::Throttled { until }) => {
                    return Err(Error::Throttled(until.saturating_sub(now).max(1)));
                }
                Err(palisade_otp::Error::Locked) => {
                    return Err(Error::Unauthorized(
                        "second factor locked; ask an administrator".into(),
                    ));
                }
                Err(_) => {
                    self.record_denied(&auth.tenant, &auth.user_id, "auth.totp", "users");
                    return Err(Error::Unauthorized("invalid code".into()));
                }
            }
        } else if let Some(code) = &form.recovery_code {
            let text = row
                .opt_text(2)
                .ok_or_else(|| Error::Unauthorized("invalid code".into()))?;
            let mut codes: RecoveryCodes = serde_json::from_str(&text).map_err(internal)?;
            let remaining = codes.redeem(code).map_err(|_| {
                self.record_denied(&auth.tenant, &auth.user_id, "auth.recovery", "users");
                Error::Unauthorized("invalid code".into())
            })?;
            let stored = serde_json::to_string(&codes).map_err(internal)?;
            let n = self.db.exec(
                "UPDATE users SET recovery = $1 WHERE id = $2 AND recovery = $3",
                &[stored.into(), auth.user_id.clone().into(), text.into()],
            )?;
            if n != 1 {
                return Err(Error::Conflict("concurrent sign-in; try again".into()));
            }
            self.record(
                &auth.tenant,
                &auth.user_id,
                "auth.recovery_code_used",
                "users",
                &[],
                json!({ "remaining": remaining }),
            )?;
        } else {
            return Err(Error::BadRequest("give `code` or `recovery_code`".into()));
        }
        let token = self.promote(auth, Stage::Full)?;
        self.record(
            &auth.tenant,
            &auth.user_id,
            "auth.sign_in",
            &format!("users/{}", auth.user_id),
            &[],
            json!({}),
        )?;
        tracing::info!(user = %auth.user_id, "signed in");
        Ok(SignedIn {
            body: json!({ "stage": Stage::Full.as_str() }),
            token,
        })
    }

    /// Starts TOTP enrollment: a new secret (kept encrypted until
    /// confirmed) and its QR code.
    pub(crate) fn enroll_start(&self, auth: &Auth) -> Result<Value> {
        let email = self
            .db
            .query_one(
                "SELECT email FROM users WHERE id = $1",
                &[auth.user_id.clone().into()],
            )?
            .ok_or(Error::NotFound)?
            .text(0)?;
        let secret = Secret::generate().map_err(internal)?;
        let context = Self::field_context(&auth.tenant, "users", "totp_pending", &auth.user_id);
        let sealed = self
            .keyring
            .encrypt(secret.expose_bytes(), &context)
            .map_err(internal)?
            .to_token();
        self.db.exec(
            "UPDATE users SET totp_pending = $1 WHERE id = $2",
            &[sealed.into(), auth.user_id.clone().into()],
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
    pub(crate) fn enroll_confirm(&self, auth: &Auth, form: &SecondFactor) -> Result<SignedIn> {
        let code = form
            .code
            .as_ref()
            .ok_or_else(|| Error::BadRequest("give `code`".into()))?;
        let pending = self
            .db
            .query_one(
                "SELECT totp_pending FROM users WHERE id = $1",
                &[auth.user_id.clone().into()],
            )?
            .and_then(|r| r.opt_text(0))
            .ok_or_else(|| Error::BadRequest("start enrollment first".into()))?;
        let secret = self.user_secret(auth, "totp_pending", &pending)?;
        let totp = Totp::new(secret);
        let mut state = FactorState::new();
        let now = u64::try_from(self.clock.now()).unwrap_or(0);
        totp.verify(code.trim(), now, &mut state)
            .map_err(|_| Error::Unauthorized("invalid code".into()))?;
        let context = Self::field_context(&auth.tenant, "users", "totp_secret", &auth.user_id);
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
                auth.user_id.clone().into(),
            ],
        )?;
        self.record(
            &auth.tenant,
            &auth.user_id,
            "auth.totp_enrolled",
            &format!("users/{}", auth.user_id),
            &[],
            json!({}),
        )?;
        let token = self.promote(auth, Stage::Full)?;
        let shown: Vec<&str> = codes.iter().map(|c| c.expose()).collect();
        Ok(SignedIn {
            body: json!({ "stage": Stage::Full.as_str(), "recovery_codes": shown }),
            token,
        })
    }

    /// Ends the caller's session.
    pub(crate) fn sign_out(&self, auth: &Auth) -> Result<Value> {
        self.db.exec(
            "DELETE FROM sessions WHERE token_hash = $1",
            &[auth.token_hash.clone().into()],
        )?;
        Ok(json!({ "signed_out": true }))
    }

    /// Who the caller is and what it may do.
    pub(crate) fn me(&self, auth: &Auth) -> Result<Value> {
        let row = self
            .db
            .query_one(
                "SELECT email, name, role FROM users WHERE id = $1",
                &[auth.user_id.clone().into()],
            )?
            .ok_or(Error::NotFound)?;
        let permissions: Vec<String> = auth
            .policy
            .policy
            .permissions(&auth.user_id, Some(&auth.tenant))
            .map_err(internal)?
            .into_iter()
            .filter(|p| matches!(p.access, palisade_rbac::Access::Allowed))
            .map(|p| format!("{}:{}", p.resource_type, p.action))
            .collect();
        Ok(json!({
            "user": auth.user_id,
            "tenant": auth.tenant,
            "email": row.text(0)?,
            "name": row.text(1)?,
            "role": row.text(2)?,
            "stage": auth.stage.as_str(),
            "permissions": permissions,
        }))
    }

    // ---- employees ---------------------------------------------------------------

    /// Lists the tenant's employees.
    pub(crate) fn list_users(&self, auth: &Auth) -> Result<Value> {
        self.authorize(auth, "Account", "read", "*")?;
        let rows = self.db.query(
            "SELECT id, email, name, role, totp_secret FROM users WHERE tenant = $1 ORDER BY email",
            &[auth.tenant.clone().into()],
        )?;
        let mut users = Vec::new();
        for r in rows {
            let id = r.text(0)?;
            users.push(json!({
                "id": id,
                "email": r.text(1)?,
                "name": r.text(2)?,
                "role": r.text(3)?,
                "totp": r.opt_text(4).is_some(),
                "blocked": auth.policy.policy.is_blocked(&id),
            }));
        }
        Ok(json!({ "users": users }))
    }

    /// Adds an employee with one of the seed roles below Administrator.
    pub(crate) fn create_user(&self, auth: &Auth, form: &NewEmployee) -> Result<Value> {
        self.authorize(auth, "Account", "create", "*")?;
        if !ROLES.contains(&form.role.as_str()) {
            return Err(Error::BadRequest(format!("unknown role `{}`", form.role)));
        }
        let id = self.insert_user(
            &auth.tenant,
            &form.email,
            &form.name,
            &form.role,
            &form.password,
        )?;
        let tenant = auth.tenant.clone();
        let role = form.role.clone();
        self.change_policy(&auth.tenant, |doc| {
            doc.unchecked().add_user(&id)?;
            doc.unchecked()
                .set_roles(&id, Some(&tenant), &[role.as_str()])
        })?;
        self.record(
            &auth.tenant,
            &auth.user_id,
            "account.create",
            &format!("users/{id}"),
            &[],
            json!({ "role": form.role }),
        )?;
        Ok(json!({ "id": id }))
    }

    /// Dismisses an employee: blocked in the policy (owners cannot be), and
    /// every session ends at once.
    pub(crate) fn block_user(&self, auth: &Auth, id: &str) -> Result<Value> {
        self.authorize(auth, "Account", "block", id)?;
        self.require_employee(auth, id)?;
        if let Err(e) = self.change_policy(&auth.tenant, |doc| doc.unchecked().block(id)) {
            self.record_denied(
                &auth.tenant,
                &auth.user_id,
                "account.block",
                &format!("users/{id}"),
            );
            return Err(e);
        }
        let ended = self.end_sessions(id)?;
        self.record(
            &auth.tenant,
            &auth.user_id,
            "account.block",
            &format!("users/{id}"),
            &[],
            json!({ "sessions_ended": ended }),
        )?;
        tracing::info!(user = %id, ended, "employee blocked");
        Ok(json!({ "blocked": id, "sessions_ended": ended }))
    }

    /// Lifts a block.
    pub(crate) fn unblock_user(&self, auth: &Auth, id: &str) -> Result<Value> {
        self.authorize(auth, "Account", "block", id)?;
        self.require_employee(auth, id)?;
        self.change_policy(&auth.tenant, |doc| doc.unchecked().unblock(id))?;
        self.record(
            &auth.tenant,
            &auth.user_id,
            "account.unblock",
            &format!("users/{id}"),
            &[],
            json!({}),
        )?;
        Ok(json!({ "unblocked": id }))
    }

    /// Per-user restrictions: extra grants, denies and field settings.
    pub(crate) fn restrict_user(
        &self,
        auth: &Auth,
        id: &str,
        form: &Restrictions,
    ) -> Result<Value> {
        self.authorize(auth, "Account", "set_rights", id)?;
        self.require_employee(auth, id)?;
        let mut fields = Vec::new();
        for (field, vis) in &form.fields {
            let v = match vis.as_str() {
                "visible" => Visibility::Visible,
                "masked" => Visibility::Masked,
                "hidden" => Visibility::Hidden,
                other => return Err(Error::BadRequest(format!("unknown visibility `{other}`"))),
            };
            fields.push((field.clone(), v));
        }
        self.change_policy(&auth.tenant, |doc| {
            for a in &form.grant {
                doc.unchecked().grant(id, a)?;
            }
            for a in &form.deny {
                doc.unchecked().deny(id, a)?;
            }
            for (f, v) in &fields {
                doc.unchecked().set_field(id, f, *v)?;
            }
            Ok(())
        })?;
        self.record(
            &auth.tenant,
            &auth.user_id,
            "account.set_rights",
            &format!("users/{id}"),
            &[],
            json!({ "grant": form.grant, "deny": form.deny, "fields": form.fields }),
        )?;
        Ok(json!({ "updated": id }))
    }

    fn require_employee(&self, auth: &Auth, id: &str) -> Result<()> {
        if self.exists(
            "SELECT id FROM users WHERE id = $1 AND tenant = $2",
            &[id.into(), Val::from(&auth.tenant)],
        )? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}
