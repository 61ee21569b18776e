//! Argon2id at the defaults (m=19456 KiB, t=2, p=1, 32-byte tag) with
//! Palisade and with libsodium's `crypto_pwhash` in the same run, plus a
//! login flood through the hashing pool.
//!
//! `cargo bench -p palisade-benches --bench password` runs the criterion
//! comparison. Times are the hashing thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), not wall time: on a shared 2-core machine the
//! scheduler's waits would otherwise dominate both sides; all three hashes
//! are single-threaded (p=1), so CPU time is their cost. `PASSWORD_FLOOD=200 cargo bench -p palisade-benches --bench
//! password` instead sends that many concurrent verifications through a
//! pool with a 64 MiB budget and prints the time, the answers and the
//! process's peak resident memory (VmHWM) before and after.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "a benchmark: inputs are generated and known to be valid"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use argon2::{Algorithm, Argon2, Block, Version};
use std::time::Duration;

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

fn hashing_at_defaults(c: &mut Criterion<ThreadCpu>) {
    libsodium_rs::ensure_init().unwrap();
    let params = Params::default();
    let memlimit = params.m_cost() as usize * 1024;
    let opslimit = u64::from(params.t_cost());
    let hasher = PasswordHasher::default();
    let password = Password::new("correct horse battery staple").unwrap();

    // Same inputs give the same tag: the two sides compute the same function.
    let sodium =
        libsodium_rs::crypto_pwhash::argon2id::pwhash(32, PASSWORD, &SALT, opslimit, memlimit)
            .unwrap();
    let mut rust = [0u8; 32];
    let argon2 = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        argon2::Params::new(params.m_cost(), params.t_cost(), 1, Some(32)).unwrap(),
    );
    argon2
        .hash_password_into(PASSWORD, &SALT, &mut rust)
        .unwrap();
    assert_eq!(sodium, rust);

    let mut group = c.benchmark_group("argon2id m=19456 t=2 p=1");
    group.sample_size(20);
    group.bench_function("palisade PasswordHasher::hash", |b| {
        b.iter(|| black_box(hasher.hash(black_box(&password)).unwrap()))
    });
    group.bench_function("libsodium crypto_pwhash", |b| {
        b.iter(|| {
            black_box(
                libsodium_rs::crypto_pwhash::argon2id::pwhash(
                    32,
                    black_box(PASSWORD),
                    &SALT,
                    opslimit,
                    memlimit,
                )
                .unwrap(),
            )
        })
    });
    let mut blocks = vec![Block::default(); argon2.params().block_count()];
    group.bench_function("argon2 crate, preallocated blocks", |b| {
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
}
