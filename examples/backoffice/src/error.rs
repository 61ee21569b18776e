//! The one error type of the back office, and how it reaches HTTP clients.

/// What can go wrong in the back office.
///
/// HTTP answers carry only the message of the client errors; internal
/// failures are logged (scrubbed) and answered with a generic message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or refused by validation.
    #[error("{0}")]
    BadRequest(String),
    /// No valid session, or the credentials are wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// The policy does not allow the action.
    #[error("{0}")]
    Forbidden(String),
    /// Well-formed but refused by a content rule (a card number in free text).
    #[error("{0}")]
    Unprocessable(String),
    /// A service the request needs is not available (the virus scanner).
    #[error("{0}")]
    Unavailable(String),
    /// No such object in the caller's tenant.
    #[error("not found")]
    NotFound,
    /// The request conflicts with the state (e.g. an e-mail already in use).
    #[error("{0}")]
    Conflict(String),
    /// The guard refused (from a check a handler made through it).
    #[error("{0}")]
    Refused(palisade_axum::Refusal),
    /// Too many attempts; retry after the given number of seconds.
    #[error("too many attempts; retry in {0} s")]
    Throttled(u64),
    /// The database failed.
    #[error("storage failed: {0}")]
    Storage(String),
    /// A Palisade crate or the system failed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The result type of the back office.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Internal(e.to_string())
    }
}

impl From<palisade_axum::Refusal> for Error {
    fn from(refusal: palisade_axum::Refusal) -> Self {
        Error::Refused(refusal)
    }
}
