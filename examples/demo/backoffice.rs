//! `cargo run --release --example backoffice`: the back office with the
//! embedded default (SQLite and audit logs in a temporary directory), a demo
//! tenant whose logins and second-factor secrets are printed, served on
//! http://127.0.0.1:8080/ (or a free port if 8080 is taken) until Ctrl-C.
//! Set `BACKOFFICE_DATABASE_URL` to use PostgreSQL instead.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use palisade_backoffice::{Config, ServeOptions};

fn main() -> ExitCode {
    if let Err(e) = palisade_backoffice::init_logging(std::io::stderr, tracing_level()) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let data = match tempfile::Builder::new()
        .prefix("palisade-backoffice-")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot create a data directory: {e}");
            return ExitCode::from(2);
        }
    };
    let mut config = Config::new(data.path());
    config.database_url = std::env::var("BACKOFFICE_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let preferred: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080));
    let listen = if std::net::TcpListener::bind(preferred).is_ok() {
        preferred
    } else {
        SocketAddr::from(([127, 0, 0, 1], 0))
    };
    let options = ServeOptions {
        config,
        listen,
        demo_tenant: Some("acme".into()),
        sweep_every: Duration::from_secs(60),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(palisade_backoffice::run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn tracing_level() -> palisade_backoffice::LogLevel {
    palisade_backoffice::LogLevel::INFO
}
