//! Validation messages: each names the role, rule or tenant, the unknown
//! name, and the line in the policy file.

#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use palisade_rbac::{Error, Policy, Severity};

const SCHEMA: &str = r#"
[types.Doc]
actions = ["read", "edit"]
fields = ["title"]

[roles.Reader]
allow = ["Doc:read"]

[tenants.t]
owners = ["root"]
owner_role = "Reader"

[users.root]
tenants = { t = ["Reader"] }
"#;

fn problems(extra: &str) -> Vec<String> {
    match Policy::from_toml(&format!("{SCHEMA}{extra}")) {
        Err(Error::PolicyInvalid(problems)) => problems
            .iter()
            .map(|p| format!("line {}: {}", p.line.unwrap(), p.message))
            .collect(),
        Err(other) => vec![other.to_string()],
        Ok(_) => vec![],
    }
}

#[test]
fn the_schema_itself_is_valid() {
    assert!(Policy::from_toml(SCHEMA).is_ok());
}

#[test]
fn precise_messages() {
    // Lines: SCHEMA has 14 lines; the extra text starts on line 15.
    #[rustfmt::skip]
    let table: &[(&str, &str)] = &[
        ("[roles.Writer]\nallow = [\"Doc:write\"]\n",
         "line 16: role `Writer`: allow `Doc:write` names unknown action `write` of resource type `Doc`"),
        ("[roles.Writer]\ndeny = [\"Page:read\"]\n",
         "line 16: role `Writer`: deny `Page:read` names unknown resource type `Page`"),
        ("[roles.Writer]\nallow = [\"read\"]\n",
         "line 16: role `Writer`: allow `read` is not an action (expected `Type:action`, `Type:*` or `*`)"),
        ("[roles.Writer]\ninherits = [\"Boss\"]\n",
         "line 16: role `Writer` inherits unknown role `Boss`"),
        ("[roles.A]\ninherits = [\"B\"]\n[roles.B]\ninherits = [\"A\"]\n",
         "line 15: role `A` inherits itself: `A` -> `B` -> `A`"),
        ("[roles.A]\ninherits = [\"A\"]\n",
         "line 15: role `A` inherits itself: `A` -> `A`"),
        ("[roles.W]\nfields = { \"Doc.body\" = \"masked\" }\n",
         "line 15: role `W`: unknown field `Doc.body` (expected `Type.field` of a declared type)"),
        ("[[roles.Reader.rules]]\neffect = \"allow\"\nactions = [\"Doc:edit\"]\nwhen = [{ context = \"n\", op = \"lt\", value = \"x\" }]\n",
         "line 15: role `Reader`, rule 1: comparison `context.n < \"x\"` is not supported (`in` takes a non-empty list, `lt`/`le`/`gt`/`ge` an integer, `eq`/`ne` a string, integer or boolean)"),
        ("[[roles.Reader.rules]]\nid = \"edits\"\neffect = \"allow\"\nactions = [\"Doc:publish\"]\n",
         "line 18: role `Reader`, rule `edits`: action `Doc:publish` names unknown action `publish` of resource type `Doc`"),
        ("[users.bob]\ntenants = { t = [\"Admin\"] }\n",
         "line 16: user `bob` holds unknown role `Admin` in tenant `t`"),
        ("[users.bob]\ntenants = { nowhere = [\"Reader\"] }\n",
         "line 15: user `bob` holds roles in unknown tenant `nowhere`"),
        ("[tenants.u]\nowners = [\"root\"]\nowner_role = \"Reader\"\n",
         "line 16: tenant `u`: owner `root` does not hold the owner role `Reader`"),
        ("[tenants.u]\nowners = []\nowner_role = \"Reader\"\n",
         "line 15: tenant `u` has no owner"),
        ("[tenants.u]\nowners = [\"ghost\"]\nowner_role = \"Nobody\"\n",
         "line 16: tenant `u` names unknown owner `ghost`"),
        ("[resources.\"Doc:1\"]\nowner = \"ghost\"\n",
         "line 16: resource `Doc:1` has unknown owner `ghost`"),
        ("[types.Bad]\nactions = [\"read\", \"read\"]\n",
         "line 15: resource type `Bad` declares action `read` twice"),
    ];
    for (extra, expected) in table {
        let found = problems(extra);
        assert!(
            found.iter().any(|p| p == expected),
            "expected {expected:?} among {found:?}"
        );
    }
}

#[test]
fn blocked_owner_is_invalid() {
    let text = SCHEMA.replace("[users.root]", "[users.root]\nstatus = \"blocked\"");
    let Err(Error::PolicyInvalid(problems)) = Policy::from_toml(&text) else {
        panic!("a blocked owner must be rejected");
    };
    assert_eq!(problems[0].message, "tenant `t`: owner `root` is blocked");
}

#[test]
fn syntax_errors_carry_the_line() {
    #[rustfmt::skip]
    let table: &[(&str, usize, &str)] = &[
        ("[roles.Writer]\nallwo = [\"Doc:read\"]\n", 16, "unknown field `allwo`"),
        ("[roles.Writer\n", 15, ""),
        ("[users.x]\nstatus = \"fired\"\n", 16, "unknown variant `fired`"),
        ("[types.Doc]\n", 15, "duplicate key"),
    ];
    for (extra, line, fragment) in table {
        match Policy::from_toml(&format!("{SCHEMA}{extra}")) {
            Err(Error::PolicyInvalid(problems)) => {
                let [problem] = problems.as_slice() else {
                    panic!("{extra}: one problem expected, got {problems:?}");
                };
                assert_eq!(problem.severity, Severity::Error);
                assert_eq!(problem.line, Some(*line), "{extra}: {problem}");
                assert!(problem.column.is_some(), "{problem:?}");
                assert!(problem.message.contains(fragment), "{problem}");
            }
            other => panic!("{extra}: {other:?}"),
        }
    }
}

#[test]
fn problems_have_the_shape_of_retention_problems() {
    // Line, column (in characters, counted from 1), severity, message: the
    // same shape and the same text as palisade-retention's problems.
    let text = format!("{SCHEMA}[roles.Writer]\n  allwo = [\"Doc:read\"]\n");
    let err = Policy::from_toml(&text).unwrap_err();
    let [problem] = err.problems() else {
        panic!("{err:?}")
    };
    assert_eq!((problem.line, problem.column), (Some(16), Some(3)));
    assert!(
        problem
            .to_string()
            .starts_with("line 16, column 3: error: unknown field `allwo`"),
        "{problem}"
    );
    // A validation problem points at what it is about: the role `Admin`.
    let err = Policy::from_toml(&format!(
        "{SCHEMA}[users.bob]\ntenants = {{ t = [\"Admin\"] }}\n"
    ))
    .unwrap_err();
    let [problem] = err.problems() else {
        panic!("{err:?}")
    };
    assert_eq!(
        problem.to_string(),
        "line 16, column 18: error: user `bob` holds unknown role `Admin` in tenant `t`"
    );
    assert!(Error::TenantUnknown("x".into()).problems().is_empty());
}
