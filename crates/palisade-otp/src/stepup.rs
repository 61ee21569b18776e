//! Step-up: proof of the active factor before it is replaced or removed.

use core::fmt;

use crate::error::{Error, Result};
use crate::otp::Totp;
use crate::recovery::RecoveryCodes;
use crate::state::FactorState;

/// How long a password check counts as recent for a step-up, by default:
/// 5 minutes.
pub const DEFAULT_STEP_UP_WINDOW: u64 = 5 * 60;

/// How far a password check time may lie after `now` and still count (as
/// age 0): the clocks of application instances that share a session store
/// may differ by this much. Anything later is refused, which also catches a
/// time in milliseconds passed where seconds are expected.
const CLOCK_TOLERANCE: u64 = 60;

/// What a session offers as proof that its user holds the active factor,
/// before the factor is replaced (or removed, or given new recovery codes).
///
/// A signed-in session alone is not proof: a session can be stolen, and
/// whoever holds it must not be able to swap the second factor for their
/// own. Each proof is checked against the active factor's stored
/// [`FactorState`] by [`StepUp`].
pub enum Proof<'a> {
    /// A code from the active factor's authenticator. It is verified like a
    /// sign-in code — throttled, and refused if its time step was already
    /// used — and is used up by the check: a failure counts toward the
    /// factor's back-off and lock, a success records its step so the same
    /// code cannot be used again, here or to sign in.
    CurrentCode(&'a str),
    /// One of the account's unused recovery codes, redeemed with
    /// [`RecoveryCodes::redeem`] under the active factor's state and
    /// throttle: a failure counts toward the same back-off and lock, a
    /// success marks the code used in `codes` (store them back).
    RecoveryCode {
        /// The recovery code as the user typed it.
        code: &'a str,
        /// The account's stored recovery codes.
        codes: &'a mut RecoveryCodes,
    },
    /// The session's last successful password check, if it is recent: at
    /// most the [`StepUp`]'s window ([`DEFAULT_STEP_UP_WINDOW`], 5 minutes,
    /// unless changed with [`StepUp::with_window`]) before `now`.
    ///
    /// This crate never sees the password; the application vouches for the
    /// check by passing its time, so the time must mean exactly this:
    ///
    /// - **Which time**: the Unix time in seconds at which the application
    ///   verified the account's password *successfully* for *this session*:
    ///   the password sign-in that created the session, or a later "confirm
    ///   your password" prompt in it. Not the time the session was created
    ///   by other means, not its last activity, not the time of a
    ///   second-factor check, and a failed attempt changes nothing.
    /// - **Whose clock**: the server's, the same clock that gives `now`,
    ///   recorded by the server when the check succeeded and kept in its
    ///   session store — never a time sent by the client. A time more than
    ///   60 seconds after `now` is refused with [`Error::StepUpInFuture`].
    /// - **Per session, not per account**: store it with the session. A time
    ///   kept per account would let a stolen session ride on a password check
    ///   its owner made in another session (another browser, a phone) a
    ///   minute ago.
    ///
    /// A session without a password check passes no proof (`None` to
    /// [`StepUp::new`]), not a made-up time.
    RecentPasswordCheck {
        /// Unix time (seconds, server clock) of this session's last
        /// successful password check.
        verified_at: u64,
    },
}

/// Leaves codes out: the kind of proof only, and the check time.
impl fmt::Debug for Proof<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CurrentCode(_) => f.debug_tuple("CurrentCode").finish_non_exhaustive(),
            Self::RecoveryCode { codes, .. } => f
                .debug_struct("RecoveryCode")
                .field("codes", codes)
                .finish_non_exhaustive(),
            Self::RecentPasswordCheck { verified_at } => f
                .debug_struct("RecentPasswordCheck")
                .field("verified_at", verified_at)
                .finish(),
        }
    }
}

/// The check a sensitive change to an active TOTP factor must pass: proof
/// that the session's user holds the factor now, or checked the password
/// recently.
///
/// Built from the active factor, its stored [`FactorState`] and the
/// [`Proof`] the request offers (or `None`), then either given to
/// [`Enrollment::confirm_replacement`](crate::Enrollment::confirm_replacement)
/// to replace the factor, or checked on its own with [`StepUp::verify`]
/// for other changes that must not be open to a stolen session (removing the
/// factor, issuing new recovery codes).
///
/// A factor that is locked or backing off refuses every step-up
/// ([`Error::Locked`], [`Error::Throttled`]), a password check included: a
/// replacement starts a fresh state, so allowing it would be a way around
/// the lock. Write the factor's state back afterwards, whatever the result,
/// with the conditional write described at [`FactorState`].
pub struct StepUp<'a> {
    factor: &'a Totp,
    state: &'a mut FactorState,
    proof: Option<Proof<'a>>,
    window: u64,
}

impl<'a> StepUp<'a> {
    /// A step-up for the active `factor`, whose stored state is `state`,
    /// with the `proof` the request offers (`None` if it offers none; the
    /// check then fails with [`Error::StepUpRequired`]). A password check
    /// counts for [`DEFAULT_STEP_UP_WINDOW`].
    #[must_use]
    pub fn new(factor: &'a Totp, state: &'a mut FactorState, proof: Option<Proof<'a>>) -> Self {
        Self {
            factor,
            state,
            proof,
            window: DEFAULT_STEP_UP_WINDOW,
        }
    }

    /// Sets how many seconds a password check counts as recent.
    #[must_use]
    pub fn with_window(mut self, seconds: u64) -> Self {
        self.window = seconds;
        self
    }

    /// Seconds a password check counts as recent.
    #[must_use]
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Checks the proof at Unix time `now`.
    ///
    /// Refuses with [`Error::StepUpRequired`] if there is none, then with
    /// [`Error::Locked`] or [`Error::Throttled`] if the factor's state says
    /// so; then a code or recovery code that is not accepted fails with
    /// [`Error::ProofInvalid`] (wrong, malformed, already used), a password
    /// check older than the window with [`Error::StepUpExpired`], and one
    /// dated in the future with [`Error::StepUpInFuture`].
    pub fn verify(self, now: u64) -> Result<()> {
        self.precheck(now)?;
        self.finish(now)
    }

    /// The checks that use nothing up: a proof is offered, and the factor is
    /// neither locked nor backing off.
    pub(crate) fn precheck(&self, now: u64) -> Result<()> {
        if self.proof.is_none() {
            return Err(Error::StepUpRequired);
        }
        self.factor.throttle().check(self.state, now)
    }

    /// Checks the proof itself, using it up.
    pub(crate) fn finish(self, now: u64) -> Result<()> {
        let refused = |e| match e {
            Error::Invalid | Error::Replayed => Error::ProofInvalid,
            other => other,
        };
        match self.proof {
            None => Err(Error::StepUpRequired),
            Some(Proof::CurrentCode(code)) => self
                .factor
                .verify(code, now, self.state)
                .map(drop)
                .map_err(refused),
            Some(Proof::RecoveryCode { code, codes }) => codes
                .redeem(code, now, self.state, self.factor.throttle())
                .map(drop)
                .map_err(refused),
            Some(Proof::RecentPasswordCheck { verified_at }) => {
                if verified_at > now.saturating_add(CLOCK_TOLERANCE) {
                    return Err(Error::StepUpInFuture { verified_at, now });
                }
                let age = now.saturating_sub(verified_at);
                if age > self.window {
                    return Err(Error::StepUpExpired {
                        age,
                        window: self.window,
                    });
                }
                Ok(())
            }
        }
    }
}

/// Leaves the factor's secret and any code out.
impl fmt::Debug for StepUp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepUp")
            .field("state", &self.state)
            .field("proof", &self.proof)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}
