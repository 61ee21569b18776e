//! A throwaway SoftHSM2 token: its own configuration and token folder in a
//! temporary directory, initialised with `softhsm2-util`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, check, io};

/// Where Debian and others install SoftHSM2's PKCS#11 module.
const MODULES: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];
/// Names the fixture's folder in a child process.
const DIR_VAR: &str = "PALISADE_SOFTHSM_DIR";
/// Names the phase a child process runs.
const PHASE_VAR: &str = "PALISADE_TEST_PHASE";

/// A SoftHSM2 token in a temporary directory, deleted when dropped.
///
/// SoftHSM2 reads its configuration from `SOFTHSM2_CONF` when the module is
/// initialised, once per process, and a test cannot set environment
/// variables in its own process safely. So a test that loads the module runs
/// its body in a child process of the test binary
/// ([`run_phase`](Self::run_phase)) whose environment points at this token;
/// the child finds the fixture again with [`SoftHsm::phase`]. Programs (the
/// CLI, `softhsm2-util`) get the environment from
/// [`command`](Self::command).
#[derive(Debug)]
pub struct SoftHsm {
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl SoftHsm {
    /// The label of the token [`create`](Self::create) initialises.
    pub const TOKEN: &'static str = "palisade-test";
    /// Its user PIN (also in [`pin_file`](Self::pin_file)).
    pub const PIN: &'static str = "4711-user-pin";
    /// Its security officer PIN.
    pub const SO_PIN: &'static str = "0815-so-pin";

    /// Writes a configuration whose token folder is in a new temporary
    /// directory, initialises a token labelled [`SoftHsm::TOKEN`] in the free
    /// slot, and writes the user PIN to a 0600 file.
    pub fn create() -> Result<SoftHsm, Error> {
        Self::installed_module().ok_or(Error::SoftHsmNotInstalled)?;
        let util = Command::new("softhsm2-util").arg("--version").output();
        if !util.is_ok_and(|out| out.status.success()) {
            return Err(Error::SoftHsmNotInstalled);
        }
        let tmp = tempfile::tempdir().map_err(io("creating a temporary directory"))?;
        let dir = tmp.path().to_owned();
        let tokens = dir.join("tokens");
        std::fs::create_dir(&tokens).map_err(io("creating the token folder"))?;
        let conf = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.to_str().ok_or(Error::NonUtf8Path)?
        );
        std::fs::write(dir.join("softhsm2.conf"), conf).map_err(io("writing softhsm2.conf"))?;
        write_secret(&dir.join("user.pin"), Self::PIN)?;
        let hsm = SoftHsm {
            dir,
            _tmp: Some(tmp),
        };
        hsm.init_token(Self::TOKEN)?;
        Ok(hsm)
    }

    /// For tests: [`create`](Self::create), or `None` (printing why) when
    /// SoftHSM2 is not installed and `PALISADE_CI` is unset. Any other
    /// failure, or a missing installation under `PALISADE_CI`, panics so that
    /// the test fails.
    #[allow(
        clippy::panic,
        reason = "a test fixture: a token that cannot be made must fail the test using it"
    )]
    pub fn start_or_skip() -> Option<SoftHsm> {
        match SoftHsm::create() {
            Ok(hsm) => Some(hsm),
            Err(Error::SoftHsmNotInstalled) if std::env::var_os("PALISADE_CI").is_none() => {
                eprintln!("skipped: {}", Error::SoftHsmNotInstalled);
                None
            }
            Err(e) => panic!("cannot create a throwaway SoftHSM2 token: {e}"),
        }
    }

    fn installed_module() -> Option<PathBuf> {
        MODULES.iter().map(PathBuf::from).find(|p| p.is_file())
    }

    /// Initialises another token, labelled `label`, in the free slot (same
    /// PINs).
    pub fn init_token(&self, label: &str) -> Result<(), Error> {
        let out = self
            .command("softhsm2-util")
            .args(["--init-token", "--free", "--label", label])
            .args(["--so-pin", Self::SO_PIN, "--pin", Self::PIN])
            .output()
            .map_err(io("running softhsm2-util"))?;
        check("softhsm2-util --init-token", &out)
    }

    /// The PKCS#11 module (`libsofthsm2.so`).
    pub fn module(&self) -> PathBuf {
        Self::installed_module().unwrap_or_else(|| PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"))
    }

    /// The configuration file (`SOFTHSM2_CONF`).
    pub fn conf(&self) -> PathBuf {
        self.dir.join("softhsm2.conf")
    }

    /// A file (mode 0600) holding the user PIN.
    pub fn pin_file(&self) -> PathBuf {
        self.dir.join("user.pin")
    }

    /// The fixture's temporary directory; tests may put their files there.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes every token, as if the device were unplugged: SoftHSM2 then
    /// shows only an empty slot.
    pub fn remove_tokens(&self) -> Result<(), Error> {
        let tokens = self.dir.join("tokens");
        std::fs::remove_dir_all(&tokens).map_err(io("removing the tokens"))?;
        std::fs::create_dir(&tokens).map_err(io("creating the token folder"))
    }

    /// A command with `SOFTHSM2_CONF` pointing at this token's configuration.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env("SOFTHSM2_CONF", self.conf());
        command
    }

    /// Runs the test `test` (its full name in the test binary) again in a
    /// child process whose environment points at this token, with `phase`
    /// for [`SoftHsm::phase`]. Panics, showing the child's output, unless the
    /// child ran exactly that one test and it passed.
    #[allow(
        clippy::panic,
        reason = "a test fixture: a failed phase must fail the test running it"
    )]
    pub fn run_phase(&self, test: &str, phase: &str) {
        let out = std::env::current_exe()
            .map(|exe| self.command(exe))
            .and_then(|mut command| {
                command
                    .args([test, "--exact", "--nocapture", "--test-threads=1"])
                    .env(DIR_VAR, &self.dir)
                    .env(PHASE_VAR, phase)
                    .output()
            })
            .unwrap_or_else(|e| panic!("cannot run phase `{phase}` of `{test}`: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || !stdout.contains("1 passed") {
            panic!(
                "phase `{phase}` of `{test}` failed ({}):\n{stdout}\n{stderr}",
                out.status
            );
        }
        eprint!("{stderr}");
    }

    /// In a child started by [`run_phase`](Self::run_phase): the fixture
    /// (not deleted when dropped; the parent owns it) and the phase. `None`
    /// in the parent.
    pub fn phase() -> Option<(SoftHsm, String)> {
        let dir = std::env::var_os(DIR_VAR)?;
        let phase = std::env::var(PHASE_VAR).ok()?;
        Some((
            SoftHsm {
                dir: PathBuf::from(dir),
                _tmp: None,
            },
            phase,
        ))
    }
}

/// Writes a file readable by its owner only.
fn write_secret(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(format!("{text}\n").as_bytes()))
        .map_err(io("writing the PIN file"))
}
