//! The harness of the end-to-end tests: a server on 127.0.0.1 port 0, a
//! blocking HTTP client that keeps the session cookie, captured logs, and a
//! throwaway PostgreSQL server.

#![allow(dead_code, reason = "each test binary uses part of the harness")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
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
    logs();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("data"));
    config.database_url = database_url;
    let app = Arc::new(Backoffice::open(config).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
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
pub(crate) struct Client {
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
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

impl Client {
    pub(crate) fn new(base: &str) -> Client {
        Client {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
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
        let mut response = response.unwrap();
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
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Answer { status, text }
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
        let url = format!("{}{path}", self.base);
        let request = match method {
            "POST" => self.agent.post(url),
            "PUT" => self.agent.put(url),
            other => panic!("method {other}"),
        };
        let request = match &self.cookie {
            Some(c) => request.header("Cookie", c),
            None => request,
        };
        let r = request.send_json(body);
        self.finish(r)
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

/// A throwaway PostgreSQL server (initdb + pg_ctl in a temp dir, loopback).
pub(crate) struct Postgres {
    pub(crate) url: String,
    bin: PathBuf,
    data: PathBuf,
    as_user: Option<&'static str>,
    _dir: tempfile::TempDir,
}

fn run_as(as_user: Option<&str>, program: &Path, args: &[&str]) -> std::process::Output {
    let mut command = match as_user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.arg("-u").arg(user).arg("--").arg(program);
            c
        }
        None => Command::new(program),
    };
    command.args(args).output().unwrap()
}

impl Postgres {
    /// Starts a server, or `None` (with the reason printed) when the
    /// binaries are missing and `PALISADE_CI` is unset.
    pub(crate) fn start() -> Option<Postgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|entries| {
                let mut dirs: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                    .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
                    .collect();
                dirs.sort();
                dirs.pop()
            });
        let Some(bin) = bin else {
            assert!(
                !ci(),
                "PALISADE_CI is set but no PostgreSQL binaries under /usr/lib/postgresql"
            );
            eprintln!(
                "skipped: no PostgreSQL binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
            );
            return None;
        };
        use std::os::unix::fs::MetadataExt;
        let root = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        // initdb refuses to run as root: run the server as `postgres`.
        let as_user = root.then_some("postgres");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("pg");
        std::fs::create_dir(&data).unwrap();
        if root {
            let status = Command::new("chown")
                .arg("-R")
                .arg("postgres")
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let out = run_as(
            as_user,
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = format!("-p {port} -h 127.0.0.1 -k {} -c fsync=on", data.display());
        let log = data.join("server.log");
        let out = run_as(
            as_user,
            &bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Postgres {
            url: format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
            bin,
            data,
            as_user,
            _dir: dir,
        })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = run_as(
            self.as_user,
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap_or(""),
                "-m",
                "immediate",
                "stop",
            ],
        );
    }
}
