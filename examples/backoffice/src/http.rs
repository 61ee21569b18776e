//! The HTTP surface: axum routes over the blocking application, the page,
//! security headers, the session cookie, request logs.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::{Auth, Backoffice, SESSION_COOKIE, Stage};
use crate::auth::{NewEmployee, Restrictions, SecondFactor, SignIn, SignUp, SignedIn, StepUp};
use crate::clients::{
    ClientChange, Hold, NewAttachment, NewClient, NewInvoice, Page, PhoneLookup, Range,
};
use crate::error::Error;

const PAGE_HTML: &str = include_str!("../assets/index.html");
const PAGE_JS: &str = include_str!("../assets/app.js");

type App = State<Arc<Backoffice>>;

/// What an operation answers.
enum Reply {
    Json(StatusCode, Value),
    SignedIn(SignedIn),
    SignedOut(Value),
    Csv(String),
    Bundle(String),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            Error::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            Error::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m.clone()),
            Error::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            Error::NotFound => (StatusCode::NOT_FOUND, "not found".into()),
            Error::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
            Error::Throttled(s) => {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({ "error": self.to_string(), "retry_after": s })),
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return r;
            }
            Error::Storage(_) | Error::Internal(_) => {
                tracing::error!(error = %self, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

impl Reply {
    fn into_response(self, secure: bool) -> Response {
        match self {
            Reply::Json(status, v) => (status, Json(v)).into_response(),
            Reply::SignedIn(s) => {
                let mut r = Json(s.body).into_response();
                let cookie = format!(
                    "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{}",
                    s.token,
                    if secure { "; Secure" } else { "" }
                );
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                }
                r
            }
            Reply::SignedOut(v) => {
                let mut r = Json(v).into_response();
                r.headers_mut().insert(
                    header::SET_COOKIE,
                    HeaderValue::from_static(
                        "bo_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                    ),
                );
                r
            }
            Reply::Csv(text) => (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"clients.csv\"",
                    ),
                ],
                text,
            )
                .into_response(),
            Reply::Bundle(text) => (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"evidence.json\"",
                    ),
                ],
                text,
            )
                .into_response(),
        }
    }
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Runs a blocking operation on Tokio's blocking pool.
async fn blocking<F>(app: Arc<Backoffice>, f: F) -> Response
where
    F: FnOnce(&Backoffice) -> Result<Reply, Error> + Send + 'static,
{
    let secure = app.config.secure_cookie;
    match tokio::task::spawn_blocking(move || f(&app)).await {
        Ok(Ok(reply)) => reply.into_response(secure),
        Ok(Err(e)) => e.into_response(),
        Err(_) => Error::Internal("worker failed".into()).into_response(),
    }
}

/// Runs an operation for a signed-in caller (`allow` lists the partial
/// sign-in stages also accepted).
async fn signed_in<F>(
    app: Arc<Backoffice>,
    headers: HeaderMap,
    allow: &'static [Stage],
    f: F,
) -> Response
where
    F: FnOnce(&Backoffice, &Auth) -> Result<Reply, Error> + Send + 'static,
{
    let token = session_token(&headers);
    blocking(app, move |app| {
        let auth = app.authenticate(token.as_deref(), allow)?;
        f(app, &auth)
    })
    .await
}

fn ok(v: Value) -> Result<Reply, Error> {
    Ok(Reply::Json(StatusCode::OK, v))
}

/// The router of the whole application.
pub fn router(app: Arc<Backoffice>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/app.js", get(script))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/signup", post(sign_up))
        .route("/api/login", post(sign_in))
        .route("/api/login/second-factor", post(second_factor))
        .route("/api/totp/enroll", post(enroll_start))
        .route("/api/totp/confirm", post(enroll_confirm))
        .route("/api/logout", post(sign_out))
        .route("/api/me", get(me))
        .route("/api/users", get(list_users).post(create_user))
        .route("/api/users/{id}/block", post(block_user))
        .route("/api/users/{id}/unblock", post(unblock_user))
        .route("/api/users/{id}/rights", put(restrict_user))
        .route("/api/users/{id}/second-factor/unlock", post(unlock_factor))
        .route("/api/clients", get(list_clients).post(create_client))
        .route("/api/clients/search", post(find_by_phone))
        .route("/api/clients/export", get(export_clients))
        .route("/api/clients/{id}", get(get_client).put(edit_client))
        .route("/api/clients/{id}/erasure", post(erase_client))
        .route("/api/clients/{id}/attachments", post(add_attachment))
        .route("/api/clients/{id}/invoices", post(add_invoice))
        .route("/api/attachments/{id}/close", post(close_ticket))
        .route("/api/attachments/{id}/hold", put(hold_attachment))
        .route("/api/retention/sweep", post(sweep))
        .route("/api/audit/bundle", get(audit_bundle))
        .route("/api/audit/verify", get(audit_verify))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            headers_and_log,
        ))
        .with_state(app)
}

/// Whether a state-changing request comes from the app's own page. Browsers
/// send `Sec-Fetch-Site` (and `Origin` on every cross-origin request and on
/// every POST): a request another site makes is refused before any handler
/// runs, whatever cookie it carries. Clients that are not browsers send
/// neither and are let through (they hold no victim's cookie).
fn same_origin(request: &Request) -> bool {
    let headers = request.headers();
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

/// Cross-site requests refused, security headers on every answer, and one
/// scrubbed log line per request.
async fn headers_and_log(State(app): App, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let safe = matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS");
    let mut response = if safe || same_origin(&request) {
        next.run(request).await
    } else {
        tracing::warn!(%method, path = %path, "cross-site request refused");
        Error::Forbidden("cross-site request refused".into()).into_response()
    };
    let h = response.headers_mut();
    if app.config.secure_cookie {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if path.starts_with("/api/") {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    tracing::debug!(
        %method,
        path = %path,
        status = response.status().as_u16(),
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

async fn page() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        PAGE_HTML,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        PAGE_JS,
    )
        .into_response()
}

async fn sign_up(State(app): App, Json(form): Json<SignUp>) -> Response {
    blocking(app, move |app| {
        Ok(Reply::Json(StatusCode::CREATED, app.sign_up(&form)?))
    })
    .await
}

async fn sign_in(State(app): App, Json(form): Json<SignIn>) -> Response {
    blocking(app, move |app| Ok(Reply::SignedIn(app.sign_in(&form)?))).await
}

async fn second_factor(
    State(app): App,
    headers: HeaderMap,
    Json(form): Json<SecondFactor>,
) -> Response {
    signed_in(app, headers, &[Stage::Totp], move |app, auth| {
        if auth.stage != Stage::Totp {
            return Err(Error::BadRequest("already signed in".into()));
        }
        Ok(Reply::SignedIn(app.second_factor(auth, &form)?))
    })
    .await
}

async fn enroll_start(State(app): App, headers: HeaderMap, Json(proof): Json<StepUp>) -> Response {
    signed_in(app, headers, &[Stage::Enroll], move |app, auth| {
        ok(app.enroll_start(auth, &proof)?)
    })
    .await
}

async fn enroll_confirm(
    State(app): App,
    headers: HeaderMap,
    Json(form): Json<SecondFactor>,
) -> Response {
    signed_in(app, headers, &[Stage::Enroll], move |app, auth| {
        Ok(Reply::SignedIn(app.enroll_confirm(auth, &form)?))
    })
    .await
}

async fn sign_out(State(app): App, headers: HeaderMap) -> Response {
    signed_in(
        app,
        headers,
        &[Stage::Totp, Stage::Enroll],
        move |app, auth| Ok(Reply::SignedOut(app.sign_out(auth)?)),
    )
    .await
}

async fn me(State(app): App, headers: HeaderMap) -> Response {
    signed_in(
        app,
        headers,
        &[Stage::Totp, Stage::Enroll],
        move |app, auth| ok(app.me(auth)?),
    )
    .await
}

async fn list_users(State(app): App, headers: HeaderMap) -> Response {
    signed_in(
        app,
        headers,
        &[],
        move |app, auth| ok(app.list_users(auth)?),
    )
    .await
}

async fn create_user(
    State(app): App,
    headers: HeaderMap,
    Json(form): Json<NewEmployee>,
) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        Ok(Reply::Json(
            StatusCode::CREATED,
            app.create_user(auth, &form)?,
        ))
    })
    .await
}

async fn block_user(State(app): App, headers: HeaderMap, Path(id): Path<String>) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        ok(app.block_user(auth, &id)?)
    })
    .await
}

async fn unblock_user(State(app): App, headers: HeaderMap, Path(id): Path<String>) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        ok(app.unblock_user(auth, &id)?)
    })
    .await
}

async fn unlock_factor(State(app): App, headers: HeaderMap, Path(id): Path<String>) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        ok(app.unlock_factor(auth, &id)?)
    })
    .await
}

async fn restrict_user(
    State(app): App,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(form): Json<Restrictions>,
) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        ok(app.restrict_user(auth, &id, &form)?)
    })
    .await
}

async fn list_clients(State(app): App, headers: HeaderMap, Query(page): Query<Page>) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        ok(app.list_clients(auth, &page)?)
    })
    .await
}

async fn create_client(
    State(app): App,
    headers: HeaderMap,
    Json(form): Json<NewClient>,
) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        Ok(Reply::Json(
            StatusCode::CREATED,
            app.create_client(auth, &form)?,
        ))
    })
    .await
}

async fn find_by_phone(
    State(app): App,
    headers: HeaderMap,
    Json(form): Json<PhoneLookup>,
) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        ok(app.find_by_phone(auth, &form)?)
    })
    .await
}

async fn export_clients(State(app): App, headers: HeaderMap) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        Ok(Reply::Csv(app.export_clients(auth)?))
    })
    .await
}

async fn get_client(State(app): App, headers: HeaderMap, Path(id): Path<String>) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        ok(app.get_client(auth, &id)?)
    })
    .await
}

async fn edit_client(
    State(app): App,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(form): Json<ClientChange>,
) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        ok(app.edit_client(auth, &id, &form)?)
    })
    .await
}

async fn erase_client(State(app): App, headers: HeaderMap, Path(id): Path<String>) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        ok(app.erase_client(auth, &id)?)
    })
    .await
}

async fn add_attachment(
    State(app): App,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(form): Json<NewAttachment>,
) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        Ok(Reply::Json(
            StatusCode::CREATED,
            app.add_attachment(auth, &id, &form)?,
        ))
    })
    .await
}

async fn add_invoice(
    State(app): App,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(form): Json<NewInvoice>,
) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        Ok(Reply::Json(
            StatusCode::CREATED,
            app.add_invoice(auth, &id, &form)?,
        ))
    })
    .await
}

async fn close_ticket(State(app): App, headers: HeaderMap, Path(id): Path<String>) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        ok(app.close_ticket(auth, &id)?)
    })
    .await
}

async fn hold_attachment(
    State(app): App,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(form): Json<Hold>,
) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        ok(app.hold_attachment(auth, &id, &form)?)
    })
    .await
}

async fn sweep(State(app): App, headers: HeaderMap) -> Response {
    signed_in(app, headers, &[], move |app, auth| ok(app.sweep(auth)?)).await
}

async fn audit_bundle(State(app): App, headers: HeaderMap, Query(range): Query<Range>) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        Ok(Reply::Bundle(app.audit_bundle(auth, &range)?))
    })
    .await
}

async fn audit_verify(State(app): App, headers: HeaderMap) -> Response {
    signed_in(app, headers, &[], move |app, auth| {
        ok(app.audit_verify(auth)?)
    })
    .await
}
