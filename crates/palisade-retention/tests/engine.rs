//! Table-driven tests of the planner: triggers, actions, precedence, erasure and boundaries.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly on unexpected values"
)]

use palisade_retention::{Action, Policy, RecordBuf, Status, Timestamp};

fn t(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// A policy with one category `c` and the given rule bodies.
fn policy(rules: &[&str]) -> Policy {
    policy_in("UTC", rules)
}

fn policy_in(time_zone: &str, rules: &[&str]) -> Policy {
    let mut text = format!(
        "time_zone = \"{time_zone}\"\ncategories = [\"c\"]\nevents = [\"ticket_closed\", \"contract_ended\"]\n"
    );
    for (index, body) in rules.iter().enumerate() {
        text.push_str(&format!(
            "[[rule]]\nname = \"r{index}\"\ncategory = \"c\"\n{body}\n"
        ));
    }
    match Policy::from_toml(&text) {
        Ok(policy) => policy,
        Err(error) => panic!("{error}\n{text}"),
    }
}

fn record(created: &str) -> RecordBuf {
    RecordBuf::new("rec", "c", t(created))
}

/// `(status, action, rule, due)` of the one item for `record` at `now`, or `None`.
fn decide(
    policy: &Policy,
    record: &RecordBuf,
    now: &str,
) -> Option<(Status, Action, String, Timestamp)> {
    policy.evaluate(record, t(now)).map(|item| {
        (
            item.status,
            item.action,
            item.rule.name().to_owned(),
            item.due.unwrap(),
        )
    })
}

#[test]
fn each_trigger_starts_the_clock() {
    let created = record("2026-01-01T00:00:00Z");
    let active = record("2026-01-01T00:00:00Z").with_last_activity(t("2026-03-01T00:00:00Z"));
    let closed =
        record("2026-01-01T00:00:00Z").with_event("ticket_closed", t("2026-02-01T00:00:00Z"));
    let cases: &[(&str, &RecordBuf, &str, Option<&str>)] = &[
        // trigger, record, now, expected due
        (
            "created",
            &created,
            "2026-01-31T00:00:00Z",
            Some("2026-01-31T00:00:00Z"),
        ),
        ("created", &created, "2026-01-30T23:59:59Z", None),
        (
            "last_activity",
            &active,
            "2026-03-31T00:00:00Z",
            Some("2026-03-31T00:00:00Z"),
        ),
        ("last_activity", &active, "2026-03-30T00:00:00Z", None),
        // no activity since creation: the clock starts at creation
        (
            "last_activity",
            &created,
            "2026-01-31T00:00:00Z",
            Some("2026-01-31T00:00:00Z"),
        ),
        (
            "ticket_closed",
            &closed,
            "2026-03-03T00:00:00Z",
            Some("2026-03-03T00:00:00Z"),
        ),
        ("ticket_closed", &closed, "2026-03-02T00:00:00Z", None),
        // the event has not happened: the clock has not started
        ("ticket_closed", &created, "2099-01-01T00:00:00Z", None),
        ("contract_ended", &closed, "2099-01-01T00:00:00Z", None),
    ];
    for &(trigger, record, now, due) in cases {
        let policy = policy(&[&format!(
            "from = \"{trigger}\"\nafter = \"30 days\"\nthen = \"delete\""
        )]);
        let got = decide(&policy, record, now).map(|(_, _, _, due)| due);
        assert_eq!(got, due.map(t), "trigger {trigger} at {now}");
    }
}

#[test]
fn each_action_comes_out_as_written() {
    for action in Action::ALL {
        let policy = policy(&[&format!(
            "from = \"created\"\nafter = \"1 day\"\nthen = \"{action}\""
        )]);
        let got = decide(
            &policy,
            &record("2026-01-01T00:00:00Z"),
            "2026-01-02T00:00:00Z",
        );
        assert_eq!(
            got.map(|(status, action, ..)| (status, action)),
            Some((Status::Due, action))
        );
    }
}

#[test]
fn a_hold_blocks_destructive_actions_only() {
    for action in Action::ALL {
        let policy = policy(&[&format!(
            "from = \"created\"\nafter = \"1 day\"\nthen = \"{action}\""
        )]);
        let held = record("2026-01-01T00:00:00Z").with_hold("case-42");
        let item = policy.evaluate(&held, t("2026-01-05T00:00:00Z")).unwrap();
        let expected = if action.is_destructive() {
            Status::Held
        } else {
            Status::Due
        };
        assert_eq!((item.status, item.action), (expected, action));
        assert_eq!(
            item.hold(),
            if action.is_destructive() {
                Some("case-42")
            } else {
                None
            }
        );
    }
}

#[test]
fn precedence_between_rules() {
    let r = record("2026-01-01T00:00:00Z");
    // name, rules, now, expected (status, action, rule, due)
    type Case<'a> = (
        &'a str,
        &'a [&'a str],
        &'a str,
        Option<(Status, Action, &'a str, &'a str)>,
    );
    let cases: &[Case<'_>] = &[
        (
            "retention wins over deletion: delete deferred to the end of the obligation",
            &[
                "from = \"created\"\nafter = \"30 days\"\nthen = \"delete\"",
                "from = \"created\"\nretain = \"1 year\"",
            ],
            "2027-01-01T00:00:00Z",
            Some((Status::Due, Action::Delete, "r0", "2027-01-01T00:00:00Z")),
        ),
        (
            "retention in force: nothing is due",
            &[
                "from = \"created\"\nafter = \"30 days\"\nthen = \"delete\"",
                "from = \"created\"\nretain = \"1 year\"",
            ],
            "2026-12-31T23:59:59Z",
            None,
        ),
        (
            "longest retention wins",
            &[
                "from = \"created\"\nafter = \"1 day\"\nthen = \"delete\"",
                "from = \"created\"\nretain = \"2 years\"",
                "from = \"created\"\nretain = \"1 year\"",
            ],
            "2027-06-01T00:00:00Z",
            None,
        ),
        (
            "an obligation from an event that has not happened keeps indefinitely",
            &[
                "from = \"created\"\nafter = \"1 day\"\nthen = \"delete\"",
                "from = \"contract_ended\"\nretain = \"1 year\"",
            ],
            "2099-01-01T00:00:00Z",
            None,
        ),
        (
            "shortest deletion period wins",
            &[
                "from = \"created\"\nafter = \"60 days\"\nthen = \"delete\"",
                "from = \"created\"\nafter = \"30 days\"\nthen = \"anonymize\"",
            ],
            "2026-12-01T00:00:00Z",
            Some((Status::Due, Action::Anonymize, "r1", "2026-01-31T00:00:00Z")),
        ),
        (
            "a due destructive action wins over an earlier archive",
            &[
                "from = \"created\"\nafter = \"1 day\"\nthen = \"archive\"",
                "from = \"created\"\nafter = \"30 days\"\nthen = \"delete\"",
            ],
            "2026-12-01T00:00:00Z",
            Some((Status::Due, Action::Delete, "r1", "2026-01-31T00:00:00Z")),
        ),
        (
            "archive while deletion is not yet due",
            &[
                "from = \"created\"\nafter = \"1 day\"\nthen = \"archive\"",
                "from = \"created\"\nafter = \"30 days\"\nthen = \"delete\"",
            ],
            "2026-01-15T00:00:00Z",
            Some((Status::Due, Action::Archive, "r0", "2026-01-02T00:00:00Z")),
        ),
        (
            "a tie goes to the stronger action",
            &[
                "from = \"created\"\nafter = \"30 days\"\nthen = \"delete\"",
                "from = \"created\"\nafter = \"30 days\"\nthen = \"crypto-shred\"",
            ],
            "2026-12-01T00:00:00Z",
            Some((
                Status::Due,
                Action::CryptoShred,
                "r1",
                "2026-01-31T00:00:00Z",
            )),
        ),
        (
            "retain-then-act acts at the end of its own period",
            &["from = \"created\"\nretain = \"1 year\"\nthen = \"archive\""],
            "2027-01-01T00:00:00Z",
            Some((Status::Due, Action::Archive, "r0", "2027-01-01T00:00:00Z")),
        ),
        (
            "retain-only does nothing at the end",
            &["from = \"created\"\nretain = \"1 year\""],
            "2099-01-01T00:00:00Z",
            None,
        ),
        (
            "archive is not deferred by retention",
            &[
                "from = \"created\"\nafter = \"1 day\"\nthen = \"archive\"",
                "from = \"created\"\nretain = \"1 year\"",
            ],
            "2026-01-02T00:00:00Z",
            Some((Status::Due, Action::Archive, "r0", "2026-01-02T00:00:00Z")),
        ),
    ];
    for (name, rules, now, expected) in cases {
        let policy = policy(rules);
        let got = decide(&policy, &r, now);
        let expected = expected.map(|(s, a, rule, due)| (s, a, rule.to_owned(), t(due)));
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn a_deferred_item_names_the_obligation() {
    let policy = policy(&[
        "from = \"created\"\nafter = \"30 days\"\nthen = \"delete\"",
        "from = \"created\"\nretain = \"1 year\"",
    ]);
    let r = record("2026-01-01T00:00:00Z");
    let item = policy.evaluate(&r, t("2027-02-01T00:00:00Z")).unwrap();
    let retention = item.retention.unwrap();
    assert_eq!(retention.rule.name(), "r1");
    assert_eq!(retention.until, Some(t("2027-01-01T00:00:00Z")));
    let reason = item.reason().to_string();
    assert!(
        reason.contains("kept until 2027-01-01T00:00:00Z under `r1`"),
        "{reason}"
    );
}

#[test]
fn boundaries_of_time() {
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        // time zone, duration, created, due, what it shows
        (
            "UTC",
            "30 days",
            "2026-01-01T00:00:00Z",
            "2026-01-31T00:00:00Z",
            "days",
        ),
        (
            "UTC",
            "1 year",
            "2024-02-29T12:00:00Z",
            "2025-02-28T12:00:00Z",
            "leap day plus a year clamps",
        ),
        (
            "UTC",
            "4 years",
            "2024-02-29T12:00:00Z",
            "2028-02-29T12:00:00Z",
            "leap day plus four years",
        ),
        (
            "UTC",
            "1 month",
            "2024-01-31T00:00:00Z",
            "2024-02-29T00:00:00Z",
            "month end clamps in a leap year",
        ),
        (
            "UTC",
            "1 month",
            "2025-01-31T00:00:00Z",
            "2025-02-28T00:00:00Z",
            "month end clamps",
        ),
        (
            "UTC",
            "365 days",
            "2024-01-01T00:00:00Z",
            "2024-12-31T00:00:00Z",
            "365 days is not a leap year",
        ),
        (
            "UTC",
            "P1Y6M",
            "2026-01-15T00:00:00Z",
            "2027-07-15T00:00:00Z",
            "ISO 8601 duration",
        ),
        (
            "UTC",
            "1 year 6 months",
            "2026-01-15T00:00:00Z",
            "2027-07-15T00:00:00Z",
            "friendly duration",
        ),
        (
            "UTC",
            "36 hours",
            "2026-01-15T00:00:00Z",
            "2026-01-16T12:00:00Z",
            "hours",
        ),
        // an offset in the input is an instant: 01:00+03:00 is 22:00Z the day before
        (
            "UTC",
            "1 year",
            "2024-02-29T01:00:00+03:00",
            "2025-02-28T22:00:00Z",
            "offset input, UTC calendar",
        ),
        (
            "Europe/Moscow",
            "1 year",
            "2024-02-29T01:00:00+03:00",
            "2025-02-27T22:00:00Z",
            "Moscow calendar: Feb 29 01:00 local clamps to Feb 28 01:00 local",
        ),
        (
            "Europe/Moscow",
            "1 year",
            "2024-02-28T22:00:00Z",
            "2025-02-27T22:00:00Z",
            "the same instant written in UTC",
        ),
        (
            "America/New_York",
            "1 year",
            "2024-02-29T23:30:00-05:00",
            "2025-03-01T04:30:00Z",
            "New York calendar",
        ),
        // a calendar day across the DST change in Berlin is 23 hours
        (
            "Europe/Berlin",
            "1 day",
            "2026-03-28T12:00:00+01:00",
            "2026-03-29T10:00:00Z",
            "DST spring forward",
        ),
        (
            "UTC",
            "1 day",
            "2026-03-28T12:00:00+01:00",
            "2026-03-29T11:00:00Z",
            "UTC has no DST",
        ),
    ];
    for &(tz, duration, created, due, name) in cases {
        let policy = policy_in(
            tz,
            &[&format!(
                "from = \"created\"\nafter = \"{duration}\"\nthen = \"delete\""
            )],
        );
        let r = record(created);
        // exactly at the due instant the action is due; a nanosecond before it is not
        let at = decide(&policy, &r, due).map(|(_, _, _, due)| due);
        assert_eq!(at, Some(t(due)), "{name}");
        let before = t(due) - jiff::SignedDuration::from_nanos(1);
        assert!(
            policy.evaluate(&r, before).is_none(),
            "{name}: due a nanosecond early"
        );
    }
}

#[test]
fn offsets_in_record_files_are_instants() {
    let line = r#"{"id":"a","category":"c","created":"2026-01-01T03:00:00+03:00","events":{"ticket_closed":"2026-01-01T00:00:00-05:00"},"holds":[]}"#;
    let record: RecordBuf = serde_json::from_str(line).unwrap();
    assert_eq!(record.created, t("2026-01-01T00:00:00Z"));
    assert_eq!(record.events["ticket_closed"], t("2026-01-01T05:00:00Z"));
    // an instant without an offset is refused rather than guessed
    let bare = r#"{"id":"a","category":"c","created":"2026-01-01T03:00:00"}"#;
    assert!(serde_json::from_str::<RecordBuf>(bare).is_err());
}

#[test]
fn unknown_categories_are_shown_for_review() {
    let policy = policy(&["from = \"created\"\nafter = \"1 day\"\nthen = \"delete\""]);
    let stray = RecordBuf::new("x", "mystery", t("2026-01-01T00:00:00Z"));
    let item = policy.evaluate(&stray, t("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(
        (item.status, item.action),
        (Status::Unclassified, Action::Review)
    );
    assert_eq!(
        item.reason().to_string(),
        "category `mystery` is not declared in the retention policy"
    );
}

const ERASURE_POLICY: &str = r#"
categories = ["client_record", "invoice", "note", "contract"]
events = ["contract_ended"]

[[rule]]
name = "client-erasure"
category = "client_record"
from = "erasure_requested"
after = "30 days"
then = "crypto-shred"

[[rule]]
name = "invoices-kept-by-law"
category = "invoice"
from = "created"
retain = "10 years"
then = "delete"
locked = true
description = "tax law"

[[rule]]
name = "notes"
category = "note"
from = "created"
after = "5 years"
then = "delete"

[[rule]]
name = "contracts"
category = "contract"
from = "contract_ended"
retain = "3 years"
then = "delete"
"#;

#[test]
fn erasure_with_and_without_exemptions() {
    let policy = Policy::from_toml(ERASURE_POLICY).unwrap();
    let created = t("2026-01-01T00:00:00Z");
    let records = vec![
        RecordBuf::new("client", "client_record", created).with_subject("alice"),
        RecordBuf::new("invoice", "invoice", created).with_subject("alice"),
        RecordBuf::new("note", "note", created).with_subject("alice"),
        RecordBuf::new("held-note", "note", created)
            .with_subject("alice")
            .with_hold("case-7"),
        RecordBuf::new("contract", "contract", created).with_subject("alice"),
        RecordBuf::new("ended", "contract", created)
            .with_subject("alice")
            .with_event("contract_ended", t("2020-01-01T00:00:00Z")),
        RecordBuf::new("bob-note", "note", created).with_subject("bob"),
    ];
    let now = t("2026-06-01T00:00:00Z");
    let answer: Vec<_> = policy.erase(&records, "alice", now).collect();
    let got: Vec<_> = answer
        .iter()
        .map(|item| {
            (
                item.record.id.as_str(),
                item.status,
                item.action,
                item.due,
                item.retention.map(|r| (r.rule.name().to_owned(), r.until)),
            )
        })
        .collect();
    let expected = vec![
        // an explicit erasure rule: crypto-shred within 30 days
        (
            "client",
            Status::Due,
            Action::CryptoShred,
            Some(t("2026-07-01T00:00:00Z")),
            None,
        ),
        // kept by law: exempt, with the rule and the date
        (
            "invoice",
            Status::Retained,
            Action::Delete,
            Some(t("2036-01-01T00:00:00Z")),
            Some((
                "invoices-kept-by-law".to_owned(),
                Some(t("2036-01-01T00:00:00Z")),
            )),
        ),
        // no erasure rule: deleted at once, before its own 5-year period
        ("note", Status::Due, Action::Delete, Some(now), None),
        ("held-note", Status::Held, Action::Delete, Some(now), None),
        // the contract has not ended: kept until it ends and three years pass
        (
            "contract",
            Status::Retained,
            Action::Delete,
            None,
            Some(("contracts".to_owned(), None)),
        ),
        // the contract ended more than three years ago: the obligation is over
        ("ended", Status::Due, Action::Delete, Some(now), None),
    ];
    assert_eq!(got, expected);
    let reason = answer[1].reason().to_string();
    assert!(
        reason.contains("exempt: retained until 2036-01-01T00:00:00Z under `invoices-kept-by-law`"),
        "{reason}"
    );
    assert!(reason.contains("tax law"), "{reason}");
    let reason = answer[4].reason().to_string();
    assert!(
        reason.contains("until `contract_ended` happens and 3 years pass"),
        "{reason}"
    );
}

#[test]
fn plan_items_serialize_as_one_line_each() {
    let policy = Policy::from_toml(ERASURE_POLICY).unwrap();
    let created = t("2026-01-01T00:00:00Z");
    let records = vec![
        RecordBuf::new("invoice", "invoice", created).with_subject("alice"),
        RecordBuf::new("held-note", "note", created)
            .with_subject("alice")
            .with_hold("case-7"),
        RecordBuf::new("contract", "contract", created).with_subject("alice"),
    ];
    let answer: Vec<_> = policy
        .erase(&records, "alice", t("2026-06-01T00:00:00Z"))
        .collect();
    let lines: Vec<_> = answer
        .iter()
        .map(|item| serde_json::to_value(item).unwrap())
        .collect();
    let reasons: Vec<_> = answer.iter().map(|i| i.reason().to_string()).collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({
                "record": "invoice",
                "status": "retained",
                "action": "delete",
                // The rule that calls for the action; the one that keeps the
                // record is `retained_by`'s.
                "rule": "erasure-request",
                "due": "2036-01-01T00:00:00Z",
                "reason": reasons[0],
                "retained_by": {"rule": "invoices-kept-by-law", "until": "2036-01-01T00:00:00Z"},
            }),
            serde_json::json!({
                "record": "held-note",
                "status": "held",
                "action": "delete",
                "rule": "erasure-request",
                "due": "2026-06-01T00:00:00Z",
                "reason": reasons[1],
                "hold": "case-7",
            }),
            serde_json::json!({
                "record": "contract",
                "status": "retained",
                "action": "delete",
                "rule": "erasure-request",
                "due": null,
                "reason": reasons[2],
                "retained_by": {"rule": "contracts", "until": null},
            }),
        ]
    );
    // Keys in a fixed order: a plan written as JSON lines diffs cleanly.
    let text = serde_json::to_string(&answer[1]).unwrap();
    assert!(
        text.starts_with(r#"{"record":"held-note","status":"held","action":"delete","rule":"#),
        "{text}"
    );
    assert!(text.ends_with(r#""hold":"case-7"}"#), "{text}");
}

#[test]
fn an_erasure_event_on_a_record_drives_the_plan() {
    let policy = Policy::from_toml(ERASURE_POLICY).unwrap();
    let requested = t("2026-03-01T00:00:00Z");
    let client = RecordBuf::new("client", "client_record", t("2026-01-01T00:00:00Z"))
        .with_event("erasure_requested", requested);
    let note = RecordBuf::new("note", "note", t("2026-01-01T00:00:00Z"))
        .with_event("erasure_requested", requested);
    let invoice = RecordBuf::new("inv", "invoice", t("2026-01-01T00:00:00Z"))
        .with_event("erasure_requested", requested);
    let now = t("2026-04-01T00:00:00Z");
    assert_eq!(
        decide(&policy, &client, "2026-04-01T00:00:00Z"),
        Some((
            Status::Due,
            Action::CryptoShred,
            "client-erasure".to_owned(),
            t("2026-03-31T00:00:00Z")
        ))
    );
    assert_eq!(
        decide(&policy, &note, "2026-04-01T00:00:00Z"),
        Some((
            Status::Due,
            Action::Delete,
            "erasure-request".to_owned(),
            requested
        ))
    );
    assert!(
        policy.evaluate(&invoice, now).is_none(),
        "the invoice is kept by law"
    );
}

#[test]
fn the_plan_streams_in_input_order() {
    let policy = policy(&["from = \"created\"\nafter = \"1 day\"\nthen = \"delete\""]);
    let records = (0..1000).map(|i| {
        let created = if i % 2 == 0 {
            "2026-01-01T00:00:00Z"
        } else {
            "2026-06-01T00:00:00Z"
        };
        RecordBuf::new(format!("r{i}"), "c", t(created))
    });
    let ids: Vec<String> = policy
        .plan(records, t("2026-02-01T00:00:00Z"))
        .map(|item| item.record.id)
        .collect();
    assert_eq!(ids.len(), 500);
    assert!(
        ids.iter()
            .enumerate()
            .all(|(n, id)| *id == format!("r{}", n * 2))
    );
}

/// The README's silent cases, pinned: what the planner does, as documented.
#[test]
fn years_and_months_are_added_together_and_clamped_once() {
    // From 29 February, `1 year 6 months` is 29 August of the next year: the
    // day is clamped once, at the end (clamping after the year would give the
    // 28th). `1 year` alone is clamped to 28 February.
    for zone in ["UTC", "Europe/Berlin", "Asia/Kolkata"] {
        for (after, due) in [
            ("1 year 6 months", "2025-08-29T12:00:00"),
            ("18 months", "2025-08-29T12:00:00"),
            ("1 year", "2025-02-28T12:00:00"),
            ("1 year 1 day", "2025-03-01T12:00:00"),
            ("4 years", "2028-02-29T12:00:00"),
        ] {
            let policy = policy_in(
                zone,
                &[&format!(
                    "from = \"created\"\nafter = \"{after}\"\nthen = \"delete\""
                )],
            );
            let tz = jiff::tz::TimeZone::get(zone).unwrap();
            let created = "2024-02-29T12:00:00"
                .parse::<jiff::civil::DateTime>()
                .unwrap()
                .to_zoned(tz.clone())
                .unwrap()
                .timestamp();
            let expected = due
                .parse::<jiff::civil::DateTime>()
                .unwrap()
                .to_zoned(tz)
                .unwrap()
                .timestamp();
            let record = RecordBuf::new("rec", "c", created);
            let item = policy.evaluate(&record, expected).unwrap();
            assert_eq!(item.due, Some(expected), "{zone} {after}");
            let just_before = expected
                .checked_sub(jiff::SignedDuration::from_secs(1))
                .unwrap();
            assert!(
                policy.evaluate(&record, just_before).is_none(),
                "{zone} {after}"
            );
        }
    }
}

#[test]
fn days_are_calendar_days_across_daylight_saving_changes() {
    // In a zone with daylight-saving time, `30 days` keep the local time of
    // day (so last 719 or 721 hours across a change); hours are exact.
    let cases = [
        // created (UTC), time zone, after, due (UTC)
        (
            "2024-10-10T10:00:00Z",
            "Europe/Berlin",
            "30 days",
            "2024-11-09T11:00:00Z",
        ),
        (
            "2024-10-10T10:00:00Z",
            "Europe/Berlin",
            "720 hours",
            "2024-11-09T10:00:00Z",
        ),
        (
            "2024-03-10T11:00:00Z",
            "Europe/Berlin",
            "30 days",
            "2024-04-09T10:00:00Z",
        ),
        (
            "2024-03-30T11:00:00Z",
            "Europe/Berlin",
            "1 day",
            "2024-03-31T10:00:00Z",
        ),
        (
            "2024-03-30T11:00:00Z",
            "Europe/Berlin",
            "24 hours",
            "2024-03-31T11:00:00Z",
        ),
        (
            "2024-10-10T10:00:00Z",
            "UTC",
            "30 days",
            "2024-11-09T10:00:00Z",
        ),
    ];
    for (created, zone, after, due) in cases {
        let policy = policy_in(
            zone,
            &[&format!(
                "from = \"created\"\nafter = \"{after}\"\nthen = \"delete\""
            )],
        );
        let item = policy.evaluate(record(created), t(due)).unwrap();
        assert_eq!(item.due, Some(t(due)), "{zone} {after} from {created}");
    }
    // A start inside the hour that does not exist (02:30 on 31 March 2024 in
    // Berlin cannot be a creation instant, but 1 day before it can): the end
    // is moved forward, as jiff's and Temporal's `compatible` rule does.
    let policy = policy_in(
        "Europe/Berlin",
        &["from = \"created\"\nafter = \"1 day\"\nthen = \"delete\""],
    );
    let item = policy
        .evaluate(record("2024-03-30T01:30:00Z"), t("2024-04-01T00:00:00Z"))
        .unwrap();
    assert_eq!(item.due, Some(t("2024-03-31T01:30:00Z")));
    // A local time that exists twice (02:30 on 27 October 2024) takes the
    // earlier instant, in summer time.
    let item = policy
        .evaluate(record("2024-10-26T00:30:00Z"), t("2024-10-28T00:00:00Z"))
        .unwrap();
    assert_eq!(item.due, Some(t("2024-10-27T00:30:00Z")));
}

#[test]
fn a_declared_category_without_rules_is_kept_until_an_erasure_request() {
    let policy = Policy::from_toml("categories = [\"c\", \"kept\"]\n[[rule]]\nname = \"r\"\ncategory = \"c\"\nfrom = \"created\"\nafter = \"1 day\"\nthen = \"delete\"\n").unwrap();
    assert_eq!(
        policy.warnings()[0].message,
        "category `kept` has no rule: its records are kept until an erasure request, which deletes them at once"
    );
    let kept = RecordBuf::new("k", "kept", t("2000-01-01T00:00:00Z")).with_subject("alice");
    // Nothing is ever due for it: not `unclassified`, which is for undeclared categories.
    assert!(policy.evaluate(&kept, t("2999-01-01T00:00:00Z")).is_none());
    let erased: Vec<_> = policy
        .erase(
            std::slice::from_ref(&kept),
            "alice",
            t("2026-01-01T00:00:00Z"),
        )
        .collect();
    assert_eq!(erased.len(), 1);
    assert_eq!(
        (erased[0].status, erased[0].action),
        (Status::Due, Action::Delete)
    );
    assert_eq!(erased[0].due, Some(t("2026-01-01T00:00:00Z")));
    let stray = RecordBuf::new("s", "undeclared", t("2000-01-01T00:00:00Z"));
    let item = policy.evaluate(&stray, t("2000-01-01T00:00:00Z")).unwrap();
    assert_eq!(item.status, Status::Unclassified);
    assert_eq!(
        item.reason().to_string(),
        "category `undeclared` is not declared in the retention policy"
    );
}
