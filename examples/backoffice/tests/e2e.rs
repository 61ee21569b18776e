//! End-to-end tests over real HTTP on 127.0.0.1: sign-up and sign-in with
//! TOTP, enrollment, recovery codes, throttling, replay refusal, roles and
//! per-user restrictions, dismissal, masking, export rights, the audit trail
//! and its evidence bundle, tamper detection, retention and erasure, and
//! logs free of secrets. The same scenario runs on SQLite and PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

mod common;

use common::{Browser, Server};
use palisade_audit::Bundle;
use palisade_backoffice::{Demo, DemoUser};
use serde_json::{Value, json};

const TENANT: &str = "acme";

/// Signs `user` in with password and the current TOTP code.
fn sign_in(server: &Server, user: &DemoUser) -> Browser {
    let mut c = Browser::new(&server.url);
    let a = c.post(
        "/api/login",
        json!({ "tenant": TENANT, "email": user.email, "password": user.password.as_str() }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["stage"], "totp");
    let code = user.code_at(server.app.clock().now()).unwrap();
    let a = c.post("/api/login/second-factor", json!({ "code": code.as_str() }));
    assert_eq!(a.status, 200, "second factor of {}: {}", user.email, a.text);
    // Sensitive actions (rights, export) need a recent step-up.
    let a = c.post(
        "/api/step-up",
        json!({ "password": user.password.as_str() }),
    );
    assert_eq!(a.status, 200, "step-up of {}: {}", user.email, a.text);
    c
}

/// A fresh TOTP step for the next sign-in of a user who just used a code.
fn next_step(server: &Server) {
    server.app.clock().advance(30);
}

fn clients(v: &Value) -> Vec<Value> {
    v["clients"].as_array().cloned().unwrap_or_default()
}

fn scenario(server: &Server) {
    let demo: Demo = server.app.seed_demo(TENANT, 12).unwrap();
    let owner = demo.user("Administrator").unwrap();
    let manager = demo.user("Manager").unwrap();
    let supervisor = demo.user("Operator supervisor").unwrap();
    let senior = demo.user("Senior operator").unwrap();
    let operator = demo.user("Operator").unwrap();
    let mut secrets: Vec<String> = Vec::new();
    for u in &demo.users {
        secrets.push(u.password.to_string());
        secrets.push(u.totp_secret.to_string());
        secrets.push(u.recovery_code.to_string());
    }
    for p in &demo.phones {
        secrets.push(p.clone());
        secrets.push(p.chars().filter(char::is_ascii_digit).collect());
    }
    let mut clients_made: Vec<Browser> = Vec::new();

    // The page and its headers.
    let mut anonymous = Browser::new(&server.url);
    let page = anonymous.get("/");
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Palisade Back Office"));
    assert_eq!(
        anonymous.get("/api/clients").status,
        401,
        "no session, no data"
    );

    // --- Sign-up of a second tenant, enrollment with QR, recovery codes.
    let mut founder = Browser::new(&server.url);
    let weak = founder.post("/api/signup", json!({ "tenant": "globex", "company": "Globex", "name": "Gina", "email": "gina@globex.example", "password": "password123" }));
    assert_eq!(weak.status, 400, "common password refused: {}", weak.text);
    let founder_password = "violet-harbor-quantum-47";
    secrets.push(founder_password.into());
    let a = founder.post("/api/signup", json!({ "tenant": "globex", "company": "Globex", "name": "Gina", "email": "gina@globex.example", "password": founder_password }));
    assert_eq!(a.status, 201, "{}", a.text);
    let a = founder.post(
        "/api/login",
        json!({ "tenant": "globex", "email": "gina@globex.example", "password": founder_password }),
    );
    assert_eq!(
        a.json()["stage"],
        "enroll",
        "staff must enroll a second factor: {}",
        a.text
    );
    let cookie = founder.last_set_cookie.clone().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let https = server.url.starts_with("https://");
    assert_eq!(
        cookie.starts_with("__Host-bo_session=") && cookie.contains("; Secure"),
        https,
        "Secure exactly over HTTPS: {cookie}"
    );
    assert_eq!(
        founder.get("/api/clients").status,
        401,
        "no data before enrollment"
    );
    let e = founder.post("/api/totp/enroll", json!({})).json();
    assert!(
        e["qr_svg"].as_str().unwrap().contains("<svg"),
        "QR code as SVG"
    );
    let secret = e["secret"].as_str().unwrap().to_owned();
    secrets.push(secret.clone());
    let totp = palisade_otp::Totp::new(palisade_otp::Secret::from_base32(&secret).unwrap());
    assert_eq!(
        founder
            .post("/api/totp/confirm", json!({ "code": "000000" }))
            .status,
        401
    );
    let now = u64::try_from(server.app.clock().now()).unwrap();
    let a = founder.post(
        "/api/totp/confirm",
        json!({ "code": totp.code_at(now).as_str() }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let codes: Vec<String> = a.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    secrets.extend(codes.iter().cloned());
    let list = founder.get("/api/clients");
    assert_eq!(list.status, 200);
    assert!(
        clients(&list.json()).is_empty(),
        "a new tenant sees none of acme's clients"
    );
    assert_eq!(
        founder
            .get(&format!("/api/clients/{}", demo.clients[0]))
            .status,
        404,
        "tenant isolation"
    );
    clients_made.push(founder);

    // --- Operator: masked list, 403 on export, lookup by phone.
    let mut otto = Browser::new(&server.url);
    assert_eq!(
        otto.post(
            "/api/login",
            json!({ "tenant": TENANT, "email": operator.email, "password": "wrong-password-1" })
        )
        .status,
        401
    );
    let a = otto.post(
        "/api/login",
        json!({ "tenant": TENANT, "email": operator.email, "password": operator.password.as_str() }),
    );
    assert_eq!(a.json()["stage"], "totp");
    assert_eq!(
        otto.get("/api/clients").status,
        401,
        "password alone is not enough"
    );
    assert_eq!(
        otto.post("/api/login/second-factor", json!({ "code": "123456" }))
            .status,
        401
    );
    let code = operator.code_at(server.app.clock().now()).unwrap();
    assert_eq!(
        otto.post("/api/login/second-factor", json!({ "code": code.as_str() }))
            .status,
        200
    );
    let list = otto.get("/api/clients").json();
    let rows = clients(&list);
    assert_eq!(rows.len(), 12);
    for row in &rows {
        let phone = row["phone"].as_str().unwrap();
        assert!(
            phone.contains("XX"),
            "operator sees a masked phone: {phone}"
        );
        assert!(!demo.phones.iter().any(|p| p == phone));
        assert!(row["email"].as_str().unwrap().contains("XX"));
    }
    let export = otto.get("/api/clients/export");
    assert_eq!(export.status, 403, "operator cannot export");
    assert_eq!(
        otto.post("/api/clients/search", json!({ "phone": demo.phones[3] }))
            .status,
        403,
        "a masked phone is not searchable (a search would confirm it)"
    );

    // --- A replayed TOTP code is refused, even on a fresh password step.
    let mut replay = Browser::new(&server.url);
    replay.post(
        "/api/login",
        json!({ "tenant": TENANT, "email": operator.email, "password": operator.password.as_str() }),
    );
    let again = replay.post("/api/login/second-factor", json!({ "code": code.as_str() }));
    assert_eq!(again.status, 401, "replayed code: {}", again.text);
    assert!(again.text.contains("already used"), "{}", again.text);
    next_step(server);
    let fresh = operator.code_at(server.app.clock().now()).unwrap();
    assert_eq!(
        replay
            .post(
                "/api/login/second-factor",
                json!({ "code": fresh.as_str() })
            )
            .status,
        200
    );
    clients_made.push(otto);
    clients_made.push(replay);

    // --- Recovery codes work once.
    let mut sergei = Browser::new(&server.url);
    sergei.post(
        "/api/login",
        json!({ "tenant": TENANT, "email": senior.email, "password": senior.password.as_str() }),
    );
    let a = sergei.post(
        "/api/login/second-factor",
        json!({ "recovery_code": senior.recovery_code.as_str() }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let mut twice = Browser::new(&server.url);
    twice.post(
        "/api/login",
        json!({ "tenant": TENANT, "email": senior.email, "password": senior.password.as_str() }),
    );
    assert_eq!(
        twice
            .post(
                "/api/login/second-factor",
                json!({ "recovery_code": senior.recovery_code.as_str() })
            )
            .status,
        401
    );
    clients_made.push(twice);

    // --- Supervisor: phones in clear, export allowed.
    let mut sofia = sign_in(server, supervisor);
    let rows = clients(&sofia.get("/api/clients").json());
    assert!(
        rows.iter().any(|r| r["phone"] == demo.phones[0].as_str()),
        "supervisor sees phones in clear"
    );
    let found = sofia
        .post("/api/clients/search", json!({ "phone": demo.phones[3] }))
        .json();
    let found = clients(&found);
    assert_eq!(found.len(), 1, "blind index lookup by phone");
    assert_eq!(found[0]["id"], demo.clients[3]);
    let export = sofia.get("/api/clients/export");
    assert_eq!(export.status, 200);
    assert!(
        export.text.contains(&demo.phones[5]),
        "export holds the phones"
    );
    assert_eq!(export.text.lines().count(), 13);
    clients_made.push(sofia);

    // --- Owner: restrictions per user, the owner cannot be blocked, dismissal.
    let mut olivia = sign_in(server, owner);
    let a = olivia.post(&format!("/api/users/{}/block", owner.id), json!({}));
    assert_eq!(a.status, 403, "the owner cannot block itself: {}", a.text);
    assert!(a.text.contains("its own"), "{}", a.text);
    let a = olivia.put(
        &format!("/api/users/{}/rights", senior.id),
        json!({ "fields": { "Client.phone": "hidden" }, "deny": ["Client:edit"] }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let rows = clients(&sergei.get("/api/clients").json());
    assert!(
        rows.iter().all(|r| r.get("phone").is_none()),
        "phone hidden for this senior operator"
    );
    let edit = sergei.put(
        &format!("/api/clients/{}", demo.clients[1]),
        json!({ "name": "Renamed" }),
    );
    assert_eq!(edit.status, 403, "edit denied to this user only");
    let a = olivia.put(
        &format!("/api/users/{}/rights", operator.id),
        json!({ "deny": ["Attachment:create"] }),
    );
    assert_eq!(a.status, 200);
    clients_made.push(sergei);

    let mut max = sign_in(server, manager);
    assert_eq!(max.get("/api/clients").status, 200);
    let a = max.post(&format!("/api/users/{}/block", owner.id), json!({}));
    assert_eq!(
        a.status, 403,
        "a manager cannot block the owner either: {}",
        a.text
    );
    assert!(a.text.contains("owner"), "{}", a.text);
    let a = olivia.post(&format!("/api/users/{}/block", manager.id), json!({}));
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.json()["sessions_ended"].as_u64().unwrap() >= 1);
    assert_eq!(
        max.get("/api/clients").status,
        401,
        "the dismissed manager's session ended at once"
    );
    let mut again = Browser::new(&server.url);
    assert_eq!(
        again
            .post(
                "/api/login",
                json!({ "tenant": TENANT, "email": manager.email, "password": manager.password.as_str() })
            )
            .status,
        401
    );
    clients_made.push(max);
    clients_made.push(again);

    // --- A new employee, then throttling of password guesses.
    let dora_password = "copper-lantern-meadow-93";
    secrets.push(dora_password.into());
    let a = olivia.post("/api/users", json!({ "tenant": TENANT, "email": "dora@acme.example", "name": "Dora", "role": "Operator", "password": dora_password }));
    assert_eq!(a.status, 201, "{}", a.text);
    let mut guesser = Browser::new(&server.url);
    // Five free failures, then 1 s, 2 s, … of back-off: by the eighth
    // attempt a 429 has come, whatever the timing.
    let statuses: Vec<u16> = (0..8)
        .map(|i| guesser.post("/api/login", json!({ "tenant": TENANT, "email": "dora@acme.example", "password": format!("guess-number-{i}") })).status)
        .collect();
    assert_eq!(&statuses[..5], &[401; 5]);
    assert!(
        statuses[5..].contains(&429),
        "password guesses throttled: {statuses:?}"
    );
    let statuses: Vec<u16> = (0..8)
        .map(|i| guesser.post("/api/login", json!({ "tenant": TENANT, "email": "nobody@acme.example", "password": format!("guess-number-{i}") })).status)
        .collect();
    assert!(
        statuses.contains(&429),
        "unknown accounts throttled alike: {statuses:?}"
    );

    // --- Operator restriction holds.
    next_step(server);
    let mut otto = sign_in(server, operator);
    let a = otto.post(
        &format!("/api/clients/{}/attachments", demo.clients[2]),
        json!({ "file_name": "a.txt", "body": "x" }),
    );
    assert_eq!(a.status, 403);
    clients_made.push(otto);

    // --- Retention: the expired attachment goes, the held one stays.
    let sweep = olivia.post("/api/retention/sweep", json!({})).json();
    let executed: Vec<&str> = sweep["executed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["record"].as_str().unwrap())
        .collect();
    assert_eq!(executed, vec![demo.expired_attachment.as_str()], "{sweep}");
    assert_eq!(sweep["kept"][0]["record"], demo.held_attachment.as_str());
    assert_eq!(sweep["kept"][0]["hold"], "case-7");

    // --- Erasure request: honoured except the invoice kept by law.
    let target = demo.clients[0].clone();
    let a = olivia.post(
        &format!("/api/clients/{target}/attachments"),
        json!({ "file_name": "id.png", "body": "..." }),
    );
    assert_eq!(a.status, 201);
    let erased = olivia.post(&format!("/api/clients/{target}/erasure"), json!({}));
    assert_eq!(erased.status, 200, "{}", erased.text);
    let erased = erased.json();
    let done: Vec<&str> = erased["executed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["record"].as_str().unwrap())
        .collect();
    assert!(done.contains(&target.as_str()), "{erased}");
    let kept = erased["kept"].as_array().unwrap();
    assert!(
        kept.iter().any(|k| k["category"] == "invoice"
            && k["status"] == "retained"
            && k["rule"] == "invoices-kept-by-law"),
        "{erased}"
    );
    assert!(
        kept.iter()
            .any(|k| k["record"] == demo.held_attachment.as_str() && k["status"] == "held"),
        "{erased}"
    );
    assert_eq!(
        olivia.get(&format!("/api/clients/{target}")).status,
        404,
        "the client is gone"
    );

    // --- Audit: the evidence bundle verifies, and names what operators read.
    let bundle = olivia.get("/api/audit/bundle");
    assert_eq!(bundle.status, 200);
    let parsed = Bundle::from_json(&bundle.text).unwrap();
    let key = server.app.audit_key(TENANT).unwrap();
    let report = parsed.verify(Some(&key)).expect("the bundle verifies");
    let actions: Vec<(String, String)> = report
        .records
        .iter()
        .map(|r| (r.actor().to_owned(), r.action().to_owned()))
        .collect();
    assert!(actions.contains(&(operator.id.clone(), "client.read".into())));
    assert!(
        actions.contains(&(operator.id.clone(), "client.export".into())),
        "the refused export is recorded"
    );
    assert!(actions.contains(&(supervisor.id.clone(), "client.export".into())));
    assert!(
        actions.contains(&("retention".into(), "retention.delete".into())),
        "retention receipts"
    );
    std::fs::write(server.dir.path().join("evidence.json"), &bundle.text).unwrap();
    assert_eq!(
        otto_like_forbidden(server, operator),
        403,
        "operators cannot export evidence"
    );
    let verify = olivia.get("/api/audit/verify").json();
    assert_eq!(verify["ok"], true, "{verify}");

    // --- Tamper with one record on disk: verification names it.
    let erasure_index = report
        .records
        .iter()
        .find(|r| r.action() == "client.erase")
        .unwrap()
        .index();
    tamper(server, "client.erase");
    let verify = olivia.get("/api/audit/verify").json();
    assert_eq!(verify["ok"], false, "{verify}");
    let finding = verify["finding"].as_str().unwrap();
    assert!(
        finding.contains(&format!("record {erasure_index}")),
        "verify names record {erasure_index}: {finding}"
    );
    clients_made.push(olivia);

    // --- No seeded secret, token or phone number in any log line.
    let logs = common::captured_logs();
    assert!(
        logs.contains("request") && logs.contains("signed in"),
        "logs were captured"
    );
    for c in &clients_made {
        secrets.extend(c.tokens.iter().cloned());
    }
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
    }
}

/// An operator asking for the evidence bundle.
fn otto_like_forbidden(server: &Server, operator: &DemoUser) -> u16 {
    next_step(server);
    let mut c = sign_in(server, operator);
    c.get("/api/audit/bundle").status
}

/// Changes one byte of the first stored record that holds `needle`: in a
/// segment file, or in the row of the tenant's PostgreSQL audit table.
fn tamper(server: &Server, needle: &str) {
    if let Some(url) = &server.app.config().database_url {
        let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
        let table = format!(
            "{}.audit_records",
            palisade_backoffice::audit_schema(TENANT)
        );
        // The payload of that row (what the record says happened) is
        // altered: its salted commitment no longer matches. (An altered
        // `record` column is caught too, but palisade-audit's `verify_store`
        // then names the next record, whose chain link breaks.)
        let rows = client
            .query(
                &format!("SELECT idx, record, sidecar FROM {table} ORDER BY idx"),
                &[],
            )
            .unwrap();
        for row in rows {
            let idx: i64 = row.get(0);
            let record: Vec<u8> = row.get(1);
            let mut sidecar: Vec<u8> = row.get(2);
            if record.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                *sidecar.last_mut().unwrap() ^= 0x20;
                let n = client
                    .execute(
                        &format!("UPDATE {table} SET sidecar = $1 WHERE idx = $2"),
                        &[&sidecar, &idx],
                    )
                    .unwrap();
                assert_eq!(n, 1);
                return;
            }
        }
        panic!("no audit row holds {needle}");
    }
    let mut pending = vec![server.app.audit_dir(TENANT)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let mut bytes = std::fs::read(&path).unwrap();
            if let Some(at) = bytes
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
            {
                bytes[at] ^= 0x20;
                std::fs::write(&path, bytes).unwrap();
                return;
            }
        }
    }
    panic!("no audit segment holds {needle}");
}

#[test]
fn sqlite_end_to_end() {
    let server = common::start(None);
    assert_eq!(server.app.engine(), "sqlite");
    scenario(&server);
}

#[test]
fn postgres_end_to_end() {
    let Some(pg) = palisade_testkit::Postgres::start_or_skip() else {
        return;
    };
    let server = common::start(Some(pg.url().to_owned()));
    assert_eq!(server.app.engine(), "postgresql");
    scenario(&server);
}

/// The same scenario over HTTPS (a development certificate the client
/// trusts): the session cookie is `Secure` with the `__Host-` prefix and
/// answers carry HSTS.
#[test]
fn https_end_to_end() {
    let server = common::start_tls();
    assert!(server.url.starts_with("https://"));
    let mut c = common::Browser::new(&server.url);
    let page = c.get("/");
    assert_eq!(page.status, 200);
    let hsts = page.headers.get("strict-transport-security").unwrap();
    assert!(hsts.to_str().unwrap().contains("max-age="), "{hsts:?}");
    scenario(&server);
}

/// Plain HTTP beside HTTPS answers every request with a permanent redirect
/// to the same path over HTTPS.
#[test]
fn plain_http_redirects_to_https() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    runtime.spawn(palisade_backoffice::redirect_to_https(
        listener,
        8443,
        std::future::pending(),
    ));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let answer = agent
        .get(format!("http://{address}/api/clients?offset=20"))
        .call()
        .unwrap();
    assert_eq!(answer.status(), 308);
    assert_eq!(
        answer.headers()["location"],
        format!("https://127.0.0.1:8443/api/clients?offset=20")
    );
}
