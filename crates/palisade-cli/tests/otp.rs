//! `palisade otp …` run as a user would: the built binary, its output and
//! exit status.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

mod common;

use palisade_otp::{FactorState, KeyUri, OtpKind, RecoveryCodes, Secret, Throttle, Totp};

/// RFC 6238's SHA-1 seed, "12345678901234567890", in base32.
const SEED_SHA1: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// Runs the binary. The cases below name the secret as `--secret VALUE`
/// for readability; the binary takes no secret as an argument, so the pair
/// is turned into the first line of standard input (`--secret -` is
/// dropped: the text is standard input already).
fn palisade(args: &[&str], stdin: Option<&str>) -> Output {
    let mut argv = Vec::new();
    let mut from_args = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if *arg == "--secret" {
            let value = rest.next().unwrap();
            if *value != "-" {
                from_args = Some(format!("{value}\n"));
            }
        } else {
            argv.push(*arg);
        }
    }
    let stdin = from_args.as_deref().or(stdin);
    let mut command = Command::new(env!("CARGO_BIN_EXE_palisade"));
    command.args(&argv);
    common::run(command, stdin.unwrap_or_default().as_bytes())
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-otp-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn new_prints_a_160_bit_secret_and_its_uri_and_writes_qr_codes() {
    let dir = scratch("new");
    let svg = dir.join("qr.svg");
    let png = dir.join("qr.png");
    let out = palisade(
        &[
            "otp",
            "new",
            "--issuer",
            "ACME Co",
            "--account",
            "alice@example.com",
            "--qr-svg",
            svg.to_str().unwrap(),
            "--qr-png",
            png.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let secret = Secret::from_base32(lines[0]).unwrap();
    assert_eq!(secret.len(), 20);
    let key = KeyUri::parse(lines[1]).unwrap();
    assert_eq!(key.secret(), &secret);
    assert_eq!(key.issuer(), Some("ACME Co"));
    assert_eq!(key.account(), "alice@example.com");
    assert_eq!(key.kind(), OtpKind::Totp { period: 30 });
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
    std::fs::remove_dir_all(dir).unwrap();

    // Two runs never print the same secret.
    let again = palisade(
        &[
            "otp",
            "new",
            "--issuer",
            "ACME Co",
            "--account",
            "alice@example.com",
        ],
        None,
    );
    assert_ne!(stdout(&again).lines().next(), Some(lines[0]));
}

#[test]
fn new_refuses_labels_that_break_the_uri() {
    let out = palisade(
        &["otp", "new", "--issuer", "A:B", "--account", "alice"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("colon"));
}

#[test]
fn code_matches_rfc_6238_and_4226() {
    let cases = [
        (SEED_SHA1, "SHA1", "59", "94287082"),
        (
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA",
            "SHA256",
            "1111111109",
            "68084774",
        ),
        (
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA",
            "SHA512",
            "20000000000",
            "47863826",
        ),
    ];
    for (secret, algorithm, time, expected) in cases {
        let out = palisade(
            &[
                "otp",
                "code",
                "--secret",
                secret,
                "--time",
                time,
                "--algorithm",
                algorithm,
                "--digits",
                "8",
            ],
            None,
        );
        assert!(out.status.success(), "{out:?}");
        assert_eq!(stdout(&out), format!("{expected}\n"));
    }
    // HOTP, RFC 4226 Appendix D, counter 9.
    let out = palisade(
        &["otp", "code", "--secret", SEED_SHA1, "--counter", "9"],
        None,
    );
    assert_eq!(stdout(&out), "520489\n");
}

#[test]
fn secret_can_come_from_standard_input() {
    let out = palisade(
        &[
            "otp", "code", "--secret", "-", "--time", "59", "--digits", "8",
        ],
        Some(&format!("{SEED_SHA1}\n")),
    );
    assert_eq!(stdout(&out), "94287082\n");
}

#[test]
fn code_without_time_is_the_current_code() {
    let out = palisade(&["otp", "code", "--secret", SEED_SHA1], None);
    let code = stdout(&out);
    let code = code.trim_end();
    assert_eq!(code.len(), 6);
    let totp = Totp::new(Secret::from_base32(SEED_SHA1).unwrap());
    // The step may have turned between the run and now: accept either.
    let now = palisade_otp::unix_now().unwrap();
    assert!(code == *totp.code_at(now) || code == *totp.code_at(now - 30));
}

#[test]
fn verify_exits_0_for_a_valid_code_and_1_otherwise() {
    let totp = Totp::new(Secret::from_base32(SEED_SHA1).unwrap());
    let now = 1_700_000_000_u64;
    let time = now.to_string();
    let current = totp.code_at(now);
    let ok = palisade(
        &[
            "otp", "verify", "--secret", SEED_SHA1, "--code", &current, "--time", &time,
        ],
        None,
    );
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    assert_eq!(stdout(&ok), format!("valid: time step {}\n", now / 30));

    // One step back is inside the default window; two steps back is not.
    let previous = totp.code_at(now - 30);
    let ok = palisade(
        &[
            "otp", "verify", "--secret", "-", "--code", &previous, "--time", &time,
        ],
        Some(SEED_SHA1),
    );
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let old = totp.code_at(now - 60);
    let refused = palisade(
        &[
            "otp", "verify", "--secret", SEED_SHA1, "--code", &old, "--time", &time,
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        "palisade: invalid code\n"
    );
    let wider = palisade(
        &[
            "otp", "verify", "--secret", SEED_SHA1, "--code", &old, "--time", &time, "--skew", "2",
        ],
        None,
    );
    assert_eq!(wider.status.code(), Some(0));

    let wrong = format!("{:06}", (current.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = palisade(
        &[
            "otp", "verify", "--secret", SEED_SHA1, "--code", &wrong, "--time", &time,
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(1));
}

#[test]
fn malformed_input_exits_2() {
    for args in [
        &[
            "otp",
            "verify",
            "--secret",
            "not base32!",
            "--code",
            "123456",
        ][..],
        &["otp", "code", "--secret", "JBSWY3DPEHPK3PXP"], // 80 bits: too short
        &["otp", "code", "--secret", SEED_SHA1, "--digits", "9"],
        &["otp", "code", "--secret", SEED_SHA1, "--period", "0"],
        &["otp", "code", "--secret", SEED_SHA1, "--algorithm", "MD5"],
        &["otp", "recovery-codes", "--count", "0"],
    ] {
        let out = palisade(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
}

#[test]
fn recovery_codes_print_codes_and_write_hashes_that_redeem_once() {
    let dir = scratch("recovery");
    let hashes = dir.join("codes.json");
    let out = palisade(
        &[
            "otp",
            "recovery-codes",
            "--count",
            "4",
            "--hashes",
            hashes.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let codes: Vec<&str> = text.lines().collect();
    assert_eq!(codes.len(), 4);
    let json = std::fs::read_to_string(&hashes).unwrap();
    for code in &codes {
        assert_eq!(code.len(), 19);
        assert!(!json.contains(&code.replace('-', "")));
    }
    let mut stored: RecoveryCodes = serde_json::from_str(&json).unwrap();
    let (throttle, mut state) = (Throttle::default(), FactorState::new());
    let now = palisade_otp::unix_now().unwrap();
    assert_eq!(stored.redeem(codes[2], now, &mut state, &throttle), Ok(3));
    assert!(stored.redeem(codes[2], now, &mut state, &throttle).is_err());
    std::fs::remove_dir_all(dir).unwrap();

    let default = palisade(&["otp", "recovery-codes"], None);
    assert_eq!(stdout(&default).lines().count(), 10);
}

#[test]
fn a_secret_is_never_an_argument_but_a_file_or_standard_input() {
    let raw = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let refused = raw(&["otp", "code", "--secret", SEED_SHA1, "--time", "59"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let dir = scratch("secret-file");
    let file = dir.join("secret");
    std::fs::write(&file, format!("{SEED_SHA1}\n")).unwrap();
    let out = raw(&[
        "otp",
        "code",
        "--secret-file",
        file.to_str().unwrap(),
        "--time",
        "59",
        "--digits",
        "8",
    ]);
    assert_eq!(stdout(&out), "94287082\n");
}

#[test]
fn json_shapes_of_new_and_verify() {
    let out = palisade(
        &[
            "otp",
            "new",
            "--issuer",
            "ACME",
            "--account",
            "a@b.example",
            "--json",
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let secret = value["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    assert!(value["uri"].as_str().unwrap().contains(secret));
    let totp = Totp::new(Secret::from_base32(SEED_SHA1).unwrap());
    let code = totp.code_at(1_700_000_000);
    let ok = palisade(
        &[
            "otp",
            "verify",
            "--secret",
            SEED_SHA1,
            "--code",
            &code,
            "--time",
            "1700000000",
            "--json",
        ],
        None,
    );
    assert_eq!(ok.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"valid": true, "step": 1_700_000_000 / 30})
    );
    let refused = palisade(
        &[
            "otp",
            "verify",
            "--secret",
            SEED_SHA1,
            "--code",
            "000000",
            "--time",
            "1700000000",
            "--json",
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_str(&stdout(&refused)).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"valid": false, "reason": "invalid"})
    );
}
