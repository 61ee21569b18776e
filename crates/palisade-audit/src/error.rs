//! The one error type of the crate.

/// What can go wrong while recording, storing or verifying an audit log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An event's time cannot be represented (before 1677 or after 2262).
    #[error("event time is outside the representable range")]
    TimeOutOfRange,
    /// A field of an event is longer than the encoding allows.
    #[error("field `{0}` is too long")]
    FieldTooLong(&'static str),
    /// An event has more data subjects than the encoding allows.
    #[error("event has too many data subjects")]
    TooManySubjects,
    /// A payload could not be serialized.
    #[error("cannot serialize the payload: {0}")]
    Payload(String),
    /// Bytes that should hold an encoded record, checkpoint, key or bundle do not.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Why it was rejected.
        why: String,
    },
    /// A record index or tree size beyond the end of the log.
    #[error("index or size `{0}` is beyond the end of the log")]
    OutOfRange(u64),
    /// A proof was requested for sizes that do not make sense together.
    #[error("invalid proof request: {0}")]
    InvalidRequest(String),
    /// The log failed verification: the first bad record and why.
    #[error("{0}")]
    Verification(crate::Finding),
    /// A proof or signature did not verify (deliberately opaque).
    #[error("verification failed")]
    VerificationFailed,
    /// The store reported an I/O error.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The database store reported an error.
    #[error("database error: {0}")]
    Database(String),
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed")]
    Entropy,
    /// A lock was poisoned by a panic in another thread.
    #[error("the log is unusable after a panic in another thread")]
    Poisoned,
}

/// The result type of the crate.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn malformed(what: &'static str, why: impl Into<String>) -> Error {
    Error::Malformed {
        what,
        why: why.into(),
    }
}
