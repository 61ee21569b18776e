//! The planner: one record and a `now` in, at most one decision out.
//!
//! Precedence, after Microsoft Purview's principles of retention:
//! 1. a legal hold blocks every destructive action (anonymize, delete, crypto-shred);
//! 2. retention wins over deletion: no destructive action happens before every
//!    obligation to retain has ended, and the longest obligation wins;
//! 3. among actions that are due, a destructive one wins over archive or review,
//!    and the earliest due wins (the shortest deletion period); ties go to the
//!    stronger action, then to the rule written first.
//!
//! An erasure request is answered the same way: a hold or an obligation in
//! force exempts the record, and the answer names the rule and the date.

use std::fmt;

use jiff::Timestamp;

use crate::policy::Policy;
use crate::record::Record;
use crate::rule::{Action, ERASURE_REQUESTED, Rule, Trigger};

/// What a plan item asks of the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Carry out the action: it is due (for an erasure request: by `due`).
    Due,
    /// The action is due but a legal hold blocks it; nothing may be done.
    Held,
    /// Erasure only: an obligation to retain exempts the record until it ends.
    Retained,
    /// The record's category is not declared in the policy; a human should
    /// classify it (`review`). (A declared category without rules is kept:
    /// nothing is due for its records until an erasure request.)
    Unclassified,
}

impl Status {
    /// The name used in plans (`due`, `held`, `retained`, `unclassified`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Due => "due",
            Status::Held => "held",
            Status::Retained => "retained",
            Status::Unclassified => "unclassified",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As its name ([`Status::as_str`]).
impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An obligation to retain that defers or blocks an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention<'p> {
    /// The retain rule.
    pub rule: &'p Rule,
    /// When the obligation ends; `None` while its event has not happened.
    pub until: Option<Timestamp>,
}

/// One decision of a plan: what to do to which record, and why.
///
/// Serialized (one line of a plan, for a log or a job queue) as the
/// record's id, the status, the action, the rule's name, the due date, the
/// [`reason`](PlanItem::reason), and when they apply the legal hold and the
/// obligation to retain:
/// `{"record":"inv-1","status":"held","action":"delete","rule":"invoices","due":"2031-01-01T00:00:00Z","reason":"…","hold":"case-7"}`,
/// `"retained_by":{"rule":"tax","until":"2035-01-01T00:00:00Z"}` (`until`
/// `null` while the obligation's event has not happened). This is the shape
/// `palisade retention plan` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem<'p, R> {
    /// The record, as it was passed in.
    pub record: R,
    /// Whether to act, or why not.
    pub status: Status,
    /// The action (for `held` and `retained`: the action that waits).
    pub action: Action,
    /// The rule that calls for the action.
    pub rule: &'p Rule,
    /// When the rule's clock started.
    pub start: Option<Timestamp>,
    /// When the action is due, after any deferral by retention; `None` while unknown.
    pub due: Option<Timestamp>,
    /// The obligation to retain that deferred (`due`) or exempts (`retained`) the record.
    pub retention: Option<Retention<'p>>,
}

impl<'p, R: Record> PlanItem<'p, R> {
    /// The legal hold that blocks the action (`held` items).
    pub fn hold(&self) -> Option<&str> {
        match self.status {
            Status::Held => self.record.hold(),
            _ => None,
        }
    }

    /// A one-line human explanation: the rule, its period and the dates.
    pub fn reason(&self) -> impl fmt::Display + '_ {
        Reason(self)
    }
}

impl<R: Record> serde::Serialize for PlanItem<'_, R> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("record", self.record.id())?;
        map.serialize_entry("status", &self.status)?;
        map.serialize_entry("action", &self.action)?;
        map.serialize_entry("rule", self.rule.name())?;
        map.serialize_entry("due", &self.due.map(|due| due.to_string()))?;
        map.serialize_entry("reason", &self.reason().to_string())?;
        if let Some(hold) = self.hold() {
            map.serialize_entry("hold", hold)?;
        }
        if let Some(retention) = self.retention {
            map.serialize_entry(
                "retained_by",
                &RetainedBy {
                    rule: retention.rule.name(),
                    until: retention.until.map(|until| until.to_string()),
                },
            )?;
        }
        map.end()
    }
}

/// The obligation to retain in a serialized [`PlanItem`].
#[derive(serde::Serialize)]
struct RetainedBy<'a> {
    rule: &'a str,
    until: Option<String>,
}

struct Reason<'a, 'p, R>(&'a PlanItem<'p, R>);

impl<R: Record> fmt::Display for Reason<'_, '_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let item = self.0;
        let rule = item.rule;
        if item.status == Status::Unclassified {
            return write!(
                f,
                "category `{}` is not declared in the retention policy",
                item.record.category()
            );
        }
        if let Status::Held = item.status {
            write!(
                f,
                "legal hold `{}` blocks {}; ",
                item.record.hold().unwrap_or("?"),
                item.action
            )?;
        }
        if rule.line().is_none() && rule.trigger() != &Trigger::Created {
            write!(f, "erasure requested")?;
        } else {
            write!(f, "{} after `{}`", rule.duration_text(), rule.trigger())?;
        }
        if let Some(start) = item.start {
            write!(f, " ({start})")?;
        }
        if let Some(retention) = item.retention {
            let verb = if item.status == Status::Retained {
                "exempt: retained"
            } else {
                "kept"
            };
            match retention.until {
                Some(until) => write!(f, "; {verb} until {until}")?,
                None => write!(
                    f,
                    "; {verb} until `{}` happens and {} pass",
                    retention.rule.trigger(),
                    retention.rule.duration_text()
                )?,
            }
            write!(
                f,
                " under `{}` ({} after `{}`",
                retention.rule.name(),
                retention.rule.duration_text(),
                retention.rule.trigger()
            )?;
            if let Some(description) = retention.rule.description() {
                write!(f, ": {description}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// The decision for one record, without the record.
#[derive(Clone, Copy)]
struct Decision<'p> {
    status: Status,
    action: Action,
    rule: &'p Rule,
    start: Option<Timestamp>,
    due: Option<Timestamp>,
    retention: Option<Retention<'p>>,
}

impl<'p> Decision<'p> {
    fn with<R>(self, record: R) -> PlanItem<'p, R> {
        PlanItem {
            record,
            status: self.status,
            action: self.action,
            rule: self.rule,
            start: self.start,
            due: self.due,
            retention: self.retention,
        }
    }
}

/// The longest obligation to retain: its rule and end (`None`: not yet known).
#[derive(Clone, Copy)]
struct Keep<'p> {
    rule: &'p Rule,
    until: Option<Timestamp>,
}

/// A candidate action and its due instant.
#[derive(Clone, Copy)]
struct Candidate<'p> {
    action: Action,
    rule: &'p Rule,
    start: Timestamp,
    due: Timestamp,
    deferred: bool,
}

impl Candidate<'_> {
    /// Earliest due first; on a tie the stronger action; then file order (kept by `<`).
    fn beats(&self, other: &Candidate<'_>) -> bool {
        self.due < other.due || (self.due == other.due && self.action > other.action)
    }
}

fn start_of<R: Record>(
    record: &R,
    trigger: &Trigger,
    erasure: Option<Timestamp>,
) -> Option<Timestamp> {
    match trigger {
        Trigger::Created => Some(record.created()),
        Trigger::LastActivity => Some(record.last_activity().unwrap_or_else(|| record.created())),
        Trigger::Event(name) => {
            let happened = record.event(name);
            match erasure {
                Some(at) if &**name == ERASURE_REQUESTED => {
                    Some(happened.map_or(at, |h| h.min(at)))
                }
                _ => happened,
            }
        }
    }
}

impl Policy {
    /// The longest obligation to retain the record, if any.
    fn keep<R: Record>(
        &self,
        retains: &[usize],
        record: &R,
        erasure: Option<Timestamp>,
    ) -> Option<Keep<'_>> {
        let mut keep: Option<Keep<'_>> = None;
        for &index in retains {
            let Some(rule) = self.rule_at(index) else {
                continue;
            };
            // An event that has not happened, or an end past year 9999, keeps indefinitely.
            let until = start_of(record, &rule.trigger, erasure)
                .and_then(|start| rule.end(start, &self.time_zone));
            let longer = match (keep, until) {
                (None, _) => true,
                (Some(Keep { until: None, .. }), _) => false,
                (Some(_), None) => true,
                (
                    Some(Keep {
                        until: Some(current),
                        ..
                    }),
                    Some(until),
                ) => until > current,
            };
            if longer {
                keep = Some(Keep { rule, until });
            }
        }
        keep
    }

    /// Decides what is due for one record at `now`: `None` when nothing is.
    ///
    /// The hot path: no allocation, and the obligations to retain are only
    /// computed when a destructive action would otherwise be due.
    fn decide<R: Record>(&self, record: &R, now: Timestamp) -> Option<Decision<'_>> {
        let Some(category) = self.category(record.category()) else {
            return self.unclassified(record);
        };
        let mut destructive: Option<Candidate<'_>> = None;
        let mut other: Option<Candidate<'_>> = None;
        for candidate in self.candidates(&category.acts, record, now, None) {
            let best = if candidate.action.is_destructive() {
                &mut destructive
            } else {
                &mut other
            };
            if best.as_ref().is_none_or(|current| candidate.beats(current)) {
                *best = Some(candidate);
            }
        }
        let mut keep = None;
        if let Some(earliest) = destructive
            && !category.retains.is_empty()
        {
            keep = self.keep(&category.retains, record, None);
            match keep.map(|keep| keep.until) {
                None => {}
                Some(None) => destructive = None,
                Some(Some(until)) if until > now => destructive = None,
                Some(Some(until)) if until > earliest.due => {
                    // Retention ends after the earliest deletion: every deletion due
                    // before its end is deferred to it; pick again.
                    destructive = None;
                    for candidate in self.candidates(&category.acts, record, now, Some(until)) {
                        if candidate.action.is_destructive()
                            && destructive
                                .as_ref()
                                .is_none_or(|current| candidate.beats(current))
                        {
                            destructive = Some(candidate);
                        }
                    }
                }
                Some(Some(_)) => {}
            }
        }
        let (chosen, status) = match (destructive, other) {
            (Some(chosen), _) if record.hold().is_some() => (chosen, Status::Held),
            (Some(chosen), _) | (None, Some(chosen)) => (chosen, Status::Due),
            (None, None) => return None,
        };
        let retention = match keep {
            Some(keep) if chosen.deferred => Some(Retention {
                rule: keep.rule,
                until: keep.until,
            }),
            _ => None,
        };
        Some(Decision {
            status,
            action: chosen.action,
            rule: chosen.rule,
            start: Some(chosen.start),
            due: Some(chosen.due),
            retention,
        })
    }

    /// The actions of `acts` due at `now`; destructive ones deferred to `until` if given.
    fn candidates<'p, 'r, R: Record>(
        &'p self,
        acts: &'p [usize],
        record: &'r R,
        now: Timestamp,
        until: Option<Timestamp>,
    ) -> impl Iterator<Item = Candidate<'p>> + use<'p, 'r, R> {
        acts.iter().filter_map(move |&index| {
            let rule = self.rule_at(index)?;
            let action = rule.action?;
            let start = start_of(record, &rule.trigger, None)?;
            if start
                .checked_add(rule.shortest())
                .is_ok_and(|earliest| earliest > now)
            {
                return None;
            }
            let end = rule.end(start, &self.time_zone)?;
            let (due, deferred) = match until {
                Some(until) if action.is_destructive() && until > end => (until, true),
                _ => (end, false),
            };
            (due <= now).then_some(Candidate {
                action,
                rule,
                start,
                due,
                deferred,
            })
        })
    }

    /// Answers an erasure request made at `at` for one record.
    fn decide_erasure<R: Record>(&self, record: &R, at: Timestamp) -> Option<Decision<'_>> {
        let Some(category) = self.category(record.category()) else {
            return self.unclassified(record);
        };
        let rule = self.rule_at(category.erasure)?;
        let action = rule.action.unwrap_or(Action::Delete);
        let start = start_of(record, &rule.trigger, Some(at));
        let due = start.and_then(|start| rule.end(start, &self.time_zone));
        let mut decision = Decision {
            status: Status::Due,
            action,
            rule,
            start,
            due,
            retention: None,
        };
        if !action.is_destructive() {
            return Some(decision);
        }
        let keep = self.keep(&category.retains, record, Some(at));
        if let Some(keep) = keep {
            let in_force = keep.until.is_none_or(|until| until > at);
            if in_force {
                decision.retention = Some(Retention {
                    rule: keep.rule,
                    until: keep.until,
                });
                decision.due = match (keep.until, due) {
                    (Some(until), Some(due)) => Some(until.max(due)),
                    _ => None,
                };
                decision.status = Status::Retained;
            }
        }
        if record.hold().is_some() {
            decision.status = Status::Held;
        }
        Some(decision)
    }

    fn unclassified<R: Record>(&self, record: &R) -> Option<Decision<'_>> {
        Some(Decision {
            status: Status::Unclassified,
            action: Action::Review,
            rule: self.rule_at(self.unclassified)?,
            start: Some(record.created()),
            due: Some(record.created()),
            retention: None,
        })
    }

    /// What is due for one record at `now`, or `None` when nothing is.
    pub fn evaluate<R: Record>(&self, record: R, now: Timestamp) -> Option<PlanItem<'_, R>> {
        self.decide(&record, now)
            .map(|decision| decision.with(record))
    }

    /// The plan for a stream of records at `now`: a lazy iterator that yields one
    /// item per record with something due (or held, or unclassified), in input
    /// order. Each record is decided alone, so memory does not grow with the
    /// stream and the plan does not depend on record order.
    pub fn plan<I>(&self, records: I, now: Timestamp) -> Plan<'_, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: Record,
    {
        Plan {
            policy: self,
            records: records.into_iter(),
            now,
        }
    }

    /// The answer to an erasure request by `subject`, made at `now`: one item per
    /// record of the subject, in input order, saying what is erased by when, or
    /// which hold or obligation exempts the record and until when.
    pub fn erase<'s, I>(
        &self,
        records: I,
        subject: &'s str,
        now: Timestamp,
    ) -> Erasure<'_, 's, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: Record,
    {
        Erasure {
            policy: self,
            records: records.into_iter(),
            subject,
            now,
        }
    }
}

/// The streaming plan returned by [`Policy::plan`].
#[derive(Debug, Clone)]
pub struct Plan<'p, I> {
    policy: &'p Policy,
    records: I,
    now: Timestamp,
}

impl<'p, I> Iterator for Plan<'p, I>
where
    I: Iterator,
    I::Item: Record,
{
    type Item = PlanItem<'p, I::Item>;

    fn next(&mut self) -> Option<Self::Item> {
        for record in self.records.by_ref() {
            if let Some(decision) = self.policy.decide(&record, self.now) {
                return Some(decision.with(record));
            }
        }
        None
    }
}

/// The streaming answer to an erasure request, returned by [`Policy::erase`].
#[derive(Debug, Clone)]
pub struct Erasure<'p, 's, I> {
    policy: &'p Policy,
    records: I,
    subject: &'s str,
    now: Timestamp,
}

impl<'p, I> Iterator for Erasure<'p, '_, I>
where
    I: Iterator,
    I::Item: Record,
{
    type Item = PlanItem<'p, I::Item>;

    fn next(&mut self) -> Option<Self::Item> {
        for record in self.records.by_ref() {
            if record.subject() != Some(self.subject) {
                continue;
            }
            if let Some(decision) = self.policy.decide_erasure(&record, self.now) {
                return Some(decision.with(record));
            }
        }
        None
    }
}
