//! "Sign in with your company account" against a real OpenID Provider
//! (panva's oidc-provider on loopback, started by palisade-sso's test
//! harness): the administrator configures the tenant's provider through the
//! API, staff sign in through the provider's login page (over HTTP with a
//! cookie-keeping client, and once in headless Chromium), get the role
//! their groups map to, or the TOTP step when the provider proved no second
//! factor; refusals open no session and are in the tenant's audit log.
//!
//! Each test has a back office of its own (tests move its clock), on a port
//! bound before the provider starts, so that the provider knows each one's
//! redirect URI. Skipped with a reason without Node.js (or Chromium for the
//! browser test), unless `PALISADE_CI` is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

mod common;
#[path = "../../../crates/palisade-sso/tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::Server;
use palisade_audit::{Outcome, Record};
use palisade_backoffice::{Backoffice, Config, Demo, DemoUser};
use palisade_sso::Url;
use serde_json::{Value, json};

/// The back offices, each with the tenants whose clients the provider knows.
const SLOTS: [(&str, &[&str]); 7] = [
    ("map", &["acme"]),
    ("postgres", &["acme"]),
    ("logout", &["acme"]),
    ("totp", &["acme"]),
    ("refuse", &["acme", "globex"]),
    ("admin", &["acme", "globex"]),
    ("browser", &["acme"]),
];

/// The provider and the ports reserved for the back offices.
struct Env {
    op: support::Op,
    listeners: Mutex<HashMap<&'static str, std::net::TcpListener>>,
    urls: HashMap<&'static str, String>,
}

fn user(email: &str, groups: &[&str], amr: &[&str]) -> Value {
    json!({ "email": email, "email_verified": true, "name": email, "groups": groups, "amr": amr })
}

fn env() -> Option<&'static Env> {
    static ENV: OnceLock<Option<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let dir = support::provider_dir()?;
        let mut listeners = HashMap::new();
        let mut urls = HashMap::new();
        let mut clients = Vec::new();
        for (slot, tenants) in SLOTS {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            for tenant in tenants {
                clients.push(json!({
                    "client_id": format!("bo-{slot}-{tenant}"),
                    "client_secret": format!("secret-{slot}-{tenant}"),
                    "redirect_uris": [format!("{url}/api/sso/callback")],
                    "post_logout_redirect_uris": [format!("{url}/")],
                    "backchannel_logout_uri": format!("{url}/api/sso/{tenant}/backchannel-logout"),
                    "backchannel_logout_session_required": true,
                }));
            }
            listeners.insert(slot, listener);
            urls.insert(slot, url);
        }
        let mut users = serde_json::Map::new();
        users.insert("mia".into(), {
            let mut u = user("mia@acme.example", &["managers"], &["pwd", "otp"]);
            u["acr"] = json!("mfa");
            u
        });
        // Another account at the provider with mia's address (a reused address).
        users.insert(
            "mia-again".into(),
            user("mia@acme.example", &["managers"], &["pwd", "otp"]),
        );
        users.insert(
            "olivia".into(),
            user("olivia@acme.example", &["support"], &["pwd", "otp"]),
        );
        // The demo Operator, who proves a password only at the provider.
        users.insert(
            "otto".into(),
            user("otto@acme.example", &["support"], &["pwd"]),
        );
        users.insert(
            "nina".into(),
            user("nina@acme.example", &["support"], &["pwd"]),
        );
        users.insert(
            "dave".into(),
            user("dave@evil.example", &["support"], &["pwd", "otp"]),
        );
        users.insert(
            "gina".into(),
            user("gina@globex.example", &["support"], &["pwd", "otp"]),
        );
        users.insert(
            "carl".into(),
            user("carl@acme.example", &["support"], &["pwd", "hwk"]),
        );
        let op = support::start_provider(
            &dir,
            "backoffice-sso",
            &json!({ "clients": clients, "users": users }),
        )
        .ready();
        Some(Env {
            op,
            listeners: Mutex::new(listeners),
            urls,
        })
    })
    .as_ref()
}

/// The back office of `slot` on its reserved port, its public URL that port.
fn serve(env: &Env, slot: &str) -> Server {
    serve_on(env, slot, None)
}

/// The same, on PostgreSQL at `database_url` when given.
fn serve_on(env: &Env, slot: &str, database_url: Option<String>) -> Server {
    common::logs();
    let listener = env.listeners.lock().unwrap().remove(slot).unwrap();
    let url = env.urls[slot].clone();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("data"));
    config.public_url = Some(url.clone());
    config.database_url = database_url;
    let app = Arc::new(Backoffice::open(config).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    listener.set_nonblocking(true).unwrap();
    let listener = runtime
        .block_on(async { tokio::net::TcpListener::from_std(listener) })
        .unwrap();
    runtime.spawn(palisade_backoffice::serve(
        Arc::clone(&app),
        listener,
        std::future::pending(),
    ));
    Server {
        runtime,
        url,
        app,
        dir,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The provider settings of `tenant` at the back office of `slot`.
fn settings(env: &Env, slot: &str, tenant: &str) -> Value {
    json!({
        "issuer": env.op.issuer,
        "client_id": format!("bo-{slot}-{tenant}"),
        "client_secret": format!("secret-{slot}-{tenant}"),
        "scopes": ["email", "profile", "groups"],
        "allowed_email_domains": [format!("{tenant}.example")],
        "jit": "provision",
        "roles": [
            { "claim": "groups", "value": "managers", "role": "Manager" },
            { "claim": "groups", "value": "support", "role": "Operator" },
        ],
    })
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Signs `user` in with password and TOTP (and a step-up when asked); the
/// clock then moves to the next TOTP step, as codes are single-use.
async fn password_sign_in(
    server: &Server,
    browser: &reqwest::Client,
    tenant: &str,
    user: &DemoUser,
    step_up: bool,
) {
    let url = &server.url;
    let r = browser
        .post(format!("{url}/api/login"))
        .json(&json!({ "tenant": tenant, "email": user.email, "password": user.password.as_str() }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let code = user.code_at(server.app.clock().now()).unwrap();
    let r = browser
        .post(format!("{url}/api/login/second-factor"))
        .json(&json!({ "code": code.as_str() }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    if step_up {
        let r = browser
            .post(format!("{url}/api/step-up"))
            .json(&json!({ "password": user.password.as_str() }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    server.app.clock().advance(30);
}

/// The owner of `tenant` configures its provider.
async fn configure(env: &Env, server: &Server, slot: &str, demo: &Demo) -> reqwest::Client {
    let owner = support::browser();
    password_sign_in(
        server,
        &owner,
        &demo.tenant,
        demo.user("Administrator").unwrap(),
        true,
    )
    .await;
    let r = owner
        .put(format!("{}/api/sso", server.url))
        .json(&settings(env, slot, &demo.tenant))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains("secret-"),
        "the secret is never shown: {body}"
    );
    owner
}

/// Begins a single sign-on at the back office and signs in as `user` on the
/// provider's login page; returns the URL the provider sends the browser
/// back to, not yet opened.
async fn at_provider(browser: &reqwest::Client, bo: &str, tenant: &str, user: &str) -> String {
    let start = browser
        .get(format!("{bo}/api/sso/{tenant}/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303, "{}", start.text().await.unwrap());
    let set_cookie = start.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.starts_with("bo_sso=")
            && set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Lax")
            && set_cookie.contains("Max-Age=600"),
        "{set_cookie}"
    );
    let mut url = Url::parse(&location(&start)).unwrap();
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["redirect_uri"], format!("{bo}/api/sso/callback"));
    let mut logged_in = false;
    for _ in 0..10 {
        let response = browser.get(url.clone()).send().await.unwrap();
        let status = response.status();
        if status.is_success() && url.path().starts_with("/interaction/") && !logged_in {
            let action = url.join(&format!("{}/login", url.path())).unwrap();
            let r = browser
                .post(action.clone())
                .form(&[("login", user), ("password", "anything")])
                .send()
                .await
                .unwrap();
            assert!(r.status().is_redirection(), "login answered {}", r.status());
            url = action.join(&location(&r)).unwrap();
            logged_in = true;
            continue;
        }
        assert!(
            status.is_redirection(),
            "{url} answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
        let next = url.join(&location(&response)).unwrap();
        if next.as_str().starts_with(&format!("{bo}/api/sso/callback")) {
            return next.to_string();
        }
        url = next;
    }
    panic!("the provider did not send the browser back");
}

/// A whole single sign-on; returns the back office's answer to the callback.
async fn sso_sign_in(
    browser: &reqwest::Client,
    bo: &str,
    tenant: &str,
    user: &str,
) -> reqwest::Response {
    let callback = at_provider(browser, bo, tenant, user).await;
    browser.get(callback).send().await.unwrap()
}

/// A callback's answer that signed in: a redirect to the page, the session
/// cookie set and the sign-in's cookie cleared.
fn assert_signed_in(answer: &reqwest::Response) {
    assert_eq!(answer.status(), 303);
    assert_eq!(location(answer), "/");
    let cookies: Vec<&str> = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("bo_session=") && c.contains("SameSite=Strict")),
        "{cookies:?}"
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("bo_sso=;") && c.contains("Max-Age=0")),
        "{cookies:?}"
    );
}

async fn get_json(browser: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = browser.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The records of `tenant`'s audit log, verified.
fn records(server: &Server, tenant: &str) -> Vec<Record> {
    let bundle = server.app.export_evidence(tenant, None, None).unwrap();
    bundle.verify(None).unwrap().records
}

fn sso_records<'r>(records: &'r [Record], actor: &str) -> Vec<&'r Record> {
    records
        .iter()
        .filter(|r| r.action().starts_with("sso.") && r.actor() == actor)
        .collect()
}

#[test]
fn a_sign_in_gets_the_mapped_role_the_owner_keeps_theirs_and_the_session_ends_with_the_token() {
    let Some(env) = env() else { return };
    let server = serve(env, "map");
    let demo = server.app.seed_demo("acme", 0).unwrap();
    let owner_id = demo.user("Administrator").unwrap().id.clone();
    let url = server.url.clone();
    runtime().block_on(async {
        let owner = configure(env, &server, "map", &demo).await;
        let (status, view) = get_json(&owner, &format!("{url}/api/sso")).await;
        assert_eq!(status, 200);
        assert_eq!(view["configured"], true);
        assert_eq!(view["client_secret_set"], true);
        assert_eq!(view["redirect_uri"], format!("{url}/api/sso/callback"));
        assert_eq!(view["sign_in_url"], format!("{url}/api/sso/acme/start"));
        assert_eq!(view["provider"]["client_id"], "bo-map-acme");
        assert!(view["provider"].get("client_secret").is_none(), "{view}");

        // Mia has no account: provisioned with the role `managers` maps to.
        let mia = support::browser();
        let answer = sso_sign_in(&mia, &url, "acme", "mia").await;
        assert_signed_in(&answer);
        let (status, me) = get_json(&mia, &format!("{url}/api/me")).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(
            (me["role"].as_str(), me["stage"].as_str()),
            (Some("Manager"), Some("ok"))
        );
        assert_eq!(me["email"], "mia@acme.example");
        let mia_id = me["user"].as_str().unwrap().to_owned();
        // The policy gives her a Manager's rights: she lists the employees.
        let (status, users) = get_json(&mia, &format!("{url}/api/users")).await;
        assert_eq!(status, 200, "{users}");
        assert!(users.to_string().contains("mia@acme.example"));
        // A second sign-in finds her account by her subject: not provisioned again.
        let again = support::browser();
        assert_signed_in(&sso_sign_in(&again, &url, "acme", "mia").await);
        assert_eq!(
            get_json(&again, &format!("{url}/api/me")).await.1["user"],
            mia_id.as_str()
        );
        assert_eq!(server.app.user_count("acme").unwrap(), 6);

        // Olivia owns the tenant: her groups say Operator, she stays Administrator,
        // in her own (password) account, found by her verified e-mail address.
        let olivia = support::browser();
        assert_signed_in(&sso_sign_in(&olivia, &url, "acme", "olivia").await);
        let (_, me) = get_json(&olivia, &format!("{url}/api/me")).await;
        assert_eq!(me["role"], "Administrator", "{me}");
        assert_eq!(me["user"], owner_id.as_str());

        // Every sign-in and the provisioning are in the tenant's audit log.
        let log = records(&server, "acme");
        let mia_records = sso_records(&log, "oidc:mia");
        let actions: Vec<&str> = mia_records.iter().map(|r| r.action()).collect();
        assert_eq!(
            actions,
            ["sso.provision", "sso.sign_in", "sso.sign_in"],
            "{actions:?}"
        );
        assert_eq!(mia_records[0].payload().unwrap()["role"], "Manager");
        assert!(
            mia_records
                .iter()
                .all(|r| r.outcome() == Outcome::Success && r.tenant() == Some("acme"))
        );
        let olivia_records = sso_records(&log, "oidc:olivia");
        assert_eq!(olivia_records.len(), 1, "signed in, nothing provisioned");
        assert_eq!(
            olivia_records[0].payload().unwrap()["role"],
            "Administrator"
        );

        // Logging out of a single sign-on session names the provider's
        // end-session URL with the ID token as hint (RP-initiated logout).
        let r = again
            .post(format!("{url}/api/logout"))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        let logout = Url::parse(body["logout_url"].as_str().unwrap()).unwrap();
        assert!(
            logout
                .as_str()
                .starts_with(&format!("{}/session/end", env.op.issuer)),
            "{logout}"
        );
        let params: HashMap<String, String> = logout.query_pairs().into_owned().collect();
        assert!(params["id_token_hint"].split('.').count() == 3);
        assert_eq!(params["post_logout_redirect_uri"], format!("{url}/"));
        assert_eq!(
            get_json(&again, &format!("{url}/api/me")).await.0,
            401,
            "signed out here"
        );
        // A password session's logout names no provider.
        let r = owner
            .post(format!("{url}/api/logout"))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        assert!(body.get("logout_url").is_none(), "{body}");
        password_sign_in(
            &server,
            &owner,
            "acme",
            demo.user("Administrator").unwrap(),
            false,
        )
        .await;

        // The ID token lives 600 s at this provider: so do the sessions it
        // opened, while a password session goes on.
        server.app.clock().advance(600);
        assert_eq!(get_json(&mia, &format!("{url}/api/me")).await.0, 401);
        assert_eq!(get_json(&olivia, &format!("{url}/api/me")).await.0, 401);
        assert_eq!(get_json(&owner, &format!("{url}/api/me")).await.0, 200);
    });
}

/// On PostgreSQL the audit log is a store that blocks on a runtime of its
/// own: palisade-sso's records (written from the server's async handlers)
/// still reach the tenant's schema, and a sign-in works end to end.
#[test]
fn on_postgresql_a_sign_in_is_recorded_in_the_tenants_schema() {
    let Some(env) = env() else { return };
    let Some(pg) = palisade_testkit::Postgres::start_or_skip() else {
        return;
    };
    let server = serve_on(env, "postgres", Some(pg.url().to_owned()));
    assert_eq!(server.app.engine(), "postgresql");
    let demo = server.app.seed_demo("acme", 0).unwrap();
    let url = server.url.clone();
    runtime().block_on(async {
        configure(env, &server, "postgres", &demo).await;
        let mia = support::browser();
        assert_signed_in(&sso_sign_in(&mia, &url, "acme", "mia").await);
        let (_, me) = get_json(&mia, &format!("{url}/api/me")).await;
        assert_eq!(me["role"], "Manager", "{me}");
        let dave = support::browser();
        assert_eq!(sso_sign_in(&dave, &url, "acme", "dave").await.status(), 401);
    });
    let log = records(&server, "acme");
    let actions: Vec<(&str, Outcome)> = log
        .iter()
        .filter(|r| r.actor().starts_with("oidc:"))
        .map(|r| (r.action(), r.outcome()))
        .collect();
    assert_eq!(
        actions,
        [
            ("sso.provision", Outcome::Success),
            ("sso.sign_in", Outcome::Success),
            ("sso.sign_in", Outcome::Denied)
        ]
    );
    assert_eq!(
        server.app.verify_audit("acme").unwrap(),
        Ok(log.len() as u64)
    );
    drop(server);
    drop(pg);
}

#[test]
fn a_user_without_a_provider_proven_second_factor_is_sent_to_totp() {
    let Some(env) = env() else { return };
    let server = serve(env, "totp");
    let demo = server.app.seed_demo("acme", 0).unwrap();
    let otto = demo.user("Operator").unwrap();
    let url = server.url.clone();
    runtime().block_on(async {
        configure(env, &server, "totp", &demo).await;
        // Otto proved only a password at the provider (`amr: ["pwd"]`).
        let browser = support::browser();
        assert_signed_in(&sso_sign_in(&browser, &url, "acme", "otto").await);
        let (status, me) = get_json(&browser, &format!("{url}/api/me")).await;
        assert_eq!(status, 200);
        assert_eq!(
            (me["stage"].as_str(), me["role"].as_str()),
            (Some("totp"), Some("Operator"))
        );
        assert_eq!(me["user"], otto.id.as_str(), "his own account");
        // Not signed in yet.
        assert_eq!(
            get_json(&browser, &format!("{url}/api/clients")).await.0,
            401
        );
        let log = records(&server, "acme");
        let last = sso_records(&log, "oidc:otto").pop().unwrap();
        assert_eq!(
            last.payload().unwrap()["second_factor"],
            "local_totp_required"
        );

        // His TOTP code, as after a password.
        let code = otto.code_at(server.app.clock().now()).unwrap();
        let r = browser
            .post(format!("{url}/api/login/second-factor"))
            .json(&json!({ "code": code.as_str() }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (_, me) = get_json(&browser, &format!("{url}/api/me")).await;
        assert_eq!(me["stage"], "ok");
        assert_eq!(
            get_json(&browser, &format!("{url}/api/clients")).await.0,
            200
        );

        // Nina has no account: provisioned, and she must enroll a TOTP first.
        let nina = support::browser();
        assert_signed_in(&sso_sign_in(&nina, &url, "acme", "nina").await);
        let (_, me) = get_json(&nina, &format!("{url}/api/me")).await;
        assert_eq!(
            (me["stage"].as_str(), me["role"].as_str()),
            (Some("enroll"), Some("Operator"))
        );

        // The session the code completed still ends with the ID token.
        server.app.clock().advance(600);
        assert_eq!(get_json(&browser, &format!("{url}/api/me")).await.0, 401);
    });
}

#[test]
fn refused_sign_ins_open_no_session_and_are_audited() {
    let Some(env) = env() else { return };
    let server = serve(env, "refuse");
    let acme = server.app.seed_demo("acme", 0).unwrap();
    let globex = server.app.seed_demo("globex", 0).unwrap();
    let url = server.url.clone();
    runtime().block_on(async {
        let owner = configure(env, &server, "refuse", &acme).await;
        configure(env, &server, "refuse", &globex).await;

        // An e-mail domain the tenant does not allow.
        let dave = support::browser();
        let answer = sso_sign_in(&dave, &url, "acme", "dave").await;
        assert_eq!(answer.status(), 401);
        assert!(
            answer
                .headers()
                .get("set-cookie")
                .is_none_or(|c| !c.to_str().unwrap().starts_with("bo_session="))
        );
        let body = answer.text().await.unwrap();
        assert!(body.contains("email_domain_refused"), "{body}");
        assert!(
            !body.contains("evil.example"),
            "details stay in the log: {body}"
        );
        assert_eq!(get_json(&dave, &format!("{url}/api/me")).await.0, 401);
        let log = records(&server, "acme");
        let last = sso_records(&log, "oidc:dave").pop().unwrap();
        assert_eq!(last.outcome(), Outcome::Denied);
        assert_eq!(last.payload().unwrap()["reason"], "email_domain_refused");
        assert!(
            records(&server, "globex")
                .iter()
                .all(|r| r.actor() != "oidc:dave"),
            "recorded in acme's log only"
        );

        // Another tenant's callback: globex's provider answer, delivered to a
        // browser whose sign-in is acme's, is refused and spends it.
        let at_acme = support::browser();
        let acme_callback = at_provider(&at_acme, &url, "acme", "mia").await;
        let at_globex = support::browser();
        let globex_callback = at_provider(&at_globex, &url, "globex", "gina").await;
        let before = records(&server, "acme").len();
        let answer = at_acme.get(&globex_callback).send().await.unwrap();
        assert_eq!(answer.status(), 401);
        assert!(answer.text().await.unwrap().contains("state_mismatch"));
        let log = records(&server, "acme");
        assert_eq!(log.len(), before + 1);
        let last = log.last().unwrap();
        assert_eq!(
            (last.action(), last.outcome()),
            ("sso.sign_in", Outcome::Denied)
        );
        assert_eq!(last.payload().unwrap()["reason"], "state_mismatch");
        // The sign-in it was delivered to is spent: its own callback comes too late.
        let answer = at_acme.get(&acme_callback).send().await.unwrap();
        assert_eq!(answer.status(), 400);
        assert_eq!(get_json(&at_acme, &format!("{url}/api/me")).await.0, 401);
        // And the other way round: acme's answer in globex's sign-in.
        let answer = at_globex.get(&acme_callback).send().await.unwrap();
        assert_eq!(answer.status(), 401);
        let last = records(&server, "globex").pop().unwrap();
        assert_eq!(last.payload().unwrap()["reason"], "state_mismatch");
        assert_eq!(get_json(&at_globex, &format!("{url}/api/me")).await.0, 401);

        // A callback in a browser that began nothing: refused, in the system log.
        let stranger = support::browser();
        let fresh = at_provider(&support::browser(), &url, "acme", "mia").await;
        let answer = stranger.get(&fresh).send().await.unwrap();
        assert_eq!(answer.status(), 400);
        let last = records(&server, "_system").pop().unwrap();
        assert_eq!(last.payload().unwrap()["reason"], "sign_in_unknown");
        // A tenant without single sign-on has no start.
        let r = stranger
            .get(format!("{url}/api/sso/nobody/start"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);

        // Mia's account is hers: another provider account with her address
        // (a reused address) does not get into it.
        let mia = support::browser();
        assert_signed_in(&sso_sign_in(&mia, &url, "acme", "mia").await);
        let mia_id = get_json(&mia, &format!("{url}/api/me")).await.1["user"]
            .as_str()
            .unwrap()
            .to_owned();
        let impostor = support::browser();
        let answer = sso_sign_in(&impostor, &url, "acme", "mia-again").await;
        assert_eq!(answer.status(), 401);
        assert!(
            answer
                .text()
                .await
                .unwrap()
                .contains("linked_to_another_subject")
        );
        assert_eq!(get_json(&impostor, &format!("{url}/api/me")).await.0, 401);
        let log = records(&server, "acme");
        let last = sso_records(&log, "oidc:mia-again").pop().unwrap();
        assert_eq!(
            last.payload().unwrap()["reason"],
            "linked_to_another_subject"
        );

        // Blocked by the owner: her session ends, and so does single sign-on.
        let r = owner
            .post(format!("{url}/api/users/{mia_id}/block"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        assert_eq!(get_json(&mia, &format!("{url}/api/me")).await.0, 401);
        let answer = sso_sign_in(&mia, &url, "acme", "mia").await;
        assert_eq!(answer.status(), 401);
        assert!(answer.text().await.unwrap().contains("account_blocked"));
        let log = records(&server, "acme");
        let last = sso_records(&log, "oidc:mia").pop().unwrap();
        assert_eq!(
            (last.outcome(), last.payload().unwrap()["reason"].as_str()),
            (Outcome::Denied, Some("account_blocked"))
        );
    });
}

#[test]
fn only_administrators_and_managers_configure_it_after_a_step_up_and_it_is_validated() {
    let Some(env) = env() else { return };
    let server = serve(env, "admin");
    let demo = server.app.seed_demo("acme", 0).unwrap();
    let globex = server.app.seed_demo("globex", 0).unwrap();
    let url = server.url.clone();
    let put = |browser: &reqwest::Client, body: Value| {
        let request = browser.put(format!("{url}/api/sso")).json(&body);
        async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            let step_up = r.headers().get("x-step-up").is_some();
            (status, r.text().await.unwrap(), step_up)
        }
    };
    runtime().block_on(async {
        // Lower roles may neither read nor change it, stepped up or not.
        for role in ["Operator", "Senior operator", "Operator supervisor"] {
            let b = support::browser();
            password_sign_in(&server, &b, "acme", demo.user(role).unwrap(), true).await;
            assert_eq!(
                get_json(&b, &format!("{url}/api/sso")).await.0,
                403,
                "{role}"
            );
            let (status, _, _) = put(&b, settings(env, "admin", "acme")).await;
            assert_eq!(status, 403, "{role}");
        }

        // The owner, without a recent step-up: asked for one.
        let owner = support::browser();
        password_sign_in(
            &server,
            &owner,
            "acme",
            demo.user("Administrator").unwrap(),
            false,
        )
        .await;
        let (status, view) = get_json(&owner, &format!("{url}/api/sso")).await;
        assert_eq!((status, &view["configured"]), (200, &json!(false)));
        assert_eq!(
            view["redirect_uri"],
            format!("{url}/api/sso/callback"),
            "what to register"
        );
        let (status, _, step_up) = put(&owner, settings(env, "admin", "acme")).await;
        assert_eq!((status, step_up), (403, true));
        let r = owner
            .post(format!("{url}/api/step-up"))
            .json(&json!({ "password": demo.user("Administrator").unwrap().password.as_str() }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);

        // Clear errors for bad settings; nothing is stored.
        let cases: Vec<(Value, &str)> = vec![
            (json!({ "issuer": "http://idp.example.com" }), "plain http"),
            (
                json!({ "allowed_email_domains": [] }),
                "allowed_email_domains",
            ),
            (
                json!({ "allowed_email_domains": ["*.acme.example"] }),
                "not a lowercase domain",
            ),
            (
                json!({ "roles": [{ "claim": "groups", "value": "x", "role": "Superuser" }] }),
                "role `Superuser` is not a role of the back office",
            ),
            (
                json!({ "roles": [{ "claim": "exp", "value": "1", "role": "Operator" }] }),
                "cannot be mapped",
            ),
            (
                json!({ "second_factor": { "fallback": "refuse" } }),
                "nobody could sign in",
            ),
            (json!({ "client_secret": "" }), "client_secret"),
            (json!({ "require_verified_email": false }), "unknown field"),
        ];
        for (change, message) in cases {
            let mut body = settings(env, "admin", "acme");
            for (k, v) in change.as_object().unwrap() {
                body[k] = v.clone();
            }
            let (status, text, _) = put(&owner, body).await;
            assert_eq!(status, 400, "{change}: {text}");
            assert!(text.contains(message), "{change}: {text}");
        }
        let mut no_secret = settings(env, "admin", "acme");
        no_secret.as_object_mut().unwrap().remove("client_secret");
        let (status, text, _) = put(&owner, no_secret.clone()).await;
        assert_eq!(status, 400);
        assert!(text.contains("`client_secret` is required"), "{text}");
        assert_eq!(
            get_json(&owner, &format!("{url}/api/sso")).await.1["configured"],
            false
        );

        // Stored; a later change without the secret keeps it.
        let (status, text, _) = put(&owner, settings(env, "admin", "acme")).await;
        assert_eq!(status, 200, "{text}");
        no_secret["jit"] = json!("refuse");
        let (status, text, _) = put(&owner, no_secret).await;
        assert_eq!(status, 200, "{text}");
        let view: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (&view["client_secret_set"], &view["provider"]["jit"]),
            (&json!(true), &json!("refuse"))
        );
        // The secret is sealed in the database, under the keyring.
        let db =
            rusqlite::Connection::open(server.app.data_dir().join("backoffice.sqlite3")).unwrap();
        let sealed: String = db
            .query_row(
                "SELECT client_secret || settings FROM sso_providers WHERE tenant = 'acme'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert!(!sealed.contains("secret-admin-acme"), "{sealed}");

        // A Manager gives only roles below its own.
        let max = support::browser();
        password_sign_in(&server, &max, "acme", demo.user("Manager").unwrap(), true).await;
        let (status, text, _) = put(&max, settings(env, "admin", "acme")).await;
        assert_eq!(status, 403, "{text}");
        assert!(text.contains("role `Manager` cannot be given"), "{text}");
        let mut below = settings(env, "admin", "acme");
        below["roles"] = json!([{ "claim": "groups", "value": "support", "role": "Operator" }]);
        let (status, text, _) = put(&max, below).await;
        assert_eq!(status, 200, "{text}");

        // Another tenant may not reuse acme's issuer and client.
        let globex_owner = support::browser();
        password_sign_in(
            &server,
            &globex_owner,
            "globex",
            globex.user("Administrator").unwrap(),
            true,
        )
        .await;
        let mut stolen = settings(env, "admin", "acme");
        stolen["allowed_email_domains"] = json!(["globex.example"]);
        let (status, text, _) = put(&globex_owner, stolen).await;
        assert_eq!(status, 409, "{text}");
        assert_eq!(
            put(&globex_owner, settings(env, "admin", "globex")).await.0,
            200
        );

        // Turned off: no more sign-ins start.
        let r = owner.delete(format!("{url}/api/sso")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = owner
            .get(format!("{url}/api/sso/acme/start"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let r = owner
            .get(format!("{url}/api/sso/globex/start"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "globex's goes on");

        // Every change is a decision in the tenant's audit log.
        let edits = records(&server, "acme")
            .into_iter()
            .filter(|r| r.resource().starts_with("Sso"))
            .count();
        assert!(edits >= 14, "{edits} decisions about Sso recorded");
    });
}

/// Confirms a logout on the provider's end-session page; returns where the
/// provider sends the browser.
async fn confirm_logout(browser: &reqwest::Client, env: &Env, url: &str) -> Option<String> {
    let page = browser.get(url).send().await.unwrap().text().await.unwrap();
    let xsrf = page
        .split("name=\"xsrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no xsrf in {page}"))
        .to_owned();
    let confirm = browser
        .post(format!("{}/session/end/confirm", env.op.issuer))
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert!(confirm.status().is_redirection(), "{}", confirm.status());
    confirm
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
}

#[test]
fn logouts_end_the_provider_session_and_the_provider_ends_ours() {
    let Some(env) = env() else { return };
    let server = serve(env, "logout");
    let demo = server.app.seed_demo("acme", 0).unwrap();
    let url = server.url.clone();
    runtime().block_on(async {
        configure(env, &server, "logout", &demo).await;

        // RP-initiated: the back office's sign-out names the provider's
        // end-session URL; the provider accepts its hint and sends the
        // browser back to the back office.
        let olivia = support::browser();
        assert_signed_in(&sso_sign_in(&olivia, &url, "acme", "olivia").await);
        let r = olivia
            .post(format!("{url}/api/logout"))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        let end = body["logout_url"].as_str().unwrap().to_owned();
        let back = confirm_logout(&olivia, env, &end).await.unwrap();
        assert!(back.starts_with(&format!("{url}/")), "{back}");
        assert_eq!(get_json(&olivia, &format!("{url}/api/me")).await.0, 401);
        let log = records(&server, "acme");
        assert!(
            log.iter()
                .any(|r| r.action() == "sso.logout" && r.actor() == demo.users[0].id),
            "the sign-out is recorded"
        );

        // Back-channel: mia signs out at the provider itself; the provider
        // tells the back office, which ends her session there too.
        let mia = support::browser();
        assert_signed_in(&sso_sign_in(&mia, &url, "acme", "mia").await);
        let other = support::browser();
        assert_signed_in(&sso_sign_in(&other, &url, "acme", "olivia").await);
        assert_eq!(get_json(&mia, &format!("{url}/api/me")).await.0, 200);
        confirm_logout(&mia, env, &format!("{}/session/end", env.op.issuer)).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while get_json(&mia, &format!("{url}/api/me")).await.0 != 401 {
            assert!(
                Instant::now() < deadline,
                "the back-channel logout did not end the session"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            get_json(&other, &format!("{url}/api/me")).await.0,
            200,
            "another provider session goes on"
        );
        let log = records(&server, "acme");
        let last = sso_records(&log, "oidc:mia").pop().unwrap();
        assert_eq!(
            (last.action(), last.outcome()),
            ("sso.logout", Outcome::Success)
        );

        // A forged logout token: 400, recorded, and nothing ends.
        let r = other
            .post(format!("{url}/api/sso/acme/backchannel-logout"))
            .form(&[(
                "logout_token",
                "eyJhbGciOiJub25lIn0.eyJzdWIiOiJvbGl2aWEifQ.",
            )])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let last = records(&server, "acme").pop().unwrap();
        assert_eq!(
            (last.action(), last.outcome()),
            ("sso.logout", Outcome::Denied)
        );
        assert_eq!(get_json(&other, &format!("{url}/api/me")).await.0, 200);
    });
}

// ---- headless Chromium ------------------------------------------------------

/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    agent: ureq::Agent,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self
            .agent
            .delete(format!("{}/session/{}", self.base, self.session))
            .call();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(chromium: &str, chromedriver: &str, profile: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while driver
            .agent
            .get(format!("{}/status", driver.base))
            .call()
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--window-size=1100,900", format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let created = driver.call("POST", "/session", Some(capabilities));
        driver.session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        driver
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let mut response = match method {
            "GET" => self.agent.get(&url).call(),
            _ => self.agent.post(&url).send_json(body.unwrap_or(json!({}))),
        }
        .unwrap();
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
    }

    fn session(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn wait_for(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.session(
                "POST",
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            );
            if let Some(e) = found["value"][ELEMENT].as_str()
                && self.session("GET", &format!("/element/{e}/displayed"), None)["value"] == true
            {
                return e.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "`{css}` never appeared on {}",
                self.session("GET", "/url", None)["value"]
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the element's text contains `needle`.
    fn wait_for_text(&self, css: &str, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let texts = self.texts(css);
            if texts.iter().any(|t| t.contains(needle)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`{css}` never said `{needle}`: {texts:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Replaces the field's value with `text`.
    fn type_into(&self, css: &str, text: &str) {
        let e = self.wait_for(css);
        self.session("POST", &format!("/element/{e}/clear"), None);
        self.session(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let e = self.wait_for(css);
        self.session("POST", &format!("/element/{e}/click"), None);
    }

    fn texts(&self, css: &str) -> Vec<String> {
        let found = self.session(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        );
        found["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let id = e[ELEMENT].as_str().unwrap();
                self.session("GET", &format!("/element/{id}/text"), None)["value"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

/// Saves the page as a PNG under the test's output directory.
fn screenshot(driver: &Driver, name: &str) {
    let shot = driver.session("GET", "/screenshot", None);
    let png = data_encoding::BASE64
        .decode(shot["value"].as_str().unwrap().as_bytes())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&out, &png).unwrap();
    eprintln!("screenshot: {} ({} bytes)", out.display(), png.len());
}

fn chromium() -> Option<(&'static str, &'static str)> {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let driver = ["/usr/bin/chromedriver"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ => {
            assert!(
                !common::ci(),
                "PALISADE_CI is set but chromium or chromedriver is missing"
            );
            eprintln!("skipped: needs Debian's `chromium` and `chromium-driver`");
            None
        }
    }
}

#[test]
fn the_owner_sets_it_up_in_the_page_and_an_employee_signs_in_through_the_providers_login_page() {
    let Some((chromium, chromedriver)) = chromium() else {
        return;
    };
    let Some(env) = env() else { return };
    let server = serve(env, "browser");
    let demo = server.app.seed_demo("acme", 12).unwrap();
    let owner = demo.user("Administrator").unwrap();

    let profile = tempfile::tempdir().unwrap();
    let driver = Driver::start(chromium, chromedriver, profile.path());
    driver.session(
        "POST",
        "/url",
        Some(json!({ "url": format!("{}/", server.url) })),
    );
    // The owner signs in with password and TOTP and sets the company's
    // provider up in Settings; saving asks for a step-up.
    driver.type_into("#tenant", "acme");
    driver.type_into("#email", &owner.email);
    driver.type_into("#password", &owner.password);
    driver.click("#signin-button");
    let code = owner.code_at(server.app.clock().now()).unwrap();
    driver.type_into("#code", &code);
    driver.click("#totp-button");
    driver.click("#nav-settings");
    // The page says what to register at the provider.
    driver.wait_for_text("#sso-register", &format!("{}/api/sso/callback", server.url));
    driver.type_into("#sso-issuer", &env.op.issuer);
    driver.type_into("#sso-client-id", "bo-browser-acme");
    driver.type_into("#sso-client-secret", "secret-browser-acme");
    driver.type_into("#sso-domains", "acme.example");
    driver.click("#sso-jit option[value=provision]");
    driver.type_into(
        "#sso-roles",
        "groups=managers -> Manager\ngroups=support -> Operator",
    );
    driver.click("#sso-save");
    driver.type_into("#stepup-password", &owner.password);
    driver.click("#stepup-submit");
    driver.wait_for("#sso-off");
    screenshot(&driver, "backoffice-sso-settings.png");
    server.app.clock().advance(30);
    let stored = runtime().block_on(async {
        let owner_api = support::browser();
        password_sign_in(&server, &owner_api, "acme", owner, false).await;
        get_json(&owner_api, &format!("{}/api/sso", server.url))
            .await
            .1
    });
    assert_eq!(
        stored["provider"]["client_id"], "bo-browser-acme",
        "{stored}"
    );
    assert_eq!(stored["provider"]["jit"], "provision");
    assert_eq!(
        stored["provider"]["roles"][1],
        json!({ "claim": "groups", "value": "support", "role": "Operator" })
    );
    driver.click("#signout");

    // An employee: the page's "Sign in with your company account", to the
    // provider's login page.
    driver.type_into("#tenant", "acme");
    driver.click("#sso-button");
    driver.wait_for("#login-name");
    let page = driver.session("GET", "/url", None)["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        page.starts_with(&format!("{}/interaction/", env.op.issuer)),
        "{page}"
    );
    driver.type_into("#login-name", "carl");
    driver.type_into("#login-password", "correct horse");
    driver.click("#login-submit");
    // Back in the back office, signed in as the Operator his group maps to
    // (the provider proved a hardware key): the masked client list.
    driver.wait_for("tr.client");
    let rows = driver.texts("tr.client");
    assert_eq!(rows.len(), 12, "{rows:?}");
    for row in &rows {
        assert!(row.contains("XX"), "masked phone and e-mail in `{row}`");
    }
    let whoami = driver.texts("#whoami");
    assert!(whoami[0].contains("Operator"), "{whoami:?}");
    let page = driver.session("GET", "/url", None)["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(page.starts_with(&format!("{}/", server.url)), "{page}");

    screenshot(&driver, "backoffice-sso-sign-in.png");

    // Signing out goes through the provider's end-session page and back to
    // the sign-in page; the provider's session ended too, so the next single
    // sign-on asks for the login again.
    driver.click("#signout");
    driver.click("button[name=logout]");
    driver.wait_for("#sso-button");
    let page = driver.session("GET", "/url", None)["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(page.starts_with(&format!("{}/", server.url)), "{page}");
    driver.type_into("#tenant", "acme");
    driver.click("#sso-button");
    driver.wait_for("#login-name");

    let log = records(&server, "acme");
    let carl = sso_records(&log, "oidc:carl");
    // Provisioned and signed in; then (maybe not yet) the provider's
    // back-channel logout.
    assert_eq!(
        carl.iter().take(2).map(|r| r.action()).collect::<Vec<_>>(),
        ["sso.provision", "sso.sign_in"]
    );
    assert!(
        log.iter().any(|r| r.action() == "sso.logout"
            && r.tenant() == Some("acme")
            && !r.actor().starts_with("oidc:")),
        "the sign-out is recorded, by the account"
    );
}
