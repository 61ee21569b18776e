//! The SQLite and PostgreSQL stores: the same log semantics as files, and
//! several writers producing one valid log.

#![cfg(all(feature = "sqlite", feature = "postgres"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::time::{Duration, UNIX_EPOCH};

use palisade_testkit::Postgres;

use palisade_audit::{
    AuditLog, CheckpointSigner, Durability, Error, Event, PostgresStore, Query, SqliteStore, Store,
    verify_inclusion, verify_store,
};
use tokio_postgres::NoTls;

fn event(i: u64) -> Event {
    Event::new(
        format!("staff:{}", i % 3),
        "customer.read",
        format!("customers/{i}"),
    )
    .with_subject(format!("customer:{}", i % 4))
    .with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + i))
    .with_payload(serde_json::json!({ "n": i }))
}

fn exercise<S: Store>(log: &AuditLog<S>) {
    for i in 0..20 {
        log.append(event(i)).unwrap();
    }
    log.append_batch((20..40).map(event).collect()).unwrap();
    log.checkpoint().unwrap();
    assert_eq!(log.len().unwrap(), 40);
    assert_eq!(log.get(13).unwrap().to_event(), event(13));
    let hits = log.query(&Query::subject("customer:3")).unwrap();
    assert_eq!(hits.len(), 10);
    assert!(hits.iter().all(|r| r.index() % 4 == 3));
    assert_eq!(log.query(&Query::actor("staff:0")).unwrap().len(), 14);
    let range = log
        .query(&Query::between(
            UNIX_EPOCH + Duration::from_secs(1_700_000_005),
            UNIX_EPOCH + Duration::from_secs(1_700_000_015),
        ))
        .unwrap();
    assert_eq!(range.len(), 10);
    let (size, root) = log.head().unwrap();
    let erasure = log.erase_subject("customer:3", "dpo").unwrap();
    assert_eq!(erasure.erased.len(), 10);
    assert!(log.get(3).unwrap().payload().is_none());
    let leaf = *log.get(3).unwrap().leaf_hash();
    verify_inclusion(
        3,
        size,
        &leaf,
        &log.inclusion_proof(3, size).unwrap(),
        &root,
    )
    .unwrap();
    let report = verify_store(log.store(), Some(log.origin()), log.verifier().as_ref()).unwrap();
    assert_eq!(report.records, 41);
    assert_eq!(report.payloads_erased, 10);
    assert_eq!(report.checkpoints_verified, 1);
}

#[test]
fn sqlite_store_behaves_like_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("audit.db"), Durability::default()).unwrap();
    let log = AuditLog::with_store(store).with_signer(
        "example/audit",
        CheckpointSigner::generate("example/audit").unwrap(),
    );
    exercise(&log);
    // Reopened, the log carries on where it was.
    drop(log);
    let store = SqliteStore::open(dir.path().join("audit.db"), Durability::default()).unwrap();
    let log = AuditLog::with_store(store);
    assert_eq!(log.append(event(99)).unwrap().index, 41);
    assert_eq!(verify_store(log.store(), None, None).unwrap().records, 42);
}

/// The index the verifier names, or a panic saying what it returned instead.
fn named_index<S: Store>(store: &S) -> Option<u64> {
    match verify_store(store, None, None) {
        Err(Error::LogInvalid(f)) => f.index,
        other => panic!("expected a verification failure, got {other:?}"),
    }
}

#[test]
fn sqlite_tampering_names_the_altered_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = AuditLog::with_store(SqliteStore::open(&path, Durability::default()).unwrap());
    log.append_batch((0..8).map(event).collect()).unwrap();
    drop(log);
    let db = rusqlite::Connection::open(&path).unwrap();
    let flip_actor = |idx: i64| {
        let mut record: Vec<u8> = db
            .query_row(
                "SELECT record FROM audit_records WHERE idx = ?1",
                [idx],
                |r| r.get(0),
            )
            .unwrap();
        // The actor's first byte sits after version, index, previous, time,
        // outcome and the actor's length: 1 + 8 + 32 + 8 + 1 + 4 bytes.
        record[54] ^= 0x01;
        db.execute(
            "UPDATE audit_records SET record = ?1 WHERE idx = ?2",
            rusqlite::params![record, idx],
        )
        .unwrap();
    };
    // Bytes changed in place: the record itself is named.
    flip_actor(3);
    assert_eq!(
        named_index(&SqliteStore::open(&path, Durability::default()).unwrap()),
        Some(3)
    );
    // Bytes and stored hash changed together: the next record's chain link
    // no longer holds.
    let altered = SqliteStore::open(&path, Durability::default())
        .unwrap()
        .read(3, 4)
        .unwrap();
    db.execute(
        "UPDATE audit_records SET leaf = ?1 WHERE idx = 3",
        [&altered[0].leaf_hash().as_bytes()[..]],
    )
    .unwrap();
    assert_eq!(
        named_index(&SqliteStore::open(&path, Durability::default()).unwrap()),
        Some(4)
    );
}

#[test]
fn sqlite_connections_appending_together_form_one_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    SqliteStore::open(&path, Durability::default()).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let path = &path;
            s.spawn(move || {
                let log =
                    AuditLog::with_store(SqliteStore::open(path, Durability::default()).unwrap());
                for i in 0..25 {
                    log.append(event(t * 100 + i)).unwrap();
                }
            });
        }
    });
    let store = SqliteStore::open(&path, Durability::default()).unwrap();
    assert_eq!(verify_store(&store, None, None).unwrap().records, 100);
}

#[test]
fn memory_store_verifies_and_detects_a_missing_erasure_event() {
    let log = AuditLog::new();
    for i in 0..5 {
        log.append(event(i)).unwrap();
    }
    assert_eq!(verify_store(log.store(), None, None).unwrap().records, 5);
    // Erasing through the store directly skips the erasure event.
    log.store().erase_payload(2).unwrap();
    let err = verify_store(log.store(), None, None).unwrap_err();
    assert!(
        matches!(err, Error::LogInvalid(ref f) if f.index == Some(2)),
        "{err}"
    );
}

#[test]
fn postgres_store_is_one_log_for_many_writers() {
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let signer_text = CheckpointSigner::generate("example/audit")
        .unwrap()
        .to_text();
    {
        let log = AuditLog::with_store(PostgresStore::connect(pg.url(), NoTls).unwrap())
            .with_signer(
                "example/audit",
                CheckpointSigner::from_text(&signer_text).unwrap(),
            );
        exercise(&log);
    }
    // Six application instances (own connections) append at once, in
    // single events and batches, and sign checkpoints as they go.
    std::thread::scope(|s| {
        for t in 0..6u64 {
            let url = pg.url();
            let signer_text = &signer_text;
            s.spawn(move || {
                let log = AuditLog::with_store(PostgresStore::connect(url, NoTls).unwrap())
                    .with_signer(
                        "example/audit",
                        CheckpointSigner::from_text(signer_text).unwrap(),
                    );
                for i in 0..20 {
                    if i % 5 == 0 {
                        log.append_batch((0..5).map(|j| event(t * 1000 + i * 10 + j)).collect())
                            .unwrap();
                    } else {
                        log.append(event(t * 1000 + i)).unwrap();
                    }
                    if i % 7 == 0 {
                        log.checkpoint().unwrap();
                    }
                }
            });
        }
    });
    let store = PostgresStore::connect(pg.url(), NoTls).unwrap();
    let key = CheckpointSigner::from_text(&signer_text)
        .unwrap()
        .verifier();
    let report = verify_store(&store, Some("example/audit"), Some(&key)).unwrap();
    assert_eq!(report.records, 41 + 6 * (4 * 5 + 16));
    assert!(report.checkpoints_verified > 6 * 3);
}
