//! The binary as a shell user meets it: completions and man pages, and a
//! reader that goes away early (`palisade … | head`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a test failure"
)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};

fn palisade() -> Command {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
}

#[test]
fn bash_completions_name_every_subcommand() {
    let out = palisade().args(["completions", "bash"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("complete -F _palisade"), "{script}");
    for word in [
        "password",
        "otp",
        "crypt",
        "audit",
        "retention",
        "policy",
        "pii",
    ] {
        assert!(script.contains(word), "{word} missing");
    }
    // bash itself accepts the script.
    let check = Command::new("bash")
        .args(["-n", "-c", &script])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let out = palisade().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn man_pages_are_written_for_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = palisade()
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let top = std::fs::read_to_string(dir.path().join("palisade.1")).unwrap();
    assert!(
        top.starts_with(".ie") || top.contains(".TH palisade 1"),
        "{top}"
    );
    for page in [
        "palisade-crypt-seal.1",
        "palisade-password-hash.1",
        "palisade-policy-check.1",
    ] {
        assert!(dir.path().join(page).is_file(), "{page} missing");
    }
}

/// Runs `args` with `stdin`, its standard output's reader closed before it
/// writes: every write fails with a broken pipe.
fn reader_gone(args: &[&str], stdin: &[u8]) -> (Option<i32>, String) {
    let mut child = palisade()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut input = child.stdin.take().unwrap();
    // The child may stop reading once its output is gone.
    let _ = input.write_all(stdin);
    drop(input);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (child.wait().unwrap().code(), stderr)
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    // `println!` (password hash), a buffered stream (pii mask), the sealed
    // stream's own writer (crypt seal) and a generated script.
    let (code, stderr) = reader_gone(
        &["password", "hash", "--m-cost", "64", "--t-cost", "1"],
        b"pw\n",
    );
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
    let text = "jan.kowalski@example.com 44051401359\n".repeat(20_000);
    let (code, stderr) = reader_gone(&["pii", "mask"], text.as_bytes());
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let made = palisade()
        .args(["crypt", "keygen", "--keyring"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(made.status.success());
    let (code, stderr) = reader_gone(
        &["crypt", "seal", "--keyring", keys.to_str().unwrap()],
        &vec![7; 1 << 20],
    );
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
    let (code, stderr) = reader_gone(&["completions", "bash"], b"");
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
}
