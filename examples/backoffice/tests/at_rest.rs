//! Encrypted at rest: clients, employees, attachments and invoices seeded
//! with known values through the API, then the raw SQLite file (and its
//! journal) and every PostgreSQL table read byte by byte: no seeded name,
//! phone, e-mail, attachment name or text, hold reason or invoice amount
//! appears in clear; and the app still answers them decrypted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

mod common;

use common::{Browser, Server};
use serde_json::json;

/// Values no ciphertext, id or hash will contain by chance.
const SECRETS: &[&str] = &[
    "Zbigniew Quellmatz",
    "+48 609 817 263",
    "609817263",
    "zbigniew.quellmatz@example.org",
    "Hortensja Wielgomas",
    "hortensja.wielgomas@staff.example",
    "medical-report-quellmatz.pdf",
    "diagnosis: rare quellmatz syndrome",
    "court case QX-4471",
    "9876543",
];

fn seed(server: &Server) {
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
    let a = c.post(
        "/api/clients",
        json!({ "name": SECRETS[0], "phone": SECRETS[1], "email": SECRETS[3] }),
    );
    assert_eq!(a.status, 201, "{}", a.text);
    let client = a.json()["id"].as_str().unwrap().to_owned();
    let a = c.post(
        "/api/users",
        json!({ "email": SECRETS[5], "name": SECRETS[4], "role": "Operator", "password": "amber-falcon-river-5521" }),
    );
    assert_eq!(a.status, 201, "{}", a.text);
    let a = c.post(
        &format!("/api/clients/{client}/attachments"),
        json!({ "file_name": SECRETS[6], "body": SECRETS[7] }),
    );
    assert_eq!(a.status, 201, "{}", a.text);
    let attachment = a.json()["id"].as_str().unwrap().to_owned();
    let a = c.put(
        &format!("/api/attachments/{attachment}/hold"),
        json!({ "hold": SECRETS[8] }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let a = c.post(
        &format!("/api/clients/{client}/invoices"),
        json!({ "amount_cents": 9_876_543 }),
    );
    assert_eq!(a.status, 201, "{}", a.text);
    // The app still shows all of it, decrypted, to who may see it.
    let shown = c.get(&format!("/api/clients/{client}")).text;
    for value in [
        SECRETS[0], SECRETS[1], SECRETS[3], SECRETS[6], SECRETS[8], SECRETS[9],
    ] {
        assert!(shown.contains(value), "{value} in {shown}");
    }
    let file = c.get(&format!("/api/attachments/{attachment}")).json();
    assert_eq!(file["body"], SECRETS[7]);
    let users = c.get("/api/users").text;
    assert!(
        users.contains(SECRETS[4]) && users.contains(SECRETS[5]),
        "{users}"
    );
    // The new employee signs in by the address (through its blind index).
    let a = Browser::new(&server.url).post(
        "/api/login",
        json!({ "tenant": "acme", "email": SECRETS[5], "password": "amber-falcon-river-5521" }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    for secret in SECRETS {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "`{secret}` in clear in {what}"
        );
    }
}

#[test]
fn sqlite_file_holds_no_personal_value_in_clear() {
    let server = common::start(None);
    seed(&server);
    let mut files = 0;
    for entry in std::fs::read_dir(server.app.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("backoffice.sqlite3") {
            assert_no_secret(&name, &std::fs::read(&path).unwrap());
            files += 1;
        }
    }
    assert!(files >= 1);
}

#[test]
fn postgres_tables_hold_no_personal_value_in_clear() {
    let Some(pg) = palisade_testkit::Postgres::start_or_skip() else {
        return;
    };
    let server = common::start(Some(pg.url().to_owned()));
    seed(&server);
    let mut client = postgres::Client::connect(pg.url(), postgres::NoTls).unwrap();
    let tables: Vec<String> = client
        .query(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.iter().any(|t| t.ends_with(".clients")), "{tables:?}");
    for table in &tables {
        // Every row as text, whatever its column types.
        let rows = client
            .query(&format!("SELECT t::text FROM {table} t"), &[])
            .unwrap();
        for row in rows {
            let text: String = row.get(0);
            assert_no_secret(table, text.as_bytes());
        }
    }
}

const CARD: &str = "4111 1111 1111 1111";

/// Signs the demo owner in (password, code).
fn owner_session(server: &Server) -> (Browser, String) {
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

/// Nothing the app wrote anywhere holds the card number.
fn assert_card_nowhere(server: &Server) {
    let digits: String = CARD.chars().filter(char::is_ascii_digit).collect();
    let mut pending = vec![server.app.data_dir().to_owned()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for needle in [CARD, digits.as_str()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "the card number in {}",
                path.display()
            );
        }
    }
    let bundle = server.app.export_evidence("acme", None, None).unwrap();
    let text = bundle.to_json().unwrap();
    assert!(
        !text.contains(CARD) && !text.contains(&digits),
        "the card number in the audit log"
    );
    let logs = common::captured_logs();
    assert!(
        !logs.contains(CARD) && !logs.contains(&digits),
        "the card number in the logs"
    );
}

#[test]
fn a_card_number_in_free_text_is_refused() {
    let server = common::start(None);
    let (mut c, client) = owner_session(&server);
    for (path, body) in [
        (
            format!("/api/clients/{client}/attachments"),
            json!({ "file_name": format!("card {CARD}.png"), "body": "x" }),
        ),
        (
            "/api/clients".to_owned(),
            json!({ "name": format!("Anna {CARD}"), "phone": "+48 601 000 111", "email": "a@b.example" }),
        ),
    ] {
        let a = c.post(&path, body);
        assert_eq!(a.status, 422, "{path}: {}", a.text);
        assert!(a.text.contains("payment card"), "{}", a.text);
    }
    assert_card_nowhere(&server);
}

#[test]
fn a_card_number_in_free_text_is_masked_when_configured() {
    let server = common::start_with(|config| {
        config.card_numbers = palisade_backoffice::CardNumbers::Mask;
    });
    let (mut c, client) = owner_session(&server);
    let a = c.post(
        &format!("/api/clients/{client}/attachments"),
        json!({ "file_name": format!("card {CARD}.png"), "body": "x" }),
    );
    assert_eq!(a.status, 201, "{}", a.text);
    let shown = c.get(&format!("/api/clients/{client}")).json();
    let names: Vec<&str> = shown["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["file_name"].as_str().unwrap())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("card ") && n.ends_with("1111.png") && n.contains('X')),
        "{names:?}"
    );
    assert_card_nowhere(&server);
}
