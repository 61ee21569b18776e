//! Every instance's compiled tenant policies, kept current across instances.
//!
//! A policy change is stored with a conditional write that bumps the tenant's
//! `policy_version` and, on PostgreSQL, sends `NOTIFY palisade_policy,
//! '<tenant>'` in the same transaction (delivered when it commits). Each
//! instance keeps one connection that `LISTEN`s on that channel and drops a
//! tenant's cached policy as soon as its notice arrives, so the next request
//! reads the new one. Notices can be missed (the listening connection drops,
//! the server restarts): then the cache is emptied on reconnection, and as a
//! fallback every cached policy's version is compared with the database's at
//! least every [`RECHECK_LISTENING`] (every [`RECHECK_POLLING`] while no
//! listener is connected, and always on SQLite, which has one instance).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use palisade_rbac::Policy;
use postgres::fallible_iterator::FallibleIterator;

/// The PostgreSQL notification channel of policy changes; the payload is
/// the tenant's id.
pub(crate) const CHANNEL: &str = "palisade_policy";

/// How stale a cached policy may be while this instance hears every
/// change's notice: the fallback check for a notice lost in flight.
const RECHECK_LISTENING: Duration = Duration::from_secs(5);

/// How stale a cached policy may be while no listener is connected (or
/// there is none: SQLite): a change made by another instance is in force
/// here within this time.
const RECHECK_POLLING: Duration = Duration::from_millis(500);

/// One tenant's compiled policy at a version, and when the version was
/// last compared with the database's.
struct Entry {
    version: i64,
    policy: Arc<Policy>,
    checked: Instant,
}

/// The compiled policies of the tenants this instance has served.
#[derive(Default)]
pub(crate) struct PolicyCache {
    entries: RwLock<HashMap<String, Entry>>,
    /// Bumped by every notice and every (re)connection of the listener: a
    /// policy read before a bump is not cached after it.
    generation: AtomicU64,
    /// Whether the listener is connected and listening.
    listening: AtomicBool,
}

impl PolicyCache {
    fn recheck(&self) -> Duration {
        if self.listening.load(Ordering::Acquire) {
            RECHECK_LISTENING
        } else {
            RECHECK_POLLING
        }
    }

    /// `tenant`'s cached policy if it was checked recently enough.
    pub(crate) fn fresh(&self, tenant: &str) -> Option<Arc<Policy>> {
        let entries = self.entries.read().ok()?;
        let entry = entries.get(tenant)?;
        (entry.checked.elapsed() < self.recheck()).then(|| Arc::clone(&entry.policy))
    }

    /// `tenant`'s cached policy if its version is `version` (the database's
    /// current one): marked checked now.
    pub(crate) fn confirm(&self, tenant: &str, version: i64) -> Option<Arc<Policy>> {
        let mut entries = self.entries.write().ok()?;
        let entry = entries.get_mut(tenant)?;
        (entry.version == version).then(|| {
            entry.checked = Instant::now();
            Arc::clone(&entry.policy)
        })
    }

    /// The generation to pass to [`PolicyCache::insert`]: read it before
    /// reading the policy from the database.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches `policy` at `version`, read from the database after
    /// `generation` was taken; not if a notice arrived since (the policy
    /// read may predate the change the notice announced).
    pub(crate) fn insert(&self, tenant: &str, version: i64, policy: Arc<Policy>, generation: u64) {
        if let Ok(mut entries) = self.entries.write()
            && self.generation.load(Ordering::Acquire) == generation
        {
            entries.insert(
                tenant.to_owned(),
                Entry {
                    version,
                    policy,
                    checked: Instant::now(),
                },
            );
        }
    }

    /// Drops `tenant`'s cached policy (all of them with `None`).
    fn invalidate(&self, tenant: Option<&str>) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            match tenant {
                Some(tenant) => {
                    entries.remove(tenant);
                }
                None => entries.clear(),
            }
        }
    }

    /// Starts the thread that listens for policy notices on PostgreSQL at
    /// `url` (TLS verified with `ca`, as every other connection), for as
    /// long as `cache` lives. It reconnects after a failure (emptying the
    /// cache, since notices may have been missed meanwhile).
    pub(crate) fn listen(cache: &Arc<PolicyCache>, url: String, ca: Option<PathBuf>) {
        let cache = Arc::downgrade(cache);
        let spawned = std::thread::Builder::new()
            .name("policy-notices".into())
            .spawn(move || listen_loop(&cache, &url, ca.as_deref()));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the policy notice listener; polling");
        }
    }
}

fn listen_loop(cache: &Weak<PolicyCache>, url: &str, ca: Option<&std::path::Path>) {
    while cache.strong_count() > 0 {
        match listen_once(cache, url, ca) {
            Ok(()) => return,
            Err(e) => {
                if let Some(cache) = cache.upgrade() {
                    cache.listening.store(false, Ordering::Release);
                }
                tracing::warn!(error = %e, "policy notices interrupted; polling until reconnected");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// One listening connection: returns `Ok` when the cache is gone, `Err`
/// when the connection fails.
fn listen_once(
    cache: &Weak<PolicyCache>,
    url: &str,
    ca: Option<&std::path::Path>,
) -> crate::Result<()> {
    let mut client = crate::db::pg_connect(url, ca)?;
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .map_err(|e| crate::Error::Storage(crate::db::with_sources(&e)))?;
    match cache.upgrade() {
        // Changes made while no one listened: read every policy afresh.
        Some(cache) => {
            cache.invalidate(None);
            cache.listening.store(true, Ordering::Release);
        }
        None => return Ok(()),
    }
    loop {
        // Wake up every second to notice that the app has closed.
        let mut notices = client.notifications();
        let mut iter = notices.timeout_iter(Duration::from_secs(1));
        loop {
            let notice = iter.next();
            let Some(cache) = cache.upgrade() else {
                return Ok(());
            };
            match notice {
                Ok(None) => break,
                Ok(Some(notice)) => cache.invalidate(Some(notice.payload())),
                Err(e) => return Err(crate::Error::Storage(crate::db::with_sources(&e))),
            }
        }
        drop(iter);
        drop(notices);
        // `timeout_iter` ends quietly on a closed connection: ask the
        // server, so a dead connection is noticed within a second.
        if client.is_closed() {
            return Err(crate::Error::Storage(
                "the listening connection closed".into(),
            ));
        }
    }
}
