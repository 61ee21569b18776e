//! The HTTP client: reqwest over rustls, no redirects, time-outs, and a cap on
//! response bodies (a provider is configured by a tenant, so it is not trusted
//! to keep its answers small).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::reqwest;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse, http};

use crate::error::{Cause, Error, Result};

/// Largest response body read from a provider.
pub(crate) const MAX_BODY: usize = 1 << 20;

/// Why an HTTP exchange with a provider failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("request failed")]
    Request(#[source] reqwest::Error),
    #[error("cannot build the request or response")]
    Http(#[source] http::Error),
    #[error("the response body is larger than {MAX_BODY} bytes")]
    BodyTooLarge,
}

/// A reqwest client that never follows redirects and caps bodies.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
}

impl Http {
    pub(crate) fn new() -> Result<Http> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .https_only(false)
            .build()
            .map_err(|e| Error::HttpClientUnavailable(Cause::from(e)))?;
        Ok(Http { client })
    }

    /// Performs one request.
    async fn fetch(&self, request: HttpRequest) -> std::result::Result<HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request).map_err(HttpError::Request)?;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(HttpError::Request)?;
        if response
            .content_length()
            .is_some_and(|len| len > MAX_BODY as u64)
        {
            return Err(HttpError::BodyTooLarge);
        }
        let mut builder = http::Response::builder()
            .status(response.status())
            .version(response.version());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(HttpError::Request)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(HttpError::BodyTooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        builder.body(body).map_err(HttpError::Http)
    }
}

/// openidconnect's async client interface, with a `Send` future so that the
/// crate's futures can run in any multi-threaded executor (axum handlers).
impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.fetch(request))
    }
}
