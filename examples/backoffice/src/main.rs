//! `palisade-backoffice`: serve the back office, or export and verify a
//! tenant's audit evidence offline.
//!
//! The PostgreSQL URL (which may hold a password) is read from the
//! environment variable `BACKOFFICE_DATABASE_URL`, never from arguments.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use palisade_backoffice::{Backoffice, Config, ServeOptions, Tls};

#[derive(Parser)]
#[command(
    version,
    about = "A multi-tenant back office composed from the Palisade crates"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API and the page until Ctrl-C
    Serve {
        /// Data directory: keyring, SQLite database, audit logs
        #[arg(long, value_name = "DIR", default_value = "backoffice-data")]
        data: PathBuf,
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Seed a demo tenant with this id and print its logins
        #[arg(long, value_name = "TENANT")]
        demo: Option<String>,
        /// Seconds between retention sweeps
        #[arg(long, value_name = "S", default_value_t = 3600)]
        sweep_every: u64,
        /// Log level (error, warn, info, debug, trace)
        #[arg(long, default_value = "info")]
        log_level: tracing::Level,
        /// Database connections
        #[arg(long, default_value_t = 4)]
        pool: usize,
        /// Clients reach the server through a proxy that terminates TLS: the
        /// session cookie gets `Secure` and answers carry HSTS
        #[arg(long, conflicts_with_all = ["tls_cert", "tls_dev"])]
        behind_tls_proxy: bool,
        /// Serve HTTPS with this certificate chain (PEM; needs --tls-key)
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key of --tls-cert (PEM)
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve HTTPS with a self-signed development certificate made on
        /// first start (DATA/tls/cert.pem)
        #[arg(long, conflicts_with = "tls_cert")]
        tls_dev: bool,
        /// Also listen here for plain HTTP and redirect every request to HTTPS
        #[arg(long, value_name = "ADDR")]
        redirect_http: Option<SocketAddr>,
        /// Make a backup (and its restore drill) every day at this time, UTC
        #[arg(long, value_name = "HH:MM", requires = "backup_dir")]
        backup_at: Option<String>,
        /// Where the scheduled backups go
        #[arg(long, value_name = "DIR")]
        backup_dir: Option<PathBuf>,
    },
    /// Make a backup now, then its restore drill (exit 1 if the drill fails)
    Backup {
        #[arg(long, value_name = "DIR", default_value = "backoffice-data")]
        data: PathBuf,
        /// Where the sealed backup goes
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Skip the restore drill
        #[arg(long)]
        no_drill: bool,
    },
    /// Restore a backup into a new data folder (a PostgreSQL backup into the
    /// database of BACKOFFICE_RESTORE_DATABASE_URL)
    Restore {
        /// The installation whose keys open the backup
        #[arg(long, value_name = "DIR", default_value = "backoffice-data")]
        data: PathBuf,
        /// The sealed backup
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The new data folder (must not exist)
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
    },
    /// Export a tenant's audit records as an evidence bundle (server stopped)
    Evidence {
        #[arg(long, value_name = "DIR", default_value = "backoffice-data")]
        data: PathBuf,
        #[arg(long)]
        tenant: String,
        #[arg(long, value_name = "N")]
        from: Option<u64>,
        #[arg(long, value_name = "M")]
        to: Option<u64>,
        /// Write the bundle here (default: standard output)
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Verify a tenant's audit log on disk (server stopped)
    Verify {
        #[arg(long, value_name = "DIR", default_value = "backoffice-data")]
        data: PathBuf,
        #[arg(long)]
        tenant: String,
    },
}

fn config(data: PathBuf, pool: usize) -> Config {
    let mut config = Config::new(data);
    config.database_url = std::env::var("BACKOFFICE_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    config.db_pool = pool;
    config
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            data,
            listen,
            demo,
            sweep_every,
            log_level,
            pool,
            behind_tls_proxy,
            tls_cert,
            tls_key,
            tls_dev,
            redirect_http,
            backup_at,
            backup_dir,
        } => {
            if let Err(e) = palisade_backoffice::init_logging(std::io::stderr, log_level) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut config = config(data, pool);
            config.secure_cookie = behind_tls_proxy;
            config.tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(Tls::Files { cert, key }),
                _ if tls_dev => Some(Tls::Development),
                _ => None,
            };
            if redirect_http.is_some() && config.tls.is_none() {
                eprintln!("error: --redirect-http needs HTTPS (--tls-cert/--tls-key or --tls-dev)");
                return ExitCode::from(2);
            }
            config.redirect_http = redirect_http;
            config.backups = match (backup_at, backup_dir) {
                (Some(at), Some(dir)) => match palisade_backoffice::BackupSchedule::daily(&at, dir)
                {
                    Ok(schedule) => Some(schedule),
                    Err(e) => {
                        eprintln!("error: --backup-at: {e}");
                        return ExitCode::from(2);
                    }
                },
                _ => None,
            };
            let options = ServeOptions {
                config,
                listen,
                demo_tenant: demo,
                sweep_every: Duration::from_secs(sweep_every.max(1)),
            };
            match runtime.block_on(palisade_backoffice::run(options)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Evidence {
            data,
            tenant,
            from,
            to,
            out,
        } => {
            let result = Backoffice::open(config(data, 1))
                .and_then(|app| app.export_evidence(&tenant, from, to))
                .and_then(|bundle| {
                    bundle
                        .to_json()
                        .map_err(|e| palisade_backoffice::Error::Internal(e.to_string()))
                });
            match result {
                Ok(json) => {
                    let written = match out {
                        Some(path) => std::fs::write(&path, json + "\n")
                            .map(|()| eprintln!("wrote {}", path.display())),
                        None => {
                            println!("{json}");
                            Ok(())
                        }
                    };
                    match written {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(e) => {
                            eprintln!("error: {e}");
                            ExitCode::from(2)
                        }
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Backup {
            data,
            out,
            no_drill,
        } => {
            let made = Backoffice::open(config(data, 1)).and_then(|app| {
                let report = app.backup(&out)?;
                let drill = if no_drill {
                    None
                } else {
                    Some(app.drill(&report)?)
                };
                Ok((report, drill))
            });
            match made {
                Ok((report, drill)) => {
                    println!(
                        "backup {}: {} ({} bytes, sha256 {})",
                        report.manifest.id,
                        report.path.display(),
                        report.sealed_bytes,
                        report.sealed_sha256
                    );
                    match drill {
                        Some(d) if d.ok => {
                            println!("restore drill passed: {}", d.findings.join("; "));
                            ExitCode::SUCCESS
                        }
                        Some(d) => {
                            println!("RESTORE DRILL FAILED: {}", d.findings.join("; "));
                            ExitCode::from(1)
                        }
                        None => ExitCode::SUCCESS,
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Restore { data, from, into } => {
            if into.exists() {
                eprintln!(
                    "error: `{}` exists; restore into a new folder",
                    into.display()
                );
                return ExitCode::from(2);
            }
            let mut target = Config::new(&into);
            target.database_url = std::env::var("BACKOFFICE_RESTORE_DATABASE_URL")
                .ok()
                .filter(|u| !u.is_empty());
            let restored = Backoffice::open(config(data, 1)).and_then(|app| {
                target.keyring = app.config().keyring.clone();
                app.restore(&from, &target)
            });
            match restored {
                Ok(manifest) => {
                    println!(
                        "restored backup {} into {} ({} components verified)",
                        manifest.id,
                        into.display(),
                        manifest.components.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Verify { data, tenant } => {
            match Backoffice::open(config(data, 1)).and_then(|app| app.verify_audit(&tenant)) {
                Ok(Ok(records)) => {
                    println!("ok: {records} records verified");
                    ExitCode::SUCCESS
                }
                Ok(Err(finding)) => {
                    println!("FAILED: {finding}");
                    ExitCode::from(1)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
