//! Backups: made, sealed (no personal value in clear in the file),
//! recorded; restored into a new data folder with every row and a verifying
//! audit log; a damaged or truncated backup refused by the restore and by
//! the drill (which raises an alert); an expired backup crypto-shredded by
//! the retention sweep. On SQLite and on PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

mod common;

use std::path::Path;

use common::Server;
use palisade_backoffice::{Backoffice, Config};

fn system_actions(server: &Server) -> Vec<(String, String)> {
    let bundle = server.app.export_evidence("_system", None, None).unwrap();
    bundle
        .records
        .iter()
        .map(|r| {
            let record = palisade_audit::Record::decode(&r.record).unwrap();
            (
                record.action().to_owned(),
                format!("{:?}", record.outcome()),
            )
        })
        .collect()
}

fn assert_sealed(path: &Path, phones: &[String]) {
    let bytes = std::fs::read(path).unwrap();
    for needle in phones.iter().map(String::as_str).chain([
        "Anna Kowalska",
        "mail.example",
        "case-7",
        "(image bytes)",
    ]) {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "`{needle}` in clear in the backup"
        );
    }
}

fn round_trip(server: &Server, restore_into: Config) {
    let demo = server.app.seed_demo("acme", 8).unwrap();
    let out = server.dir.path().join("backups");
    let report = server.app.backup(&out).unwrap();
    assert!(report.path.exists());
    assert_eq!(report.manifest.rows["clients"], 8);
    assert_eq!(report.manifest.rows["users"], 5);
    assert_sealed(&report.path, &demo.phones);
    // The drill restores, opens, verifies and compares; both are recorded.
    let drill = server.app.drill(&report).unwrap();
    assert!(drill.ok, "{drill:?}");
    assert!(
        drill
            .findings
            .iter()
            .any(|f| f.contains("audit log of `acme`")),
        "{drill:?}"
    );
    let actions = system_actions(server);
    assert!(
        actions.contains(&("backup.created".into(), "Success".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("backup.drill".into(), "Success".into())),
        "{actions:?}"
    );

    // A restore into a new data folder opens as a back office with the data.
    let manifest = server.app.restore(&report.path, &restore_into).unwrap();
    assert_eq!(manifest, report.manifest);
    let restored = Backoffice::open(restore_into).unwrap();
    assert_eq!(restored.user_count("acme").unwrap(), 5);
    assert!(restored.verify_audit("acme").unwrap().is_ok());
    let bundle = restored.export_evidence("acme", None, None).unwrap();
    assert!(!bundle.records.is_empty());
    drop(restored);

    // A damaged or truncated backup is refused by the restore and the drill.
    let bytes = std::fs::read(&report.path).unwrap();
    let mut flipped = bytes.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x01;
    for (name, damaged) in [
        ("flipped", flipped),
        ("truncated", bytes[..bytes.len() - 100].to_vec()),
    ] {
        std::fs::write(&report.path, &damaged).unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let mut into = Config::new(scratch.path().join("data"));
        into.keys = server.app.config().keys.clone();
        assert!(
            server.app.restore(&report.path, &into).is_err(),
            "{name} backup restored"
        );
        let drill = server.app.drill(&report).unwrap();
        assert!(!drill.ok, "{name}: {drill:?}");
    }
    let actions = system_actions(server);
    assert!(
        actions.contains(&("alert.restore-drill-failed".into(), "Failure".into())),
        "a failed drill raises an alert: {actions:?}"
    );
    std::fs::write(&report.path, &bytes).unwrap();

    // After 35 days the retention sweep destroys the backup's key: no copy
    // of the file opens any more.
    server.app.clock().advance(36 * 86_400);
    server.app.sweep_all().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut into = Config::new(scratch.path().join("data"));
    into.keys = server.app.config().keys.clone();
    let refused = server.app.restore(&report.path, &into).unwrap_err();
    assert!(refused.to_string().contains("has no key"), "{refused}");
    let actions = system_actions(server);
    assert!(
        actions.contains(&("retention.crypto-shred".into(), "Success".into())),
        "{actions:?}"
    );
}

#[test]
fn sqlite_backup_restore_drill_and_shred() {
    let server = common::start(None);
    let scratch = tempfile::tempdir().unwrap();
    let mut into = Config::new(scratch.path().join("restored"));
    into.keys = server.app.config().keys.clone();
    round_trip(&server, into);
}

#[test]
fn postgres_backup_restore_drill_and_shred() {
    let Some(pg) = palisade_testkit::Postgres::start_or_skip() else {
        return;
    };
    let server = common::start(Some(pg.url().to_owned()));
    let mut admin = postgres::Client::connect(pg.url(), postgres::NoTls).unwrap();
    admin.batch_execute("CREATE DATABASE restored").unwrap();
    let mut config: postgres::Config = pg.url().parse().unwrap();
    config.dbname("restored");
    let host = match &config.get_hosts()[0] {
        postgres::config::Host::Tcp(h) => h.clone(),
        postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let url = format!(
        "host={host} port={} user={} dbname=restored",
        config.get_ports()[0],
        config.get_user().unwrap()
    );
    let scratch = tempfile::tempdir().unwrap();
    let mut into = Config::new(scratch.path().join("restored"));
    into.keys = server.app.config().keys.clone();
    into.database_url = Some(url);
    round_trip(&server, into);
}

/// A backup is one snapshot while writers go on: a writer commits, in each
/// transaction, a tariff (a table the manifest counts) and a 4 KiB page of
/// filler holding the tariff's id, all through the backup. The manifest's
/// row counts, the pages and the restored database agree: every restored
/// tariff has its filler, none without, the database is intact, and the
/// writer committed before and after the snapshot.
#[test]
fn a_sqlite_backup_is_one_snapshot_while_writers_run() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let server = common::start(None);
    server.app.seed_demo("acme", 3).unwrap();
    let file = server.app.data_dir().join("backoffice.sqlite3");
    let writer_conn = rusqlite::Connection::open(&file).unwrap();
    writer_conn
        .busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    // A few MiB, so that the pages stream for a while.
    writer_conn
        .execute_batch(
            "CREATE TABLE churn (tariff TEXT PRIMARY KEY, body BLOB NOT NULL);
             CREATE TABLE bulk (body BLOB NOT NULL);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO bulk (body) SELECT randomblob(4096) FROM n;",
        )
        .unwrap();
    let tariffs = |c: &rusqlite::Connection| -> u64 {
        c.query_row("SELECT COUNT(*) FROM tariffs", [], |r| r.get(0))
            .unwrap()
    };
    let stop = AtomicBool::new(false);
    let out = server.dir.path().join("backups");
    let (before, report, after) = std::thread::scope(|scope| {
        let stop = &stop;
        let writer = scope.spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let tx = writer_conn.unchecked_transaction().unwrap();
                let id = format!("churn-{n}");
                tx.execute(
                    "INSERT INTO tariffs (id, tenant, name, price_cents, created) \
                     VALUES (?1, 'acme', 'churn', 100, 0)",
                    [&id],
                )
                .unwrap();
                tx.execute(
                    "INSERT INTO churn (tariff, body) VALUES (?1, randomblob(4096))",
                    [&id],
                )
                .unwrap();
                // And a page in the middle of the file rewritten.
                tx.execute(
                    "UPDATE bulk SET body = randomblob(4096) WHERE rowid = ?1",
                    [1 + n % 2000],
                )
                .unwrap();
                tx.commit().unwrap();
                n += 1;
            }
            n
        });
        // Let the writer get going.
        let reader = rusqlite::Connection::open(&file).unwrap();
        while tariffs(&reader) < 20 {
            std::thread::yield_now();
        }
        let before = tariffs(&reader);
        let report = server.app.backup(&out).unwrap();
        let after = tariffs(&reader);
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        (before, report, after)
    });
    let counted = report.manifest.rows["tariffs"];
    assert!(
        before <= counted && counted <= after && before < after,
        "tariffs: {before} before the backup, {counted} in it, {after} after"
    );

    // The drill restores it and compares the row counts with the manifest.
    let drill = server.app.drill(&report).unwrap();
    assert!(drill.ok, "{drill:?}");
    let scratch = tempfile::tempdir().unwrap();
    let mut into = Config::new(scratch.path().join("restored"));
    into.keys = server.app.config().keys.clone();
    server.app.restore(&report.path, &into).unwrap();
    let restored = rusqlite::Connection::open(into.data_dir.join("backoffice.sqlite3")).unwrap();
    let check: String = restored
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    assert_eq!(tariffs(&restored), counted);
    let unmatched: u64 = restored
        .query_row(
            "SELECT (SELECT COUNT(*) FROM tariffs WHERE name = 'churn' \
               AND id NOT IN (SELECT tariff FROM churn)) \
             + (SELECT COUNT(*) FROM churn WHERE tariff NOT IN (SELECT id FROM tariffs))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unmatched, 0, "a transaction cut in two by the snapshot");
    let bulk: u64 = restored
        .query_row("SELECT COUNT(*) FROM bulk", [], |r| r.get(0))
        .unwrap();
    assert_eq!(bulk, 2000);
}

/// `palisade-backoffice backup` and `restore`, run as an operator would.
#[test]
fn backup_and_restore_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let app = Backoffice::open(Config::new(&data)).unwrap();
        app.seed_demo("acme", 3).unwrap();
    }
    let bin = env!("CARGO_BIN_EXE_palisade-backoffice");
    let out = std::process::Command::new(bin)
        .args(["backup", "--dev", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("backups"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("restore drill passed"), "{stdout}");
    let file = std::fs::read_dir(dir.path().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "backup"))
        .unwrap();
    let into = dir.path().join("restored");
    let out = std::process::Command::new(bin)
        .args(["restore", "--dev", "--data"])
        .arg(&data)
        .arg("--from")
        .arg(&file)
        .arg("--into")
        .arg(&into)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut config = Config::new(&into);
    config.keys = palisade_backoffice::KeySource::Plain(data.join("keyring.json"));
    let restored = Backoffice::open(config).unwrap();
    assert_eq!(restored.user_count("acme").unwrap(), 5);
    // Restoring over an existing folder is refused.
    let out = std::process::Command::new(bin)
        .args(["restore", "--dev", "--data"])
        .arg(&data)
        .arg("--from")
        .arg(&file)
        .arg("--into")
        .arg(&into)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_daily_schedule_waits_for_its_time() {
    use palisade_backoffice::BackupSchedule;
    let s = BackupSchedule::daily("02:30", "/tmp/b").unwrap();
    let midnight = 1_700_006_400; // a UTC midnight
    assert_eq!(midnight % 86_400, 0);
    assert_eq!(s.wait_from(midnight), 2 * 3600 + 1800);
    assert_eq!(
        s.wait_from(midnight + 9000),
        86_400,
        "exactly at the time: the next day"
    );
    assert_eq!(s.wait_from(midnight + 9001), 86_399);
    for bad in ["24:00", "2:61", "noon", "02-30", ""] {
        assert!(BackupSchedule::daily(bad, "/tmp").is_err(), "{bad}");
    }
}
