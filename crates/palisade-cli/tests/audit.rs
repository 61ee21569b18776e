//! `palisade audit …` run as a user would: the built binary on real files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use palisade_audit::format::PUBLIC_KEY_FILE;
use palisade_audit::{
    CheckpointVerifier, FileOptions, FileStore, Hash, Store, verify_dir, verify_inclusion,
};

fn hash_from_hex(text: &str) -> Option<Hash> {
    text.parse().ok()
}
use serde_json::Value;

fn palisade(args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_palisade"));
    command.args(args);
    common::run(command, stdin.as_bytes())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn event_line(i: u64) -> String {
    serde_json::json!({
        "actor": format!("staff:{}", i % 3),
        "action": "customer.read",
        "resource": format!("customers/{i}"),
        "subjects": [format!("customer:{}", i % 4)],
        "tenant": "acme",
        "time": format!("2026-01-01T00:00:{:02}Z", i % 60),
        "outcome": "success",
        "payload": { "fields": ["email", "iban"], "n": i }
    })
    .to_string()
}

fn events(range: std::ops::Range<u64>) -> String {
    range.map(|i| event_line(i) + "\n").collect()
}

fn log_arg(dir: &Path) -> String {
    dir.to_str().unwrap().to_owned()
}

#[test]
fn append_prints_acknowledgements_and_verify_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_arg(&dir.path().join("log"));
    let out = palisade(&["audit", "append", "--log", &log], &events(0..20));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 20);
    for (i, line) in lines.iter().enumerate() {
        let (index, hash) = line.split_once(' ').unwrap();
        assert_eq!(index, i.to_string());
        assert!(hash_from_hex(hash).is_some(), "{line}");
    }
    // The signing key is private to its owner.
    let mode = fs::metadata(dir.path().join("log/checkpoint.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let out = palisade(&["audit", "verify", "--log", &log, "--json"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(v["records"], 20);
    assert_eq!(v["checkpoints_verified"], 1);
    let root = v["root"].as_str().unwrap().to_owned();

    // An inclusion proof from the CLI verifies with the library.
    let out = palisade(&["audit", "prove", "--log", &log, "--index", "7"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(p["root"], root.as_str());
    let leaf = hash_from_hex(lines[7].split_once(' ').unwrap().1).unwrap();
    assert_eq!(p["leaf_hash"], lines[7].split_once(' ').unwrap().1);
    let proof: Vec<Hash> = p["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash_from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    verify_inclusion(7, 20, &leaf, &proof, &hash_from_hex(&root).unwrap()).unwrap();

    // Appending more keeps the history consistent.
    let out = palisade(&["audit", "append", "--log", &log], &events(20..30));
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("20 "));
    let out = palisade(
        &[
            "audit",
            "consistency",
            "--log",
            &log,
            "--from",
            "20",
            "--to",
            "30",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let c: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(c["old_root"], root.as_str());
    let proof: Vec<Hash> = c["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash_from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    palisade_audit::verify_consistency(
        20,
        30,
        &hash_from_hex(&root).unwrap(),
        &hash_from_hex(c["new_root"].as_str().unwrap()).unwrap(),
        &proof,
    )
    .unwrap();
}

#[test]
fn a_tampered_copy_fails_verification_naming_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let out = palisade(
        &["audit", "append", "--log", &log_arg(&log)],
        &events(0..10),
    );
    assert!(out.status.success());
    let public = dir.path().join("trusted.pub");
    fs::copy(log.join(PUBLIC_KEY_FILE), &public).unwrap();
    let seg = log.join("segments/00000000000000000000.seg");
    let mut bytes = fs::read(&seg).unwrap();
    // Change "customers/5" into "customers/6" in place: the checksum breaks.
    let at = bytes.windows(11).position(|w| w == b"customers/5").unwrap();
    bytes[at + 10] = b'6';
    fs::write(&seg, &bytes).unwrap();
    let out = palisade(
        &[
            "audit",
            "verify",
            "--log",
            &log_arg(&log),
            "--public-key",
            public.to_str().unwrap(),
            "--json",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_bad_record"], 5);
    assert!(
        text(&out.stderr).contains("record 5"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn truncation_after_a_checkpoint_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    assert!(
        palisade(
            &["audit", "append", "--log", &log_arg(&log)],
            &events(0..10)
        )
        .status
        .success()
    );
    let seg = log.join("segments/00000000000000000000.seg");
    let bytes = fs::read(&seg).unwrap();
    // Drop the last record, cleanly on a frame boundary.
    let (_, records) = palisade_audit::format::parse_segment(&bytes).unwrap();
    let last = records.last().unwrap().encode().len();
    let mut cut = bytes.len();
    for len in 1..bytes.len() {
        if palisade_audit::format::parse_segment(&bytes[..bytes.len() - len])
            .is_ok_and(|(_, r)| r.len() == 9)
        {
            cut = bytes.len() - len;
            break;
        }
    }
    assert!(cut < bytes.len() - last);
    fs::write(&seg, &bytes[..cut]).unwrap();
    let out = palisade(&["audit", "verify", "--log", &log_arg(&log)], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cut off the end"),
        "{}",
        text(&out.stderr)
    );
}

/// A torn last record (a crash mid-append) is never repaired silently: the
/// reading subcommands refuse the log and name `recover`; `recover` drops the
/// tail and reports it; `append` recovers by itself and says so.
#[test]
fn a_torn_tail_is_refused_until_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let arg = log_arg(&log);
    assert!(
        palisade(&["audit", "append", "--log", &arg], &events(0..5))
            .status
            .success()
    );
    let seg = log.join("segments/00000000000000000000.seg");
    let bytes = fs::read(&seg).unwrap();
    fs::write(&seg, &bytes[..bytes.len() - 7]).unwrap();
    let out = palisade(&["audit", "prove", "--log", &arg, "--index", "0"], "");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("needs recovery") && err.contains("palisade audit recover"),
        "{err}"
    );
    assert_eq!(fs::read(&seg).unwrap().len(), bytes.len() - 7);
    let out = palisade(&["audit", "recover", "--log", &arg, "--json"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(report["records"], 4);
    assert!(report["dropped_tail_bytes"].as_u64().unwrap() > 7);
    let out = palisade(&["audit", "prove", "--log", &arg, "--index", "3"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = palisade(&["audit", "recover", "--log", &arg, "--json"], "");
    let report: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(report["dropped_tail_bytes"], 0);
    // `append` recovers by itself and reports it on standard error.
    let bytes = fs::read(&seg).unwrap();
    fs::write(&seg, &bytes[..bytes.len() - 7]).unwrap();
    let out = palisade(&["audit", "append", "--log", &arg], &events(5..6));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("dropped an incomplete tail"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).starts_with("3 "), "{}", text(&out.stdout));
}

#[test]
fn export_query_erase_and_bundle_verification() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_arg(&dir.path().join("log"));
    assert!(
        palisade(&["audit", "append", "--log", &log], &events(0..12))
            .status
            .success()
    );

    let out = palisade(
        &["audit", "query", "--log", &log, "--subject", "customer:1"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hits: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        hits.iter()
            .map(|h| h["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 5, 9]
    );
    assert_eq!(hits[0]["actor"], "staff:1");
    assert_eq!(hits[0]["payload"]["n"], 1);

    let out = palisade(
        &[
            "audit",
            "erase",
            "--log",
            &log,
            "--subject",
            "customer:1",
            "--actor",
            "dpo:bob",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("erased 3 payload(s); the erasure is record 12"));
    let out = palisade(
        &["audit", "query", "--log", &log, "--subject", "customer:1"],
        "",
    );
    let hits: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(hits.len(), 4);
    assert_eq!(hits[0]["payload_state"], "erased");
    assert!(hits[0].get("payload").is_none());
    assert_eq!(hits[3]["action"], "audit.erase");
    let out = palisade(&["audit", "verify", "--log", &log], "");
    assert!(out.status.success(), "{}", text(&out.stderr));

    let bundle = dir.path().join("evidence.json");
    let out = palisade(
        &[
            "audit",
            "export",
            "--log",
            &log,
            "--from",
            "3",
            "--to",
            "8",
            "--output",
            bundle.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Verified elsewhere: only the bundle file and a trusted key.
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("evidence.json");
    fs::copy(&bundle, &copy).unwrap();
    let public = elsewhere.path().join("key.pub");
    fs::copy(dir.path().join("log").join(PUBLIC_KEY_FILE), &public).unwrap();
    let out = palisade(
        &[
            "audit",
            "verify",
            "--bundle",
            copy.to_str().unwrap(),
            "--public-key",
            public.to_str().unwrap(),
            "--json",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(v["records"], 5);
    assert_eq!(v["from"], 3);
    assert_eq!(v["to"], 8);
    // A bundle with one changed character fails.
    let original = fs::read_to_string(&copy).unwrap();
    let tampered = original.replacen("\"start\": 3", "\"start\": 4", 1);
    assert_ne!(tampered, original);
    fs::write(&copy, tampered).unwrap();
    let out = palisade(&["audit", "verify", "--bundle", copy.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn malformed_input_is_a_usage_error_after_acknowledging_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_arg(&dir.path().join("log"));
    let input = format!("{}\n{{not json\n", event_line(0));
    let out = palisade(&["audit", "append", "--log", &log], &input);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout).lines().count(), 1);
    assert!(
        text(&out.stderr).contains("line 2"),
        "{}",
        text(&out.stderr)
    );
}

/// A tiny deterministic generator for kill delays (no extra dependency).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_under_group_commit_never_loses_an_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut acked: Vec<(u64, Hash)> = Vec::new();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut next_event = 0u64;
    let mut torn_tails = 0;
    for round in 0..50 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args([
                "audit",
                "append",
                "--log",
                log.to_str().unwrap(),
                "--sync",
                "group",
            ])
            .args(["--checkpoint-every", "97"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let start = next_event;
        let writer = std::thread::spawn(move || {
            let mut i = start;
            // Write until the pipe breaks (the child was killed).
            loop {
                let chunk: String = (i..i + 16).map(|j| event_line(j) + "\n").collect();
                if stdin.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
                i += 16;
            }
        });
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lines.push(line);
            }
            lines
        });
        std::thread::sleep(Duration::from_micros(20_000 + rng.next() % 200_000));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        writer.join().unwrap();
        let lines = reader.join().unwrap();
        for line in lines {
            let (index, hash) = line.split_once(' ').unwrap();
            acked.push((index.parse().unwrap(), hash_from_hex(hash).unwrap()));
        }
        next_event += 100_000;
        // Restart: recovery drops at most a torn tail, never an
        // acknowledged record; the log verifies with its key.
        if !log.join("segments").exists() {
            continue;
        }
        let (store, recovery) = FileStore::recover(&log, FileOptions::default()).unwrap();
        if recovery.dropped_tail_bytes > 0 {
            torn_tails += 1;
        }
        let len = store.len().unwrap();
        let hashes = store.leaf_hashes(0, len).unwrap();
        for (index, hash) in &acked {
            assert!(
                *index < len,
                "round {round}: acknowledged record {index} lost"
            );
            assert_eq!(
                &hashes[*index as usize], hash,
                "round {round}: record {index} changed"
            );
        }
        drop(store);
        // Killed before the key was created: nothing was acknowledged yet.
        let Ok(key) = fs::read_to_string(log.join(PUBLIC_KEY_FILE)) else {
            assert!(acked.is_empty());
            continue;
        };
        let key = CheckpointVerifier::from_text(&key).unwrap();
        let report = verify_dir(&log, Some(&key)).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(report.records, len);
    }
    assert!(acked.len() > 50, "only {} acknowledgements", acked.len());
    println!(
        "crash test: 50 SIGKILLs, {} acknowledged records all present, {torn_tails} torn tails recovered",
        acked.len()
    );
}
