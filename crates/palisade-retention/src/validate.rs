//! Parsing and validation of policy files: every problem with its place,
//! and the meaning of everything that is valid.

use std::cmp::Ordering;
use std::ops::Range;

use jiff::Span;
use jiff::civil::date;
use jiff::tz::TimeZone;
use toml::Spanned;

use crate::calendar::{offset_swing, shorter_somewhere};
use crate::error::{Problem, Severity};
use crate::model::{File, RuleDef};
use crate::rule::{Action, ERASURE_REQUESTED, RuleKind, Trigger};

/// Longest duration a rule may have; anything longer is treated as a typo.
const MAX_YEARS: i64 = 1000;

/// A checked policy file: every problem found, and what the valid parts
/// mean. Compiling it is only sound when no problem is an error.
pub(crate) struct Checked<'f> {
    /// Errors and warnings, in file order.
    pub(crate) problems: Vec<Problem>,
    pub(crate) time_zone: TimeZone,
    pub(crate) time_zone_name: &'f str,
    /// The largest difference between two offsets of the time zone, in seconds.
    pub(crate) offset_swing: i64,
    /// The declared categories with valid, unique names, in file order.
    pub(crate) categories: Vec<&'f str>,
    /// The rules without problems, in file order.
    pub(crate) rules: Vec<RuleSpec<'f>>,
}

/// What a valid `[[rule]]` says, typed.
pub(crate) struct RuleSpec<'f> {
    pub(crate) name: &'f str,
    pub(crate) category: &'f str,
    pub(crate) trigger: Trigger,
    pub(crate) duration: Span,
    pub(crate) duration_text: &'f str,
    pub(crate) kind: RuleKind,
    pub(crate) action: Option<Action>,
    pub(crate) locked: bool,
    pub(crate) description: Option<&'f str>,
    /// The line of the rule's `[[rule]]` header.
    pub(crate) line: usize,
}

/// Parses the TOML text into the file model (shape only). A malformed file
/// is one problem, where the parser stopped.
pub(crate) fn parse(text: &str, lines: &Lines<'_>) -> Result<File, Problem> {
    toml::from_str(text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        let message = error.message().trim().to_lowercase();
        lines.at(&span, Severity::Error, message)
    })
}

/// Checks a parsed file: names, references, durations, then the warnings
/// (conflicts that precedence resolves, declarations nothing uses).
pub(crate) fn validate<'f>(file: &'f File, lines: &Lines<'_>) -> Checked<'f> {
    let mut check = Checker {
        lines,
        problems: Vec::new(),
    };
    let (time_zone, time_zone_name) = check.time_zone(file);
    let offset_swing = offset_swing(&time_zone);
    let categories = check.categories(file);
    let events = check.events(file);
    let mut used_events = Vec::new();
    let mut rules: Vec<RuleSpec<'f>> = Vec::new();
    for def in &file.rules {
        let rule = check.rule(def, &rules, &categories, &events, &mut used_events);
        rules.extend(rule);
    }
    check.conflicts(&rules, offset_swing);
    check.unused(file, &rules, &events, &used_events);
    let mut problems = check.problems;
    problems.sort_by_key(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0)));
    Checked {
        problems,
        time_zone,
        time_zone_name,
        offset_swing,
        categories,
        rules,
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Parses a duration such as `30 days`, `10 years`, `1 year 6 months` or `P30D`.
fn parse_duration(text: &str) -> Result<Span, String> {
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

struct Checker<'l> {
    lines: &'l Lines<'l>,
    problems: Vec<Problem>,
}

impl<'f> Checker<'_> {
    fn report<T>(&mut self, at: &Spanned<T>, severity: Severity, message: String) {
        self.problems
            .push(self.lines.at(&at.span(), severity, message));
    }

    fn time_zone(&mut self, file: &'f File) -> (TimeZone, &'f str) {
        let Some(name) = &file.time_zone else {
            return (TimeZone::UTC, "UTC");
        };
        match TimeZone::get(name.get_ref()) {
            Ok(tz) => (tz, name.get_ref()),
            Err(_) => {
                let message = format!("unknown time zone `{}`", name.get_ref());
                self.report(name, Severity::Error, message);
                (TimeZone::UTC, "UTC")
            }
        }
    }

    fn categories(&mut self, file: &'f File) -> Vec<&'f str> {
        let mut names: Vec<&'f str> = Vec::new();
        for name in &file.categories {
            let value = name.get_ref().as_str();
            if !valid_name(value) {
                let message = format!(
                    "invalid category name `{value}`: use letters, digits, `_`, `-` or `.`"
                );
                self.report(name, Severity::Error, message);
            } else if names.contains(&value) {
                let message = format!("category `{value}` is declared twice");
                self.report(name, Severity::Error, message);
            } else {
                names.push(value);
            }
        }
        names
    }

    /// The events rules may start from: the built-in erasure request, then
    /// the declared ones with valid, unique names.
    fn events(&mut self, file: &'f File) -> Vec<&'f str> {
        let mut names: Vec<&'f str> = vec![ERASURE_REQUESTED];
        for name in &file.events {
            let value = name.get_ref().as_str();
            if !valid_name(value) || matches!(value, "created" | "last_activity") {
                let message = format!("invalid event name `{value}`");
                self.report(name, Severity::Error, message);
            } else if value == ERASURE_REQUESTED {
                let message = format!("event `{value}` is built in and need not be declared");
                self.report(name, Severity::Warning, message);
            } else if names.contains(&value) {
                let message = format!("event `{value}` is declared twice");
                self.report(name, Severity::Error, message);
            } else {
                names.push(value);
            }
        }
        names
    }

    /// Checks one rule against the declarations and the rules accepted
    /// before it; returns it when it has no problem. An event it starts
    /// from counts as used even when the rule has other problems.
    fn rule(
        &mut self,
        def: &'f Spanned<RuleDef>,
        accepted: &[RuleSpec<'f>],
        categories: &[&'f str],
        events: &[&'f str],
        used_events: &mut Vec<&'f str>,
    ) -> Option<RuleSpec<'f>> {
        let header = self.lines.line(def.span().start);
        let def = def.get_ref();
        let problems_before = self.problems.len();
        let name = def.name.get_ref().as_str();
        if !valid_name(name) {
            let message =
                format!("invalid rule name `{name}`: use letters, digits, `_`, `-` or `.`");
            self.report(&def.name, Severity::Error, message);
        } else if accepted.iter().any(|rule| rule.name == name) {
            let message = format!("rule `{name}` is defined twice");
            self.report(&def.name, Severity::Error, message);
        }
        let category = def.category.get_ref().as_str();
        if !categories.contains(&category) {
            let message = format!(
                "rule `{name}` names unknown category `{category}`; declare it in `categories`"
            );
            self.report(&def.category, Severity::Error, message);
        }
        let trigger = Trigger::parse(def.from.get_ref());
        if let Trigger::Event(event) = &trigger {
            if events.contains(&&**event) {
                used_events.push(def.from.get_ref());
            } else {
                let message = format!(
                    "rule `{name}` starts from unknown trigger `{event}`: expected `created`, `last_activity` or a declared event"
                );
                self.report(&def.from, Severity::Error, message);
            }
        }
        let action = def.then.as_ref().and_then(|then| {
            let action = Action::from_name(then.get_ref());
            if action.is_none() {
                let message = format!(
                    "rule `{name}` has unknown action `{}`: expected `delete`, `anonymize`, `crypto-shred`, `archive` or `review`",
                    then.get_ref()
                );
                self.report(then, Severity::Error, message);
            }
            action
        });
        let (duration, kind) = match (&def.retain, &def.after) {
            (Some(_), Some(after)) => {
                let message = format!(
                    "rule `{name}` has both `retain` and `after`: use `retain` for an obligation to keep, `after` for an action only"
                );
                self.report(after, Severity::Error, message);
                (None, RuleKind::RetainOnly)
            }
            (None, None) => {
                self.problems.push(Problem::at_line(
                    Severity::Error,
                    Some(header),
                    format!("rule `{name}` has neither `retain` nor `after`"),
                ));
                (None, RuleKind::RetainOnly)
            }
            (Some(retain), None) => {
                let kind = if def.then.is_some() {
                    RuleKind::RetainThenAct
                } else {
                    RuleKind::RetainOnly
                };
                (Some(retain), kind)
            }
            (None, Some(after)) => {
                if def.then.is_none() {
                    let message = format!(
                        "rule `{name}` says `after` but not `then`: what happens at the end"
                    );
                    self.report(after, Severity::Error, message);
                }
                (Some(after), RuleKind::ActOnly)
            }
        };
        let duration = duration?;
        let span = match parse_duration(duration.get_ref()) {
            Ok(span) => Some(span),
            Err(message) => {
                self.report(
                    duration,
                    Severity::Error,
                    format!("rule `{name}`: {message}"),
                );
                None
            }
        };
        if self.problems.len() > problems_before {
            return None;
        }
        Some(RuleSpec {
            name,
            category,
            trigger,
            duration: span?,
            duration_text: duration.get_ref(),
            kind,
            action,
            locked: def.locked.unwrap_or(false),
            description: def.description.as_deref(),
            line: header,
        })
    }

    /// Warns of an act-only destructive rule that would act before a
    /// retaining rule of the same category and trigger ends (retention wins).
    fn conflicts(&mut self, rules: &[RuleSpec<'f>], offset_swing: i64) {
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
                self.problems.push(Problem::at_line(
                    Severity::Warning,
                    Some(rule.line),
                    format!(
                        "conflict: rule `{}` would {action} `{}` records {} after `{}`, before the obligation `{}` to retain them {} ends; retention wins, so they are kept until then",
                        rule.name, rule.category, rule.duration_text, rule.trigger, other.name, other.duration_text
                    ),
                ));
            }
        }
    }

    /// Warns of categories without a rule and of declared events no rule starts from.
    fn unused(
        &mut self,
        file: &'f File,
        rules: &[RuleSpec<'f>],
        events: &[&'f str],
        used_events: &[&'f str],
    ) {
        for name in &file.categories {
            let value = name.get_ref().as_str();
            if valid_name(value) && !rules.iter().any(|rule| rule.category == value) {
                let message = format!(
                    "category `{value}` has no rule: its records are kept until an erasure request, which deletes them at once"
                );
                self.report(name, Severity::Warning, message);
            }
        }
        for name in &file.events {
            let value = name.get_ref().as_str();
            if events.contains(&value)
                && value != ERASURE_REQUESTED
                && !used_events.contains(&value)
            {
                let message = format!("event `{value}` is declared but no rule starts from it");
                self.report(name, Severity::Warning, message);
            }
        }
    }
}

/// Byte offsets to 1-based line and column numbers.
pub(crate) struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
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
