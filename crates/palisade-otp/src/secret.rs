//! The shared secret of a factor.

use core::fmt;
use std::sync::OnceLock;

use data_encoding::{BASE32_NOPAD, Encoding};
use rand_core::{OsRng, RngCore};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result, SecretError};

/// Minimum secret length in bytes: RFC 4226 §4 requires at least 128 bits.
pub const MIN_SECRET_LEN: usize = 16;
/// Length of generated secrets in bytes: 160 bits, as RFC 4226 recommends.
pub const DEFAULT_SECRET_LEN: usize = 20;
/// Largest secret accepted, in bytes.
pub const MAX_SECRET_LEN: usize = 1024;

/// The shared secret of an HOTP or TOTP factor.
///
/// The bytes are wiped when the value is dropped, `Debug` shows only the
/// length, comparison is constant-time, and there is deliberately no
/// `Display` or `Serialize`: the only ways out are the explicit
/// [`Secret::to_base32_exposed`] and [`Secret::expose_bytes`], so an
/// application can encrypt the secret before it stores it.
///
/// ```compile_fail
/// // A secret cannot be serialized by accident:
/// let secret = palisade_otp::Secret::generate().unwrap();
/// let _ = serde_json::to_string(&secret);
/// ```
#[derive(Clone)]
pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
}

impl Secret {
    /// Draws a new 160-bit secret from the operating system's generator.
    pub fn generate() -> Result<Self> {
        Self::generate_with_len(DEFAULT_SECRET_LEN)
    }

    /// Draws a new secret of `len` bytes (16 to 1024) from the operating
    /// system's generator. 32 and 64 bytes match the block of SHA-256 and
    /// SHA-512 keys in RFC 6238's examples.
    pub fn generate_with_len(len: usize) -> Result<Self> {
        check_len(len)?;
        let mut bytes = Zeroizing::new(vec![0_u8; len]);
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|_| Error::RandomUnavailable)?;
        Ok(Self { bytes })
    }

    /// Takes a secret from raw bytes (16 to 1024 bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        check_len(bytes.len())?;
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// Decodes a base32 secret (RFC 4648) as authenticator apps show it:
    /// upper or lower case, with or without `=` padding, spaces and hyphens
    /// ignored.
    pub fn from_base32(text: &str) -> Result<Self> {
        let mut cleaned = Zeroizing::new(String::with_capacity(text.len()));
        cleaned.extend(
            text.chars()
                .filter(|c| !matches!(c, ' ' | '-'))
                .map(|c| c.to_ascii_uppercase()),
        );
        let trimmed = cleaned.trim_end_matches('=');
        let bytes = Zeroizing::new(
            lenient_base32()
                .decode(trimmed.as_bytes())
                .map_err(|_| SecretError::Base32Invalid)?,
        );
        check_len(bytes.len())?;
        Ok(Self { bytes })
    }

    /// The secret in unpadded upper-case base32, as authenticator apps expect
    /// it. The name says what it does: this is the secret, in the clear.
    #[must_use]
    pub fn to_base32_exposed(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE32_NOPAD.encode(&self.bytes))
    }

    /// The raw secret bytes, in the clear.
    #[must_use]
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Length of the secret in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a secret has at least 16 bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

fn check_len(len: usize) -> Result<()> {
    if len < MIN_SECRET_LEN {
        Err(SecretError::TooShort {
            bits: len.saturating_mul(8),
        }
        .into())
    } else if len > MAX_SECRET_LEN {
        Err(SecretError::TooLong { bytes: len }.into())
    } else {
        Ok(())
    }
}

/// Base32 without padding that, like authenticator apps, does not insist on
/// zero bits after the last full byte.
fn lenient_base32() -> &'static Encoding {
    static ENCODING: OnceLock<Encoding> = OnceLock::new();
    ENCODING.get_or_init(|| {
        let mut spec = BASE32_NOPAD.specification();
        spec.check_trailing_bits = false;
        // The specification is derived from a valid one with a looser check,
        // so it cannot fail; fall back to the strict encoding regardless.
        spec.encoding().unwrap_or_else(|_| BASE32_NOPAD.clone())
    })
}

impl ConstantTimeEq for Secret {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.bytes.as_slice().ct_eq(other.bytes.as_slice())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_is_160_bits_and_fresh() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
    }

    #[test]
    fn base32_is_lenient_on_case_padding_and_spaces() {
        let canonical = Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        assert_eq!(canonical.expose_bytes(), b"12345678901234567890");
        let typed = Secret::from_base32("gezd gnbv gy3t qojq gezd-gnbv-gy3t-qojq").unwrap();
        assert_eq!(typed, canonical);
        let padded = Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====").unwrap();
        assert_eq!(padded, canonical);
    }

    #[test]
    fn short_bad_and_redacted() {
        assert_eq!(
            Secret::from_base32("JBSWY3DPEHPK3PXP"),
            Err(SecretError::TooShort { bits: 80 }.into())
        );
        assert_eq!(
            Secret::from_base32("JBSWY3DPEHPK3PX1"),
            Err(SecretError::Base32Invalid.into())
        );
        let s = Secret::from_bytes(b"12345678901234567890").unwrap();
        let shown = format!("{s:?}");
        assert_eq!(shown, "Secret { len: 20, .. }");
        assert_eq!(&*s.to_base32_exposed(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }
}
