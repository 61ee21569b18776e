//! Enrolling a TOTP factor: secret, key URI and QR code, then confirmation,
//! as a first factor or in place of an active one.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::otp::Totp;
use crate::secret::Secret;
use crate::state::FactorState;
use crate::stepup::StepUp;
use crate::uri::{KeyUri, OtpKind};

/// A TOTP factor being set up: not usable to sign in until a first valid code
/// confirms it.
///
/// The application shows the QR code (or the base32 secret), keeps the
/// pending enrollment (for example as [`Enrollment::key_uri`], encrypted),
/// and activates the factor only when a confirmation succeeds. That proves
/// the user's authenticator holds the secret and the clocks agree.
///
/// Which confirmation depends on the account, and is decided when the new
/// factor is activated, not when the enrollment starts:
///
/// - no active factor: [`Enrollment::confirm_first`];
/// - an active factor: [`Enrollment::confirm_replacement`], which also
///   needs a [`StepUp`] — a code or recovery code of the active factor, or a
///   recent password check of this session. Without it, anyone holding a
///   stolen session could swap the account's second factor for their own.
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
    #[cfg(feature = "qr")]
    #[cfg_attr(docsrs, doc(cfg(feature = "qr")))]
    pub fn qr_svg(&self) -> Result<Zeroizing<String>> {
        self.key.qr_svg()
    }

    /// The QR code as a PNG image.
    #[cfg(feature = "qr")]
    #[cfg_attr(docsrs, doc(cfg(feature = "qr")))]
    pub fn qr_png(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.key.qr_png()
    }

    /// Activates the account's **first** factor: checks the first code from
    /// the user's authenticator at Unix time `now` and, if it is valid,
    /// returns the factor to store as active.
    ///
    /// Only for an account that has no active factor. To replace one, use
    /// [`Enrollment::confirm_replacement`]: activating a new factor over an
    /// active one without proof is exactly how a stolen session takes over
    /// the second factor.
    ///
    /// `state` is the new factor's state, fresh ([`FactorState::new`]) or as
    /// stored by earlier attempts at this confirmation: confirmation is
    /// throttled like any verification, and the confirming code's step is
    /// recorded so that the same code cannot also be used to sign in. Store
    /// it with the factor.
    pub fn confirm_first(&self, code: &str, now: u64, state: &mut FactorState) -> Result<Totp> {
        self.totp.verify(code, now, state)?;
        Ok(self.totp.clone())
    }

    /// Activates this factor **in place of** the account's active one, if
    /// `step_up` proves the session's user holds the active factor (or
    /// checked the password recently) and `code` is a valid first code of the
    /// new secret at Unix time `now`.
    ///
    /// The order of the checks spends nothing needlessly:
    ///
    /// 1. no proof: [`Error::StepUpRequired`]; the active factor locked or
    ///    backing off: [`Error::Locked`] or [`Error::Throttled`] — nothing is
    ///    looked at or counted;
    /// 2. `code` is checked against the new secret with `state`, the new
    ///    factor's state, exactly as [`Enrollment::confirm_first`] does; if it
    ///    fails (counted in `state`), the proof is not looked at, so a
    ///    mistyped new code does not use up a recovery code or a current
    ///    code;
    /// 3. the proof is checked ([`StepUp::verify`]): a code or recovery code
    ///    of the active factor is used up and its failure counted in the
    ///    active factor's state ([`Error::ProofInvalid`]); a password check
    ///    must be within the window ([`Error::StepUpExpired`],
    ///    [`Error::StepUpInFuture`]). If the proof is refused, `state` is left
    ///    as it was, so the same new code can be tried again with a better
    ///    proof.
    ///
    /// On success, store the returned factor with `state` in place of the
    /// active factor and its state; the application will usually issue new
    /// recovery codes too, and may end the account's other sessions. On
    /// failure, store the active factor's state (and recovery codes, for a
    /// recovery-code proof) anyway, with the conditional write described at
    /// [`FactorState`], so that failed proofs count.
    pub fn confirm_replacement(
        &self,
        code: &str,
        now: u64,
        state: &mut FactorState,
        step_up: StepUp<'_>,
    ) -> Result<Totp> {
        step_up.precheck(now)?;
        // The new code is recorded in `state` only once the proof has passed
        // too, so a refused proof leaves it usable for the next try.
        let mut confirmed = state.clone();
        if let Err(e) = self.totp.verify(code, now, &mut confirmed) {
            *state = confirmed;
            return Err(e);
        }
        step_up.finish(now)?;
        *state = confirmed;
        Ok(self.totp.clone())
    }
}
