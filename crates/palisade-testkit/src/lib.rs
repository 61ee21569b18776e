#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod clamd;
mod softhsm;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use crate::clamd::Clamd;
pub use crate::softhsm::SoftHsm;

/// Why a throwaway server or token could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `initdb` and `pg_ctl` under `/usr/lib/postgresql/*/bin`.
    #[error("no PostgreSQL binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)")]
    NotInstalled,
    /// No `/usr/sbin/clamd`, or no `sigtool` on the `PATH`.
    #[error("no /usr/sbin/clamd or no sigtool (apt-get install clamav clamav-daemon)")]
    ClamdNotInstalled,
    /// A file-system or process-spawning operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `initdb`, `pg_ctl`, `chown`, `sigtool` or `clamd` exited with a
    /// failure (for `clamd`: the end of its log).
    #[error("{program} failed: {stderr}")]
    Command {
        /// The program that failed.
        program: &'static str,
        /// What it wrote on standard error.
        stderr: String,
    },
    /// No SoftHSM2 module (`libsofthsm2.so`) or no `softhsm2-util`.
    #[error("SoftHSM2 is not installed (apt-get install softhsm2)")]
    SoftHsmNotInstalled,
    /// The temporary directory's path is not UTF-8.
    #[error("the temporary directory's path is not UTF-8")]
    NonUtf8Path,
    /// The test CA or server certificate could not be generated.
    #[error("generating a test certificate: {0}")]
    Certificate(#[source] rcgen::Error),
}

/// How the throwaway server accepts connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    /// Plain TCP only (`ssl=off`).
    Plain,
    /// TLS offered (`ssl=on`, certificate from the harness's CA); plain
    /// connections still accepted, so a client that does not require TLS
    /// can be shown to connect in the clear.
    Tls,
}

/// A certificate authority made for one test run, and a server certificate
/// it signed for `localhost` and `127.0.0.1`.
struct TestPki {
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
}

impl TestPki {
    fn generate() -> Result<TestPki, Error> {
        let (ca, issuer) = certificate_authority("palisade test CA")?;
        let key = rcgen::KeyPair::generate().map_err(Error::Certificate)?;
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .map_err(Error::Certificate)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "palisade test PostgreSQL");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(Error::Certificate)?;
        Ok(TestPki {
            ca_pem: ca,
            server_cert_pem: cert.pem(),
            server_key_pem: key.serialize_pem(),
        })
    }
}

/// A self-signed CA certificate (PEM) and the issuer that signs with it.
fn certificate_authority(
    name: &str,
) -> Result<(String, rcgen::Issuer<'static, rcgen::KeyPair>), Error> {
    let key = rcgen::KeyPair::generate().map_err(Error::Certificate)?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(Error::Certificate)?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).map_err(Error::Certificate)?;
    Ok((cert.pem(), rcgen::Issuer::new(params, key)))
}

/// A CA certificate (PEM) that signed nothing the harness's servers present:
/// a client trusting only it must refuse every [`Postgres::start_tls`]
/// server.
pub fn unrelated_ca_pem() -> Result<String, Error> {
    certificate_authority("palisade unrelated CA").map(|(pem, _)| pem)
}

/// A throwaway PostgreSQL server on loopback, stopped when dropped.
#[derive(Debug)]
pub struct Postgres {
    url: String,
    bin: PathBuf,
    data: String,
    as_user: Option<&'static str>,
    ca_pem: Option<(PathBuf, String)>,
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// Starts a server: `initdb` (trust authentication, user `postgres`,
    /// UTF-8) in a temporary directory, then `pg_ctl start` on a free port of
    /// 127.0.0.1, waiting until it accepts connections.
    pub fn start() -> Result<Postgres, Error> {
        Postgres::start_with(Transport::Plain)
    }

    /// Starts a server as [`Postgres::start`] does, with TLS on (`ssl=on`): a
    /// CA generated for this server alone signed its certificate (for
    /// `localhost` and `127.0.0.1`); [`Postgres::ca_pem_path`] and
    /// [`Postgres::ca_pem`] give the CA certificate to trust. The server still
    /// accepts plain connections, so that a client which does not insist on
    /// TLS can be seen to connect in the clear.
    pub fn start_tls() -> Result<Postgres, Error> {
        Postgres::start_with(Transport::Tls)
    }

    fn start_with(transport: Transport) -> Result<Postgres, Error> {
        let bin = find_binaries().ok_or(Error::NotInstalled)?;
        let as_user = running_as_root().then_some("postgres");
        let dir = tempfile::tempdir().map_err(io("creating a temporary directory"))?;
        let data_dir = dir.path().join("pg");
        std::fs::create_dir(&data_dir).map_err(io("creating the data directory"))?;
        let data = data_dir.to_str().ok_or(Error::NonUtf8Path)?.to_owned();
        if as_user.is_some() {
            let out = Command::new("chown")
                .arg("-R")
                .arg("postgres")
                .arg(dir.path())
                .output()
                .map_err(io("running chown"))?;
            check("chown", &out)?;
        }
        let out = run_as(
            as_user,
            &bin.join("initdb"),
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        check("initdb", &out)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(io("finding a free port"))?
            .port();
        let mut options = format!("-p {port} -h 127.0.0.1 -k {data}");
        let mut ca_pem = None;
        if transport == Transport::Tls {
            let pki = TestPki::generate()?;
            let tls = dir.path().join("tls");
            std::fs::create_dir(&tls).map_err(io("creating the TLS directory"))?;
            let write = |name: &str, text: &str| -> Result<String, Error> {
                use std::os::unix::fs::OpenOptionsExt;
                let path = tls.join(name);
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(io("writing a TLS file"))?;
                std::io::Write::write_all(&mut file, text.as_bytes())
                    .map_err(io("writing a TLS file"))?;
                path.to_str().map(str::to_owned).ok_or(Error::NonUtf8Path)
            };
            let cert = write("server.crt", &pki.server_cert_pem)?;
            let key = write("server.key", &pki.server_key_pem)?;
            let ca = write("ca.crt", &pki.ca_pem)?;
            if as_user.is_some() {
                let out = Command::new("chown")
                    .arg("-R")
                    .arg("postgres")
                    .arg(&tls)
                    .output()
                    .map_err(io("running chown"))?;
                check("chown", &out)?;
            }
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={cert} -c ssl_key_file={key}"
            ));
            ca_pem = Some((PathBuf::from(ca), pki.ca_pem));
        }
        let log = format!("{data}/server.log");
        let out = run_as(
            as_user,
            &bin.join("pg_ctl"),
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        )?;
        check("pg_ctl start", &out)?;
        Ok(Postgres {
            url: format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
            bin,
            data,
            as_user,
            ca_pem,
            _dir: dir,
        })
    }

    /// For tests: starts a server, or returns `None` (printing why) when
    /// PostgreSQL is not installed and the environment variable `PALISADE_CI`
    /// is unset. Any other failure, or a missing installation under
    /// `PALISADE_CI`, panics so that the test fails.
    pub fn start_or_skip() -> Option<Postgres> {
        Postgres::or_skip(Postgres::start())
    }

    /// [`Postgres::start_tls`] for tests, skipping as
    /// [`Postgres::start_or_skip`] does.
    pub fn start_tls_or_skip() -> Option<Postgres> {
        Postgres::or_skip(Postgres::start_tls())
    }

    #[allow(
        clippy::panic,
        reason = "a test fixture: a server that cannot start must fail the test using it"
    )]
    fn or_skip(started: Result<Postgres, Error>) -> Option<Postgres> {
        match started {
            Ok(server) => Some(server),
            Err(Error::NotInstalled) if std::env::var_os("PALISADE_CI").is_none() => {
                eprintln!("skipped: {}", Error::NotInstalled);
                None
            }
            Err(e) => panic!("cannot start a throwaway PostgreSQL: {e}"),
        }
    }

    /// The connection string (`host=127.0.0.1 port=… user=postgres dbname=postgres`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The connection string naming the host `localhost` instead of
    /// `127.0.0.1` (the server certificate names both).
    pub fn url_localhost(&self) -> String {
        self.url.replacen("host=127.0.0.1", "host=localhost", 1)
    }

    /// The file holding the CA certificate (PEM) that signed the server's
    /// certificate, for a server started with [`Postgres::start_tls`].
    pub fn ca_pem_path(&self) -> Option<&Path> {
        self.ca_pem.as_ref().map(|(path, _)| path.as_path())
    }

    /// The CA certificate (PEM) that signed the server's certificate, for a
    /// server started with [`Postgres::start_tls`].
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_ref().map(|(_, pem)| pem.as_str())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = run_as(
            self.as_user,
            &self.bin.join("pg_ctl"),
            &["-D", &self.data, "-m", "immediate", "stop"],
        );
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb` and `pg_ctl`.
fn find_binaries() -> Option<PathBuf> {
    let entries = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    let mut dirs: Vec<(u32, PathBuf)> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, p)| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, p)| p)
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn run_as(as_user: Option<&str>, program: &Path, args: &[&str]) -> Result<Output, Error> {
    let mut command = match as_user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.arg("-u").arg(user).arg("--").arg(program);
            c
        }
        None => Command::new(program),
    };
    command
        .args(args)
        .output()
        .map_err(io("running a PostgreSQL program"))
}

pub(crate) fn check(program: &'static str, out: &Output) -> Result<(), Error> {
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Command {
            program,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

pub(crate) fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { what, source }
}
