//! Keys in an HSM: the back office's keyring wrapped under a key on a
//! SoftHSM2 token (a real PKCS#11 module, token made by the test kit), the
//! binary run as an operator would. With the token removed or the PIN wrong
//! it refuses to start with a clear message; without a token or a key file
//! outside the data folder it refuses unless `--dev`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step stops the test with its message"
)]

use std::process::{Command, Output};

use palisade_testkit::SoftHsm;

const BIN: &str = env!("CARGO_BIN_EXE_palisade-backoffice");

fn run(mut command: Command) -> Output {
    command.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_keyring_is_unwrapped_by_the_token_and_refused_without_it() {
    let Some(hsm) = SoftHsm::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let with = |sub: &str, pin: &std::path::Path| {
        let mut c = hsm.command(BIN);
        c.arg(sub)
            .arg("--data")
            .arg(&data)
            .arg("--hsm-module")
            .arg(hsm.module())
            .arg("--hsm-token")
            .arg(SoftHsm::TOKEN)
            .arg("--hsm-pin-file")
            .arg(pin);
        c
    };
    let out = run(with("hsm-init", &hsm.pin_file()));
    assert!(out.status.success(), "{}", text(&out));
    // First start: the keyring is made and stored wrapped by the token.
    let mut backup = with("backup", &hsm.pin_file());
    backup.arg("--out").arg(dir.path().join("backups"));
    let out = run(backup);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("restore drill passed"),
        "{}",
        text(&out)
    );
    let wrapped = std::fs::read(data.join("keyring.json")).unwrap();
    assert!(!wrapped.is_empty());
    // A later start unwraps it through the token (the audit key opens).
    let mut verify = with("verify", &hsm.pin_file());
    verify.arg("--tenant").arg("_system");
    let out = run(verify);
    assert!(out.status.success(), "{}", text(&out));
    // A wrong PIN: refused, with the token's word for it.
    let wrong = dir.path().join("wrong-pin");
    std::fs::write(&wrong, "0000\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut verify = with("verify", &wrong);
    verify.arg("--tenant").arg("_system");
    let out = run(verify);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("refused the PIN"), "{}", text(&out));
    // The token removed: refused, saying so.
    hsm.remove_tokens().unwrap();
    let mut verify = with("verify", &hsm.pin_file());
    verify.arg("--tenant").arg("_system");
    let out = run(verify);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no PKCS#11 token"), "{}", text(&out));
}

#[test]
fn a_plain_key_file_is_refused_without_dev() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut c = Command::new(BIN);
    c.args(["verify", "--tenant", "_system", "--data"])
        .arg(&data);
    let out = run(c);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--dev"), "{}", text(&out));
    // A key-encryption key inside the data folder is refused too.
    std::fs::create_dir_all(&data).unwrap();
    let kek = data.join("kek.json");
    palisade_crypt::Keyring::generate()
        .unwrap()
        .create_file(&kek)
        .unwrap();
    let mut c = Command::new(BIN);
    c.args(["verify", "--tenant", "_system", "--data"])
        .arg(&data)
        .arg("--kek")
        .arg(&kek);
    let out = run(c);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("inside"), "{}", text(&out));
    // With --dev both start.
    let mut c = Command::new(BIN);
    c.args(["verify", "--tenant", "_system", "--dev", "--data"])
        .arg(&data);
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out));
}
