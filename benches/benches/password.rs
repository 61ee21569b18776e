//! Argon2id at the defaults (m=19456 KiB, t=2, p=1, 32-byte tag) with
//! Palisade and with libsodium's `crypto_pwhash_str` in the same run, plus a
//! login flood through the hashing pool.
//!
//! `cargo bench -p palisade-benches --bench password` runs the criterion
//! comparison, then the same hashes in interleaved rounds (Palisade, then
//! libsodium, then Palisade with fresh memory, ... `PASSWORD_ROUNDS` times,
//! default 21) and prints min and median per side and the median of the
//! per-round ratios. Times are the hashing thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`, user and kernel: page faults count), not wall
//! time: on a shared 2-core machine the scheduler's waits would otherwise
//! dominate both sides; every hash is single-threaded (p=1), so CPU time is
//! its cost.
//!
//! libsodium is the system library (Debian's `libsodium23`, found through
//! pkg-config: the workspace enables `libsodium-sys-stable`'s `use-pkg-config`,
//! so no copy is built from source); the bench prints the shared object it
//! mapped. `libsodium-rs` is its author's thin wrapper: a bounds check and a
//! 128-byte output buffer around `crypto_pwhash_str`. The whole-command
//! comparison with a C program calling the same library is
//! `benches/password/command.sh` (see `benches/password/README.md`).
//!
//! `PASSWORD_FLOOD=200 cargo bench -p palisade-benches --bench password`
//! instead sends that many concurrent verifications through a pool with a
//! 64 MiB budget and prints the time, the answers and the process's peak
//! resident memory (VmHWM) before and after.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "a benchmark: inputs are generated and known to be valid"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Version};
use cpu_time::ThreadTime;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, criterion_group};
use palisade_password::{HashingPool, Params, Password, PasswordHasher};

const PASSWORD: &[u8] = b"correct horse battery staple";
const SALT: [u8; 16] = *b"0123456789abcdef";

/// Criterion measurement: CPU time of the benchmarking thread.
struct ThreadCpu {
    wall: WallTime,
}

impl Measurement for ThreadCpu {
    type Intermediate = ThreadTime;
    type Value = Duration;

    fn start(&self) -> ThreadTime {
        ThreadTime::now()
    }
    fn end(&self, started: ThreadTime) -> Duration {
        started.elapsed()
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

/// libsodium's opslimit and memlimit (bytes) for Palisade's default parameters.
fn sodium_limits() -> (u64, usize) {
    let params = Params::default();
    (u64::from(params.t_cost()), params.m_cost() as usize * 1024)
}

fn sodium_hash() -> String {
    let (opslimit, memlimit) = sodium_limits();
    libsodium_rs::crypto_pwhash::pwhash_str(black_box(PASSWORD), opslimit, memlimit).unwrap()
}

/// The libsodium shared object this process mapped, from /proc/self/maps.
fn linked_libsodium() -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| path.contains("libsodium"))
        .map_or_else(
            || "none mapped: linked statically".to_owned(),
            |path| {
                let real = std::fs::canonicalize(path)
                    .map_or_else(|_| path.to_owned(), |p| p.display().to_string());
                format!("{path} ({real})")
            },
        )
}

/// Same function on both sides, both ways: the tags agree, and each side
/// verifies the other's PHC strings.
fn check_same_function(hasher: &PasswordHasher, password: &Password) {
    let params = Params::default();
    let raw = libsodium_rs::crypto_pwhash::argon2id::pwhash(
        32,
        PASSWORD,
        &SALT,
        sodium_limits().0,
        sodium_limits().1,
    )
    .unwrap();
    let mut rust = [0u8; 32];
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        argon2::Params::new(params.m_cost(), params.t_cost(), 1, Some(32)).unwrap(),
    )
    .hash_password_into(PASSWORD, &SALT, &mut rust)
    .unwrap();
    assert_eq!(raw, rust);
    let ours = hasher.hash(password).unwrap();
    assert!(libsodium_rs::crypto_pwhash::pwhash_str_verify(&ours, PASSWORD).unwrap());
    assert!(!libsodium_rs::crypto_pwhash::pwhash_str_verify(&ours, b"wrong").unwrap());
    let theirs = sodium_hash();
    let verdict = hasher.verify(password, &theirs).unwrap();
    assert!(verdict.is_valid() && !verdict.needs_upgrade(), "{theirs}");
}

fn hashing_at_defaults(c: &mut Criterion<ThreadCpu>) {
    libsodium_rs::ensure_init().unwrap();
    let hasher = PasswordHasher::default();
    let password = Password::new("correct horse battery staple").unwrap();
    check_same_function(&hasher, &password);
    println!(
        "libsodium {} mapped from {}",
        libsodium_rs::version::version_string(),
        linked_libsodium()
    );

    let mut group = c.benchmark_group("argon2id m=19456 t=2 p=1");
    group.sample_size(20);
    group.bench_function("palisade PasswordHasher::hash", |b| {
        b.iter(|| black_box(hasher.hash(black_box(&password)).unwrap()))
    });
    group.bench_function("palisade PasswordHasher::hash, fresh memory", |b| {
        b.iter(|| {
            let hasher = PasswordHasher::default();
            black_box(hasher.hash(black_box(&password)).unwrap())
        })
    });
    group.bench_function("libsodium crypto_pwhash_str (system library)", |b| {
        b.iter(|| black_box(sodium_hash()))
    });
    let params = Params::default();
    let argon2 = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        argon2::Params::new(params.m_cost(), params.t_cost(), 1, Some(32)).unwrap(),
    );
    let mut blocks = vec![Block::default(); argon2.params().block_count()];
    group.bench_function("argon2 crate alone, reused blocks, no wipe", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            argon2
                .hash_password_into_with_memory(black_box(PASSWORD), &SALT, &mut out, &mut blocks)
                .unwrap();
            black_box(out)
        })
    });
    group.finish();
}

/// Min and median of `values`.
fn min_median(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[0], values[values.len() / 2])
}

/// Minor page faults of the calling thread so far (/proc/thread-self/stat).
fn thread_minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    stat.rsplit_once(')')
        .and_then(|(_, fields)| fields.split_whitespace().nth(7))
        .and_then(|minflt| minflt.parse().ok())
        .unwrap_or(0)
}

/// Interleaved rounds: each round hashes once with each side, so a change
/// in the machine's speed hits all sides alike; the ratio is taken round by
/// round.
fn paired_rounds(rounds: usize) {
    let hasher = PasswordHasher::default();
    let password = Password::new("correct horse battery staple").unwrap();
    // Thread CPU milliseconds of one call; its page faults are added to `faults`.
    let time = |f: &mut dyn FnMut(), faults: &mut u64| {
        let faulted = thread_minor_faults();
        let started = ThreadTime::now();
        f();
        let ms = started.elapsed().as_secs_f64() * 1e3;
        *faults += thread_minor_faults() - faulted;
        ms
    };
    // Warm up each side once (the hasher's memory is then kept).
    hasher.hash(&password).unwrap();
    sodium_hash();
    let (mut ours, mut fresh, mut sodium) = (Vec::new(), Vec::new(), Vec::new());
    let mut faults = [0u64; 3];
    for _ in 0..rounds {
        let [ours_faults, fresh_faults, sodium_faults] = &mut faults;
        ours.push(time(
            &mut || {
                black_box(hasher.hash(&password).unwrap());
            },
            ours_faults,
        ));
        fresh.push(time(
            &mut || {
                black_box(PasswordHasher::default().hash(&password).unwrap());
            },
            fresh_faults,
        ));
        sodium.push(time(
            &mut || {
                black_box(sodium_hash());
            },
            sodium_faults,
        ));
    }
    let ratio = |side: &[f64]| {
        let mut r: Vec<f64> = side.iter().zip(&sodium).map(|(a, b)| a / b).collect();
        min_median(&mut r).1
    };
    let (r_ours, r_fresh) = (ratio(&ours), ratio(&fresh));
    println!(
        "paired: {rounds} interleaved rounds, thread CPU ms per hash (min / median), minor page faults per hash"
    );
    let sides = [
        ("palisade PasswordHasher::hash", &mut ours, Some(r_ours)),
        (
            "palisade, fresh memory (new hasher)",
            &mut fresh,
            Some(r_fresh),
        ),
        ("libsodium crypto_pwhash_str", &mut sodium, None),
    ];
    for ((name, side, r), faults) in sides.into_iter().zip(faults) {
        let (min, median) = min_median(side);
        let per_hash = faults as f64 / rounds as f64;
        let r = r.map_or_else(String::new, |r| {
            format!(", median ratio to libsodium {r:.3}")
        });
        println!("paired: {name:40} {min:6.2} / {median:6.2}, {per_hash:7.1} faults{r}");
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu { wall: WallTime });
    targets = hashing_at_defaults
}

/// Peak resident set size of this process so far, in KiB (Linux VmHWM).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn flood(logins: usize) {
    const BUDGET: u64 = 64 << 20;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let hasher = Arc::new(PasswordHasher::default());
    let stored = hasher
        .hash(&Password::new("flood password").unwrap())
        .unwrap();
    let before = peak_rss_kib();
    let pool = Arc::new(HashingPool::new(Arc::clone(&hasher), BUDGET).unwrap());
    let started = Instant::now();
    let (valid, invalid) = runtime.block_on(async {
        let tasks: Vec<_> = (0..logins)
            .map(|i| {
                let pool = Arc::clone(&pool);
                let stored = stored.clone();
                tokio::spawn(async move {
                    let guess = if i % 4 == 3 {
                        "wrong password"
                    } else {
                        "flood password"
                    };
                    pool.verify_async(Password::new(guess).unwrap(), &stored)
                        .await
                })
            })
            .collect();
        let (mut valid, mut invalid) = (0, 0);
        for task in tasks {
            let verdict = task.await.unwrap().unwrap();
            if verdict.is_valid() {
                valid += 1
            } else {
                invalid += 1
            }
        }
        (valid, invalid)
    });
    let elapsed = started.elapsed();
    let after = peak_rss_kib();
    let expected_invalid = (0..logins).filter(|i| i % 4 == 3).count();
    assert_eq!((valid + invalid, invalid), (logins, expected_invalid));
    println!(
        "flood: {logins} concurrent verifications, {} workers, budget {} MiB: {valid} valid + {invalid} invalid (all answered as expected) in {:.2?} ({:.1} ms each on average)",
        pool.workers(),
        BUDGET >> 20,
        elapsed,
        elapsed.as_secs_f64() * 1000.0 / logins as f64,
    );
    println!(
        "flood: peak RSS {:.1} MiB before the pool, {:.1} MiB after the flood (limit: budget + 30 MiB = {} MiB)",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (BUDGET >> 20) + 30
    );
    assert!(
        after <= (BUDGET >> 10) + 30 * 1024,
        "peak RSS above budget + 30 MiB"
    );
}

fn main() {
    if let Some(logins) = std::env::var("PASSWORD_FLOOD")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        flood(logins);
        return;
    }
    benches();
    Criterion::default()
        .with_measurement(ThreadCpu { wall: WallTime })
        .configure_from_args()
        .final_summary();
    let rounds = std::env::var("PASSWORD_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(21);
    if rounds > 0 {
        paired_rounds(rounds);
    }
}
