//! The page in headless Chromium: an operator signs in with password and
//! TOTP and sees the masked client list; a screenshot is saved under the
//! test's output directory. WebDriver is spoken directly (JSON over HTTP to
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

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

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

struct Session<'d> {
    driver: &'d Driver,
    id: String,
}

impl Session<'_> {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.driver
            .call(method, &format!("/session/{}{path}", self.id), body)
    }
    fn find(&self, css: &str) -> Option<String> {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v["value"][ELEMENT].as_str().map(str::to_owned)
    }
    fn wait_for(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(e) = self.find(css)
                && self.call("GET", &format!("/element/{e}/displayed"), None)["value"] == true
            {
                return e;
            }
            assert!(Instant::now() < deadline, "`{css}` never appeared");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    fn type_into(&self, css: &str, text: &str) {
        let e = self.wait_for(css);
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }
    fn click(&self, css: &str) {
        let e = self.wait_for(css);
        self.call("POST", &format!("/element/{e}/click"), None);
    }
    fn texts(&self, css: &str) -> Vec<String> {
        let v = self.call(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let id = e[ELEMENT].as_str().unwrap();
                self.call("GET", &format!("/element/{id}/text"), None)["value"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
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

#[test]
fn operator_signs_in_with_totp_and_sees_masked_list() {
    let Some((chromium, chromedriver)) = tools() else {
        return;
    };
    // Over HTTPS, the browser trusting the development certificate's key.
    let server = common::start_tls();
    let pin = palisade_backoffice::development_certificate_pin(server.app.data_dir()).unwrap();
    let demo = server.app.seed_demo("acme", 12).unwrap();
    let operator = demo.user("Operator").unwrap();

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
    let profile = tempfile::tempdir().unwrap();
    let capabilities = json!({ "capabilities": { "alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1100,900", format!("--user-data-dir={}", profile.path().display()),
                format!("--ignore-certificate-errors-spki-list={pin}"),
            ]
        }
    }}});
    let created = driver.call("POST", "/session", Some(capabilities));
    let id = created["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {created}"))
        .to_owned();
    let session = Session {
        driver: &driver,
        id,
    };

    session.call(
        "POST",
        "/url",
        Some(json!({ "url": format!("{}/", server.url) })),
    );
    session.type_into("#tenant", &demo.tenant);
    session.type_into("#email", &operator.email);
    session.type_into("#password", &operator.password);
    session.click("#signin-button");
    session.wait_for("#code");
    let code = operator.code_at(server.app.clock().now()).unwrap();
    session.type_into("#code", &code);
    session.click("#totp-button");
    session.wait_for("tr.client");
    let rows = session.texts("tr.client");
    assert_eq!(rows.len(), 12, "{rows:?}");
    for row in &rows {
        assert!(row.contains("XX"), "masked phone and e-mail in `{row}`");
        assert!(!demo.phones.iter().any(|p| row.contains(p.as_str())));
    }
    assert!(session.texts("#whoami")[0].contains("Operator"));

    let shot = session.call("GET", "/screenshot", None);
    let png = data_encoding::BASE64
        .decode(shot["value"].as_str().unwrap().as_bytes())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("backoffice-masked-list.png");
    std::fs::write(&out, &png).unwrap();
    eprintln!("screenshot: {} ({} bytes)", out.display(), png.len());
    session.call("DELETE", "", None);
}
