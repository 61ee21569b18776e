//! Policy files: validation with line numbers, the shipped example, locked rules.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly on unexpected values"
)]

use palisade_retention::{Error, Policy, RuleKind, Severity, Timestamp};

const HEADER: &str = "categories = [\"invoice\", \"note\"]\nevents = [\"ticket_closed\"]\n";

/// `(severity, line, message fragment)` expectations for a rule body placed at line 4.
#[test]
fn validation_reports_each_problem_at_its_line() {
    let cases: &[(&str, Severity, usize, &str)] = &[
        (
            "name = \"a\"\ncategory = \"invoices\"\nfrom = \"created\"\nafter = \"1 day\"\nthen = \"delete\"",
            Severity::Error,
            5,
            "unknown category `invoices`",
        ),
        (
            "name = \"a\"\ncategory = \"note\"\nfrom = \"creatd\"\nafter = \"1 day\"\nthen = \"delete\"",
            Severity::Error,
            6,
            "unknown trigger `creatd`",
        ),
        (
            "name = \"a\"\ncategory = \"note\"\nfrom = \"created\"\nafter = \"1 day\"\nthen = \"shred\"",
            Severity::Error,
            8,
            "unknown action `shred`",
        ),
        (
            "name = \"a\"\ncategory = \"note\"\nfrom = \"created\"\nafter = \"0 days\"\nthen = \"delete\"",
            Severity::Error,
            7,
            "duration `0 days` is zero",
        ),
        (
            "name = \"a\"\ncategory = \"note\"\nfrom = \"created\"\nafter = \"-3 days\"\nthen = \"delete\"",
            Severity::Error,
            7,
            "duration `-3 days` is negative",
        ),
        (
            "name = \"a\"\ncategory = \"note\"\nfrom = \"created\"\nafter = \"3 days ago\"\nthen = \"delete\"",
            Severity::Error,
            7,
            "is negative",
        ),
        (
            "name = \"a\"\ncategory = \"note\"\nfrom = \"created\"\nafter = \"forever\"\nthen = \"delete\"",
            Severity::Error,
            7,
            "`forever` is not a duration",
        ),
        (
            "name = \"a\"\ncategory = \"note\"\nfrom = \"created\"\nafter = \"5000 years\"\nthen = \"delete\"",
            Severity::Error,
            7,
            "longer than 1000 years",
        ),
        (
            "name = \"a\"\ncategory = \"note\"\nfrom = \"created\"\nafter = \"10ms\"\nthen = \"delete\"",
            Severity::Error,
            7,
            "smaller than a second",
        ),
        (
            "name = \"a\"\ncategory = \"note\"\nfrom = \"created\"\nafter = \"1 day\"",
            Severity::Error,
            7,
            "says `after` but not `then`",
        ),
        (
            "name = \"a\"\ncategory = \"note\"\nfrom = \"created\"\nretain = \"1 day\"\nafter = \"1 day\"\nthen = \"delete\"",
            Severity::Error,
            8,
            "both `retain` and `after`",
        ),
        (
            "name = \"a\"\ncategory = \"note\"\nfrom = \"created\"\nthen = \"delete\"",
            Severity::Error,
            3,
            "neither `retain` nor `after`",
        ),
        (
            "name = \"a b\"\ncategory = \"note\"\nfrom = \"created\"\nafter = \"1 day\"\nthen = \"delete\"",
            Severity::Error,
            4,
            "invalid rule name `a b`",
        ),
        (
            "name = \"a\"\ncategory = \"note\"\nfrom = \"created\"\nafter = \"1 day\"\nthen = \"delete\"\nkeep = true",
            Severity::Error,
            9,
            "unknown field `keep`",
        ),
        (
            "name = \"a\"\ncategory = \"note\"\nfrom = \"created\"\nafter = 30\nthen = \"delete\"",
            Severity::Error,
            7,
            "invalid type",
        ),
        // a deletion shorter than an obligation on the same records: resolved by precedence
        (
            "name = \"a\"\ncategory = \"invoice\"\nfrom = \"created\"\nafter = \"30 days\"\nthen = \"delete\"\n[[rule]]\nname = \"b\"\ncategory = \"invoice\"\nfrom = \"created\"\nretain = \"10 years\"",
            Severity::Warning,
            3,
            "conflict: rule `a` would delete `invoice` records 30 days after `created`, before the obligation `b`",
        ),
        (
            "name = \"a\"\ncategory = \"invoice\"\nfrom = \"created\"\nafter = \"1 day\"\nthen = \"delete\"\n[[rule]]\nname = \"a\"\ncategory = \"invoice\"\nfrom = \"created\"\nafter = \"1 day\"\nthen = \"delete\"",
            Severity::Error,
            10,
            "rule `a` is defined twice",
        ),
    ];
    for &(body, severity, line, fragment) in cases {
        let text = format!("{HEADER}[[rule]]\n{body}\n");
        let problems = Policy::validate(&text);
        let found = problems
            .iter()
            .find(|p| p.message.contains(fragment))
            .unwrap_or_else(|| panic!("no problem with `{fragment}` in {problems:#?}\n{text}"));
        assert_eq!(
            (found.severity, found.line),
            (severity, Some(line)),
            "{fragment}\n{text}"
        );
        let parsed = Policy::from_toml(&text);
        assert_eq!(parsed.is_ok(), severity == Severity::Warning, "{fragment}");
        if let Err(error) = parsed {
            assert!(matches!(error, Error::PolicyInvalid(_)));
            assert!(error.to_string().contains(fragment), "{error}");
        }
    }
}

#[test]
fn declarations_are_checked() {
    let cases: &[(&str, Severity, usize, &str)] = &[
        (
            "time_zone = \"Mars/Olympus\"\ncategories = []",
            Severity::Error,
            1,
            "unknown time zone `Mars/Olympus`",
        ),
        (
            "categories = [\"a\", \"a\"]",
            Severity::Error,
            1,
            "category `a` is declared twice",
        ),
        (
            "categories = [\"a\"]\nevents = [\"created\"]",
            Severity::Error,
            2,
            "invalid event name `created`",
        ),
        (
            "categories = [\"a\"]",
            Severity::Warning,
            1,
            "category `a` has no rule",
        ),
        (
            "categories = [\"a\"]\nevents = [\"x\"]",
            Severity::Warning,
            2,
            "event `x` is declared but no rule starts from it",
        ),
        ("categories = [\"a\"\n", Severity::Error, 1, ""),
        (
            "events = []",
            Severity::Error,
            1,
            "missing field `categories`",
        ),
    ];
    for &(text, severity, line, fragment) in cases {
        let problems = Policy::validate(text);
        let found = problems
            .iter()
            .find(|p| p.message.contains(fragment))
            .unwrap_or_else(|| panic!("no problem with `{fragment}` in {problems:#?}"));
        assert_eq!(
            (found.severity, found.line),
            (severity, Some(line)),
            "{fragment}"
        );
    }
}

#[test]
fn the_shipped_example_is_clean() {
    let text = include_str!("../examples/saas-policy.toml");
    assert_eq!(Policy::validate(text), vec![]);
    let policy = Policy::from_toml(text).unwrap();
    assert_eq!(
        policy.categories().collect::<Vec<_>>(),
        [
            "audit_log",
            "backup",
            "client_record",
            "invoice",
            "support_attachment"
        ]
    );
    let invoices = policy.rule("invoices-kept-by-law").unwrap();
    assert!(invoices.locked());
    assert_eq!(invoices.kind(), RuleKind::RetainThenAct);
    assert_eq!(invoices.line(), Some(44));
}

fn locked(duration: &str) -> String {
    format!(
        "categories = [\"invoice\"]\n[[rule]]\nname = \"keep\"\ncategory = \"invoice\"\nfrom = \"created\"\nretain = \"{duration}\"\nthen = \"delete\"\nlocked = true\n"
    )
}

#[test]
fn locked_rules_extend_but_never_shorten() {
    let old = Policy::from_toml(&locked("1 year")).unwrap();
    let cases: &[(String, Option<&str>)] = &[
        (locked("1 year"), None),
        (locked("2 years"), None),
        (locked("12 months"), None),
        (locked("1 year 1 day"), None),
        (locked("366 days"), None),
        (
            locked("365 days"),
            Some("cannot be shortened from `1 year` to `365 days`"),
        ),
        (locked("11 months"), Some("cannot be shortened")),
        (
            locked("1 year").replace("locked = true", "locked = false"),
            Some("cannot be unlocked"),
        ),
        (
            locked("1 year").replace("from = \"created\"", "from = \"last_activity\""),
            Some("cannot change its trigger from `created` to `last_activity`"),
        ),
        (
            locked("1 year").replace("retain =", "after ="),
            Some("cannot drop its obligation to retain"),
        ),
        (
            locked("1 year").replace("name = \"keep\"", "name = \"kept\""),
            Some("locked rule `keep` was removed"),
        ),
        (
            "categories = [\"invoice\"]\n".to_owned(),
            Some("locked rule `keep` was removed"),
        ),
        (
            format!("time_zone = \"Europe/Paris\"\n{}", locked("1 year")),
            Some("the time zone cannot change"),
        ),
        (
            locked("1 year")
                .replace("[\"invoice\"]", "[\"invoice\", \"bill\"]")
                .replace("category = \"invoice\"", "category = \"bill\""),
            Some("cannot move from category `invoice` to `bill`"),
        ),
    ];
    for (text, expected) in cases {
        let new = Policy::from_toml(text).unwrap();
        match (old.replace(new), expected) {
            (Ok(_), None) => {}
            (Err(error), Some(fragment)) => {
                assert!(matches!(error, Error::LockedRuleWeakened(_)));
                assert!(error.to_string().contains(fragment), "{error}\n{text}");
            }
            (result, expected) => panic!("{text}: expected {expected:?}, got {result:?}"),
        }
    }
}

#[test]
fn unlocked_rules_may_change_freely() {
    let old = Policy::from_toml(&locked("1 year").replace("locked = true", "")).unwrap();
    let new = Policy::from_toml("categories = [\"invoice\"]\n").unwrap();
    assert!(old.replace(new).is_ok());
}

#[test]
fn a_replacement_problem_points_at_the_new_rule() {
    let old = Policy::from_toml(&locked("1 year")).unwrap();
    let new = Policy::from_toml(&format!("\n\n{}", locked("6 months"))).unwrap();
    let problems = old.replacement_problems(&new);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, Some(4));
}

fn replaceable(old: &str, new: &str, time_zone: &str) -> bool {
    let zone = format!("time_zone = \"{time_zone}\"\n");
    let old = Policy::from_toml(&format!("{zone}{}", locked(old))).unwrap();
    let new = Policy::from_toml(&format!("{zone}{}", locked(new))).unwrap();
    old.replace(new).is_ok()
}

/// Regression (issue 15): the check sampled start dates in 2023 and 2024 only;
/// 80 years from them reach past 2100, which has no 29 February, so they span
/// 19 leap days and 29 219 days never looked shorter. From 2001-01-01, 80 years
/// span 20 leap days: 29 220 days.
#[test]
fn a_locked_rule_cannot_lose_the_day_2100_lacks() {
    for (old, shorter, enough) in [
        ("80 years", "29219 days", "29220 days"),
        ("100 years", "36524 days", "36525 days"),
        ("400 years", "146096 days", "146097 days"),
        ("1 year", "365 days", "366 days"),
        ("4 years", "1460 days", "1461 days"),
    ] {
        assert!(!replaceable(old, shorter, "UTC"), "{old} -> {shorter}");
        assert!(replaceable(old, enough, "UTC"), "{old} -> {enough}");
        assert!(replaceable(shorter, old, "UTC"), "{shorter} -> {old}");
    }
    let days = |start: jiff::civil::Date| {
        let end = start.checked_add(jiff::Span::new().years(80)).unwrap();
        (end - start).get_days()
    };
    assert_eq!(days(jiff::civil::date(2024, 3, 1)), 29_219);
    assert_eq!(days(jiff::civil::date(2001, 1, 1)), 29_220);
}

/// Across a daylight-saving change, `30 days` are 30 calendar days (719 or
/// 721 hours) while `720 hours` are exact: in a zone with such changes the
/// second is shorter from a start before the autumn change.
#[test]
fn a_locked_rule_cannot_lose_the_hour_of_a_daylight_saving_change() {
    assert!(replaceable("30 days", "720 hours", "UTC"));
    assert!(!replaceable("30 days", "720 hours", "Europe/Berlin"));
    assert!(!replaceable("1 day", "24 hours", "America/New_York"));
    // The planner's own arithmetic shows the hour.
    let zone = "time_zone = \"Europe/Berlin\"\ncategories = [\"c\"]\n";
    let rule = |name: &str, after: &str| {
        format!(
            "[[rule]]\nname = \"{name}\"\ncategory = \"c\"\nfrom = \"created\"\nafter = \"{after}\"\nthen = \"delete\"\n"
        )
    };
    let policy = Policy::from_toml(&format!(
        "{zone}{}{}",
        rule("days", "30 days"),
        rule("hours", "720 hours")
    ))
    .unwrap();
    let created: Timestamp = "2024-10-10T12:00:00+02:00".parse().unwrap();
    let record = palisade_retention::RecordBuf::new("r", "c", created);
    // Created at 10:00 UTC: 720 hours end at 10:00 UTC on 9 November, 30
    // calendar days at 12:00 local time then (CET, 11:00 UTC), an hour later.
    let at: Timestamp = "2024-11-09T10:30:00Z".parse().unwrap();
    let item = policy.evaluate(&record, at).unwrap();
    assert_eq!(item.rule.name(), "hours");
    assert_eq!(item.due, Some("2024-11-09T10:00:00Z".parse().unwrap()));
    // Equal calendar parts need no margin; longer by a day is enough.
    assert!(replaceable("30 days", "30 days 1 hour", "Europe/Berlin"));
    assert!(replaceable("30 days", "31 days", "Europe/Berlin"));
    assert!(replaceable("1 year", "366 days", "Europe/Berlin"));
    assert!(replaceable("10 years", "120 months", "Europe/Berlin"));
    assert!(!replaceable("1 year", "365 days", "Europe/Berlin"));
}
