//! `palisade retention …` run as a user would: the built binary, its output and
//! exit status.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn example_policy() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../palisade-retention/examples/saas-policy.toml")
        .display()
        .to_string()
}

/// A scratch folder for this test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "palisade-retention-cli-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn palisade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .output()
        .unwrap()
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

const RECORDS: &str = r#"{"id":"att-1","category":"support_attachment","subject":"alice","created":"2026-01-05T09:00:00Z","events":{"ticket_closed":"2026-01-10T17:00:00+01:00"}}
{"id":"att-2","category":"support_attachment","subject":"alice","created":"2026-01-05T09:00:00Z","events":{"ticket_closed":"2026-01-10T17:00:00Z"},"holds":["case-42"]}
{"id":"att-3","category":"support_attachment","subject":"bob","created":"2026-02-20T09:00:00Z","events":{"ticket_closed":"2026-02-21T00:00:00Z"}}

{"id":"inv-1","category":"invoice","subject":"alice","created":"2016-01-05T09:00:00Z"}
{"id":"inv-2","category":"invoice","subject":"alice","created":"2026-01-05T09:00:00Z"}
{"id":"cli-1","category":"client_record","subject":"alice","created":"2020-01-05T09:00:00Z","events":{"contract_ended":"2022-06-30T00:00:00Z"}}
{"id":"bak-1","category":"backup","created":"2026-01-01T00:00:00Z"}
{"id":"x-1","category":"mystery","created":"2026-01-05T09:00:00Z"}
"#;

#[test]
fn validate_accepts_the_shipped_example() {
    let output = palisade(&["retention", "validate", &example_policy()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("valid (0 warning(s))"));
}

#[test]
fn validate_lists_problems_with_lines_and_exits_1() {
    let dir = scratch("validate");
    let rules = write(
        &dir,
        "bad.toml",
        "categories = [\"a\"]\n[[rule]]\nname = \"x\"\ncategory = \"b\"\nfrom = \"created\"\nafter = \"0 days\"\nthen = \"zap\"\n",
    );
    let output = palisade(&["retention", "validate", &rules]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("bad.toml:4:12: error: rule `x` names unknown category `b`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("bad.toml:6:9: error: rule `x`: duration `0 days` is zero"),
        "{stdout}"
    );
    assert!(
        stdout.contains("bad.toml:7:8: error: rule `x` has unknown action `zap`"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("3 error(s)"));

    // warnings pass unless denied
    let warned = write(&dir, "warned.toml", "categories = [\"a\"]\n");
    assert_eq!(
        palisade(&["retention", "validate", &warned]).status.code(),
        Some(0)
    );
    assert_eq!(
        palisade(&["retention", "validate", &warned, "--deny-warnings"])
            .status
            .code(),
        Some(1)
    );

    // an unreadable file is an input error
    let missing = dir.join("missing.toml").display().to_string();
    assert_eq!(
        palisade(&["retention", "validate", &missing]).status.code(),
        Some(2)
    );
}

#[test]
fn validate_with_previous_refuses_to_shorten_a_locked_rule() {
    let dir = scratch("previous");
    let shortened = std::fs::read_to_string(example_policy())
        .unwrap()
        .replace("retain = \"10 years\"", "retain = \"5 years\"");
    let new = write(&dir, "new.toml", &shortened);
    let output = palisade(&[
        "retention",
        "validate",
        &new,
        "--previous",
        &example_policy(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("new.toml:44: error: locked rule `invoices-kept-by-law` cannot be shortened from `10 years` to `5 years`"), "{stdout}");

    let extended = std::fs::read_to_string(example_policy())
        .unwrap()
        .replace("retain = \"10 years\"", "retain = \"11 years\"");
    let new = write(&dir, "extended.toml", &extended);
    assert_eq!(
        palisade(&[
            "retention",
            "validate",
            &new,
            "--previous",
            &example_policy()
        ])
        .status
        .code(),
        Some(0)
    );
}

#[test]
fn plan_prints_one_json_action_per_line() {
    let dir = scratch("plan");
    let records = write(&dir, "records.jsonl", RECORDS);
    let output = palisade(&[
        "retention",
        "plan",
        "--rules",
        &example_policy(),
        "--records",
        &records,
        "--now",
        "2026-03-01T00:00:00Z",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = json_lines(&output);
    let summary: Vec<_> = lines
        .iter()
        .map(|l| {
            format!(
                "{} {} {} {} {}",
                l["record"].as_str().unwrap(),
                l["status"].as_str().unwrap(),
                l["action"].as_str().unwrap(),
                l["rule"].as_str().unwrap(),
                l["due"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "att-1 due delete support-attachments 2026-02-09T16:00:00Z",
            "att-2 held delete support-attachments 2026-02-09T17:00:00Z",
            "inv-1 due delete invoices-kept-by-law 2026-01-05T09:00:00Z",
            "cli-1 due anonymize client-records-after-service 2025-06-30T00:00:00Z",
            "bak-1 due crypto-shred backups 2026-02-05T00:00:00Z",
            "x-1 unclassified review unclassified 2026-01-05T09:00:00Z",
        ]
    );
    assert_eq!(lines[1]["hold"], "case-42");
    assert_eq!(
        lines[0]["reason"],
        "30 days after `ticket_closed` (2026-01-10T16:00:00Z)"
    );

    // A second later the client record's three years after the end of service have not passed;
    // on the exact instant they have.
    let at = |now: &str| {
        json_lines(&palisade(&[
            "retention",
            "plan",
            "--rules",
            &example_policy(),
            "--records",
            &records,
            "--now",
            now,
        ]))
    };
    let anonymized = |lines: Vec<Value>| {
        lines
            .iter()
            .any(|l| l["record"] == "cli-1" && l["action"] == "anonymize")
    };
    assert!(!anonymized(at("2025-06-29T23:59:59Z")));
    assert!(anonymized(at("2025-06-30T00:00:00Z")));
    // Offsets: 03:00+03:00 is midnight UTC.
    assert!(anonymized(at("2025-06-30T03:00:00+03:00")));
    assert!(!anonymized(at("2025-06-30T02:59:59+03:00")));
}

#[test]
fn plan_reads_standard_input_and_reports_bad_lines() {
    let dir = scratch("stdin");
    let records = write(
        &dir,
        "bad.jsonl",
        "{\"id\":\"a\",\"category\":\"backup\",\"created\":\"2026-01-01T00:00:00Z\"}\n{\"id\":\"b\",\"category\":\"backup\",\"created\":\"yesterday\"}\n",
    );
    let output = palisade(&[
        "retention",
        "plan",
        "--rules",
        &example_policy(),
        "--records",
        &records,
        "--now",
        "2027-01-01T00:00:00Z",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        json_lines(&output).len(),
        1,
        "the records before the bad line are planned"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("bad.jsonl` line 2"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = palisade(&[
        "retention",
        "plan",
        "--rules",
        &example_policy(),
        "--records",
        &records,
        "--now",
        "tomorrow",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("`tomorrow` is not an RFC 3339 instant")
    );

    let mut command = Command::new(env!("CARGO_BIN_EXE_palisade"));
    command.args([
        "retention",
        "plan",
        "--rules",
        &example_policy(),
        "--records",
        "-",
        "--now",
        "2027-01-01T00:00:00Z",
    ]);
    let output = common::run(
        command,
        b"{\"id\":\"a\",\"category\":\"backup\",\"created\":\"2026-01-01T00:00:00Z\"}\n",
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(json_lines(&output)[0]["action"], "crypto-shred");
}

#[test]
fn erase_answers_with_exemptions() {
    let dir = scratch("erase");
    let records = write(&dir, "records.jsonl", RECORDS);
    let output = palisade(&[
        "retention",
        "erase",
        "--rules",
        &example_policy(),
        "--records",
        &records,
        "--subject",
        "alice",
        "--now",
        "2026-03-01T00:00:00Z",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = json_lines(&output);
    let summary: Vec<_> = lines
        .iter()
        .map(|l| {
            format!(
                "{} {} {} {}",
                l["record"].as_str().unwrap(),
                l["status"].as_str().unwrap(),
                l["action"].as_str().unwrap(),
                l["due"]
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "att-1 due delete \"2026-03-01T00:00:00Z\"",
            "att-2 held delete \"2026-03-01T00:00:00Z\"",
            "inv-1 due delete \"2026-03-01T00:00:00Z\"",
            "inv-2 retained delete \"2036-01-05T09:00:00Z\"",
            "cli-1 due crypto-shred \"2026-03-31T00:00:00Z\"",
        ]
    );
    assert_eq!(lines[3]["retained_by"]["rule"], "invoices-kept-by-law");
    assert_eq!(lines[3]["retained_by"]["until"], "2036-01-05T09:00:00Z");
    assert!(lines[3]["reason"].as_str().unwrap().contains("tax law"));

    // bob has one record, no exemption
    let output = palisade(&[
        "retention",
        "erase",
        "--rules",
        &example_policy(),
        "--records",
        &records,
        "--subject",
        "bob",
        "--now",
        "2026-03-01T00:00:00Z",
    ]);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["status"], "due");
}
