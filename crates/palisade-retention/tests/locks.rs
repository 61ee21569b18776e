//! The compliance lock's "at least as long from every start" check against
//! brute force: every start day of a 400-year Gregorian cycle (with a fixed
//! offset), and random start instants (in a zone with daylight-saving time).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on unexpected values"
)]

use jiff::civil::{Date, DateTime, date};
use jiff::{Span, Timestamp, ToSpan, tz::TimeZone};
use palisade_retention::Policy;
use proptest::prelude::*;

/// A duration as a policy file writes it, and as jiff reads it.
#[derive(Debug, Clone, Copy)]
struct Duration {
    years: i64,
    months: i64,
    weeks: i64,
    days: i64,
    hours: i64,
}

impl Duration {
    fn text(self) -> String {
        let mut parts = Vec::new();
        for (n, unit) in [
            (self.years, "years"),
            (self.months, "months"),
            (self.weeks, "weeks"),
            (self.days, "days"),
            (self.hours, "hours"),
        ] {
            if n != 0 {
                parts.push(format!("{n} {unit}"));
            }
        }
        if parts.is_empty() {
            "1 day".to_owned()
        } else {
            parts.join(" ")
        }
    }

    fn span(self) -> Span {
        self.text().parse().unwrap()
    }
}

fn duration() -> impl Strategy<Value = Duration> {
    let often_zero = |max: i64| prop_oneof![Just(0i64), 0..=max];
    (
        0i64..=130,
        often_zero(30),
        often_zero(6),
        often_zero(800),
        often_zero(60),
    )
        .prop_map(|(years, months, weeks, days, hours)| Duration {
            years,
            months,
            weeks,
            days,
            hours,
        })
}

/// A second duration near the first: the same length written otherwise
/// (years as days, months as days), give or take a few days or hours, so that
/// the answer is often decided by a single start date.
fn near(first: Duration) -> impl Strategy<Value = Duration> {
    let shift = || prop_oneof![2 => Just(0i64), 1 => -2i64..=2];
    (0usize..4, shift(), shift()).prop_map(move |(form, days, hours)| {
        let total_months = first.years * 12 + first.months;
        let mut d = match form {
            // Years and months as days (a mean Gregorian month is 30.436875 days).
            0 => Duration {
                years: 0,
                months: 0,
                weeks: 0,
                days: first.weeks * 7 + first.days + total_months * 146_097 / 4_800,
                hours: first.hours,
            },
            // Years as months.
            1 => Duration {
                years: 0,
                months: total_months,
                ..first
            },
            // Days as hours.
            2 => Duration {
                weeks: 0,
                days: 0,
                hours: first.hours + (first.weeks * 7 + first.days) * 24,
                ..first
            },
            _ => first,
        };
        d.days = (d.days + days).max(0);
        d.hours = (d.hours + hours).max(0);
        d
    })
}

fn locked(duration: Duration, time_zone: &str) -> Policy {
    Policy::from_toml(&format!(
        "time_zone = \"{time_zone}\"\ncategories = [\"c\"]\n[[rule]]\nname = \"keep\"\ncategory = \"c\"\nfrom = \"created\"\nretain = \"{}\"\nlocked = true\n",
        duration.text()
    ))
    .unwrap()
}

/// Brute force: whether `new` ends before `old` from any start day of the
/// 400-year cycle 2000-03-01 .. 2400-03-01 (at midnight; with a fixed offset
/// the time of day does not matter).
fn shorter_from_some_day(new: Span, old: Span) -> bool {
    let mut day: Date = date(2000, 3, 1);
    for _ in 0..146_097 {
        let start = DateTime::from_parts(day, jiff::civil::Time::midnight());
        if start.checked_add(new).unwrap() < start.checked_add(old).unwrap() {
            return true;
        }
        day = day.tomorrow().unwrap();
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// With a fixed offset, a replacement is accepted exactly when the new
    /// duration is at least as long from every start day of the cycle.
    #[test]
    fn the_lock_check_agrees_with_every_start_day(
        (old, new) in duration().prop_flat_map(|old| (Just(old), near(old))),
        swap in any::<bool>(),
    ) {
        let (old, new) = if swap { (new, old) } else { (old, new) };
        let accepted = locked(old, "UTC").replace(locked(new, "UTC")).is_ok();
        let shorter = shorter_from_some_day(new.span(), old.span());
        prop_assert_eq!(accepted, !shorter, "{} -> {}", old.text(), new.text());
    }

    /// In a zone with daylight-saving time the check may refuse more, but
    /// never accepts a duration that is shorter from a start instant.
    #[test]
    fn the_lock_check_is_sound_across_daylight_saving(
        (old, new) in duration().prop_flat_map(|old| (Just(old), near(old))),
        starts in proptest::collection::vec(0i64..(130 * 365 * 86_400), 400),
    ) {
        let zone = "Europe/Berlin";
        if locked(old, zone).replace(locked(new, zone)).is_err() {
            return Ok(());
        }
        let tz = TimeZone::get(zone).unwrap();
        // Starts near the changes of 1980–2100, and random ones.
        let changes: Vec<Timestamp> = tz
            .following("1980-01-01T00:00:00Z".parse().unwrap())
            .take(240)
            .map(|t| t.timestamp())
            .collect();
        let near_changes = changes.iter().flat_map(|t| {
            [-49, -25, -1, 0, 1, 23].map(|h| t.checked_add(h.hours()).unwrap())
        });
        let random = starts
            .iter()
            .map(|s| Timestamp::from_second(315_532_800 + s).unwrap());
        for start in near_changes.chain(random) {
            let zoned = start.to_zoned(tz.clone());
            let old_end = zoned.checked_add(old.span()).unwrap().timestamp();
            let new_end = zoned.checked_add(new.span()).unwrap().timestamp();
            prop_assert!(new_end >= old_end, "{} -> {} from {}", old.text(), new.text(), zoned);
        }
    }
}
