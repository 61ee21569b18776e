//! On PostgreSQL the guard's decision records go through palisade-audit's
//! async log (group commit), beside the blocking log a handler's own records
//! use: both append to one tenant log, which verifies, and the decisions
//! still reach the alert rules.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

mod common;

use common::Browser;
use palisade_backoffice::DemoUser;
use serde_json::json;

fn sign_in(server: &common::Server, user: &DemoUser) -> Browser {
    let mut c = Browser::new(&server.url);
    let a = c.post(
        "/api/login",
        json!({ "tenant": "acme", "email": user.email, "password": user.password.as_str() }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let code = user.code_at(server.app.clock().now()).unwrap();
    let a = c.post("/api/login/second-factor", json!({ "code": code.as_str() }));
    assert_eq!(a.status, 200, "{}", a.text);
    server.app.clock().advance(30);
    c
}

#[test]
fn decisions_on_postgres_are_recorded_verified_and_watched() {
    let Some(pg) = palisade_testkit::Postgres::start_or_skip() else {
        return;
    };
    let server = common::start(Some(pg.url().to_owned()));
    let demo = server.app.seed_demo("acme", 3).unwrap();
    let owner = demo.user("Administrator").unwrap();
    let operator = demo.user("Operator").unwrap();
    let mut olivia = sign_in(&server, owner);
    let mut otto = sign_in(&server, operator);
    let before = olivia.get("/api/audit/verify").json()["records"]
        .as_u64()
        .unwrap();
    // Concurrent guarded reads (the decisions share commits) and refusals
    // (ten make a burst the alert rules flag).
    let url = server.url.clone();
    let cookie = otto.cookie.clone();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (url, cookie) = (url.clone(), cookie.clone());
            std::thread::spawn(move || {
                let mut c = Browser::new(&url);
                c.cookie = cookie;
                for _ in 0..5 {
                    assert_eq!(c.get("/api/clients").status, 200);
                }
            })
        })
        .collect();
    for _ in 0..10 {
        assert_eq!(otto.get("/api/payments").status, 403);
    }
    for r in readers {
        r.join().unwrap();
    }
    let check = olivia.get("/api/audit/verify").json();
    assert_eq!(check["ok"], true, "{check}");
    let after = check["records"].as_u64().unwrap();
    assert!(
        after >= before + 30,
        "20 reads and 10 refusals recorded: {before} → {after}"
    );
    // The alert rules run once each record is durable, off the request's
    // path: wait for them (a bounded wait, then the assertion).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (alerts, bursts) = loop {
        let alerts = olivia.get("/api/alerts").json();
        let bursts = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["rule"] == "refusal_burst" && a["actor"] == operator.id.as_str())
            .count();
        if bursts > 0 || std::time::Instant::now() > deadline {
            break (alerts, bursts);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(bursts, 1, "{alerts}");
}
