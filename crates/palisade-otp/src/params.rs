//! Code parameters: hash algorithm, digit count, period.

use core::fmt;
use core::str::FromStr;

use crate::error::{Error, Result, UriError, echo};

/// The HMAC hash of RFC 4226 / RFC 6238.
///
/// SHA-1 is the default and the only one many authenticator apps honour; the
/// truncated HMAC-SHA-1 of HOTP is not affected by SHA-1 collisions (RFC 4226,
/// appendix B.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC-SHA-1.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in otpauth URIs: `SHA1`, `SHA256` or `SHA512`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    pub(crate) const fn to_totp_rs(self) -> totp_rs::Algorithm {
        match self {
            Self::Sha1 => totp_rs::Algorithm::SHA1,
            Self::Sha256 => totp_rs::Algorithm::SHA256,
            Self::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    /// Parses `SHA1`, `SHA256` or `SHA512`, in any case.
    fn from_str(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("SHA1") {
            Ok(Self::Sha1)
        } else if s.eq_ignore_ascii_case("SHA256") {
            Ok(Self::Sha256)
        } else if s.eq_ignore_ascii_case("SHA512") {
            Ok(Self::Sha512)
        } else {
            Err(Error::AlgorithmUnknown(echo(s)))
        }
    }
}

/// Default number of digits in a code.
pub const DEFAULT_DIGITS: u8 = 6;
/// Default TOTP period in seconds.
pub const DEFAULT_PERIOD: u64 = 30;
/// Longest TOTP period accepted, in seconds (one day).
pub const MAX_PERIOD: u64 = 86_400;

/// The one check of a digit count: 6, 7 or 8.
pub(crate) fn check_digits(digits: u8) -> Result<u8> {
    if (6..=8).contains(&digits) {
        Ok(digits)
    } else {
        Err(Error::DigitsOutOfRange(digits))
    }
}

/// The one check of a TOTP period: 1 to [`MAX_PERIOD`] seconds.
pub(crate) fn check_period(period: u64) -> Result<u64> {
    if (1..=MAX_PERIOD).contains(&period) {
        Ok(period)
    } else {
        Err(Error::PeriodOutOfRange(period))
    }
}

/// Parses a plain decimal number (ASCII digits only, no sign, at most 20
/// digits).
pub(crate) fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses a digit count from a URI parameter and checks it with
/// [`check_digits`]; the error echoes the text as written.
pub(crate) fn parse_digits(text: &str) -> Result<u8> {
    parse_decimal(text)
        .and_then(|n| u8::try_from(n).ok())
        .and_then(|n| check_digits(n).ok())
        .ok_or_else(|| UriError::DigitsInvalid(echo(text)).into())
}

/// Parses a period from a URI parameter and checks it with
/// [`check_period`]; the error echoes the text as written.
pub(crate) fn parse_period(text: &str) -> Result<u64> {
    parse_decimal(text)
        .and_then(|n| check_period(n).ok())
        .ok_or_else(|| UriError::PeriodInvalid(echo(text)).into())
}
