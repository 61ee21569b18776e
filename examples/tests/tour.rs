//! Runs the tour the way the README does (standard input not a terminal) and
//! checks what a reader should see: every chapter, and in the back-office
//! chapter an operator who sees masked phones and is refused the export.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `cargo test` builds the examples next to the test binaries' directory.
fn tour_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = debug
        .join("examples")
        .join(format!("tour{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "the tour example is not built at {}",
        path.display()
    );
    path
}

#[test]
fn the_tour_walks_every_chapter_and_ends_in_the_back_office() {
    let out = Command::new(tour_binary())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tour failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for n in 1..=8 {
        assert!(
            stdout.contains(&format!("== {n}. ")),
            "chapter {n} missing:\n{stdout}"
        );
    }
    let owner = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("owner: "))
        .unwrap();
    let operator = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("operator: "))
        .unwrap();
    assert!(!owner.contains("XXX"), "the owner sees the phone: {owner}");
    assert!(
        operator.contains("XXX"),
        "the operator sees it masked: {operator}"
    );
    assert!(
        stdout.contains("operator's export of the client list: HTTP 403"),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""ok":true"#),
        "the audit log verifies:\n{stdout}"
    );
    assert!(
        stdout.contains("password demo-"),
        "demo logins are printed:\n{stdout}"
    );
    assert!(stdout.trim_end().ends_with("Tour finished."), "{stdout}");
}
