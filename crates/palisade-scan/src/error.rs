//! The one error type of the crate.

/// Why a file was not scanned, or a health check failed.
///
/// None of these is a verdict: a file is clean only when the scanner said
/// so ([`Verdict::Clean`](crate::Verdict::Clean)). What an upload does on an
/// error is [`Scanner::decide`](crate::Scanner::decide)'s job: every error
/// refuses the upload, except [`Error::ScannerUnreachable`] under
/// [`FailurePolicy::FailOpen`](crate::FailurePolicy::FailOpen).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No connection to the scanner could be made (nothing listening, no
    /// socket file, connection refused, connect timed out, host not found).
    /// Nothing was read from the file.
    #[error("the virus scanner at `{address}` is unreachable: {source}")]
    ScannerUnreachable {
        /// The configured address.
        address: String,
        /// The connection error.
        #[source]
        source: std::io::Error,
    },
    /// The connection was made but the scanner then stopped answering within
    /// the configured timeout (while receiving the file or scanning it).
    #[error("the virus scanner at `{address}` did not answer in time")]
    ScannerTimedOut {
        /// The configured address.
        address: String,
        /// The read or write that timed out.
        #[source]
        source: std::io::Error,
    },
    /// The connection broke after it was made (reset, closed early).
    #[error("the connection to the virus scanner at `{address}` broke: {source}")]
    ScannerDisconnected {
        /// The configured address.
        address: String,
        /// The read or write that failed.
        #[source]
        source: std::io::Error,
    },
    /// The scanner received the file but reported an error instead of a
    /// verdict (`stream: <message> ERROR`).
    #[error("the virus scanner failed: `{message}`")]
    ScannerFailed {
        /// The scanner's message (printable ASCII; anything else escaped).
        message: String,
    },
    /// The file is longer than this client's limit, which should match
    /// clamd's `StreamMaxLength`; the client stopped sending at the limit.
    #[error("the file is larger than the virus scanner accepts ({limit} bytes)")]
    FileTooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// clamd refused the file as longer than its own `StreamMaxLength`
    /// (`INSTREAM size limit exceeded`): the client's limit is set higher than
    /// the daemon's; lower it to match.
    #[error("the file is larger than the virus scanner's StreamMaxLength")]
    ScannerLimitExceeded,
    /// The scanner's reply is none of the replies clamd sends. Never taken as
    /// clean.
    #[error("the virus scanner sent an unexpected reply `{reply}`")]
    ReplyMalformed {
        /// The reply, truncated and with anything but printable ASCII
        /// escaped.
        reply: String,
    },
    /// Reading the file to scan failed.
    #[error("reading the file to scan failed: {source}")]
    InputUnreadable {
        /// The reader's error.
        #[source]
        source: std::io::Error,
    },
    /// A scanner address that is neither `tcp://host:port`, `host:port`,
    /// `unix:/path` nor an absolute path.
    #[error(
        "invalid scanner address `{address}`; expected `tcp://host:port`, `host:port`, `unix:/path` or `/path`"
    )]
    AddressInvalid {
        /// The address as given.
        address: String,
    },
}

/// This crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
