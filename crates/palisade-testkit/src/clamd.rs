//! A throwaway ClamAV daemon with an offline signature database.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, check, io};

/// Where Debian's `clamav-daemon` puts the daemon.
const CLAMD: &str = "/usr/sbin/clamd";
/// Debian's `clamav` package puts `sigtool` on the `PATH`.
const SIGTOOL: &str = "sigtool";
/// How long a start may take before it counts as failed (a tiny database
/// loads in well under a second; a loaded CI machine gets slack).
const START_DEADLINE: Duration = Duration::from_secs(30);

/// A throwaway `clamd` listening on a Unix socket in a temporary directory
/// and on a free port of 127.0.0.1, killed when dropped.
///
/// Its database holds two signatures made offline, no `freshclam` and no
/// network: [`Clamd::EICAR_MD5_SIGNATURE`], the MD5 of the exact EICAR test
/// file (made with `sigtool --md5`), and [`Clamd::EICAR_BODY_SIGNATURE`], the
/// EICAR string anywhere in a file (an `.ndb` body signature), so a file that
/// *contains* the test string is caught too. Either may be the one reported
/// for the exact EICAR file. Its `StreamMaxLength` is
/// [`Clamd::STREAM_MAX_LENGTH`].
#[derive(Debug)]
pub struct Clamd {
    child: Option<Child>,
    socket: PathBuf,
    tcp: SocketAddr,
    dir: tempfile::TempDir,
}

impl Clamd {
    /// The daemon's `StreamMaxLength`: the largest stream it scans (4 MiB).
    pub const STREAM_MAX_LENGTH: u64 = 4 << 20;
    /// The name reported for the exact EICAR file by its MD5 signature.
    pub const EICAR_MD5_SIGNATURE: &str = "Palisade.Test.EICAR-MD5.UNOFFICIAL";
    /// The name reported for any file containing the EICAR string.
    pub const EICAR_BODY_SIGNATURE: &str = "Palisade.Test.EICAR-Body.UNOFFICIAL";

    /// Starts a daemon: writes the signature database and a configuration
    /// (`Foreground`, `LocalSocket`, `TCPSocket` on 127.0.0.1, a log file) to
    /// a temporary directory, starts `/usr/sbin/clamd` and waits until both
    /// sockets answer `PING`.
    pub fn start() -> Result<Clamd, Error> {
        if !Path::new(CLAMD).exists() || !on_path(SIGTOOL) {
            return Err(Error::ClamdNotInstalled);
        }
        let dir = tempfile::tempdir().map_err(io("creating a temporary directory"))?;
        let db = dir.path().join("db");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&db).map_err(io("creating the database directory"))?;
        std::fs::create_dir(&tmp).map_err(io("creating the scratch directory"))?;
        write_database(dir.path(), &db)?;
        // A port freed just before clamd binds it can be taken in between:
        // try a few.
        let mut last = None;
        for _ in 0..3 {
            match launch(dir.path(), &db, &tmp) {
                Ok((child, socket, tcp)) => {
                    return Ok(Clamd {
                        child: Some(child),
                        socket,
                        tcp,
                        dir,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(Error::ClamdNotInstalled))
    }

    /// For tests: starts a daemon, or returns `None` (printing why) when
    /// ClamAV's daemon is not installed and the environment variable
    /// `PALISADE_CI` is unset. Any other failure, or a missing installation
    /// under `PALISADE_CI`, panics so that the test fails.
    #[allow(
        clippy::panic,
        reason = "a test fixture: a server that cannot start must fail the test using it"
    )]
    pub fn start_or_skip() -> Option<Clamd> {
        match Clamd::start() {
            Ok(server) => Some(server),
            Err(Error::ClamdNotInstalled) if std::env::var_os("PALISADE_CI").is_none() => {
                eprintln!("skipped: {}", Error::ClamdNotInstalled);
                None
            }
            Err(e) => panic!("cannot start a throwaway clamd: {e}"),
        }
    }

    /// The daemon's Unix socket.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// The daemon's TCP address on 127.0.0.1.
    pub fn tcp_address(&self) -> SocketAddr {
        self.tcp
    }

    /// The daemon's log file (what it scanned and found).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("clamd.log")
    }

    /// Kills the daemon now (a crashed or stopped scanner); its sockets stop
    /// answering. Dropping does the same.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The 68-byte EICAR anti-virus test file, assembled at run time so that
    /// this source file is not itself flagged by a scanner.
    pub fn eicar() -> Vec<u8> {
        let mut file = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$".to_vec();
        file.extend_from_slice(b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
        file
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `test.hdb` from `sigtool --md5` (renamed) and `test.ndb` with the EICAR
/// string as a body signature.
fn write_database(dir: &Path, db: &Path) -> Result<(), Error> {
    let sample = dir.join("eicar.com");
    std::fs::write(&sample, Clamd::eicar()).map_err(io("writing the EICAR sample"))?;
    let out = Command::new(SIGTOOL)
        .arg("--md5")
        .arg(&sample)
        .output()
        .map_err(io("running sigtool"))?;
    check("sigtool --md5", &out)?;
    // `<md5>:<size>:<file name>`; the name becomes ours.
    let line = String::from_utf8_lossy(&out.stdout);
    let mut fields = line.trim().split(':');
    let (Some(md5), Some(size)) = (fields.next(), fields.next()) else {
        return Err(Error::Command {
            program: "sigtool --md5",
            stderr: format!("unexpected output `{}`", line.trim()),
        });
    };
    let name = strip_unofficial(Clamd::EICAR_MD5_SIGNATURE);
    std::fs::write(db.join("test.hdb"), format!("{md5}:{size}:{name}\n"))
        .map_err(io("writing test.hdb"))?;
    let hex = data_encoding::HEXLOWER.encode(&Clamd::eicar());
    let name = strip_unofficial(Clamd::EICAR_BODY_SIGNATURE);
    // Name:TargetType:Offset:HexSignature (any file type, anywhere).
    std::fs::write(db.join("test.ndb"), format!("{name}:0:*:{hex}\n"))
        .map_err(io("writing test.ndb"))?;
    Ok(())
}

/// clamd appends `.UNOFFICIAL` to names from databases it does not sign.
fn strip_unofficial(name: &str) -> &str {
    name.strip_suffix(".UNOFFICIAL").unwrap_or(name)
}

fn launch(dir: &Path, db: &Path, tmp: &Path) -> Result<(Child, PathBuf, SocketAddr), Error> {
    let socket = dir.join("clamd.sock");
    let _ = std::fs::remove_file(&socket);
    let tcp = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(io("finding a free port"))?;
    let log = dir.join("clamd.log");
    let config = dir.join("clamd.conf");
    let text = format!(
        "Foreground yes\n\
         LocalSocket {socket}\n\
         LocalSocketMode 600\n\
         TCPSocket {port}\n\
         TCPAddr 127.0.0.1\n\
         DatabaseDirectory {db}\n\
         TemporaryDirectory {tmp}\n\
         LogFile {log}\n\
         StreamMaxLength {max}\n\
         Bytecode no\n\
         SelfCheck 0\n\
         ConcurrentDatabaseReload no\n",
        socket = socket.display(),
        port = tcp.port(),
        db = db.display(),
        tmp = tmp.display(),
        log = log.display(),
        max = Clamd::STREAM_MAX_LENGTH,
    );
    std::fs::write(&config, text).map_err(io("writing clamd.conf"))?;
    let mut child = Command::new(CLAMD)
        .arg("--config-file")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(io("starting clamd"))?;
    let started = Instant::now();
    let mut unix_since = None;
    loop {
        if pong_unix(&socket) {
            if pong_tcp(tcp) {
                return Ok((child, socket, tcp));
            }
            // clamd logs a TCP bind failure and carries on with its Unix
            // socket alone: give up on this port soon.
            unix_since.get_or_insert_with(Instant::now);
        }
        let exited = child.try_wait().ok().flatten();
        let tcp_failed = unix_since.is_some_and(|t| t.elapsed() > Duration::from_secs(2));
        if exited.is_some() || tcp_failed || started.elapsed() > START_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(Error::Command {
                program: "clamd",
                stderr: match exited {
                    Some(status) => format!("exited ({status}): {}", tail.join(" / ")),
                    None if tcp_failed => format!("no TCP socket: {}", tail.join(" / ")),
                    None => format!("not answering after 30 s: {}", tail.join(" / ")),
                },
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn pong_unix(socket: &Path) -> bool {
    UnixStream::connect(socket).is_ok_and(|s| pong(s, |s, t| s.set_read_timeout(t)))
}

fn pong_tcp(address: SocketAddr) -> bool {
    TcpStream::connect_timeout(&address, Duration::from_secs(1))
        .is_ok_and(|s| pong(s, |s, t| s.set_read_timeout(t)))
}

fn pong<S: Read + Write>(
    mut stream: S,
    timeout: impl Fn(&S, Option<Duration>) -> std::io::Result<()>,
) -> bool {
    let mut reply = Vec::new();
    timeout(&stream, Some(Duration::from_secs(2))).is_ok()
        && stream.write_all(b"zPING\0").is_ok()
        && stream.read_to_end(&mut reply).is_ok()
        && reply == b"PONG\0"
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
