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
use palisade_backoffice::{Backoffice, Config, KeySource, ServeOptions, Tls};

/// mimalloc: a request allocates many small, short-lived values on
/// whichever of the runtime's threads runs it; glibc's allocator spent about
/// a fifth of the server's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        #[command(flatten)]
        setup: Setup,
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
        /// Threads for blocking work (database calls, decryption, audit
        /// commits); default: as many as --pool. More threads than
        /// connections wait for a connection and crowd the cores: under
        /// load, the default blocking pool (up to 512 threads) served a
        /// third fewer reads
        #[arg(long, value_name = "N")]
        blocking_threads: Option<usize>,
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
        /// The URL browsers reach the server at (`https://backoffice.example`),
        /// from which single sign-on's redirect URI is made; by default the
        /// listening address when it is loopback
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
    /// Create the key-encryption key on the PKCS#11 token (setup, once):
    /// non-extractable, sensitive, for encryption and decryption only
    HsmInit {
        #[command(flatten)]
        setup: Setup,
    },
    /// Make a backup now, then its restore drill (exit 1 if the drill fails)
    Backup {
        #[command(flatten)]
        setup: Setup,
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
        #[command(flatten)]
        setup: Setup,
        /// The sealed backup
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The new data folder (must not exist)
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
    },
    /// Export a tenant's audit records as an evidence bundle (server stopped)
    Evidence {
        #[command(flatten)]
        setup: Setup,
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
        #[command(flatten)]
        setup: Setup,
        #[arg(long)]
        tenant: String,
    },
}

/// Where the data and the keys are, shared by every command.
#[derive(clap::Args)]
struct Setup {
    /// Data directory: SQLite database, audit logs, backups' keys
    #[arg(long, value_name = "DIR", default_value = "backoffice-data")]
    data: PathBuf,
    /// Development: a plain keyring file in the data folder (made on first
    /// start) and unscanned attachments are accepted. Never in production.
    #[arg(long)]
    dev: bool,
    /// The keyring file: plain with --dev, else wrapped under --kek or a
    /// PKCS#11 token [default: DATA/keyring.json]
    #[arg(long, value_name = "FILE", env = "BACKOFFICE_KEYRING")]
    keyring: Option<PathBuf>,
    /// The key-encryption key file (outside the data folder)
    #[arg(
        long,
        value_name = "FILE",
        env = "BACKOFFICE_KEK",
        conflicts_with = "hsm_module"
    )]
    kek: Option<PathBuf>,
    /// The PKCS#11 module of the HSM holding the key-encryption key
    #[arg(
        long,
        value_name = "SO",
        env = "BACKOFFICE_HSM_MODULE",
        requires = "hsm_pin_file"
    )]
    hsm_module: Option<PathBuf>,
    /// The token's label
    #[arg(
        long,
        value_name = "LABEL",
        default_value = "palisade",
        env = "BACKOFFICE_HSM_TOKEN"
    )]
    hsm_token: String,
    /// The key-encryption key's label on the token
    #[arg(
        long,
        value_name = "LABEL",
        default_value = "palisade-kek",
        env = "BACKOFFICE_HSM_KEY"
    )]
    hsm_key: String,
    /// A file (0600) holding the token's user PIN
    #[arg(long, value_name = "FILE", env = "BACKOFFICE_HSM_PIN_FILE")]
    hsm_pin_file: Option<PathBuf>,
    /// The ClamAV daemon scanning attachments (`/run/clamav/clamd.ctl` or `host:port`)
    #[arg(long, value_name = "ADDR", env = "BACKOFFICE_CLAMD")]
    clamd: Option<palisade_scan::Address>,
    /// Store attachments unscanned when clamd cannot be reached (default: refuse them)
    #[arg(long)]
    scan_fail_open: bool,
    /// The CA certificate(s) (PEM) that signed the PostgreSQL server's
    /// certificate: every database connection then uses TLS and verifies the
    /// server's certificate and host name (libpq's sslmode=verify-full)
    #[arg(long, value_name = "FILE", env = "BACKOFFICE_DATABASE_CA")]
    database_ca: Option<PathBuf>,
}

impl Setup {
    /// The configuration: keys and scanner as given; the PostgreSQL URL
    /// (which may hold a password) from `BACKOFFICE_DATABASE_URL`.
    fn config(self, pool: usize) -> Config {
        let mut config = Config::new(&self.data);
        let keyring = self
            .keyring
            .unwrap_or_else(|| self.data.join("keyring.json"));
        config.keys = match (self.kek, self.hsm_module, self.hsm_pin_file) {
            (Some(kek), _, _) => KeySource::LocalKek { kek, keyring },
            (None, Some(module), Some(pin)) => KeySource::Pkcs11 {
                token: palisade_crypt::Pkcs11Config::new(
                    module,
                    palisade_crypt::Pkcs11Token::Label(self.hsm_token),
                    self.hsm_key,
                    palisade_crypt::PinSource::File(pin),
                ),
                keyring,
            },
            _ => KeySource::Plain(keyring),
        };
        config.dev = self.dev;
        config.scanner = self.clamd;
        config.scan_fail_open = self.scan_fail_open;
        config.database_url = std::env::var("BACKOFFICE_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty());
        config.database_ca = self.database_ca;
        config.db_pool = pool;
        config
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            setup,
            listen,
            demo,
            sweep_every,
            log_level,
            pool,
            blocking_threads,
            behind_tls_proxy,
            tls_cert,
            tls_key,
            tls_dev,
            redirect_http,
            backup_at,
            backup_dir,
            public_url,
        } => {
            if let Err(e) = palisade_backoffice::init_logging(std::io::stderr, log_level) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .max_blocking_threads(blocking_threads.unwrap_or(pool).max(1))
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut config = setup.config(pool);
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
            config.public_url = public_url.or_else(|| {
                let scheme = if config.over_tls() { "https" } else { "http" };
                listen
                    .ip()
                    .is_loopback()
                    .then(|| format!("{scheme}://{listen}"))
            });
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
            setup,
            tenant,
            from,
            to,
            out,
        } => {
            let result = Backoffice::open(setup.config(1))
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
            setup,
            out,
            no_drill,
        } => {
            let made = Backoffice::open(setup.config(1)).and_then(|app| {
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
        Command::Restore { setup, from, into } => {
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
            let restored = Backoffice::open(setup.config(1)).and_then(|app| {
                target.keys = app.config().keys.clone();
                target.database_ca = app.config().database_ca.clone();
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
        Command::HsmInit { setup } => match setup.config(1).keys {
            KeySource::Pkcs11 { token, .. } => {
                match palisade_crypt::Pkcs11KeyProvider::generate_kek(&token) {
                    Ok(provider) => {
                        println!("created {} on the token", provider.kek_id());
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::from(2)
                    }
                }
            }
            _ => {
                eprintln!("error: give the token: --hsm-module and --hsm-pin-file");
                ExitCode::from(2)
            }
        },
        Command::Verify { setup, tenant } => {
            match Backoffice::open(setup.config(1)).and_then(|app| app.verify_audit(&tenant)) {
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
