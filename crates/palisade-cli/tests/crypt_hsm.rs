//! `palisade crypt … --hsm-module`: keyrings wrapped under a key-encryption
//! key on a PKCS#11 token, run as a user would against a throwaway SoftHSM2
//! token (skipped without SoftHSM2 unless `PALISADE_CI` is set).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Output;

use palisade_testkit::SoftHsm;

fn palisade(hsm: &SoftHsm, args: &[&str], envs: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut command = hsm.command(env!("CARGO_BIN_EXE_palisade"));
    command.args(args).envs(envs.iter().copied());
    common::run(command, stdin)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn ok(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    text(&output.stdout)
}

fn refused(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(2),
        "stdout: {}",
        text(&output.stdout)
    );
    text(&output.stderr)
}

/// `--keyring FILE` and the token options, PIN from `pin`.
fn args<'a>(keyring: &'a str, module: &'a str, pin: &'a str) -> Vec<&'a str> {
    vec![
        "--keyring",
        keyring,
        "--hsm-module",
        module,
        "--hsm-token",
        SoftHsm::TOKEN,
        "--hsm-key",
        "app-kek",
        "--hsm-pin-file",
        pin,
    ]
}

#[test]
fn keyring_on_a_token_from_keygen_to_removal() {
    let Some(hsm) = SoftHsm::start_or_skip() else {
        return;
    };
    let module = hsm.module().to_str().unwrap().to_owned();
    let pin = hsm.pin_file().to_str().unwrap().to_owned();
    let keyring = hsm.dir().join("keyring.json");
    let keyring = keyring.to_str().unwrap();
    let with = |rest: &[&'static str]| -> Vec<String> {
        let mut all: Vec<String> = rest.iter().map(|s| (*s).to_owned()).collect();
        all.extend(args(keyring, &module, &pin).iter().map(|s| (*s).to_owned()));
        all
    };
    let run = |argv: &[String], stdin: &[u8]| {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        palisade(&hsm, &argv, &[], stdin)
    };

    // No key-encryption key yet: keygen says so.
    let stderr = refused(&run(&with(&["crypt", "keygen"]), b""));
    assert!(
        stderr.contains("no key-encryption key labelled `app-kek`"),
        "{stderr}"
    );

    // kek-generate takes the token options without --keyring.
    let kek = palisade(
        &hsm,
        &[
            "crypt",
            "kek-generate",
            "--hsm-module",
            &module,
            "--hsm-token",
            SoftHsm::TOKEN,
            "--hsm-key",
            "app-kek",
            "--hsm-pin-file",
            &pin,
        ],
        &[],
        b"",
    );
    assert_eq!(ok(&kek).trim(), "created pkcs11:app-kek");

    assert_eq!(
        ok(&run(&with(&["crypt", "keygen"]), b"")).trim(),
        "primary key 1"
    );
    let file = std::fs::read_to_string(keyring).unwrap();
    assert!(file.contains("palisade-crypt wrapped keyring"));
    assert!(file.contains("pkcs11:app-kek"));
    assert!(!file.contains("index_key"), "a plain keyring was written");

    let mut encrypt = with(&["crypt", "encrypt"]);
    encrypt.extend(["--context".into(), "row=1".into()]);
    let token = ok(&run(&encrypt, b"Grace Hopper"));
    assert!(token.starts_with("pcrypt:"));
    let mut decrypt = with(&["crypt", "decrypt"]);
    decrypt.extend(["--context".into(), "row=1".into()]);
    assert_eq!(ok(&run(&decrypt, token.as_bytes())), "Grace Hopper");

    // Rotation saves the wrapped file through the token; old tokens still open.
    assert_eq!(
        ok(&run(&with(&["crypt", "rotate"]), b"")).trim(),
        "primary key 2"
    );
    assert_eq!(ok(&run(&decrypt, token.as_bytes())), "Grace Hopper");
    let file = std::fs::read_to_string(keyring).unwrap();
    assert!(file.contains("palisade-crypt wrapped keyring"));

    // The PIN from an environment variable works too.
    let mut by_env: Vec<String> = decrypt.clone();
    let at = by_env.iter().position(|a| a == "--hsm-pin-file").unwrap();
    by_env.splice(
        at..at + 2,
        ["--hsm-pin-env".to_owned(), "APP_HSM_PIN".to_owned()],
    );
    let argv: Vec<&str> = by_env.iter().map(String::as_str).collect();
    let out = palisade(
        &hsm,
        &argv,
        &[("APP_HSM_PIN", SoftHsm::PIN)],
        token.as_bytes(),
    );
    assert_eq!(ok(&out), "Grace Hopper");
    let out = palisade(&hsm, &argv, &[], token.as_bytes());
    assert!(refused(&out).contains("environment variable `APP_HSM_PIN` is not set"));

    // Without the token options the wrapped file is not a keyring.
    let out = palisade(
        &hsm,
        &[
            "crypt",
            "decrypt",
            "--keyring",
            keyring,
            "--context",
            "row=1",
        ],
        &[],
        token.as_bytes(),
    );
    assert!(refused(&out).contains("it is a wrapped keyring"));

    // A wrong PIN: refused with a clear message, nothing decrypted.
    let wrong = hsm.dir().join("wrong.pin");
    write_private(&wrong, "0000\n");
    let mut wrong_pin = decrypt.clone();
    let at = wrong_pin
        .iter()
        .position(|a| a == "--hsm-pin-file")
        .unwrap();
    wrong_pin[at + 1] = wrong.to_str().unwrap().to_owned();
    let out = run(&wrong_pin, token.as_bytes());
    assert!(out.stdout.is_empty());
    assert_eq!(
        refused(&out).trim(),
        "palisade: the PKCS#11 token refused the PIN"
    );

    // The token removed: refused with a clear message.
    hsm.remove_tokens().unwrap();
    let out = run(&decrypt, token.as_bytes());
    assert!(out.stdout.is_empty());
    assert_eq!(
        refused(&out).trim(),
        "palisade: no PKCS#11 token `palisade-test` is present: is the device connected and the token initialised?"
    );
}

#[test]
fn plain_keyring_is_wrapped_onto_the_token_and_the_pin_is_never_an_argument() {
    let Some(hsm) = SoftHsm::start_or_skip() else {
        return;
    };
    let module = hsm.module().to_str().unwrap().to_owned();
    let pin = hsm.pin_file().to_str().unwrap().to_owned();
    let plain = hsm.dir().join("plain.json");
    let plain = plain.to_str().unwrap();
    let wrapped = hsm.dir().join("wrapped.json");
    let wrapped = wrapped.to_str().unwrap();

    ok(&palisade(
        &hsm,
        &["crypt", "keygen", "--keyring", plain],
        &[],
        b"",
    ));
    let token = ok(&palisade(
        &hsm,
        &["crypt", "encrypt", "--keyring", plain],
        &[],
        b"secret",
    ));
    let token_args = args(wrapped, &module, &pin);
    let mut kek = vec!["crypt", "kek-generate"];
    kek.extend_from_slice(&token_args[2..]);
    ok(&palisade(&hsm, &kek, &[], b""));
    let mut wrap = vec!["crypt", "wrap", "--from", plain];
    wrap.extend_from_slice(&token_args);
    assert_eq!(
        ok(&palisade(&hsm, &wrap, &[], b"")).trim(),
        "wrapped under pkcs11:app-kek"
    );
    let mut decrypt = vec!["crypt", "decrypt"];
    decrypt.extend_from_slice(&token_args);
    assert_eq!(
        ok(&palisade(&hsm, &decrypt, &[], token.as_bytes())),
        "secret"
    );
    // The wrap refuses to overwrite.
    assert!(refused(&palisade(&hsm, &wrap, &[], b"")).contains("wrapped.json"));

    // There is no option that takes the PIN itself.
    let mut pin_arg = vec!["crypt", "decrypt", "--hsm-pin", SoftHsm::PIN];
    pin_arg.extend_from_slice(&token_args[..8]);
    let out = palisade(&hsm, &pin_arg, &[], token.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unexpected argument"));
    // Token options without a PIN source are refused before the token is used.
    let out = palisade(&hsm, &decrypt[..10], &[], token.as_bytes());
    assert!(refused(&out).contains("--hsm-pin-file FILE or --hsm-pin-env VAR"));
}

fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}
