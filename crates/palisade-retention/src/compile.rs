//! Turns a checked policy file into the precompiled [`Policy`]: typed rules
//! with their arithmetic chosen for the time zone, per-category tables, and
//! the built-in erasure and unclassified rules.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span};

use crate::error::Severity;
use crate::policy::{Category, Policy};
use crate::rule::{Action, Arith, ERASURE_REQUESTED, Rule, RuleKind, Trigger};
use crate::validate::{Checked, RuleSpec};

/// Compiles a checked file. Sound only when `checked` has no error: every
/// rule it keeps is then every rule of the file.
pub(crate) fn compile(checked: Checked<'_>) -> Policy {
    let Checked {
        problems,
        time_zone,
        time_zone_name,
        offset_swing,
        categories: declared,
        rules: specs,
    } = checked;
    let mut rules: Vec<Rule> = specs
        .into_iter()
        .map(|spec| rule(spec, &time_zone))
        .collect();
    let explicit_rules = rules.len();

    let mut sorted = declared;
    sorted.sort_unstable();
    let mut categories = Vec::with_capacity(sorted.len());
    for name in sorted {
        let mut retains = Vec::new();
        let mut acts = Vec::new();
        let mut erasure = None;
        for (index, rule) in rules.iter().enumerate().take(explicit_rules) {
            if &*rule.category != name {
                continue;
            }
            if rule.kind.retains() {
                retains.push(index);
            }
            if rule.action.is_some() {
                acts.push(index);
                if rule.trigger.is_erasure() && rule.kind == RuleKind::ActOnly && erasure.is_none()
                {
                    erasure = Some(index);
                }
            }
        }
        let erasure = erasure.unwrap_or_else(|| {
            // No explicit erasure rule: the request deletes at once.
            rules.push(Rule::builtin(
                "erasure-request",
                name,
                Trigger::Event(ERASURE_REQUESTED.into()),
                Action::Delete,
            ));
            let index = rules.len() - 1;
            acts.push(index);
            index
        });
        categories.push(Category {
            name: name.into(),
            retains,
            acts,
            erasure,
        });
    }
    rules.push(Rule::builtin(
        "unclassified",
        "",
        Trigger::Created,
        Action::Review,
    ));
    let unclassified = rules.len() - 1;

    let warnings = problems
        .into_iter()
        .filter(|p| p.severity == Severity::Warning)
        .collect();
    Policy {
        time_zone,
        time_zone_name: time_zone_name.into(),
        categories,
        rules,
        explicit_rules,
        unclassified,
        warnings,
        offset_swing,
    }
}

fn rule(spec: RuleSpec<'_>, tz: &TimeZone) -> Rule {
    Rule {
        name: spec.name.into(),
        category: spec.category.into(),
        trigger: spec.trigger,
        duration: spec.duration,
        duration_text: spec.duration_text.into(),
        kind: spec.kind,
        action: spec.action,
        locked: spec.locked,
        description: spec.description.map(Into::into),
        line: Some(spec.line),
        arith: arith(spec.duration, tz),
    }
}

/// The fastest exact way to add `span` in `tz`.
fn arith(span: Span, tz: &TimeZone) -> Arith {
    let months = i64::from(span.get_years()) * 12 + i64::from(span.get_months());
    let days = span.get_weeks() != 0 || span.get_days() != 0;
    let then = exact_part(span);
    match tz.to_fixed_offset() {
        Ok(_) if months == 0 => Arith::Exact(then),
        Ok(offset) => Arith::Months {
            offset,
            months,
            then,
        },
        Err(_) if months == 0 && !days => Arith::Exact(then),
        Err(_) => Arith::Zoned,
    }
}

/// Weeks, days and clock units as an exact amount (days of 86 400 s).
fn exact_part(span: Span) -> SignedDuration {
    let seconds = i64::from(span.get_weeks()) * 7 * 86_400
        + i64::from(span.get_days()) * 86_400
        + i64::from(span.get_hours()) * 3_600
        + span.get_minutes() * 60
        + span.get_seconds();
    SignedDuration::from_secs(seconds)
}
