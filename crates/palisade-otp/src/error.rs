//! The error type of the crate: verdicts first, then causes.

/// What can go wrong in this crate.
///
/// The variants fall in two groups.
///
/// **Verdicts** answer the question a verification asks ("is this code
/// good?"). A refused code is an `Err`, so that `?` stops the request and no
/// path can act on a code that was not accepted; the success value is what
/// the caller goes on with (the matched time step, the activated factor).
/// [`Error::Invalid`] is deliberately opaque (it does not say whether the
/// code was malformed, outside the window or simply wrong);
/// [`Error::Replayed`], [`Error::Throttled`] and [`Error::Locked`] tell the
/// application what to show the user. The step-up variants
/// ([`Error::StepUpRequired`], [`Error::StepUpExpired`],
/// [`Error::StepUpInFuture`], [`Error::ProofInvalid`]) say what a change to
/// an active factor still needs. [`Error::is_verdict`] tells the two groups
/// apart.
///
/// **Causes** say the question could not be asked: a key URI that does not
/// parse ([`Error::Uri`] with a [`UriError`]), a secret of the wrong size or
/// encoding ([`Error::Secret`] with a [`SecretError`]), a parameter out of
/// range, stored recovery codes that do not read, the operating system's
/// random source or clock failing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The code is not valid for this factor (wrong, malformed or outside the
    /// accepted window).
    #[error("invalid code")]
    Invalid,
    /// The code was valid once but its time step (or counter) is not after the
    /// last accepted one.
    #[error("code already used")]
    Replayed,
    /// Too many consecutive failures: verification is refused until the given
    /// Unix time (seconds).
    #[error("too many failed attempts; try again at unix time {until}")]
    Throttled {
        /// First Unix time (seconds) at which a new attempt is considered.
        until: u64,
    },
    /// The configured number of consecutive failures was reached: the factor
    /// stays locked until [`FactorState::unlock`](crate::FactorState::unlock).
    #[error("too many failed attempts; the factor is locked")]
    Locked,

    /// A change to an active factor was asked for without proof: it needs a
    /// code or a recovery code of the factor, or a recent password check
    /// (see [`StepUp`](crate::StepUp)).
    #[error(
        "this change needs a code from the current factor, a recovery code or a recent password check"
    )]
    StepUpRequired,
    /// The password check offered as proof is older than the step-up window.
    #[error(
        "the password was checked {age} s ago; this change needs a check within the last {window} s"
    )]
    StepUpExpired {
        /// Seconds between the password check and now.
        age: u64,
        /// The step-up window in seconds.
        window: u64,
    },
    /// The password check offered as proof is dated more than a minute after
    /// the current time: a clock mix-up, or milliseconds passed as seconds.
    #[error(
        "the password check time {verified_at} is after the current time {now}; pass unix seconds from the server clock"
    )]
    StepUpInFuture {
        /// The time passed as the password check, in Unix seconds.
        verified_at: u64,
        /// The current time passed, in Unix seconds.
        now: u64,
    },
    /// The code or recovery code offered as proof of the active factor was
    /// not accepted (wrong, malformed or already used; deliberately opaque,
    /// like [`Error::Invalid`]). The failure was counted in the factor's
    /// state.
    #[error("the code or recovery code given as proof of the current factor is not valid")]
    ProofInvalid,

    /// A key URI that cannot be parsed or rendered.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// A secret of the wrong size or encoding.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// An algorithm name other than SHA1, SHA256 or SHA512.
    #[error("unknown algorithm `{0}`; expected SHA1, SHA256 or SHA512")]
    AlgorithmUnknown(String),
    /// A digit count other than 6, 7 or 8.
    #[error("digits must be 6, 7 or 8, not `{0}`")]
    DigitsOutOfRange(u8),
    /// A period of zero or longer than a day.
    #[error("period must be 1 to 86400 seconds, not `{0}`")]
    PeriodOutOfRange(u64),
    /// A TOTP operation on an HOTP key or the other way round.
    #[error("expected a {expected} key, found a {found} key")]
    KindMismatch {
        /// The kind of key the operation needs (`totp` or `hotp`).
        expected: &'static str,
        /// The kind of key it was given.
        found: &'static str,
    },
    /// The QR code could not be drawn: the key URI is too long for a QR
    /// code, or the image could not be encoded ([`QrError`](crate::QrError)
    /// says which; the encoder's error is its source).
    #[cfg(feature = "qr")]
    #[cfg_attr(docsrs, doc(cfg(feature = "qr")))]
    #[error("cannot draw the QR code: {0}")]
    QrUnrenderable(#[source] crate::QrError),
    /// A number of recovery codes outside 1 to 100.
    #[error("recovery code count must be 1 to 100, not `{0}`")]
    RecoveryCountOutOfRange(usize),
    /// Stored recovery code hashes that are not in this crate's format.
    #[error("stored recovery codes are malformed: {0}")]
    RecoveryCodesMalformed(&'static str),
    /// The operating system's random source failed.
    #[error("the operating system's random source is unavailable")]
    RandomUnavailable,
    /// The system clock reads a time before 1970.
    #[error("the system clock is before 1970")]
    ClockBeforeEpoch,
}

impl Error {
    /// Whether this is a verdict on a code or a proof (the first group:
    /// [`Error::Invalid`], [`Error::Replayed`], [`Error::Throttled`],
    /// [`Error::Locked`] and the step-up variants) rather than a cause that
    /// kept the question from being asked.
    #[must_use]
    pub fn is_verdict(&self) -> bool {
        matches!(
            self,
            Error::Invalid
                | Error::Replayed
                | Error::Throttled { .. }
                | Error::Locked
                | Error::StepUpRequired
                | Error::StepUpExpired { .. }
                | Error::StepUpInFuture { .. }
                | Error::ProofInvalid
        )
    }
}

/// Why an `otpauth://` key URI cannot be parsed or rendered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// The text does not start with `otpauth://`.
    #[error("not an otpauth URI")]
    SchemeInvalid,
    /// The OTP type is neither `totp` nor `hotp`.
    #[error("unknown OTP type `{0}`; expected totp or hotp")]
    TypeUnknown(String),
    /// The URI's structure is broken (what is wrong is given).
    #[error("malformed otpauth URI: {0}")]
    Malformed(&'static str),
    /// An issuer or account name that cannot go into a label (what is wrong
    /// is given).
    #[error("invalid label: {0}")]
    LabelInvalid(&'static str),
    /// The issuer prefix of the label and the `issuer` parameter differ.
    #[error("issuer `{label}` in the label differs from issuer `{parameter}` in the parameters")]
    IssuerMismatch {
        /// Issuer prefix of the label.
        label: String,
        /// Value of the `issuer` parameter.
        parameter: String,
    },
    /// The URI has no `secret` parameter (or an empty one).
    #[error("otpauth URI has no secret")]
    SecretMissing,
    /// A security parameter appears more than once.
    #[error("parameter `{0}` appears more than once")]
    ParameterRepeated(String),
    /// An `algorithm` parameter other than SHA1, SHA256 or SHA512.
    #[error("unknown algorithm `{0}`; expected SHA1, SHA256 or SHA512")]
    AlgorithmUnknown(String),
    /// A `digits` parameter other than 6, 7 or 8.
    #[error("digits must be 6, 7 or 8, not `{0}`")]
    DigitsInvalid(String),
    /// A `period` parameter that is zero, longer than a day or not a number.
    #[error("period must be 1 to 86400 seconds, not `{0}`")]
    PeriodInvalid(String),
    /// An `hotp` URI without its required `counter` parameter.
    #[error("hotp URI has no counter")]
    CounterMissing,
    /// A `counter` parameter that is not a decimal number.
    #[error("counter `{0}` is not a number")]
    CounterInvalid(String),
}

/// Why bytes or text cannot be a factor's shared secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// A secret shorter than RFC 4226's minimum of 128 bits.
    #[error("secret has {bits} bits; at least 128 are required")]
    TooShort {
        /// Length of the rejected secret in bits.
        bits: usize,
    },
    /// A secret longer than this crate accepts (1024 bytes).
    #[error("secret has {bytes} bytes; at most 1024 are accepted")]
    TooLong {
        /// Length of the rejected secret in bytes.
        bytes: usize,
    },
    /// The secret is not base32 (RFC 4648).
    #[error("secret is not valid base32")]
    Base32Invalid,
}

/// Result of this crate's operations.
pub type Result<T> = core::result::Result<T, Error>;

/// At most this many characters of user input are echoed in an error message.
const ECHO_LIMIT: usize = 40;

/// Shortens user input for an error message.
pub(crate) fn echo(input: &str) -> String {
    let mut chars = input.chars();
    let mut out: String = chars.by_ref().take(ECHO_LIMIT).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}
