//! Regression tests for the holes an attacker found in the back office
//! (issue 15): each test reproduces one attack over real HTTP and checks that
//! the promise holds. The crates own the invariants (palisade-password's
//! attempt limiter, palisade-rbac's delegation rules, palisade-otp's step-up);
//! these tests check that the app composes them so that no route escapes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};

use common::{Browser, Server};
use palisade_backoffice::{Demo, DemoUser};
use serde_json::json;

/// Signs `user` of `tenant` in with password and the current TOTP code,
/// and steps up (sensitive actions need a recent proof).
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
    // Sensitive actions (rights, export) need a recent step-up.
    let a = c.post(
        "/api/step-up",
        json!({ "password": user.password.as_str() }),
    );
    assert_eq!(a.status, 200, "step-up of {}: {}", user.email, a.text);
    // The next sign-in of anyone gets a fresh TOTP step.
    server.app.clock().advance(30);
    c
}

fn demo(server: &Server, tenant: &str) -> Demo {
    server.app.seed_demo(tenant, 6).unwrap()
}

fn role<'d>(demo: &'d Demo, role: &str) -> &'d DemoUser {
    demo.user(role).unwrap()
}

/// The `(actor, action, outcome)` of every record of `tenant`'s audit log.
fn audit_records(server: &Server, tenant: &str) -> Vec<(String, String, String, String)> {
    let bundle = server.app.export_evidence(tenant, None, None).unwrap();
    let key = server.app.audit_key(tenant).unwrap();
    let report = bundle.verify(Some(&key)).expect("the audit log verifies");
    report
        .records
        .iter()
        .map(|r| {
            (
                r.actor().to_owned(),
                r.action().to_owned(),
                r.resource().to_owned(),
                format!("{:?}", r.outcome()),
            )
        })
        .collect()
}

// ---- 1. parallel password guesses ------------------------------------------------

/// Fires `n` wrong passwords for `email` at once; returns the count of each status.
fn burst(server: &Server, tenant: &str, email: &str, n: usize) -> BTreeMap<u16, usize> {
    let start = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (url, tenant, email, start) = (
                server.url.clone(),
                tenant.to_owned(),
                email.to_owned(),
                Arc::clone(&start),
            );
            std::thread::spawn(move || {
                let mut c = Browser::new(&url);
                start.wait();
                c.post(
                    "/api/login",
                    json!({ "tenant": tenant, "email": email, "password": format!("wrong-guess-{i}") }),
                )
                .status
            })
        })
        .collect();
    let mut counts = BTreeMap::new();
    for t in threads {
        *counts.entry(t.join().unwrap()).or_default() += 1;
    }
    counts
}

#[test]
fn parallel_password_guesses_meet_one_back_off() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let victim = role(&acme, "Operator");
    let free = usize::try_from(palisade_backoffice::PASSWORD_FREE_ATTEMPTS).unwrap();
    // One second of back-off must hold during the burst, however long the
    // machine takes to answer 200 requests.
    server.app.clock().freeze();
    for round in 0..20 {
        let known = burst(&server, "acme", &victim.email, 200);
        let evaluated = known.get(&401).copied().unwrap_or(0);
        assert!(
            evaluated <= free + 1,
            "round {round}: {evaluated} guesses evaluated, at most {} allowed: {known:?}",
            free + 1
        );
        assert_eq!(
            known.values().sum::<usize>(),
            200,
            "round {round}: every guess answered: {known:?}"
        );
        assert!(
            known.keys().all(|s| [401, 429].contains(s)),
            "round {round}: {known:?}"
        );
        let mut c = Browser::new(&server.url);
        let right = c.post(
            "/api/login",
            json!({ "tenant": "acme", "email": victim.email, "password": victim.password.as_str() }),
        );
        assert_eq!(
            right.status, 429,
            "round {round}: the right password is refused while the back-off holds: {}",
            right.text
        );
        // An unknown account answers the same burst alike.
        let unknown = burst(
            &server,
            "acme",
            &format!("nobody-{round}@acme.example"),
            200,
        );
        assert_eq!(
            unknown.keys().collect::<Vec<_>>(),
            known.keys().collect::<Vec<_>>(),
            "round {round}: known {known:?} vs unknown {unknown:?}"
        );
        assert!(
            unknown.get(&401).copied().unwrap_or(0) <= free + 1,
            "{unknown:?}"
        );
        // Past the longest back-off the right password works and resets it.
        server.app.clock().advance(3600);
        let ok = c.post(
            "/api/login",
            json!({ "tenant": "acme", "email": victim.email, "password": victim.password.as_str() }),
        );
        assert_eq!(ok.status, 200, "round {round}: {}", ok.text);
    }
}

#[test]
fn password_spraying_from_one_address_is_throttled() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    // One wrong guess for each of many accounts: no account reaches its own
    // limit, the address does.
    let mut c = Browser::new(&server.url);
    let statuses: Vec<u16> = (0..200)
        .map(|i| {
            c.post(
                "/api/login",
                json!({ "tenant": "acme", "email": format!("user-{i}@acme.example"), "password": "Spring2026!" }),
            )
            .status
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    let owner = role(&acme, "Administrator");
    let blocked = c.post(
        "/api/login",
        json!({ "tenant": "acme", "email": owner.email, "password": owner.password.as_str() }),
    );
    assert_eq!(blocked.status, 429, "the address is backing off");
}

// ---- 2 and 7. administration does not escalate ------------------------------------

#[test]
fn a_manager_cannot_strip_the_owner() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let owner = role(&acme, "Administrator");
    let manager = role(&acme, "Manager");
    let mut max = sign_in(&server, "acme", manager);
    let a = max.put(
        &format!("/api/users/{}/rights", owner.id),
        json!({ "deny": ["*"] }),
    );
    assert_eq!(a.status, 403, "{}", a.text);
    for change in [
        json!({ "deny": ["Client:export"] }),
        json!({ "fields": { "Client.phone": "hidden" } }),
        json!({ "deny": ["Account:set_rights"] }),
    ] {
        let a = max.put(&format!("/api/users/{}/rights", owner.id), change.clone());
        assert_eq!(a.status, 403, "{change}: {}", a.text);
    }
    let mut olivia = sign_in(&server, "acme", owner);
    assert_eq!(olivia.get("/api/clients").status, 200);
    assert_eq!(olivia.get("/api/clients/export").status, 200);
    let list = olivia.get("/api/clients").json();
    assert!(
        list["clients"][0]["phone"]
            .as_str()
            .is_some_and(|p| !p.contains("XX")),
        "the owner still sees phones: {list}"
    );
}

#[test]
fn administration_does_not_escalate() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let owner = role(&acme, "Administrator");
    let manager = role(&acme, "Manager");
    let operator = role(&acme, "Operator");
    let mut olivia = sign_in(&server, "acme", owner);
    let mut max = sign_in(&server, "acme", manager);

    // A Manager does not create an Administrator.
    let a = max.post("/api/users", json!({ "email": "eve@acme.example", "name": "Eve", "role": "Administrator", "password": "amber-falcon-river-2231" }));
    assert_eq!(a.status, 403, "{}", a.text);

    // The owner restricts the Manager; the Manager cannot lift it …
    let a = olivia.put(
        &format!("/api/users/{}/rights", manager.id),
        json!({ "deny": ["Client:export"], "fields": { "Client.phone": "masked" } }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(max.get("/api/clients/export").status, 403);
    let a = max.put(
        &format!("/api/users/{}/rights", manager.id),
        json!({ "fields": { "Client.phone": "visible" } }),
    );
    assert_eq!(a.status, 403, "nobody changes their own rights: {}", a.text);
    let a = max.delete(&format!(
        "/api/users/{}/rights/deny/Client:export",
        manager.id
    ));
    assert_eq!(a.status, 403, "{}", a.text);
    // … nor escape it through a fresh Manager.
    let a = max.post("/api/users", json!({ "email": "mallory@acme.example", "name": "Mallory", "role": "Manager", "password": "amber-falcon-river-2232" }));
    assert_eq!(
        a.status, 403,
        "a user with rights the creator lacks: {}",
        a.text
    );
    let list = max.get("/api/clients").json();
    assert!(list["clients"][0]["phone"].as_str().unwrap().contains("XX"));

    // A Manager may still create an Operator (rights it holds, a role it outranks).
    let a = max.post("/api/users", json!({ "email": "oscar@acme.example", "name": "Oscar", "role": "Operator", "password": "amber-falcon-river-2233" }));
    assert_eq!(a.status, 201, "{}", a.text);
    // A grant of a right the Manager lacks is refused.
    let a = max.put(
        &format!("/api/users/{}/rights", operator.id),
        json!({ "grant": ["Client:export"] }),
    );
    assert_eq!(a.status, 403, "{}", a.text);

    // The owner removes the deny and the mask.
    let a = olivia.delete(&format!(
        "/api/users/{}/rights/deny/Client:export",
        manager.id
    ));
    assert_eq!(a.status, 200, "{}", a.text);
    let a = olivia.delete(&format!(
        "/api/users/{}/rights/fields/Client.phone",
        manager.id
    ));
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(max.get("/api/clients/export").status, 200);
}

// ---- 3. nested data ----------------------------------------------------------------

#[test]
fn nested_values_follow_their_own_policy() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let with_invoice = acme.clients[0].clone();
    for user in &acme.users {
        let mut c = sign_in(&server, "acme", user);
        let me = c.get("/api/me").json();
        let may = |right: &str| {
            me["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == right)
        };
        let client = c.get(&format!("/api/clients/{with_invoice}"));
        assert_eq!(client.status, 200, "{}: {}", user.role, client.text);
        let client = client.json();
        assert_eq!(
            client.get("invoices").is_some(),
            may("Invoice:read"),
            "{}: invoices follow Invoice:read: {client}",
            user.role
        );
        assert_eq!(
            client.get("attachments").is_some(),
            may("Attachment:read"),
            "{}: attachments follow Attachment:read: {client}",
            user.role
        );
    }
    // A user denied Attachment:read sees none.
    let owner = role(&acme, "Administrator");
    let operator = role(&acme, "Operator");
    let mut olivia = sign_in(&server, "acme", owner);
    let a = olivia.put(
        &format!("/api/users/{}/rights", operator.id),
        json!({ "deny": ["Attachment:read"] }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let mut otto = sign_in(&server, "acme", operator);
    let client = otto.get(&format!("/api/clients/{with_invoice}")).json();
    assert!(client.get("attachments").is_none(), "{client}");
    assert!(client.get("invoices").is_none(), "{client}");
}

// ---- 4. a masked phone cannot be recovered by search ---------------------------------

#[test]
fn a_masked_phone_cannot_be_recovered_by_search() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let operator = role(&acme, "Operator");
    let mut otto = sign_in(&server, "acme", operator);
    let real = acme.phones[2].clone();
    let digits: String = real.chars().filter(char::is_ascii_digit).collect();
    let mut confirmed = 0;
    for guess in 0..300 {
        // The real number is among the guesses.
        let phone = if guess == 150 {
            real.clone()
        } else {
            format!("+48 601 {:03} {:03}", guess % 1000, (guess * 7) % 1000)
        };
        let a = otto.post("/api/clients/search", json!({ "phone": phone }));
        assert!(
            [403, 429].contains(&a.status),
            "guess {guess}: {} {}",
            a.status,
            a.text
        );
        if a.text.contains(&acme.clients[2]) || a.text.contains(&digits) {
            confirmed += 1;
        }
    }
    assert_eq!(confirmed, 0, "an operator confirmed a masked number");
    // Someone who sees phones may search, but not without limit; every
    // search is audited.
    let supervisor = role(&acme, "Operator supervisor");
    let mut sofia = sign_in(&server, "acme", supervisor);
    let found = sofia.post("/api/clients/search", json!({ "phone": real }));
    assert_eq!(found.status, 200, "{}", found.text);
    assert!(found.text.contains(&acme.clients[2]));
    let statuses: Vec<u16> = (0..100)
        .map(|i| {
            sofia
                .post(
                    "/api/clients/search",
                    json!({ "phone": format!("+48 600 000 {i:03}") }),
                )
                .status
        })
        .collect();
    assert!(
        statuses.contains(&429),
        "searches rate-limited: {statuses:?}"
    );
    let records = audit_records(&server, "acme");
    let searches = |actor: &str| {
        records
            .iter()
            .filter(|(a, action, _, _)| a == actor && action == "client.search")
            .count()
    };
    assert_eq!(searches(&operator.id), 300, "every refused search audited");
    assert_eq!(searches(&supervisor.id), 101, "every search audited");
}

// ---- 5. 2FA cannot be replaced from a stolen session -------------------------------------

#[test]
fn a_stolen_session_cannot_replace_the_second_factor() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let operator = role(&acme, "Operator");
    // The thief holds a session cookie, not the password: a session whose
    // sign-in was not followed by a step-up.
    let mut thief = Browser::new(&server.url);
    thief.post(
        "/api/login",
        json!({ "tenant": "acme", "email": operator.email, "password": operator.password.as_str() }),
    );
    let code = operator.code_at(server.app.clock().now()).unwrap();
    assert_eq!(
        thief
            .post("/api/login/second-factor", json!({ "code": code.as_str() }))
            .status,
        200
    );
    server.app.clock().advance(30);
    for proof in [
        json!({}),
        json!({ "password": "not-the-password" }),
        json!({ "code": "000000" }),
    ] {
        let a = thief.post("/api/totp/enroll", proof.clone());
        assert!(
            [401, 403].contains(&a.status),
            "{proof}: {} {}",
            a.status,
            a.text
        );
        assert!(!a.text.contains("secret"), "{}", a.text);
    }
    let a = thief.post("/api/totp/confirm", json!({ "code": "123456" }));
    assert!([400, 401, 403].contains(&a.status), "{}", a.text);
    // The owner of the account, with the password, may replace it.
    let a = thief.post(
        "/api/totp/enroll",
        json!({ "password": operator.password.as_str() }),
    );
    assert_eq!(a.status, 200, "step-up with the password: {}", a.text);
    let secret = a.json()["secret"].as_str().unwrap().to_owned();
    let totp = palisade_otp::Totp::new(palisade_otp::Secret::from_base32(&secret).unwrap());
    let now = u64::try_from(server.app.clock().now()).unwrap();
    let a = thief.post(
        "/api/totp/confirm",
        json!({ "code": totp.code_at(now).as_str() }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(
        audit_records(&server, "acme")
            .iter()
            .any(|(actor, action, _, _)| actor == &operator.id && action == "auth.totp_enrolled")
    );
}

// ---- 6. accounts are per tenant ---------------------------------------------------------

#[test]
fn accounts_are_per_tenant_and_do_not_reveal_other_tenants() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let globex = demo(&server, "globex");
    let acme_operator = role(&acme, "Operator");
    // Globex's owner adds an employee whose address acme uses: no 409, no hint.
    let mut gina = sign_in(&server, "globex", role(&globex, "Administrator"));
    let a = gina.post("/api/users", json!({ "email": acme_operator.email, "name": "Otto Twin", "role": "Operator", "password": "amber-falcon-river-3341" }));
    assert_eq!(a.status, 201, "{}", a.text);
    // Sign-up with an address registered in another tenant.
    let mut founder = Browser::new(&server.url);
    let a = founder.post("/api/signup", json!({ "tenant": "initech", "company": "Initech", "name": "Otto", "email": acme_operator.email, "password": "amber-falcon-river-3342" }));
    assert_eq!(a.status, 201, "{}", a.text);
    // Each tenant's account signs in with its own password.
    let mut c = Browser::new(&server.url);
    let a = c.post(
        "/api/login",
        json!({ "tenant": "acme", "email": acme_operator.email, "password": acme_operator.password.as_str() }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let a = c.post(
        "/api/login",
        json!({ "tenant": "globex", "email": acme_operator.email, "password": acme_operator.password.as_str() }),
    );
    assert_eq!(a.status, 401, "another tenant's password: {}", a.text);
    let a = c.post(
        "/api/login",
        json!({ "tenant": "globex", "email": acme_operator.email, "password": "amber-falcon-river-3341" }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    // Unknown tenant, unknown address and wrong password answer alike.
    let answers: Vec<(u16, String)> = [
        ("nosuch", acme_operator.email.as_str(), "x-wrong-password-1"),
        ("acme", "nobody@acme.example", "x-wrong-password-1"),
        ("acme", acme_operator.email.as_str(), "x-wrong-password-1"),
    ]
    .iter()
    .map(|(t, e, p)| {
        let a = Browser::new(&server.url).post(
            "/api/login",
            json!({ "tenant": t, "email": e, "password": p }),
        );
        (a.status, a.text)
    })
    .collect();
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
}

// ---- 8. concurrent sign-ups ---------------------------------------------------------------

#[test]
fn concurrent_sign_ups_leave_one_tenant_with_one_owner() {
    let server = common::start(None);
    let racers = 50;
    let start = Arc::new(Barrier::new(racers));
    let threads: Vec<_> = (0..racers)
        .map(|i| {
            let (url, start) = (server.url.clone(), Arc::clone(&start));
            std::thread::spawn(move || {
                let mut c = Browser::new(&url);
                start.wait();
                let a = c.post("/api/signup", json!({ "tenant": "racer", "company": "Racer", "name": format!("Racer {i}"), "email": format!("racer{i}@racer.example"), "password": format!("amber-falcon-river-{i}-x") }));
                (i, a.status)
            })
        })
        .collect();
    let results: Vec<(usize, u16)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let winners: Vec<usize> = results
        .iter()
        .filter(|(_, s)| *s == 201)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results.iter().all(|(_, s)| [201, 409].contains(s)),
        "{results:?}"
    );
    // The losers have no account anywhere (their sign-ins fail: 401, or
    // 429 once this address has failed too often).
    for (i, _) in results.iter().filter(|(i, _)| *i != winners[0]) {
        let a = Browser::new(&server.url).post(
            "/api/login",
            json!({ "tenant": "racer", "email": format!("racer{i}@racer.example"), "password": format!("amber-falcon-river-{i}-x") }),
        );
        assert!(
            [401, 429].contains(&a.status),
            "loser {i} has an account: {}",
            a.text
        );
    }
    server.app.clock().advance(3600);
    let w = winners[0];
    assert_eq!(server.app.user_count("racer").unwrap(), 1);
    let a = Browser::new(&server.url).post(
        "/api/login",
        json!({ "tenant": "racer", "email": format!("racer{w}@racer.example"), "password": format!("amber-falcon-river-{w}-x") }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
}

// ---- 9. a locked factor can be unlocked ----------------------------------------------------

#[test]
fn an_administrator_unlocks_a_locked_factor() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let operator = role(&acme, "Operator");
    let mut c = Browser::new(&server.url);
    let password_step = |c: &mut Browser| {
        let a = c.post(
            "/api/login",
            json!({ "tenant": "acme", "email": operator.email, "password": operator.password.as_str() }),
        );
        assert_eq!(a.status, 200, "{}", a.text);
    };
    password_step(&mut c);
    let mut locked = false;
    for _ in 0..1000 {
        let a = c.post("/api/login/second-factor", json!({ "code": "000000" }));
        match a.status {
            429 => server
                .app
                .clock()
                .advance(a.json()["retry_after"].as_i64().unwrap() + 1),
            401 if a.text.contains("locked") => {
                locked = true;
                break;
            }
            401 if a.text.contains("sign in") => password_step(&mut c),
            401 => {}
            other => panic!("{other} {}", a.text),
        }
    }
    assert!(locked, "the factor locks after 100 failures");
    let code = operator.code_at(server.app.clock().now()).unwrap();
    let a = c.post("/api/login/second-factor", json!({ "code": code.as_str() }));
    assert_eq!(a.status, 401, "locked: {}", a.text);
    // The operator (or a thief with the password) cannot unlock it.
    let mut olivia = sign_in(&server, "acme", role(&acme, "Administrator"));
    let a = olivia.post(
        &format!("/api/users/{}/second-factor/unlock", operator.id),
        json!({}),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    server.app.clock().advance(30);
    let mut again = Browser::new(&server.url);
    password_step(&mut again);
    let code = operator.code_at(server.app.clock().now()).unwrap();
    let a = again.post("/api/login/second-factor", json!({ "code": code.as_str() }));
    assert_eq!(a.status, 200, "unlocked: {}", a.text);
    assert!(
        audit_records(&server, "acme")
            .iter()
            .any(|(_, action, resource, _)| action == "account.unlock_factor"
                && resource.contains(&operator.id))
    );
}

// ---- 10. the smaller holes ------------------------------------------------------------------

#[test]
fn cross_site_requests_are_refused() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let owner = role(&acme, "Administrator");
    let operator = role(&acme, "Operator");
    let mut olivia = sign_in(&server, "acme", owner);
    for headers in [
        &[("Origin", "https://evil.example")][..],
        &[("Sec-Fetch-Site", "cross-site")][..],
        &[("Sec-Fetch-Site", "same-site")][..],
    ] {
        let a = olivia.send_with(
            "POST",
            &format!("/api/users/{}/block", operator.id),
            json!({}),
            headers,
        );
        assert_eq!(a.status, 403, "{headers:?}: {}", a.text);
        let a = olivia.send_with("POST", "/api/logout", json!({}), headers);
        assert_eq!(a.status, 403, "{headers:?}: {}", a.text);
    }
    let mut otto = sign_in(&server, "acme", operator);
    assert_eq!(otto.get("/api/clients").status, 200, "not blocked");
    let same = server.url.clone();
    let a = olivia.send_with(
        "POST",
        &format!("/api/users/{}/block", operator.id),
        json!({}),
        &[("Origin", same.as_str()), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(a.status, 200, "{}", a.text);
}

#[test]
fn exports_neutralise_formulas_and_phones_are_validated() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let mut olivia = sign_in(&server, "acme", role(&acme, "Administrator"));
    let a = olivia.post(
        "/api/clients",
        json!({ "name": "Mallory", "phone": "+4860123 +cmd|'/C calc'!A0", "email": "m@evil.example" }),
    );
    assert_eq!(a.status, 400, "{}", a.text);
    for name in ["Tab\there", "\rCR", "nul\u{0}"] {
        let a = olivia.post(
            "/api/clients",
            json!({ "name": name, "phone": "+48 601 555 000", "email": "f@ok.example" }),
        );
        assert_eq!(a.status, 400, "{name:?}: {}", a.text);
    }
    for name in ["=1+2", "+SUM(A1)", "-2+3", "@SUM(A1)"] {
        let a = olivia.post(
            "/api/clients",
            json!({ "name": name, "phone": "+48 601 555 000", "email": "f@ok.example" }),
        );
        assert_eq!(a.status, 201, "{name:?}: {}", a.text);
    }
    let csv = olivia.get("/api/clients/export");
    assert_eq!(csv.status, 200);
    for line in csv.text.lines().skip(1) {
        for cell in line.split("\",\"") {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "formula cell `{cell}` in {line}"
            );
        }
    }
}

#[test]
fn recovery_code_guessing_is_throttled() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let senior = role(&acme, "Senior operator");
    let mut c = Browser::new(&server.url);
    let a = c.post(
        "/api/login",
        json!({ "tenant": "acme", "email": senior.email, "password": senior.password.as_str() }),
    );
    assert_eq!(a.status, 200);
    // The back-off is counted in whole seconds: frozen, the clock cannot
    // let a 1 s back-off run out between the guesses and the right code
    // (on a loaded machine 30 requests may take longer than that).
    server.app.clock().freeze();
    let statuses: Vec<u16> = (0..30)
        .map(|i| {
            c.post(
                "/api/login/second-factor",
                json!({ "recovery_code": format!("wrong-{i:04}") }),
            )
            .status
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    let a = c.post(
        "/api/login/second-factor",
        json!({ "recovery_code": senior.recovery_code.as_str() }),
    );
    assert_eq!(
        a.status, 429,
        "the right code waits for the back-off: {}",
        a.text
    );
    // Once the back-off has run out, the right code is taken: the refusals
    // above were the back-off, not a lock.
    server.app.clock().advance(15 * 60 + 1);
    let a = c.post(
        "/api/login/second-factor",
        json!({ "recovery_code": senior.recovery_code.as_str() }),
    );
    assert_eq!(a.status, 200, "after the back-off: {}", a.text);
}

#[test]
fn probes_of_other_tenants_are_audited() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let globex = demo(&server, "globex");
    let gina = role(&globex, "Administrator");
    let mut c = sign_in(&server, "globex", gina);
    let victim = &acme.clients[1];
    assert_eq!(c.get(&format!("/api/clients/{victim}")).status, 404);
    assert_eq!(
        c.put(&format!("/api/clients/{victim}"), json!({ "name": "x" }))
            .status,
        404
    );
    let records = audit_records(&server, "globex");
    let probes: Vec<_> = records
        .iter()
        .filter(|(actor, _, resource, outcome)| {
            actor == &gina.id && resource.contains(victim.as_str()) && outcome != "Success"
        })
        .collect();
    assert_eq!(probes.len(), 2, "{records:?}");
    // The probed tenant sees it too, without learning who beyond the id.
    let records = audit_records(&server, "acme");
    assert!(
        records
            .iter()
            .any(|(_, action, resource, _)| action.ends_with("cross_tenant")
                && resource.contains(victim.as_str())),
        "{records:?}"
    );
}

#[test]
fn hold_reasons_and_amounts_are_validated() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let mut olivia = sign_in(&server, "acme", role(&acme, "Administrator"));
    let a = olivia.put(
        &format!("/api/attachments/{}/hold", acme.held_attachment),
        json!({ "hold": "x".repeat(1 << 20) }),
    );
    assert_eq!(a.status, 400, "a 1 MB hold reason: {}", a.text);
    let a = olivia.put(
        &format!("/api/attachments/{}/hold", acme.held_attachment),
        json!({ "hold": "case\u{0}7" }),
    );
    assert_eq!(a.status, 400, "control characters: {}", a.text);
    for amount in [i64::MIN, -1, 0, i64::MAX] {
        let a = olivia.post(
            &format!("/api/clients/{}/invoices", acme.clients[0]),
            json!({ "amount_cents": amount }),
        );
        assert_eq!(a.status, 400, "amount {amount}: {}", a.text);
    }
    let a = olivia.post(
        &format!("/api/clients/{}/invoices", acme.clients[0]),
        json!({ "amount_cents": 12_345 }),
    );
    assert_eq!(a.status, 201, "{}", a.text);
}

#[cfg(unix)]
#[test]
fn data_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let _ = sign_in(&server, "acme", role(&acme, "Administrator"));
    let data = server.app.data_dir().to_owned();
    let mut pending = vec![data];
    let mut seen = 0;
    while let Some(path) = pending.pop() {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        if path.is_dir() {
            assert_eq!(mode, 0o700, "{} is {mode:o}", path.display());
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 4, "database, keyring, audit segments: {seen} files");
}

/// `palisade-backoffice serve --behind-tls-proxy`, run as an operator
/// would: the session cookie carries `Secure` and answers carry HSTS.
#[test]
fn the_session_cookie_is_secure_behind_a_tls_proxy() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_palisade-backoffice"))
        .args([
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--demo",
            "acme",
        ])
        .arg("--behind-tls-proxy")
        .arg("--data")
        .arg(dir.path().join("data"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // What the server says on its error stream, kept to explain a failed start.
    let mut stderr = child.stderr.take().unwrap();
    let said = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    let mut login = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Palisade back office on ") {
            url = Some(rest.trim_end_matches('/').to_owned());
        }
        if line.contains("olivia@acme.example") {
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "password").unwrap();
            login = Some(words[at + 1].to_owned());
        }
        if line.contains("Ctrl-C") {
            break;
        }
    }
    let (Some(url), Some(password)) = (url, login) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server did not start: {}", said.join().unwrap());
    };
    let mut c = Browser::new(&url);
    let a = c.post(
        "/api/login",
        json!({ "tenant": "acme", "email": "olivia@acme.example", "password": password }),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(a.status, 200, "{}", a.text);
    let cookie = c.last_set_cookie.clone().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
}

/// Rights changes and the export need a step-up younger than five minutes:
/// a stolen session cookie alone cannot change rights or take the list.
#[test]
fn sensitive_actions_need_a_recent_step_up() {
    let server = common::start(None);
    let acme = demo(&server, "acme");
    let owner = role(&acme, "Administrator");
    let operator = role(&acme, "Operator");
    let mut c = Browser::new(&server.url);
    c.post(
        "/api/login",
        json!({ "tenant": "acme", "email": owner.email, "password": owner.password.as_str() }),
    );
    let code = owner.code_at(server.app.clock().now()).unwrap();
    let a = c.post("/api/login/second-factor", json!({ "code": code.as_str() }));
    assert_eq!(a.status, 200, "{}", a.text);
    let change = json!({ "deny": ["Attachment:create"] });
    let rights = format!("/api/users/{}/rights", operator.id);
    let a = c.put(&rights, change.clone());
    assert_eq!(a.status, 403, "{}", a.text);
    assert!(a.text.contains("step-up"), "{}", a.text);
    assert_eq!(c.get("/api/clients/export").status, 403);
    let a = c.post("/api/step-up", json!({ "password": "not-the-password" }));
    assert_eq!(a.status, 401, "{}", a.text);
    let a = c.post(
        "/api/step-up",
        json!({ "password": owner.password.as_str() }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(c.put(&rights, change.clone()).status, 200);
    assert_eq!(c.get("/api/clients/export").status, 200);
    server.app.clock().advance(301);
    assert_eq!(c.put(&rights, change).status, 403, "the step-up expired");
}
