//! The one error type of the crate.

use std::sync::Arc;

use crate::Finding;

/// A driver's error, kept whole as the source of [`Error::DatabaseFailed`]
/// and [`Error::TlsFailed`] (downcast it to `rusqlite::Error` or
/// `tokio_postgres::Error` for the details).
pub(crate) type DriverError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong while recording, storing or verifying an audit log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An event's time cannot be represented (before 1970 or after 2262).
    #[error("event time is outside the representable range")]
    TimeOutOfRange,
    /// A field of an event is longer than the encoding allows.
    #[error("field `{0}` is too long")]
    FieldTooLong(&'static str),
    /// An event names more data subjects than the encoding allows.
    #[error("event has too many data subjects")]
    SubjectsTooMany,
    /// A payload could not be serialized as JSON.
    #[error("cannot serialize the payload: {0}")]
    PayloadUnserializable(#[source] serde_json::Error),
    /// Bytes or text that should hold an encoded record, hash, checkpoint,
    /// key or bundle do not.
    #[error("malformed {what}: {why}")]
    InputMalformed {
        /// What was being decoded.
        what: &'static str,
        /// Why it was rejected.
        why: String,
    },
    /// A record index or tree size beyond the end of the log.
    #[error("index or size `{0}` is beyond the end of the log")]
    IndexOutOfRange(u64),
    /// A range or pair of tree sizes that does not make sense together.
    #[error("invalid range: {0}")]
    RangeInvalid(String),
    /// Signing a checkpoint or exporting a bundle needs a signing key, and
    /// the log has none.
    #[error("the log has no signing key")]
    SignerMissing,
    /// The log (or a bundle) failed verification: the first bad record and
    /// why.
    #[error("{0}")]
    LogInvalid(Finding),
    /// A log directory holds an incomplete tail or an interrupted erasure
    /// left by a crash; [`FileStore::recover`](crate::FileStore::recover)
    /// repairs it and says what it did.
    #[error("the log needs recovery after a crash: {0}")]
    RecoveryNeeded(Finding),
    /// A proof or signature did not verify (deliberately opaque).
    #[error("verification failed")]
    ProofInvalid,
    /// Another process holds the log directory open for appending.
    #[error("the log is open for appending in another process")]
    LogLocked,
    /// The file system reported an error.
    #[error("i/o error: {0}")]
    IoFailed(#[from] std::io::Error),
    /// The database reported an error (the driver's error is the source).
    #[error("database error: {}", chain(&**.0))]
    DatabaseFailed(#[source] DriverError),
    /// The TLS handshake with the database failed: its certificate is not
    /// signed by the trusted CA or names another host, or the server offers
    /// no TLS where it is required (the driver's error is the source).
    #[error("tls handshake with the database failed: {}", chain(&**.0))]
    TlsFailed(#[source] DriverError),
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed")]
    RandomUnavailable,
    /// A lock was poisoned by a panic in another thread.
    #[error("the log is unusable after a panic in another thread")]
    LockPoisoned,
    /// The group commit that carried this record failed: nothing of the
    /// batch is acknowledged (every caller of the batch gets this error).
    #[error("the batch this record was committed with failed: {0}")]
    BatchFailed(#[source] Arc<Error>),
    /// The async log's worker (its writer task or a blocking store call)
    /// stopped before the operation finished: the runtime shut down, or the
    /// store panicked. A record it carried may or may not be committed; it
    /// was not acknowledged.
    #[error("the audit log's worker stopped before the operation finished")]
    WorkerStopped,
    /// The async log was used outside a tokio runtime.
    #[error("the async audit log needs a tokio runtime")]
    RuntimeMissing,
}

/// The result type of the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// An error and its sources, `: `-separated: drivers keep the detail (a
/// server's message, a certificate problem) in the source chain.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let part = e.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = e.source();
    }
    text
}

pub(crate) fn malformed(what: &'static str, why: impl Into<String>) -> Error {
    Error::InputMalformed {
        what,
        why: why.into(),
    }
}
