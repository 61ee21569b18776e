//! The test harness: installs oidc-provider with npm once (into a cache under
//! the target directory), starts three providers on loopback (`acme` also
//! serves tenant `initech`'s client; `globex` is another company's provider;
//! `rotating` is reserved for the key-rotation test), a back-channel logout
//! receiver, and drives the provider's login page over HTTP with a cookie jar.

#![allow(dead_code, reason = "each test file uses part of the harness")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use palisade_audit::{AuditLog, MemoryStore, Outcome, Record};
use palisade_sso::{Callback, Config, Sso, Url};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The provider's files, found from this file: other crates' tests include
/// this harness too (the back office's single sign-on tests).
const PROVIDER_FILES: [(&str, &str); 3] = [
    ("package.json", include_str!("../provider/package.json")),
    (
        "package-lock.json",
        include_str!("../provider/package-lock.json"),
    ),
    ("provider.mjs", include_str!("../provider/provider.mjs")),
];
/// Redirect URIs point at a closed port: the tests stop at the provider's redirect.
pub(crate) const APP: &str = "http://127.0.0.1:9";

/// One running provider process; it exits when the test process does (its
/// standard input closes).
pub(crate) struct Op {
    pub(crate) issuer: String,
    child: Mutex<Child>,
    _stdin: ChildStdin,
}

impl Drop for Op {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Everything the tests share.
pub(crate) struct Harness {
    pub(crate) acme: Op,
    pub(crate) globex: Op,
    pub(crate) rotating: Op,
    /// Logout tokens the providers POSTed to the back-channel URI.
    pub(crate) logout_tokens: Arc<Mutex<Vec<String>>>,
    pub(crate) secrets: tempfile::TempDir,
}

static HARNESS: OnceLock<Option<Harness>> = OnceLock::new();

/// The harness, or `None` (after printing why) when Node.js is missing and
/// `PALISADE_CI` is unset. Under `PALISADE_CI` a missing Node.js fails the test.
pub(crate) fn harness() -> Option<&'static Harness> {
    HARNESS.get_or_init(start).as_ref()
}

fn skip_or_fail<T>(why: &str) -> Option<T> {
    assert!(
        std::env::var_os("PALISADE_CI").is_none(),
        "PALISADE_CI is set and the OpenID Provider cannot run: {why}"
    );
    eprintln!("skipped: {why}");
    None
}

fn tool_works(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The directory of the installed provider (`node provider.mjs` runs
/// there), or `None` (after printing why) when Node.js is missing and
/// `PALISADE_CI` is unset; under `PALISADE_CI` a missing Node.js fails.
pub(crate) fn provider_dir() -> Option<PathBuf> {
    if !tool_works("node") {
        return skip_or_fail("Node.js is not installed (apt-get install nodejs npm)");
    }
    match install() {
        Ok(dir) => Some(dir),
        Err(why) => skip_or_fail(&why),
    }
}

/// Installs the provider's packages once per package-lock version.
fn install() -> Result<PathBuf, String> {
    let lock = PROVIDER_FILES
        .iter()
        .find(|(name, _)| *name == "package-lock.json")
        .map(|(_, text)| *text)
        .unwrap_or_default();
    let digest = Sha256::digest(lock.as_bytes());
    let hash = data_encoding::HEXLOWER.encode(digest.get(..8).unwrap_or_default());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("palisade-sso-provider-{hash}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (file, text) in PROVIDER_FILES {
        // Rewritten only when changed: another test process may be starting it.
        if std::fs::read_to_string(dir.join(file)).ok().as_deref() != Some(text) {
            std::fs::write(dir.join(file), text)
                .map_err(|e| format!("cannot write {file}: {e}"))?;
        }
    }
    if !dir.join("node_modules/oidc-provider/package.json").exists() {
        if !tool_works("npm") {
            return Err("npm is not installed (apt-get install npm, or Node.js 20+)".to_owned());
        }
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .map_err(|e| format!("cannot run npm: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "npm ci failed (it needs the npm registry): {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(dir)
}

/// A provider process that was started and has not said it is ready yet.
pub(crate) struct Starting {
    name: String,
    dir: PathBuf,
    child: Child,
    stdin: ChildStdin,
    ready: mpsc::Receiver<String>,
}

/// Starts `node provider.mjs` with `config`; [`Starting::ready`] waits for it.
pub(crate) fn start_provider(dir: &Path, name: &str, config: &Value) -> Starting {
    let config_path = dir.join(format!("{name}-{}.json", std::process::id()));
    std::fs::write(&config_path, config.to_string()).unwrap();
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let mut child = Command::new("node")
        .arg("provider.mjs")
        .args(["--port", "0", "--exit-on-stdin-close", "--config"])
        .arg(&config_path)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("cannot start node");
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    Starting {
        name: name.to_owned(),
        dir: dir.to_owned(),
        child,
        stdin,
        ready: rx,
    }
}

impl Starting {
    /// Waits (30 s at most) for the provider's ready line.
    pub(crate) fn ready(self) -> Op {
        let (name, dir) = (&self.name, self.dir.display());
        let line = self
            .ready
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("provider `{name}` did not start (see {dir}/{name}.log)"));
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("provider `{name}` said {line:?} (see {dir}/{name}.log)"));
        Op {
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
            child: Mutex::new(self.child),
            _stdin: self.stdin,
        }
    }
}

/// A loopback receiver of back-channel logout POSTs.
fn logout_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let sink = tokens.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then as many body bytes as Content-Length says.
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if data.len() >= end + 4 + length {
                        let body = &text[end + 4..end + 4 + length];
                        for (k, v) in url_form(body) {
                            if k == "logout_token" {
                                sink.lock().unwrap().push(v);
                            }
                        }
                        break;
                    }
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, tokens)
}

/// Decodes an `application/x-www-form-urlencoded` body.
pub(crate) fn url_form(body: &str) -> Vec<(String, String)> {
    let url = Url::parse(&format!("http://x/?{body}")).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn user(email: &str, groups: &[&str], amr: &[&str]) -> Value {
    json!({ "email": email, "email_verified": true, "name": email, "groups": groups, "amr": amr })
}

fn start() -> Option<Harness> {
    let dir = provider_dir()?;
    let (backchannel, logout_tokens) = logout_receiver();
    let mut users = serde_json::Map::new();
    users.insert("alice".into(), {
        let mut u = user("alice@acme.test", &["backoffice-admins"], &["pwd", "otp"]);
        u["acr"] = json!("mfa");
        u
    });
    users.insert("bob".into(), user("bob@acme.test", &["support"], &["pwd"]));
    users.insert("carol".into(), {
        let mut u = user("carol@acme.test", &["support"], &["pwd", "hwk"]);
        u["disabled"] = json!(true);
        u
    });
    users.insert(
        "dave".into(),
        user("dave@evil.test", &["support"], &["pwd", "otp"]),
    );
    users.insert(
        "erin".into(),
        user("erin@acme.test", &["marketing"], &["pwd", "otp"]),
    );
    users.insert("frank".into(), {
        let mut u = user("frank@acme.test", &["support"], &["pwd", "otp"]);
        u["email_verified"] = json!(false);
        u
    });
    users.insert(
        "olga".into(),
        user("olga@acme.test", &["support"], &["pwd", "otp"]),
    );
    users.insert(
        "harry".into(),
        user("harry@acme.test", &["support"], &["pwd", "otp"]),
    );
    let acme = start_provider(
        &dir,
        "acme",
        &json!({
            "clients": [
                {
                    "client_id": "backoffice-acme",
                    "client_secret": "secret-acme",
                    "redirect_uris": [format!("{APP}/sso/acme/callback")],
                    "post_logout_redirect_uris": [format!("{APP}/")],
                    "backchannel_logout_uri": backchannel,
                    "backchannel_logout_session_required": true,
                },
                {
                    "client_id": "backoffice-initech",
                    "client_secret": "secret-initech",
                    "redirect_uris": [format!("{APP}/sso/initech/callback")],
                },
            ],
            "users": users,
        }),
    );
    let globex = start_provider(
        &dir,
        "globex",
        &json!({
            "clients": [{
                "client_id": "backoffice-globex",
                "client_secret": "secret-globex",
                "redirect_uris": [format!("{APP}/sso/globex/callback")],
            }],
            "users": { "mallory": user("mallory@globex.test", &["support"], &["pwd", "otp"]) },
        }),
    );
    let rotating = start_provider(
        &dir,
        "rotating",
        &json!({
            "clients": [{
                "client_id": "backoffice-rot",
                "client_secret": "secret-rot",
                "redirect_uris": [format!("{APP}/sso/rot/callback")],
            }],
            "users": { "alice": user("alice@acme.test", &["support"], &["pwd", "otp"]) },
        }),
    );
    let (acme, globex, rotating) = (acme.ready(), globex.ready(), rotating.ready());
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("acme.secret"), "secret-acme\n").unwrap();
    std::fs::write(secrets.path().join("globex.secret"), "secret-globex").unwrap();
    std::fs::write(secrets.path().join("rot.secret"), "secret-rot").unwrap();
    Some(Harness {
        acme,
        globex,
        rotating,
        logout_tokens,
        secrets,
    })
}

impl Harness {
    /// The configuration of the four tenants.
    pub(crate) fn config_text(&self) -> String {
        let secrets = self.secrets.path().display();
        format!(
            r#"
[tenants.acme]
issuer = "{acme}"
client_id = "backoffice-acme"
client_secret_file = "{secrets}/acme.secret"
redirect_uri = "{APP}/sso/acme/callback"
post_logout_redirect_uri = "{APP}/"
scopes = ["email", "profile", "groups"]
allowed_email_domains = ["acme.test"]
jit = "provision"

[tenants.acme.second_factor]
amr = ["otp", "hwk", "mfa"]

[[tenants.acme.roles]]
claim = "groups"
value = "backoffice-admins"
role = "Manager"

[[tenants.acme.roles]]
claim = "groups"
value = "support"
role = "Operator"

[tenants.initech]
issuer = "{acme}"
client_id = "backoffice-initech"
client_secret_key = "initech-oidc"
redirect_uri = "{APP}/sso/initech/callback"
scopes = ["email", "groups"]
allowed_email_domains = ["acme.test"]
default_role = "Viewer"
second_factor = {{ amr = ["hwk"], fallback = "local-totp" }}

[tenants.globex]
issuer = "{globex}"
client_id = "backoffice-globex"
client_secret_file = "{secrets}/globex.secret"
redirect_uri = "{APP}/sso/globex/callback"
allowed_email_domains = ["globex.test"]
jit = "provision"
default_role = "Operator"
second_factor = {{ amr = ["otp"] }}

[tenants.rot]
issuer = "{rotating}"
client_id = "backoffice-rot"
client_secret_file = "{secrets}/rot.secret"
redirect_uri = "{APP}/sso/rot/callback"
allowed_email_domains = ["acme.test"]
jit = "provision"
default_role = "Operator"
second_factor = {{ amr = ["otp"] }}
"#,
            acme = self.acme.issuer,
            globex = self.globex.issuer,
            rotating = self.rotating.issuer,
        )
    }

    /// A fresh `Sso` over the four tenants with its own audit log.
    pub(crate) fn sso(&self) -> (Sso, Arc<AuditLog<MemoryStore>>) {
        let log = Arc::new(AuditLog::new());
        let config = Config::from_toml(&self.config_text()).unwrap();
        let sso = Sso::new(config, log.clone())
            .unwrap()
            .with_client_secrets(|key| {
                (key == "initech-oidc").then(|| palisade_sso::ClientSecret::new("secret-initech"))
            });
        (sso, log)
    }
}

/// An HTTP client with a cookie jar that follows no redirects: a browser.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Follows the sign-in through the provider's login page as `user` until the
/// provider redirects to the application; returns that callback's query.
pub(crate) async fn sign_in_at_provider(
    browser: &reqwest::Client,
    start: &Url,
    user: &str,
) -> Callback {
    let mut url = start.clone();
    let mut logged_in = false;
    for _ in 0..10 {
        let response = browser.get(url.clone()).send().await.unwrap();
        let status = response.status();
        if status.is_success() && url.path().starts_with("/interaction/") && !logged_in {
            let page = response.text().await.unwrap();
            assert!(page.contains("name=\"login\""), "login page: {page}");
            let action = url.join(&format!("{}/login", url.path())).unwrap();
            let response = browser
                .post(action.clone())
                .form(&[("login", user), ("password", "anything")])
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_redirection(),
                "login answered {}",
                response.status()
            );
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            url = action.join(&location).unwrap();
            logged_in = true;
            continue;
        }
        assert!(
            status.is_redirection(),
            "{url} answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let next = url.join(&location).unwrap();
        if next.as_str().starts_with(APP) {
            return Callback::from_query(next.query().unwrap_or("")).unwrap();
        }
        url = next;
    }
    panic!("the sign-in did not come back to the application");
}

/// POSTs a JSON admin request to a provider.
pub(crate) async fn admin(op: &Op, path: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}{path}", op.issuer))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// How often the provider's key set was fetched.
pub(crate) async fn jwks_fetches(op: &Op) -> u64 {
    let stats: Value = reqwest::get(format!("{}/admin/stats", op.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["jwks_fetches"].as_u64().unwrap()
}

/// Every record of the log.
pub(crate) fn records(log: &AuditLog<MemoryStore>) -> Vec<Record> {
    log.read(0, log.len().unwrap()).unwrap()
}

/// The last record, which must be a refusal of `action` with `reason`.
pub(crate) fn assert_refusal_recorded(log: &AuditLog<MemoryStore>, action: &str, reason: &str) {
    let records = records(log);
    let last = records.last().expect("no audit record");
    assert_eq!(last.action(), action);
    assert_ne!(last.outcome(), Outcome::Success);
    assert_eq!(
        last.payload().unwrap()["reason"],
        json!(reason),
        "payload: {:?}",
        last.payload()
    );
}
