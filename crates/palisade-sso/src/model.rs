//! The configuration file: its serde model, with spans for precise messages.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file: one table per tenant.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    #[serde(default)]
    pub(crate) tenants: BTreeMap<String, Spanned<TenantDef>>,
}

/// One tenant's identity provider and how its users map to roles.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantDef {
    pub(crate) issuer: Spanned<String>,
    pub(crate) client_id: Spanned<String>,
    #[serde(default)]
    pub(crate) client_secret_file: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) client_secret_key: Option<Spanned<String>>,
    pub(crate) redirect_uri: Spanned<String>,
    #[serde(default)]
    pub(crate) post_logout_redirect_uri: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) scopes: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub(crate) algorithms: Option<Spanned<Vec<String>>>,
    pub(crate) allowed_email_domains: Spanned<Vec<String>>,
    #[serde(default)]
    pub(crate) require_verified_email: Option<bool>,
    #[serde(default)]
    pub(crate) clock_skew_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) max_session_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) jit: Option<Jit>,
    #[serde(default)]
    pub(crate) default_role: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) second_factor: Option<Spanned<SecondFactorDef>>,
    #[serde(default)]
    pub(crate) roles: Vec<Spanned<RoleRuleDef>>,
}

/// What happens to a user who has no local account yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Jit {
    /// The user is refused (an administrator creates accounts).
    #[default]
    Refuse,
    /// An account is created with the mapped role.
    Provision,
}

/// Which `acr`/`amr` values prove a second factor, and what happens otherwise.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecondFactorDef {
    #[serde(default)]
    pub(crate) acr: Vec<String>,
    #[serde(default)]
    pub(crate) amr: Vec<String>,
    #[serde(default)]
    pub(crate) fallback: Fallback,
}

/// What happens when the provider proves no second factor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Fallback {
    /// The sign-in is refused.
    #[default]
    Refuse,
    /// The application asks for a local TOTP code (palisade-otp).
    LocalTotp,
}

/// `claim` holding `value` (or an array containing it) gives `role`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleRuleDef {
    pub(crate) claim: String,
    pub(crate) value: String,
    pub(crate) role: String,
}
