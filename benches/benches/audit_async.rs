//! palisade-audit's async log: durable appends per second with N concurrent
//! tasks (group commit: one `fsync` or one transaction per batch) against
//! the blocking log under the same N tasks, each append sent to tokio's
//! blocking pool (`spawn_blocking`, what an async service without an async
//! log does), and both logs one append after another, on the file store
//! (fsync) and on PostgreSQL (a throwaway local server; skipped when none can
//! be started). The records each async commit carried are printed per N.
//!
//! Every side makes each record durable before it is acknowledged: file
//! store with `fsync` (the default group-commit durability, one caller at a
//! time when sequential), PostgreSQL with `synchronous_commit = on`.
//!
//! Run: `cargo bench -p palisade-benches --bench audit_async -- --warm-up-time 1 --measurement-time 5`
//!
//! Measured (2 cores shared with other builds, load average 10-15: wide
//! spreads; three runs, the median of the three runs' medians, async log's
//! throughput over the blocking log's under the same tasks):
//!
//! | tasks | records per commit | file store | PostgreSQL |
//! |------:|-------------------:|-----------:|-----------:|
//! | 1 (one after another) | 1 | 1.1× (0.99-3.6) | 1.9× (1.5-2.9) |
//! | 8     | 4.0-4.2            | 0.75× (0.49-1.18) | 6.6× (6.5-6.9) |
//! | 64    | 31-32              | 2.5× (1.6-6.7) | 33× (32-44) |
//! | 256   | 123-127            | 4.0× (1.5-6.8) | 71× (43-83) |
//!
//! The blocking file store already shares `fsync`s between overlapping
//! appends, so at 8 tasks the async log's queue and blocking-pool hop cost
//! as much as they save; the blocking PostgreSQL store has one connection
//! and one transaction per append, so every batch of the async log is a
//! transaction saved.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "benchmark setup: a failure aborts the run"
)]
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use palisade_audit::{
    AsyncAuditLog, AsyncPostgresStore, AsyncStore, AuditLog, BlockingStore, Event, FileOptions,
    FileStore, PostgresStore, Store,
};
use tokio::runtime::Runtime;

/// A realistic access event: ~300 bytes with its payload.
fn event(i: u64) -> Event {
    Event::new(
        format!("staff:{}", i % 97),
        "customer.read",
        format!("tenants/acme/customers/{}", i % 10_007),
    )
    .with_tenant("acme")
    .with_subject(format!("customer:{}", i % 10_007))
    .with_payload(serde_json::json!({
        "fields": ["email", "postal_address", "iban"],
        "reason": "support ticket",
        "ticket": i,
    }))
}

const TASKS: [u64; 3] = [8, 64, 256];

/// How many of `iters` appends task `t` of `tasks` makes (exactly `iters`
/// in all).
fn share(iters: u64, tasks: u64, t: u64) -> u64 {
    iters / tasks + u64::from(t < iters % tasks)
}

/// `iters` appends spread over `tasks` concurrent tasks; the time until the
/// last is durable.
fn concurrent<S: AsyncStore>(
    rt: &Runtime,
    log: &AsyncAuditLog<S>,
    tasks: u64,
    iters: u64,
) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0..share(iters, tasks, t) {
                        log.append(event(t * 1_000_000 + i)).await.unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        start.elapsed()
    })
}

/// The same load through the blocking log, each append on tokio's blocking
/// pool (`spawn_blocking`): what an async service without an async log does
/// (the back office did, per request). The blocking file store still groups
/// the `fsync`s of appends that overlap; the blocking PostgreSQL store has
/// one connection, one transaction per append.
fn concurrent_blocking<B: Store + 'static>(
    rt: &Runtime,
    log: &Arc<AuditLog<B>>,
    tasks: u64,
    iters: u64,
) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let log = Arc::clone(log);
                tokio::spawn(async move {
                    for i in 0..share(iters, tasks, t) {
                        let log = Arc::clone(&log);
                        tokio::task::spawn_blocking(move || {
                            log.append(event(t * 1_000_000 + i)).unwrap()
                        })
                        .await
                        .unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        start.elapsed()
    })
}

/// `iters` appends, each awaited before the next.
fn sequential<S: AsyncStore>(rt: &Runtime, log: &AsyncAuditLog<S>, iters: u64) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            log.append(event(i)).await.unwrap();
        }
        start.elapsed()
    })
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// One group: the blocking log and the async log one append after another,
/// then under 8, 64 and 256 concurrent tasks each (the blocking log through
/// `spawn_blocking`). Prints how many records each async commit carried.
fn compare<B: Store + 'static, S: AsyncStore>(
    c: &mut Criterion,
    name: &str,
    rt: &Runtime,
    blocking: &Arc<AuditLog<B>>,
    log: &AsyncAuditLog<S>,
) {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.bench_function("blocking AuditLog::append, one after another", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                blocking.append(event(i)).unwrap();
            }
            start.elapsed()
        });
    });
    g.bench_function("async append, one after another", |b| {
        b.iter_custom(|iters| sequential(rt, log, iters));
    });
    let mut shares = Vec::new();
    for tasks in TASKS {
        g.bench_with_input(
            BenchmarkId::new(
                "blocking append via spawn_blocking, concurrent tasks",
                tasks,
            ),
            &tasks,
            |b, &tasks| b.iter_custom(|iters| concurrent_blocking(rt, blocking, tasks, iters)),
        );
        let before = log.stats();
        g.bench_with_input(
            BenchmarkId::new("async append, concurrent tasks", tasks),
            &tasks,
            |b, &tasks| b.iter_custom(|iters| concurrent(rt, log, tasks, iters)),
        );
        let after = log.stats();
        let (records, batches) = (
            after.records - before.records,
            after.batches - before.batches,
        );
        shares.push(format!(
            "{tasks} tasks: {records} records in {batches} commits ({:.1} per commit)",
            records as f64 / batches.max(1) as f64
        ));
    }
    g.finish();
    println!(
        "{name}: {}; largest commit {}",
        shares.join("; "),
        log.stats().largest_batch
    );
}

fn file(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let blocking =
        Arc::new(AuditLog::open(dir.path().join("blocking"), FileOptions::default()).unwrap());
    let store = FileStore::open(dir.path().join("async"), FileOptions::default()).unwrap();
    let log = AsyncAuditLog::builder(BlockingStore::new(store)).build();
    compare(
        c,
        "audit_async/file store, fsync per commit",
        &rt,
        &blocking,
        &log,
    );
}

fn postgres(c: &mut Criterion) {
    let server = match palisade_testkit::Postgres::start() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("audit_async/postgres skipped: {e}");
            return;
        }
    };
    let rt = runtime();
    let url = server.url().to_owned();
    let blocking = Arc::new(AuditLog::with_store(
        PostgresStore::connect(&url, tokio_postgres::NoTls).unwrap(),
    ));
    let store = rt
        .block_on(AsyncPostgresStore::connect(&url, tokio_postgres::NoTls))
        .unwrap();
    let log = AsyncAuditLog::builder(store).build();
    compare(
        c,
        "audit_async/PostgreSQL, one transaction per commit",
        &rt,
        &blocking,
        &log,
    );
}

criterion_group!(benches, file, postgres);
criterion_main!(benches);
