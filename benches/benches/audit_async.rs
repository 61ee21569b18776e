//! palisade-audit's async log: durable appends per second with N concurrent
//! tasks (group commit: one `fsync` or one transaction per batch) against
//! the same appends made one after another, each waiting for its own commit
//! (what a service without group commit does), on the file store (fsync)
//! and on PostgreSQL (a throwaway local server; skipped when none can be
//! started).
//!
//! Every side makes each record durable before it is acknowledged: file
//! store with `fsync` (the default group-commit durability, one caller at a
//! time when sequential), PostgreSQL with `synchronous_commit = on`.
//!
//! Run: `cargo bench -p palisade-benches --bench audit_async -- --warm-up-time 1 --measurement-time 5`

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

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use palisade_audit::{
    AsyncAuditLog, AsyncPostgresStore, AsyncStore, AuditLog, BlockingStore, Event, FileOptions,
    FileStore, PostgresStore,
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

/// `iters` appends spread over `tasks` concurrent tasks; the time until the
/// last is durable.
fn concurrent<S: AsyncStore>(
    rt: &Runtime,
    log: &AsyncAuditLog<S>,
    tasks: u64,
    iters: u64,
) -> Duration {
    rt.block_on(async {
        let per_task = iters.div_ceil(tasks);
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0..per_task {
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

/// One group: the blocking log one append after another, the async log one
/// after another, and the async log under 8, 64 and 256 concurrent tasks.
fn compare<B: palisade_audit::Store, S: AsyncStore>(
    c: &mut Criterion,
    name: &str,
    rt: &Runtime,
    blocking: &AuditLog<B>,
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
    for tasks in TASKS {
        g.bench_with_input(
            BenchmarkId::new("async append, concurrent tasks", tasks),
            &tasks,
            |b, &tasks| b.iter_custom(|iters| concurrent(rt, log, tasks, iters)),
        );
    }
    g.finish();
    let stats = log.stats();
    println!(
        "{name}: {} records in {} commits ({:.1} per commit, largest {})",
        stats.records,
        stats.batches,
        stats.records as f64 / stats.batches.max(1) as f64,
        stats.largest_batch
    );
}

fn file(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let blocking = AuditLog::open(dir.path().join("blocking"), FileOptions::default()).unwrap();
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
    let blocking =
        AuditLog::with_store(PostgresStore::connect(&url, tokio_postgres::NoTls).unwrap());
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
