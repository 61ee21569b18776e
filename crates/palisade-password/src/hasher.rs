//! The configurable hasher behind the front-door functions.

use std::sync::{LazyLock, Mutex, OnceLock};

use argon2::{Algorithm, Argon2, Block, Version};
use rand_core::{OsRng, RngCore};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::stored::Kind;
use crate::{
    Error, Params, Password, Pepper, Result, Scheme, StoredHash, UpgradeReason, Verdict, Verified,
};

/// Length of the random salt of new hashes, in bytes.
pub const SALT_LEN: usize = 16;

/// Argon2 working memory, reused between hashes and wiped after each one (as
/// libargon2 and libsodium wipe theirs).
#[derive(Default)]
pub(crate) struct Memory {
    blocks: Vec<Block>,
    /// How many leading blocks may hold Argon2 state: those used since the
    /// last wipe.
    dirty: usize,
}

impl Memory {
    /// Memory for `blocks` blocks of 1 KiB, growing the buffer if needed.
    fn blocks(&mut self, blocks: usize) -> &mut [Block] {
        if self.blocks.len() < blocks {
            self.blocks.resize(blocks, Block::default());
        }
        self.dirty = self.dirty.max(blocks);
        &mut self.blocks
    }

    /// Overwrites every block used since the last wipe with zeros.
    ///
    /// A plain fill compiles to a vectorized memset, and
    /// `zeroize::optimization_barrier` keeps the compiler from removing it:
    /// the way `zeroize` itself wipes slices of plain integers, without the
    /// per-word volatile stores `Block`'s own `Zeroize` does (a quarter of
    /// the instructions of a 19 MiB wipe, measured with callgrind).
    fn wipe(&mut self) {
        let dirty = self.dirty.min(self.blocks.len());
        if let Some(used) = self.blocks.get_mut(..dirty) {
            used.fill(Block::default());
            zeroize::optimization_barrier(used);
        }
        self.dirty = 0;
    }

    /// KiB currently held.
    pub(crate) fn held_kib(&self) -> u64 {
        self.blocks.len() as u64
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // Already wiped after each hash; this covers a hash that unwound.
        self.wipe();
    }
}

/// One wiped [`Memory`] a hasher keeps between calls, so that a server's
/// logins reuse it instead of allocating (and faulting in) 19 MiB each time.
/// A caller that finds it taken by a concurrent call allocates its own.
#[derive(Default)]
struct Spare(Mutex<Option<Memory>>);

impl Spare {
    fn take(&self) -> Memory {
        self.0
            .try_lock()
            .ok()
            .and_then(|mut spare| spare.take())
            .unwrap_or_default()
    }

    /// Keeps `memory` (wiped) for the next call when it is no larger than
    /// `max_kib` and the slot is free; otherwise it is dropped.
    fn put_back(&self, mut memory: Memory, max_kib: u64) {
        memory.wipe();
        if memory.held_kib() > max_kib {
            return;
        }
        if let Ok(mut spare) = self.0.try_lock()
            && spare.is_none()
        {
            *spare = Some(memory);
        }
    }
}

/// Ceilings on the work a stored hash may ask for, so that a tampered row
/// cannot make a login allocate gigabytes or spin for minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ceilings {
    memory_kib: u64,
    argon2_passes: u32,
    scrypt_lanes: u32,
    pbkdf2_iterations: u32,
    bcrypt_cost: u32,
}

impl Default for Ceilings {
    fn default() -> Self {
        Self {
            memory_kib: 1024 * 1024,
            argon2_passes: 64,
            scrypt_lanes: 16,
            pbkdf2_iterations: 10_000_000,
            bcrypt_cost: 16,
        }
    }
}

/// Hashes passwords with Argon2id and verifies stored hashes of every
/// accepted scheme, telling when a hash should be upgraded.
///
/// Build one per application (it is `Send + Sync`; share it in an `Arc`) with
/// [`PasswordHasher::builder`], or use [`PasswordHasher::default`]: OWASP's
/// parameters, no pepper, every compiled-in legacy scheme accepted.
///
/// A hasher keeps the Argon2 working memory of its last call, wiped, for the
/// next one (one buffer of its parameters' size: 19 MiB at the defaults), so
/// that repeated logins do not allocate and fault in fresh memory each time;
/// a call made while another holds it allocates its own, freed after use.
/// Memory for a stored hash with larger parameters is never kept, and a
/// [`HashingPool`](crate::HashingPool) started over the hasher hands the kept
/// buffer to its first worker rather than holding it beside its budget.
pub struct PasswordHasher {
    params: Params,
    /// The pepper new hashes use.
    pepper: Option<Pepper>,
    /// Retired peppers, still accepted for verification.
    retired: Vec<Pepper>,
    accepted: Vec<Scheme>,
    ceilings: Ceilings,
    dummy: OnceLock<StoredHash>,
    spare: Spare,
}

impl core::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .field("pepper", &self.pepper)
            .field("retired", &self.retired)
            .field("accepted", &self.accepted)
            .finish_non_exhaustive()
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self {
            params: Params::default(),
            pepper: None,
            retired: Vec::new(),
            accepted: Scheme::ALL
                .into_iter()
                .filter(|s| s.is_compiled_in())
                .collect(),
            ceilings: Ceilings::default(),
            dummy: OnceLock::new(),
            spare: Spare::default(),
        }
    }
}

/// Builder of a [`PasswordHasher`].
///
/// ```
/// use palisade_password::{ParamsBuilder, PasswordHasher, Pepper, Scheme};
///
/// let hasher = PasswordHasher::builder()
///     .params(ParamsBuilder::new().m_cost(32_768).build()?)
///     .pepper(Pepper::new("2026", *b"a 32-byte secret from the vault!")?)
///     .retired_pepper(Pepper::new("2025", *b"last year's 32-byte vault secret")?)
///     .accept_only(&[Scheme::Bcrypt])
///     .build()?;
/// assert_eq!(hasher.params().m_cost(), 32_768);
/// # Ok::<(), palisade_password::Error>(())
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct PasswordHasherBuilder {
    hasher: PasswordHasher,
}

impl PasswordHasherBuilder {
    /// The Argon2id parameters of new hashes (default: [`Params::default`]).
    pub fn params(mut self, params: Params) -> Self {
        self.hasher.params = params;
        self
    }

    /// The pepper new hashes use; hashes without it report an upgrade.
    pub fn pepper(mut self, pepper: Pepper) -> Self {
        self.hasher.pepper = Some(pepper);
        self
    }

    /// A retired pepper: hashes made under it still verify, and report an upgrade.
    pub fn retired_pepper(mut self, pepper: Pepper) -> Self {
        self.hasher.retired.push(pepper);
        self
    }

    /// Accept Argon2id plus exactly these legacy schemes (default: every
    /// compiled-in scheme). Stored hashes of other schemes are refused with
    /// [`Error::SchemeNotAccepted`].
    pub fn accept_only(mut self, legacy: &[Scheme]) -> Self {
        let mut accepted = vec![Scheme::Argon2id];
        accepted.extend(legacy.iter().copied().filter(|s| *s != Scheme::Argon2id));
        self.hasher.accepted = accepted;
        self
    }

    /// The most memory a stored hash may ask for, in KiB (default 1 GiB);
    /// hashes above it are refused with [`Error::CostTooHigh`].
    pub fn max_memory_kib(mut self, kib: u64) -> Self {
        self.hasher.ceilings.memory_kib = kib;
        self
    }

    /// Checks and returns the hasher.
    ///
    /// # Errors
    /// [`Error::PepperIdDuplicate`] when two peppers share a key id,
    /// [`Error::SchemeUnsupported`] when an accepted scheme is not compiled in,
    /// [`Error::ParamInvalid`] when the memory ceiling is below the parameters.
    pub fn build(self) -> Result<PasswordHasher> {
        let hasher = self.hasher;
        let mut ids: Vec<&str> = hasher.peppers().map(Pepper::id).collect();
        ids.sort_unstable();
        if let Some(pair) = ids.windows(2).find(|w| w.first() == w.get(1)) {
            let id = pair.first().copied().unwrap_or_default();
            return Err(Error::PepperIdDuplicate(id.to_owned()));
        }
        if hasher.accepted.iter().any(|s| !s.is_compiled_in()) {
            return Err(Error::SchemeUnsupported);
        }
        if hasher.params.memory_kib() > hasher.ceilings.memory_kib {
            return Err(Error::ParamInvalid {
                name: "max_memory_kib",
                requirement: "must be at least the memory of the current parameters",
            });
        }
        Ok(hasher)
    }
}

static DEFAULT_HASHER: LazyLock<PasswordHasher> = LazyLock::new(PasswordHasher::default);

impl PasswordHasher {
    /// Starts a builder from the defaults.
    pub fn builder() -> PasswordHasherBuilder {
        PasswordHasherBuilder::default()
    }

    /// The shared default hasher used by the front-door functions.
    pub fn shared_default() -> &'static PasswordHasher {
        &DEFAULT_HASHER
    }

    /// The parameters of new hashes.
    pub fn params(&self) -> Params {
        self.params
    }

    fn peppers(&self) -> impl Iterator<Item = &Pepper> {
        self.pepper.iter().chain(&self.retired)
    }

    /// Hashes `password` into an Argon2id PHC string with a fresh 16-byte salt
    /// (and the current pepper's `keyid=`, when one is configured).
    ///
    /// # Errors
    /// [`Error::RandomUnavailable`] when the OS cannot provide a salt.
    pub fn hash(&self, password: &Password) -> Result<String> {
        self.with_memory(|memory| self.hash_in(password, memory))
            .map(|h| h.to_string())
    }

    /// Verifies `password` against `stored_hash` (any accepted scheme).
    ///
    /// A wrong password is `Ok` with an invalid [`Verdict`]; errors mean the
    /// stored hash could not be used.
    ///
    /// # Errors
    /// [`Error::HashMalformed`], [`Error::SchemeUnsupported`],
    /// [`Error::SchemeNotAccepted`], [`Error::CostTooHigh`],
    /// [`Error::PepperUnknown`].
    pub fn verify(&self, password: &Password, stored_hash: &str) -> Result<Verdict> {
        let stored = StoredHash::parse(stored_hash)?;
        self.with_memory(|memory| self.verify_in(password, &stored, memory))
    }

    /// Verifies like [`verify`](Self::verify) and, when the password is
    /// valid and the hash needs an upgrade, hashes it anew (passlib's
    /// `verify_and_update`, Django's upgrade on login).
    ///
    /// # Errors
    /// As [`verify`](Self::verify) and [`hash`](Self::hash).
    pub fn verify_and_upgrade(&self, password: &Password, stored_hash: &str) -> Result<Verified> {
        let stored = StoredHash::parse(stored_hash)?;
        self.with_memory(|memory| self.verify_and_upgrade_in(password, &stored, memory))
    }

    /// Whether a stored hash should be replaced at the next successful
    /// login, without a password (libsodium's `crypto_pwhash_str_needs_rehash`).
    ///
    /// # Errors
    /// As [`verify`](Self::verify), without computing anything.
    pub fn needs_upgrade(&self, stored_hash: &str) -> Result<bool> {
        let stored = StoredHash::parse(stored_hash)?;
        self.admit(&stored)?;
        Ok(!self.upgrade_reasons(&stored).is_empty())
    }

    /// Spends the time of a real verification and answers invalid: call it
    /// when the user does not exist, so that response times do not reveal
    /// which accounts exist (Django's dummy hash for unknown users).
    ///
    /// The dummy hash is computed once, lazily, with the current parameters
    /// and pepper; the first call therefore costs one extra hash.
    ///
    /// # Errors
    /// [`Error::RandomUnavailable`] if the dummy hash cannot be made.
    pub fn verify_dummy(&self, password: &Password) -> Result<Verdict> {
        self.with_memory(|memory| self.verify_dummy_in(password, memory))
    }

    /// The wiped memory kept from the last direct call (empty if none), for
    /// a pool worker to take over.
    pub(crate) fn take_kept_memory(&self) -> Memory {
        self.spare.take()
    }

    /// Runs `f` with the hasher's spare working memory (or a new one when a
    /// concurrent call holds it), then wipes it and keeps it for the next
    /// call if it is no larger than the current parameters need.
    fn with_memory<T>(&self, f: impl FnOnce(&mut Memory) -> T) -> T {
        let mut memory = self.spare.take();
        let result = f(&mut memory);
        self.spare.put_back(memory, self.params.memory_kib());
        result
    }

    pub(crate) fn dummy(&self, memory: &mut Memory) -> Result<&StoredHash> {
        if let Some(dummy) = self.dummy.get() {
            return Ok(dummy);
        }
        let mut secret = [0u8; 32];
        OsRng
            .try_fill_bytes(&mut secret)
            .map_err(|_| Error::RandomUnavailable)?;
        let stored = self.hash_bytes_in(&secret, memory);
        secret.zeroize();
        let stored = stored?;
        Ok(self.dummy.get_or_init(|| stored))
    }

    pub(crate) fn verify_dummy_in(
        &self,
        password: &Password,
        memory: &mut Memory,
    ) -> Result<Verdict> {
        let dummy = self.dummy(memory)?.clone();
        // Same work as a real verification; the answer is always invalid.
        let _ = self.verify_in(password, &dummy, memory)?;
        Ok(Verdict::invalid(Scheme::Argon2id))
    }

    pub(crate) fn hash_in(&self, password: &Password, memory: &mut Memory) -> Result<StoredHash> {
        self.hash_bytes_in(password.as_bytes(), memory)
    }

    fn hash_bytes_in(&self, password: &[u8], memory: &mut Memory) -> Result<StoredHash> {
        let mut salt = [0u8; SALT_LEN];
        OsRng
            .try_fill_bytes(&mut salt)
            .map_err(|_| Error::RandomUnavailable)?;
        let mut tag = vec![0u8; self.params.output_len()];
        argon2_tag(
            Algorithm::Argon2id,
            Version::V0x13,
            self.params,
            self.pepper.as_ref().map(Pepper::secret),
            &[],
            password,
            &salt,
            &mut tag,
            memory,
        )?;
        Ok(StoredHash {
            kind: Kind::Argon2 {
                scheme: Scheme::Argon2id,
                version: Version::V0x13,
                params: self.params,
                keyid: self
                    .pepper
                    .as_ref()
                    .map(|p| p.id().as_bytes().to_vec())
                    .unwrap_or_default(),
                data: Vec::new(),
                salt: salt.to_vec(),
                tag,
            },
        })
    }

    pub(crate) fn verify_and_upgrade_in(
        &self,
        password: &Password,
        stored: &StoredHash,
        memory: &mut Memory,
    ) -> Result<Verified> {
        let verdict = self.verify_in(password, stored, memory)?;
        let new_hash = if verdict.needs_upgrade() {
            Some(self.hash_in(password, memory)?.to_string())
        } else {
            None
        };
        Ok(Verified { verdict, new_hash })
    }

    /// Refuses stored hashes this hasher will not compute: scheme not
    /// accepted, cost above the ceilings, unknown pepper.
    fn admit<'a>(&'a self, stored: &StoredHash) -> Result<Option<&'a Pepper>> {
        let scheme = stored.scheme();
        if !scheme.is_compiled_in() {
            return Err(Error::SchemeUnsupported);
        }
        if !self.accepted.contains(&scheme) {
            return Err(Error::SchemeNotAccepted(scheme));
        }
        let c = &self.ceilings;
        let within = match &stored.kind {
            Kind::Argon2 { params, .. } => {
                params.memory_kib() <= c.memory_kib && params.t_cost() <= c.argon2_passes
            }
            Kind::Scrypt { .. } => {
                scrypt_memory_kib(stored) <= c.memory_kib && scrypt_lanes(stored) <= c.scrypt_lanes
            }
            Kind::Pbkdf2 { iterations, .. } => *iterations <= c.pbkdf2_iterations,
            Kind::Bcrypt { cost, .. } => *cost <= c.bcrypt_cost,
        };
        if !within {
            return Err(Error::CostTooHigh);
        }
        match &stored.kind {
            Kind::Argon2 { keyid, .. } if !keyid.is_empty() => self
                .peppers()
                .find(|p| p.id().as_bytes() == keyid.as_slice())
                .map(Some)
                .ok_or_else(|| Error::PepperUnknown(printable_id(keyid))),
            _ => Ok(None),
        }
    }

    /// Memory a verification of `stored` holds, in KiB.
    pub(crate) fn memory_kib_of(stored: &StoredHash) -> u64 {
        match &stored.kind {
            Kind::Argon2 { params, .. } => params.memory_kib(),
            Kind::Scrypt { .. } => scrypt_memory_kib(stored),
            Kind::Pbkdf2 { .. } | Kind::Bcrypt { .. } => 4,
        }
    }

    pub(crate) fn verify_in(
        &self,
        password: &Password,
        stored: &StoredHash,
        memory: &mut Memory,
    ) -> Result<Verdict> {
        let pepper = self.admit(stored)?;
        let scheme = stored.scheme();
        if matches(password.as_bytes(), stored, pepper, memory)? {
            return Ok(Verdict::valid(scheme, self.upgrade_reasons(stored)));
        }
        // The input differed from its NFKC form: a hash made elsewhere from
        // the unnormalized bytes still verifies, and is upgraded.
        if let Some(raw) = password.raw_bytes()
            && matches(raw, stored, pepper, memory)?
        {
            let mut reasons = self.upgrade_reasons(stored);
            reasons.push(UpgradeReason::Unnormalized);
            return Ok(Verdict::valid(scheme, reasons));
        }
        Ok(Verdict::invalid(scheme))
    }

    fn upgrade_reasons(&self, stored: &StoredHash) -> Vec<UpgradeReason> {
        let mut reasons = Vec::new();
        if stored.scheme().is_legacy() {
            reasons.push(UpgradeReason::LegacyScheme);
        }
        if let Kind::Argon2 {
            version,
            params,
            keyid,
            salt,
            data,
            ..
        } = &stored.kind
        {
            if *version != Version::V0x13 {
                reasons.push(UpgradeReason::OldVersion);
            }
            if *params != self.params || salt.len() < SALT_LEN || !data.is_empty() {
                reasons.push(UpgradeReason::Params);
            }
            let current = self.pepper.as_ref().map(|p| p.id().as_bytes());
            if current != (!keyid.is_empty()).then_some(keyid.as_slice()) {
                reasons.push(UpgradeReason::Pepper);
            }
        } else if self.pepper.is_some() {
            reasons.push(UpgradeReason::Pepper);
        }
        reasons
    }
}

fn printable_id(keyid: &[u8]) -> String {
    keyid
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

fn scrypt_memory_kib(stored: &StoredHash) -> u64 {
    match &stored.kind {
        // 128 * r * N bytes.
        Kind::Scrypt { log_n, r, .. } => {
            (u64::from(*r) << 7)
                .saturating_mul(1u64.checked_shl(u32::from(*log_n)).unwrap_or(u64::MAX))
                / 1024
        }
        _ => 0,
    }
}

fn scrypt_lanes(stored: &StoredHash) -> u32 {
    match &stored.kind {
        Kind::Scrypt { p, .. } => *p,
        _ => 0,
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "mirrors RFC 9106's inputs one to one"
)]
pub(crate) fn argon2_tag(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    secret: Option<&[u8]>,
    data: &[u8],
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Memory,
) -> Result<()> {
    let refused = |_| Error::HashComputationFailed("argon2 refused its inputs");
    let mut builder = argon2::ParamsBuilder::new();
    builder
        .m_cost(params.m_cost())
        .t_cost(params.t_cost())
        .p_cost(params.p_cost())
        .output_len(out.len());
    if !data.is_empty() {
        builder.data(argon2::AssociatedData::new(data).map_err(refused)?);
    }
    let argon2_params = builder.build().map_err(refused)?;
    let blocks = argon2_params.block_count();
    let context = match secret {
        Some(secret) => {
            Argon2::new_with_secret(secret, algorithm, version, argon2_params).map_err(refused)?
        }
        None => Argon2::new(algorithm, version, argon2_params),
    };
    let result = context
        .hash_password_into_with_memory(password, salt, out, memory.blocks(blocks))
        .map_err(refused);
    memory.wipe();
    result
}

/// Computes the stored hash's function over `password` and compares in
/// constant time.
fn matches(
    password: &[u8],
    stored: &StoredHash,
    pepper: Option<&Pepper>,
    memory: &mut Memory,
) -> Result<bool> {
    match &stored.kind {
        Kind::Argon2 {
            scheme,
            version,
            params,
            data,
            salt,
            tag,
            ..
        } => {
            let algorithm = match scheme {
                Scheme::Argon2i => Algorithm::Argon2i,
                Scheme::Argon2d => Algorithm::Argon2d,
                _ => Algorithm::Argon2id,
            };
            let mut out = vec![0u8; tag.len()];
            argon2_tag(
                algorithm,
                *version,
                *params,
                pepper.map(Pepper::secret),
                data,
                password,
                salt,
                &mut out,
                memory,
            )?;
            let equal = out.ct_eq(tag).into();
            out.zeroize();
            Ok(equal)
        }
        #[cfg(feature = "bcrypt")]
        Kind::Bcrypt { encoded, .. } => {
            bcrypt::verify(password, encoded).map_err(|_| Error::HashMalformed("not a bcrypt hash"))
        }
        #[cfg(feature = "pbkdf2")]
        Kind::Pbkdf2 {
            iterations,
            salt,
            tag,
            ..
        } => {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, *iterations, &mut out);
            let equal = out.ct_eq(tag.as_slice()).into();
            out.zeroize();
            Ok(equal)
        }
        #[cfg(feature = "scrypt")]
        Kind::Scrypt {
            log_n,
            r,
            p,
            salt,
            tag,
        } => {
            let params = scrypt::Params::new(*log_n, *r, *p, tag.len())
                .map_err(|_| Error::HashMalformed("scrypt parameters out of range"))?;
            let mut out = vec![0u8; tag.len()];
            scrypt::scrypt(password, salt, &params, &mut out)
                .map_err(|_| Error::HashComputationFailed("scrypt refused its inputs"))?;
            let equal = out.ct_eq(tag).into();
            out.zeroize();
            Ok(equal)
        }
        #[allow(unreachable_patterns, reason = "reached when a legacy feature is off")]
        _ => Err(Error::SchemeUnsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParamsBuilder;

    fn hasher(m: u32) -> PasswordHasher {
        let params = ParamsBuilder::new().m_cost(m).t_cost(1).build().unwrap();
        PasswordHasher::builder().params(params).build().unwrap()
    }

    /// The spare memory's state: `None` when no memory is kept, else
    /// (KiB held, whether every word is zero).
    fn spare(hasher: &PasswordHasher) -> Option<(u64, bool)> {
        let spare = hasher.spare.0.lock().unwrap();
        spare.as_ref().map(|memory| {
            let zero = memory
                .blocks
                .iter()
                .all(|block| block.as_ref().iter().all(|&word| word == 0));
            (memory.held_kib(), zero)
        })
    }

    #[test]
    fn wipe_zeroes_every_block_used_since_the_last_wipe() {
        let mut memory = Memory::default();
        memory.blocks(8).iter_mut().for_each(|b| {
            b.as_mut().fill(u64::MAX);
        });
        memory.blocks(4);
        memory.wipe();
        assert_eq!(memory.dirty, 0);
        assert!(
            memory
                .blocks
                .iter()
                .all(|b| b.as_ref().iter().all(|&w| w == 0))
        );
    }

    #[test]
    fn memory_is_kept_wiped_between_calls() {
        let hasher = hasher(64);
        assert_eq!(spare(&hasher), None);
        let password = Password::new("correct horse battery staple").unwrap();
        let stored = hasher.hash(&password).unwrap();
        assert_eq!(spare(&hasher), Some((64, true)));
        assert!(hasher.verify(&password, &stored).unwrap().is_valid());
        assert!(hasher.verify_dummy(&password).is_ok());
        let verified = hasher.verify_and_upgrade(&password, &stored).unwrap();
        assert!(verified.verdict.is_valid());
        assert_eq!(spare(&hasher), Some((64, true)));
    }

    #[test]
    fn memory_of_larger_stored_parameters_is_not_kept() {
        let password = Password::new("correct horse battery staple").unwrap();
        let larger = hasher(256).hash(&password).unwrap();
        let hasher = hasher(64);
        let verdict = hasher.verify(&password, &larger).unwrap();
        assert!(verdict.is_valid() && verdict.needs_upgrade());
        assert_eq!(spare(&hasher), None, "256 KiB kept by a 64 KiB hasher");
        // The next call allocates what its own parameters need, and keeps it.
        hasher.hash(&password).unwrap();
        assert_eq!(spare(&hasher), Some((64, true)));
    }

    #[test]
    fn a_pool_takes_over_the_kept_memory() {
        let hasher = hasher(64);
        let password = Password::new("correct horse battery staple").unwrap();
        let stored = hasher.hash(&password).unwrap();
        assert_eq!(spare(&hasher), Some((64, true)));
        let hasher = std::sync::Arc::new(hasher);
        let pool = crate::HashingPool::new(std::sync::Arc::clone(&hasher), 64 * 1024).unwrap();
        assert_eq!(spare(&hasher), None, "kept beside the pool's budget");
        assert!(pool.verify(password, &stored).unwrap().is_valid());
    }

    #[test]
    fn concurrent_calls_each_get_memory_and_agree() {
        let hasher = hasher(64);
        let password = Password::new("correct horse battery staple").unwrap();
        let stored = hasher.hash(&password).unwrap();
        std::thread::scope(|scope| {
            let calls: Vec<_> = (0..8)
                .map(|i| {
                    let (hasher, stored) = (&hasher, &stored);
                    scope.spawn(move || {
                        let guess = if i % 2 == 0 {
                            "correct horse battery staple"
                        } else {
                            "wrong"
                        };
                        hasher
                            .verify(&Password::new(guess).unwrap(), stored)
                            .unwrap()
                            .is_valid()
                    })
                })
                .collect();
            for (i, call) in calls.into_iter().enumerate() {
                assert_eq!(call.join().unwrap(), i % 2 == 0);
            }
        });
        assert_eq!(spare(&hasher), Some((64, true)));
    }
}
