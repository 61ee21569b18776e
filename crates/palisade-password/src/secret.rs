//! The password secret type.

use core::fmt;

use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::{Error, Result};

/// A password on its way to be hashed, verified or checked.
///
/// On creation the password is bounded to [`Password::MAX_BYTES`] before any
/// other work (so a huge input cannot be used to burn CPU) and normalized to
/// Unicode NFKC, as NIST SP 800-63B asks, so that the same password typed on
/// different keyboards hashes the same. Both forms are wiped on drop, `Debug`
/// prints nothing of them, and equality is decided in constant time.
pub struct Password {
    normalized: Zeroizing<String>,
    /// The input as given, kept only when NFKC changed it: hashes made
    /// elsewhere from the unnormalized bytes still verify (and are upgraded).
    raw: Option<Zeroizing<String>>,
}

impl Password {
    /// The longest password accepted, in bytes of UTF-8 (before normalization).
    ///
    /// Generous for passphrases (NIST asks to accept at least 64 characters)
    /// and small enough that no scheme does meaningful work on it.
    pub const MAX_BYTES: usize = 1024;

    /// Takes a password, bounds and normalizes it.
    ///
    /// # Errors
    /// [`Error::PasswordTooLong`] when `password` is longer than [`Password::MAX_BYTES`].
    pub fn new(password: &str) -> Result<Self> {
        if password.len() > Self::MAX_BYTES {
            return Err(Error::PasswordTooLong {
                max: Self::MAX_BYTES,
            });
        }
        let normalized = Zeroizing::new(password.nfkc().collect::<String>());
        let raw = (normalized.as_str() != password).then(|| Zeroizing::new(password.to_owned()));
        Ok(Self { normalized, raw })
    }

    /// Takes a password given as bytes, which must be UTF-8.
    ///
    /// # Errors
    /// [`Error::PasswordTooLong`] (checked first) or [`Error::PasswordNotUtf8`].
    pub fn from_bytes(password: &[u8]) -> Result<Self> {
        if password.len() > Self::MAX_BYTES {
            return Err(Error::PasswordTooLong {
                max: Self::MAX_BYTES,
            });
        }
        Self::new(core::str::from_utf8(password).map_err(|_| Error::PasswordNotUtf8)?)
    }

    /// The number of Unicode scalar values after normalization, the length
    /// NIST SP 800-63B's limits count.
    pub fn char_count(&self) -> usize {
        self.normalized.chars().count()
    }

    /// Whether the password is empty.
    pub fn is_empty(&self) -> bool {
        self.normalized.is_empty()
    }

    /// The normalized password, for a [`BreachedPasswords`](crate::BreachedPasswords)
    /// check that must hash or send it (e.g. a SHA-1 prefix for a k-anonymity
    /// range query). Do not log or store what this returns.
    pub fn expose(&self) -> &str {
        &self.normalized
    }

    pub(crate) fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The bytes to hash: the NFKC form.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.normalized.as_bytes()
    }

    /// The unnormalized input, when it differs from the NFKC form.
    pub(crate) fn raw_bytes(&self) -> Option<&[u8]> {
        self.raw.as_ref().map(|raw| raw.as_bytes())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Password").finish_non_exhaustive()
    }
}

impl ConstantTimeEq for Password {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.normalized
            .as_bytes()
            .ct_eq(other.normalized.as_bytes())
    }
}

impl PartialEq for Password {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Password {}

impl ZeroizeOnDrop for Password {}

impl TryFrom<&str> for Password {
    type Error = Error;

    fn try_from(password: &str) -> Result<Self> {
        Self::new(password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_to_nfkc_and_keeps_the_raw_form_only_when_it_differs() {
        let ligature = Password::new("\u{FB01}sh").unwrap(); // "ﬁsh"
        assert_eq!(ligature.normalized(), "fish");
        assert_eq!(ligature.raw_bytes(), Some("\u{FB01}sh".as_bytes()));
        let plain = Password::new("fish").unwrap();
        assert_eq!(plain.raw_bytes(), None);
        assert_eq!(ligature, plain);
    }

    #[test]
    fn bounds_the_input_before_normalizing() {
        let long = "a".repeat(Password::MAX_BYTES + 1);
        assert!(matches!(
            Password::new(&long).unwrap_err(),
            Error::PasswordTooLong { max: 1024 }
        ));
        assert!(Password::new(&long[1..]).is_ok());
        assert!(matches!(
            Password::from_bytes(&[0xff, 0xfe]).unwrap_err(),
            Error::PasswordNotUtf8
        ));
    }

    #[test]
    fn debug_reveals_nothing() {
        let shown = format!("{:?}", Password::new("hunter2").unwrap());
        assert_eq!(shown, "Password { .. }");
    }
}
