//! The persisted state of a factor and the throttling policy.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What an application stores per factor between verifications.
///
/// A small serde value: the last accepted time step (or HOTP counter), the
/// number of consecutive failures, the end of the current back-off and, once
/// the factor is locked, when it was locked. Every attempt to prove the
/// factor reads it and updates it — a code ([`Totp::verify`]), a recovery
/// code ([`RecoveryCodes::redeem`]) or a proof for a step-up ([`StepUp`]) —
/// so replay protection and throttling hold across every kind of attempt and
/// across as many application instances as share the store. Failures of
/// codes and of recovery codes add up to the same back-off and the same lock.
///
/// # The caller's part: a conditional write, then the verdict
///
/// 1. Read the stored state (and, for a recovery code, the stored
///    [`RecoveryCodes`]).
/// 2. Call the verification with it; it refuses throttled or locked attempts
///    before looking at the input, and otherwise records the success or the
///    failure in the state.
/// 3. Write the new state back **conditionally**: compare-and-swap on the
///    value read in step 1 (`UPDATE … SET state = $new WHERE id = $id AND
///    state = $old`), or hold the row with `SELECT … FOR UPDATE` from step 1
///    to here. A redeemed recovery code changes the stored codes too: write
///    both in the same statement, conditional on both.
/// 4. Act on the verdict **only if the write succeeded**. If another
///    request changed the state first, discard the verdict without revealing
///    it (answer "try again") — or start again from step 1.
///
/// Then each stored version of the state judges at most one attempt, so
/// parallel guesses are counted one by one and cannot outrun the back-off,
/// and two requests carrying the same code cannot both succeed.
///
/// # Serialized form
///
/// `{"last_step":…,"failures":…,"throttled_until":…}`, plus
/// `"locked_at":…` only while the factor is locked. Every field is optional
/// when reading (a missing field is a fresh value), so states written by
/// earlier versions read unchanged, and a state without a lock serializes
/// exactly as before.
///
/// # Unlocking
///
/// A factor locked by [`Throttle::lock_after`] consecutive failures refuses
/// every attempt, the right code included, until an administrator calls
/// [`FactorState::unlock`] (see there for what the application should do
/// around it).
///
/// [`Totp::verify`]: crate::Totp::verify
/// [`RecoveryCodes::redeem`]: crate::RecoveryCodes::redeem
/// [`RecoveryCodes`]: crate::RecoveryCodes
/// [`StepUp`]: crate::StepUp
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FactorState {
    last_step: Option<u64>,
    failures: u32,
    throttled_until: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locked_at: Option<u64>,
}

impl FactorState {
    /// A fresh state: nothing accepted yet, no failures.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The last accepted TOTP time step or HOTP counter.
    #[must_use]
    pub fn last_step(&self) -> Option<u64> {
        self.last_step
    }

    /// Consecutive failed verifications since the last success.
    #[must_use]
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Unix time (seconds) before which verification is refused, if a
    /// back-off is running or has run since the last success.
    #[must_use]
    pub fn throttled_until(&self) -> Option<u64> {
        self.throttled_until
    }

    /// Unix time (seconds) of the failure that locked the factor, while it is
    /// locked.
    ///
    /// Recorded when the failure count reaches the [`Throttle::lock_after`]
    /// in force at that failure; cleared by [`FactorState::unlock`] and by a
    /// success. Informational (for the administrator who unlocks and for the
    /// audit log): whether an attempt is refused is decided by
    /// [`Throttle::is_locked`], from the failure count.
    #[must_use]
    pub fn locked_at(&self) -> Option<u64> {
        self.locked_at
    }

    /// Clears the failure count, the back-off and the lock: an
    /// administrator's unlock. The last accepted step is kept, so codes used
    /// before stay refused.
    ///
    /// This is the only way out of a lock (a success cannot happen while
    /// locked, and [`StepUp`](crate::StepUp) refuses to replace a locked
    /// factor). What the application does around it:
    ///
    /// - only an administrator may call it, never the account's own session
    ///   (anyone who can lock a factor by guessing could otherwise unlock it
    ///   and guess on);
    /// - record [`failures`](FactorState::failures) and
    ///   [`locked_at`](FactorState::locked_at) in the audit log before
    ///   unlocking, with who unlocked it;
    /// - write the state back with the same conditional write as any
    ///   verification.
    pub fn unlock(&mut self) {
        self.failures = 0;
        self.throttled_until = None;
        self.locked_at = None;
    }

    /// A code of time step (or counter) `step` was accepted.
    pub(crate) fn record_success(&mut self, step: u64) {
        self.last_step = Some(step);
        self.clear_failures();
    }

    /// A proof that carries no time step (a recovery code) was accepted: the
    /// failures are cleared, the last accepted step is kept.
    pub(crate) fn clear_failures(&mut self) {
        self.failures = 0;
        self.throttled_until = None;
        self.locked_at = None;
    }

    pub(crate) fn record_failure(&mut self, now: u64, throttle: &Throttle) {
        self.failures = self.failures.saturating_add(1);
        if let Some(delay) = throttle.delay_after(self.failures) {
            self.throttled_until = Some(now.saturating_add(delay));
        }
        if self.locked_at.is_none() && throttle.is_locked(self) {
            self.locked_at = Some(now);
        }
    }
}

/// How consecutive failures slow verification down: django-otp's exponential
/// back-off with a grace count, a ceiling, and a lock.
///
/// After `free_failures` consecutive failures, each further failure starts a
/// back-off of `base_delay × 2^(n−1)` seconds for the n-th failure past the
/// grace count, capped at `max_delay`. Verification during the back-off is
/// refused with [`Error::Throttled`] without looking at the code (and without
/// counting as a failure). After `lock_after` consecutive failures the factor
/// is locked ([`Error::Locked`]) until [`FactorState::unlock`]; the default of
/// 100 is NIST SP 800-63B's ceiling on consecutive failed attempts. A success
/// resets everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttle {
    free_failures: u32,
    base_delay: u64,
    max_delay: u64,
    lock_after: Option<u32>,
}

impl Default for Throttle {
    /// Three free failures, then 1 s, 2 s, 4 s, … up to 15 minutes; locked
    /// after 100 consecutive failures.
    fn default() -> Self {
        Self {
            free_failures: 3,
            base_delay: 1,
            max_delay: 15 * 60,
            lock_after: Some(100),
        }
    }
}

impl Throttle {
    /// A throttle with `free_failures` tolerated failures, then a back-off
    /// starting at `base_delay` seconds and doubling up to `max_delay`
    /// seconds, locking after 100 consecutive failures.
    #[must_use]
    pub fn new(free_failures: u32, base_delay: u64, max_delay: u64) -> Self {
        Self {
            free_failures,
            base_delay,
            max_delay,
            lock_after: Some(100),
        }
    }

    /// Locks the factor after this many consecutive failures; `None` never
    /// locks (the back-off alone limits guessing).
    #[must_use]
    pub fn with_lock_after(mut self, failures: Option<u32>) -> Self {
        self.lock_after = failures;
        self
    }

    /// Failures tolerated before the back-off starts.
    #[must_use]
    pub fn free_failures(&self) -> u32 {
        self.free_failures
    }

    /// Back-off after the first failure past the grace count, in seconds.
    #[must_use]
    pub fn base_delay(&self) -> u64 {
        self.base_delay
    }

    /// Longest back-off, in seconds.
    #[must_use]
    pub fn max_delay(&self) -> u64 {
        self.max_delay
    }

    /// Consecutive failures that lock the factor, if any.
    #[must_use]
    pub fn lock_after(&self) -> Option<u32> {
        self.lock_after
    }

    /// The back-off in seconds started by the `failures`-th consecutive
    /// failure, or `None` while still within the grace count.
    #[must_use]
    pub fn delay_after(&self, failures: u32) -> Option<u64> {
        let past = failures.checked_sub(self.free_failures)?;
        let exponent = past.checked_sub(1)?;
        let factor = 1_u64.checked_shl(exponent).unwrap_or(u64::MAX);
        Some(self.base_delay.saturating_mul(factor).min(self.max_delay))
    }

    /// Whether `state` is locked under this throttle: its consecutive
    /// failures have reached [`Throttle::lock_after`]. A locked factor
    /// refuses every attempt until [`FactorState::unlock`].
    #[must_use]
    pub fn is_locked(&self, state: &FactorState) -> bool {
        self.lock_after.is_some_and(|n| state.failures >= n)
    }

    /// Refuses to go on if the state is locked or backing off at `now`.
    pub(crate) fn check(&self, state: &FactorState, now: u64) -> Result<()> {
        if self.is_locked(state) {
            return Err(Error::Locked);
        }
        match state.throttled_until {
            Some(until) if now < until => Err(Error::Throttled { until }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_after_the_grace_count_and_cap() {
        let t = Throttle::new(2, 5, 60);
        let delays: Vec<_> = (0..8).map(|n| t.delay_after(n)).collect();
        assert_eq!(
            delays,
            [
                None,
                None,
                None,
                Some(5),
                Some(10),
                Some(20),
                Some(40),
                Some(60)
            ]
        );
        assert_eq!(t.delay_after(u32::MAX), Some(60));
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut s = FactorState::new();
        s.record_success(42);
        s.record_failure(1000, &Throttle::new(0, 1, 10));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"last_step":42,"failures":1,"throttled_until":1001}"#
        );
        assert_eq!(serde_json::from_str::<FactorState>(&json).unwrap(), s);
        assert_eq!(
            serde_json::from_str::<FactorState>("{}").unwrap(),
            FactorState::new()
        );
    }

    #[test]
    fn a_lock_is_dated_serialized_and_cleared_by_unlock() {
        let throttle = Throttle::new(0, 1, 10).with_lock_after(Some(2));
        let mut s = FactorState::new();
        s.record_success(42);
        s.record_failure(1000, &throttle);
        assert_eq!((throttle.is_locked(&s), s.locked_at()), (false, None));
        s.record_failure(1005, &throttle);
        s.record_failure(1010, &throttle);
        assert!(throttle.is_locked(&s));
        assert_eq!(s.locked_at(), Some(1005), "the failure that locked it");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"last_step":42,"failures":3,"throttled_until":1014,"locked_at":1005}"#
        );
        assert_eq!(serde_json::from_str::<FactorState>(&json).unwrap(), s);
        s.unlock();
        assert_eq!(s.locked_at(), None);
        assert!(!throttle.is_locked(&s));
        assert_eq!(s.last_step(), Some(42), "old codes stay refused");
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"last_step":42,"failures":0,"throttled_until":null}"#
        );
    }
}
