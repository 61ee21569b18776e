//! TOTP (RFC 6238) and HOTP (RFC 4226) codes and their verification.

use core::fmt;
use core::ops::RangeInclusive;
use std::time::{SystemTime, UNIX_EPOCH};

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::params::{Algorithm, DEFAULT_DIGITS, DEFAULT_PERIOD, check_digits, check_period};
use crate::secret::Secret;
use crate::state::{FactorState, Throttle};

/// Default number of steps accepted on either side of the current one.
pub const DEFAULT_SKEW: u8 = 1;
/// Default HOTP look-ahead: counters accepted after the expected one.
pub const DEFAULT_LOOK_AHEAD: u8 = 5;

/// The current Unix time in seconds.
pub fn unix_now() -> Result<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::ClockBeforeEpoch)
}

/// What [`Totp`] and [`Hotp`] share: the secret, the code parameters and the
/// throttle, with the one copy of code generation and of the verification
/// loop. Their common setters and getters are written once, in
/// `settings_accessors!`.
#[derive(Clone, PartialEq, Eq)]
struct Settings {
    secret: Secret,
    algorithm: Algorithm,
    digits: u8,
    throttle: Throttle,
}

impl Settings {
    /// SHA-1, 6 digits and the default throttle.
    fn new(secret: Secret) -> Self {
        Self {
            secret,
            algorithm: Algorithm::Sha1,
            digits: DEFAULT_DIGITS,
            throttle: Throttle::default(),
        }
    }

    /// Computes the HOTP value for `counter` (RFC 4226 §5.3) with totp-rs: a
    /// totp-rs generator with a one-second step and no skew turns "time"
    /// into the counter itself.
    fn code(&self, counter: u64) -> Zeroizing<String> {
        Zeroizing::new(self.generator().generate(counter))
    }

    fn generator(&self) -> totp_rs::TOTP {
        totp_rs::TOTP::new_unchecked(
            self.algorithm.to_totp_rs(),
            usize::from(self.digits),
            0,
            1,
            self.secret.expose_bytes().to_vec(),
        )
    }

    /// Checks `code` against every counter in `candidates`, enforcing the
    /// throttle and replay protection recorded in `state`, and updates
    /// `state`.
    ///
    /// Every candidate is computed and compared in constant time; the loop
    /// does not stop at a match.
    fn verify(
        &self,
        code: &str,
        candidates: RangeInclusive<u64>,
        now: u64,
        state: &mut FactorState,
    ) -> Result<u64> {
        self.throttle.check(state, now)?;

        let typed: Zeroizing<String> = Zeroizing::new(code.chars().filter(|c| *c != ' ').collect());
        let well_formed =
            typed.len() == usize::from(self.digits) && typed.bytes().all(|b| b.is_ascii_digit());

        let mut accepted: Option<u64> = None;
        let mut replayed = false;
        if well_formed {
            let generator = self.generator();
            for counter in candidates {
                let expected = Zeroizing::new(generator.generate(counter));
                let matches: bool = expected.as_bytes().ct_eq(typed.as_bytes()).into();
                let fresh = state.last_step().is_none_or(|last| counter > last);
                if matches && fresh {
                    accepted = Some(counter);
                } else if matches {
                    replayed = true;
                }
            }
        }

        match accepted {
            Some(counter) => {
                state.record_success(counter);
                Ok(counter)
            }
            None => {
                state.record_failure(now, &self.throttle);
                Err(if replayed {
                    Error::Replayed
                } else {
                    Error::Invalid
                })
            }
        }
    }
}

/// The setters and getters of the [`Settings`] that [`Totp`] and [`Hotp`]
/// share, written once: each is a one-line delegation to the `settings`
/// field, and the digit count is checked by [`check_digits`].
macro_rules! settings_accessors {
    ($factor:ty) => {
        impl $factor {
            /// Sets the HMAC hash.
            #[must_use]
            pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
                self.settings.algorithm = algorithm;
                self
            }

            /// Sets the number of digits (6, 7 or 8).
            pub fn with_digits(mut self, digits: u8) -> Result<Self> {
                self.settings.digits = check_digits(digits)?;
                Ok(self)
            }

            /// Sets the throttling policy.
            #[must_use]
            pub fn with_throttle(mut self, throttle: Throttle) -> Self {
                self.settings.throttle = throttle;
                self
            }

            /// The shared secret.
            #[must_use]
            pub fn secret(&self) -> &Secret {
                &self.settings.secret
            }

            /// The HMAC hash.
            #[must_use]
            pub fn algorithm(&self) -> Algorithm {
                self.settings.algorithm
            }

            /// The number of digits.
            #[must_use]
            pub fn digits(&self) -> u8 {
                self.settings.digits
            }
        }
    };
}

settings_accessors!(Totp);
settings_accessors!(Hotp);

/// A time-based one-time password factor (RFC 6238).
///
/// Defaults: SHA-1, 6 digits, 30-second period, ±1 step of clock skew and the
/// default [`Throttle`]. The knobs are `with_*` setters.
#[derive(Clone, PartialEq, Eq)]
pub struct Totp {
    settings: Settings,
    period: u64,
    skew: u8,
}

impl Totp {
    /// A TOTP factor over `secret` with the defaults every authenticator app
    /// understands (SHA-1, 6 digits, 30 seconds).
    #[must_use]
    pub fn new(secret: Secret) -> Self {
        Self {
            settings: Settings::new(secret),
            period: DEFAULT_PERIOD,
            skew: DEFAULT_SKEW,
        }
    }

    /// Sets the period in seconds (1 to 86400).
    pub fn with_period(mut self, period: u64) -> Result<Self> {
        self.period = check_period(period)?;
        Ok(self)
    }

    /// Sets how many steps before and after the current one are accepted.
    #[must_use]
    pub fn with_skew(mut self, steps: u8) -> Self {
        self.skew = steps;
        self
    }

    /// The period in seconds.
    #[must_use]
    pub fn period(&self) -> u64 {
        self.period
    }

    /// Steps accepted on either side of the current one.
    #[must_use]
    pub fn skew(&self) -> u8 {
        self.skew
    }

    /// The throttling policy.
    #[must_use]
    pub fn throttle(&self) -> &Throttle {
        &self.settings.throttle
    }

    /// The time step of a Unix time: `unix / period` (RFC 6238 §4.2, T0 = 0).
    #[must_use]
    pub fn step_at(&self, unix: u64) -> u64 {
        unix / self.period
    }

    /// The code for a Unix time in seconds.
    #[must_use]
    pub fn code_at(&self, unix: u64) -> Zeroizing<String> {
        self.code_for_step(self.step_at(unix))
    }

    /// The code for a time step.
    #[must_use]
    pub fn code_for_step(&self, step: u64) -> Zeroizing<String> {
        self.settings.code(step)
    }

    /// The code for the current time.
    pub fn code_now(&self) -> Result<Zeroizing<String>> {
        Ok(self.code_at(unix_now()?))
    }

    /// Verifies `code` at Unix time `now` and returns the matched time step.
    ///
    /// Refuses with [`Error::Throttled`] or [`Error::Locked`] before looking
    /// at the code if `state` says so; accepts a code of any step within
    /// ±skew that is after `state`'s last accepted step; refuses a correct
    /// code of an already accepted (or earlier) step with
    /// [`Error::Replayed`] and anything else with [`Error::Invalid`]. Spaces
    /// in the code are ignored. `state` is updated in every case except a
    /// throttled or locked refusal: store it afterwards.
    pub fn verify(&self, code: &str, now: u64, state: &mut FactorState) -> Result<u64> {
        let step = self.step_at(now);
        let skew = u64::from(self.skew);
        let candidates = step.saturating_sub(skew)..=step.saturating_add(skew);
        self.settings.verify(code, candidates, now, state)
    }

    /// [`Totp::verify`] at the current time.
    pub fn verify_now(&self, code: &str, state: &mut FactorState) -> Result<u64> {
        self.verify(code, unix_now()?, state)
    }
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Totp")
            .field("algorithm", &self.settings.algorithm)
            .field("digits", &self.settings.digits)
            .field("period", &self.period)
            .field("skew", &self.skew)
            .field("throttle", &self.settings.throttle)
            .finish_non_exhaustive()
    }
}

/// A counter-based one-time password factor (RFC 4226).
///
/// The persisted [`FactorState`] holds the last accepted counter; a code is
/// accepted for the next counter or up to `look_ahead` counters further
/// (RFC 4226 §7.4 resynchronisation), and the state moves to the matched
/// counter.
#[derive(Clone, PartialEq, Eq)]
pub struct Hotp {
    settings: Settings,
    look_ahead: u8,
}

impl Hotp {
    /// An HOTP factor over `secret`: SHA-1, 6 digits, look-ahead 5.
    #[must_use]
    pub fn new(secret: Secret) -> Self {
        Self {
            settings: Settings::new(secret),
            look_ahead: DEFAULT_LOOK_AHEAD,
        }
    }

    /// Sets how many counters past the expected one are accepted.
    #[must_use]
    pub fn with_look_ahead(mut self, counters: u8) -> Self {
        self.look_ahead = counters;
        self
    }

    /// Counters accepted past the expected one.
    #[must_use]
    pub fn look_ahead(&self) -> u8 {
        self.look_ahead
    }

    /// The code for a counter value.
    #[must_use]
    pub fn code(&self, counter: u64) -> Zeroizing<String> {
        self.settings.code(counter)
    }

    /// Verifies `code` and returns the matched counter.
    ///
    /// Candidates are the counters after `state`'s last accepted one (from 0
    /// on a fresh state) up to `look_ahead` further; the last accepted counter
    /// itself is checked too, so its code is reported as [`Error::Replayed`].
    /// `now` (Unix seconds) drives the throttle only.
    pub fn verify(&self, code: &str, now: u64, state: &mut FactorState) -> Result<u64> {
        let first = state.last_step().unwrap_or(0);
        let next = state.last_step().map_or(0, |last| last.saturating_add(1));
        let candidates = first..=next.saturating_add(u64::from(self.look_ahead));
        self.settings.verify(code, candidates, now, state)
    }
}

impl fmt::Debug for Hotp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hotp")
            .field("algorithm", &self.settings.algorithm)
            .field("digits", &self.settings.digits)
            .field("look_ahead", &self.look_ahead)
            .field("throttle", &self.settings.throttle)
            .finish_non_exhaustive()
    }
}
