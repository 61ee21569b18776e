//! The login limiter: parallel guesses against every store stay within the
//! allowance, known and unknown identifiers answer alike, and what a
//! success, a failure and a refusal do to the account and address counters.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use palisade_password::{
    Admission, AttemptCounter, AttemptStore, Backoff, Error, Limits, LoginLimiter, LoginVerdict,
    MemoryAttemptStore, ParamsBuilder, Password, PasswordHasher, PostgresAttemptStore, Result,
    SqliteAttemptStore,
};

const NOW: u64 = 1_700_000_000;
const THREADS: usize = 200;
const REPETITIONS: usize = 20;
/// Free attempts per account in the races; the allowance at one instant is
/// one more (the attempt that starts the first wait is evaluated).
const FREE: u32 = 5;
const ALLOWANCE: usize = FREE as usize + 1;
const ADDRESS_FREE: u32 = 20;
const ADDRESS_ALLOWANCE: usize = ADDRESS_FREE as usize + 1;

fn hasher() -> PasswordHasher {
    PasswordHasher::builder()
        .params(ParamsBuilder::new().m_cost(16).t_cost(1).build().unwrap())
        .build()
        .unwrap()
}

fn race_limits() -> Limits {
    Limits::new(
        Backoff::new(FREE, 60, 900),
        Backoff::new(ADDRESS_FREE, 60, 900),
    )
    .unwrap()
}

fn ip(n: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + u32::try_from(n).unwrap()))
}

fn password(s: &str) -> Password {
    Password::new(s).unwrap()
}

/// What one racer did.
#[derive(Default)]
struct Tally {
    evaluated: AtomicUsize,
    right_evaluated: AtomicBool,
    throttled: AtomicUsize,
}

/// One round of a race: every racer guesses once, at `NOW`.
#[derive(Clone)]
enum Round {
    /// Racer `i` guesses `victim` from address `base + i`; racer `right_at`
    /// (if any) with the right password.
    OneAccount {
        victim: String,
        base: usize,
        right_at: Option<usize>,
    },
    /// Racer `i` guesses `user-{rep}-{i}` from `sprayer`.
    OneAddress { rep: usize, sprayer: IpAddr },
}

impl Round {
    fn account(&self, i: usize) -> String {
        match self {
            Round::OneAccount { victim, .. } => victim.clone(),
            Round::OneAddress { rep, .. } => format!("user-{rep}-{i}@example.com"),
        }
    }

    fn address(&self, i: usize) -> IpAddr {
        match self {
            Round::OneAccount { base, .. } => ip(base + i),
            Round::OneAddress { sprayer, .. } => *sprayer,
        }
    }

    fn is_right(&self, i: usize) -> bool {
        matches!(self, Round::OneAccount { right_at: Some(r), .. } if *r == i)
    }
}

/// `THREADS` racer threads, started once, released together for each round
/// on `limiters` (round robin: several application instances). Every
/// admitted racer verifies for real and settles.
struct Racers<'a, S> {
    limiters: &'a [LoginLimiter<S>],
    hasher: &'a PasswordHasher,
    stored: &'a str,
    round: std::sync::RwLock<Option<Round>>,
    tally: std::sync::Mutex<Arc<Tally>>,
    /// What a racer's failure said (its panic is caught so that the others
    /// are not left waiting at a barrier).
    failure: std::sync::Mutex<Option<String>>,
    start: Barrier,
    end: Barrier,
}

impl<S: AttemptStore + Sync> Racers<'_, S> {
    fn racer(&self, i: usize) {
        let (right, wrong) = (password("the right one"), password("a wrong guess"));
        let limiter = &self.limiters[i % self.limiters.len()];
        loop {
            self.start.wait();
            let Some(round) = self.round.read().unwrap().clone() else {
                return;
            };
            let tally = Arc::clone(&self.tally.lock().unwrap());
            let guess = if round.is_right(i) { &right } else { &wrong };
            let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let (account, address) = (round.account(i), round.address(i));
                match limiter.reserve(&account, address, NOW).unwrap() {
                    Admission::Admitted(reservation) => {
                        tally.evaluated.fetch_add(1, SeqCst);
                        if self.hasher.verify(guess, self.stored).unwrap().is_valid() {
                            tally.right_evaluated.store(true, SeqCst);
                            reservation.succeeded(NOW).unwrap();
                        } else {
                            reservation.failed();
                        }
                    }
                    Admission::Throttled { retry_after } => {
                        assert!((1..=60).contains(&retry_after), "{retry_after}");
                        tally.throttled.fetch_add(1, SeqCst);
                    }
                    Admission::Locked => panic!("no lock is configured"),
                }
            }));
            if let Err(panic) = attempt {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                *self.failure.lock().unwrap() = Some(format!("racer {i}: {message}"));
            }
            self.end.wait();
        }
    }

    /// Runs one round and answers what the racers did.
    fn run(&self, round: Round) -> Arc<Tally> {
        let tally = Arc::new(Tally::default());
        *self.tally.lock().unwrap() = Arc::clone(&tally);
        *self.round.write().unwrap() = Some(round);
        self.start.wait();
        self.end.wait();
        if let Some(failure) = self.failure.lock().unwrap().take() {
            panic!("{failure}");
        }
        tally
    }
}

/// Starts the racers, hands them to `body`, stops them.
fn with_racers<S: AttemptStore + Sync>(
    limiters: &[LoginLimiter<S>],
    hasher: &PasswordHasher,
    stored: &str,
    body: impl FnOnce(&Racers<'_, S>),
) {
    let racers = Racers {
        limiters,
        hasher,
        stored,
        round: std::sync::RwLock::new(None),
        tally: std::sync::Mutex::new(Arc::default()),
        failure: std::sync::Mutex::new(None),
        start: Barrier::new(THREADS + 1),
        end: Barrier::new(THREADS + 1),
    };
    std::thread::scope(|s| {
        for i in 0..THREADS {
            let racers = &racers;
            s.spawn(move || racers.racer(i));
        }
        // A failed expectation in `body` must not leave the racers waiting.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&racers)));
        *racers.round.write().unwrap() = None;
        racers.start.wait();
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    });
}

/// The races of issue 15, `REPETITIONS` times on fresh keys:
/// 1. `THREADS` wrong guesses on one account from as many addresses: exactly
///    the allowance is evaluated; then the right password is refused while
///    the back-off holds and accepted once it ends;
/// 2. the same with the right password among the racers (every
///    `right_every`-th repetition): at most one allowance before it and one
///    after its success are evaluated;
/// 3. `THREADS` wrong guesses from one address on as many accounts: exactly
///    the address's allowance is evaluated.
fn exercise_races<S: AttemptStore + Sync>(limiters: &[LoginLimiter<S>], right_every: usize) {
    let hasher = hasher();
    let stored = hasher.hash(&password("the right one")).unwrap();
    let last = &limiters[limiters.len() - 1];
    with_racers(limiters, &hasher, &stored, |racers| {
        for rep in 0..REPETITIONS {
            let base = rep * 10 * THREADS;
            let victim = format!("victim-{rep}@example.com");
            let tally = racers.run(Round::OneAccount {
                victim: victim.clone(),
                base,
                right_at: None,
            });
            assert_eq!(tally.evaluated.load(SeqCst), ALLOWANCE, "repetition {rep}");
            assert_eq!(tally.throttled.load(SeqCst), THREADS - ALLOWANCE);
            let right = password("the right one");
            let elsewhere = ip(base + THREADS);
            for t in [NOW, NOW + 59] {
                assert_eq!(
                    last.verify(&hasher, &victim, elsewhere, &right, Some(&stored), t)
                        .unwrap(),
                    LoginVerdict::Throttled {
                        retry_after: NOW + 60 - t
                    },
                    "the right password once the back-off holds, repetition {rep}"
                );
            }
            assert!(matches!(
                last.verify(&hasher, &victim, elsewhere, &right, Some(&stored), NOW + 60)
                    .unwrap(),
                LoginVerdict::Accepted(_)
            ));

            if rep % right_every == 0 {
                let tally = racers.run(Round::OneAccount {
                    victim: format!("second-victim-{rep}@example.com"),
                    base: base + 2 * THREADS,
                    right_at: Some(rep * 7 % THREADS),
                });
                let evaluated = tally.evaluated.load(SeqCst);
                if tally.right_evaluated.load(SeqCst) {
                    assert!(
                        (ALLOWANCE..=2 * ALLOWANCE).contains(&evaluated),
                        "{evaluated}"
                    );
                } else {
                    assert_eq!(evaluated, ALLOWANCE, "repetition {rep}");
                }
            }

            let tally = racers.run(Round::OneAddress {
                rep,
                sprayer: ip(base + 4 * THREADS),
            });
            assert_eq!(
                tally.evaluated.load(SeqCst),
                ADDRESS_ALLOWANCE,
                "repetition {rep}"
            );
        }
    });
}

#[test]
fn parallel_guesses_stay_within_the_allowance_in_memory() {
    let store = Arc::new(MemoryAttemptStore::new());
    let limiters: Vec<_> = (0..4)
        .map(|_| LoginLimiter::new(Arc::clone(&store), race_limits()))
        .collect();
    exercise_races(&limiters, 1);
}

#[test]
fn parallel_guesses_stay_within_the_allowance_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("limiter.db");
    // Four connections to one file: four application instances.
    let limiters: Vec<_> = (0..4)
        .map(|_| LoginLimiter::new(SqliteAttemptStore::open(&path).unwrap(), race_limits()))
        .collect();
    exercise_races(&limiters, 4);
}

#[test]
fn parallel_guesses_stay_within_the_allowance_in_postgres() {
    let Some(server) = palisade_testkit::Postgres::start_or_skip() else {
        return;
    };
    // Commits need not wait for the disk in a throwaway server: atomicity
    // and isolation, which the race is about, are the same.
    postgres::Client::connect(server.url(), postgres::NoTls)
        .unwrap()
        .batch_execute("ALTER DATABASE postgres SET synchronous_commit = off")
        .unwrap();
    // Four connections: four application instances on one database.
    let limiters: Vec<_> = (0..4)
        .map(|_| {
            LoginLimiter::new(
                PostgresAttemptStore::connect(server.url()).unwrap(),
                race_limits(),
            )
        })
        .collect();
    exercise_races(&limiters, 4);
}

/// A store whose reads are slow, widening the window between the read and
/// the write; `blind` writes without comparing, as the back office did
/// (read the count, verify, write count + 1).
struct SlowStore {
    inner: MemoryAttemptStore,
    blind: bool,
}

impl AttemptStore for SlowStore {
    fn load(&self, key: &str) -> Result<Option<AttemptCounter>> {
        let value = self.inner.load(key);
        std::thread::sleep(Duration::from_millis(2));
        value
    }

    fn compare_and_swap(
        &self,
        key: &str,
        current: Option<AttemptCounter>,
        new: AttemptCounter,
    ) -> Result<bool> {
        let current = if self.blind {
            self.inner.load(key)?
        } else {
            current
        };
        self.inner.compare_and_swap(key, current, new)
    }
}

#[test]
fn the_race_catches_a_store_that_writes_without_comparing() {
    let hasher = hasher();
    let stored = hasher.hash(&password("the right one")).unwrap();
    let run = |blind: bool| {
        let store = SlowStore {
            inner: MemoryAttemptStore::new(),
            blind,
        };
        let limiters = [LoginLimiter::new(store, race_limits())];
        let mut evaluated = 0;
        with_racers(&limiters, &hasher, &stored, |racers| {
            let tally = racers.run(Round::OneAccount {
                victim: "victim@example.com".into(),
                base: 0,
                right_at: None,
            });
            evaluated = tally.evaluated.load(SeqCst);
        });
        evaluated
    };
    // Read-then-write loses updates: far more guesses are evaluated.
    assert!(run(true) > 2 * ALLOWANCE);
    // The same slow store with a real compare-and-swap holds.
    assert_eq!(run(false), ALLOWANCE);
}

#[test]
fn known_and_unknown_identifiers_answer_alike() {
    let hasher = hasher();
    let stored = hasher.hash(&password("the right one")).unwrap();
    let limits = Limits::new(Backoff::new(3, 10, 100), Backoff::new(1000, 1, 1)).unwrap();
    let limiter = LoginLimiter::new(MemoryAttemptStore::new(), limits);
    let wrong = password("a wrong guess");
    let offsets = [
        0, 0, 0, 0, 0, 5, 9, 10, 10, 11, 29, 30, 30, 70, 71, 150, 400, 400, 401, 90_000, 90_000,
    ];
    let burst = |account: &str, stored: Option<&str>, address: IpAddr| -> Vec<LoginVerdict> {
        offsets
            .iter()
            .map(|&dt| {
                limiter
                    .verify(&hasher, account, address, &wrong, stored, NOW + dt)
                    .unwrap()
            })
            .collect()
    };
    let known = burst("alice@example.com", Some(&stored), ip(1));
    let unknown = burst("nobody@example.com", None, ip(2));
    assert_eq!(known, unknown);
    assert!(known.contains(&LoginVerdict::Rejected));
    assert!(
        known
            .iter()
            .any(|v| matches!(v, LoginVerdict::Throttled { .. }))
    );

    // In parallel too: the same numbers of each answer.
    let parallel = |account: &str, stored: Option<&str>, from: usize| {
        let (rejected, throttled) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let barrier = Barrier::new(THREADS);
        std::thread::scope(|s| {
            for i in 0..THREADS {
                let (rejected, throttled, barrier) = (&rejected, &throttled, &barrier);
                let (limiter, hasher, wrong) = (&limiter, &hasher, &wrong);
                s.spawn(move || {
                    barrier.wait();
                    match limiter
                        .verify(hasher, account, ip(from + i), wrong, stored, NOW)
                        .unwrap()
                    {
                        LoginVerdict::Rejected => rejected.fetch_add(1, SeqCst),
                        LoginVerdict::Throttled { .. } => throttled.fetch_add(1, SeqCst),
                        other => panic!("{other:?}"),
                    };
                });
            }
        });
        (rejected.into_inner(), throttled.into_inner())
    };
    let known = parallel("bob@example.com", Some(&stored), 1000);
    let unknown = parallel("nobody-else@example.com", None, 2000);
    assert_eq!(known, unknown);
    assert_eq!(known, (4, THREADS - 4));
}

#[test]
fn a_success_clears_the_account_and_only_its_own_attempt_on_the_address() {
    let hasher = hasher();
    let stored = hasher.hash(&password("mallory's own")).unwrap();
    let (right, wrong) = (password("mallory's own"), password("a guess"));
    let limits = Limits::new(Backoff::new(2, 60, 900), Backoff::new(2, 60, 900)).unwrap();
    let limiter = LoginLimiter::new(MemoryAttemptStore::new(), limits);
    let attacker = ip(1);
    let verify = |account: &str, p: &Password, stored: Option<&str>, t: u64| {
        limiter
            .verify(&hasher, account, attacker, p, stored, t)
            .unwrap()
    };
    // Two free failures from the address, then the attacker's own sign-in:
    // admitted (the third attempt, which starts the address's wait)...
    assert_eq!(verify("v1", &wrong, None, NOW), LoginVerdict::Rejected);
    assert_eq!(verify("v2", &wrong, None, NOW), LoginVerdict::Rejected);
    assert!(matches!(
        verify("mallory", &right, Some(&stored), NOW),
        LoginVerdict::Accepted(_)
    ));
    // ... and it does not give the address its free attempts back.
    assert_eq!(
        verify("v3", &wrong, None, NOW),
        LoginVerdict::Throttled { retry_after: 60 }
    );
    // After the wait, one guess goes through and starts the next wait: the
    // success took back only its own attempt (count 2, not 0).
    assert_eq!(verify("v3", &wrong, None, NOW + 60), LoginVerdict::Rejected);
    assert_eq!(
        verify("v4", &wrong, None, NOW + 60),
        LoginVerdict::Throttled { retry_after: 60 }
    );

    // The account: failures up to its wait, then a success clears them all.
    let (limiter, hasher, stored) = (&limiter, &hasher, &stored);
    let from = |n| {
        move |account: &str, p: &Password, t: u64| {
            limiter
                .verify(hasher, account, ip(n), p, Some(stored), t)
                .unwrap()
        }
    };
    for n in 10..13 {
        assert_eq!(from(n)("mallory", &wrong, NOW), LoginVerdict::Rejected);
    }
    assert_eq!(
        from(13)("mallory", &right, NOW),
        LoginVerdict::Throttled { retry_after: 60 }
    );
    assert!(matches!(
        from(14)("mallory", &right, NOW + 60),
        LoginVerdict::Accepted(_)
    ));
    for n in 15..18 {
        assert_eq!(from(n)("mallory", &wrong, NOW + 60), LoginVerdict::Rejected);
    }
    assert_eq!(
        from(18)("mallory", &wrong, NOW + 60),
        LoginVerdict::Throttled { retry_after: 60 }
    );
}

#[test]
fn a_throttled_address_never_counts_against_an_account() {
    let limits = Limits::new(Backoff::new(1, 600, 900), Backoff::new(0, 600, 900)).unwrap();
    let limiter = LoginLimiter::new(MemoryAttemptStore::new(), limits);
    let admitted = |account: &str, from: usize| {
        matches!(
            limiter.reserve(account, ip(from), NOW).unwrap(),
            Admission::Admitted(_)
        )
    };
    assert!(admitted("x", 1)); // the address's one attempt
    for _ in 0..10 {
        assert!(!admitted("victim", 1));
    }
    // The victim still has its free attempt and the one that starts the wait.
    assert!(admitted("victim", 2));
    assert!(admitted("victim", 3));
    assert!(!admitted("victim", 4));
}

#[test]
fn retrying_a_throttled_account_costs_the_address_nothing() {
    let limits = Limits::new(Backoff::new(0, 600, 900), Backoff::new(2, 600, 900)).unwrap();
    let limiter = LoginLimiter::new(MemoryAttemptStore::new(), limits);
    let admitted = |account: &str| {
        matches!(
            limiter.reserve(account, ip(1), NOW).unwrap(),
            Admission::Admitted(_)
        )
    };
    assert!(admitted("v"));
    for _ in 0..20 {
        assert!(!admitted("v"));
    }
    // The address has used one of its three immediate attempts.
    assert!(admitted("w"));
    assert!(admitted("x"));
    assert!(!admitted("y"));
}

/// Returns no counter on its first load: the look at the account before
/// the reservation sees a free account that another instance has just
/// throttled.
struct StalePeek {
    inner: Arc<MemoryAttemptStore>,
    stale: AtomicBool,
}

impl AttemptStore for StalePeek {
    fn load(&self, key: &str) -> Result<Option<AttemptCounter>> {
        if self.stale.swap(false, SeqCst) {
            return Ok(None);
        }
        self.inner.load(key)
    }

    fn compare_and_swap(
        &self,
        key: &str,
        current: Option<AttemptCounter>,
        new: AttemptCounter,
    ) -> Result<bool> {
        self.inner.compare_and_swap(key, current, new)
    }
}

#[test]
fn an_attempt_the_account_refuses_after_the_address_admitted_it_is_given_back() {
    let limits = Limits::new(Backoff::new(0, 600, 900), Backoff::new(1, 600, 900)).unwrap();
    let store = Arc::new(MemoryAttemptStore::new());
    let other = LoginLimiter::new(Arc::clone(&store), limits);
    assert!(matches!(
        other.reserve("v", ip(2), NOW).unwrap(),
        Admission::Admitted(_)
    ));
    let limiter = LoginLimiter::new(
        StalePeek {
            inner: store,
            stale: AtomicBool::new(true),
        },
        limits,
    );
    let admitted = |account: &str| {
        matches!(
            limiter.reserve(account, ip(1), NOW).unwrap(),
            Admission::Admitted(_)
        )
    };
    assert!(!admitted("v")); // the address admitted it, the account did not
    // The address still has both of its immediate attempts.
    assert!(admitted("w"));
    assert!(admitted("x"));
    assert!(!admitted("y"));
}

#[test]
fn a_lock_holds_until_an_unlock() {
    let hasher = hasher();
    let stored = hasher.hash(&password("the right one")).unwrap();
    let limits = Limits::new(
        Backoff::new(1, 1, 10).with_lock_after(Some(3)),
        Backoff::new(100, 1, 10),
    )
    .unwrap();
    let limiter = LoginLimiter::new(MemoryAttemptStore::new(), limits);
    let (right, wrong) = (password("the right one"), password("wrong"));
    let verify = |p: &Password, t: u64| {
        limiter
            .verify(&hasher, "alice", ip(1), p, Some(&stored), t)
            .unwrap()
    };
    assert_eq!(verify(&wrong, NOW), LoginVerdict::Rejected);
    assert_eq!(verify(&wrong, NOW), LoginVerdict::Rejected);
    assert_eq!(verify(&wrong, NOW + 1), LoginVerdict::Rejected);
    assert_eq!(verify(&right, NOW + 1_000_000), LoginVerdict::Locked);
    limiter.unlock("  ALICE ").unwrap();
    assert!(matches!(
        verify(&right, NOW + 1_000_000),
        LoginVerdict::Accepted(_)
    ));
}

#[test]
fn an_unusable_stored_hash_keeps_the_attempt_counted() {
    let hasher = hasher();
    let limits = Limits::new(Backoff::new(0, 60, 60), Backoff::new(100, 1, 10)).unwrap();
    let limiter = LoginLimiter::new(MemoryAttemptStore::new(), limits);
    let p = password("whatever");
    assert!(matches!(
        limiter.verify(&hasher, "alice", ip(1), &p, Some("$md5$nope"), NOW),
        Err(Error::HashMalformed(_) | Error::SchemeUnsupported)
    ));
    assert_eq!(
        limiter
            .verify(&hasher, "alice", ip(1), &p, Some("$md5$nope"), NOW)
            .unwrap(),
        LoginVerdict::Throttled { retry_after: 60 }
    );
}

#[test]
fn an_over_long_identifier_is_refused_before_the_store() {
    let limiter = LoginLimiter::new(MemoryAttemptStore::new(), Limits::default());
    let long = "a".repeat(LoginLimiter::<MemoryAttemptStore>::MAX_IDENTIFIER_BYTES + 1);
    assert!(matches!(
        limiter.reserve(&long, ip(1), NOW).unwrap_err(),
        Error::IdentifierTooLong { max: 1024 }
    ));
    assert!(limiter.store().is_empty().unwrap());
}

#[test]
fn sqlite_store_persists_purges_and_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("limiter.db");
    let limits = Limits::new(
        Backoff::new(0, 60, 60).with_forget_after(100),
        Backoff::new(100, 1, 10).with_forget_after(100),
    )
    .unwrap();
    {
        let limiter = LoginLimiter::new(SqliteAttemptStore::open(&path).unwrap(), limits);
        assert!(matches!(
            limiter.reserve("alice", ip(1), NOW).unwrap(),
            Admission::Admitted(_)
        ));
        assert!(matches!(
            limiter.reserve("bob", ip(1), NOW + 50).unwrap(),
            Admission::Admitted(_)
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let store = SqliteAttemptStore::open(&path).unwrap();
    let limiter = LoginLimiter::new(&store, limits);
    assert!(matches!(
        limiter.reserve("alice", ip(2), NOW + 10).unwrap(),
        Admission::Throttled { retry_after: 50 }
    ));
    // At NOW + 100: alice's counter has expired, bob's and the address's
    // (last used at NOW + 50) have not.
    assert_eq!(store.purge_expired(NOW + 100).unwrap(), 1);
    assert_eq!(store.purge_expired(NOW + 150).unwrap(), 2);
}

#[test]
fn postgres_store_purges_expired_counters() {
    let Some(server) = palisade_testkit::Postgres::start_or_skip() else {
        return;
    };
    let limits = Limits::new(
        Backoff::new(0, 60, 60).with_forget_after(100),
        Backoff::new(100, 1, 10).with_forget_after(100),
    )
    .unwrap();
    let store = PostgresAttemptStore::connect(server.url()).unwrap();
    let limiter = LoginLimiter::new(&store, limits);
    assert!(matches!(
        limiter.reserve("alice", ip(1), NOW).unwrap(),
        Admission::Admitted(_)
    ));
    // A second instance sees the same counter.
    let second = LoginLimiter::new(PostgresAttemptStore::connect(server.url()).unwrap(), limits);
    assert!(matches!(
        second.reserve("alice", ip(2), NOW + 10).unwrap(),
        Admission::Throttled { retry_after: 50 }
    ));
    assert_eq!(store.purge_expired(NOW + 99).unwrap(), 0);
    assert_eq!(store.purge_expired(NOW + 100).unwrap(), 2);
    assert!(matches!(
        second.reserve("alice", ip(2), NOW + 100).unwrap(),
        Admission::Admitted(_)
    ));
}
