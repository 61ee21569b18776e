//! Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0): a JWT
//! the provider POSTs when a user's session ends there. openidconnect has no
//! type for them, so the compact JWS is taken apart here and the signature is
//! checked with openidconnect's keys (`JsonWebKey::verify_signature`).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyUse, JwsSigningAlgorithm};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::compile::TenantConfig;
use crate::error::{Error, Result};
use crate::provider::Discovered;

/// The event a logout token must carry.
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Longest logout token accepted.
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// A logout token issued longer ago than this (plus the skew) is refused.
const MAX_AGE: Duration = Duration::from_secs(600);

/// A verified back-channel logout: end the local sessions it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutNotice {
    /// The tenant.
    pub tenant: String,
    /// The provider's subject whose sessions end (all of them when `session_id` is `None`).
    pub subject: Option<String>,
    /// The provider's session id (`sid`) that ended, when given.
    pub session_id: Option<String>,
}

fn invalid(message: &str) -> Error {
    Error::LogoutTokenInvalid(message.to_owned())
}

fn decode_json(part: &str, what: &str) -> Result<serde_json::Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Error::TokenMalformed(format!("the {what} is not base64url")))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::TokenMalformed(format!(
            "the {what} is not a json object"
        ))),
    }
}

/// Whether `key` may verify a signature made with `alg`.
fn key_fits(key: &CoreJsonWebKey, alg: &CoreJwsSigningAlgorithm) -> bool {
    key.key_use().is_none_or(|u| u.allows_signature())
        && alg.key_type().as_ref() == Some(key.key_type())
        && match key.signing_alg() {
            JsonWebKeyAlgorithm::Unspecified => true,
            JsonWebKeyAlgorithm::Algorithm(a) => a == alg,
            JsonWebKeyAlgorithm::Unsupported => false,
        }
}

/// Verifies a logout token; returns the notice and its `jti`.
/// [`Error::KeyUnknown`] means "refetch the keys and try again".
pub(crate) fn check_logout_token(
    tenant: &TenantConfig,
    discovered: &Discovered,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<(LogoutNotice, String)> {
    if raw.len() > MAX_TOKEN_LEN {
        return Err(Error::TokenMalformed(format!(
            "longer than {MAX_TOKEN_LEN} bytes"
        )));
    }
    let parts: Vec<&str> = raw.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(Error::TokenMalformed("not a compact jws".to_owned()));
    };
    let header_json = decode_json(header, "header")?;
    let alg_name = header_json
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::TokenMalformed("no `alg`".to_owned()))?;
    let alg: CoreJwsSigningAlgorithm =
        serde_json::from_value(Value::String(alg_name.to_owned()))
            .map_err(|_| Error::AlgorithmRefused(alg_name.chars().take(32).collect()))?;
    if !discovered.algorithms.contains(&alg) {
        return Err(Error::AlgorithmRefused(alg_name.chars().take(32).collect()));
    }
    if header_json.contains_key("crit") {
        return Err(Error::TokenMalformed(
            "critical header parameters are not supported".to_owned(),
        ));
    }
    match header_json
        .get("typ")
        .map(|t| t.as_str().map(str::to_ascii_lowercase))
    {
        None => {}
        Some(Some(t)) if t == "logout+jwt" || t == "application/logout+jwt" => {}
        Some(_) => return Err(invalid("`typ` is not `logout+jwt`")),
    }
    let kid = match header_json.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(Error::TokenMalformed("`kid` is not a string".to_owned())),
    };
    let keys: Vec<&CoreJsonWebKey> = discovered
        .metadata
        .jwks()
        .keys()
        .iter()
        .filter(|key| kid.is_none_or(|kid| key.key_id().is_some_and(|k| k.as_str() == kid)))
        .filter(|key| key_fits(key, &alg))
        .collect();
    let [key] = keys.as_slice() else {
        return Err(Error::KeyUnknown);
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Error::TokenMalformed("the signature is not base64url".to_owned()))?;
    let signing_input_len = header.len() + 1 + payload.len();
    let signing_input = raw
        .get(..signing_input_len)
        .ok_or_else(|| Error::TokenMalformed("not a compact jws".to_owned()))?;
    key.verify_signature(&alg, signing_input.as_bytes(), &signature)
        .map_err(|_| Error::SignatureInvalid)?;

    let claims = decode_json(payload, "payload")?;
    if claims.get("iss").and_then(Value::as_str) != Some(tenant.issuer.as_str()) {
        return Err(Error::IssuerWrong);
    }
    let client = tenant.client_id.as_str();
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client,
        Some(Value::Array(list)) => {
            !list.is_empty() && list.iter().all(|a| a.as_str() == Some(client))
        }
        _ => false,
    };
    if !audience_ok {
        return Err(Error::AudienceWrong);
    }
    let skew = chrono::Duration::from_std(tenant.clock_skew).unwrap_or_default();
    let max_age = chrono::Duration::from_std(MAX_AGE).unwrap_or_default();
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("no numeric `iat`"))?;
    if iat > (now + skew).timestamp() {
        return Err(Error::TokenNotYetValid);
    }
    if iat < (now - max_age - skew).timestamp() {
        return Err(Error::TokenExpired);
    }
    match claims.get("exp") {
        None => {}
        Some(exp) => match exp.as_i64() {
            Some(exp) if exp > (now - skew).timestamp() => {}
            Some(_) => return Err(Error::TokenExpired),
            None => return Err(invalid("`exp` is not a number")),
        },
    }
    if claims.contains_key("nonce") {
        return Err(invalid("a logout token must not carry a `nonce`"));
    }
    let event_ok = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(LOGOUT_EVENT))
        .is_some_and(Value::is_object);
    if !event_ok {
        return Err(invalid("no back-channel logout event"));
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| invalid("no `jti`"))?
        .to_owned();
    let text = |name: &str| -> Result<Option<String>> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => Ok(Some(s.clone())),
            Some(_) => Err(invalid("`sub` or `sid` is not a short string")),
        }
    };
    let subject = text("sub")?;
    let session_id = text("sid")?;
    if subject.is_none() && session_id.is_none() {
        return Err(invalid("neither `sub` nor `sid`"));
    }
    Ok((
        LogoutNotice {
            tenant: tenant.name.clone(),
            subject,
            session_id,
        },
        jti,
    ))
}

/// Logout-token ids already processed, per tenant, kept as long as such a
/// token could still be accepted; bounded, oldest forgotten first.
#[derive(Debug)]
pub(crate) struct SeenTokens {
    capacity: usize,
    next: u64,
    by_key: HashMap<[u8; 32], u64>,
    by_age: BTreeMap<u64, ([u8; 32], Instant)>,
}

impl SeenTokens {
    pub(crate) fn new(capacity: usize) -> SeenTokens {
        SeenTokens {
            capacity: capacity.max(1),
            next: 0,
            by_key: HashMap::new(),
            by_age: BTreeMap::new(),
        }
    }

    /// Records `jti` of `tenant`; false if it was already recorded.
    pub(crate) fn insert(&mut self, tenant: &str, jti: &str, now: Instant) -> bool {
        let keep = MAX_AGE * 2 + Duration::from_secs(600);
        while let Some(entry) = self.by_age.first_entry() {
            let (key, at) = *entry.get();
            if now.duration_since(at) <= keep && self.by_key.len() < self.capacity {
                break;
            }
            entry.remove();
            self.by_key.remove(&key);
        }
        let mut hasher = Sha256::new();
        hasher.update(tenant.as_bytes());
        hasher.update([0]);
        hasher.update(jti.as_bytes());
        let key: [u8; 32] = hasher.finalize().into();
        if self.by_key.contains_key(&key) {
            return false;
        }
        let seq = self.next;
        self.next += 1;
        self.by_key.insert(key, seq);
        self.by_age.insert(seq, (key, now));
        true
    }
}
