//! The HTTP surface: the routes, the guard and the web defences around
//! them, the page, and one JSON shape for every error.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use palisade_axum::{Guard, SessionCookie, WebDefences, error_response};
use serde::de::DeserializeOwned;

use crate::app::{Backoffice, SESSION_COOKIE};
use crate::error::Error;
use crate::{
    alerts, attachments, auth, bookings, clients, closure, downloads, evidence, finance, gate,
    insights, invoices, oversight, retention, settings, users,
};

const PAGE_HTML: &str = include_str!("../assets/index.html");
const PAGE_JS: &str = include_str!("../assets/app.js");
const PAGE_CSS: &str = include_str!("../assets/app.css");

/// What every handler can reach: the app, its guard, its session cookie.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) app: Arc<Backoffice>,
    pub(crate) guard: Guard,
    pub(crate) cookie: SessionCookie,
}

impl FromRef<AppState> for Guard {
    fn from_ref(state: &AppState) -> Guard {
        state.guard.clone()
    }
}

impl FromRef<AppState> for Arc<Backoffice> {
    fn from_ref(state: &AppState) -> Arc<Backoffice> {
        Arc::clone(&state.app)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            Error::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            Error::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m.clone()),
            Error::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            Error::NotFound => (StatusCode::NOT_FOUND, "not found".into()),
            Error::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
            Error::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m.clone()),
            Error::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m.clone()),
            Error::Throttled(s) => {
                return error_response(StatusCode::TOO_MANY_REQUESTS, &self.to_string(), Some(*s));
            }
            Error::Refused(refusal) => return refusal.clone().into_response(),
            Error::Storage(_) | Error::Internal(_) => {
                tracing::error!(error = %self, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
            }
        };
        error_response(status, &message, None)
    }
}

/// A JSON body; a malformed one is answered like every other error
/// (`{"error": …}`, 400, or 415 without a JSON content type).
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => {
                let status = match &rejection {
                    JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    _ => StatusCode::BAD_REQUEST,
                };
                Err(error_response(status, &rejection.body_text(), None))
            }
        }
    }
}

/// The address of the client: the peer, or behind a TLS-terminating proxy
/// the address it forwards (`X-Forwarded-For`); `0.0.0.0` when neither is
/// known (a router served without connection info).
pub(crate) struct ClientAddr(pub(crate) IpAddr);

impl<S> FromRequestParts<S> for ClientAddr
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let trust_forwarded = AppState::from_ref(state).app.config.secure_cookie;
        let forwarded = trust_forwarded
            .then(|| {
                parts
                    .headers
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(',').next())
                    .and_then(|v| v.trim().parse().ok())
            })
            .flatten();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientAddr(
            forwarded
                .or(peer)
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

/// The router of the whole application.
pub fn router(app: Arc<Backoffice>) -> Router {
    let cookie = SessionCookie::new(SESSION_COOKIE, app.config.over_tls());
    let guard = gate::guard(&app, &cookie);
    let defences = WebDefences::new().with_hsts(app.config.over_tls());
    let state = AppState {
        app,
        guard: guard.clone(),
        cookie,
    };
    Router::new()
        .route("/", get(page))
        .route("/app.js", get(script))
        .route("/app.css", get(style))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/signup", post(auth::sign_up_route))
        .route("/api/login", post(auth::sign_in_route))
        .route("/api/login/second-factor", post(auth::second_factor_route))
        .route("/api/totp/enroll", post(auth::enroll_route))
        .route("/api/totp/confirm", post(auth::confirm_route))
        .route("/api/step-up", post(auth::step_up_route))
        .route("/api/logout", post(auth::sign_out_route))
        .route("/api/me", get(auth::me_route))
        .route("/api/me/password", post(auth::change_password_route))
        .route("/api/view-as/end", post(auth::end_view_as_route))
        .route("/api/users", get(users::list).post(users::create))
        .route("/api/users/{user}/block", post(users::block))
        .route("/api/users/{user}/unblock", post(users::unblock))
        .route("/api/users/{user}", delete(users::delete))
        .route("/api/users/{user}/view-as", post(users::view_as))
        .route(
            "/api/users/{user}/second-factor/reset",
            post(users::reset_factor),
        )
        .route("/api/users/{user}/rights", put(users::restrict))
        .route(
            "/api/users/{user}/rights/grant/{right}",
            delete(users::lift_grant),
        )
        .route(
            "/api/users/{user}/rights/deny/{right}",
            delete(users::lift_deny),
        )
        .route(
            "/api/users/{user}/rights/fields/{field}",
            delete(users::lift_field),
        )
        .route(
            "/api/users/{user}/second-factor/unlock",
            post(users::unlock_factor),
        )
        .route("/api/clients", get(clients::list).post(clients::create))
        .route("/api/clients/search", post(clients::search))
        .route("/api/clients/export", get(clients::export))
        .route(
            "/api/clients/{client}",
            get(clients::get).put(clients::edit),
        )
        .route("/api/clients/{client}/erasure", post(retention::erase))
        .route("/api/clients/{client}/attachments", post(attachments::add))
        .route("/api/clients/{client}/invoices", post(invoices::add))
        .route("/api/attachments/{attachment}", get(attachments::get))
        .route(
            "/api/attachments/{attachment}/close",
            post(attachments::close),
        )
        .route("/api/attachments/{attachment}/hold", put(attachments::hold))
        .route("/api/clients/{client}/bookings", post(bookings::add))
        .route("/api/bookings", get(bookings::list))
        .route(
            "/api/bookings/{booking}",
            put(bookings::edit).delete(bookings::delete),
        )
        .route("/api/invoices", get(finance::invoices))
        .route("/api/invoices/{invoice}/payments", post(finance::pay))
        .route("/api/payments", get(finance::payments))
        .route(
            "/api/tariffs",
            get(finance::tariffs).post(finance::add_tariff),
        )
        .route("/api/tariffs/{tariff}", put(finance::edit_tariff))
        .route("/api/analytics", get(insights::analytics))
        .route("/api/statistics", get(insights::all))
        .route("/api/statistics/{user}", get(insights::of))
        .route("/api/settings", get(settings::get).put(settings::put))
        .route("/api/retention/sweep", post(retention::sweep))
        .route("/api/audit/bundle", get(evidence::bundle))
        .route("/api/audit/verify", get(evidence::verify))
        .route("/api/audit/actions", get(oversight::actions))
        .route("/api/audit/access", get(oversight::access))
        .route("/api/incidents/report", get(oversight::report))
        .route("/api/alerts", get(alerts::list))
        .route("/api/tenant/close", post(closure::close))
        .route("/api/downloads", get(downloads::list))
        .route("/api/downloads/{download}", get(downloads::get))
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async {
            error_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed", None)
        })
        .layer(guard.layer())
        .layer(defences)
        .layer(middleware::from_fn(request_log))
        .with_state(state)
}

/// One scrubbed log line per request.
async fn request_log(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        path = %path,
        status = response.status().as_u16(),
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE_HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", PAGE_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", PAGE_CSS)
}
