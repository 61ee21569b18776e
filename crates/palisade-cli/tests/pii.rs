//! `palisade pii …` run as a user would: the built binary, its output and
//! exit status.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::process::{Command, Output};

fn palisade_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_palisade"));
    command.args(args).env_remove("PALISADE_PII_KEY");
    for (k, v) in env {
        command.env(k, v);
    }
    common::run(command, stdin)
}

fn palisade(args: &[&str], stdin: &[u8]) -> Output {
    palisade_env(args, stdin, &[])
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-pii-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn scan_prints_one_json_finding_per_line_with_byte_offsets() {
    let input = "client PESEL 44051401359\nmail: jan@example.com, card 4111 1111 1111 1111\n";
    let out = palisade(&["pii", "scan", "--format", "jsonl"], input.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        serde_json::json!({"kind": "PL_PESEL", "start": 13, "end": 24, "text": "44051401359"})
    );
    assert_eq!(lines.len(), 3);
    for l in &lines {
        let (s, e) = (
            l["start"].as_u64().unwrap() as usize,
            l["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&input[s..e], l["text"].as_str().unwrap());
    }
    assert_eq!(lines[1]["kind"], "EMAIL");
    assert_eq!(lines[2]["kind"], "PAYMENT_CARD");
    // The contract's example line, byte for byte.
    let out = palisade(&["pii", "scan"], b"client id: 44051401359");
    assert_eq!(
        stdout(&out),
        "{\"kind\":\"PL_PESEL\",\"start\":11,\"end\":22,\"text\":\"44051401359\"}\n"
    );
}

#[test]
fn scan_kinds_filter_text_format_and_check_gate() {
    let input = b"jan@example.com 44051401359\n";
    let out = palisade(
        &["pii", "scan", "--kinds", "EMAIL", "--format", "text"],
        input,
    );
    assert_eq!(stdout(&out), "EMAIL\t0\t15\t0.90\tjan@example.com\n");
    let out = palisade(&["pii", "scan", "--check"], input);
    assert_eq!(out.status.code(), Some(1));
    let out = palisade(&["pii", "scan", "--check"], b"nothing to see here\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    let out = palisade(&["pii", "scan", "--kinds", "EMAIL,BOGUS"], input);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "palisade: unknown kind `BOGUS`\n");
}

#[test]
fn mask_streams_with_each_operator() {
    let input = b"call +48 601 234 567 or mail jan@example.com; password=hunter2\n";
    let out = palisade(&["pii", "mask"], input);
    assert_eq!(
        stdout(&out),
        "call <PHONE> or mail <EMAIL>; password=<SECRET>\n"
    );
    let out = palisade(&["pii", "mask", "--operator", "partial"], input);
    assert_eq!(
        stdout(&out),
        "call +48 XXX XXX 567 or mail jXX@example.com; password=XXXXXXXX\n"
    );
    let out = palisade(
        &[
            "pii",
            "mask",
            "--operator",
            "partial",
            "--mask-char",
            "*",
            "--keep",
            "4",
        ],
        input,
    );
    assert_eq!(
        stdout(&out),
        "call +48 *** **4 567 or mail j**@example.com; password=********\n"
    );
    let out = palisade(
        &["pii", "mask", "--operator", "redact", "--kinds", "PHONE"],
        input,
    );
    assert_eq!(
        stdout(&out),
        "call  or mail jan@example.com; password=hunter2\n"
    );
    let out = palisade(
        &["pii", "mask", "--operator", "partial", "--mask-char", "7"],
        input,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn mask_passes_invalid_utf8_through() {
    let input = b"\xff\xfe binary \xc3( then 44051401359 and \x80\n";
    let out = palisade(&["pii", "mask"], input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        out.stdout,
        b"\xff\xfe binary \xc3( then <PL_PESEL> and \x80\n".to_vec()
    );
}

/// `--threads` masks chunks of 256 KiB of lines side by side: the output is
/// the same for any count, including a private key whose block opens in the
/// first chunk and closes in the second (its lines are masked whole, not
/// scanned), and invalid UTF-8.
#[test]
fn mask_threads_write_the_same_bytes() {
    let mut input = Vec::new();
    let mut n = 0;
    while input.len() < 256 * 1024 - 300 {
        input.extend_from_slice(
            format!("{n} user jan{n}@example.com called +48 601 234 567, PESEL 44051401359\n")
                .as_bytes(),
        );
        n += 1;
    }
    input.extend_from_slice(b"-----BEGIN RSA PRIVATE KEY-----\n");
    for i in 0..20 {
        input.extend_from_slice(
            format!("MIIEow{i:02}AKCAQEA0Z3VS5JJcds3xf password=hunter2 4111111111111111\n")
                .as_bytes(),
        );
    }
    input.extend_from_slice(b"-----END RSA PRIVATE KEY-----\n\xff\xfe after 44051401359\n");
    for k in 0..3000 {
        input.extend_from_slice(format!("tail {k} card 4111 1111 1111 1111 ok\n").as_bytes());
    }
    let one = palisade(&["pii", "mask", "--threads", "1"], &input);
    assert!(one.status.success(), "{}", stderr(&one));
    let text = String::from_utf8_lossy(&one.stdout);
    assert!(
        !text.contains("MIIEow") && !text.contains("hunter2"),
        "key lines leaked"
    );
    assert_eq!(text.matches("<SECRET>\n").count(), 22);
    assert!(text.contains("\u{fffd}\u{fffd} after <PL_PESEL>\n"));
    for threads in ["2", "3", "8"] {
        let many = palisade(&["pii", "mask", "--threads", threads], &input);
        assert!(many.status.success(), "{}", stderr(&many));
        assert!(
            many.stdout == one.stdout,
            "{threads} threads wrote other bytes"
        );
    }
    let bad = palisade(&["pii", "mask", "--threads", "0"], b"");
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn hash_key_comes_from_a_file_or_the_environment_never_an_argument() {
    let input = b"jan@example.com\n";
    let out = palisade(&["pii", "mask", "--operator", "hash"], input);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("needs a key"), "{}", stderr(&out));
    let key = "0123456789abcdef0123456789abcdef";
    let from_env = palisade_env(
        &["pii", "mask", "--operator", "hash"],
        input,
        &[("PALISADE_PII_KEY", key)],
    );
    assert!(from_env.status.success(), "{}", stderr(&from_env));
    let token = stdout(&from_env);
    assert!(
        token.starts_with("<EMAIL:")
            && token.ends_with(">\n")
            && token.len() == "<EMAIL:>\n".len() + 16
    );
    let path = scratch("key").join("pii.key");
    std::fs::write(&path, format!("{key}\n")).unwrap();
    let from_file = palisade(
        &[
            "pii",
            "mask",
            "--operator",
            "hash",
            "--key-file",
            path.to_str().unwrap(),
        ],
        input,
    );
    assert_eq!(stdout(&from_file), token, "same key, same token");
    std::fs::write(&path, "short").unwrap();
    let short = palisade(
        &[
            "pii",
            "mask",
            "--operator",
            "hash",
            "--key-file",
            path.to_str().unwrap(),
        ],
        input,
    );
    assert_eq!(short.status.code(), Some(2));
    // There is no option that takes the key itself.
    let out = palisade(&["pii", "mask", "--operator", "hash", "--key", key], input);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn mask_json_by_path_and_content() {
    let input = br#"{"customer":{"name":"Jan Kowalski","phone":"+48 601 234 567"},"items":[{"phone":"+48 601 234 567","sku":"A-1"},{"phone":"601 234 567"}],"note":"mail jan@example.com"}
{"customer":{"name":"Ana","phone":null},"note":"CPF 111.444.777-35"}"#;
    let out = palisade(
        &[
            "pii",
            "mask",
            "--json",
            "--path",
            "customer.name",
            "--path",
            "items[*].phone",
        ],
        input,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let docs: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        docs[0],
        serde_json::json!({"customer":{"name":"<REDACTED>","phone":"<PHONE>"},"items":[{"phone":"<PHONE>","sku":"A-1"},{"phone":"<PHONE>"}],"note":"mail <EMAIL>"})
    );
    assert_eq!(
        docs[1],
        serde_json::json!({"customer":{"name":"<REDACTED>","phone":null},"note":"CPF <BR_CPF>"})
    );
    let out = palisade(
        &[
            "pii",
            "mask",
            "--json",
            "--paths-only",
            "--path",
            "customer.name",
        ],
        input,
    );
    let docs: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs[0]["note"], "mail jan@example.com");
    assert_eq!(docs[0]["customer"]["name"], "<REDACTED>");
    let bad = palisade(&["pii", "mask", "--json"], b"{not json");
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).starts_with("palisade: standard input is not JSON"));
    let bad_path = palisade(&["pii", "mask", "--json", "--path", "a[x]"], b"{}");
    assert_eq!(bad_path.status.code(), Some(2));
    assert!(
        stderr(&bad_path).contains("invalid field path `a[x]`"),
        "{}",
        stderr(&bad_path)
    );
}
