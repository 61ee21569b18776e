//! Invariants of the planner, checked on random policies, records and instants.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly on unexpected values"
)]

use palisade_retention::{PlanItem, Policy, RecordBuf, Status, Timestamp};
use proptest::prelude::*;

/// The durations of the five rules of the generated policy, in its units.
#[derive(Debug, Clone, Copy)]
struct Durations([i64; 5]);

const UNITS: [&str; 5] = ["days", "months", "days", "years", "days"];

fn policy_text(durations: Durations, time_zone: &str) -> String {
    let [d0, d1, d2, d3, d4] = durations.0;
    format!(
        r#"time_zone = "{time_zone}"
categories = ["c", "other"]
events = ["ticket_closed"]

[[rule]]
name = "delete-after"
category = "c"
from = "created"
after = "{d0} days"
then = "delete"

[[rule]]
name = "retain-activity"
category = "c"
from = "last_activity"
retain = "{d1} months"

[[rule]]
name = "archive-after"
category = "c"
from = "created"
after = "{d2} days"
then = "archive"

[[rule]]
name = "retain-ticket-then-anonymize"
category = "c"
from = "ticket_closed"
retain = "{d3} years"
then = "anonymize"

[[rule]]
name = "erasure"
category = "c"
from = "erasure_requested"
after = "{d4} days"
then = "crypto-shred"

[[rule]]
name = "other"
category = "other"
from = "created"
after = "{d0} days"
then = "review"
"#
    )
}

fn durations() -> impl Strategy<Value = Durations> {
    (1_i64..=800, 1_i64..=40, 1_i64..=800, 1_i64..=5, 1_i64..=60)
        .prop_map(|(a, b, c, d, e)| Durations([a, b, c, d, e]))
}

fn time_zone() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("UTC"), Just("Europe/Berlin"), Just("America/New_York")]
}

const START: i64 = 1_577_836_800; // 2020-01-01
const END: i64 = 1_893_456_000; // 2030-01-01

fn instant() -> impl Strategy<Value = Timestamp> {
    (START..END).prop_map(|s| Timestamp::from_second(s).unwrap())
}

fn record(id: usize) -> impl Strategy<Value = RecordBuf> {
    (
        instant(),
        prop::option::of(0_i64..200_000_000),
        prop::option::of(0_i64..200_000_000),
        prop::option::of(0_i64..200_000_000),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.05),
    )
        .prop_map(move |(created, activity, closed, erased, held, other)| {
            let after = |offset: i64| Timestamp::from_second(created.as_second() + offset).unwrap();
            let mut record =
                RecordBuf::new(format!("r{id}"), if other { "other" } else { "c" }, created)
                    .with_subject(if id.is_multiple_of(2) { "alice" } else { "bob" });
            record.last_activity = activity.map(after);
            if let Some(offset) = closed {
                record = record.with_event("ticket_closed", after(offset));
            }
            if let Some(offset) = erased {
                record = record.with_event("erasure_requested", after(offset));
            }
            if held {
                record = record.with_hold("case-1");
            }
            record
        })
}

fn records() -> impl Strategy<Value = Vec<RecordBuf>> {
    (1_usize..40).prop_flat_map(|n| (0..n).map(record).collect::<Vec<_>>())
}

/// A comparable summary of a plan item.
fn summary(
    item: &PlanItem<'_, &RecordBuf>,
) -> (String, &'static str, String, String, Option<Timestamp>) {
    (
        item.record.id.clone(),
        item.status.as_str(),
        item.action.to_string(),
        item.rule.name().to_owned(),
        item.due,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn adding_a_hold_never_adds_a_destructive_action(
        durations in durations(), tz in time_zone(), records in records(), now in instant()
    ) {
        let policy = Policy::from_toml(&policy_text(durations, tz)).unwrap();
        for record in &records {
            let held = record.clone().with_hold("new-case");
            let before = policy.evaluate(record, now);
            let after = policy.evaluate(&held, now);
            match (&before, &after) {
                (None, None) => {}
                (Some(b), Some(a)) => {
                    prop_assert_eq!((b.action, b.rule.name(), b.due), (a.action, a.rule.name(), a.due));
                    if b.action.is_destructive() {
                        prop_assert_eq!(a.status, Status::Held);
                    } else {
                        prop_assert_eq!(a.status, b.status);
                    }
                }
                _ => prop_assert!(false, "a hold changed whether anything is due: {:?} vs {:?}", before, after),
            }
            // the same holds for an erasure request
            for subject in ["alice", "bob"] {
                let erased: Vec<_> = policy.erase([&held], subject, now).collect();
                prop_assert!(erased.iter().all(|i| !(i.status == Status::Due && i.action.is_destructive())));
            }
        }
    }

    #[test]
    fn extending_a_duration_never_makes_an_action_due_earlier(
        durations in durations(), tz in time_zone(), records in records(), now in instant(),
        which in 0_usize..5, extra in 1_i64..400,
    ) {
        let mut longer = durations;
        longer.0[which] += if UNITS[which] == "years" { 1 + extra / 100 } else { extra };
        let before_policy = Policy::from_toml(&policy_text(durations, tz)).unwrap();
        let after_policy = Policy::from_toml(&policy_text(longer, tz)).unwrap();
        for record in &records {
            let before = before_policy.evaluate(record, now);
            let after = after_policy.evaluate(record, now);
            let destructive = |item: &Option<PlanItem<'_, &RecordBuf>>| {
                item.as_ref().filter(|i| i.action.is_destructive()).map(|i| i.due.unwrap())
            };
            if let Some(due_after) = destructive(&after) {
                let due_before = destructive(&before);
                prop_assert!(due_before.is_some(), "a destructive action appeared: {:?}", after);
                prop_assert!(due_before.unwrap() <= due_after);
            }
            if let (Some(b), Some(a)) = (&before, &after)
                && b.rule.name() == a.rule.name()
            {
                prop_assert!(b.due <= a.due, "{:?} became due earlier: {:?}", b, a);
            }
        }
    }

    #[test]
    fn the_plan_does_not_depend_on_record_order(
        durations in durations(), tz in time_zone(),
        (records, shuffled) in records().prop_flat_map(|r| (Just(r.clone()), Just(r).prop_shuffle())),
        now in instant(),
    ) {
        let policy = Policy::from_toml(&policy_text(durations, tz)).unwrap();
        let mut a: Vec<_> = policy.plan(&records, now).map(|i| summary(&i)).collect();
        let mut b: Vec<_> = policy.plan(&shuffled, now).map(|i| summary(&i)).collect();
        a.sort();
        b.sort();
        prop_assert_eq!(&a, &b);
        let mut a: Vec<_> = policy.erase(&records, "alice", now).map(|i| summary(&i)).collect();
        let mut b: Vec<_> = policy.erase(&shuffled, "alice", now).map(|i| summary(&i)).collect();
        a.sort();
        b.sort();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn nothing_destructive_happens_while_an_obligation_is_in_force(
        durations in durations(), tz in time_zone(), records in records(), now in instant()
    ) {
        // An independent check of precedence: recompute the obligations with jiff's
        // zoned arithmetic and compare with what the planner decided.
        let policy = Policy::from_toml(&policy_text(durations, tz)).unwrap();
        let zone = jiff::tz::TimeZone::get(tz).unwrap();
        let [_, months, _, years, _] = durations.0;
        for record in records.iter().filter(|r| r.category == "c") {
            let activity = record.last_activity.unwrap_or(record.created);
            let end = |start: Timestamp, span: jiff::Span| start.to_zoned(zone.clone()).checked_add(span).unwrap().timestamp();
            let mut until = Some(end(activity, jiff::Span::new().months(months)));
            match record.events.get("ticket_closed") {
                None => until = None,
                Some(&closed) => until = until.map(|u| u.max(end(closed, jiff::Span::new().years(years)))),
            }
            let in_force = until.is_none_or(|u| u > now);
            if let Some(item) = policy.evaluate(record, now)
                && item.action.is_destructive()
            {
                prop_assert!(!in_force, "{:?} while retained until {:?}", item, until);
                prop_assert!(item.due.unwrap() >= until.unwrap());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// The planner's fast calendar arithmetic agrees with jiff's zoned arithmetic.
    #[test]
    fn due_dates_match_zoned_arithmetic(
        tz in prop_oneof![Just("UTC"), Just("Etc/GMT-3"), Just("Asia/Kolkata"), Just("Europe/Berlin"), Just("America/New_York")],
        years in 0_i64..30, months in 0_i64..40, weeks in 0_i64..6, days in 0_i64..400, hours in 0_i64..50,
        start in (-2_000_000_000_i64..4_000_000_000).prop_map(|s| Timestamp::from_second(s).unwrap()),
    ) {
        prop_assume!(years + months + weeks + days + hours > 0);
        let duration = format!("{years} years {months} months {weeks} weeks {days} days {hours} hours");
        let policy = Policy::from_toml(&format!(
            "time_zone = \"{tz}\"\ncategories = [\"c\"]\n[[rule]]\nname = \"r\"\ncategory = \"c\"\nfrom = \"created\"\nafter = \"{duration}\"\nthen = \"delete\"\n"
        )).unwrap();
        let span = jiff::Span::new().years(years).months(months).weeks(weeks).days(days).hours(hours);
        let expected = start.to_zoned(jiff::tz::TimeZone::get(tz).unwrap()).checked_add(span).unwrap().timestamp();
        let record = RecordBuf::new("r", "c", start);
        let item = policy.evaluate(&record, Timestamp::MAX).unwrap();
        prop_assert_eq!(item.due, Some(expected), "{} from {}", duration, start);
        prop_assert!(policy.evaluate(&record, expected - jiff::SignedDuration::from_nanos(1)).is_none());
    }
}
