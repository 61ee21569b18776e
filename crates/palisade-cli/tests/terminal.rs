//! The binary on a pseudo-terminal, as a person at a keyboard meets it: a
//! password typed at the prompt is not echoed, and a binary stream is never
//! written to the terminal.

#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::fs::OFlags;
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{LocalModes, tcgetattr};

/// A pseudo-terminal: the master side (the test's keyboard and screen) and
/// the path of the slave side (the program's terminal).
struct Pty {
    master: File,
    slave: String,
}

fn pty() -> Pty {
    let master: OwnedFd = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let slave = ptsname(&master, Vec::new()).unwrap().into_string().unwrap();
    Pty {
        master: File::from(master),
        slave,
    }
}

impl Pty {
    /// A new handle on the slave side, not made the test's own terminal.
    fn slave(&self) -> File {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(OFlags::NOCTTY.bits() as i32)
            .open(&self.slave)
            .unwrap()
    }

    /// Everything the program writes to its terminal, sent as it arrives.
    fn screen(&self) -> mpsc::Receiver<Vec<u8>> {
        let mut master = self.master.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0; 4096];
            // Reading fails with EIO once every slave handle is closed.
            while let Ok(n @ 1..) = master.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        rx
    }
}

fn until(deadline: Instant, what: &str, mut done: impl FnMut() -> bool) {
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_password_typed_at_the_terminal_is_not_echoed() {
    let pty = pty();
    let screen = pty.screen();
    // `setsid -c` gives the program the pty as its controlling terminal, as a
    // login shell would: the prompt reads `/dev/tty`.
    let mut child = Command::new("setsid")
        .args(["-c", "-w", env!("CARGO_BIN_EXE_palisade")])
        .args(["password", "hash", "--m-cost", "64", "--t-cost", "1"])
        .stdin(pty.slave())
        .stdout(pty.slave())
        .stderr(pty.slave())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut shown = Vec::new();
    until(deadline, "the prompt", || {
        shown.extend(screen.try_iter().flatten());
        String::from_utf8_lossy(&shown).contains("Password: ")
    });
    // Type only once echo is off, so the check does not depend on timing.
    until(deadline, "echo to be turned off", || {
        !tcgetattr(&pty.master)
            .unwrap()
            .local_modes
            .contains(LocalModes::ECHO)
    });
    (&pty.master).write_all(b"correct horse battery\n").unwrap();
    assert!(child.wait().unwrap().success());
    until(deadline, "the hash", || {
        shown.extend(screen.try_iter().flatten());
        String::from_utf8_lossy(&shown).contains("$argon2id$")
    });
    let shown = String::from_utf8(shown).unwrap();
    assert!(
        !shown.contains("correct horse"),
        "the password was echoed: {shown:?}"
    );
    let hash = shown
        .split_whitespace()
        .find(|word| word.starts_with("$argon2id$"))
        .unwrap();
    assert!(
        palisade_password::verify_password("correct horse battery", hash)
            .unwrap()
            .is_valid()
    );
}

#[test]
fn a_sealed_or_opened_stream_is_never_written_to_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let plain = dir.path().join("plain.bin");
    std::fs::write(&plain, [0_u8, 159, 146, 150, 255, 7].repeat(1000)).unwrap();
    let made = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["crypt", "keygen", "--keyring"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(made.status.success());
    let pty = pty();
    let screen = pty.screen();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["crypt"])
            .args(args)
            .arg("--keyring")
            .arg(&keys)
            .stdin(Stdio::null())
            .stdout(pty.slave())
            .output()
            .unwrap()
    };
    for command in ["seal", "open"] {
        let refused = run(&[command, plain.to_str().unwrap()]);
        assert_eq!(refused.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8(refused.stderr).unwrap();
        assert!(
            stderr.contains("refusing to write a binary stream to a terminal"),
            "{stderr}"
        );
    }
    // With -o, the same terminal is fine, and the round trip is exact.
    let sealed = dir.path().join("sealed");
    let opened = dir.path().join("opened");
    let ok = run(&[
        "seal",
        plain.to_str().unwrap(),
        "-o",
        sealed.to_str().unwrap(),
    ]);
    assert!(ok.status.success(), "{ok:?}");
    let ok = run(&[
        "open",
        sealed.to_str().unwrap(),
        "--output",
        opened.to_str().unwrap(),
    ]);
    assert!(ok.status.success(), "{ok:?}");
    assert_eq!(
        std::fs::read(&opened).unwrap(),
        std::fs::read(&plain).unwrap()
    );
    // Nothing reached the terminal.
    std::thread::sleep(Duration::from_millis(100));
    let shown: Vec<u8> = screen.try_iter().flatten().collect();
    assert!(shown.is_empty(), "{shown:?}");
}

#[test]
fn sealing_a_file_shows_its_total_and_an_eta_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let plain = dir.path().join("plain.bin");
    std::fs::write(&plain, vec![42_u8; 3 << 20]).unwrap();
    let made = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["crypt", "keygen", "--keyring"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(made.status.success());
    let pty = pty();
    let screen = pty.screen();
    let sealed = dir.path().join("sealed");
    let status = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["crypt", "seal", "--keyring"])
        .arg(&keys)
        .arg(&plain)
        .arg("-o")
        .arg(&sealed)
        .stdin(Stdio::null())
        .stderr(pty.slave())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut shown = Vec::new();
    until(deadline, "the finished bar", || {
        shown.extend(screen.try_iter().flatten());
        String::from_utf8_lossy(&shown).contains("3.00 MiB/3.00 MiB")
    });
    let shown = String::from_utf8_lossy(&shown);
    assert!(shown.contains("sealing"), "{shown:?}");
    assert!(shown.contains("ETA"), "{shown:?}");
}
