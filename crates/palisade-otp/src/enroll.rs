//! Enrolling a TOTP factor: secret, key URI and QR code, then confirmation.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::otp::Totp;
use crate::secret::Secret;
use crate::state::FactorState;
use crate::uri::{KeyUri, OtpKind};

/// A TOTP factor being set up: not usable to sign in until
/// [`Enrollment::confirm`] has seen a first valid code.
///
/// The application shows the QR code (or the base32 secret), keeps the
/// pending enrollment (for example as [`Enrollment::key_uri`], encrypted),
/// and activates the factor only when `confirm` succeeds. That proves the
/// user's authenticator holds the secret and the clocks agree.
#[derive(Clone, Debug)]
pub struct Enrollment {
    totp: Totp,
    key: KeyUri,
}

impl Enrollment {
    /// Starts enrolling `account` at `issuer` with a fresh 160-bit secret and
    /// the default parameters (SHA-1, 6 digits, 30 seconds).
    pub fn start(issuer: &str, account: &str) -> Result<Self> {
        Self::with_totp(Totp::new(Secret::generate()?), issuer, account)
    }

    /// Starts enrolling with a factor configured by the caller.
    pub fn with_totp(totp: Totp, issuer: &str, account: &str) -> Result<Self> {
        let key = KeyUri::totp(&totp, issuer, account)?;
        Ok(Self { totp, key })
    }

    /// Resumes a pending enrollment from its key URI.
    pub fn resume(key: KeyUri) -> Result<Self> {
        match key.kind() {
            OtpKind::Totp { .. } => Ok(Self {
                totp: key.to_totp()?,
                key,
            }),
            OtpKind::Hotp { .. } => Err(Error::KindMismatch {
                expected: "totp",
                found: "hotp",
            }),
        }
    }

    /// The secret (for users who type it in instead of scanning).
    #[must_use]
    pub fn secret(&self) -> &Secret {
        self.totp.secret()
    }

    /// The key URI the QR code encodes.
    #[must_use]
    pub fn key_uri(&self) -> &KeyUri {
        &self.key
    }

    /// The key URI as text, secret included.
    #[must_use]
    pub fn uri_exposed(&self) -> Zeroizing<String> {
        self.key.to_uri_exposed()
    }

    /// The QR code as an SVG document.
    pub fn qr_svg(&self) -> Result<Zeroizing<String>> {
        self.key.qr_svg()
    }

    /// The QR code as a PNG image.
    pub fn qr_png(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.key.qr_png()
    }

    /// Checks the first code from the user's authenticator at Unix time
    /// `now` and, if it is valid, returns the active factor.
    ///
    /// `state` is the factor's fresh persisted state: confirmation is
    /// throttled like any verification, and the confirming code's step is
    /// recorded so that the same code cannot also be used to sign in.
    pub fn confirm(&self, code: &str, now: u64, state: &mut FactorState) -> Result<Totp> {
        self.totp.verify(code, now, state)?;
        Ok(self.totp.clone())
    }
}
