//! The back-off schedule and the counter it decides over: pure functions of
//! a small value and the time, no storage.

use crate::{Error, Result};

/// The latest instant a counter holds (`i64::MAX` seconds): every value the
/// limiter writes fits a signed 64-bit SQL column, and a lock's expiry.
pub(crate) const NEVER: u64 = i64::MAX.unsigned_abs();

/// How consecutive attempts on one key slow down: otp's `Throttle` scheme
/// (django-otp's), counted on reservations.
///
/// The first `free_attempts` attempts go through at once; the n-th attempt
/// past them makes the next one wait `base_delay × 2^(n−1)` seconds, capped at
/// `max_delay`. A key without attempts for `forget_after` seconds starts over.
/// With `lock_after` (accounts only), the account refuses every attempt
/// after that many until
/// [`LoginLimiter::unlock`](crate::LoginLimiter::unlock) or a success.
///
/// All durations are in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    free_attempts: u32,
    base_delay: u64,
    max_delay: u64,
    forget_after: u64,
    lock_after: Option<u32>,
}

impl Backoff {
    /// A back-off that lets `free_attempts` through, then waits `base_delay`
    /// seconds doubling up to `max_delay`; forgotten after a day without
    /// attempts (or `max_delay`, if longer); never locks.
    ///
    /// [`Limits::new`] checks the values.
    #[must_use]
    pub fn new(free_attempts: u32, base_delay: u64, max_delay: u64) -> Self {
        Self {
            free_attempts,
            base_delay,
            max_delay,
            forget_after: max_delay.max(24 * 60 * 60),
            lock_after: None,
        }
    }

    /// Starts the key over after `seconds` without attempts. Must be at least
    /// `max_delay`, or waiting out the longest delay would wipe the count.
    #[must_use]
    pub fn with_forget_after(mut self, seconds: u64) -> Self {
        self.forget_after = seconds;
        self
    }

    /// Refuses every attempt once this many have been made without a
    /// success, until an unlock; `None` (the default) never locks. For the
    /// account back-off only: an address has no unlock.
    ///
    /// A lock lets anyone who knows an identifier lock its owner out, so
    /// prefer the back-off alone for passwords unless an unlock path exists.
    #[must_use]
    pub fn with_lock_after(mut self, attempts: Option<u32>) -> Self {
        self.lock_after = attempts;
        self
    }

    /// Attempts let through before the first delay.
    #[must_use]
    pub fn free_attempts(&self) -> u32 {
        self.free_attempts
    }

    /// The first delay, in seconds.
    #[must_use]
    pub fn base_delay(&self) -> u64 {
        self.base_delay
    }

    /// The longest delay, in seconds.
    #[must_use]
    pub fn max_delay(&self) -> u64 {
        self.max_delay
    }

    /// Seconds without attempts after which a key starts over.
    #[must_use]
    pub fn forget_after(&self) -> u64 {
        self.forget_after
    }

    /// Attempts without a success that lock the key, if any.
    #[must_use]
    pub fn lock_after(&self) -> Option<u32> {
        self.lock_after
    }

    /// The wait in seconds the `attempts`-th attempt imposes on the next
    /// one, or `None` while within the free attempts.
    #[must_use]
    pub fn delay_after(&self, attempts: u32) -> Option<u64> {
        let past = attempts.checked_sub(self.free_attempts)?;
        let exponent = past.checked_sub(1)?;
        let factor = 1_u64.checked_shl(exponent).unwrap_or(u64::MAX);
        Some(self.base_delay.saturating_mul(factor).min(self.max_delay))
    }

    fn check(&self, which: Which) -> Result<()> {
        let invalid = |name, requirement| Err(Error::ParamInvalid { name, requirement });
        if self.base_delay == 0 {
            return invalid(which.name("base_delay"), "must be at least 1 second");
        }
        if self.max_delay < self.base_delay {
            return invalid(which.name("max_delay"), "must be at least `base_delay`");
        }
        if self.forget_after < self.max_delay {
            return invalid(which.name("forget_after"), "must be at least `max_delay`");
        }
        if self.forget_after > NEVER {
            return invalid(
                which.name("forget_after"),
                "must be at most 2^63 - 1 seconds",
            );
        }
        if self.lock_after == Some(0) {
            return invalid(which.name("lock_after"), "must be at least 1 attempt");
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Which {
    Account,
    Address,
}

impl Which {
    fn name(self, field: &'static str) -> &'static str {
        match (self, field) {
            (Which::Account, "base_delay") => "account base_delay",
            (Which::Account, "max_delay") => "account max_delay",
            (Which::Account, "forget_after") => "account forget_after",
            (Which::Account, _) => "account lock_after",
            (Which::Address, "base_delay") => "address base_delay",
            (Which::Address, "max_delay") => "address max_delay",
            (Which::Address, "forget_after") => "address forget_after",
            (Which::Address, _) => "address lock_after",
        }
    }
}

/// The two back-offs a login attempt must pass: one per account identifier,
/// one per client address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    account: Backoff,
    address: Backoff,
}

impl Default for Limits {
    /// Per account: 5 free attempts, then 1 s doubling up to 15 minutes,
    /// forgotten after a day without attempts. Per address: 30 free
    /// attempts, then 1 s doubling up to 15 minutes, forgotten after an hour
    /// without attempts (so an office behind one address is not held back by
    /// a day's typos). No locks.
    fn default() -> Self {
        Self {
            account: Backoff::new(5, 1, 15 * 60),
            address: Backoff::new(30, 1, 15 * 60).with_forget_after(60 * 60),
        }
    }
}

impl Limits {
    /// Limits with these back-offs per account and per client address.
    ///
    /// # Errors
    /// [`Error::ParamInvalid`] when a base delay is 0, a maximum delay is
    /// below its base, a key would be forgotten sooner than its longest
    /// delay, the account's lock is set at 0 attempts, or the address
    /// back-off has a lock.
    pub fn new(account: Backoff, address: Backoff) -> Result<Self> {
        account.check(Which::Account)?;
        address.check(Which::Address)?;
        if address.lock_after.is_some() {
            return Err(Error::ParamInvalid {
                name: "address lock_after",
                requirement: "must be unset (an address has no unlock)",
            });
        }
        Ok(Self { account, address })
    }

    /// The back-off per account identifier.
    #[must_use]
    pub fn account(&self) -> &Backoff {
        &self.account
    }

    /// The back-off per client address.
    #[must_use]
    pub fn address(&self) -> &Backoff {
        &self.address
    }
}

/// What the limiter stores per key: attempts since the key was fresh, the
/// time before which the next attempt is refused, and the time after which
/// the whole counter is forgotten.
///
/// Times are Unix seconds and never exceed `i64::MAX`, so a counter fits
/// three signed 64-bit columns. A counter is worth the same as no counter
/// once `expires_at` has passed; a store may delete it then (and
/// [`MemoryAttemptStore`](crate::MemoryAttemptStore) evicts the counters
/// closest to expiry first when full). Stores compare counters by value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AttemptCounter {
    attempts: u32,
    retry_at: u64,
    expires_at: u64,
}

/// What a reservation on one key decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Go ahead; store this counter.
    Admit(AttemptCounter),
    /// Wait this many seconds.
    Throttled(u64),
    /// Locked until an unlock or a success.
    Locked,
}

impl AttemptCounter {
    /// A counter read back from storage.
    #[must_use]
    pub fn from_parts(attempts: u32, retry_at: u64, expires_at: u64) -> Self {
        Self {
            attempts,
            retry_at,
            expires_at,
        }
    }

    /// Attempts counted since the key was fresh (reserved, not refunded).
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Unix time before which the next attempt is refused.
    #[must_use]
    pub fn retry_at(&self) -> u64 {
        self.retry_at
    }

    /// Unix time from which the counter is forgotten.
    #[must_use]
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Whether the counter is forgotten at `now`.
    #[must_use]
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// The counter in force at `now`: the stored one unless it expired.
    pub(crate) fn live(stored: Option<Self>, now: u64) -> Self {
        stored.filter(|c| !c.is_expired(now)).unwrap_or_default()
    }

    /// Decides one more attempt at `now`.
    pub(crate) fn reserve(self, backoff: &Backoff, now: u64) -> Decision {
        let now = now.min(NEVER);
        if backoff.lock_after.is_some_and(|n| self.attempts >= n) {
            return Decision::Locked;
        }
        if now < self.retry_at {
            return Decision::Throttled(self.retry_at - now);
        }
        let attempts = self.attempts.saturating_add(1);
        // Within the free attempts the wait stays as it was (over by now):
        // an instance whose clock is a little behind is not refused.
        let retry_at = backoff
            .delay_after(attempts)
            .map_or(self.retry_at, |d| now.saturating_add(d).min(NEVER));
        let expires_at = if backoff.lock_after.is_some_and(|n| attempts >= n) {
            NEVER
        } else {
            now.saturating_add(backoff.forget_after)
                .max(retry_at)
                .min(NEVER)
        };
        Decision::Admit(Self {
            attempts,
            retry_at,
            expires_at,
        })
    }

    /// Takes back one attempt (its delay stays: refunds never loosen the
    /// current wait).
    pub(crate) fn refund(self) -> Self {
        Self {
            attempts: self.attempts.saturating_sub(1),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admit(c: AttemptCounter, b: &Backoff, now: u64) -> AttemptCounter {
        match c.reserve(b, now) {
            Decision::Admit(c) => c,
            other => unreachable!("expected an admission, got {other:?}"),
        }
    }

    #[test]
    fn delays_double_after_the_free_attempts_and_cap() {
        let b = Backoff::new(2, 5, 60);
        let delays: Vec<_> = (0..8).map(|n| b.delay_after(n)).collect();
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
        assert_eq!(b.delay_after(u32::MAX), Some(60));
    }

    #[test]
    fn free_attempts_then_waits_then_forgets() {
        let b = Backoff::new(2, 10, 100).with_forget_after(1000);
        let mut c = AttemptCounter::default();
        c = admit(c, &b, 0);
        c = admit(c, &b, 0);
        // The third attempt is let through and starts the first wait.
        c = admit(c, &b, 0);
        assert_eq!((c.attempts(), c.retry_at(), c.expires_at()), (3, 10, 1000));
        assert_eq!(c.reserve(&b, 9), Decision::Throttled(1));
        c = admit(c, &b, 10);
        assert_eq!(c.retry_at(), 30);
        assert_eq!(c.reserve(&b, 29), Decision::Throttled(1));
        // Forgotten after 1000 s without attempts.
        assert!(!c.is_expired(1009));
        assert!(c.is_expired(1010));
        assert_eq!(
            AttemptCounter::live(Some(c), 1010),
            AttemptCounter::default()
        );
        assert_eq!(AttemptCounter::live(Some(c), 1009), c);
    }

    #[test]
    fn free_attempts_do_not_refuse_a_clock_a_little_behind() {
        let b = Backoff::new(3, 10, 100);
        let c = admit(AttemptCounter::default(), &b, 100);
        let c = admit(c, &b, 99);
        assert_eq!(c.retry_at(), 0);
        let c = admit(c, &b, 98);
        // The attempt that starts the first wait sets it from its own clock.
        let c = admit(c, &b, 98);
        assert_eq!(c.reserve(&b, 107), Decision::Throttled(1));
    }

    #[test]
    fn locks_after_the_set_attempts_and_never_expires() {
        let b = Backoff::new(1, 1, 1).with_lock_after(Some(2));
        let c = admit(AttemptCounter::default(), &b, 0);
        let c = admit(c, &b, 5);
        assert_eq!(c.expires_at(), NEVER);
        assert_eq!(c.reserve(&b, 10_000_000), Decision::Locked);
    }

    #[test]
    fn refunds_keep_the_wait() {
        let b = Backoff::new(0, 10, 10);
        let c = admit(AttemptCounter::default(), &b, 0);
        let r = c.refund();
        assert_eq!((r.attempts(), r.retry_at()), (0, 10));
        assert_eq!(r.reserve(&b, 5), Decision::Throttled(5));
        assert_eq!(AttemptCounter::default().refund().attempts(), 0);
    }

    #[test]
    fn times_saturate_below_i64_max() {
        let b = Backoff::new(0, u64::MAX / 2, u64::MAX / 2).with_forget_after(NEVER);
        let c = admit(AttemptCounter::default(), &b, u64::MAX);
        assert_eq!((c.retry_at(), c.expires_at()), (NEVER, NEVER));
    }

    #[test]
    fn limits_refuse_settings_that_disable_the_back_off() {
        let ok = Backoff::new(3, 1, 60);
        let cases = [
            (Backoff::new(3, 0, 60), "account base_delay"),
            (Backoff::new(3, 10, 5), "account max_delay"),
            (ok.with_forget_after(59), "account forget_after"),
            (ok.with_lock_after(Some(0)), "account lock_after"),
        ];
        for (bad, name) in cases {
            match Limits::new(bad, ok) {
                Err(Error::ParamInvalid { name: n, .. }) => assert_eq!(n, name),
                other => unreachable!("{name}: {other:?}"),
            }
        }
        match Limits::new(ok, Backoff::new(3, 0, 60)) {
            Err(Error::ParamInvalid { name, .. }) => assert_eq!(name, "address base_delay"),
            other => unreachable!("{other:?}"),
        }
        match Limits::new(ok, ok.with_lock_after(Some(100))) {
            Err(Error::ParamInvalid { name, .. }) => assert_eq!(name, "address lock_after"),
            other => unreachable!("{other:?}"),
        }
        let d = Limits::default();
        assert_eq!(Limits::new(*d.account(), *d.address()).unwrap(), d);
    }
}
