//! The harness of the end-to-end tests: a server on 127.0.0.1 port 0, a
//! blocking HTTP client that keeps the session cookie, and captured logs.
//! (The throwaway PostgreSQL server is `palisade_testkit::Postgres`.)

#![allow(dead_code, reason = "each test binary uses part of the harness")]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use palisade_backoffice::{Backoffice, Config};
use serde_json::Value;

/// Every log line of this test process, scrubbed by the app's subscriber.
pub(crate) fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buffer);
        palisade_backoffice::init_logging(
            move || Capture(Arc::clone(&sink)),
            tracing::Level::DEBUG,
        )
        .expect("logging");
        buffer
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) fn captured_logs() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

/// The certificate each HTTPS server's browsers trust, by base URL.
fn trusted_roots() -> &'static Mutex<std::collections::HashMap<String, std::path::PathBuf>> {
    static ROOTS: OnceLock<Mutex<std::collections::HashMap<String, std::path::PathBuf>>> =
        OnceLock::new();
    ROOTS.get_or_init(Default::default)
}

/// A server over HTTPS with a development certificate, which the browsers
/// made for it trust.
pub(crate) fn start_tls() -> Server {
    let server = start_with(|config| config.tls = Some(palisade_backoffice::Tls::Development));
    let (cert, _) = palisade_backoffice::development_certificate(server.app.data_dir());
    trusted_roots()
        .lock()
        .unwrap()
        .insert(server.url.clone(), cert);
    server
}

/// A running server.
/// Fields drop in order: the runtime first, so that the last reference to
/// the app (whose PostgreSQL clients must not be dropped inside the
/// runtime) is released on the test's thread.
pub(crate) struct Server {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) url: String,
    pub(crate) app: Arc<Backoffice>,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) fn start(database_url: Option<String>) -> Server {
    start_with(|config| config.database_url = database_url)
}

/// A server whose configuration `adjust` changes first.
pub(crate) fn start_with(adjust: impl FnOnce(&mut Config)) -> Server {
    start_in(tempfile::tempdir().unwrap(), adjust)
}

/// A production-like server: not a development configuration, its keyring
/// wrapped under a key-encryption key kept outside the data folder.
pub(crate) fn start_production(adjust: impl FnOnce(&mut Config)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let kek = dir.path().join("secrets").join("kek.json");
    std::fs::create_dir_all(kek.parent().unwrap()).unwrap();
    palisade_crypt::Keyring::generate()
        .unwrap()
        .create_file(&kek)
        .unwrap();
    let keyring = dir.path().join("data").join("keyring.wrapped");
    start_in(dir, |config| {
        config.dev = false;
        config.keys = palisade_backoffice::KeySource::LocalKek { kek, keyring };
        adjust(config);
    })
}

fn start_in(dir: tempfile::TempDir, adjust: impl FnOnce(&mut Config)) -> Server {
    logs();
    let mut config = Config::new(dir.path().join("data"));
    adjust(&mut config);
    let app = Arc::new(Backoffice::open(config).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let scheme = if app.config().tls.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{}", listener.local_addr().unwrap());
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

/// A browser-like client: one cookie jar of one session cookie.
pub(crate) struct Browser {
    agent: ureq::Agent,
    base: String,
    pub(crate) cookie: Option<String>,
    /// Every session token this client was given (to grep the logs for).
    pub(crate) tokens: Vec<String>,
    /// The raw `Set-Cookie` header of the last answer that set one.
    pub(crate) last_set_cookie: Option<String>,
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) text: String,
    pub(crate) headers: ureq::http::HeaderMap,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// An agent that trusts `root` (a PEM certificate) for HTTPS.
pub(crate) fn agent_trusting(root: Option<&std::path::Path>) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder().http_status_as_error(false);
    if let Some(root) = root {
        let pem = std::fs::read(root).unwrap();
        let cert = ureq::tls::Certificate::from_pem(&pem).unwrap().to_owned();
        #[allow(deprecated, reason = "the back office's TLS provider is ring's")]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        config = config.tls_config(
            ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::Rustls)
                .unversioned_rustls_crypto_provider(provider)
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
                .build(),
        );
    }
    config.build().into()
}

impl Browser {
    pub(crate) fn new(base: &str) -> Browser {
        let root = trusted_roots().lock().unwrap().get(base).cloned();
        Browser {
            agent: agent_trusting(root.as_deref()),
            base: base.to_owned(),
            cookie: None,
            tokens: Vec::new(),
            last_set_cookie: None,
        }
    }

    fn finish(
        &mut self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Answer {
        let mut response = response.unwrap_or_else(|e| panic!("request failed: {e}"));
        if let Some(set) = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
        {
            self.last_set_cookie = Some(set.to_owned());
            let pair = set.split(';').next().unwrap().to_owned();
            if let Some((_, token)) = pair.split_once('=')
                && !token.is_empty()
            {
                self.tokens.push(token.to_owned());
            }
            self.cookie = Some(pair);
        }
        let status = response.status().as_u16();
        if status == 500 {
            // The cause is only in the server's log: show its errors.
            for line in captured_logs().lines().filter(|l| l.contains("ERROR")) {
                eprintln!("server: {line}");
            }
        }
        let headers = response.headers().clone();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Answer {
            status,
            text,
            headers,
        }
    }

    pub(crate) fn get(&mut self, path: &str) -> Answer {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            request = request.header("Cookie", c);
        }
        let r = request.call();
        self.finish(r)
    }

    pub(crate) fn send(&mut self, method: &str, path: &str, body: Value) -> Answer {
        self.send_with(method, path, body, &[])
    }

    /// A request with extra headers (`Origin`, `Sec-Fetch-Site` …).
    pub(crate) fn send_with(
        &mut self,
        method: &str,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Answer {
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "POST" => self.agent.post(url),
            "PUT" => self.agent.put(url),
            "DELETE" => self.agent.delete(url).force_send_body(),
            other => panic!("method {other}"),
        };
        if let Some(c) = &self.cookie {
            request = request.header("Cookie", c);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let r = request.send_json(body);
        self.finish(r)
    }

    pub(crate) fn delete(&mut self, path: &str) -> Answer {
        self.send("DELETE", path, serde_json::json!({}))
    }

    pub(crate) fn post(&mut self, path: &str, body: Value) -> Answer {
        self.send("POST", path, body)
    }

    pub(crate) fn put(&mut self, path: &str, body: Value) -> Answer {
        self.send("PUT", path, body)
    }
}

/// Whether the environment demands every optional dependency.
pub(crate) fn ci() -> bool {
    std::env::var_os("PALISADE_CI").is_some()
}

// ---- back-office processes (the instances and load tests) -----------------

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use palisade_backoffice::DemoUser;
use serde_json::json;

/// One `palisade-backoffice serve` process.
pub(crate) struct Instance {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) name: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn spawn(data: &Path, database: &str) -> Instance {
    spawn_with(data, Some(database))
}

/// [`spawn`], on SQLite in `data` when `database` is `None`.
pub(crate) fn spawn_with(data: &Path, database: Option<&str>) -> Instance {
    spawn_args(data, database, &[])
}

/// [`spawn_with`], with more arguments to `serve`.
pub(crate) fn spawn_args(data: &Path, database: Option<&str>, extra: &[&str]) -> Instance {
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade-backoffice"))
        .args([
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--sweep-every",
            "1",
            "--data",
        ])
        .arg(data)
        .args(extra)
        .envs(database.map(|url| ("BACKOFFICE_DATABASE_URL", url)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut name) = (None, None);
    while url.is_none() || name.is_none() {
        let line = lines.next().expect("the instance started").unwrap();
        if let Some(rest) = line.strip_prefix("Palisade back office on ") {
            url = Some(rest.trim_end_matches('/').to_owned());
        }
        if let Some(rest) = line.trim().strip_prefix("instance: ") {
            name = Some(rest.to_owned());
        }
    }
    // Keep draining its output.
    std::thread::spawn(move || for _ in lines {});
    Instance {
        child,
        url: url.unwrap(),
        name: name.unwrap(),
    }
}

pub(crate) fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// Signs in on `url` with the current TOTP code (real time: the instances
/// run on the system clock) and steps up.
pub(crate) fn sign_in_real_time(url: &str, user: &DemoUser) -> Browser {
    let mut c = Browser::new(url);
    let a = c.post(
        "/api/login",
        json!({ "tenant": "acme", "email": user.email, "password": user.password.as_str() }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let code = user.code_at(now()).unwrap();
    let a = c.post("/api/login/second-factor", json!({ "code": code.as_str() }));
    assert_eq!(a.status, 200, "{}", a.text);
    let a = c.post(
        "/api/step-up",
        json!({ "password": user.password.as_str() }),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    c
}

/// The same session, sent to another instance.
pub(crate) fn on(url: &str, session: &Browser) -> Browser {
    let mut c = Browser::new(url);
    c.cookie = session.cookie.clone();
    c
}

/// How long until `check` holds (polled every 20 ms, at most 20 s).
pub(crate) fn until(mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(20), "never held");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}
