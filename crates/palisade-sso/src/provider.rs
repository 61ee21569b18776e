//! Each tenant's provider: discovery and key set, fetched once and cached, the
//! key set refetched (at most once per interval) when a token names an
//! unknown key.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, DiscoveryError, EndSessionUrl, JsonWebKeySet, ProviderMetadata,
};
use serde::{Deserialize, Serialize};

use crate::compile::TenantConfig;
use crate::error::{Cause, Error, Result};
use crate::http::{Http, HttpError};
use crate::validate::url_problem;

/// Metadata fields openidconnect's core type leaves to the application.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(crate) struct ExtraMetadata {
    #[serde(default)]
    pub(crate) end_session_endpoint: Option<EndSessionUrl>,
    #[serde(default)]
    pub(crate) backchannel_logout_supported: Option<bool>,
    #[serde(default)]
    pub(crate) authorization_response_iss_parameter_supported: Option<bool>,
    #[serde(default)]
    pub(crate) code_challenge_methods_supported: Option<Vec<String>>,
}

impl AdditionalProviderMetadata for ExtraMetadata {}

/// The provider metadata type used throughout the crate.
pub(crate) type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// A provider's metadata and key set as fetched.
#[derive(Debug)]
pub(crate) struct Discovered {
    pub(crate) metadata: Metadata,
    /// The tenant's algorithms that the provider advertises for ID tokens.
    pub(crate) algorithms: Vec<CoreJwsSigningAlgorithm>,
    /// When the metadata was fetched.
    fetched: Instant,
    /// Bumped at each key-set fetch, so concurrent refetches coalesce.
    pub(crate) generation: u64,
}

/// How long cached metadata stays fresh and how often an unknown key may
/// trigger a key-set refetch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CachePolicy {
    pub(crate) metadata_ttl: Duration,
    pub(crate) refetch_interval: Duration,
}

/// The runtime state of one tenant's provider.
#[derive(Debug)]
pub(crate) struct Provider {
    pub(crate) config: Arc<TenantConfig>,
    current: RwLock<Option<Arc<Discovered>>>,
    /// Serializes fetches; holds when the key set was last fetched.
    fetch: tokio::sync::Mutex<Option<Instant>>,
}

fn unavailable(tenant: &str, what: &'static str, source: Cause) -> Error {
    Error::ProviderUnavailable {
        tenant: tenant.to_owned(),
        what,
        source,
    }
}

fn discovery_error(tenant: &str, what: &'static str, e: DiscoveryError<HttpError>) -> Error {
    match e {
        DiscoveryError::Validation(reason) => Error::ProviderMetadataInvalid {
            tenant: tenant.to_owned(),
            reason,
        },
        other => unavailable(tenant, what, Cause::from(other)),
    }
}

impl Provider {
    pub(crate) fn new(config: Arc<TenantConfig>) -> Provider {
        Provider {
            config,
            current: RwLock::new(None),
            fetch: tokio::sync::Mutex::new(None),
        }
    }

    fn cached(&self) -> Option<Arc<Discovered>> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn store(&self, discovered: Arc<Discovered>) {
        match self.current.write() {
            Ok(mut guard) => *guard = Some(discovered),
            Err(poisoned) => *poisoned.into_inner() = Some(discovered),
        }
    }

    /// The provider's metadata and keys, fetched if absent or stale.
    pub(crate) async fn discovered(
        &self,
        http: &Http,
        policy: CachePolicy,
    ) -> Result<Arc<Discovered>> {
        if let Some(d) = self.cached()
            && d.fetched.elapsed() < policy.metadata_ttl
        {
            return Ok(d);
        }
        let mut last_keys = self.fetch.lock().await;
        if let Some(d) = self.cached()
            && d.fetched.elapsed() < policy.metadata_ttl
        {
            return Ok(d);
        }
        let tenant = &self.config.name;
        let metadata = Metadata::discover_async(self.config.issuer.clone(), http)
            .await
            .map_err(|e| discovery_error(tenant, "discovery", e))?;
        let algorithms = self.check(&metadata)?;
        let generation = self.cached().map_or(0, |d| d.generation + 1);
        let discovered = Arc::new(Discovered {
            metadata,
            algorithms,
            fetched: Instant::now(),
            generation,
        });
        *last_keys = Some(Instant::now());
        self.store(discovered.clone());
        Ok(discovered)
    }

    /// Refetches the key set after a token named a key it lacks. Returns the
    /// newer state (fetched now or by a concurrent caller since `seen`), or
    /// `None` when a fetch happened less than the refetch interval ago.
    pub(crate) async fn refetch_keys(
        &self,
        http: &Http,
        policy: CachePolicy,
        seen: &Discovered,
    ) -> Result<Option<Arc<Discovered>>> {
        let mut last_keys = self.fetch.lock().await;
        if let Some(d) = self.cached()
            && d.generation != seen.generation
        {
            return Ok(Some(d));
        }
        if last_keys.is_some_and(|at| at.elapsed() < policy.refetch_interval) {
            return Ok(None);
        }
        let jwks = JsonWebKeySet::<CoreJsonWebKey>::fetch_async(seen.metadata.jwks_uri(), http)
            .await
            .map_err(|e| discovery_error(&self.config.name, "key set", e))?;
        *last_keys = Some(Instant::now());
        let discovered = Arc::new(Discovered {
            metadata: seen.metadata.clone().set_jwks(jwks),
            algorithms: seen.algorithms.clone(),
            fetched: seen.fetched,
            generation: seen.generation + 1,
        });
        self.store(discovered.clone());
        Ok(Some(discovered))
    }

    /// Checks the metadata against the tenant's requirements; returns the
    /// algorithms both allow.
    fn check(&self, metadata: &Metadata) -> Result<Vec<CoreJwsSigningAlgorithm>> {
        let invalid = |reason: String| Error::ProviderMetadataInvalid {
            tenant: self.config.name.clone(),
            reason,
        };
        let algorithms: Vec<CoreJwsSigningAlgorithm> = self
            .config
            .algorithms
            .iter()
            .filter(|a| metadata.id_token_signing_alg_values_supported().contains(a))
            .cloned()
            .collect();
        if algorithms.is_empty() {
            return Err(invalid(
                "the provider signs id tokens with no algorithm the tenant allows".to_owned(),
            ));
        }
        if let Some(methods) = &metadata
            .additional_metadata()
            .code_challenge_methods_supported
            && !methods.iter().any(|m| m == "S256")
        {
            return Err(invalid(
                "the provider does not support pkce with `S256`".to_owned(),
            ));
        }
        let Some(token) = metadata.token_endpoint() else {
            return Err(invalid("the provider has no token endpoint".to_owned()));
        };
        let endpoints = [
            (
                "authorization endpoint",
                metadata.authorization_endpoint().as_str(),
            ),
            ("token endpoint", token.as_str()),
            ("key set", metadata.jwks_uri().as_str()),
        ];
        for (what, url) in endpoints {
            if let Some(why) = url_problem(url, true) {
                return Err(invalid(format!("its {what} `{url}` {why}")));
            }
        }
        Ok(algorithms)
    }
}
