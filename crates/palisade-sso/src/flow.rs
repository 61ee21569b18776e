//! The browser leg of the sign-in: what is kept in the session between the
//! redirect to the provider and its callback, the callback's query, and the
//! server-side record that makes each sign-in single-use.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::url::{Url, form_urlencoded};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};

/// Longest callback query accepted, and longest single parameter.
pub(crate) const MAX_QUERY_LEN: usize = 16 * 1024;
const MAX_PARAM_LEN: usize = 4096;

/// What [`Sso::begin`](crate::Sso::begin) returns: where to send the browser,
/// and what to keep in its session until the callback.
#[derive(Debug)]
pub struct SignInStart {
    /// The provider's authorization URL: answer the browser with a redirect (303) to it.
    pub redirect_url: Url,
    /// The secrets of this sign-in: store them in the server-side session of
    /// the browser that began it (never in a URL), then take them out (remove)
    /// and hand them to [`Sso::complete`](crate::Sso::complete) on the callback.
    pub pending: PendingSignIn,
}

/// A sign-in in progress: the tenant, `state`, `nonce`, PKCE verifier and
/// redirect URI, bound to the browser session that began it.
///
/// Serializable (serde) so that any session store can keep it; its `Debug`
/// shows no secret and it is zeroized on drop. It is single-use: the server
/// that began it accepts it once, within the sign-in lifetime (10 minutes by
/// default).
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct PendingSignIn {
    pub(crate) tenant: String,
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) verifier: String,
    pub(crate) redirect_uri: String,
    /// Seconds since the Unix epoch when the sign-in began.
    pub(crate) created: u64,
}

impl PendingSignIn {
    /// The tenant the sign-in is for.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The registry key: a hash of the state (the state itself stays in the session).
    pub(crate) fn key(&self) -> [u8; 32] {
        Sha256::digest(self.state.as_bytes()).into()
    }

    pub(crate) fn is_expired(&self, ttl: Duration, now: SystemTime) -> bool {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        // A sign-in dated in the future (beyond a minute of clock step) is not trusted either.
        now.saturating_sub(self.created) > ttl.as_secs() || self.created > now.saturating_add(60)
    }

    /// Whether `state` (from the callback) is this sign-in's, in constant time.
    pub(crate) fn state_matches(&self, state: &str) -> bool {
        bool::from(self.state.as_bytes().ct_eq(state.as_bytes()))
    }
}

impl fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("tenant", &self.tenant)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// 32 random bytes from the operating system, base64url (43 characters).
pub(crate) fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| Error::RandomUnavailable)?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    bytes.zeroize();
    Ok(token)
}

/// The query of the provider's redirect back to the application
/// (`?code=…&state=…&iss=…` or `?error=…&state=…`).
///
/// Deserializable, so an axum handler can take `Query<Callback>`; or parse
/// the raw query with [`Callback::from_query`], which also refuses repeated
/// and oversized parameters.
#[derive(Clone, Default, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Callback {
    /// The authorization code.
    #[serde(default)]
    pub code: Option<String>,
    /// The state sent with the authorization request.
    #[serde(default)]
    pub state: Option<String>,
    /// The issuer (RFC 9207), when the provider sends it.
    #[serde(default)]
    pub iss: Option<String>,
    /// An OAuth error code, when the provider refused.
    #[serde(default)]
    pub error: Option<String>,
    /// The provider's description of the error.
    #[serde(default)]
    pub error_description: Option<String>,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("code", &self.code.as_ref().map(|_| "<redacted>"))
            .field("state", &self.state.as_ref().map(|_| "<redacted>"))
            .field("iss", &self.iss)
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

impl Callback {
    /// Parses a raw query string (`code=…&state=…`, with or without a leading `?`).
    ///
    /// Refuses a query longer than 16 KiB, a parameter longer than 4 KiB and
    /// any of the five parameters given twice (RFC 6749 §3.1); ignores others.
    pub fn from_query(query: &str) -> Result<Callback> {
        let query = query.strip_prefix('?').unwrap_or(query);
        if query.len() > MAX_QUERY_LEN {
            return Err(Error::CallbackMalformed(format!(
                "the query is longer than {MAX_QUERY_LEN} bytes"
            )));
        }
        let mut callback = Callback::default();
        let mut seen: BTreeMap<&'static str, ()> = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match name.as_ref() {
                "code" => ("code", &mut callback.code),
                "state" => ("state", &mut callback.state),
                "iss" => ("iss", &mut callback.iss),
                "error" => ("error", &mut callback.error),
                "error_description" => ("error_description", &mut callback.error_description),
                _ => continue,
            };
            if value.len() > MAX_PARAM_LEN {
                return Err(Error::CallbackMalformed(format!(
                    "parameter `{}` is longer than {MAX_PARAM_LEN} bytes",
                    slot.0
                )));
            }
            if seen.insert(slot.0, ()).is_some() {
                return Err(Error::CallbackMalformed(format!(
                    "parameter `{}` is repeated",
                    slot.0
                )));
            }
            *slot.1 = Some(value.into_owned());
        }
        Ok(callback)
    }

    /// Checks the parameter sizes of a callback built by a framework's extractor.
    pub(crate) fn check_sizes(&self) -> Result<()> {
        let fields = [
            ("code", &self.code),
            ("state", &self.state),
            ("iss", &self.iss),
            ("error", &self.error),
            ("error_description", &self.error_description),
        ];
        for (name, value) in fields {
            if value.as_ref().is_some_and(|v| v.len() > MAX_PARAM_LEN) {
                return Err(Error::CallbackMalformed(format!(
                    "parameter `{name}` is longer than {MAX_PARAM_LEN} bytes"
                )));
            }
        }
        Ok(())
    }
}

/// The sign-ins this server began and has not completed: each is accepted
/// once. Bounded: past `capacity` the oldest are forgotten (their callbacks
/// then fail with [`Error::SignInReplayed`]), so a flood of begun sign-ins
/// costs memory only up to the bound.
#[derive(Debug)]
pub(crate) struct Outstanding {
    capacity: usize,
    ttl: Duration,
    next: u64,
    by_key: HashMap<[u8; 32], u64>,
    by_age: BTreeMap<u64, ([u8; 32], Instant)>,
}

impl Outstanding {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Outstanding {
        Outstanding {
            capacity: capacity.max(1),
            ttl,
            next: 0,
            by_key: HashMap::new(),
            by_age: BTreeMap::new(),
        }
    }

    pub(crate) fn set_ttl(&mut self, ttl: Duration) {
        self.ttl = ttl;
    }

    fn expire(&mut self, now: Instant) {
        while let Some(entry) = self.by_age.first_entry() {
            let (key, created) = *entry.get();
            if now.duration_since(created) <= self.ttl && self.by_key.len() < self.capacity {
                break;
            }
            entry.remove();
            self.by_key.remove(&key);
        }
    }

    /// Records a begun sign-in.
    pub(crate) fn insert(&mut self, key: [u8; 32], now: Instant) {
        self.expire(now);
        let seq = self.next;
        self.next += 1;
        self.by_key.insert(key, seq);
        self.by_age.insert(seq, (key, now));
    }

    /// Takes a sign-in out: true if it was outstanding and not expired.
    pub(crate) fn take(&mut self, key: &[u8; 32], now: Instant) -> bool {
        let Some(seq) = self.by_key.remove(key) else {
            return false;
        };
        match self.by_age.remove(&seq) {
            Some((_, created)) => now.duration_since(created) <= self.ttl,
            None => false,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sign_in_is_taken_once() {
        let now = Instant::now();
        let mut o = Outstanding::new(4, Duration::from_secs(600));
        o.insert([1; 32], now);
        assert!(o.take(&[1; 32], now));
        assert!(!o.take(&[1; 32], now));
        assert!(!o.take(&[2; 32], now));
    }

    #[test]
    fn the_oldest_are_forgotten_past_the_capacity() {
        let now = Instant::now();
        let mut o = Outstanding::new(3, Duration::from_secs(600));
        for k in 0..5u8 {
            o.insert([k; 32], now);
        }
        assert_eq!(o.len(), 3);
        assert!(!o.take(&[0; 32], now));
        assert!(!o.take(&[1; 32], now));
        assert!(o.take(&[4; 32], now));
    }

    #[test]
    fn expired_sign_ins_are_refused_and_pruned() {
        let start = Instant::now();
        let mut o = Outstanding::new(10, Duration::from_secs(60));
        o.insert([1; 32], start);
        o.insert([2; 32], start);
        let later = start + Duration::from_secs(61);
        assert!(!o.take(&[1; 32], later));
        o.insert([3; 32], later);
        assert_eq!(o.len(), 1, "the expired entry was pruned by the insert");
    }

    #[test]
    fn callback_query_refuses_repeats_and_oversize() {
        let cb = Callback::from_query("?code=abc&state=xyz&iss=https%3A%2F%2Fidp&other=1").unwrap();
        assert_eq!(cb.code.as_deref(), Some("abc"));
        assert_eq!(cb.iss.as_deref(), Some("https://idp"));
        assert!(matches!(
            Callback::from_query("code=a&code=b"),
            Err(Error::CallbackMalformed(_))
        ));
        let long = format!("code={}", "a".repeat(MAX_PARAM_LEN + 1));
        assert!(matches!(
            Callback::from_query(&long),
            Err(Error::CallbackMalformed(_))
        ));
    }

    #[test]
    fn pending_debug_shows_no_secret() {
        let p = PendingSignIn {
            tenant: "acme".into(),
            state: "STATE-SECRET".into(),
            nonce: "NONCE-SECRET".into(),
            verifier: "VERIFIER-SECRET".into(),
            redirect_uri: "https://app/cb".into(),
            created: 1,
        };
        let shown = format!("{p:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
