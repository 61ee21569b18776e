//! The login-attempt limiter: attempts are reserved before verification.
//!
//! `backoff` holds the pure schedule and the counter it decides over;
//! `store` the storage trait and the in-memory store; `sqlite` and
//! `postgres` the SQL stores. This module composes them: a reservation on
//! the client address, then on the account, each one compare-and-swap.

mod backoff;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

use core::fmt;
use std::net::IpAddr;

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

pub(crate) use self::backoff::Decision;
pub use self::backoff::{AttemptCounter, Backoff, Limits};
#[cfg(feature = "postgres")]
pub use self::postgres::PostgresAttemptStore;
#[cfg(feature = "sqlite")]
pub use self::sqlite::SqliteAttemptStore;
pub use self::store::{AttemptStore, MemoryAttemptStore};

use crate::{Error, Password, PasswordHasher, Result, Verified};

/// How many times one update retries a lost compare-and-swap. Each loss
/// means another writer of the same key won, and writers are themselves
/// limited by the back-off, so this is far above what contention reaches;
/// it ends the loop for a store whose compare-and-swap never succeeds.
const MAX_TRIES: u32 = 1_000;

const MAX_IDENTIFIER_BYTES: usize = 1024;

/// Counts login attempts per account identifier and per client address
/// in the caller's store and refuses those the back-off does not allow,
/// **before** any password is verified.
///
/// Every attempt is reserved with an atomic compare-and-swap before the
/// hash runs, so parallel guesses cannot outrun the count: no more
/// attempts are evaluated than the schedule allows, however many arrive
/// at once and on however many application instances share the store.
/// Both keys must admit the attempt: the address is reserved first (a
/// throttled address never touches an account's counter), then the
/// account. A read-only look at the account comes before both, so that
/// retrying a throttled account costs the address nothing.
///
/// Keys are the identifier as typed (trimmed, NFKC, lower-cased) and the
/// client address (IPv6 by /64), hashed: the limiter never learns whether
/// an account exists, so known and unknown identifiers get the same
/// answers. [`LoginLimiter::verify`] also spends a dummy verification on
/// unknown accounts, so they take the same time.
///
/// What settles a reservation:
/// - a verified success ([`Reservation::succeeded`]) clears the account's
///   counter and takes this one attempt back from the address's count,
///   keeping the address's current wait: earlier failures from the address
///   stay counted, so an attacker signing in to their own account between
///   guesses gains nothing;
/// - a failure ([`Reservation::failed`], or dropping the reservation, or an
///   error while verifying) leaves the attempt counted on both;
/// - an attempt the account refuses after the address admitted it (a race
///   with another attempt on the account) is taken back from the address,
///   since nothing was verified.
#[derive(Debug)]
pub struct LoginLimiter<S> {
    store: S,
    limits: Limits,
}

/// The answer to a reservation.
#[derive(Debug)]
#[must_use]
pub enum Admission<'a, S: AttemptStore> {
    /// Verify the password now, then settle the reservation.
    Admitted(Reservation<'a, S>),
    /// Refused without verifying: a back-off is running.
    Throttled {
        /// Seconds until an attempt may be admitted (at least 1).
        retry_after: u64,
    },
    /// Refused without verifying: the account is locked until
    /// [`LoginLimiter::unlock`].
    Locked,
}

/// An admitted attempt, to be settled after the verification. Dropping it
/// unsettled counts as a failure.
#[must_use = "settle the reservation with `succeeded` or `failed`"]
pub struct Reservation<'a, S: AttemptStore> {
    limiter: &'a LoginLimiter<S>,
    account: String,
    address: Taken,
}

/// A reservation made on one key.
#[derive(Debug)]
struct Taken {
    key: String,
    at: u64,
}

impl<S: AttemptStore> fmt::Debug for Reservation<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("reserved_at", &self.address.at)
            .finish_non_exhaustive()
    }
}

/// The answer of [`LoginLimiter::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum LoginVerdict {
    /// The password is right; store `new_hash` if there is one.
    Accepted(Verified),
    /// Wrong password or unknown account: deliberately the same answer.
    Rejected,
    /// Not verified: a back-off is running.
    Throttled {
        /// Seconds until an attempt may be admitted (at least 1).
        retry_after: u64,
    },
    /// Not verified: locked until an unlock.
    Locked,
}

impl<S: AttemptStore> LoginLimiter<S> {
    /// The longest account identifier accepted, in bytes.
    pub const MAX_IDENTIFIER_BYTES: usize = MAX_IDENTIFIER_BYTES;

    /// A limiter over `store` with these limits.
    pub fn new(store: S, limits: Limits) -> Self {
        Self { store, limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Reserves one login attempt for `account` (the identifier as the user
    /// typed it, whether or not such an account exists) from `address` at
    /// `now` (Unix seconds). Only an [`Admission::Admitted`] attempt may
    /// verify the password.
    ///
    /// # Errors
    /// [`Error::IdentifierTooLong`], [`Error::AttemptStoreFailed`],
    /// [`Error::AttemptStoreContended`]. No attempt may be verified then.
    pub fn reserve(&self, account: &str, address: IpAddr, now: u64) -> Result<Admission<'_, S>> {
        let account = account_key(account)?;
        let address = address_key(address);
        // A look first, so that retrying a throttled account costs the
        // address nothing; the reservation below decides.
        let peek = AttemptCounter::live(self.store.load(&account)?, now)
            .reserve(self.limits.account(), now);
        if !matches!(peek, Decision::Admit(_)) {
            return Ok(to_refusal(peek));
        }
        let address = match self.take(address, self.limits.address(), now)? {
            Ok(taken) => taken,
            Err(refused) => return Ok(refused),
        };
        let answer = match self.take(account, self.limits.account(), now) {
            Ok(Ok(taken)) => {
                return Ok(Admission::Admitted(Reservation {
                    limiter: self,
                    account: taken.key,
                    address,
                }));
            }
            Ok(Err(refused)) => Ok(refused),
            Err(e) => Err(e),
        };
        // Nothing will be verified: the address gets its attempt back.
        self.give_back(&address, now)?;
        answer
    }

    /// Reserves, verifies and settles in one call: `stored_hash` is the
    /// account's hash, or `None` when no account has this identifier (a
    /// dummy verification then takes the same time and the answer is
    /// [`LoginVerdict::Rejected`], as for a wrong password).
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve) and
    /// [`PasswordHasher::verify_and_upgrade`]; the attempt stays counted.
    pub fn verify(
        &self,
        hasher: &PasswordHasher,
        account: &str,
        address: IpAddr,
        password: &Password,
        stored_hash: Option<&str>,
        now: u64,
    ) -> Result<LoginVerdict> {
        let reservation = match self.reserve(account, address, now)? {
            Admission::Admitted(reservation) => reservation,
            Admission::Throttled { retry_after } => {
                return Ok(LoginVerdict::Throttled { retry_after });
            }
            Admission::Locked => return Ok(LoginVerdict::Locked),
        };
        let verified = match stored_hash {
            Some(stored) => hasher.verify_and_upgrade(password, stored)?,
            None => Verified {
                verdict: hasher.verify_dummy(password)?,
                new_hash: None,
            },
        };
        if verified.verdict.is_valid() {
            reservation.succeeded(now)?;
            Ok(LoginVerdict::Accepted(verified))
        } else {
            reservation.failed();
            Ok(LoginVerdict::Rejected)
        }
    }

    /// Clears the account's counter and lock (an administrator's unlock;
    /// audit it). The address counters are left as they are.
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve).
    pub fn unlock(&self, account: &str) -> Result<()> {
        self.reset(&account_key(account)?)
    }

    /// One reservation on one key: the decision on the live counter,
    /// stored if it admits.
    fn take(
        &self,
        key: String,
        backoff: &Backoff,
        now: u64,
    ) -> Result<core::result::Result<Taken, Admission<'_, S>>> {
        let decision = self.update(&key, |stored| {
            let decision = AttemptCounter::live(stored, now).reserve(backoff, now);
            match decision {
                Decision::Admit(new) => (Some(new), decision),
                _ => (None, decision),
            }
        })?;
        Ok(match decision {
            Decision::Admit(_) => Ok(Taken { key, at: now }),
            refused => Err(to_refusal(refused)),
        })
    }

    fn reset(&self, key: &str) -> Result<()> {
        self.update(key, |stored| {
            (stored.map(|_| AttemptCounter::default()), ())
        })
    }

    /// Takes back an address reservation: the counter loses one attempt
    /// and keeps its current wait (a refund never loosens a wait), unless it
    /// may have been forgotten since (a counter lives at least
    /// `forget_after` past its last reservation, so before that time the
    /// stored counter is the one holding this attempt).
    fn give_back(&self, taken: &Taken, now: u64) -> Result<()> {
        let forget_after = self.limits.address().forget_after();
        if now >= taken.at.saturating_add(forget_after) {
            return Ok(());
        }
        self.update(&taken.key, |stored| {
            let live = stored.filter(|c| c.attempts() > 0 && !c.is_expired(now));
            (live.map(AttemptCounter::refund), ())
        })
    }

    /// Load, decide, compare-and-swap; again while another writer wins.
    fn update<T>(
        &self,
        key: &str,
        mut step: impl FnMut(Option<AttemptCounter>) -> (Option<AttemptCounter>, T),
    ) -> Result<T> {
        for _ in 0..MAX_TRIES {
            let current = self.store.load(key)?;
            let (new, answer) = step(current);
            match new {
                Some(new) if Some(new) != current => {
                    if self.store.compare_and_swap(key, current, new)? {
                        return Ok(answer);
                    }
                }
                _ => return Ok(answer),
            }
        }
        Err(Error::AttemptStoreContended { tries: MAX_TRIES })
    }
}

fn to_refusal<'a, S: AttemptStore>(decision: Decision) -> Admission<'a, S> {
    match decision {
        Decision::Throttled(seconds) => Admission::Throttled {
            retry_after: seconds.max(1),
        },
        // Only refusals reach here; refusing is the safe reading of anything else.
        Decision::Locked | Decision::Admit(_) => Admission::Locked,
    }
}

impl<S: AttemptStore> Reservation<'_, S> {
    /// The password was verified at `now`: clears the account's counter
    /// and takes this attempt back from the address's count.
    ///
    /// # Errors
    /// [`Error::AttemptStoreFailed`], [`Error::AttemptStoreContended`].
    pub fn succeeded(self, now: u64) -> Result<()> {
        self.limiter.reset(&self.account)?;
        self.limiter.give_back(&self.address, now)
    }

    /// The password was wrong: the attempt stays counted (as it does when
    /// the reservation is dropped).
    pub fn failed(self) {}
}

/// `acct:` and the hex SHA-256 of the identifier as typed: trimmed, NFKC,
/// lower-cased, so that variants an account lookup may treat as equal
/// share one counter (merging keys only makes the limiter stricter).
fn account_key(identifier: &str) -> Result<String> {
    if identifier.len() > MAX_IDENTIFIER_BYTES {
        return Err(Error::IdentifierTooLong {
            max: MAX_IDENTIFIER_BYTES,
        });
    }
    let folded: String = identifier
        .trim()
        .nfkc()
        .flat_map(char::to_lowercase)
        .collect();
    Ok(key("acct:", b"account", folded.as_bytes()))
}

/// `addr:` and the hex SHA-256 of the address: IPv4 whole (IPv4-mapped IPv6
/// as IPv4), IPv6 by its /64 prefix, the block one subscriber gets.
fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => key("addr:", b"ipv4", &v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => key("addr:", b"ipv4", &v4.octets()),
            None => key(
                "addr:",
                b"ipv6/64",
                v6.octets().get(..8).unwrap_or_default(),
            ),
        },
    }
}

fn key(prefix: &str, kind: &[u8], value: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(b"palisade-password login limiter\0")
        .chain_update(kind)
        .chain_update([0])
        .chain_update(value)
        .finalize();
    let mut out = String::with_capacity(prefix.len() + 64);
    out.push_str(prefix);
    data_encoding::HEXLOWER.encode_append(&digest, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_fold_what_a_lookup_may_treat_as_equal() {
        let k = account_key("alice@example.com").unwrap();
        assert_eq!(k.len(), 5 + 64);
        assert!(k.starts_with("acct:"));
        assert_eq!(account_key("  Alice@Example.COM\t").unwrap(), k);
        // NFKC: a fullwidth 'a' is an 'a'.
        assert_eq!(account_key("\u{FF41}lice@example.com").unwrap(), k);
        assert_ne!(account_key("bob@example.com").unwrap(), k);
        let long = "a".repeat(1025);
        assert!(matches!(
            account_key(&long),
            Err(Error::IdentifierTooLong { max: 1024 })
        ));
        assert!(account_key(&long[1..]).is_ok());
    }

    #[test]
    fn address_keys_group_ipv6_by_64_and_map_ipv4() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            address_key(ip("2001:db8:1:2::1")),
            address_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            address_key(ip("2001:db8:1:2::1")),
            address_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            address_key(ip("::ffff:192.0.2.7")),
            address_key(ip("192.0.2.7"))
        );
        assert_ne!(address_key(ip("192.0.2.7")), address_key(ip("192.0.2.8")));
        // Accounts and addresses never share a key.
        assert!(address_key(ip("192.0.2.7")).starts_with("addr:"));
    }
}
