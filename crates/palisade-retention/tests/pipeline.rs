//! The policy pipeline (parse → validate → compile) on random documents:
//! `Policy::from_toml` and `Policy::validate` agree, every problem has a
//! place inside the file, and a compiled policy keeps every rule written.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly on unexpected values"
)]

use palisade_retention::{Policy, Severity};
use proptest::prelude::*;

/// One `[[rule]]` table from pieces that are valid or not.
fn rule() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("r1"),
        Just("r2"),
        Just("r3"),
        Just("bad name"),
        Just("")
    ];
    let category = prop_oneof![Just("a"), Just("b"), Just("missing")];
    let from = prop_oneof![
        Just("created"),
        Just("last_activity"),
        Just("closed"),
        Just("erasure_requested"),
        Just("undeclared"),
    ];
    let period = prop_oneof![
        Just("retain = \"10 years\""),
        Just("retain = \"30 days\""),
        Just("after = \"30 days\""),
        Just("after = \"1 year 6 months\""),
        Just("after = \"0 days\""),
        Just("after = \"5000 years\""),
        Just("after = \"soon\""),
        Just("retain = \"1 year\"\nafter = \"1 day\""),
        Just(""),
    ];
    let then = prop_oneof![
        Just("then = \"delete\""),
        Just("then = \"anonymize\""),
        Just("then = \"archive\""),
        Just("then = \"shred\""),
        Just(""),
    ];
    let locked = prop_oneof![Just("locked = true"), Just("")];
    (name, category, from, period, then, locked).prop_map(
        |(name, category, from, period, then, locked)| {
            format!(
                "[[rule]]\nname = \"{name}\"\ncategory = \"{category}\"\nfrom = \"{from}\"\n{period}\n{then}\n{locked}\n"
            )
        },
    )
}

fn document() -> impl Strategy<Value = String> {
    let zone = prop_oneof![
        Just(""),
        Just("time_zone = \"Europe/Berlin\"\n"),
        Just("time_zone = \"Mars/Olympus\"\n"),
    ];
    let categories = prop_oneof![
        Just("categories = [\"a\", \"b\"]\n"),
        Just("categories = [\"a\", \"a\", \"b c\"]\n"),
        Just("categories = []\n"),
    ];
    let events = prop_oneof![
        Just(""),
        Just("events = [\"closed\"]\n"),
        Just("events = [\"closed\", \"closed\", \"erasure_requested\", \"created\"]\n"),
    ];
    (
        zone,
        categories,
        events,
        prop::collection::vec(rule(), 0..5),
    )
        .prop_map(|(zone, categories, events, rules)| {
            format!("{zone}{categories}{events}\n{}", rules.join("\n"))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn from_toml_and_validate_agree(text in document()) {
        let problems = Policy::validate(&text);
        let lines: Vec<&str> = text.split('\n').collect();
        for problem in &problems {
            let line = problem.line.unwrap();
            prop_assert!((1..=lines.len()).contains(&line), "{problem} in\n{text}");
            if let Some(column) = problem.column {
                prop_assert!(column <= lines[line - 1].chars().count() + 1);
            }
        }
        let places: Vec<_> = problems.iter().map(|p| (p.line, p.column.unwrap_or(0))).collect();
        prop_assert!(places.is_sorted(), "{problems:?}");
        let errors = problems.iter().any(|p| p.severity == Severity::Error);
        match Policy::from_toml(&text) {
            Err(error) => {
                prop_assert!(errors);
                prop_assert_eq!(error.problems(), &problems[..]);
            }
            Ok(policy) => {
                prop_assert!(!errors, "{problems:?}");
                prop_assert_eq!(policy.warnings(), &problems[..]);
                let written = text.matches("[[rule]]").count();
                prop_assert_eq!(policy.rules().len(), written);
                for rule in policy.rules() {
                    prop_assert_eq!(lines[rule.line().unwrap() - 1], "[[rule]]");
                }
                prop_assert!(policy.replacement_problems(&policy).is_empty());
            }
        }
    }
}
