//! `--json` output, parsed as a script would: the stable shapes the CLI
//! README documents for policy decisions, listings and validation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation is a test failure"
)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

fn booking() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../palisade-rbac/policies/booking.toml")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Runs the binary; returns the exit code and standard output parsed as JSON.
fn json_of(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON document per run: {text}");
    (
        out.status.code().unwrap(),
        serde_json::from_str(&text).unwrap(),
    )
}

#[test]
fn policy_check_prints_the_decision() {
    let policy = booking();
    let (code, value) = json_of(&[
        "policy",
        "check",
        "--policy",
        &policy,
        "--principal",
        "bella",
        "--action",
        "read",
        "--resource",
        "Client:1",
        "--tenant",
        "salon",
        "--json",
        "--explain",
    ]);
    assert_eq!(code, 0);
    assert_eq!(value["outcome"], "allow");
    assert_eq!(value["allowed"], true);
    assert_eq!(
        value["fields"],
        json!([
            {"field": "name", "visibility": "visible"},
            {"field": "phone", "visibility": "masked"},
            {"field": "email", "visibility": "visible"},
        ])
    );
    assert_eq!(value["rules"][0]["path"], "roles.Staff.allow[1]");
    assert!(value["summary"].as_str().unwrap().contains("allowed"));

    let (code, value) = json_of(&[
        "policy",
        "check",
        "--policy",
        &policy,
        "--principal",
        "bella",
        "--action",
        "export",
        "--resource",
        "Client:1",
        "--tenant",
        "salon",
        "--json",
    ]);
    assert_eq!(code, 1, "a denial keeps its exit status");
    assert_eq!(value["outcome"], "forbidden");
    assert_eq!(value["allowed"], false);
    assert!(value.get("rules").is_none(), "rules only with --explain");
}

#[test]
fn policy_listings_are_json_arrays_of_objects() {
    let policy = booking();
    let (code, value) = json_of(&[
        "policy",
        "permissions",
        "--policy",
        &policy,
        "--principal",
        "bella",
        "--tenant",
        "salon",
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(value["principal"], "bella");
    assert_eq!(value["blocked"], false);
    let salon = &value["tenants"][0];
    assert_eq!(salon["tenant"], "salon");
    let permissions = salon["permissions"].as_array().unwrap();
    assert!(
        permissions.contains(
            &json!({"resource_type": "Client", "action": "export", "access": "forbidden"})
        )
    );
    assert!(
        permissions
            .contains(&json!({"resource_type": "Booking", "action": "read", "access": "allowed"}))
    );
    assert_eq!(
        salon["fields"]["Client"][1],
        json!({"field": "phone", "visibility": "masked"})
    );

    let (code, value) = json_of(&[
        "policy",
        "permissions",
        "--policy",
        &policy,
        "--principal",
        "dora",
        "--json",
    ]);
    assert_eq!((code, &value["blocked"]), (0, &json!(true)));

    let (code, value) = json_of(&[
        "policy",
        "who-can",
        "--policy",
        &policy,
        "--action",
        "export",
        "--resource",
        "Client:1",
        "--tenant",
        "salon",
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        value,
        json!([{"principal": "anna", "tenant": "salon"}, {"principal": "carl", "tenant": "salon"}])
    );
}

#[test]
fn validation_reports_problems_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(booking())
            .unwrap()
            .replace("[roles.Staff]", "[roles.Staff]\ninherits = [\"Boss\"]"),
    )
    .unwrap();
    let (code, value) = json_of(&["policy", "validate", bad.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1);
    assert_eq!(value["valid"], false);
    assert_eq!(
        value["problems"],
        json!([{
            "severity": "error",
            "line": 21,
            "column": 13,
            "message": "role `Staff` inherits unknown role `Boss`",
        }])
    );
    let (code, value) = json_of(&["policy", "validate", &booking(), "--json"]);
    assert_eq!((code, value), (0, json!({"valid": true, "problems": []})));

    // Retention policies: the same problem shape, plus counts.
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "categories = [\"invoice\"]\n\n[[rule]]\nname = \"invoices\"\ncategory = \"receipt\"\nfrom = \"created\"\nretain = \"10 years\"\n",
    )
    .unwrap();
    let (code, value) = json_of(&["retention", "validate", rules.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1);
    assert_eq!(value["valid"], false);
    assert_eq!(
        (&value["errors"], &value["warnings"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(value["problems"][0]["severity"], "warning");
    let problem = &value["problems"][1];
    assert_eq!(problem["severity"], "error");
    assert_eq!(
        (&problem["line"], &problem["column"]),
        (&json!(5), &json!(12))
    );
    assert!(
        problem["message"].as_str().unwrap().contains("receipt"),
        "{problem}"
    );
}
