//! The policy file: parsing, validation, precompiled per-category tables and
//! the compliance-lock check between two versions.

use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;

use jiff::civil::{Date, date};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp};
use serde::Deserialize;
use toml::Spanned;

use crate::calendar::{offset_swing, shorter_somewhere};
use crate::error::{Error, Problem, Result, Severity};

/// The named event that an erasure request (GDPR art. 17, 152-FZ art. 21) sets on a record.
pub const ERASURE_REQUESTED: &str = "erasure_requested";

/// Longest duration a rule may have; anything longer is treated as a typo.
const MAX_YEARS: i64 = 1000;

/// What happens to a record when a rule's period ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Send the record to a human disposition review (not destructive).
    Review,
    /// Move the record to archive storage (not destructive).
    Archive,
    /// Remove personal data through the application's masking hook; the record stays.
    Anonymize,
    /// Delete the record.
    Delete,
    /// Destroy the record's encryption key so every copy, backups included, becomes unreadable.
    CryptoShred,
}

impl Action {
    /// Every action, in the order used to break ties (weakest first).
    pub const ALL: [Action; 5] = [
        Action::Review,
        Action::Archive,
        Action::Anonymize,
        Action::Delete,
        Action::CryptoShred,
    ];

    /// The name used in policy files, plans and audit events (`crypto-shred`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Review => "review",
            Action::Archive => "archive",
            Action::Anonymize => "anonymize",
            Action::Delete => "delete",
            Action::CryptoShred => "crypto-shred",
        }
    }

    /// Whether the action destroys data: legal holds and retain obligations block it.
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            Action::Anonymize | Action::Delete | Action::CryptoShred
        )
    }

    /// Parses a policy-file name (`delete`, `anonymize`, `crypto-shred`, `archive`, `review`).
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As its name ([`Action::as_str`]).
impl serde::Serialize for Action {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// When a rule's clock starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// When the record was created.
    Created,
    /// The record's last activity (its creation if it has none).
    LastActivity,
    /// A named event such as `ticket_closed`, `contract_ended` or `erasure_requested`;
    /// the clock does not start until the record carries the event.
    Event(Box<str>),
}

impl Trigger {
    fn parse(text: &str) -> Trigger {
        match text {
            "created" => Trigger::Created,
            "last_activity" => Trigger::LastActivity,
            event => Trigger::Event(event.into()),
        }
    }

    fn is_erasure(&self) -> bool {
        matches!(self, Trigger::Event(name) if &**name == ERASURE_REQUESTED)
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Created => f.write_str("created"),
            Trigger::LastActivity => f.write_str("last_activity"),
            Trigger::Event(name) => f.write_str(name),
        }
    }
}

/// The three kinds of rule, after Microsoft Purview's retention labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// `retain = "…"` without `then`: an obligation to keep; nothing happens at the end.
    RetainOnly,
    /// `after = "…"` with `then`: act at the end, no obligation to keep before.
    ActOnly,
    /// `retain = "…"` with `then`: keep for the period, then act.
    RetainThenAct,
}

impl RuleKind {
    /// Whether the rule obliges to keep records until its period ends.
    pub fn retains(self) -> bool {
        matches!(self, RuleKind::RetainOnly | RuleKind::RetainThenAct)
    }
}

/// One rule of a policy.
#[derive(Debug, Clone)]
pub struct Rule {
    name: Box<str>,
    category: Box<str>,
    pub(crate) trigger: Trigger,
    duration: Span,
    duration_text: Box<str>,
    kind: RuleKind,
    pub(crate) action: Option<Action>,
    locked: bool,
    description: Option<Box<str>>,
    line: Option<usize>,
    /// How to add the duration, chosen once for the policy's time zone.
    arith: Arith,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        self.name == other.name
            && self.category == other.category
            && self.trigger == other.trigger
            && self.duration.fieldwise() == other.duration.fieldwise()
            && self.kind == other.kind
            && self.action == other.action
            && self.locked == other.locked
            && self.description == other.description
    }
}

impl Eq for Rule {}

impl Rule {
    /// The rule's unique name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The data category the rule governs.
    pub fn category(&self) -> &str {
        &self.category
    }
    /// When the rule's clock starts.
    pub fn trigger(&self) -> &Trigger {
        &self.trigger
    }
    /// How long after the trigger the period ends.
    pub fn duration(&self) -> Span {
        self.duration
    }
    /// The duration as written in the policy file (`10 years`).
    pub fn duration_text(&self) -> &str {
        &self.duration_text
    }
    /// Retain-only, act-only or retain-then-act.
    pub fn kind(&self) -> RuleKind {
        self.kind
    }
    /// The action at the end of the period, if any.
    pub fn action(&self) -> Option<Action> {
        self.action
    }
    /// Whether the rule is locked (compliance mode): it may be extended, never shortened or removed.
    pub fn locked(&self) -> bool {
        self.locked
    }
    /// The free-text description (the law or contract behind the rule).
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    /// The line of the rule's `[[rule]]` header in the policy file; `None` for built-in rules.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// A lower bound of the period's length from any start: a clock started
    /// after `now - shortest` cannot have ended, so the exact end need not be
    /// computed.
    pub(crate) fn shortest(&self) -> SignedDuration {
        match self.arith {
            Arith::Exact(amount) => amount,
            // Whole years are at least 365 days minus the day-of-month clamp;
            // each other month at least 28 days.
            Arith::Months { months, then, .. } => {
                let days = (months / 12) * 365 + (months % 12) * 28 - 31;
                SignedDuration::from_hours(days.max(0) * 24).saturating_add(then)
            }
            Arith::Zoned => SignedDuration::ZERO,
        }
    }

    /// The instant the period ends for a clock started at `start`; `None` past year 9999.
    pub(crate) fn end(&self, start: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match self.arith {
            Arith::Exact(amount) => start.checked_add(amount).ok(),
            Arith::Months {
                offset,
                months,
                then,
            } => {
                // Years and months move the civil date, clamping the day to the
                // end of the month (as jiff does); what is left is exact, since
                // every civil day at a fixed offset is 86 400 s long.
                let civil = offset.to_datetime(start);
                let index = i64::from(civil.year()) * 12 + i64::from(civil.month()) - 1 + months;
                let year = i16::try_from(index.div_euclid(12)).ok()?;
                let month = i8::try_from(index.rem_euclid(12) + 1).ok()?;
                let last = Date::new(year, month, 1).ok()?.days_in_month();
                let date = Date::new(year, month, civil.day().min(last)).ok()?;
                let moved = offset.to_timestamp(date.to_datetime(civil.time())).ok()?;
                moved.checked_add(then).ok()
            }
            // Temporal's rules: calendar units move the civil date-time (an
            // ambiguous or skipped result resolved as `compatible`), clock
            // units are exact elapsed time.
            Arith::Zoned => Some(
                start
                    .to_zoned(tz.clone())
                    .checked_add(self.duration)
                    .ok()?
                    .timestamp(),
            ),
        }
    }

    fn builtin(name: &str, category: &str, trigger: Trigger, action: Action) -> Rule {
        Rule {
            name: name.into(),
            category: category.into(),
            trigger,
            duration: Span::new(),
            duration_text: "0 days".into(),
            kind: RuleKind::ActOnly,
            action: Some(action),
            locked: false,
            description: None,
            line: None,
            arith: Arith::Exact(SignedDuration::ZERO),
        }
    }
}

/// How a rule's duration is added to an instant.
#[derive(Debug, Clone, Copy)]
enum Arith {
    /// An exact amount: no calendar units, or only days at a fixed offset.
    Exact(SignedDuration),
    /// Years and months on the calendar of a fixed offset, then an exact amount.
    Months {
        offset: Offset,
        months: i64,
        then: SignedDuration,
    },
    /// Anything else (days or months across daylight-saving changes): jiff's zoned arithmetic.
    Zoned,
}

/// The precompiled rules of one category: indices into `Policy::rules`.
#[derive(Debug, Clone)]
pub(crate) struct Category {
    pub(crate) name: Box<str>,
    /// Rules that oblige to keep (retain-only and retain-then-act).
    pub(crate) retains: Vec<usize>,
    /// Rules that act at the end (act-only and retain-then-act), the erasure rule included.
    pub(crate) acts: Vec<usize>,
    /// The rule answering an erasure request (explicit, or the built-in delete).
    pub(crate) erasure: usize,
}

/// A validated, precompiled retention policy.
///
/// Build it with [`Policy::from_toml`] from the TOML policy file; replace a policy in
/// force with [`Policy::replace`], which refuses to weaken locked rules.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) time_zone: TimeZone,
    time_zone_name: Box<str>,
    /// Sorted by name for binary search.
    pub(crate) categories: Vec<Category>,
    /// The file's rules, then the built-in erasure rules, then the unclassified rule.
    pub(crate) rules: Vec<Rule>,
    explicit_rules: usize,
    pub(crate) unclassified: usize,
    warnings: Vec<Problem>,
    /// The largest difference between two offsets of the time zone, in seconds.
    offset_swing: i64,
}

impl Policy {
    /// Parses and validates a policy file.
    ///
    /// Fails with [`Error::PolicyInvalid`] listing every problem when the file has
    /// at least one error; warnings (conflicts resolved by precedence) are kept
    /// in [`Policy::warnings`].
    pub fn from_toml(text: &str) -> Result<Policy> {
        let (policy, problems) = check(text);
        match policy {
            Some(policy) if !problems.iter().any(|p| p.severity == Severity::Error) => Ok(policy),
            _ => Err(Error::PolicyInvalid(problems)),
        }
    }

    /// Every problem of a policy file, errors and warnings, in file order.
    pub fn validate(text: &str) -> Vec<Problem> {
        check(text).1
    }

    /// The warnings found while parsing (conflicts that precedence resolves).
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// The rules written in the policy file, in file order.
    pub fn rules(&self) -> &[Rule] {
        self.rules.get(..self.explicit_rules).unwrap_or_default()
    }

    /// The rule with this name.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules().iter().find(|rule| &*rule.name == name)
    }

    /// The declared data categories, sorted.
    pub fn categories(&self) -> impl Iterator<Item = &str> {
        self.categories.iter().map(|category| &*category.name)
    }

    /// The IANA name of the time zone in which calendar durations are counted.
    pub fn time_zone(&self) -> &str {
        &self.time_zone_name
    }

    /// Accepts `new` as the replacement of this policy (the version in force).
    ///
    /// Compliance mode: every locked rule of `self` must still exist in `new`,
    /// still be locked, govern the same category from the same trigger, still
    /// oblige to keep if it did, and last at least as long from every start
    /// (every date of a 400-year Gregorian cycle, which covers every date;
    /// across daylight-saving changes, conservatively). Fails with
    /// [`Error::LockedRuleWeakened`] otherwise.
    pub fn replace(&self, new: Policy) -> Result<Policy> {
        let problems = self.replacement_problems(&new);
        if problems.is_empty() {
            Ok(new)
        } else {
            Err(Error::LockedRuleWeakened(problems))
        }
    }

    /// The reasons `new` cannot replace this policy; empty when it can.
    pub fn replacement_problems(&self, new: &Policy) -> Vec<Problem> {
        let mut problems = Vec::new();
        let locked = self.rules().iter().filter(|rule| rule.locked);
        let mut any_locked = false;
        for old in locked {
            any_locked = true;
            let Some(rule) = new.rule(&old.name) else {
                problems.push(problem(
                    Severity::Error,
                    None,
                    format!(
                        "locked rule `{}` was removed; locked rules can only be extended",
                        old.name
                    ),
                ));
                continue;
            };
            let line = rule.line;
            let mut weakened = |message: String| {
                problems.push(problem(Severity::Error, line, message));
            };
            if !rule.locked {
                weakened(format!("locked rule `{}` cannot be unlocked", old.name));
            }
            if rule.category != old.category {
                weakened(format!(
                    "locked rule `{}` cannot move from category `{}` to `{}`",
                    old.name, old.category, rule.category
                ));
            }
            if rule.trigger != old.trigger {
                weakened(format!(
                    "locked rule `{}` cannot change its trigger from `{}` to `{}`",
                    old.name, old.trigger, rule.trigger
                ));
            }
            if old.kind.retains() && !rule.kind.retains() {
                weakened(format!(
                    "locked rule `{}` cannot drop its obligation to retain",
                    old.name
                ));
            }
            if shorter_somewhere(rule.duration, old.duration, new.offset_swing) {
                weakened(format!(
                    "locked rule `{}` cannot be shortened from `{}` to `{}`",
                    old.name, old.duration_text, rule.duration_text
                ));
            }
        }
        if any_locked && self.time_zone_name != new.time_zone_name {
            problems.push(problem(
                Severity::Error,
                None,
                format!(
                    "the time zone cannot change from `{}` to `{}` while rules are locked",
                    self.time_zone_name, new.time_zone_name
                ),
            ));
        }
        problems
    }

    /// The precompiled rules of a category.
    pub(crate) fn category(&self, name: &str) -> Option<&Category> {
        self.categories
            .binary_search_by(|category| (*category.name).cmp(name))
            .ok()
            .and_then(|index| self.categories.get(index))
    }

    pub(crate) fn rule_at(&self, index: usize) -> Option<&Rule> {
        self.rules.get(index)
    }
}

fn problem(severity: Severity, line: Option<usize>, message: String) -> Problem {
    Problem {
        severity,
        line,
        column: None,
        message,
    }
}

/// Byte offsets to 1-based line and column numbers.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Lines { text, starts }
    }

    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset).max(1)
    }

    fn at(&self, span: &Range<usize>, severity: Severity, message: String) -> Problem {
        let line = self.line(span.start);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..span.start)
            .map_or(1, |prefix| prefix.chars().count() + 1);
        Problem {
            severity,
            line: Some(line),
            column: Some(column),
            message,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    time_zone: Option<Spanned<String>>,
    categories: Vec<Spanned<String>>,
    #[serde(default)]
    events: Vec<Spanned<String>>,
    #[serde(default, rename = "rule")]
    rules: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    category: Spanned<String>,
    from: Spanned<String>,
    retain: Option<Spanned<String>>,
    after: Option<Spanned<String>>,
    then: Option<Spanned<String>>,
    locked: Option<bool>,
    description: Option<String>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Parses a duration such as `30 days`, `10 years`, `1 year 6 months` or `P30D`.
fn parse_duration(text: &str) -> std::result::Result<Span, String> {
    let span: Span = text.parse().map_err(|_| {
        format!("`{text}` is not a duration; write e.g. `30 days`, `6 months` or `10 years`")
    })?;
    if span.is_negative() {
        return Err(format!("duration `{text}` is negative"));
    }
    if span.is_zero() {
        return Err(format!("duration `{text}` is zero"));
    }
    if span.get_milliseconds() != 0 || span.get_microseconds() != 0 || span.get_nanoseconds() != 0 {
        return Err(format!(
            "duration `{text}` uses units smaller than a second"
        ));
    }
    let limit = Span::new().years(MAX_YEARS);
    if !matches!(
        span.compare((limit, date(2000, 1, 1))),
        Ok(Ordering::Less | Ordering::Equal)
    ) {
        return Err(format!(
            "duration `{text}` is longer than {MAX_YEARS} years"
        ));
    }
    Ok(span)
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

/// Parses and validates; returns the policy when it could be built at all, and
/// every problem found.
fn check(text: &str) -> (Option<Policy>, Vec<Problem>) {
    let lines = Lines::new(text);
    let mut problems = Vec::new();
    let raw: RawPolicy = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(error) => {
            let span = error.span().unwrap_or(0..0);
            let message = error.message().trim().to_lowercase();
            problems.push(lines.at(&span, Severity::Error, message));
            return (None, problems);
        }
    };

    let (time_zone, time_zone_name) = match &raw.time_zone {
        None => (TimeZone::UTC, "UTC".to_owned()),
        Some(name) => match TimeZone::get(name.get_ref()) {
            Ok(tz) => (tz, name.get_ref().clone()),
            Err(_) => {
                problems.push(lines.at(
                    &name.span(),
                    Severity::Error,
                    format!("unknown time zone `{}`", name.get_ref()),
                ));
                (TimeZone::UTC, "UTC".to_owned())
            }
        },
    };

    let offset_swing = offset_swing(&time_zone);

    let mut category_names: Vec<&str> = Vec::new();
    for name in &raw.categories {
        let value = name.get_ref().as_str();
        if !valid_name(value) {
            problems.push(lines.at(
                &name.span(),
                Severity::Error,
                format!("invalid category name `{value}`: use letters, digits, `_`, `-` or `.`"),
            ));
        } else if category_names.contains(&value) {
            problems.push(lines.at(
                &name.span(),
                Severity::Error,
                format!("category `{value}` is declared twice"),
            ));
        } else {
            category_names.push(value);
        }
    }
    let mut event_names: Vec<&str> = vec![ERASURE_REQUESTED];
    for name in &raw.events {
        let value = name.get_ref().as_str();
        if !valid_name(value) || matches!(value, "created" | "last_activity") {
            problems.push(lines.at(
                &name.span(),
                Severity::Error,
                format!("invalid event name `{value}`"),
            ));
        } else if value == ERASURE_REQUESTED {
            problems.push(lines.at(
                &name.span(),
                Severity::Warning,
                format!("event `{value}` is built in and need not be declared"),
            ));
        } else if event_names.contains(&value) {
            problems.push(lines.at(
                &name.span(),
                Severity::Error,
                format!("event `{value}` is declared twice"),
            ));
        } else {
            event_names.push(value);
        }
    }

    let mut rules: Vec<Rule> = Vec::new();
    let mut used_events: Vec<&str> = Vec::new();
    for raw_rule in &raw.rules {
        let header = lines.line(raw_rule.span().start);
        let raw_rule = raw_rule.get_ref();
        let errors_before = problems.len();
        let name = raw_rule.name.get_ref();
        if !valid_name(name) {
            problems.push(lines.at(
                &raw_rule.name.span(),
                Severity::Error,
                format!("invalid rule name `{name}`: use letters, digits, `_`, `-` or `.`"),
            ));
        } else if rules.iter().any(|rule| &*rule.name == name.as_str()) {
            problems.push(lines.at(
                &raw_rule.name.span(),
                Severity::Error,
                format!("rule `{name}` is defined twice"),
            ));
        }
        let category = raw_rule.category.get_ref();
        if !category_names.contains(&category.as_str()) {
            problems.push(lines.at(
                &raw_rule.category.span(),
                Severity::Error,
                format!(
                    "rule `{name}` names unknown category `{category}`; declare it in `categories`"
                ),
            ));
        }
        let trigger = Trigger::parse(raw_rule.from.get_ref());
        if let Trigger::Event(event) = &trigger {
            if event_names.contains(&&**event) {
                used_events.push(raw_rule.from.get_ref());
            } else {
                problems.push(lines.at(&raw_rule.from.span(), Severity::Error, format!("rule `{name}` starts from unknown trigger `{event}`: expected `created`, `last_activity` or a declared event")));
            }
        }
        let action = match &raw_rule.then {
            None => None,
            Some(then) => {
                let action = Action::from_name(then.get_ref());
                if action.is_none() {
                    problems.push(lines.at(&then.span(), Severity::Error, format!("rule `{name}` has unknown action `{}`: expected `delete`, `anonymize`, `crypto-shred`, `archive` or `review`", then.get_ref())));
                }
                action
            }
        };
        let (duration, kind) = match (&raw_rule.retain, &raw_rule.after) {
            (Some(_), Some(after)) => {
                problems.push(lines.at(&after.span(), Severity::Error, format!("rule `{name}` has both `retain` and `after`: use `retain` for an obligation to keep, `after` for an action only")));
                (None, RuleKind::RetainOnly)
            }
            (None, None) => {
                problems.push(Problem {
                    severity: Severity::Error,
                    line: Some(header),
                    column: None,
                    message: format!("rule `{name}` has neither `retain` nor `after`"),
                });
                (None, RuleKind::RetainOnly)
            }
            (Some(retain), None) => {
                let kind = if raw_rule.then.is_some() {
                    RuleKind::RetainThenAct
                } else {
                    RuleKind::RetainOnly
                };
                (Some(retain), kind)
            }
            (None, Some(after)) => {
                if raw_rule.then.is_none() {
                    problems.push(lines.at(
                        &after.span(),
                        Severity::Error,
                        format!(
                            "rule `{name}` says `after` but not `then`: what happens at the end"
                        ),
                    ));
                }
                (Some(after), RuleKind::ActOnly)
            }
        };
        let span = duration.and_then(|text| match parse_duration(text.get_ref()) {
            Ok(span) => Some(span),
            Err(message) => {
                problems.push(lines.at(
                    &text.span(),
                    Severity::Error,
                    format!("rule `{name}`: {message}"),
                ));
                None
            }
        });
        if problems.len() > errors_before {
            continue;
        }
        let (Some(span), Some(text)) = (span, duration) else {
            continue;
        };
        rules.push(Rule {
            name: name.as_str().into(),
            category: category.as_str().into(),
            trigger,
            duration: span,
            duration_text: text.get_ref().as_str().into(),
            kind,
            action,
            locked: raw_rule.locked.unwrap_or(false),
            description: raw_rule.description.as_deref().map(Into::into),
            line: Some(header),
            arith: arith(span, &time_zone),
        });
    }

    // Warnings: conflicts that precedence resolves, and declarations nothing uses.
    for (index, rule) in rules.iter().enumerate() {
        let Some(action) = rule.action.filter(|action| action.is_destructive()) else {
            continue;
        };
        if rule.kind != RuleKind::ActOnly {
            continue;
        }
        let longer = rules.iter().enumerate().find(|(other_index, other)| {
            *other_index != index
                && other.category == rule.category
                && other.trigger == rule.trigger
                && other.kind.retains()
                && shorter_somewhere(rule.duration, other.duration, offset_swing)
        });
        if let Some((_, other)) = longer {
            problems.push(problem(
                Severity::Warning,
                rule.line,
                format!(
                    "conflict: rule `{}` would {action} `{}` records {} after `{}`, before the obligation `{}` to retain them {} ends; retention wins, so they are kept until then",
                    rule.name, rule.category, rule.duration_text, rule.trigger, other.name, other.duration_text
                ),
            ));
        }
    }
    for name in &raw.categories {
        let value = name.get_ref().as_str();
        if valid_name(value) && !rules.iter().any(|rule| &*rule.category == value) {
            problems.push(lines.at(
                &name.span(),
                Severity::Warning,
                format!("category `{value}` has no rule: its records are kept until an erasure request, which deletes them at once"),
            ));
        }
    }
    for name in &raw.events {
        let value = name.get_ref().as_str();
        if event_names.contains(&value)
            && value != ERASURE_REQUESTED
            && !used_events.contains(&value)
        {
            problems.push(lines.at(
                &name.span(),
                Severity::Warning,
                format!("event `{value}` is declared but no rule starts from it"),
            ));
        }
    }
    problems.sort_by_key(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0)));

    let explicit_rules = rules.len();
    let mut sorted: Vec<&str> = category_names.clone();
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
        let erasure = match erasure {
            Some(index) => index,
            None => {
                rules.push(Rule::builtin(
                    "erasure-request",
                    name,
                    Trigger::Event(ERASURE_REQUESTED.into()),
                    Action::Delete,
                ));
                let index = rules.len() - 1;
                acts.push(index);
                index
            }
        };
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
        .iter()
        .filter(|p| p.severity == Severity::Warning)
        .cloned()
        .collect();
    let policy = Policy {
        time_zone,
        time_zone_name: time_zone_name.into(),
        categories,
        rules,
        explicit_rules,
        unclassified,
        warnings,
        offset_swing,
    };
    (Some(policy), problems)
}
