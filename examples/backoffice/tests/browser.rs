//! The page in headless Chromium over HTTPS: sign-in with password and TOTP,
//! enrollment with recovery codes, paging through clients, the masked sign,
//! rights editing, "log in as" with its banner, the step-up prompt, alerts.
//! A screenshot of each main screen is saved under `target/screenshots/`
//! (the path is printed). WebDriver is spoken directly (JSON over HTTP to
//! chromedriver on loopback). Skipped with a reason when Chromium or
//! chromedriver is missing, unless `PALISADE_CI` is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;
use palisade_backoffice::{Demo, DemoUser};
use serde_json::{Value, json};

/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long the page may take to show something.
const PATIENCE: Duration = Duration::from_secs(20);

struct Driver {
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, Some(b)) => self.agent.post(&url).send_json(b),
            (_, None) => self.agent.post(&url).send_json(json!({})),
        };
        let mut response = response.unwrap();
        let text = response.body_mut().read_to_string().unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

/// One browser; quit when dropped, even when a step failed.
struct Session<'d> {
    driver: &'d Driver,
    id: String,
    base: String,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self
            .driver
            .agent
            .delete(format!("{}/session/{}", self.driver.base, self.id))
            .call();
    }
}

impl Session<'_> {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.driver
            .call(method, &format!("/session/{}{path}", self.id), body)
    }

    fn open(&self, path: &str) {
        self.call(
            "POST",
            "/url",
            Some(json!({ "url": format!("{}{path}", self.base) })),
        );
    }

    fn all(&self, css: &str) -> Vec<String> {
        let v = self.call(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v["value"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn find(&self, css: &str) -> Option<String> {
        self.all(css).into_iter().next()
    }

    fn shown(&self, element: &str) -> bool {
        self.call("GET", &format!("/element/{element}/displayed"), None)["value"] == true
    }

    /// Whether an element matching `css` is displayed now.
    fn displayed(&self, css: &str) -> bool {
        self.all(css).iter().any(|e| self.shown(e))
    }

    fn until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done() {
            if Instant::now() >= deadline {
                self.screenshot("failure");
                panic!("{what}: not reached in {PATIENCE:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&self, css: &str) -> String {
        let mut found = None;
        self.until(&format!("`{css}` shown"), || {
            found = self.all(css).into_iter().find(|e| self.shown(e));
            found.is_some()
        });
        found.unwrap()
    }

    fn wait_gone(&self, css: &str) {
        self.until(&format!("`{css}` gone"), || !self.displayed(css));
    }

    /// Waits until an element matching `css` shows text containing `needle`.
    fn wait_text(&self, css: &str, needle: &str) -> String {
        let mut text = String::new();
        self.until(&format!("`{css}` saying `{needle}`"), || {
            text = self.texts(css).join("\n");
            text.contains(needle)
        });
        text
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.wait_for(css);
        self.call("POST", &format!("/element/{e}/clear"), None);
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Clicks the first displayed element matching `css` (found again if
    /// the page replaced it meanwhile).
    fn click(&self, css: &str) {
        let mut answer = Value::Null;
        self.until(&format!("a click on `{css}`"), || {
            let e = self.wait_for(css);
            answer = self.call("POST", &format!("/element/{e}/click"), None);
            answer["value"]["error"] != "stale element reference"
        });
        assert!(answer["value"].is_null(), "click on `{css}`: {answer}");
    }

    /// The visible text of each element matching `css` (elements replaced
    /// while being read are skipped).
    fn texts(&self, css: &str) -> Vec<String> {
        self.all(css)
            .iter()
            .filter_map(|id| {
                self.call("GET", &format!("/element/{id}/text"), None)["value"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    }

    fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let e = self.find(css)?;
        self.call("GET", &format!("/element/{e}/attribute/{name}"), None)["value"]
            .as_str()
            .map(str::to_owned)
    }

    /// A DOM property (an input's current `value`, not its attribute).
    fn property(&self, css: &str, name: &str) -> Option<String> {
        let e = self.find(css)?;
        self.call("GET", &format!("/element/{e}/property/{name}"), None)["value"]
            .as_str()
            .map(str::to_owned)
    }

    fn count(&self, css: &str) -> usize {
        self.all(css).len()
    }

    /// The browser console's messages so far (chromedriver's log endpoint).
    fn console(&self) -> Vec<String> {
        let v = self.call("POST", "/se/log", Some(json!({ "type": "browser" })));
        v["value"]
            .as_array()
            .unwrap_or_else(|| panic!("no browser log: {v}"))
            .iter()
            .map(|e| format!("{} {}", e["level"], e["message"]))
            .collect()
    }

    /// Asserts the page broke no rule of the Content-Security-Policy and
    /// threw no error.
    fn assert_clean_console(&self) {
        let problems: Vec<String> = self
            .console()
            .into_iter()
            .filter(|m| {
                m.contains("Content Security Policy")
                    || m.contains("Uncaught")
                    || m.contains("TypeError")
                    || m.contains("ReferenceError")
            })
            .collect();
        assert!(problems.is_empty(), "console: {problems:#?}");
    }

    /// Saves a PNG of the window as `target/screenshots/<name>.png`.
    fn screenshot(&self, name: &str) -> PathBuf {
        let shot = self.call("GET", "/screenshot", None);
        let png = data_encoding::BASE64
            .decode(shot["value"].as_str().unwrap().as_bytes())
            .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let dir = screenshots();
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join(format!("{name}.png"));
        std::fs::write(&out, &png).unwrap();
        eprintln!("screenshot: {} ({} bytes)", out.display(), png.len());
        out
    }

    /// Signs `user` in through the page: password, then a TOTP code. The
    /// clock moves past the code's step (codes are single-use).
    fn sign_in(&self, server: &Server, tenant: &str, user: &DemoUser) {
        self.wait_for("#signin-form");
        self.type_into("#tenant", tenant);
        self.type_into("#email", &user.email);
        self.type_into("#password", &user.password);
        self.click("#signin-button");
        self.wait_for("#code");
        let code = user.code_at(server.app.clock().now()).unwrap();
        self.type_into("#code", &code);
        self.click("#totp-button");
        self.wait_for("#whoami");
        server.app.clock().advance(30);
    }

    fn sign_out(&self) {
        self.click("#signout");
        self.wait_for("#signin-form");
    }

    /// Answers the step-up prompt with the password.
    fn step_up(&self, user: &DemoUser) {
        self.wait_for("#stepup-dialog");
        self.type_into("#stepup-password", &user.password);
        self.click("#stepup-submit");
        self.wait_gone("#stepup-dialog");
    }

    fn go(&self, area: &str) {
        self.click(&format!("#nav-{area}"));
        self.wait_for(&format!("#area-{area}"));
    }
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots")
}

fn tools() -> Option<(&'static str, &'static str)> {
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
            eprintln!(
                "skipped: needs Debian's `chromium` and `chromium-driver` (apt-get install chromium chromium-driver)"
            );
            None
        }
    }
}

/// A server over HTTPS with the demo tenant `acme` of `clients` clients,
/// and chromedriver; `None` when the browser is missing (and allowed to be).
fn setup(clients: usize) -> Option<(Server, Demo, Driver, &'static str, String)> {
    let (chromium, chromedriver) = tools()?;
    let server = common::start_tls();
    let pin = palisade_backoffice::development_certificate_pin(server.app.data_dir()).unwrap();
    let demo = server.app.seed_demo("acme", clients).unwrap();
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
    let driver = Driver {
        child,
        base: format!("http://127.0.0.1:{port}"),
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into(),
    };
    let deadline = Instant::now() + PATIENCE;
    while driver
        .agent
        .get(format!("{}/status", driver.base))
        .call()
        .is_err()
    {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((server, demo, driver, chromium, pin))
}

/// A headless Chromium trusting the server's development certificate.
fn browser<'d>(
    driver: &'d Driver,
    chromium: &str,
    pin: &str,
    server: &Server,
    profile: &Path,
) -> Session<'d> {
    let downloads = profile.join("downloads");
    let capabilities = json!({ "capabilities": { "alwaysMatch": {
        "browserName": "chrome",
        "goog:loggingPrefs": { "browser": "ALL" },
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,1000", "--lang=en-US",
                format!("--user-data-dir={}", profile.join("chromium").display()),
                format!("--ignore-certificate-errors-spki-list={pin}"),
            ],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
            }
        }
    }}});
    let created = driver.call("POST", "/session", Some(capabilities));
    let id = created["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {created}"))
        .to_owned();
    let session = Session {
        driver,
        id,
        base: server.url.clone(),
    };
    session.open("/");
    session
}

#[test]
fn operator_signs_in_with_totp_and_sees_masked_list() {
    let Some((server, demo, driver, chromium, pin)) = setup(45) else {
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let session = browser(&driver, chromium, &pin, &server, profile.path());
    let operator = demo.user("Operator").unwrap();
    // This operator may create bookings but not change them.
    let mut owner = api_client(&server, &demo.tenant, demo.user("Administrator").unwrap());
    let a = owner.put(
        &format!("/api/users/{}/rights", operator.id),
        json!({ "deny": ["Booking:edit", "Booking:delete"] }),
    );
    assert_eq!(a.status, 200, "{}", a.text);

    session.wait_for("#signin-form");
    session.type_into("#tenant", &demo.tenant);
    session.type_into("#email", &operator.email);
    session.screenshot("01-sign-in");
    session.type_into("#password", &operator.password);
    session.click("#signin-button");
    session.wait_for("#code");
    session.screenshot("02-second-factor");
    let code = operator.code_at(server.app.clock().now()).unwrap();
    session.type_into("#code", &code);
    session.click("#totp-button");
    session.wait_for("tr.client");
    assert!(session.texts("#whoami")[0].contains("Operator"));

    // The first page: 20 clients, phones and e-mails masked, each with the sign.
    session.wait_text("#clients-range", "Clients 1–20");
    let rows = session.texts("tr.client");
    assert_eq!(rows.len(), 20, "{rows:?}");
    for row in &rows {
        assert!(row.contains("XX"), "masked phone and e-mail in `{row}`");
        assert!(!demo.phones.iter().any(|p| row.contains(p.as_str())));
    }
    assert_eq!(session.count("tr.client td.phone .masked-sign"), 20);
    assert_eq!(session.count("tr.client td.email .masked-sign"), 20);
    assert_eq!(
        session.count("tr.client th.name .masked-sign"),
        0,
        "names are not masked for operators"
    );
    assert_eq!(
        session
            .attribute("tr.client td.phone .masked-sign", "aria-label")
            .as_deref(),
        Some("masked")
    );
    assert!(session.attribute("#clients-prev", "disabled").is_some());
    // An operator reaches clients and bookings, not the administration.
    for area in ["clients", "bookings", "statistics", "account"] {
        assert!(session.displayed(&format!("#nav-{area}")), "{area}");
    }
    for area in [
        "users",
        "logs",
        "alerts",
        "finance",
        "downloads",
        "settings",
    ] {
        assert!(!session.displayed(&format!("#nav-{area}")), "{area}");
    }
    session.screenshot("03-clients-operator-masked");

    // Paging: 21–40, then the last 5, then back.
    let first_ids = ids(&session);
    assert_eq!(first_ids.len(), 20);
    session.click("#clients-next");
    session.wait_text("#clients-range", "Clients 21–40");
    let second_ids = ids(&session);
    assert_eq!(second_ids.len(), 20);
    assert!(second_ids.iter().all(|id| !first_ids.contains(id)));
    session.click("#clients-next");
    session.wait_text("#clients-range", "Clients 41–45");
    let third_ids = ids(&session);
    assert_eq!(third_ids.len(), 5);
    assert!(session.attribute("#clients-next", "disabled").is_some());
    // The three pages hold every client exactly once.
    let mut seen = [first_ids.clone(), second_ids.clone(), third_ids].concat();
    seen.sort();
    let mut all = demo.clients.clone();
    all.sort();
    assert_eq!(seen, all);
    session.click("#clients-prev");
    session.wait_text("#clients-range", "Clients 21–40");
    assert_eq!(ids(&session), second_ids);

    // Sorting and filtering the page in the browser.
    session.click("th[data-col=name] button.sort");
    assert_eq!(
        session
            .attribute("th[data-col=name]", "aria-sort")
            .as_deref(),
        Some("ascending")
    );
    let names = session.texts("tr.client th.name");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // Filter by a first name on this page: which clients land on which page
    // depends on the demo's random ids, so a fixed name may be on none.
    let first = names
        .first()
        .and_then(|n| n.split_whitespace().next())
        .expect("the page lists clients")
        .to_owned();
    // The page filters names, phones and e-mails, ignoring case; an
    // Operator's phones and e-mails are masked, so only names can match.
    let needle = first.to_lowercase();
    let expected = names
        .iter()
        .filter(|n| n.to_lowercase().contains(&needle))
        .count();
    assert!(
        expected >= 1 && expected < names.len(),
        "{first} in {names:?}"
    );
    session.type_into("#clients-filter", &first);
    session.until("the filter applied", || {
        let rows = session.texts("tr.client th.name");
        rows.len() == expected && rows.iter().all(|r| r.to_lowercase().contains(&needle))
    });

    // A client's detail: the masked sign there too; no access timeline for operators.
    session.click("tr.client button.client-open");
    session.wait_for("#client-detail");
    assert!(session.count("#client-fields .masked-sign") == 2);
    assert!(!session.displayed("#client-access"));
    session.screenshot("04-client-detail-operator");

    // Bookings: made from the area's form, listed with edit and delete.
    session.go("bookings");
    session.wait_for("#booking-client option");
    session.type_into("#booking-note", "first visit");
    session.click("#booking-submit");
    session.wait_text("#status", "Booked");
    session.wait_text("tr.booking", "first visit");
    session.screenshot("05-bookings");

    // Edit and delete are rights of their own: refused, and the page says so.
    session.click("tr.booking .booking-delete");
    session.click("#confirm-yes");
    session.wait_text("#message", "Refused: not allowed to delete booking");
    session.wait_text("tr.booking .row-note", "refused");
    session.click("tr.booking .booking-edit");
    session.type_into("#edit-note", "moved");
    session.click("#edit-save");
    session.wait_text("#message", "Refused: not allowed to edit booking");
    session.wait_text("tr.booking", "first visit");
    session.screenshot("05b-booking-refused");
    session.assert_clean_console();
}

/// An HTTP client signed in as `user` (password, code, step-up).
fn api_client(server: &Server, tenant: &str, user: &DemoUser) -> common::Browser {
    let mut c = common::Browser::new(&server.url);
    let a = c.post(
        "/api/login",
        json!({ "tenant": tenant, "email": user.email, "password": user.password.as_str() }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let code = user.code_at(server.app.clock().now()).unwrap();
    let a = c.post("/api/login/second-factor", json!({ "code": code.as_str() }));
    assert_eq!(a.status, 200, "{}", a.text);
    let a = c.post(
        "/api/step-up",
        json!({ "password": user.password.as_str() }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    server.app.clock().advance(30);
    c
}

/// The client ids of the rows shown, in order.
fn ids(session: &Session<'_>) -> Vec<String> {
    session
        .all("tr.client")
        .iter()
        .filter_map(|e| {
            session.call("GET", &format!("/element/{e}/attribute/data-id"), None)["value"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn the_owner_denies_a_right_in_the_page_and_the_employee_loses_that_area() {
    let Some((server, demo, driver, chromium, pin)) = setup(6) else {
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let session = browser(&driver, chromium, &pin, &server, profile.path());
    let owner = demo.user("Administrator").unwrap();
    let operator = demo.user("Operator").unwrap();

    // Before: the operator reaches bookings.
    session.sign_in(&server, &demo.tenant, operator);
    session.wait_for("#nav-bookings");
    session.sign_out();

    // The owner sees phones in clear: no masked sign.
    session.sign_in(&server, &demo.tenant, owner);
    session.wait_for("tr.client");
    assert_eq!(session.count("tr.client"), 6);
    assert_eq!(session.count(".masked-sign"), 0);
    let rows = session.texts("tr.client").join("\n");
    assert!(demo.phones.iter().all(|p| rows.contains(p.as_str())));
    session.screenshot("06-clients-owner");

    // Users & rights: deny Booking:read to the operator (a fresh step-up first).
    session.go("users");
    let row = format!("tr.user[data-user=\"{}\"]", operator.id);
    session.wait_for(&row);
    session.screenshot("07-users");
    session.click(&format!("{row} .user-rights"));
    session.wait_text("#rights-title", "Rights of Otto Demo");
    session.click("#rights-kind option[value=deny]");
    session.type_into("#rights-right", "Booking:read");
    session.click("#rights-apply");
    session.wait_for("#stepup-password");
    session.screenshot("08-step-up");
    session.step_up(owner);
    session.wait_text("#status", "Rights of Otto Demo changed: deny Booking:read");
    session.wait_text("#rights-made", "deny Booking:read");
    session.screenshot("09-rights");
    assert!(
        server
            .app
            .policy(&demo.tenant)
            .unwrap()
            .permissions(&operator.id, Some(&demo.tenant))
            .unwrap()
            .iter()
            .any(|p| p.resource_type == "Booking"
                && p.action == "read"
                && p.access == palisade_rbac::Access::Forbidden),
        "the deny is in the stored policy"
    );
    session.sign_out();

    // After: the operator's page has no bookings area; clients stay.
    session.sign_in(&server, &demo.tenant, operator);
    session.wait_for("tr.client");
    assert!(session.displayed("#nav-clients"));
    assert!(!session.displayed("#nav-bookings"));
    session.open("/#/bookings");
    session.wait_for("tr.client");
    assert!(
        !session.displayed("#area-bookings"),
        "a hidden area cannot be reached by its address either"
    );
    session.sign_out();

    // The owner lifts the deny by name; the area is back.
    session.sign_in(&server, &demo.tenant, owner);
    session.go("users");
    session.click(&format!("{row} .user-rights"));
    session.click("#lift-kind option[value=deny]");
    session.type_into("#lift-what", "Booking:read");
    session.click("#lift-button");
    session.step_up(owner);
    session.wait_text("#status", "deny Booking:read lifted");
    session.sign_out();
    session.sign_in(&server, &demo.tenant, operator);
    session.wait_for("#nav-bookings");
    session.assert_clean_console();
}

#[test]
fn viewing_as_an_employee_shows_the_banner_and_refuses_writes() {
    let Some((server, demo, driver, chromium, pin)) = setup(6) else {
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let session = browser(&driver, chromium, &pin, &server, profile.path());
    let owner = demo.user("Administrator").unwrap();
    let operator = demo.user("Operator").unwrap();

    session.sign_in(&server, &demo.tenant, owner);
    assert!(!session.displayed("#viewas-banner"));
    session.go("users");
    let row = format!("tr.user[data-user=\"{}\"]", operator.id);
    session.click(&format!("{row} .user-viewas"));
    session.step_up(owner);

    // The banner, the employee's areas and masks.
    let banner = session.wait_text("#viewas-banner", "Viewing as Otto Demo — read-only");
    assert!(banner.contains("End"), "{banner}");
    assert!(session.texts("#whoami")[0].contains("Otto Demo (Operator)"));
    session.wait_for("tr.client");
    assert_eq!(session.count("tr.client td.phone .masked-sign"), 6);
    for area in ["users", "logs", "alerts", "downloads"] {
        assert!(!session.displayed(&format!("#nav-{area}")), "{area}");
    }
    session.screenshot("10-view-as-banner");

    // A write the employee could make is refused while viewing as.
    session.click("#client-add-open");
    session.type_into("#client-add-name", "Eve Example");
    session.type_into("#client-add-phone", "+48 601 000 001");
    session.type_into("#client-add-email", "eve@mail.example");
    session.click("#client-add-submit");
    session.wait_text(
        "#message",
        "Refused: read-only while viewing as another user",
    );
    assert_eq!(session.count("tr.client"), 6, "nothing was added");
    session.screenshot("11-view-as-write-refused");

    // The banner stays across a reload, then End restores the owner's view.
    session.open("/");
    session.wait_text("#viewas-banner", "Viewing as Otto Demo — read-only");
    session.click("#viewas-end");
    session.wait_gone("#viewas-banner");
    session.wait_text("#status", "Back to your own view");
    assert!(session.displayed("#nav-users"));
    assert!(session.texts("#whoami")[0].contains("Olivia Owner"));
    session.go("alerts");
    session.wait_for("tr.alert[data-rule=view_as]");

    // Administration from the users table (the step-up of "view as" still counts).
    let senior = demo.user("Senior operator").unwrap();
    let row = format!("tr.user[data-user=\"{}\"]", senior.id);
    session.go("users");
    session.click(&format!("{row} .user-block"));
    session.click("#confirm-yes");
    session.wait_text("#status", "Sergei Demo blocked");
    session.wait_text(&row, "blocked");
    session.click(&format!("{row} .user-unblock"));
    session.wait_text("#status", "Sergei Demo unblocked");
    session.click(&format!("{row} .user-reset"));
    session.click("#confirm-yes");
    session.wait_text("#status", "Second factor of Sergei Demo reset");
    session.wait_text(&row, "not enrolled");
    session.click(&format!("{row} .user-delete"));
    session.click("#confirm-yes");
    session.wait_text("#status", "Sergei Demo deleted");
    session.wait_gone(&row);
    assert_eq!(server.app.user_count(&demo.tenant).unwrap(), 4);
    session.assert_clean_console();
}

#[test]
fn an_export_raises_a_bulk_export_alert_on_the_alerts_page() {
    let Some((server, demo, driver, chromium, pin)) = setup(6) else {
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let session = browser(&driver, chromium, &pin, &server, profile.path());
    let owner = demo.user("Administrator").unwrap();

    session.sign_in(&server, &demo.tenant, owner);
    session.go("alerts");
    session.wait_for("#alert-rows tr");
    assert_eq!(session.count("tr.alert[data-rule=bulk_export]"), 0);

    // The export asks for a step-up, then leaves as a file.
    session.go("clients");
    session.click("#export");
    session.step_up(owner);
    session.wait_text("#status", "Exported clients.csv");

    session.go("alerts");
    session.wait_for("tr.alert[data-rule=bulk_export]");
    let alert = session.texts("tr.alert[data-rule=bulk_export]").join("\n");
    assert!(alert.contains("Olivia Owner"), "{alert}");
    assert!(alert.contains("clients: 6"), "{alert}");
    session.screenshot("12-alerts");

    // The owner sees the kept copy of what left.
    session.go("downloads");
    session.wait_for("tr.download");
    session.click("tr.download button");
    let copy = session.wait_text("#download-content", "name");
    assert_eq!(copy.lines().count(), 7, "a header and six clients: {copy}");
    session.screenshot("13-downloads");

    // A client's access timeline, the action log, an incident report.
    session.go("clients");
    session.click("tr.client button.client-open");
    session.wait_for("#access-rows tr.access");
    session.wait_text("#access-rows", "Olivia Owner");
    session.screenshot("14-client-detail-access-timeline");
    session.go("logs");
    session.wait_text("#action-rows", "client.export");
    session.screenshot("15-action-log");
    session.go("incidents");
    session.click(&format!("#incident-user option[value=\"{}\"]", owner.id));
    session.click("#incident-form button[type=submit]");
    session.wait_text("#incident-report", "Notify the supervisory authority by");
    session.wait_text(
        "#incident-report",
        "6 data subject(s) accessed by Olivia Owner",
    );
    session.screenshot("16-incident-report");

    // The data-access log answers for one client; every other area renders.
    session.go("logs");
    session.click("#tab-access");
    session.type_into("#access-client", &demo.clients[0]);
    session.click("#access-filter button[type=submit]");
    session.wait_text("#access-log-rows", "client.read");
    session.go("finance");
    session.wait_text("#invoice-rows", "49.00");
    session.screenshot("20-finance");
    session.go("analytics");
    session.wait_text("#analytics-body", "clients in total");
    session.screenshot("21-analytics");
    session.go("statistics");
    session.wait_text("#statistics-rows", "Olivia Owner");
    session.go("settings");
    session.until("settings loaded", || {
        session
            .property("#settings-starts", "value")
            .is_some_and(|v| !v.is_empty())
    });
    session.go("account");
    session.wait_text("#account-fields", "Administrator");
    session.click("#area-account summary");
    session.wait_text("#account-permissions", "Client:export");
    session.assert_clean_console();
}

#[test]
fn a_new_employee_enrolls_an_authenticator_and_gets_recovery_codes() {
    let Some((server, demo, driver, chromium, pin)) = setup(3) else {
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let session = browser(&driver, chromium, &pin, &server, profile.path());
    let owner = demo.user("Administrator").unwrap();
    let password = "Tide-Lantern-Orbit-93";

    // A new company signs up; its owner is sent to sign in.
    session.click("#show-signup");
    session.type_into("#signup-tenant", "globex");
    session.type_into("#signup-company", "Globex support");
    session.type_into("#signup-name", "Gina Globex");
    session.type_into("#signup-email", "gina@globex.example");
    session.type_into("#signup-password", "Copper-Violet-Falcon-18");
    session.click("#signup-form button[type=submit]");
    session.wait_text("#gate-status", "Company globex created");
    assert_eq!(
        session.property("#tenant", "value").as_deref(),
        Some("globex")
    );
    assert_eq!(server.app.user_count("globex").unwrap(), 1);

    // The owner of acme creates an employee in the page.
    session.sign_in(&server, &demo.tenant, owner);
    session.go("users");
    session.click("#user-add-open");
    session.type_into("#user-add-name", "Nina Newcomer");
    session.type_into("#user-add-email", "nina@acme.example");
    session.click("#user-add-role option[value=Operator]");
    session.type_into("#user-add-password", password);
    session.click("#user-add-submit");
    session.wait_text("#status", "Nina Newcomer created");
    session.wait_text("#user-rows", "not enrolled");
    session.sign_out();

    // Her first sign-in enrolls a factor: QR code, key, first code.
    session.type_into("#tenant", &demo.tenant);
    session.type_into("#email", "nina@acme.example");
    session.type_into("#password", password);
    session.click("#signin-button");
    session.wait_for("#qr svg");
    let secret = session.texts("#enroll-secret").join("");
    assert!(!secret.is_empty());
    session.screenshot("17-enroll");
    let totp = palisade_otp::Totp::new(palisade_otp::Secret::from_base32(&secret).unwrap());
    let now = u64::try_from(server.app.clock().now()).unwrap();
    session.type_into("#enroll-code", &totp.code_at(now));
    session.click("#enroll-button");
    session.until("recovery codes shown", || {
        session.texts("#recovery-list").join("").lines().count() >= 5
    });
    session.screenshot("18-recovery-codes");
    let codes: Vec<String> = session
        .texts("#recovery-list")
        .join("")
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(codes.len() >= 5, "{codes:?}");
    session.click("#recovery-done");
    session.wait_text("#whoami", "Nina Newcomer (Operator)");
    session.sign_out();

    // A recovery code signs her in once.
    session.type_into("#tenant", &demo.tenant);
    session.type_into("#email", "nina@acme.example");
    session.type_into("#password", password);
    session.click("#signin-button");
    session.type_into("#recovery", &codes[0]);
    session.click("#totp-button");
    session.wait_text("#whoami", "Nina Newcomer");
    session.go("account");
    session.type_into("#pw-current", password);
    session.type_into("#pw-new", "Harbor-Quill-Meadow-57");
    session.type_into("#pw-again", "Harbor-Quill-Meadow-57");
    session.click("#pw-submit");
    session.wait_text("#status", "Password changed");
    session.screenshot("19-account");
    session.assert_clean_console();
}
