//! Uploads scanned by a real clamd (started by the test kit with an offline
//! EICAR signature database): the EICAR test file refused (422, the
//! signature in the audit record), a clean file stored, clamd stopped →
//! uploads refused (fail closed), or stored and marked unscanned when the
//! configuration fails open.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

mod common;

use common::{Browser, Server};
use palisade_testkit::Clamd;
use serde_json::json;

fn owner(server: &Server) -> (Browser, String) {
    let demo = server.app.seed_demo("acme", 2).unwrap();
    let owner = demo.user("Administrator").unwrap();
    let mut c = Browser::new(&server.url);
    c.post(
        "/api/login",
        json!({ "tenant": "acme", "email": owner.email, "password": owner.password.as_str() }),
    );
    let code = owner.code_at(server.app.clock().now()).unwrap();
    assert_eq!(
        c.post("/api/login/second-factor", json!({ "code": code.as_str() }))
            .status,
        200
    );
    (c, demo.clients[0].clone())
}

fn upload(c: &mut Browser, client: &str, body: &[u8]) -> common::Answer {
    c.post(
        &format!("/api/clients/{client}/attachments"),
        json!({ "file_name": "upload.txt", "body": String::from_utf8_lossy(body) }),
    )
}

fn audit_notes(server: &Server) -> Vec<String> {
    let bundle = server.app.export_evidence("acme", None, None).unwrap();
    bundle
        .to_json()
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn infected_uploads_are_refused_and_a_stopped_scanner_refuses_all() {
    let Some(mut clamd) = Clamd::start_or_skip() else {
        return;
    };
    let address = clamd.tcp_address().to_string();
    let server = common::start_production(|config| {
        config.scanner = Some(address.parse().unwrap());
    });
    let (mut c, client) = owner(&server);
    let a = upload(&mut c, &client, &Clamd::eicar());
    assert_eq!(a.status, 422, "{}", a.text);
    assert!(a.text.contains("infected"), "{}", a.text);
    assert!(
        audit_notes(&server)
            .iter()
            .any(|l| l.contains("Eicar") || l.contains("EICAR")),
        "the signature is in the audit record"
    );
    let a = upload(&mut c, &client, b"a clean support request");
    assert_eq!(a.status, 201, "{}", a.text);
    clamd.stop();
    let a = upload(&mut c, &client, b"another clean file");
    assert_eq!(a.status, 503, "fail closed: {}", a.text);
}

#[test]
fn a_stopped_scanner_stores_unscanned_only_when_configured_to() {
    let Some(mut clamd) = Clamd::start_or_skip() else {
        return;
    };
    let address = clamd.tcp_address().to_string();
    clamd.stop();
    let server = common::start_production(|config| {
        config.scanner = Some(address.parse().unwrap());
        config.scan_fail_open = true;
    });
    let (mut c, client) = owner(&server);
    let a = upload(&mut c, &client, b"a clean support request");
    assert_eq!(a.status, 201, "fail open: {}", a.text);
    assert!(
        audit_notes(&server)
            .iter()
            .any(|l| l.contains("not scanned")),
        "the unscanned upload is recorded as such"
    );
}

#[test]
fn without_a_scanner_uploads_are_refused_outside_development() {
    let server = common::start_production(|_| {});
    let (mut c, client) = owner(&server);
    let a = upload(&mut c, &client, b"a clean support request");
    assert_eq!(a.status, 503, "{}", a.text);
}
