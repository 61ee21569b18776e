//! A validated file compiled into per-tenant settings with parsed URLs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{ClientId, IssuerUrl, PostLogoutRedirectUrl, RedirectUrl};

use crate::error::{Error, Problem, Result, Severity};
use crate::model::{Fallback, File, Jit, TenantDef};
use crate::validate::{DEFAULT_ALGORITHMS, DEFAULT_SESSION, DEFAULT_SKEW};

/// Where a tenant's client secret comes from.
#[derive(Clone, Debug)]
pub(crate) enum SecretSource {
    /// Read from this file at each code exchange (trailing newline dropped).
    File(PathBuf),
    /// Asked of the application's secret provider under this name.
    Key(String),
}

/// Which `acr`/`amr` values prove a second factor.
#[derive(Clone, Debug)]
pub(crate) struct SecondFactorRule {
    pub(crate) acr: Vec<String>,
    pub(crate) amr: Vec<String>,
    pub(crate) fallback: Fallback,
}

/// One mapping rule: `claim` holding `value` gives `role`.
#[derive(Clone, Debug)]
pub(crate) struct RoleRule {
    pub(crate) claim: String,
    pub(crate) value: String,
    pub(crate) role: String,
}

/// A tenant's compiled settings.
#[derive(Clone, Debug)]
pub(crate) struct TenantConfig {
    pub(crate) name: String,
    pub(crate) issuer: IssuerUrl,
    pub(crate) client_id: ClientId,
    pub(crate) secret: SecretSource,
    pub(crate) redirect_uri: RedirectUrl,
    pub(crate) post_logout_redirect_uri: Option<PostLogoutRedirectUrl>,
    pub(crate) scopes: Vec<String>,
    pub(crate) algorithms: Vec<CoreJwsSigningAlgorithm>,
    pub(crate) allowed_email_domains: Vec<String>,
    pub(crate) require_verified_email: bool,
    pub(crate) clock_skew: Duration,
    pub(crate) max_session: Duration,
    pub(crate) jit: Jit,
    pub(crate) second_factor: SecondFactorRule,
    pub(crate) rules: Vec<RoleRule>,
    pub(crate) default_role: Option<String>,
}

impl TenantConfig {
    /// Every role the tenant's mapping can give.
    pub(crate) fn roles(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .map(|r| r.role.as_str())
            .chain(self.default_role.as_deref())
    }
}

/// Compiles a validated file. Validation already rejected everything that
/// fails here; the errors are kept for safety, not expected.
pub(crate) fn compile(file: &File) -> Result<BTreeMap<String, Arc<TenantConfig>>> {
    let mut out = BTreeMap::new();
    for (name, def) in &file.tenants {
        out.insert(name.clone(), Arc::new(tenant(name, def.get_ref())?));
    }
    Ok(out)
}

fn invalid(message: String) -> Error {
    Error::ConfigInvalid(vec![Problem {
        severity: Severity::Error,
        line: None,
        column: None,
        message,
    }])
}

fn algorithm(name: &str) -> Option<CoreJwsSigningAlgorithm> {
    Some(match name {
        "RS256" => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        "RS384" => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
        "RS512" => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
        "PS256" => CoreJwsSigningAlgorithm::RsaSsaPssSha256,
        "PS384" => CoreJwsSigningAlgorithm::RsaSsaPssSha384,
        "PS512" => CoreJwsSigningAlgorithm::RsaSsaPssSha512,
        "ES256" => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        "ES384" => CoreJwsSigningAlgorithm::EcdsaP384Sha384,
        "EdDSA" => CoreJwsSigningAlgorithm::EdDsa,
        _ => return None,
    })
}

fn tenant(name: &str, t: &TenantDef) -> Result<TenantConfig> {
    let issuer = IssuerUrl::new(t.issuer.get_ref().clone())
        .map_err(|e| invalid(format!("tenant `{name}`: issuer: {e}")))?;
    let redirect_uri = RedirectUrl::new(t.redirect_uri.get_ref().clone())
        .map_err(|e| invalid(format!("tenant `{name}`: redirect uri: {e}")))?;
    let post_logout_redirect_uri = match &t.post_logout_redirect_uri {
        Some(uri) => Some(
            PostLogoutRedirectUrl::new(uri.get_ref().clone())
                .map_err(|e| invalid(format!("tenant `{name}`: post-logout redirect uri: {e}")))?,
        ),
        None => None,
    };
    let secret = match (&t.client_secret_file, &t.client_secret_key) {
        (Some(file), None) => SecretSource::File(PathBuf::from(file.get_ref())),
        (None, Some(key)) => SecretSource::Key(key.get_ref().clone()),
        _ => return Err(invalid(format!("tenant `{name}`: client secret source"))),
    };
    let names: Vec<String> = match &t.algorithms {
        Some(list) => list.get_ref().clone(),
        None => DEFAULT_ALGORITHMS.iter().map(|a| (*a).to_owned()).collect(),
    };
    let algorithms = names
        .iter()
        .map(|a| algorithm(a).ok_or_else(|| invalid(format!("tenant `{name}`: algorithm `{a}`"))))
        .collect::<Result<Vec<_>>>()?;
    let mut scopes: Vec<String> = vec!["openid".to_owned()];
    let wanted: Vec<String> = match &t.scopes {
        Some(list) => list.get_ref().clone(),
        None => vec!["email".to_owned(), "profile".to_owned()],
    };
    for scope in wanted {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    let sf = t.second_factor.as_ref().map(|s| s.get_ref());
    let second_factor = SecondFactorRule {
        acr: sf.map(|s| s.acr.clone()).unwrap_or_default(),
        amr: sf.map(|s| s.amr.clone()).unwrap_or_default(),
        fallback: sf.map(|s| s.fallback).unwrap_or_default(),
    };
    let seconds = |value: Option<&toml::Spanned<i64>>, default: i64| {
        Duration::from_secs(u64::try_from(value.map_or(default, |v| *v.get_ref())).unwrap_or(0))
    };
    Ok(TenantConfig {
        name: name.to_owned(),
        issuer,
        client_id: ClientId::new(t.client_id.get_ref().clone()),
        secret,
        redirect_uri,
        post_logout_redirect_uri,
        scopes,
        algorithms,
        allowed_email_domains: t.allowed_email_domains.get_ref().clone(),
        require_verified_email: t.require_verified_email.unwrap_or(true),
        clock_skew: seconds(t.clock_skew_seconds.as_ref(), DEFAULT_SKEW),
        max_session: seconds(t.max_session_seconds.as_ref(), DEFAULT_SESSION),
        jit: t.jit.unwrap_or_default(),
        second_factor,
        rules: t
            .roles
            .iter()
            .map(|r| RoleRule {
                claim: r.get_ref().claim.clone(),
                value: r.get_ref().value.clone(),
                role: r.get_ref().role.clone(),
            })
            .collect(),
        default_role: t.default_role.as_ref().map(|r| r.get_ref().clone()),
    })
}
