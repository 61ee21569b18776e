//! How a request is refused: one JSON shape for every status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why the guard (or the application, through the same type) refuses a
/// request. Every refusal is answered as `{"error": "<message>"}` with its
/// status, so clients parse one shape; internal failures say nothing more
/// than `internal error` (the cause is logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// No session, or an expired one: 401.
    #[error("sign in first")]
    Unauthenticated,
    /// The principal is blocked; its sessions have been ended: 401.
    #[error("the account is blocked")]
    Blocked,
    /// The policy does not allow the action: 403.
    #[error("not allowed to {action} {resource}")]
    Forbidden {
        /// The action asked, e.g. `export`.
        action: String,
        /// The resource type, lowercase, e.g. `client`.
        resource: String,
    },
    /// No such resource in the caller's tenant (including resources of
    /// other tenants, whose existence is not revealed): 404.
    #[error("not found")]
    NotFound,
    /// The action needs a recent proof (password or code) in this session: 403.
    #[error("this action needs your password or a code again (step-up)")]
    StepUpRequired,
    /// A user viewing the app as another may not change anything: 403.
    #[error("read-only while viewing as another user")]
    ReadOnly,
    /// A state-changing request made by another site: 403.
    #[error("cross-site request refused")]
    CrossSite,
    /// Too many requests; retry after this many seconds: 429.
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited {
        /// Seconds until the next request is allowed.
        retry_after: u64,
    },
    /// A response the guard could not vouch for (an undeclared field, a
    /// failed audit append): 500.
    #[error("internal error")]
    Internal,
}

impl Refusal {
    /// The HTTP status it is answered with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Unauthenticated | Refusal::Blocked => StatusCode::UNAUTHORIZED,
            Refusal::Forbidden { .. }
            | Refusal::StepUpRequired
            | Refusal::ReadOnly
            | Refusal::CrossSite => StatusCode::FORBIDDEN,
            Refusal::NotFound => StatusCode::NOT_FOUND,
            Refusal::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(crate) fn forbidden(action: &str, type_name: &str) -> Refusal {
        Refusal::Forbidden {
            action: action.to_owned(),
            resource: type_name.to_lowercase(),
        }
    }
}

/// The JSON error answer every refusal and every application error uses:
/// `{"error": message}` with `status`, plus `retry_after` (and the
/// `Retry-After` header) when given.
#[must_use]
pub fn error_response(status: StatusCode, message: &str, retry_after: Option<u64>) -> Response {
    let body = match retry_after {
        Some(s) => serde_json::json!({ "error": message, "retry_after": s }),
        None => serde_json::json!({ "error": message }),
    };
    let mut response = (status, Json(body)).into_response();
    if let Some(s) = retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let retry_after = match self {
            Refusal::RateLimited { retry_after } => Some(retry_after),
            _ => None,
        };
        let mut response = error_response(self.status(), &self.to_string(), retry_after);
        if self == Refusal::StepUpRequired {
            response
                .headers_mut()
                .insert("x-step-up", HeaderValue::from_static("required"));
        }
        response
    }
}
