//! The one error type of the crate: configuration problems and every refusal.

use std::fmt;

/// How serious a [`Problem`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The configuration is usable as written.
    Warning,
    /// The configuration cannot be used as written.
    Error,
}

/// One finding of configuration parsing or validation: how serious, where in
/// the file and what is wrong. The shape of palisade-rbac's and
/// palisade-retention's policy problems.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Error or warning. Every problem this crate reports today is an error.
    pub severity: Severity,
    /// 1-based line in the configuration file, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters) in that line, when known.
    pub column: Option<usize>,
    /// What is wrong, in Cedar's style (lowercase, user input in backticks).
    pub message: String,
}

/// `line 3, column 7: error: …`; the place is left out when unknown.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(
                    f,
                    "line {line}, column {column}: {severity}: {}",
                    self.message
                )
            }
            (Some(line), None) => write!(f, "line {line}: {severity}: {}", self.message),
            _ => write!(f, "{severity}: {}", self.message),
        }
    }
}

/// A boxed underlying cause (an HTTP, I/O or parse error).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong: a configuration that does not load, a
/// provider that cannot be reached, and each reason a sign-in is refused.
///
/// Every refusal during [`Sso::complete`](crate::Sso::complete),
/// [`Authenticated::admit`](crate::Authenticated::admit) and
/// [`Sso::verify_logout_token`](crate::Sso::verify_logout_token) is also an
/// audit record whose payload carries [`Error::code`] as its `reason`.
/// Show the user a generic message; the variant is for logs and audits.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration file is not well-formed TOML, does not have the
    /// expected shape, or breaks a rule; every problem found is listed, in
    /// file order (a malformed file has one).
    #[error("invalid sso configuration: {}", join(.0))]
    ConfigInvalid(Vec<Problem>),
    /// No tenant of the configuration has this name.
    #[error("unknown tenant `{0}`")]
    TenantUnknown(String),
    /// The operating system's random source failed.
    #[error("the operating system's random source is unavailable")]
    RandomUnavailable,
    /// The HTTP client could not be built (TLS set-up failed).
    #[error("cannot build the http client")]
    HttpClientUnavailable(#[source] Cause),
    /// The provider could not be reached or answered with an error or garbage
    /// (discovery, key set or token endpoint).
    #[error("identity provider of tenant `{tenant}` is unavailable: {what}")]
    ProviderUnavailable {
        /// The tenant whose provider failed.
        tenant: String,
        /// What was being fetched.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: Cause,
    },
    /// The provider's metadata is unusable: issuer mismatch, no signing
    /// algorithm in common, no PKCE S256.
    #[error("identity provider of tenant `{tenant}` is unusable: {reason}")]
    ProviderMetadataInvalid {
        /// The tenant whose provider is unusable.
        tenant: String,
        /// Why.
        reason: String,
    },
    /// The client secret file could not be read or the secret provider had none.
    #[error("client secret of tenant `{tenant}` is unavailable")]
    ClientSecretUnavailable {
        /// The tenant.
        tenant: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// Too much time passed between beginning and completing the sign-in.
    #[error("the sign-in expired; start again")]
    SignInExpired,
    /// The sign-in was already completed (or attempted), or this server never began it.
    #[error("the sign-in was already used or is unknown to this server")]
    SignInReplayed,
    /// The callback's `state` is missing or not the one stored in the session.
    #[error("the callback's state does not match the sign-in")]
    StateMismatch,
    /// The callback's query is malformed (duplicate or oversized parameters, no code).
    #[error("malformed callback: {0}")]
    CallbackMalformed(String),
    /// The provider answered the authorization request with an error
    /// (the user cancelled, is disabled or unknown at the provider, …).
    #[error("the identity provider refused the sign-in: `{error}`")]
    ProviderRefused {
        /// The OAuth error code (`access_denied`, `login_required`, …).
        error: String,
        /// The provider's description, if any.
        description: Option<String>,
    },
    /// The configured redirect URI changed between beginning and completing.
    #[error("the redirect uri changed during the sign-in")]
    RedirectUriChanged,
    /// The token endpoint refused the authorization code (used, expired,
    /// wrong PKCE verifier or redirect URI).
    #[error("the identity provider rejected the authorization code: `{error}`")]
    CodeRejected {
        /// The OAuth error code (`invalid_grant`, …).
        error: String,
    },
    /// The token endpoint's answer carries no ID token.
    #[error("the token response has no id token")]
    IdTokenMissing,
    /// The ID token (or logout token) is not a well-formed signed JWT with the required claims.
    #[error("malformed token: {0}")]
    TokenMalformed(String),
    /// The token's algorithm is `none`, symmetric (HS*) or not allowed for the tenant.
    #[error("token algorithm `{0}` is refused")]
    AlgorithmRefused(String),
    /// No key of the provider's key set (even after one refetch) matches the token.
    #[error("the token is signed by an unknown key")]
    KeyUnknown,
    /// The signature does not verify with the provider's key.
    #[error("the token's signature is invalid")]
    SignatureInvalid,
    /// The token's `iss` (or the callback's `iss`) is not the tenant's issuer.
    #[error("the token was issued by another issuer")]
    IssuerWrong,
    /// The token's `aud`/`azp` do not name this client alone.
    #[error("the token was issued for another client")]
    AudienceWrong,
    /// The token's `exp` has passed (beyond the allowed clock skew).
    #[error("the token expired")]
    TokenExpired,
    /// The token's `iat` or `nbf` lies in the future (beyond the allowed clock skew),
    /// or `iat` is implausibly old.
    #[error("the token's issue time is implausible")]
    TokenNotYetValid,
    /// The token's `nonce` is missing or not the one of this sign-in.
    #[error("the token's nonce does not match the sign-in")]
    NonceMismatch,
    /// The token's `at_hash` does not match the access token.
    #[error("the token's at_hash does not match the access token")]
    AccessTokenHashMismatch,
    /// The token carries no e-mail address.
    #[error("the token carries no e-mail address")]
    EmailMissing,
    /// The token's e-mail address is not verified by the provider.
    #[error("the e-mail address is not verified by the identity provider")]
    EmailUnverified,
    /// The token's e-mail domain is not one the tenant allows.
    #[error("e-mail domain `{0}` is not allowed for this tenant")]
    EmailDomainRefused(String),
    /// The provider did not prove a second factor (`acr`/`amr`) and the
    /// tenant does not fall back to a local TOTP.
    #[error("the identity provider did not prove a second factor")]
    SecondFactorMissing,
    /// No role of the tenant's mapping applies to the user's claims (for an
    /// existing account: access is withdrawn).
    #[error("no role is mapped to the user's claims")]
    RoleNotMapped,
    /// The user has no local account and the tenant does not provision accounts.
    #[error("the user has no account and the tenant does not provision accounts")]
    AccountUnknown,
    /// A logout token failed a check other than signature, issuer and audience.
    #[error("invalid logout token: {0}")]
    LogoutTokenInvalid(String),
    /// A logout token with this `jti` was already processed.
    #[error("the logout token was already used")]
    LogoutTokenReplayed,
    /// The audit sink failed to record a successful sign-in, so the sign-in is refused.
    #[error("cannot record the sign-in in the audit log")]
    AuditUnavailable(#[source] palisade_audit::Error),
}

impl Error {
    /// The problems of an invalid configuration ([`Error::ConfigInvalid`]),
    /// in file order; empty for every other error.
    #[must_use]
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::ConfigInvalid(problems) => problems,
            _ => &[],
        }
    }

    /// A stable, lowercase identifier of the variant (`state_mismatch`,
    /// `key_unknown`, …): the `reason` of refusal audit records.
    pub fn code(&self) -> &'static str {
        match self {
            Error::ConfigInvalid(_) => "config_invalid",
            Error::TenantUnknown(_) => "tenant_unknown",
            Error::RandomUnavailable => "random_unavailable",
            Error::HttpClientUnavailable(_) => "http_client_unavailable",
            Error::ProviderUnavailable { .. } => "provider_unavailable",
            Error::ProviderMetadataInvalid { .. } => "provider_metadata_invalid",
            Error::ClientSecretUnavailable { .. } => "client_secret_unavailable",
            Error::SignInExpired => "sign_in_expired",
            Error::SignInReplayed => "sign_in_replayed",
            Error::StateMismatch => "state_mismatch",
            Error::CallbackMalformed(_) => "callback_malformed",
            Error::ProviderRefused { .. } => "provider_refused",
            Error::RedirectUriChanged => "redirect_uri_changed",
            Error::CodeRejected { .. } => "code_rejected",
            Error::IdTokenMissing => "id_token_missing",
            Error::TokenMalformed(_) => "token_malformed",
            Error::AlgorithmRefused(_) => "algorithm_refused",
            Error::KeyUnknown => "key_unknown",
            Error::SignatureInvalid => "signature_invalid",
            Error::IssuerWrong => "issuer_wrong",
            Error::AudienceWrong => "audience_wrong",
            Error::TokenExpired => "token_expired",
            Error::TokenNotYetValid => "token_not_yet_valid",
            Error::NonceMismatch => "nonce_mismatch",
            Error::AccessTokenHashMismatch => "at_hash_mismatch",
            Error::EmailMissing => "email_missing",
            Error::EmailUnverified => "email_unverified",
            Error::EmailDomainRefused(_) => "email_domain_refused",
            Error::SecondFactorMissing => "second_factor_missing",
            Error::RoleNotMapped => "role_not_mapped",
            Error::AccountUnknown => "account_unknown",
            Error::LogoutTokenInvalid(_) => "logout_token_invalid",
            Error::LogoutTokenReplayed => "logout_token_replayed",
            Error::AuditUnavailable(_) => "audit_unavailable",
        }
    }
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
