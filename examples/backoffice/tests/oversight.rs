//! The oversight promises (issue 19) over real HTTP: the five roles against
//! every area, bookings per right, deleting employees, removing a grant,
//! resetting a second factor, changing one's own password, "log in as",
//! the action and data-access logs, kept copies of downloads, alerts and
//! incident reports.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Browser, Server};
use palisade_backoffice::{Demo, DemoUser};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn sign_in(server: &Server, tenant: &str, user: &DemoUser) -> Browser {
    let mut c = Browser::new(&server.url);
    let a = c.post(
        "/api/login",
        json!({ "tenant": tenant, "email": user.email, "password": user.password.as_str() }),
    );
    assert_eq!(a.status, 200, "password step of {}: {}", user.email, a.text);
    let code = user.code_at(server.app.clock().now()).unwrap();
    let a = c.post("/api/login/second-factor", json!({ "code": code.as_str() }));
    assert_eq!(a.status, 200, "second factor of {}: {}", user.email, a.text);
    let a = c.post(
        "/api/step-up",
        json!({ "password": user.password.as_str() }),
    );
    assert_eq!(a.status, 200, "step-up of {}: {}", user.email, a.text);
    server.app.clock().advance(30);
    c
}

fn demo(server: &Server) -> Demo {
    server.app.seed_demo("acme", 6).unwrap()
}

fn role<'d>(demo: &'d Demo, role: &str) -> &'d DemoUser {
    demo.user(role).unwrap()
}

fn unix_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// Sets the tenant's working hours (and webhook) as the owner.
fn set_hours(owner: &mut Browser, starts: u8, ends: u8, webhook: Option<&str>) {
    let a = owner.put(
        "/api/settings",
        json!({ "work_starts": starts, "work_ends": ends, "alert_webhook": webhook }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
}

// ---- the role table ---------------------------------------------------------------

#[test]
fn each_role_reaches_exactly_its_areas() {
    let server = common::start(None);
    let acme = demo(&server);
    // area → path (a read of the area)
    let areas: [(&str, String); 9] = [
        ("clients", "/api/clients".into()),
        ("bookings", "/api/bookings".into()),
        ("invoices", "/api/invoices".into()),
        ("payments", "/api/payments".into()),
        ("tariffs", "/api/tariffs".into()),
        ("analytics", "/api/analytics".into()),
        ("statistics of all", "/api/statistics".into()),
        ("settings", "/api/settings".into()),
        ("users", "/api/users".into()),
    ];
    // The security page's table: which areas each role reaches.
    let table: [(&str, &[&str]); 5] = [
        (
            "Administrator",
            &[
                "clients",
                "bookings",
                "invoices",
                "payments",
                "tariffs",
                "analytics",
                "statistics of all",
                "settings",
                "users",
            ],
        ),
        (
            "Manager",
            &[
                "clients",
                "bookings",
                "invoices",
                "payments",
                "tariffs",
                "analytics",
                "statistics of all",
                "settings",
                "users",
            ],
        ),
        (
            "Operator supervisor",
            &[
                "clients",
                "bookings",
                "analytics",
                "statistics of all",
                "settings",
                "users",
            ],
        ),
        ("Senior operator", &["clients", "bookings", "analytics"]),
        ("Operator", &["clients", "bookings"]),
    ];
    for (role_name, reaches) in table {
        let user = role(&acme, role_name);
        let mut c = sign_in(&server, "acme", user);
        for (area, path) in &areas {
            let a = c.get(path);
            let expected = if reaches.contains(area) { 200 } else { 403 };
            assert_eq!(a.status, expected, "{role_name} → {area}: {}", a.text);
        }
        // Everyone sees their own statistics; only the first three roles others'.
        let own = c.get(&format!("/api/statistics/{}", user.id));
        assert_eq!(
            own.status, 200,
            "{role_name} → own statistics: {}",
            own.text
        );
        let other = role(
            &acme,
            if role_name == "Operator" {
                "Manager"
            } else {
                "Operator"
            },
        );
        let a = c.get(&format!("/api/statistics/{}", other.id));
        let expected = if reaches.contains(&"statistics of all") {
            200
        } else {
            403
        };
        assert_eq!(
            a.status, expected,
            "{role_name} → someone else's statistics"
        );
        // Phones: in clear for the first three roles, masked for operators.
        let list = c.get("/api/clients").json();
        let phone = list["clients"][0]["phone"].as_str().unwrap().to_owned();
        assert_eq!(
            phone.contains("XX"),
            role_name.ends_with(" operator") || role_name == "Operator",
            "{role_name} sees {phone}"
        );
    }
}

// ---- bookings, employees, grants, 2FA reset, own password -------------------------

#[test]
fn bookings_follow_each_right_and_administration_works() {
    let server = common::start(None);
    let acme = demo(&server);
    let owner = role(&acme, "Administrator");
    let manager = role(&acme, "Manager");
    let operator = role(&acme, "Operator");
    let senior = role(&acme, "Senior operator");
    let mut olivia = sign_in(&server, "acme", owner);
    let mut otto = sign_in(&server, "acme", operator);

    // The owner lets Otto create bookings but not change or delete them.
    let a = olivia.put(
        &format!("/api/users/{}/rights", operator.id),
        json!({ "deny": ["Booking:edit", "Booking:delete"] }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let client = &acme.clients[0];
    let starts = server.app.clock().now() + 86_400;
    let a = otto.post(
        &format!("/api/clients/{client}/bookings"),
        json!({ "starts": starts, "minutes": 30, "note": "first visit" }),
    );
    assert_eq!(a.status, 201, "{}", a.text);
    let booking = a.json()["id"].as_str().unwrap().to_owned();
    let a = otto.put(
        &format!("/api/bookings/{booking}"),
        json!({ "minutes": 45 }),
    );
    assert_eq!(a.status, 403, "edit refused: {}", a.text);
    let a = otto.delete(&format!("/api/bookings/{booking}"));
    assert_eq!(a.status, 403, "delete refused: {}", a.text);
    // The owner can; and removing the deny gives Otto the right back.
    let a = olivia.put(
        &format!("/api/bookings/{booking}"),
        json!({ "minutes": 45 }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let a = olivia.delete(&format!(
        "/api/users/{}/rights/deny/Booking:delete",
        operator.id
    ));
    assert_eq!(a.status, 200, "{}", a.text);
    let a = otto.delete(&format!("/api/bookings/{booking}"));
    assert_eq!(a.status, 200, "{}", a.text);

    // A grant, then its removal.
    let mut sergei = sign_in(&server, "acme", senior);
    assert_eq!(otto.get("/api/analytics").status, 403);
    let a = olivia.put(
        &format!("/api/users/{}/rights", operator.id),
        json!({ "grant": ["Analytics:read"] }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(otto.get("/api/analytics").status, 200);
    let a = olivia.delete(&format!(
        "/api/users/{}/rights/grant/Analytics:read",
        operator.id
    ));
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(otto.get("/api/analytics").status, 403, "the grant is gone");

    // Own password: the current one is checked, the new one works, the old
    // one no longer does, other sessions end.
    let a = sergei.post(
        "/api/me/password",
        json!({ "current": "not-my-password", "new": "quartz-meadow-lantern-77" }),
    );
    assert_eq!(a.status, 401, "{}", a.text);
    let mut sergei_phone = sign_in(&server, "acme", senior);
    let a = sergei.post(
        "/api/me/password",
        json!({ "current": senior.password.as_str(), "new": "quartz-meadow-lantern-77" }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["sessions_ended"], 1);
    assert_eq!(sergei_phone.get("/api/clients").status, 401);
    assert_eq!(sergei.get("/api/clients").status, 200, "this session stays");
    let mut c = Browser::new(&server.url);
    let old = c.post(
        "/api/login",
        json!({ "tenant": "acme", "email": senior.email, "password": senior.password.as_str() }),
    );
    assert_eq!(old.status, 401);
    let new = c.post(
        "/api/login",
        json!({ "tenant": "acme", "email": senior.email, "password": "quartz-meadow-lantern-77" }),
    );
    assert_eq!(new.status, 200, "{}", new.text);

    // 2FA reset: the Manager cannot reset the owner's; the owner resets
    // Otto's: his sessions end and his next sign-in enrolls anew.
    let mut max = sign_in(&server, "acme", manager);
    let a = max.post(
        &format!("/api/users/{}/second-factor/reset", owner.id),
        json!({}),
    );
    assert_eq!(a.status, 403, "{}", a.text);
    let a = olivia.post(
        &format!("/api/users/{}/second-factor/reset", operator.id),
        json!({}),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(otto.get("/api/clients").status, 401);
    let mut c = Browser::new(&server.url);
    let a = c.post(
        "/api/login",
        json!({ "tenant": "acme", "email": operator.email, "password": operator.password.as_str() }),
    );
    assert_eq!(a.json()["stage"], "enroll", "{}", a.text);

    // Deleting: the owner cannot be deleted (not by the Manager, not by
    // itself); the owner deletes Otto; his account and sessions are gone.
    let a = max.delete(&format!("/api/users/{}", owner.id));
    assert_eq!(a.status, 403, "{}", a.text);
    let a = olivia.delete(&format!("/api/users/{}", owner.id));
    assert_eq!(a.status, 403, "{}", a.text);
    let a = olivia.delete(&format!("/api/users/{}", operator.id));
    assert_eq!(a.status, 200, "{}", a.text);
    let users = olivia.get("/api/users").json();
    assert!(
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["id"] != operator.id.as_str()),
        "{users}"
    );
    let mut c = Browser::new(&server.url);
    let a = c.post(
        "/api/login",
        json!({ "tenant": "acme", "email": operator.email, "password": operator.password.as_str() }),
    );
    assert_eq!(a.status, 401, "a deleted employee cannot sign in");
    assert_eq!(
        olivia.get("/api/clients").status,
        200,
        "the owner is intact"
    );
}

// ---- "log in as" ------------------------------------------------------------------

#[test]
fn viewing_as_an_employee_shows_exactly_their_answers_read_only_and_audited() {
    let server = common::start(None);
    let acme = demo(&server);
    let owner = role(&acme, "Administrator");
    let manager = role(&acme, "Manager");
    let operator = role(&acme, "Operator");
    let mut olivia = sign_in(&server, "acme", owner);
    let mut otto = sign_in(&server, "acme", operator);

    // Never as the owner, never as oneself.
    let mut max = sign_in(&server, "acme", manager);
    let a = max.post(&format!("/api/users/{}/view-as", owner.id), json!({}));
    assert_eq!(a.status, 403, "{}", a.text);
    let a = olivia.post(&format!("/api/users/{}/view-as", owner.id), json!({}));
    assert_eq!(a.status, 403, "{}", a.text);

    let a = olivia.post(&format!("/api/users/{}/view-as", operator.id), json!({}));
    assert_eq!(a.status, 200, "{}", a.text);
    let me = olivia.get("/api/me").json();
    assert_eq!(me["user"], operator.id.as_str());
    assert_eq!(
        me["viewed_by"],
        owner.id.as_str(),
        "the banner's data: {me}"
    );
    assert_eq!(me["permissions"], otto.get("/api/me").json()["permissions"]);

    // Request by request, the same answers as Otto's own.
    let client = &acme.clients[0];
    let paths = [
        "/api/clients".to_owned(),
        format!("/api/clients/{client}"),
        "/api/bookings".to_owned(),
        "/api/invoices".to_owned(),
        "/api/payments".to_owned(),
        "/api/tariffs".to_owned(),
        "/api/analytics".to_owned(),
        "/api/settings".to_owned(),
        "/api/users".to_owned(),
        "/api/alerts".to_owned(),
        "/api/downloads".to_owned(),
        "/api/audit/actions".to_owned(),
        "/api/clients/export".to_owned(),
        format!("/api/statistics/{}", manager.id),
        "/api/clients/nope".to_owned(),
    ];
    let mut refused = 0;
    for path in &paths {
        let own = otto.get(path);
        let seen = olivia.get(path);
        assert_eq!(
            (seen.status, &seen.text),
            (own.status, &own.text),
            "{path}: viewing as must answer exactly as the employee"
        );
        refused += usize::from(own.status == 403);
    }
    assert!(refused >= 5, "the comparison covers refusals too");

    // Read-only: no change goes through, even one Otto may make.
    let before = olivia.get(&format!("/api/clients/{client}")).json();
    for (method, path, body) in [
        (
            "POST",
            "/api/clients".to_owned(),
            json!({ "name": "Eve", "phone": "+48 601 000 001", "email": "e@x.example" }),
        ),
        (
            "PUT",
            format!("/api/clients/{client}"),
            json!({ "name": "Changed" }),
        ),
        (
            "POST",
            format!("/api/clients/{client}/bookings"),
            json!({ "starts": 4_000_000_000_i64, "minutes": 30 }),
        ),
        (
            "POST",
            "/api/clients/search".to_owned(),
            json!({ "phone": acme.phones[0] }),
        ),
    ] {
        let a = olivia.send(method, &path, body);
        assert_eq!(
            a.status, 403,
            "{method} {path} while viewing as: {}",
            a.text
        );
    }
    assert_eq!(olivia.get(&format!("/api/clients/{client}")).json(), before);

    // Every request names both identities in the audit log.
    let both = format!("{} as {}", owner.id, operator.id);
    let bundle = server.app.export_evidence("acme", None, None).unwrap();
    let key = server.app.audit_key("acme").unwrap();
    let records = bundle
        .verify(Some(&key))
        .expect("the audit log verifies")
        .records;
    let as_records: Vec<_> = records.iter().filter(|r| r.actor() == both).collect();
    assert!(
        as_records.len() >= paths.len() + 4,
        "{} records name `{both}`",
        as_records.len()
    );
    assert!(
        as_records
            .iter()
            .filter(|r| r.outcome() == palisade_audit::Outcome::Denied)
            .count()
            >= 4 + refused,
        "the refused writes and reads are recorded"
    );
    // The view-as raised an alert; ending it restores the owner's view.
    let alerts = olivia.get("/api/alerts");
    assert_eq!(alerts.status, 403, "still Otto's view");
    let a = olivia.post("/api/view-as/end", json!({}));
    assert_eq!(a.status, 200, "{}", a.text);
    let alerts = olivia.get("/api/alerts").json();
    assert!(
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "view_as" && a["actor"] == owner.id.as_str()),
        "{alerts}"
    );
    let mine = olivia.get(&format!("/api/clients/{client}")).json();
    assert!(!mine["phone"].as_str().unwrap().contains("XX"), "{mine}");

    // No escalation through someone else's eyes: the Manager may view as
    // Otto, until Otto is granted what the Manager may not see (copies of
    // downloads); from then on the view ends, and cannot start again.
    let a = max.post(&format!("/api/users/{}/view-as", operator.id), json!({}));
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(max.get("/api/me").json()["viewed_by"], manager.id.as_str());
    let a = olivia.put(
        &format!("/api/users/{}/rights", operator.id),
        json!({ "grant": ["Download:read"] }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    std::thread::sleep(std::time::Duration::from_millis(600));
    let me = max.get("/api/me").json();
    assert!(me.get("viewed_by").is_none(), "the view ended: {me}");
    assert_eq!(max.get("/api/downloads").status, 403);
    let a = max.post(&format!("/api/users/{}/view-as", operator.id), json!({}));
    assert_eq!(a.status, 403, "{}", a.text);
    // Nor among peers or upwards: a supervisor cannot view as the Manager.
    let supervisor = role(&acme, "Operator supervisor");
    let mut sam = sign_in(&server, "acme", supervisor);
    let a = sam.post(&format!("/api/users/{}/view-as", manager.id), json!({}));
    assert_eq!(a.status, 403, "{}", a.text);
    let a = sam.post(
        &format!("/api/users/{}/second-factor/reset", manager.id),
        json!({}),
    );
    assert_eq!(a.status, 403, "{}", a.text);
}

// ---- data-access log, kept downloads ------------------------------------------------

#[test]
fn the_access_log_answers_who_saw_a_phone_and_downloads_are_kept_for_the_owner() {
    let server = common::start(None);
    let acme = demo(&server);
    let owner = role(&acme, "Administrator");
    let manager = role(&acme, "Manager");
    let operator = role(&acme, "Operator");
    let client = &acme.clients[2];
    let mut olivia = sign_in(&server, "acme", owner);
    let mut max = sign_in(&server, "acme", manager);
    let mut otto = sign_in(&server, "acme", operator);
    assert_eq!(max.get(&format!("/api/clients/{client}")).status, 200);
    assert_eq!(otto.get(&format!("/api/clients/{client}")).status, 200);
    let from = unix_now() - 7 * 86_400;
    let log = olivia
        .get(&format!(
            "/api/audit/access?client={client}&field=phone&from={from}"
        ))
        .json();
    let who: BTreeSet<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(
        who,
        BTreeSet::from([manager.id.as_str()]),
        "the Manager saw the phone; Otto saw it masked: {log}"
    );
    let all = olivia
        .get(&format!("/api/audit/access?client={client}"))
        .json();
    assert!(
        all["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == operator.id.as_str() && e["masked"] == json!(["phone", "email"])),
        "{all}"
    );

    // The Manager exports; the owner reads the exact bytes that left.
    let export = max.get("/api/clients/export");
    assert_eq!(export.status, 200, "{}", export.text);
    assert_eq!(max.get("/api/downloads").status, 403, "the owner's alone");
    let list = olivia.get("/api/downloads").json();
    let kept = &list["downloads"][0];
    assert_eq!(kept["user"], manager.id.as_str());
    let digest = data_encoding::HEXLOWER.encode(&Sha256::digest(export.text.as_bytes()));
    assert_eq!(kept["sha256"], digest.as_str());
    let id = kept["id"].as_str().unwrap();
    let copy = olivia.get(&format!("/api/downloads/{id}")).json();
    assert_eq!(
        copy["content"].as_str().unwrap(),
        export.text,
        "byte-identical"
    );
    assert_eq!(max.get(&format!("/api/downloads/{id}")).status, 403);
    // At rest the copy is ciphertext: no phone of it in the database file.
    assert!(
        export.text.contains(&acme.phones[0]),
        "the Manager saw phones"
    );
    for entry in std::fs::read_dir(server.app.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().contains("backoffice.sqlite3") {
            continue;
        }
        let db = std::fs::read(&path).unwrap();
        for phone in &acme.phones {
            assert!(
                !db.windows(phone.len()).any(|w| w == phone.as_bytes()),
                "a phone in clear in {}",
                path.display()
            );
        }
    }
}

// ---- alerts and incident reports ---------------------------------------------------

/// A webhook receiver on 127.0.0.1: the JSON bodies it was sent.
fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok()
                && let Ok(v) = serde_json::from_slice(&body)
            {
                sink.lock().unwrap().push(v);
            }
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n");
        }
    });
    (url, got)
}

#[test]
fn a_scripted_misuse_raises_exactly_the_expected_alerts() {
    let server = common::start(None);
    let acme = demo(&server);
    let owner = role(&acme, "Administrator");
    let manager = role(&acme, "Manager");
    let operator = role(&acme, "Operator");
    let (url, posted) = webhook();
    let mut olivia = sign_in(&server, "acme", owner);
    set_hours(&mut olivia, 0, 24, Some(&url));
    let mut max = sign_in(&server, "acme", manager);
    let mut otto = sign_in(&server, "acme", operator);
    // Normal work raises nothing.
    assert_eq!(otto.get("/api/clients").status, 200);
    assert_eq!(
        otto.get("/api/invoices").status,
        403,
        "one refusal is no burst"
    );
    assert!(
        olivia.get("/api/alerts").json()["alerts"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // 1. a bulk export
    assert_eq!(max.get("/api/clients/export").status, 200);
    // 2. a burst of refusals
    for _ in 0..10 {
        assert_eq!(otto.get("/api/payments").status, 403);
    }
    // 3. reads outside working hours (twice: one alert per hour)
    let hour = server.app.clock().now().rem_euclid(86_400) / 3600;
    let (starts, ends) = if hour < 23 {
        (u8::try_from(hour + 1).unwrap(), 24)
    } else {
        (0, 23)
    };
    set_hours(&mut olivia, starts, ends, Some(&url));
    assert_eq!(
        otto.get(&format!("/api/clients/{}", acme.clients[1]))
            .status,
        200
    );
    assert_eq!(
        otto.get(&format!("/api/clients/{}", acme.clients[2]))
            .status,
        200
    );

    let alerts = olivia.get("/api/alerts").json();
    let mut got: Vec<(String, String)> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_owned(),
                a["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let mut expected = vec![
        ("bulk_export".to_owned(), manager.id.clone()),
        ("off_hours_read".to_owned(), operator.id.clone()),
        ("refusal_burst".to_owned(), operator.id.clone()),
    ];
    expected.sort();
    assert_eq!(got, expected, "{alerts}");
    // The webhook received the same three.
    for _ in 0..100 {
        if posted.lock().unwrap().len() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut hooked: Vec<(String, String)> = posted
        .lock()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_owned(),
                a["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    hooked.sort();
    assert_eq!(hooked, expected);
    // Operators do not see alerts.
    assert_eq!(otto.get("/api/alerts").status, 403);
}

fn wait_past(unix: i64) {
    while unix_now() <= unix {
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_incident_report_lists_exactly_what_a_leaked_account_read() {
    let server = common::start(None);
    let acme = demo(&server);
    let owner = role(&acme, "Administrator");
    let manager = role(&acme, "Manager");
    let operator = role(&acme, "Operator");
    let mut olivia = sign_in(&server, "acme", owner);
    set_hours(&mut olivia, 0, 24, None);
    let mut max = sign_in(&server, "acme", manager);
    let mut leaked = sign_in(&server, "acme", operator);
    let read = |c: &mut Browser, i: usize| {
        let a = c.get(&format!("/api/clients/{}", acme.clients[i]));
        assert_eq!(a.status, 200, "{}", a.text);
    };
    // Before the window.
    read(&mut leaked, 0);
    wait_past(unix_now());
    let from = unix_now();
    // In the window: the ground truth is what the leaked account read.
    let mut truth = BTreeSet::new();
    for i in [1, 3, 1, 4] {
        read(&mut leaked, i);
        truth.insert(format!("client:{}", acme.clients[i]));
    }
    read(&mut max, 5); // someone else's read is not in the report
    assert_eq!(
        leaked.get("/api/invoices").status,
        403,
        "refused: nothing accessed"
    );
    let to = unix_now() + 1;
    wait_past(to);
    read(&mut leaked, 2); // after the window

    let report = olivia.get(&format!(
        "/api/incidents/report?user={}&from={from}&to={to}",
        operator.id
    ));
    assert_eq!(report.status, 200, "{}", report.text);
    let report = report.json();
    let subjects: BTreeSet<String> = report["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subject"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(subjects, truth, "{report}");
    let first = report["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subject"] == format!("client:{}", acme.clients[1]))
        .unwrap();
    assert_eq!(first["accesses"], 2);
    assert_eq!(first["fields_in_clear"], json!(["name"]));
    assert_eq!(first["fields_masked"], json!(["phone", "email"]));
    assert_eq!(
        report["notify_authority_by"].as_i64().unwrap() - report["detected"].as_i64().unwrap(),
        72 * 3600
    );
    let notices = report["notices"].as_array().unwrap();
    assert_eq!(notices.len(), truth.len());
    assert!(
        notices
            .iter()
            .all(|n| n["text"].as_str().unwrap().starts_with("Dear "))
    );
    // Only who may report incidents gets one.
    assert_eq!(
        leaked
            .get(&format!(
                "/api/incidents/report?user={}&from={from}&to={to}",
                operator.id
            ))
            .status,
        403
    );
}

// ---- end of service -----------------------------------------------------------------

#[test]
fn closing_the_tenant_exports_everything_then_deletes_it_but_invoices_kept_by_law() {
    let server = common::start(None);
    let acme = demo(&server);
    let owner = role(&acme, "Administrator");
    let manager = role(&acme, "Manager");
    let mut olivia = sign_in(&server, "acme", owner);
    let mut max = sign_in(&server, "acme", manager);
    let a = max.post("/api/tenant/close", json!({ "confirm": "acme" }));
    assert_eq!(a.status, 403, "the owner's alone: {}", a.text);
    let a = olivia.post("/api/tenant/close", json!({ "confirm": "globex" }));
    assert_eq!(a.status, 400, "{}", a.text);
    let a = olivia.post("/api/tenant/close", json!({ "confirm": "acme" }));
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(
        a.headers
            .get("content-disposition")
            .is_some_and(|v| v.to_str().unwrap().contains("tenant-export.json"))
    );
    let export = a.json();
    let ids: BTreeSet<&str> = export["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let all: BTreeSet<&str> = acme.clients.iter().map(String::as_str).collect();
    assert_eq!(ids, all, "every client is in the export");
    assert!(
        export["clients"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["phone"] == acme.phones[0].as_str()),
        "in clear for the owner"
    );
    let invoices: usize = export["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["invoices"].as_array().unwrap().len())
        .sum();
    assert!(invoices > 0, "the demo has invoices: {export}");
    let deleted_after = export["deleted_after"].as_i64().unwrap();
    assert_eq!(
        deleted_after - export["service_ended"].as_i64().unwrap(),
        30 * 86_400
    );

    // Within the period nothing is deleted …
    server.app.clock().advance(29 * 86_400);
    let mut olivia = sign_in(&server, "acme", owner);
    let sweep = olivia.post("/api/retention/sweep", json!({})).json();
    assert!(
        !sweep["executed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| acme.clients.iter().any(|c| e["record"] == c.as_str())),
        "{sweep}"
    );
    assert_eq!(
        olivia.get("/api/clients").json()["clients"]
            .as_array()
            .unwrap()
            .len(),
        acme.clients.len()
    );
    // … after it, every client goes; invoices stay, kept by law.
    server.app.clock().advance(2 * 86_400);
    let mut olivia = sign_in(&server, "acme", owner);
    let sweep = olivia.post("/api/retention/sweep", json!({}));
    assert_eq!(sweep.status, 200, "{}", sweep.text);
    assert!(
        olivia.get("/api/clients").json()["clients"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let kept = olivia.get("/api/invoices").json();
    assert_eq!(
        kept["invoices"].as_array().unwrap().len(),
        invoices,
        "{kept}"
    );
}
