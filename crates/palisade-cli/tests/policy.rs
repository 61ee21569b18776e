//! `palisade policy …` run as a user would: the built binary, the shipped
//! example policies, exit codes and output.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::path::PathBuf;
use std::process::{Command, Output};

fn policy(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../palisade-rbac/policies")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn palisade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("policy")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn validate_accepts_the_shipped_policies() {
    for name in ["chat-platform.toml", "booking.toml"] {
        let out = palisade(&["validate", &policy(name)]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        assert!(stdout(&out).starts_with("valid: "), "{}", stdout(&out));
    }
}

#[test]
fn validate_lists_every_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(policy("booking.toml"))
        .unwrap()
        .replace(
            "\"Client:export\", \"Booking:edit\"",
            "\"Client:print\", \"Booking:edit\"",
        )
        .replace("[roles.Staff]", "[roles.Staff]\ninherits = [\"Boss\"]");
    std::fs::write(&path, text).unwrap();
    let out = palisade(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report = stdout(&out);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 2, "{report}");
    assert!(
        lines[0].ends_with(":21:13: error: role `Staff` inherits unknown role `Boss`"),
        "{report}"
    );
    assert!(
        lines[1].ends_with(
            ":37:9: error: user `bella`: deny `Client:print` names unknown action `print` of resource type `Client`"
        ),
        "{report}"
    );
    assert!(stderr(&out).contains("2 problems"), "{}", stderr(&out));

    std::fs::write(&path, "[roles.X\n").unwrap();
    let out = palisade(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains(":1:9: error: "), "{}", stdout(&out));

    let out = palisade(&["validate", "/nonexistent/policy.toml"]);
    assert_eq!(out.status.code(), Some(2));
}

/// policy file, principal, action, resource, context, expected exit code
type CheckRow<'a> = (&'a str, &'a str, &'a str, &'a str, Option<&'a str>, i32);

#[test]
fn check_prints_the_decision_and_exits_accordingly() {
    let chat = policy("chat-platform.toml");
    let booking = policy("booking.toml");
    #[rustfmt::skip]
    let table: &[CheckRow<'_>] = &[
        (&chat, "olivia", "edit", "Finance:ledger", None, 0),
        (&chat, "sofia", "read", "Finance:ledger", None, 1),
        (&chat, "otto", "read", "Statistics:otto", None, 0),
        (&chat, "otto", "read", "Statistics:sergei", None, 1),
        (&chat, "sergei", "export", "Client:c1", Some(r#"{"rows": 20}"#), 0),
        (&chat, "sergei", "export", "Client:c1", Some(r#"{"rows": 20000}"#), 1),
        (&booking, "bella", "export", "Client:c1", None, 1),
        (&booking, "bella", "edit", "Booking:b1", None, 1),
        (&booking, "carl", "edit", "Booking:b1", None, 0),
        (&booking, "dora", "read", "Booking:b1", None, 1),
    ];
    for (file, who, action, resource, context, code) in table {
        let mut args = vec![
            "check",
            "--policy",
            file,
            "--principal",
            who,
            "--action",
            action,
            "--resource",
            resource,
            "--tenant",
            if file.contains("chat") {
                "chatco"
            } else {
                "salon"
            },
        ];
        if let Some(context) = context {
            args.extend(["--context", context]);
        }
        let out = palisade(&args);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{who} {action} {resource}: {}",
            stderr(&out)
        );
        let expected = if *code == 0 { "allow\n" } else { "deny\n" };
        assert_eq!(stdout(&out), expected, "{who} {action} {resource}");
    }
}

#[test]
fn check_explains() {
    let out = palisade(&[
        "check",
        "--policy",
        &policy("booking.toml"),
        "--principal",
        "bella",
        "--action",
        "export",
        "--resource",
        "Client:c1",
        "--tenant",
        "salon",
        "--explain",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "deny\noutcome: forbidden\nreason: `Client:export` is denied by users.bella.deny[0]\n\
         rule: users.bella.deny[0] (deny `Client:export`)\n\
         field name: hidden\nfield phone: hidden\nfield email: hidden\n"
    );
    let out = palisade(&[
        "check",
        "--policy",
        &policy("booking.toml"),
        "--principal",
        "bella",
        "--action",
        "read",
        "--resource",
        "Client:c1",
        "--tenant",
        "salon",
        "--explain",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("field phone: masked\n"),
        "{}",
        stdout(&out)
    );
    // The owner given on the command line is used for ownership rules.
    let out = palisade(&[
        "check",
        "--policy",
        &policy("chat-platform.toml"),
        "--principal",
        "otto",
        "--action",
        "read",
        "--resource",
        "Statistics:new",
        "--owner",
        "otto",
        "--tenant",
        "chatco",
        "--explain",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("if the principal owns the resource"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn check_rejects_malformed_input_with_exit_2() {
    let chat = policy("chat-platform.toml");
    for (resource, context) in [
        (":x", "{}"),
        ("Client:c1", "[1]"),
        ("Client:c1", r#"{"a": 1.5}"#),
    ] {
        let out = palisade(&[
            "check",
            "--policy",
            &chat,
            "--principal",
            "otto",
            "--action",
            "read",
            "--resource",
            resource,
            "--context",
            context,
        ]);
        assert_eq!(out.status.code(), Some(2), "{resource} {context}");
        assert!(stderr(&out).starts_with("palisade: "), "{}", stderr(&out));
    }
}

#[test]
fn permissions_show_what_the_user_sees() {
    let out = palisade(&[
        "permissions",
        "--policy",
        &policy("booking.toml"),
        "--principal",
        "bella",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for line in [
        "in tenant salon:",
        "  allow   Booking:read",
        "  forbid  Booking:edit",
        "  forbid  Booking:delete",
        "  forbid  Client:export",
        "  allow   Client:read",
        "  fields  Client: name visible, phone masked, email visible",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    let out = palisade(&[
        "permissions",
        "--policy",
        &policy("booking.toml"),
        "--principal",
        "dora",
    ]);
    assert!(stdout(&out).contains("is blocked"));
    let out = palisade(&[
        "permissions",
        "--policy",
        &policy("booking.toml"),
        "--principal",
        "ghost",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn who_can_lists_principals() {
    let out = palisade(&[
        "who-can",
        "--policy",
        &policy("chat-platform.toml"),
        "--action",
        "read",
        "--resource",
        "Finance:ledger",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "max (tenant chatco)\nolivia (tenant chatco)\n"
    );
    let out = palisade(&[
        "who-can",
        "--policy",
        &policy("booking.toml"),
        "--action",
        "export",
        "--resource",
        "Client:c1",
        "--tenant",
        "salon",
    ]);
    assert_eq!(stdout(&out), "anna (tenant salon)\ncarl (tenant salon)\n");
}

/// Regression (issue 15): a mistyped tenant was answered (from global roles)
/// instead of refused; now it is malformed input, exit 2, one line.
#[test]
fn check_refuses_an_undeclared_tenant_with_exit_2() {
    let out = palisade(&[
        "check",
        "--policy",
        &policy("chat-platform.toml"),
        "--principal",
        "otto",
        "--action",
        "read",
        "--resource",
        "Conversation:1",
        "--tenant",
        "nosuch",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "palisade: unknown tenant `nosuch`\n");
}
