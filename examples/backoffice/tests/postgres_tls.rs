//! PostgreSQL over TLS verified against a CA (`--database-ca`, libpq's
//! `sslmode=verify-full`): a throwaway server with a certificate from a CA
//! made for the run. Trusting that CA, every connection of the back office
//! (its pool, the audit logs, blocking and async, and the backup tools) is
//! encrypted; trusting
//! another CA, or facing a server that offers no TLS, it refuses to start.
//! And the configurations that would leave the database unverified are
//! refused before any connection is made.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

mod common;

use common::Browser;
use palisade_backoffice::{Backoffice, Config};
use serde_json::json;

/// A PEM file in `dir`.
fn pem_file(dir: &tempfile::TempDir, name: &str, pem: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

/// What `Backoffice::open` says, which must be a refusal.
fn refusal(config: Config) -> String {
    match Backoffice::open(config) {
        Ok(_) => panic!("the back office opened"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_server_whose_certificate_another_ca_signed_is_refused() {
    let Some(pg) = palisade_testkit::Postgres::start_tls_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("data"));
    config.database_url = Some(pg.url().to_owned());
    config.database_ca = Some(pem_file(
        &dir,
        "other-ca.pem",
        &palisade_testkit::unrelated_ca_pem().unwrap(),
    ));
    let message = refusal(config);
    assert!(
        message.contains("TLS handshake") && message.contains("UnknownIssuer"),
        "the refusal names the certificate problem: {message}"
    );
}

#[test]
fn a_server_that_offers_no_tls_is_refused() {
    let Some(pg) = palisade_testkit::Postgres::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("data"));
    config.database_url = Some(pg.url().to_owned());
    config.database_ca = Some(pem_file(
        &dir,
        "ca.pem",
        &palisade_testkit::unrelated_ca_pem().unwrap(),
    ));
    let message = refusal(config);
    assert!(
        message.contains("does not support TLS"),
        "a plain server is not accepted: {message}"
    );
}

#[test]
fn with_the_servers_ca_every_connection_is_encrypted_and_audits_verify() {
    let Some(pg) = palisade_testkit::Postgres::start_tls_or_skip() else {
        return;
    };
    let ca = pg.ca_pem_path().unwrap().to_owned();
    // By name: the certificate must name the host connected to.
    let url = pg.url_localhost();
    let server = common::start_with(|config| {
        config.database_url = Some(url);
        config.database_ca = Some(ca);
    });
    assert_eq!(server.app.engine(), "postgresql");
    let demo = server.app.seed_demo("acme", 2).unwrap();
    let owner = demo.user("Administrator").unwrap();
    let mut c = Browser::new(&server.url);
    c.post(
        "/api/login",
        json!({ "tenant": "acme", "email": owner.email, "password": owner.password.as_str() }),
    );
    let code = owner.code_at(server.app.clock().now()).unwrap();
    let a = c.post("/api/login/second-factor", json!({ "code": code.as_str() }));
    assert_eq!(a.status, 200, "{}", a.text);
    // Guarded reads: each decision recorded through the async log.
    for _ in 0..3 {
        let a = c.get("/api/clients");
        assert_eq!(a.status, 200, "{}", a.text);
    }
    let a = c.get("/api/audit/verify");
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["ok"], true, "{}", a.text);

    // The server accepts plain connections too (so that this one can look):
    // none of the back office's is.
    let mut admin = postgres::Client::connect(pg.url(), postgres::NoTls).unwrap();
    let row = admin
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
             WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()",
            &[],
        )
        .unwrap();
    let (encrypted, plain): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(plain, 0, "{plain} connections in the clear");
    // The pool, and the audit logs' own connections (blocking and async).
    let pool = i64::try_from(server.app.config().db_pool).unwrap();
    assert!(encrypted > pool + 1, "{encrypted} encrypted connections");

    // The backup tools too: `pg_dump`, then the drill's `pg_restore` and the
    // restored copy, with `sslmode=verify-full` against the same CA. From
    // here on the server refuses connections in the clear over TCP.
    let hba: String = admin.query_one("SHOW hba_file", &[]).unwrap().get(0);
    let rules = std::fs::read_to_string(&hba).unwrap();
    let tls_only: String = rules
        .lines()
        .map(|line| match line.strip_prefix("host ") {
            Some(rest) => format!("hostssl {rest}\n"),
            None => format!("{line}\n"),
        })
        .collect();
    assert!(tls_only.contains("hostssl"), "{rules}");
    std::fs::write(&hba, tls_only).unwrap();
    admin.execute("SELECT pg_reload_conf()", &[]).unwrap();
    // The server reloads on a signal: wait until it refuses the clear.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while postgres::Client::connect(pg.url(), postgres::NoTls).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server still takes plain connections"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let report = server
        .app
        .backup(&server.dir.path().join("backups"))
        .unwrap();
    let drill = server.app.drill(&report).unwrap();
    assert!(drill.ok, "{drill:?}");
    assert!(
        drill
            .findings
            .iter()
            .any(|f| f.contains("audit log of `acme`")),
        "{drill:?}"
    );
}

#[test]
fn configurations_that_leave_the_database_unverified_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // TLS asked for in the URL, nothing to verify the server with.
    let mut config = Config::new(dir.path().join("a"));
    config.database_url = Some("host=db.example.org user=app sslmode=require".into());
    let message = refusal(config);
    assert!(message.contains("--database-ca"), "{message}");
    // libpq's spelling, which this driver does not parse, gets a pointer.
    let mut config = Config::new(dir.path().join("b"));
    config.database_url = Some("postgres://app@db.example.org/app?sslmode=verify-full".into());
    let message = refusal(config);
    assert!(message.contains("--database-ca FILE"), "{message}");
    // A CA given, TLS turned off in the URL.
    let mut config = Config::new(dir.path().join("c"));
    config.database_url = Some("host=db.example.org user=app sslmode=disable".into());
    config.database_ca = Some(pem_file(&dir, "ca.pem", "unused"));
    let message = refusal(config);
    assert!(message.contains("sslmode=disable"), "{message}");
    // Production, another machine, no CA: not in the clear.
    let mut config = Config::new(dir.path().join("d"));
    config.dev = false;
    config.database_url = Some("host=db.example.org user=app".into());
    let message = refusal(config);
    assert!(message.contains("over verified TLS"), "{message}");
}
