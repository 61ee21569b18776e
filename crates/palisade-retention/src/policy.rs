//! The compiled policy: its front door ([`Policy::from_toml`]), what it
//! declares, and the compliance-lock check between two versions.

use jiff::tz::TimeZone;

use crate::calendar::shorter_somewhere;
use crate::compile::compile;
use crate::error::{Error, Problem, Result, Severity};
use crate::rule::Rule;
use crate::validate::{Lines, parse, validate};

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
    pub(crate) time_zone_name: Box<str>,
    /// Sorted by name for binary search.
    pub(crate) categories: Vec<Category>,
    /// The file's rules, then the built-in erasure rules, then the unclassified rule.
    pub(crate) rules: Vec<Rule>,
    pub(crate) explicit_rules: usize,
    pub(crate) unclassified: usize,
    pub(crate) warnings: Vec<Problem>,
    /// The largest difference between two offsets of the time zone, in seconds.
    pub(crate) offset_swing: i64,
}

impl Policy {
    /// Parses, validates and compiles a TOML policy file: the front door.
    ///
    /// Fails with [`Error::PolicyInvalid`] listing every problem when the file has
    /// at least one error; warnings (conflicts resolved by precedence) are kept
    /// in [`Policy::warnings`].
    pub fn from_toml(text: &str) -> Result<Policy> {
        let lines = Lines::new(text);
        let file = parse(text, &lines).map_err(|problem| Error::PolicyInvalid(vec![problem]))?;
        let checked = validate(&file, &lines);
        if checked
            .problems
            .iter()
            .any(|p| p.severity == Severity::Error)
        {
            return Err(Error::PolicyInvalid(checked.problems));
        }
        Ok(compile(checked))
    }

    /// Every problem of a policy file, errors and warnings, in file order.
    pub fn validate(text: &str) -> Vec<Problem> {
        let lines = Lines::new(text);
        match parse(text, &lines) {
            Ok(file) => validate(&file, &lines).problems,
            Err(problem) => vec![problem],
        }
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
                problems.push(Problem::at_line(
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
                problems.push(Problem::at_line(Severity::Error, line, message));
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
            problems.push(Problem::at_line(
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
