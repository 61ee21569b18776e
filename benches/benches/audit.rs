//! palisade-audit: append throughput (memory, durable file store with group
//! commit, SQLite with the same durability) and verification speed against
//! `sha256sum` over the same bytes.
//!
//! Run: `cargo bench -p palisade-benches --bench audit -- --warm-up-time 1 --measurement-time 4`

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

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use palisade_audit::{AuditLog, Durability, Event, FileOptions, SqliteStore, verify_dir};

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
        "ip": "203.0.113.7",
    }))
}

const BATCH: u64 = 1000;

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("audit/append");
    g.throughput(Throughput::Elements(1));
    g.bench_function("memory, one event", |b| {
        b.iter_custom(|iters| {
            let log = AuditLog::new();
            let events: Vec<Event> = (0..iters).map(event).collect();
            let start = Instant::now();
            for e in events {
                log.append(e).unwrap();
            }
            start.elapsed()
        });
    });
    g.throughput(Throughput::Elements(BATCH));
    let dir = tempfile::tempdir().unwrap();
    let group = FileOptions {
        durability: Durability::GroupCommit {
            max_batch: 4096,
            max_delay: Duration::ZERO,
        },
        ..FileOptions::default()
    };
    let file_log = AuditLog::open(dir.path().join("file"), group).unwrap();
    g.bench_function("file store, group commit of 1000 (fsync per batch)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let events: Vec<Event> = (i * BATCH..(i + 1) * BATCH).map(event).collect();
                let start = Instant::now();
                file_log.append_batch(events).unwrap();
                total += start.elapsed();
            }
            total
        });
    });
    let sqlite_log = AuditLog::with_store(
        SqliteStore::open(dir.path().join("audit.db"), Durability::default()).unwrap(),
    );
    g.bench_function(
        "palisade SqliteStore, 1000 per transaction (synchronous=FULL)",
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let events: Vec<Event> = (i * BATCH..(i + 1) * BATCH).map(event).collect();
                    let start = Instant::now();
                    sqlite_log.append_batch(events).unwrap();
                    total += start.elapsed();
                }
                total
            });
        },
    );
    // The alternative: plain SQLite inserts of the event JSON, no hashing,
    // same durability (WAL, synchronous=FULL, one transaction per batch).
    let mut conn = rusqlite::Connection::open(dir.path().join("plain.db")).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE events (id INTEGER PRIMARY KEY, actor TEXT, subject TEXT, time INTEGER, json TEXT);
         CREATE INDEX events_subject ON events (subject);",
    )
    .unwrap();
    g.bench_function("plain SQLite inserts, 1000 per transaction (synchronous=FULL)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let events: Vec<(String, String, String)> = (i * BATCH..(i + 1) * BATCH)
                    .map(|j| {
                        let e = event(j);
                        (
                            e.actor().to_owned(),
                            e.subjects().get(0).unwrap_or_default().to_owned(),
                            serde_json::to_string(&e).unwrap(),
                        )
                    })
                    .collect();
                let start = Instant::now();
                let tx = conn.transaction().unwrap();
                {
                    let mut stmt = tx
                        .prepare_cached(
                            "INSERT INTO events (actor, subject, time, json) VALUES (?1, ?2, ?3, ?4)",
                        )
                        .unwrap();
                    for (actor, subject, json) in &events {
                        stmt.execute(rusqlite::params![actor, subject, 0i64, json])
                            .unwrap();
                    }
                }
                tx.commit().unwrap();
                total += start.elapsed();
            }
            total
        });
    });
    g.finish();
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn verify(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    {
        let log = AuditLog::open(
            &log_dir,
            FileOptions {
                durability: Durability::None,
                ..FileOptions::default()
            },
        )
        .unwrap();
        for chunk in 0..100 {
            log.append_batch((chunk * 1000..(chunk + 1) * 1000).map(event).collect())
                .unwrap();
        }
        log.checkpoint().unwrap();
    }
    let files = segment_files(&log_dir);
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let key = palisade_audit::CheckpointVerifier::from_text(
        &std::fs::read_to_string(log_dir.join(palisade_audit::format::PUBLIC_KEY_FILE)).unwrap(),
    )
    .unwrap();
    let mut g = c.benchmark_group("audit/verify 100k records");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    g.bench_function(
        "palisade verify_dir (framing, chain, tree, payloads, checkpoint)",
        |b| {
            b.iter(|| {
                let report = verify_dir(&log_dir, Some(&key)).unwrap();
                assert_eq!(report.records, 100_000);
            });
        },
    );
    g.bench_function("sha256sum over the same segment files", |b| {
        b.iter(|| {
            let out = Command::new("sha256sum").args(&files).output().unwrap();
            assert!(out.status.success());
        });
    });
    g.finish();
}

criterion_group!(benches, append, verify);
criterion_main!(benches);
