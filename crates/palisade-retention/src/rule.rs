//! The typed rules of a policy: what happens ([`Action`]), from when
//! ([`Trigger`]), which kind of obligation ([`RuleKind`]), and how a rule's
//! period is added to an instant.

use std::fmt;

use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp};

/// The named event that an erasure request (GDPR art. 17, 152-FZ art. 21) sets on a record.
pub const ERASURE_REQUESTED: &str = "erasure_requested";

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
    /// Reads a rule's `from`: `created`, `last_activity`, or an event name.
    pub(crate) fn parse(text: &str) -> Trigger {
        match text {
            "created" => Trigger::Created,
            "last_activity" => Trigger::LastActivity,
            event => Trigger::Event(event.into()),
        }
    }

    /// Whether the trigger is the erasure request.
    pub(crate) fn is_erasure(&self) -> bool {
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
    pub(crate) name: Box<str>,
    pub(crate) category: Box<str>,
    pub(crate) trigger: Trigger,
    pub(crate) duration: Span,
    pub(crate) duration_text: Box<str>,
    pub(crate) kind: RuleKind,
    pub(crate) action: Option<Action>,
    pub(crate) locked: bool,
    pub(crate) description: Option<Box<str>>,
    pub(crate) line: Option<usize>,
    /// How to add the duration, chosen once for the policy's time zone.
    pub(crate) arith: Arith,
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

    /// A rule of the crate's own (the erasure and unclassified defaults).
    pub(crate) fn builtin(name: &str, category: &str, trigger: Trigger, action: Action) -> Rule {
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
pub(crate) enum Arith {
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
