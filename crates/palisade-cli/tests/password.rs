//! `palisade password …` through the built binary: the contract of the
//! issue's Part 3 (outputs, exit codes, stdin-only secrets).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a test failure"
)]

mod common;

use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn palisade(args: &[&str], stdin: &str) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_palisade"));
    command.arg("password").args(args);
    let out = common::run(command, stdin.as_bytes());
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

const SMALL: [&str; 4] = ["--m-cost", "64", "--t-cost", "1"];

#[test]
fn hash_prints_a_phc_string_at_the_defaults() {
    let run = palisade(&["hash"], "correct horse battery staple\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let hash = run.stdout.trim();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert_eq!(run.stdout.lines().count(), 1);
    // The line ending is not part of the password (`\r\n` too).
    let verify = palisade(&["verify", hash], "correct horse battery staple\r\n");
    assert_eq!((verify.code, verify.stdout.as_str()), (0, "valid\n"));
}

#[test]
fn hash_takes_parameters_and_refuses_bad_ones() {
    let run = palisade(
        &["hash", "--m-cost", "64", "--t-cost", "3", "--p-cost", "2"],
        "pw\n",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("$argon2id$v=19$m=64,t=3,p=2$"),
        "{}",
        run.stdout
    );
    let run = palisade(&["hash", "--t-cost", "0"], "pw\n");
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "palisade: `t_cost` must be between 1 and 1000 passes\n"
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn verify_prints_the_three_verdicts_with_their_exit_codes() {
    let hash = palisade(
        &["hash", "--m-cost", "64", "--t-cost", "1"],
        "s3cret pass\n",
    )
    .stdout;
    let hash = hash.trim();
    // Against the defaults, an m=64 hash is valid but due for an upgrade.
    let run = palisade(&["verify", hash], "s3cret pass\n");
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "valid needs-upgrade\n")
    );
    let mut args = vec!["verify", hash];
    args.extend(SMALL);
    let run = palisade(&args, "s3cret pass\n");
    assert_eq!((run.code, run.stdout.as_str()), (0, "valid\n"));
    let run = palisade(&args, "s3cret pas\n");
    assert_eq!((run.code, run.stdout.as_str()), (1, "invalid\n"));
}

#[test]
fn verify_reports_malformed_hashes_on_one_stderr_line_with_exit_2() {
    for bad in ["not-a-hash", "$argon2id$v=19$m=64", "$2b$04$tooshort"] {
        let run = palisade(&["verify", bad], "pw\n");
        assert_eq!(run.code, 2, "{bad}");
        assert!(run.stdout.is_empty());
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.starts_with("palisade: "), "{}", run.stderr);
    }
}

#[test]
fn verify_json_and_upgrade_of_a_legacy_hash() {
    // Django PBKDF2 vector (tests/data/reference_vectors.json of palisade-password).
    let django =
        "pbkdf2_sha256$1000$u33xtHaXDmXR8uPftSI0Ap$LANSrzfMKBAegscbVeAUbv3It1EN/8gC2fiV09fenm4=";
    let run = palisade(&["verify", django, "--json"], "password\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["needs_upgrade"], true);
    assert_eq!(json["scheme"], "django-pbkdf2-sha256");
    assert_eq!(
        json["upgrade_reasons"],
        serde_json::json!(["legacy-scheme"])
    );
    assert!(json.get("new_hash").is_none());

    let mut args = vec!["verify", django, "--json", "--upgrade"];
    args.extend(SMALL);
    let run = palisade(&args, "password\n");
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let new_hash = json["new_hash"].as_str().unwrap().to_owned();
    assert!(new_hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
    let mut args = vec!["verify", &new_hash];
    args.extend(SMALL);
    assert_eq!(palisade(&args, "password\n").stdout, "valid\n");

    let run = palisade(&["verify", django, "--json"], "wrong\n");
    assert_eq!(run.code, 1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["needs_upgrade"], false);
    assert_eq!(json["scheme"], "django-pbkdf2-sha256");

    let bcrypt = "$2y$04$8fb7YapE3PF1KwyYEtGXG.qc.UvEVt2lRcg3u2yVhEqWf0X8LkirK";
    let run = palisade(&["verify", bcrypt, "--upgrade"], "password\n");
    let mut lines = run.stdout.lines();
    assert_eq!(lines.next(), Some("valid needs-upgrade"));
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
}

#[test]
fn check_prints_the_policy_verdict_and_reasons() {
    let run = palisade(&["check"], "ink wolf parsley tundra\n");
    assert_eq!((run.code, run.stdout.as_str()), (0, "accepted\n"));
    let run = palisade(&["check", "--context", "alice@example.com"], "alice123\n");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        "refused\n- one of the most common passwords\n- contains `alice`, a word of the context\n"
    );
    let run = palisade(
        &["check", "--context", "Palisade", "--json"],
        "palisade is great\n",
    );
    assert_eq!(run.code, 1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["accepted"], false);
    assert_eq!(
        json["reasons"][0],
        "contains `palisade`, a word of the context"
    );
    let run = palisade(&["check", "--min-chars", "15"], "ink wolf tundr\n");
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (1, "refused\n- shorter than 15 characters\n")
    );
}

#[test]
fn oversized_passwords_are_refused_before_hashing() {
    let huge = "x".repeat(100_000) + "\n";
    let run = palisade(&["hash"], &huge);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr, "palisade: password is longer than 1024 bytes\n");
}

#[test]
fn calibrate_prints_parameters_within_the_ceiling() {
    let run = palisade(
        &[
            "calibrate",
            "--target-ms",
            "5",
            "--max-memory-mib",
            "1",
            "--json",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(json["m_cost"].as_u64().unwrap() <= 1024);
    assert!(json["t_cost"].as_u64().unwrap() >= 1);
    assert_eq!(json["p_cost"], 1);
    let run = palisade(
        &["calibrate", "--target-ms", "5", "--max-memory-mib", "1"],
        "",
    );
    assert!(run.stdout.starts_with("m="), "{}", run.stdout);
    let run = palisade(
        &["calibrate", "--target-ms", "0", "--max-memory-mib", "1"],
        "",
    );
    assert_eq!(run.code, 2);
}
