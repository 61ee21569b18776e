#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod calibrate;
mod error;
mod hasher;
mod limiter;
mod params;
mod pepper;
mod policy;
mod pool;
mod secret;
mod stored;
mod verdict;

pub use crate::{
    calibrate::{Calibration, calibrate},
    error::{Cause, Error, Result},
    hasher::{PasswordHasher, PasswordHasherBuilder, SALT_LEN},
    limiter::{
        Admission, AttemptCounter, AttemptStore, Backoff, Limits, LoginLimiter, LoginVerdict,
        MemoryAttemptStore, Reservation,
    },
    params::{Params, ParamsBuilder},
    pepper::Pepper,
    policy::{BreachedPasswords, Context, Policy, PolicyVerdict, Refusal, blocklist_len},
    pool::HashingPool,
    secret::Password,
    stored::{Scheme, StoredHash},
    verdict::{UpgradeReason, Verdict, Verified},
};

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use crate::limiter::PostgresAttemptStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use crate::limiter::SqliteAttemptStore;

/// Hashes `password` with Argon2id at the default parameters into a PHC string.
///
/// # Errors
/// [`Error::PasswordTooLong`], [`Error::RandomUnavailable`].
pub fn hash_password(password: &str) -> Result<String> {
    PasswordHasher::shared_default().hash(&Password::new(password)?)
}

/// Verifies `password` against a stored hash of any supported scheme with
/// the default hasher; the [`Verdict`] says whether it is valid and whether
/// the hash should be upgraded.
///
/// # Errors
/// When the stored hash cannot be used (see [`PasswordHasher::verify`]).
pub fn verify_password(password: &str, stored_hash: &str) -> Result<Verdict> {
    PasswordHasher::shared_default().verify(&Password::new(password)?, stored_hash)
}

/// Verifies `password` and, when it is valid and the stored hash is
/// outdated, returns the replacement hash to store.
///
/// # Errors
/// When the stored hash cannot be used (see [`PasswordHasher::verify`]).
pub fn verify_and_upgrade(password: &str, stored_hash: &str) -> Result<Verified> {
    PasswordHasher::shared_default().verify_and_upgrade(&Password::new(password)?, stored_hash)
}
