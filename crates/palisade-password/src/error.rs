//! The crate's one error type.

use crate::Scheme;

/// Everything that can go wrong in this crate.
///
/// A wrong password is not an error: [`verify`](crate::PasswordHasher::verify)
/// answers it with an invalid [`Verdict`](crate::Verdict). Errors say that a
/// question could not be answered (a malformed stored hash, an unknown pepper),
/// and never contain the password or the stored hash.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The password is longer than [`Password::MAX_BYTES`](crate::Password::MAX_BYTES).
    #[error("password is longer than {max} bytes")]
    PasswordTooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// The password bytes are not UTF-8.
    #[error("password is not valid UTF-8")]
    PasswordNotUtf8,
    /// The stored hash could not be parsed.
    #[error("malformed password hash: {0}")]
    HashMalformed(&'static str),
    /// The stored hash names a scheme this crate does not know or was built without.
    #[error("unsupported password hash scheme")]
    SchemeUnsupported,
    /// The stored hash uses a scheme this hasher was configured not to accept.
    #[error("password hash scheme `{0}` is not accepted")]
    SchemeNotAccepted(Scheme),
    /// The stored hash asks for more work or memory than the configured ceiling.
    #[error("password hash cost is above the allowed ceiling")]
    CostTooHigh,
    /// A parameter given to a builder is out of range.
    #[error("`{name}` {requirement}")]
    ParamInvalid {
        /// The parameter, as named by the builder method.
        name: &'static str,
        /// What the parameter must satisfy.
        requirement: &'static str,
    },
    /// The stored hash was made with a pepper whose key id this hasher does not hold.
    #[error("unknown pepper key id `{0}`")]
    PepperUnknown(String),
    /// A pepper key id is not 1 to 8 ASCII letters, digits, `-` or `_`.
    #[error("pepper key id must be 1 to 8 ASCII letters, digits, `-` or `_`")]
    PepperIdInvalid,
    /// A pepper secret is shorter than 16 bytes.
    #[error("pepper secret must be at least 16 bytes")]
    PepperTooShort,
    /// Two peppers share a key id.
    #[error("pepper key id `{0}` is used twice")]
    PepperIdDuplicate(String),
    /// The hashing pool's memory budget cannot hold one hash of the needed size.
    #[error("memory budget of {budget_kib} KiB cannot hold a hash of {needed_kib} KiB")]
    BudgetTooSmall {
        /// The pool's budget per worker, in KiB.
        budget_kib: u64,
        /// The memory the hash needs, in KiB.
        needed_kib: u64,
    },
    /// The hashing pool has shut down.
    #[error("hashing pool has shut down")]
    PoolClosed,
    /// The login limiter's store could not be read or written. The cause is
    /// the database's error (it never contains an identifier, only the
    /// limiter's hashed keys).
    #[error("login attempt store failed: {0}")]
    AttemptStoreFailed(#[source] Cause),
    /// The login limiter's compare-and-swap kept losing to other writers of
    /// the same key: the store is under more contention than a login can
    /// wait for, or its compare-and-swap never succeeds.
    #[error("login attempt store kept changing under {tries} tries")]
    AttemptStoreContended {
        /// How many times the limiter tried.
        tries: u32,
    },
    /// An account identifier given to the login limiter is longer than
    /// [`LoginLimiter::MAX_IDENTIFIER_BYTES`](crate::LoginLimiter::MAX_IDENTIFIER_BYTES).
    #[error("account identifier is longer than {max} bytes")]
    IdentifierTooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// The pluggable breached-password check could not answer; the cause is
    /// the check's own error (it never contains the password).
    #[error("breached-password check failed: {0}")]
    BreachCheckFailed(#[source] Cause),
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    RandomUnavailable,
    /// The underlying hash function refused its inputs.
    #[error("hash computation failed: {0}")]
    HashComputationFailed(&'static str),
}

/// The underlying error of a failed store or check, as its implementation
/// reported it.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The crate's result type.
pub type Result<T> = core::result::Result<T, Error>;
