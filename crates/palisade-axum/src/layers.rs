//! The layers every route gets: cross-site refusal, security headers,
//! per-address rate limits, and the session cookie.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::principal::BoxFuture;
use crate::refusal::Refusal;

/// The web defences of a back end, as one tower layer:
///
/// - **cross-site requests refused**: a state-changing request (any method
///   but GET, HEAD, OPTIONS) whose `Sec-Fetch-Site` is not `same-origin` (or
///   `none`), or whose `Origin` is not the request's own host, is answered
///   403 before any handler runs. Clients that are not browsers send
///   neither header and pass (they carry no victim's cookie).
/// - **security headers** on every answer: a strict Content-Security-Policy
///   (no inline script), `nosniff`, `DENY` framing, `no-referrer`,
///   `no-store` on API answers, and HSTS when served over TLS.
/// - optionally **a rate limit per client address**, 429 with `Retry-After`.
#[derive(Clone, Debug)]
pub struct WebDefences {
    hsts: bool,
    csp: HeaderValue,
    api_prefix: String,
    per_address: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    trust_forwarded: bool,
}

/// The Content-Security-Policy of [`WebDefences::new`]: scripts and styles
/// from the app's own origin only.
pub const STRICT_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

impl Default for WebDefences {
    fn default() -> Self {
        Self::new()
    }
}

impl WebDefences {
    /// Cross-site refusal and security headers with [`STRICT_CSP`], no HSTS
    /// (plain HTTP), no rate limit; `no-store` on paths under `/api/`.
    pub fn new() -> Self {
        WebDefences {
            hsts: false,
            csp: HeaderValue::from_static(STRICT_CSP),
            api_prefix: "/api/".into(),
            per_address: None,
            trust_forwarded: false,
        }
    }

    /// Served over TLS (directly or behind a TLS-terminating proxy): answers
    /// carry `Strict-Transport-Security`.
    #[must_use]
    pub fn with_hsts(mut self, on: bool) -> Self {
        self.hsts = on;
        self
    }

    /// Another Content-Security-Policy (a static string).
    #[must_use]
    pub fn with_csp(mut self, csp: &'static str) -> Self {
        self.csp = HeaderValue::from_static(csp);
        self
    }

    /// At most `quota` requests per client address (the peer address from
    /// `ConnectInfo`, or with `trust_forwarded` the first `X-Forwarded-For`
    /// address a trusted proxy set).
    #[must_use]
    pub fn with_address_quota(mut self, quota: Quota, trust_forwarded: bool) -> Self {
        self.per_address = Some(Arc::new(DefaultKeyedRateLimiter::keyed(quota)));
        self.trust_forwarded = trust_forwarded;
        self
    }
}

/// Whether a state-changing request comes from the app's own pages.
pub fn same_origin(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    match headers.get(header::ORIGIN).map(HeaderValue::to_str) {
        None => true,
        Some(Ok(origin)) => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin_host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
        }
        Some(Err(_)) => false,
    }
}

/// The client address of a request: the peer, or a trusted proxy's
/// `X-Forwarded-For`.
pub fn client_address(request: &Request, trust_forwarded: bool) -> Option<IpAddr> {
    if trust_forwarded
        && let Some(first) = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
        && let Ok(ip) = first.trim().parse()
    {
        return Some(ip);
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

impl<S> tower::Layer<S> for WebDefences {
    type Service = WebDefencesService<S>;

    fn layer(&self, inner: S) -> WebDefencesService<S> {
        WebDefencesService {
            inner,
            defences: Arc::new(self.clone()),
        }
    }
}

/// The service of [`WebDefences`].
#[derive(Clone, Debug)]
pub struct WebDefencesService<S> {
    inner: S,
    defences: Arc<WebDefences>,
}

impl<S> tower::Service<Request> for WebDefencesService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let d = Arc::clone(&self.defences);
        let (request, body_read) = track_body(request);
        Box::pin(async move {
            let api = request.uri().path().starts_with(&d.api_prefix);
            let refused = if !same_origin(request.method(), request.headers()) {
                tracing::warn!(method = %request.method(), path = %request.uri().path(), "cross-site request refused");
                Some(Refusal::CrossSite)
            } else {
                d.per_address.as_ref().and_then(|limiter| {
                    use governor::clock::Clock as _;
                    let ip = client_address(&request, d.trust_forwarded)?;
                    limiter
                        .check_key(&ip)
                        .err()
                        .map(|not_until| Refusal::RateLimited {
                            retry_after: not_until
                                .wait_time_from(limiter.clock().now())
                                .as_secs()
                                .max(1),
                        })
                })
            };
            let mut response = match refused {
                Some(refusal) => refusal.into_response(),
                None => inner.call(request).await?,
            };
            let h = response.headers_mut();
            h.insert(header::CONTENT_SECURITY_POLICY, d.csp.clone());
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            if api {
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            if body_read.is_some_and(|read| !read.load(Ordering::Acquire)) {
                // Answered before the request's body was read (a refusal):
                // the server cannot tell where the next request would
                // start, so it closes the connection after this answer, and
                // says so, so that the client does not send its next
                // request on a connection about to close.
                h.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            if d.hsts {
                h.insert(
                    header::STRICT_TRANSPORT_SECURITY,
                    HeaderValue::from_static("max-age=31536000; includeSubDomains"),
                );
            }
            Ok(response)
        })
    }
}

/// Wraps a request body that may carry bytes so that reading it to its end
/// is noted; a request without a body is left as it is.
fn track_body(request: Request) -> (Request, Option<Arc<AtomicBool>>) {
    if request.body().size_hint().exact() == Some(0) {
        return (request, None);
    }
    let read = Arc::new(AtomicBool::new(false));
    let (parts, inner) = request.into_parts();
    let body = Body::new(TrackedBody {
        inner,
        read: Arc::clone(&read),
    });
    (Request::from_parts(parts, body), Some(read))
}

/// A request body that notes when it has been read to its end.
struct TrackedBody {
    inner: Body,
    read: Arc<AtomicBool>,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.read.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The session cookie: `HttpOnly; SameSite=Strict; Path=/`, and `Secure`
/// when served over TLS (with the `__Host-` name prefix, which browsers
/// accept only from a secure origin, for the whole host, on path `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCookie {
    name: String,
    secure: bool,
}

impl SessionCookie {
    /// A cookie named `name` (`__Host-name` when `secure`).
    pub fn new(name: &str, secure: bool) -> Self {
        let name = if secure {
            format!("__Host-{name}")
        } else {
            name.to_owned()
        };
        SessionCookie { name, secure }
    }

    /// The cookie's name as sent.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `Set-Cookie` value that stores `token`.
    pub fn set(&self, token: &str) -> String {
        format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Strict{}",
            self.name,
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that removes the cookie.
    pub fn clear(&self) -> String {
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            self.name,
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The token the request carries, if any.
    pub fn read<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == self.name)
            .map(|(_, v)| v)
    }
}

/// A quota of `n` requests per minute (a burst of `n`, refilled evenly).
#[must_use]
pub fn per_minute(n: u32) -> Quota {
    Quota::per_minute(std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN))
}
