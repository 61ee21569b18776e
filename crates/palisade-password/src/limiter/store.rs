//! Where counters live: the store trait and the in-memory store.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{AttemptCounter, Error, Result};

/// Storage for the login limiter's counters: a load and a compare-and-swap.
///
/// Implement it over the application's own database; the crate ships
/// [`MemoryAttemptStore`] and, behind features, `SqliteAttemptStore`
/// (`sqlite`) and `PostgresAttemptStore` (`postgres`). The limiter decides
/// in pure code and asks the store only to replace a counter **if it still
/// holds the value the decision was made on**: that one atomic step is what
/// keeps concurrent attempts, from any number of threads or application
/// instances, within the back-off. A store that writes without comparing
/// (read, then write) lets parallel guesses through.
///
/// Keys are at most 72 ASCII bytes (`acct:` or `addr:` and a hex SHA-256
/// of the identifier): no e-mail address or IP address reaches the store.
/// Counters compare by value (no version column is needed: the decision
/// depends on nothing else).
///
/// In SQL, with a table `login_attempts (key TEXT PRIMARY KEY, attempts
/// BIGINT, retry_at BIGINT, expires_at BIGINT)`, `load` is a `SELECT` by key
/// and `compare_and_swap` one statement: `INSERT … ON CONFLICT (key) DO
/// NOTHING` when `current` is `None`, otherwise `UPDATE … SET … WHERE key =
/// $1 AND attempts = $5 AND retry_at = $6 AND expires_at = $7`; it swapped
/// when one row was affected.
pub trait AttemptStore {
    /// The counter stored under `key`, if any (expired or not).
    ///
    /// # Errors
    /// [`Error::AttemptStoreFailed`] when the store cannot be read.
    fn load(&self, key: &str) -> Result<Option<AttemptCounter>>;

    /// Stores `new` under `key` if the stored value is still `current`
    /// (`None`: no counter under `key`), atomically; answers whether it did.
    ///
    /// # Errors
    /// [`Error::AttemptStoreFailed`] when the store cannot be written.
    fn compare_and_swap(
        &self,
        key: &str,
        current: Option<AttemptCounter>,
        new: AttemptCounter,
    ) -> Result<bool>;
}

impl<S: AttemptStore + ?Sized> AttemptStore for &S {
    fn load(&self, key: &str) -> Result<Option<AttemptCounter>> {
        (**self).load(key)
    }

    fn compare_and_swap(
        &self,
        key: &str,
        current: Option<AttemptCounter>,
        new: AttemptCounter,
    ) -> Result<bool> {
        (**self).compare_and_swap(key, current, new)
    }
}

impl<S: AttemptStore + ?Sized> AttemptStore for Arc<S> {
    fn load(&self, key: &str) -> Result<Option<AttemptCounter>> {
        (**self).load(key)
    }

    fn compare_and_swap(
        &self,
        key: &str,
        current: Option<AttemptCounter>,
        new: AttemptCounter,
    ) -> Result<bool> {
        (**self).compare_and_swap(key, current, new)
    }
}

const SHARDS: usize = 16;

/// Counters in this process's memory: sharded maps under mutexes, with a
/// bound on the number of counters.
///
/// For a single instance (several instances need a shared store, such as
/// `PostgresAttemptStore`). Memory stays bounded whatever an attacker
/// sprays: when a shard is full, the eighth of its counters closest to
/// expiry is dropped (expired ones first, as they expire soonest).
/// Dropping a live counter forgets its attempts, so make the capacity
/// comfortably larger than the keys touched within the longest
/// `forget_after`; filling it takes that many admitted attempts, each of
/// which costs the attacker a real verification's wait.
pub struct MemoryAttemptStore {
    shards: Box<[Mutex<HashMap<String, AttemptCounter>>]>,
    shard_capacity: usize,
    hasher: RandomState,
}

impl core::fmt::Debug for MemoryAttemptStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryAttemptStore")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryAttemptStore {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl MemoryAttemptStore {
    /// Default number of counters held: 100,000 (about 15 MiB).
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// An empty store holding up to [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) counters.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store holding up to `counters` counters (at least 16).
    #[must_use]
    pub fn with_capacity(counters: usize) -> Self {
        let shard_capacity = counters.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            shard_capacity,
            hasher: RandomState::new(),
        }
    }

    /// The most counters held at once.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shard_capacity.saturating_mul(SHARDS)
    }

    /// Counters held now (expired ones included until evicted).
    ///
    /// # Errors
    /// [`Error::AttemptStoreFailed`] when a shard's lock is poisoned.
    pub fn len(&self) -> Result<usize> {
        (0..SHARDS).try_fold(0, |n, i| Ok(n + self.lock(i)?.len()))
    }

    /// Whether no counter is held.
    ///
    /// # Errors
    /// [`Error::AttemptStoreFailed`] when a shard's lock is poisoned.
    pub fn is_empty(&self) -> Result<bool> {
        self.len().map(|n| n == 0)
    }

    fn lock(&self, shard: usize) -> Result<MutexGuard<'_, HashMap<String, AttemptCounter>>> {
        self.shards
            .get(shard)
            .ok_or_else(|| Error::AttemptStoreFailed("no such shard".into()))?
            .lock()
            .map_err(|_| Error::AttemptStoreFailed("a shard's lock is poisoned".into()))
    }

    fn shard_of(&self, key: &str) -> usize {
        // Reduced modulo a small constant: the cast cannot truncate meaningfully.
        (self.hasher.hash_one(key) % SHARDS as u64) as usize
    }

    /// Drops the eighth of `map`'s counters that expire soonest.
    fn evict(map: &mut HashMap<String, AttemptCounter>) {
        let drop = (map.len() / 8).max(1);
        let mut by_expiry: Vec<(u64, &String)> =
            map.iter().map(|(k, c)| (c.expires_at(), k)).collect();
        if drop < by_expiry.len() {
            by_expiry.select_nth_unstable(drop);
        }
        let victims: Vec<String> = by_expiry
            .into_iter()
            .take(drop)
            .map(|(_, k)| k.clone())
            .collect();
        for key in victims {
            map.remove(&key);
        }
    }
}

impl AttemptStore for MemoryAttemptStore {
    fn load(&self, key: &str) -> Result<Option<AttemptCounter>> {
        Ok(self.lock(self.shard_of(key))?.get(key).copied())
    }

    fn compare_and_swap(
        &self,
        key: &str,
        current: Option<AttemptCounter>,
        new: AttemptCounter,
    ) -> Result<bool> {
        let mut map = self.lock(self.shard_of(key))?;
        if map.get(key).copied() != current {
            return Ok(false);
        }
        if new == AttemptCounter::default() {
            // A reset: holding nothing is worth the same.
            map.remove(key);
        } else if let Some(slot) = map.get_mut(key) {
            *slot = new;
        } else {
            if map.len() >= self.shard_capacity {
                Self::evict(&mut map);
            }
            map.insert(key.to_owned(), new);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_only_from_the_stored_value() {
        let store = MemoryAttemptStore::new();
        let one = AttemptCounter::from_parts(1, 0, 10);
        let two = AttemptCounter::from_parts(2, 0, 10);
        assert!(!store.compare_and_swap("k", Some(one), two).unwrap());
        assert!(store.compare_and_swap("k", None, one).unwrap());
        assert!(!store.compare_and_swap("k", None, two).unwrap());
        assert!(store.compare_and_swap("k", Some(one), two).unwrap());
        assert_eq!(store.load("k").unwrap(), Some(two));
        assert!(
            store
                .compare_and_swap("k", Some(two), AttemptCounter::default())
                .unwrap()
        );
        assert_eq!(store.load("k").unwrap(), None);
        assert!(store.is_empty().unwrap());
    }

    #[test]
    fn eviction_drops_the_soonest_to_expire() {
        let mut map: HashMap<String, AttemptCounter> = (0..80u64)
            .map(|i| (format!("k{i}"), AttemptCounter::from_parts(1, 0, 1000 - i)))
            .collect();
        MemoryAttemptStore::evict(&mut map);
        assert_eq!(map.len(), 70);
        // The ten with the earliest expiry (k70..k79) are gone.
        assert!((70..80).all(|i| !map.contains_key(&format!("k{i}"))));
        assert!((0..70).all(|i| map.contains_key(&format!("k{i}"))));
    }

    #[test]
    fn memory_stays_bounded_under_a_spray() {
        let store = MemoryAttemptStore::with_capacity(1_000);
        let c = AttemptCounter::from_parts(1, 0, 100);
        for i in 0..50_000 {
            assert!(store.compare_and_swap(&format!("k{i}"), None, c).unwrap());
            assert!(store.len().unwrap() <= store.capacity());
        }
        assert!(store.len().unwrap() > store.capacity() / 2);
    }
}
