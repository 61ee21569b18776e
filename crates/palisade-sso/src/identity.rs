//! A verified user, the role decision and what the application keeps.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use palisade_audit::{AuditSink, Outcome};
use serde_json::json;

use crate::audit::{PROVISION, SIGN_IN, record, refuse};
use crate::compile::TenantConfig;
use crate::error::{Error, Result};
use crate::mapping::{LocalAccount, Provisioning, assign, mapped_role};
use crate::verify::Checked;

/// A user whose ID token passed every check, before the role decision: look
/// up the local account of [`subject`](Authenticated::subject) in
/// [`tenant`](Authenticated::tenant), then call [`admit`](Authenticated::admit).
pub struct Authenticated {
    pub(crate) sink: Arc<dyn AuditSink>,
    pub(crate) tenant: Arc<TenantConfig>,
    pub(crate) checked: Checked,
    pub(crate) expires_at: SystemTime,
    pub(crate) id_token: String,
}

impl fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticated")
            .field("tenant", &self.tenant.name)
            .field("subject", &self.checked.subject)
            .finish_non_exhaustive()
    }
}

impl Authenticated {
    /// The tenant the user signed in to.
    pub fn tenant(&self) -> &str {
        &self.tenant.name
    }

    /// The provider's stable identifier of the user (`sub`): key local
    /// accounts by (tenant, subject), not by e-mail address, which can change.
    pub fn subject(&self) -> &str {
        &self.checked.subject
    }

    /// The verified e-mail address, in an allowed domain.
    pub fn email(&self) -> &str {
        &self.checked.email
    }

    /// Decides the user's role given their local account (`None` if they have
    /// none), records the sign-in (and any provisioning) in the audit log, and
    /// says whether a local TOTP is still needed.
    ///
    /// * The tenant's owner keeps their role whatever the claims say.
    /// * Another account takes the role the claims map to; if none maps, the
    ///   sign-in is refused ([`Error::RoleNotMapped`]): a user removed from
    ///   the provider's groups loses access at their next sign-in.
    /// * A user without an account is provisioned with the mapped role, or
    ///   refused ([`Error::AccountUnknown`]), as the tenant is configured.
    ///
    /// A successful sign-in that cannot be recorded is refused
    /// ([`Error::AuditUnavailable`]).
    pub fn admit(self, existing: Option<&LocalAccount>) -> Result<SignIn> {
        let tenant = &self.tenant.name;
        let sub = self.checked.subject.as_str();
        let assignment = assign(
            &self.tenant,
            mapped_role(&self.tenant, &self.checked.claims),
            existing,
        )
        .map_err(|e| refuse(self.sink.as_ref(), tenant, Some(sub), SIGN_IN, e))?;

        let needs_totp = !self.checked.second_factor_proven;
        if assignment.provisioning != Provisioning::Unchanged {
            let from = match &assignment.provisioning {
                Provisioning::RoleChanged { from } => Some(from.as_str()),
                _ => None,
            };
            record(
                self.sink.as_ref(),
                tenant,
                Some(sub),
                PROVISION,
                Outcome::Success,
                json!({
                    "provisioning": assignment.provisioning.as_str(),
                    "role": assignment.role,
                    "from": from,
                    "email": self.checked.email,
                }),
            )
            .map_err(Error::AuditUnavailable)?;
        }
        record(
            self.sink.as_ref(),
            tenant,
            Some(sub),
            SIGN_IN,
            Outcome::Success,
            json!({
                "role": assignment.role,
                "email": self.checked.email,
                "acr": self.checked.acr,
                "amr": self.checked.amr,
                "second_factor": if needs_totp { "local_totp_required" } else { "provider" },
                "expires_at": humantime_secs(self.expires_at),
            }),
        )
        .map_err(Error::AuditUnavailable)?;

        let identity = Identity {
            tenant: self.tenant.name.clone(),
            subject: self.checked.subject,
            email: self.checked.email,
            name: self.checked.name,
            role: assignment.role,
            provisioning: assignment.provisioning,
            acr: self.checked.acr,
            amr: self.checked.amr,
            session_id: self.checked.sid,
            expires_at: self.expires_at,
            id_token: self.id_token,
        };
        Ok(if needs_totp {
            SignIn::NeedsTotp(identity)
        } else {
            SignIn::Admitted(identity)
        })
    }
}

fn humantime_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The outcome of an admitted sign-in.
#[derive(Debug)]
#[must_use = "a sign-in may still need a local second factor before a session opens"]
pub enum SignIn {
    /// The provider proved a second factor: open a session for the identity
    /// (ending no later than [`Identity::expires_at`]).
    Admitted(Identity),
    /// The provider proved no second factor the tenant accepts and the tenant
    /// falls back to a local TOTP: verify a palisade-otp code for the local
    /// account before opening the session.
    NeedsTotp(Identity),
}

impl SignIn {
    /// The identity, whichever the outcome.
    pub fn identity(&self) -> &Identity {
        match self {
            SignIn::Admitted(identity) | SignIn::NeedsTotp(identity) => identity,
        }
    }
}

/// A signed-in user: who they are at the provider, the role they hold in the
/// tenant, and until when the session may last.
#[derive(Clone)]
pub struct Identity {
    tenant: String,
    subject: String,
    email: String,
    name: Option<String>,
    role: String,
    provisioning: Provisioning,
    acr: Option<String>,
    amr: Vec<String>,
    session_id: Option<String>,
    expires_at: SystemTime,
    id_token: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("tenant", &self.tenant)
            .field("subject", &self.subject)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("provisioning", &self.provisioning)
            .field("acr", &self.acr)
            .field("amr", &self.amr)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The provider's stable identifier of the user (`sub`).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The verified e-mail address.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// The display name, when the provider sent one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The role to hold in the tenant (one the configuration names, or the
    /// owner's own role).
    pub fn role(&self) -> &str {
        &self.role
    }

    /// What to do with the local account: create it, change its role, or nothing.
    pub fn provisioning(&self) -> &Provisioning {
        &self.provisioning
    }

    /// The authentication context class the provider reported.
    pub fn acr(&self) -> Option<&str> {
        self.acr.as_deref()
    }

    /// The authentication methods the provider reported.
    pub fn amr(&self) -> &[String] {
        &self.amr
    }

    /// The provider's session id (`sid`), to match back-channel logouts.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The latest end of the application session: the ID token's expiry or
    /// the tenant's `max_session_seconds` from now, whichever comes first.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The raw ID token, the `id_token_hint` of
    /// [`Sso::logout_url`](crate::Sso::logout_url). Keep it server-side.
    pub fn id_token_hint(&self) -> &str {
        &self.id_token
    }
}
