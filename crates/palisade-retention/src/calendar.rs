//! Comparing two calendar durations from every start: is one of them shorter
//! than the other from at least one instant?
//!
//! A duration ends where the planner puts it (see `Rule::end`): years and
//! months move the civil date together, clamping the day to the end of the
//! month once; weeks and days then move the civil date; hours, minutes and
//! seconds are exact elapsed time.
//!
//! **Every start date.** With a fixed offset (UTC included) every civil day is
//! 86 400 s long, so the difference between the two ends is
//! `86 400 × (civil days between the two calendar ends) + (exact difference)`,
//! and the civil part depends only on the start date. The Gregorian calendar
//! repeats every 400 years (146 097 days, a whole number of weeks), so the
//! civil part from a start date equals that from the same date 400 years
//! later: one cycle covers every start date. Within a month, the start days
//! 1 to 28 are never clamped (every month has 28 days), so they all give the
//! same civil difference: the cycle is covered by the days 1, 29, 30 and 31
//! of each of its 4 800 months (at most 19 200 starts instead of 146 097).
//!
//! **Daylight-saving time.** In a zone whose offset changes, a civil date-time
//! is turned into an instant with the offset in force then, so each end moves
//! by its own offset. Where the two calendar ends are the same civil date, both
//! move alike and only the exact parts differ. Elsewhere the ends may differ by
//! up to the zone's largest offset difference (its "swing", e.g. 1 h for most
//! of Europe, more counting historical double summer time and local mean time),
//! so a duration is only known to be at least as long when it is longer by
//! that much: `30 days` cannot become `720 hours` in `Europe/Berlin`, since
//! 30 days starting before the autumn change last 721 hours.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

/// A duration as the planner adds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Parts {
    /// Years and months, in months (clamped once).
    months: i64,
    /// Weeks and days, in civil days.
    days: i64,
    /// Hours, minutes and seconds, exact.
    seconds: i64,
}

impl Parts {
    fn of(span: Span) -> Self {
        Self {
            months: i64::from(span.get_years()) * 12 + i64::from(span.get_months()),
            days: i64::from(span.get_weeks()) * 7 + i64::from(span.get_days()),
            seconds: i64::from(span.get_hours()) * 3_600
                + span.get_minutes() * 60
                + span.get_seconds(),
        }
    }

    /// Bounds of the civil days from any start date to the end of the
    /// calendar part: `k` years span 365 to 366 days each, `r` more months 28
    /// to 31 days each, and the clamp of the day takes at most 3 away.
    fn civil_bounds(self) -> (i64, i64) {
        let (years, months) = (self.months / 12, self.months % 12);
        (
            years * 365 + months * 28 - 3 + self.days,
            years * 366 + months * 31 + self.days,
        )
    }

    /// Civil days from the start date (year, month, day) to the end of the
    /// calendar part.
    fn civil_days(self, year: i64, month: i64, day: i64) -> i64 {
        let index = year * 12 + (month - 1) + self.months;
        let (to_year, to_month) = (index.div_euclid(12), index.rem_euclid(12) + 1);
        let to_day = day.min(days_in_month(to_year, to_month));
        days_from_civil(to_year, to_month, to_day) - days_from_civil(year, month, day) + self.days
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The start dates that stand for every date: days 1, 29, 30 and 31 (where
/// they exist) of each month of one 400-year cycle.
fn cycle() -> impl Iterator<Item = (i64, i64, i64)> {
    (2000_i64..2400).flat_map(|year| {
        (1_i64..=12).flat_map(move |month| {
            let last = days_in_month(year, month);
            [1, 29, 30, 31]
                .into_iter()
                .filter(move |day| *day <= last)
                .map(move |day| (year, month, day))
        })
    })
}

/// The largest difference between two offsets `zone` uses, in seconds: 0 for a
/// fixed offset.
pub(crate) fn offset_swing(zone: &TimeZone) -> i64 {
    if zone.to_fixed_offset().is_ok() {
        return 0;
    }
    // Transitions after 2200 repeat the zone's rule for the future.
    let until = Timestamp::from_second(7_258_118_400).unwrap_or(Timestamp::MAX);
    let first = i64::from(zone.to_offset(Timestamp::MIN).seconds());
    let (low, high) = zone
        .following(Timestamp::MIN)
        .take_while(|transition| transition.timestamp() < until)
        .map(|transition| i64::from(transition.offset().seconds()))
        .fold((first, first), |(low, high), offset| {
            (low.min(offset), high.max(offset))
        });
    high - low
}

/// Whether `a` ends before `b` from at least one start, when both are added
/// as the planner adds them in a zone whose offsets differ by at most `swing`
/// seconds (0: a fixed offset).
pub(crate) fn shorter_somewhere(a: Span, b: Span, swing: i64) -> bool {
    let (a, b) = (Parts::of(a), Parts::of(b));
    let exact = a.seconds - b.seconds;
    if a.months == b.months && a.days == b.days {
        return exact < 0;
    }
    // Most pairs are decided by bounds alone, without the cycle.
    let ((a_low, a_high), (b_low, b_high)) = (a.civil_bounds(), b.civil_bounds());
    let (least, most) = (a_low - b_high, a_high - b_low);
    if most
        .saturating_mul(86_400)
        .saturating_add(exact)
        .saturating_add(swing)
        < 0
    {
        return true;
    }
    if least.saturating_mul(86_400).saturating_add(exact) >= swing && (least >= 1 || swing == 0) {
        return false;
    }
    cycle().any(|(year, month, day)| {
        let civil = a.civil_days(year, month, day) - b.civil_days(year, month, day);
        if civil == 0 {
            exact < 0
        } else {
            civil.saturating_mul(86_400).saturating_add(exact) < swing
        }
    })
}

#[cfg(test)]
mod tests {
    use super::days_from_civil;
    use jiff::civil::date;

    #[test]
    fn days_from_civil_matches_jiff() {
        let epoch = date(1970, 1, 1);
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (2100, 3, 1),
            (1600, 12, 31),
            (9999, 12, 31),
        ] {
            let expected = (date(y, m, d) - epoch).get_days();
            assert_eq!(
                days_from_civil(i64::from(y), i64::from(m), i64::from(d)),
                i64::from(expected)
            );
        }
    }
}
