//! The front door: begin a sign-in, complete it, log out.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreResponseType,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::url::Url;
use openidconnect::{
    AuthType, AuthenticationContextClass, AuthenticationFlow, AuthorizationCode, Client,
    ClientSecret as OidcSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IdTokenFields, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RequestTokenError, Scope, StandardErrorResponse, StandardTokenResponse,
    TokenResponse,
};
use palisade_audit::AuditSink;
use zeroize::Zeroizing;

use crate::audit::{SIGN_IN, refuse};
use crate::compile::{SecretSource, TenantConfig};
use crate::config::Config;
use crate::error::{Cause, Error, Result};
use crate::flow::{Callback, Outstanding, PendingSignIn, SignInStart, random_token};
use crate::http::Http;
use crate::identity::Authenticated;
use crate::logout::{LogoutNotice, SeenTokens, check_logout_token};
use crate::provider::{CachePolicy, Discovered, Provider};
use crate::verify::{Token, check_user, verify_token};

/// A client secret handed over by the application's secret provider; zeroized
/// on drop, never printed.
pub struct ClientSecret(Zeroizing<String>);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> ClientSecret {
        ClientSecret(Zeroizing::new(secret.into()))
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

type SecretProvider = dyn Fn(&str) -> Option<ClientSecret> + Send + Sync;

type TokenResponseOf = StandardTokenResponse<
    IdTokenFields<
        crate::verify::ExtraClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type OidcClient = Client<
    crate::verify::ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponseOf,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Default lifetime of a begun sign-in.
const DEFAULT_SIGN_IN_TTL: Duration = Duration::from_secs(600);
/// Default number of sign-ins a server keeps open at once.
const DEFAULT_MAX_PENDING: usize = 100_000;

/// Staff sign-in through each tenant's OpenID Connect provider.
///
/// One per application, shared by its request handlers (`Arc<Sso>`); all
/// methods take `&self`. See the crate documentation for the flow.
pub struct Sso {
    tenants: RwLock<Arc<BTreeMap<String, Arc<Provider>>>>,
    sink: Arc<dyn AuditSink>,
    http: Http,
    secrets: Option<Arc<SecretProvider>>,
    policy: CachePolicy,
    sign_in_ttl: Duration,
    outstanding: Mutex<Outstanding>,
    logouts: Mutex<SeenTokens>,
}

impl fmt::Debug for Sso {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sso")
            .field("tenants", &self.tenants().keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn providers(config: &Config) -> Arc<BTreeMap<String, Arc<Provider>>> {
    Arc::new(
        config
            .tenants
            .iter()
            .map(|(name, tenant)| (name.clone(), Arc::new(Provider::new(tenant.clone()))))
            .collect(),
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Sso {
    /// Serves the tenants of `config`, recording every sign-in, refusal,
    /// provisioning and logout in `audit`.
    ///
    /// Defaults: a begun sign-in lives 10 minutes; provider metadata is
    /// refetched after an hour; a token naming an unknown key triggers a key
    /// refetch at most every 10 seconds per tenant.
    pub fn new(config: Config, audit: Arc<dyn AuditSink>) -> Result<Sso> {
        Ok(Sso {
            tenants: RwLock::new(providers(&config)),
            sink: audit,
            http: Http::new()?,
            secrets: None,
            policy: CachePolicy {
                metadata_ttl: Duration::from_secs(3600),
                refetch_interval: Duration::from_secs(10),
            },
            sign_in_ttl: DEFAULT_SIGN_IN_TTL,
            outstanding: Mutex::new(Outstanding::new(DEFAULT_MAX_PENDING, DEFAULT_SIGN_IN_TTL)),
            logouts: Mutex::new(SeenTokens::new(DEFAULT_MAX_PENDING)),
        })
    }

    /// Where secrets named by `client_secret_key` come from (a KMS, palisade-crypt,
    /// the application's database): called with the key at each code exchange.
    pub fn with_client_secrets(
        mut self,
        provider: impl Fn(&str) -> Option<ClientSecret> + Send + Sync + 'static,
    ) -> Sso {
        self.secrets = Some(Arc::new(provider));
        self
    }

    /// How long a begun sign-in may take (default 10 minutes).
    pub fn with_sign_in_ttl(mut self, ttl: Duration) -> Sso {
        self.sign_in_ttl = ttl;
        lock(&self.outstanding).set_ttl(ttl);
        self
    }

    /// The least time between two key-set fetches of a tenant triggered by an
    /// unknown key (default 10 seconds).
    pub fn with_jwks_refetch_interval(mut self, interval: Duration) -> Sso {
        self.policy.refetch_interval = interval;
        self
    }

    /// How long provider metadata is cached (default 1 hour).
    pub fn with_metadata_ttl(mut self, ttl: Duration) -> Sso {
        self.policy.metadata_ttl = ttl;
        self
    }

    /// How many sign-ins may be open at once (default 100,000); past it the
    /// oldest are forgotten.
    pub fn with_max_pending(mut self, max: usize) -> Sso {
        self.outstanding = Mutex::new(Outstanding::new(max, self.sign_in_ttl));
        self
    }

    /// Replaces the configuration (an administrator changed a tenant's
    /// provider). Cached metadata and keys are dropped; open sign-ins of a
    /// tenant whose redirect URI changed will fail.
    pub fn reload(&self, config: Config) {
        let next = providers(&config);
        match self.tenants.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    fn tenants(&self) -> Arc<BTreeMap<String, Arc<Provider>>> {
        match self.tenants.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn provider(&self, tenant: &str) -> Result<Arc<Provider>> {
        self.tenants()
            .get(tenant)
            .cloned()
            .ok_or_else(|| Error::TenantUnknown(tenant.to_owned()))
    }

    fn client(
        tenant: &TenantConfig,
        discovered: &Discovered,
        secret: Option<OidcSecret>,
    ) -> OidcClient {
        let basic = discovered
            .metadata
            .token_endpoint_auth_methods_supported()
            .is_none_or(|methods| methods.contains(&CoreClientAuthMethod::ClientSecretBasic));
        OidcClient::from_provider_metadata(
            discovered.metadata.clone(),
            tenant.client_id.clone(),
            secret,
        )
        .set_redirect_uri(tenant.redirect_uri.clone())
        .set_auth_type(if basic {
            AuthType::BasicAuth
        } else {
            AuthType::RequestBody
        })
    }

    /// Begins a sign-in to `tenant`: fetches the provider's metadata if
    /// needed, draws `state`, `nonce` and a PKCE verifier, and returns the
    /// provider's authorization URL with the [`PendingSignIn`] to keep in the
    /// browser's session. Writes no audit record (anyone may begin).
    pub async fn begin(&self, tenant: &str) -> Result<SignInStart> {
        let provider = self.provider(tenant)?;
        let discovered = provider.discovered(&self.http, self.policy).await?;
        let config = &provider.config;
        let state = random_token()?;
        let nonce = random_token()?;
        let verifier = random_token()?;
        let challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.clone()));
        let client = Self::client(config, &discovered, None);
        let (state_arg, nonce_arg) = (state.clone(), nonce.clone());
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                move || CsrfToken::new(state_arg),
                move || Nonce::new(nonce_arg),
            )
            .set_pkce_challenge(challenge);
        for scope in config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        for acr in &config.second_factor.acr {
            request = request.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
        }
        let (redirect_url, _, _) = request.url();
        let pending = PendingSignIn {
            tenant: config.name.clone(),
            state,
            nonce,
            verifier,
            redirect_uri: config.redirect_uri.as_str().to_owned(),
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        lock(&self.outstanding).insert(pending.key(), Instant::now());
        Ok(SignInStart {
            redirect_url,
            pending,
        })
    }

    /// Completes a sign-in with the provider's callback and the
    /// [`PendingSignIn`] taken out of the browser's session: checks the
    /// state (once only), exchanges the code with the PKCE verifier, and
    /// verifies the ID token (signature with the provider's keys, refetched
    /// once if the key is unknown; issuer; audience; expiry and issue time
    /// with bounded skew; nonce; `at_hash`), the e-mail domain and the second
    /// factor. Each refusal is a typed error and an audit record.
    ///
    /// Then look up the local account of [`Authenticated::subject`] and call
    /// [`Authenticated::admit`].
    pub async fn complete(
        &self,
        pending: PendingSignIn,
        callback: &Callback,
    ) -> Result<Authenticated> {
        let tenant = pending.tenant.clone();
        match self.exchange(&pending, callback).await {
            Ok(authenticated) => Ok(authenticated),
            Err((error, subject)) => Err(refuse(
                self.sink.as_ref(),
                &tenant,
                subject.as_deref(),
                SIGN_IN,
                error,
            )),
        }
    }

    async fn exchange(
        &self,
        pending: &PendingSignIn,
        callback: &Callback,
    ) -> std::result::Result<Authenticated, (Error, Option<String>)> {
        let anonymous = |e: Error| (e, None);
        // Single use first: whatever happens next, this sign-in is spent.
        let outstanding = lock(&self.outstanding).take(&pending.key(), Instant::now());
        callback.check_sizes().map_err(anonymous)?;
        if pending.is_expired(self.sign_in_ttl, SystemTime::now()) {
            return Err(anonymous(Error::SignInExpired));
        }
        if !outstanding {
            return Err(anonymous(Error::SignInReplayed));
        }
        if !callback
            .state
            .as_deref()
            .is_some_and(|s| pending.state_matches(s))
        {
            return Err(anonymous(Error::StateMismatch));
        }
        let provider = self.provider(&pending.tenant).map_err(anonymous)?;
        let config = provider.config.clone();
        if let Some(error) = &callback.error {
            return Err(anonymous(Error::ProviderRefused {
                error: error.chars().take(64).collect(),
                description: callback
                    .error_description
                    .as_ref()
                    .map(|d| d.chars().take(256).collect()),
            }));
        }
        let discovered = provider
            .discovered(&self.http, self.policy)
            .await
            .map_err(anonymous)?;
        match &callback.iss {
            Some(iss) if iss != config.issuer.as_str() => {
                return Err(anonymous(Error::IssuerWrong));
            }
            None if discovered
                .metadata
                .additional_metadata()
                .authorization_response_iss_parameter_supported
                == Some(true) =>
            {
                return Err(anonymous(Error::IssuerWrong));
            }
            _ => {}
        }
        let Some(code) = &callback.code else {
            return Err(anonymous(Error::CallbackMalformed(
                "no `code` parameter".to_owned(),
            )));
        };
        if pending.redirect_uri != config.redirect_uri.as_str() {
            return Err(anonymous(Error::RedirectUriChanged));
        }

        let secret = self.client_secret(&config).await.map_err(anonymous)?;
        let client = Self::client(&config, &discovered, Some(secret));
        let request = client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .map_err(|e| {
                anonymous(Error::ProviderMetadataInvalid {
                    tenant: config.name.clone(),
                    reason: e.to_string(),
                })
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()));
        let response = request
            .request_async(&self.http)
            .await
            .map_err(|e| anonymous(token_error(&config.name, e)))?;

        let id_token = response
            .id_token()
            .ok_or(anonymous(Error::IdTokenMissing))?;
        let raw = id_token.to_string();
        let nonce = Nonce::new(pending.nonce.clone());
        let now = chrono::Utc::now();
        let claims = match verify_token(
            &config,
            &discovered,
            id_token,
            &raw,
            &nonce,
            response.access_token(),
            now,
        ) {
            Err(Error::KeyUnknown) => {
                let newer = provider
                    .refetch_keys(&self.http, self.policy, &discovered)
                    .await
                    .map_err(anonymous)?
                    .ok_or(anonymous(Error::KeyUnknown))?;
                verify_token(
                    &config,
                    &newer,
                    id_token,
                    &raw,
                    &nonce,
                    response.access_token(),
                    now,
                )
                .map_err(anonymous)?
            }
            other => other.map_err(anonymous)?,
        };
        let subject = Some(claims.subject().as_str().to_owned());
        let checked = check_user(&config, &claims, &raw).map_err(|e| (e, subject.clone()))?;
        let session_end = SystemTime::now() + config.max_session;
        let token_end = SystemTime::from(checked.expires);
        Ok(Authenticated {
            sink: self.sink.clone(),
            tenant: config,
            checked,
            expires_at: session_end.min(token_end),
            id_token: raw,
        })
    }

    async fn client_secret(&self, config: &TenantConfig) -> Result<OidcSecret> {
        let unavailable = |source: Option<Cause>| Error::ClientSecretUnavailable {
            tenant: config.name.clone(),
            source,
        };
        match &config.secret {
            SecretSource::File(path) => {
                let text =
                    Zeroizing::new(read_secret(path).await.map_err(|e| unavailable(Some(e)))?);
                let secret = text.trim_end_matches(['\r', '\n']);
                if secret.is_empty() {
                    return Err(unavailable(None));
                }
                Ok(OidcSecret::new(secret.to_owned()))
            }
            SecretSource::Key(key) => {
                let provider = self.secrets.as_ref().ok_or_else(|| unavailable(None))?;
                let secret = provider(key).ok_or_else(|| unavailable(None))?;
                Ok(OidcSecret::new(secret.0.as_str().to_owned()))
            }
        }
    }

    /// The provider's RP-initiated logout URL for a signed-in user (their
    /// [`Identity::id_token_hint`](crate::Identity::id_token_hint)), with the
    /// tenant's `post_logout_redirect_uri`; `None` if the provider has no
    /// end-session endpoint. End the local session too.
    pub async fn logout_url(&self, tenant: &str, id_token_hint: &str) -> Result<Option<Url>> {
        let provider = self.provider(tenant)?;
        let discovered = provider.discovered(&self.http, self.policy).await?;
        let Some(endpoint) = discovered
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()
        else {
            return Ok(None);
        };
        let hint: Token = id_token_hint
            .parse()
            .map_err(|e: serde_json::Error| Error::TokenMalformed(e.to_string()))?;
        let mut request = LogoutRequest::from(endpoint)
            .set_id_token_hint(&hint)
            .set_client_id(provider.config.client_id.clone());
        if let Some(uri) = &provider.config.post_logout_redirect_uri {
            request = request.set_post_logout_redirect_uri(uri.clone());
        }
        Ok(Some(request.http_get_url()))
    }

    /// Verifies a back-channel logout token the provider POSTed (form field
    /// `logout_token`) to the tenant's back-channel logout URI: signature,
    /// issuer, audience, `iat`/`exp`, the logout event, no `nonce`, and a
    /// `jti` not seen before. End every local session of the returned
    /// subject (or provider session) and answer 200; answer 400 on an error.
    pub async fn verify_logout_token(
        &self,
        tenant: &str,
        logout_token: &str,
    ) -> Result<LogoutNotice> {
        let result = self.logout_token(tenant, logout_token).await;
        match result {
            Ok(notice) => {
                crate::audit::record(
                    self.sink.as_ref(),
                    tenant,
                    notice.subject.as_deref(),
                    crate::audit::LOGOUT,
                    palisade_audit::Outcome::Success,
                    serde_json::json!({ "session_id": notice.session_id }),
                )
                .map_err(Error::AuditUnavailable)?;
                Ok(notice)
            }
            Err(e) => Err(refuse(
                self.sink.as_ref(),
                tenant,
                None,
                crate::audit::LOGOUT,
                e,
            )),
        }
    }

    async fn logout_token(&self, tenant: &str, token: &str) -> Result<LogoutNotice> {
        let provider = self.provider(tenant)?;
        let discovered = provider.discovered(&self.http, self.policy).await?;
        let now = chrono::Utc::now();
        let (notice, jti) = match check_logout_token(&provider.config, &discovered, token, now) {
            Err(Error::KeyUnknown) => {
                let newer = provider
                    .refetch_keys(&self.http, self.policy, &discovered)
                    .await?
                    .ok_or(Error::KeyUnknown)?;
                check_logout_token(&provider.config, &newer, token, now)?
            }
            other => other?,
        };
        if !lock(&self.logouts).insert(tenant, &jti, Instant::now()) {
            return Err(Error::LogoutTokenReplayed);
        }
        Ok(notice)
    }
}

async fn read_secret(path: &Path) -> std::result::Result<String, Cause> {
    let path = path.to_owned();
    tokio::fs::read_to_string(path).await.map_err(Cause::from)
}

type TokenError =
    RequestTokenError<crate::http::HttpError, StandardErrorResponse<CoreErrorResponseType>>;

fn token_error(tenant: &str, e: TokenError) -> Error {
    match e {
        RequestTokenError::ServerResponse(response) => Error::CodeRejected {
            error: response.error().as_ref().chars().take(64).collect(),
        },
        RequestTokenError::Parse(e, _) => Error::TokenMalformed(format!("token response: {e}")),
        RequestTokenError::Request(e) => Error::ProviderUnavailable {
            tenant: tenant.to_owned(),
            what: "token endpoint",
            source: Cause::from(e),
        },
        RequestTokenError::Other(message) => Error::ProviderUnavailable {
            tenant: tenant.to_owned(),
            what: "token endpoint",
            source: Cause::from(message),
        },
    }
}
