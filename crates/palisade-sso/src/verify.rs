//! ID-token validation on openidconnect's verifier, with the checks it
//! leaves to the application (`azp`, `iat`, `nbf`, `at_hash`, e-mail domain,
//! second factor).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalClaims, ClaimsVerificationError, IdToken,
    IdTokenClaims, IdTokenVerifier, Nonce, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::compile::TenantConfig;
use crate::error::{Error, Result};
use crate::model::Fallback;
use crate::provider::Discovered;

/// Claims beyond the standard ones (groups, roles, `nbf`, …), kept as JSON.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(crate) struct ExtraClaims {
    #[serde(flatten)]
    pub(crate) rest: serde_json::Map<String, Value>,
}

impl AdditionalClaims for ExtraClaims {}

/// The ID token type of the crate.
pub(crate) type Token = IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// Its claims.
pub(crate) type Claims = IdTokenClaims<ExtraClaims, CoreGenderClaim>;

/// An ID token older than this (plus the skew) is refused as expired, whatever its `exp`.
const MAX_TOKEN_AGE: Duration = Duration::from_secs(3600);

/// The `alg` of a compact JWS's header, for messages (`?` if unreadable).
pub(crate) fn header_alg(raw: &str) -> String {
    raw.split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_owned))
        .map_or_else(|| "?".to_owned(), |alg| alg.chars().take(32).collect())
}

/// The JSON payload of a compact JWS whose signature was verified.
pub(crate) fn payload_json(raw: &str) -> Result<Value> {
    raw.split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
        .filter(Value::is_object)
        .ok_or_else(|| Error::TokenMalformed("the payload is not a json object".to_owned()))
}

/// Maps openidconnect's verification error to the crate's refusal.
fn refusal(e: &ClaimsVerificationError, raw: &str) -> Error {
    match e {
        ClaimsVerificationError::Expired(_) => Error::TokenExpired,
        ClaimsVerificationError::InvalidAudience(_) => Error::AudienceWrong,
        ClaimsVerificationError::InvalidIssuer(_) => Error::IssuerWrong,
        ClaimsVerificationError::InvalidNonce(_) => Error::NonceMismatch,
        ClaimsVerificationError::SignatureVerification(s) => match s {
            SignatureVerificationError::NoMatchingKey
            | SignatureVerificationError::AmbiguousKeyId(_) => Error::KeyUnknown,
            SignatureVerificationError::DisallowedAlg(_)
            | SignatureVerificationError::UnsupportedAlg(_)
            | SignatureVerificationError::NoSignature => Error::AlgorithmRefused(header_alg(raw)),
            _ => Error::SignatureInvalid,
        },
        other => Error::TokenMalformed(other.to_string()),
    }
}

/// What a valid ID token says about the user.
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    pub(crate) subject: String,
    pub(crate) email: String,
    pub(crate) name: Option<String>,
    pub(crate) acr: Option<String>,
    pub(crate) amr: Vec<String>,
    pub(crate) sid: Option<String>,
    pub(crate) expires: DateTime<Utc>,
    /// Every claim as signed, for the role mapping.
    pub(crate) claims: Value,
    /// Whether the `acr`/`amr` prove a second factor the tenant accepts.
    pub(crate) second_factor_proven: bool,
}

/// Verifies signature, `iss`, `aud`, `exp` (openidconnect) then `azp`, `iat`,
/// `nbf`, `at_hash` and `sub`. [`Error::KeyUnknown`] means "refetch the keys
/// and try again".
pub(crate) fn verify_token(
    tenant: &TenantConfig,
    discovered: &Discovered,
    token: &Token,
    raw: &str,
    nonce: &Nonce,
    access_token: &AccessToken,
    now: DateTime<Utc>,
) -> Result<Claims> {
    let skew = chrono::Duration::from_std(tenant.clock_skew).unwrap_or_default();
    let verifier = IdTokenVerifier::<CoreJsonWebKey>::new_public_client(
        tenant.client_id.clone(),
        tenant.issuer.clone(),
        discovered.metadata.jwks().clone(),
    )
    .set_allowed_algs(discovered.algorithms.iter().cloned())
    .set_time_fn(move || now - skew);
    let claims = token
        .claims(&verifier, nonce)
        .map_err(|e| refusal(&e, raw))?
        .clone();

    if let Some(azp) = claims.authorized_party()
        && azp.as_str() != tenant.client_id.as_str()
    {
        return Err(Error::AudienceWrong);
    }
    let max_age = chrono::Duration::from_std(MAX_TOKEN_AGE).unwrap_or_default();
    if claims.issue_time() > now + skew {
        return Err(Error::TokenNotYetValid);
    }
    if claims.issue_time() < now - max_age - skew {
        return Err(Error::TokenExpired);
    }
    match claims.additional_claims().rest.get("nbf") {
        None => {}
        Some(nbf) => {
            let Some(nbf) = nbf.as_i64() else {
                return Err(Error::TokenMalformed("`nbf` is not a number".to_owned()));
            };
            if nbf > (now + skew).timestamp() {
                return Err(Error::TokenNotYetValid);
            }
        }
    }
    if let Some(expected) = claims.access_token_hash() {
        let alg = token
            .signing_alg()
            .map_err(|_| Error::AlgorithmRefused(header_alg(raw)))?;
        let key = token
            .signing_key(&verifier)
            .map_err(|_| Error::KeyUnknown)?;
        let actual = AccessTokenHash::from_token(access_token, alg, key)
            .map_err(|_| Error::AlgorithmRefused(header_alg(raw)))?;
        if !bool::from(actual.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(Error::AccessTokenHashMismatch);
        }
    }
    let sub = claims.subject().as_str();
    if sub.is_empty() || sub.len() > 255 || sub.chars().any(char::is_control) {
        return Err(Error::TokenMalformed(
            "`sub` is empty, too long or has control characters".to_owned(),
        ));
    }
    Ok(claims)
}

/// Checks the e-mail address and second factor of verified claims and
/// gathers what the rest of the sign-in needs.
pub(crate) fn check_user(tenant: &TenantConfig, claims: &Claims, raw: &str) -> Result<Checked> {
    let email = claims
        .email()
        .map(|e| e.as_str().to_owned())
        .ok_or(Error::EmailMissing)?;
    if tenant.require_verified_email && claims.email_verified() != Some(true) {
        return Err(Error::EmailUnverified);
    }
    let domain = email
        .rsplit_once('@')
        .map(|(local, domain)| (local, domain.to_ascii_lowercase()))
        .filter(|(local, domain)| !local.is_empty() && !domain.is_empty())
        .map(|(_, domain)| domain)
        .ok_or_else(|| Error::TokenMalformed("`email` is not an e-mail address".to_owned()))?;
    if !tenant.allowed_email_domains.contains(&domain) {
        return Err(Error::EmailDomainRefused(domain));
    }

    let acr = claims.auth_context_ref().map(|a| a.as_str().to_owned());
    let amr: Vec<String> = claims
        .auth_method_refs()
        .map(|list| list.iter().map(|m| m.as_str().to_owned()).collect())
        .unwrap_or_default();
    let rule = &tenant.second_factor;
    let proven = acr.as_ref().is_some_and(|a| rule.acr.contains(a))
        || amr.iter().any(|m| rule.amr.contains(m));
    if !proven && rule.fallback == Fallback::Refuse {
        return Err(Error::SecondFactorMissing);
    }

    let claims_json = payload_json(raw)?;
    let sid = claims_json
        .get("sid")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let name = claims
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_owned());
    Ok(Checked {
        subject: claims.subject().as_str().to_owned(),
        email,
        name,
        acr,
        amr,
        sid,
        expires: claims.expiration(),
        claims: claims_json,
        second_factor_proven: proven,
    })
}
