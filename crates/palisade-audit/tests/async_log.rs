//! The async log: group commit shared by concurrent requests, receipts only
//! after the commit, a failed commit failing its whole batch, and two
//! instances on one PostgreSQL (plain and over TLS) forming one log.

#![cfg(all(
    feature = "tokio",
    feature = "postgres-async",
    feature = "postgres-rustls"
))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use palisade_audit::format::PUBLIC_KEY_FILE;
use palisade_audit::{
    AsyncAuditLog, AsyncAuditSink, AsyncPostgresStore, AsyncStore, AuditLog, BlockingStore,
    CheckpointPolicy, CheckpointSigner, CheckpointVerifier, Error, Event, FileOptions, FileStore,
    Hash, MemoryStore, PostgresStore, Query, Receipt, Record, Sealed, Store, verify_async_store,
    verify_dir, verify_store,
};
use palisade_testkit::Postgres;
use tokio::sync::Semaphore;
use tokio_postgres::NoTls;

fn event(i: u64) -> Event {
    Event::new(
        format!("staff:{}", i % 7),
        "customer.read",
        format!("customers/{i}"),
    )
    .with_subject(format!("customer:{}", i % 5))
    .with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + i))
    .with_payload(serde_json::json!({ "n": i }))
}

/// A memory store whose commits the test controls: each append waits for a
/// permit, may be told to fail, and counts what it committed. `committed`
/// moves only once an append has succeeded, so a caller that holds a
/// receipt can check that its record was durable first.
struct GatedStore {
    inner: MemoryStore,
    gate: Semaphore,
    fail_next: AtomicBool,
    appends: AtomicU64,
    committed: AtomicU64,
}

impl GatedStore {
    fn new(open: bool) -> GatedStore {
        GatedStore {
            inner: MemoryStore::new(),
            gate: Semaphore::new(if open { Semaphore::MAX_PERMITS } else { 0 }),
            fail_next: AtomicBool::new(false),
            appends: AtomicU64::new(0),
            committed: AtomicU64::new(0),
        }
    }
}

impl AsyncStore for GatedStore {
    async fn len(&self) -> palisade_audit::Result<u64> {
        self.inner.len()
    }

    async fn append(&self, batch: Vec<Sealed>) -> palisade_audit::Result<Vec<Receipt>> {
        self.gate.acquire().await.unwrap().forget();
        self.appends.fetch_add(1, Ordering::SeqCst);
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(Error::IoFailed(std::io::Error::other("disk full")));
        }
        let receipts = self.inner.append(batch)?;
        self.committed
            .fetch_add(receipts.len() as u64, Ordering::SeqCst);
        Ok(receipts)
    }

    async fn read(&self, start: u64, end: u64) -> palisade_audit::Result<Vec<Record>> {
        self.inner.read(start, end)
    }

    async fn leaf_hashes(&self, start: u64, end: u64) -> palisade_audit::Result<Vec<Hash>> {
        self.inner.leaf_hashes(start, end)
    }

    async fn query(&self, query: &Query) -> palisade_audit::Result<Vec<Record>> {
        self.inner.query(query)
    }

    async fn erase_payload(&self, index: u64) -> palisade_audit::Result<bool> {
        self.inner.erase_payload(index)
    }

    async fn add_checkpoint(&self, note: &str) -> palisade_audit::Result<()> {
        self.inner.add_checkpoint(note)
    }

    async fn checkpoints(&self) -> palisade_audit::Result<Vec<String>> {
        self.inner.checkpoints()
    }
}

fn signer() -> CheckpointSigner {
    CheckpointSigner::generate("example/audit").unwrap()
}

/// 200 requests at once on a single-threaded runtime: every one is queued
/// before the writer first runs, so they share one commit.
#[tokio::test(flavor = "current_thread")]
async fn concurrent_requests_share_one_commit() {
    let log = AsyncAuditLog::builder(GatedStore::new(true)).build();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.append(event(i)).await })
        })
        .collect();
    let mut indexes = BTreeSet::new();
    for t in tasks {
        indexes.insert(t.await.unwrap().unwrap().index);
    }
    assert_eq!(indexes, (0..200).collect());
    let stats = log.stats();
    assert_eq!(stats.records, 200);
    assert_eq!(stats.batches, 1, "{stats:?}");
    assert_eq!(stats.largest_batch, 200);
    assert_eq!(log.store().appends.load(Ordering::SeqCst), 1);
    assert_eq!(log.verify().await.unwrap().records, 200);
}

/// 200 tasks on four worker threads append to a durable file log through
/// the blocking pool: one valid log, every index handed out once, and the
/// commits (one `fsync` each) shared.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_tasks_make_one_valid_file_log() {
    let dir = tempfile::tempdir().unwrap();
    let file_log = AuditLog::open(dir.path(), FileOptions::default()).unwrap();
    let verifier = file_log.verifier().unwrap();
    let origin = file_log.origin().to_owned();
    drop(file_log);
    let key_text = std::fs::read_to_string(dir.path().join("checkpoint.key")).unwrap();
    let store = FileStore::open(dir.path(), FileOptions::default()).unwrap();
    let log = AsyncAuditLog::builder(BlockingStore::new(store))
        .with_signer(origin, CheckpointSigner::from_text(&key_text).unwrap())
        .with_checkpoint_policy(CheckpointPolicy {
            every_records: Some(50),
            every: None,
        })
        .build();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move {
                if i % 10 == 0 {
                    log.append_batch((0..3).map(|j| event(i * 10 + j)).collect())
                        .await
                } else {
                    log.append(event(i)).await.map(|r| vec![r])
                }
            })
        })
        .collect();
    let mut indexes = BTreeSet::new();
    for t in tasks {
        for r in t.await.unwrap().unwrap() {
            assert!(
                indexes.insert(r.index),
                "index {} handed out twice",
                r.index
            );
        }
    }
    assert_eq!(indexes, (0..240).collect());
    // An automatic checkpoint is written after its batch's callers have
    // their receipts: wait (bounded) for it rather than race it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while log.checkpoints().await.unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no automatic checkpoint after 240 records (every 50)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    log.checkpoint().await.unwrap();
    let stats = log.stats();
    assert_eq!(stats.records, 240);
    assert!(stats.batches <= 200, "{stats:?}");
    println!(
        "file log: {} records in {} commits (largest {})",
        stats.records, stats.batches, stats.largest_batch
    );
    drop(log);
    let report = verify_dir(dir.path(), Some(&verifier)).unwrap();
    assert_eq!(report.records, 240);
    // At least one automatic checkpoint (batches are large, so few are due)
    // and the final one.
    assert!(report.checkpoints_verified >= 2, "{report:?}");
    let public = CheckpointVerifier::from_text(
        &std::fs::read_to_string(dir.path().join(PUBLIC_KEY_FILE)).unwrap(),
    )
    .unwrap();
    assert_eq!(public, verifier);
}

/// While the store has not committed, no caller is answered; once it has,
/// every receipt names a record that was already committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_receipt_before_the_commit() {
    let log = AsyncAuditLog::builder(GatedStore::new(false)).build();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move {
                let receipt = log.append(event(i)).await.unwrap();
                let committed = log.store().committed.load(Ordering::SeqCst);
                assert!(
                    receipt.index < committed,
                    "receipt {} before its commit ({committed} committed)",
                    receipt.index
                );
                receipt
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(tasks.iter().all(|t| !t.is_finished()));
    assert_eq!(log.store().committed.load(Ordering::SeqCst), 0);
    log.store().gate.add_permits(1_000);
    let mut indexes = BTreeSet::new();
    for t in tasks {
        indexes.insert(t.await.unwrap().index);
    }
    assert_eq!(indexes, (0..20).collect());
}

/// A commit that fails fails every caller of its batch, and none of them
/// gets a receipt; the batch before it stands, and the log goes on.
#[tokio::test(flavor = "current_thread")]
async fn a_failed_commit_fails_its_whole_batch() {
    let log = AsyncAuditLog::builder(GatedStore::new(false)).build();
    // The first request's commit is held at the gate...
    let first = {
        let log = log.clone();
        tokio::spawn(async move { log.append(event(0)).await })
    };
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
    // ...while twenty more queue behind it, to be committed together.
    let batch: Vec<_> = (1..21)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.append(event(i)).await })
        })
        .collect();
    tokio::task::yield_now().await;
    let store = log.store();
    // Let the first commit through, then fail the second.
    store.gate.add_permits(1);
    tokio::task::yield_now().await;
    assert_eq!(first.await.unwrap().unwrap().index, 0);
    store.fail_next.store(true, Ordering::SeqCst);
    store.gate.add_permits(1);
    for t in batch {
        match t.await.unwrap() {
            Err(Error::BatchFailed(cause)) => {
                assert!(cause.to_string().contains("disk full"), "{cause}");
            }
            other => panic!("expected the batch to fail, got {other:?}"),
        }
    }
    assert_eq!(store.appends.load(Ordering::SeqCst), 2);
    assert_eq!(store.committed.load(Ordering::SeqCst), 1);
    assert_eq!(log.len().await.unwrap(), 1);
    let stats = log.stats();
    assert_eq!((stats.batches, stats.failed_batches), (1, 1), "{stats:?}");
    // The next request is committed after the failure, right after record 0.
    store.gate.add_permits(1);
    assert_eq!(log.append(event(99)).await.unwrap().index, 1);
    assert_eq!(log.verify().await.unwrap().records, 2);
}

/// The sink trait is object-safe: a service can hold `Arc<dyn AsyncAuditSink>`.
#[tokio::test(flavor = "current_thread")]
async fn the_async_sink_is_usable_as_a_trait_object() {
    let log = AsyncAuditLog::builder(BlockingStore::new(MemoryStore::new())).build();
    let sink: Arc<dyn AsyncAuditSink> = Arc::new(log.clone());
    assert_eq!(sink.record(event(1)).await.unwrap().index, 0);
    assert_eq!(sink.record(event(2)).await.unwrap().index, 1);
    assert_eq!(
        log.query(&Query::actor("staff:2")).await.unwrap()[0].index(),
        1
    );
}

/// Outside a tokio runtime, appending is a typed error, not a panic.
#[test]
fn appending_outside_a_runtime_is_an_error() {
    let log = AsyncAuditLog::builder(BlockingStore::new(MemoryStore::new())).build();
    let mut future = std::pin::pin!(log.append(event(0)));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Err(Error::RuntimeMissing)) => {}
        other => panic!("expected RuntimeMissing, got {other:?}"),
    }
}

/// Erasure, proofs, checkpoints and export through the async log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_log_erases_proves_and_exports() {
    let log = AsyncAuditLog::builder(BlockingStore::new(MemoryStore::new()))
        .with_signer("example/audit", signer())
        .build();
    log.append_batch((0..20).map(event).collect())
        .await
        .unwrap();
    log.checkpoint().await.unwrap();
    let (size, root) = log.head().await.unwrap();
    let erasure = log.erase_subject("customer:3", "dpo").await.unwrap();
    assert_eq!(erasure.erased, vec![3, 8, 13, 18]);
    assert!(log.get(3).await.unwrap().payload().is_none());
    let leaf = *log.get(8).await.unwrap().leaf_hash();
    palisade_audit::verify_inclusion(
        8,
        size,
        &leaf,
        &log.inclusion_proof(8, size).await.unwrap(),
        &root,
    )
    .unwrap();
    let bundle = log.export(2, 10).await.unwrap();
    let report = bundle.verify(log.verifier().as_ref()).unwrap();
    assert_eq!(report.records.len(), 8);
    let report = log.verify().await.unwrap();
    assert_eq!(report.records, 21);
    assert_eq!(report.payloads_erased, 4);
    assert_eq!(
        verify_store(log.store().get(), None, None).unwrap().records,
        21
    );
}

/// Two application instances (own pools, own writers) on one PostgreSQL,
/// each with 100 concurrent requests, and a blocking instance beside them:
/// one log, every index handed out once, every checkpoint consistent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_async_instances_on_one_postgres_form_one_log() {
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let key = signer().to_text();
    let instance = |store| {
        AsyncAuditLog::builder(store)
            .with_signer("example/audit", CheckpointSigner::from_text(&key).unwrap())
            .with_checkpoint_policy(CheckpointPolicy {
                every_records: Some(40),
                every: None,
            })
            .build()
    };
    let a = instance(AsyncPostgresStore::connect(pg.url(), NoTls).await.unwrap());
    let b = instance(AsyncPostgresStore::connect(pg.url(), NoTls).await.unwrap());
    let url = pg.url().to_owned();
    let blocking = tokio::task::spawn_blocking(move || {
        let log = AuditLog::with_store(PostgresStore::connect(&url, NoTls).unwrap());
        (0..20)
            .map(|i| log.append(event(5000 + i)).unwrap().index)
            .collect::<Vec<_>>()
    });
    let mut tasks = Vec::new();
    for (n, log) in [&a, &b].into_iter().enumerate() {
        for i in 0..100u64 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                log.append(event(n as u64 * 1000 + i)).await
            }));
        }
    }
    let mut indexes = BTreeSet::new();
    for t in tasks {
        let r = t.await.unwrap().unwrap();
        assert!(
            indexes.insert(r.index),
            "index {} handed out twice",
            r.index
        );
    }
    for i in blocking.await.unwrap() {
        assert!(indexes.insert(i), "index {i} handed out twice");
    }
    assert_eq!(indexes, (0..220).collect());
    a.checkpoint().await.unwrap();
    b.checkpoint().await.unwrap();
    let verifier = a.verifier().unwrap();
    let report = verify_async_store(a.store(), Some("example/audit"), Some(&verifier))
        .await
        .unwrap();
    assert_eq!(report.records, 220);
    assert!(report.checkpoints_verified >= 4, "{report:?}");
    // Each instance's tree caught up with the other's records.
    assert_eq!(a.head().await.unwrap(), b.head().await.unwrap());
    for log in [&a, &b] {
        let stats = log.stats();
        assert_eq!(stats.records, 100);
        println!(
            "instance: {} records in {} transactions",
            stats.records, stats.batches
        );
    }
}

/// Over TLS: the store connects when it trusts the CA that signed the
/// server's certificate (and the connection is encrypted), refuses a server
/// another CA vouches for, and connects in the clear only when asked to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_verified_against_the_given_ca() {
    let Some(pg) = Postgres::start_tls_or_skip() else {
        return;
    };
    let ca = std::fs::read(pg.ca_pem_path().unwrap()).unwrap();
    assert_eq!(ca, pg.ca_pem().unwrap().as_bytes());
    for url in [pg.url().to_owned(), pg.url_localhost()] {
        let store = AsyncPostgresStore::connect_rustls(&url, &ca).await.unwrap();
        let client = store.pool().get().await.unwrap();
        let ssl: bool = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(ssl, "{url}: the connection is not encrypted");
        drop(client);
        let log = AsyncAuditLog::builder(store).build();
        log.append(event(1)).await.unwrap();
    }
    // The blocking store, over the same TLS.
    let url = pg.url().to_owned();
    let blocking_ca = ca.clone();
    let n = tokio::task::spawn_blocking(move || {
        let store = PostgresStore::connect_rustls(&url, &blocking_ca).unwrap();
        AuditLog::with_store(store).append(event(2)).unwrap().index
    })
    .await
    .unwrap();
    assert_eq!(n, 2);
    // A CA that did not sign the server's certificate: a typed refusal.
    let stranger = palisade_testkit::unrelated_ca_pem().unwrap();
    match AsyncPostgresStore::connect_rustls(pg.url(), stranger.as_bytes()).await {
        Err(e @ Error::TlsFailed(_)) => {
            assert!(e.to_string().contains("certificate"), "{e}");
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    let url = pg.url().to_owned();
    let refused = tokio::task::spawn_blocking(move || {
        PostgresStore::connect_rustls(&url, stranger.as_bytes()).map(|_| ())
    })
    .await
    .unwrap();
    assert!(matches!(refused, Err(Error::TlsFailed(_))), "{refused:?}");
    // Not a CA certificate at all: refused before connecting.
    assert!(matches!(
        AsyncPostgresStore::connect_rustls(pg.url(), b"not a certificate").await,
        Err(Error::InputMalformed { .. })
    ));
    // In the clear only when the caller passes NoTls.
    let plain = AsyncPostgresStore::connect(pg.url(), NoTls).await.unwrap();
    let client = plain.pool().get().await.unwrap();
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!ssl);
    drop(client);
    assert_eq!(
        verify_async_store(&plain, None, None)
            .await
            .unwrap()
            .records,
        3
    );
}

/// `sslmode=require` is enforced: a server without TLS is refused, not
/// silently used in the clear.
#[tokio::test(flavor = "current_thread")]
async fn a_server_without_tls_is_refused() {
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let ca = palisade_testkit::unrelated_ca_pem().unwrap();
    match AsyncPostgresStore::connect_rustls(pg.url(), ca.as_bytes()).await {
        Err(Error::TlsFailed(_)) => {}
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}

/// A blocking log and an async log over one shared file store (the back
/// office's requests append through the async one, its jobs through the
/// other): appends from both, concurrently, form one log with distinct
/// indexes, and checkpoints from either verify with the directory's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_and_an_async_log_share_one_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::open(dir.path(), FileOptions::default()).unwrap());
    let blocking = Arc::new(AuditLog::from_shared_file_store(Arc::clone(&store), None).unwrap());
    let requests = AsyncAuditLog::from_shared_file_store(Arc::clone(&store), None).unwrap();
    assert_eq!(requests.origin(), blocking.origin());
    assert_eq!(requests.verifier(), blocking.verifier());
    let jobs = {
        let blocking = Arc::clone(&blocking);
        tokio::task::spawn_blocking(move || {
            (0..100)
                .map(|i| blocking.append(event(1000 + i)).unwrap().index)
                .collect::<Vec<_>>()
        })
    };
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let requests = requests.clone();
            tokio::spawn(async move { requests.append(event(i)).await.unwrap().index })
        })
        .collect();
    let mut indexes: BTreeSet<u64> = jobs.await.unwrap().into_iter().collect();
    for t in tasks {
        assert!(
            indexes.insert(t.await.unwrap()),
            "an index handed out twice"
        );
    }
    assert_eq!(indexes, (0..200).collect());
    requests.checkpoint().await.unwrap();
    let verifier = blocking.verifier().unwrap();
    tokio::task::spawn_blocking(move || blocking.checkpoint().map(drop))
        .await
        .unwrap()
        .unwrap();
    drop((requests, store));
    let report = verify_dir(dir.path(), Some(&verifier)).unwrap();
    assert_eq!(report.records, 200);
    assert!(report.checkpoints_verified >= 2, "{report:?}");
}
