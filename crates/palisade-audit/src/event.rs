//! What happened: the event an application records.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::{Error, Result, Subjects};

/// How an audited action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The action was carried out.
    Success,
    /// The action was attempted and failed.
    Failure,
    /// The action was refused by an access decision.
    Denied,
}

impl Outcome {
    pub(crate) fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failure => 1,
            Outcome::Denied => 2,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Outcome> {
        match code {
            0 => Some(Outcome::Success),
            1 => Some(Outcome::Failure),
            2 => Some(Outcome::Denied),
            _ => None,
        }
    }

    /// The lowercase name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// One audited event: who (`actor`) did what (`action`) to which resource,
/// concerning which data subjects, in which tenant, when, with what outcome,
/// and an optional JSON payload of details.
///
/// The payload is the only part that can be erased later (GDPR): the log
/// commits to it through a salted hash. Put personal details there, and keep
/// the other fields to identifiers (`user:42`, `customer:4711`) that may stay
/// in the evidence for as long as the log is kept.
///
/// ```
/// use palisade_audit::{Event, Outcome};
///
/// let event = Event::new("staff:alice", "customer.read", "customers/4711")
///     .with_tenant("acme")
///     .with_subject("customer:4711")
///     .with_outcome(Outcome::Success)
///     .with_payload(serde_json::json!({ "fields": ["email", "address"] }));
/// assert_eq!(event.subjects(), ["customer:4711"]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    actor: String,
    action: String,
    resource: String,
    #[serde(default, skip_serializing_if = "Subjects::is_empty")]
    subjects: Subjects,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    #[serde(default = "SystemTime::now", with = "rfc3339")]
    time: SystemTime,
    #[serde(default = "default_outcome")]
    outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload: Option<serde_json::Value>,
}

fn default_outcome() -> Outcome {
    Outcome::Success
}

impl Event {
    /// An event of `actor` doing `action` on `resource`, now, successfully.
    pub fn new(
        actor: impl Into<String>,
        action: impl Into<String>,
        resource: impl Into<String>,
    ) -> Event {
        Event {
            actor: actor.into(),
            action: action.into(),
            resource: resource.into(),
            subjects: Subjects::new(),
            tenant: None,
            time: SystemTime::now(),
            outcome: Outcome::Success,
            payload: None,
        }
    }

    /// Sets the tenant the event belongs to.
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Event {
        self.tenant = Some(tenant.into());
        self
    }

    /// Adds a data subject whose data the event concerns; call once per subject.
    pub fn with_subject(mut self, subject: impl AsRef<str>) -> Event {
        self.subjects.push(subject.as_ref());
        self
    }

    /// Adds several data subjects, in order: as [`Event::with_subject`]
    /// once for each.
    pub fn with_subjects<S: AsRef<str>>(mut self, subjects: impl IntoIterator<Item = S>) -> Event {
        self.subjects.extend(subjects);
        self
    }

    /// Adds the subjects of `list`, in order: as [`Event::with_subjects`],
    /// without a copy when the event has none yet.
    pub fn with_subject_list(mut self, list: Subjects) -> Event {
        if self.subjects.is_empty() {
            self.subjects = list;
        } else {
            self.subjects.extend_from(&list);
        }
        self
    }

    /// Sets the outcome (default: [`Outcome::Success`]).
    pub fn with_outcome(mut self, outcome: Outcome) -> Event {
        self.outcome = outcome;
        self
    }

    /// Sets the payload: erasable details, committed to by a salted hash.
    pub fn with_payload(mut self, payload: serde_json::Value) -> Event {
        self.payload = Some(payload);
        self
    }

    /// Sets the time of the event (default: when [`Event::new`] was called).
    pub fn with_time(mut self, time: SystemTime) -> Event {
        self.time = time;
        self
    }

    /// Who acted.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// What was done.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// What it was done to.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Whose data the event concerns.
    pub fn subjects(&self) -> &Subjects {
        &self.subjects
    }

    /// The tenant, if any.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// When it happened.
    pub fn time(&self) -> SystemTime {
        self.time
    }

    /// How it ended.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The payload, if any.
    pub fn payload(&self) -> Option<&serde_json::Value> {
        self.payload.as_ref()
    }

    pub(crate) fn into_parts(self) -> (EventFields, Option<serde_json::Value>) {
        (
            EventFields {
                actor: self.actor,
                action: self.action,
                resource: self.resource,
                subjects: self.subjects,
                tenant: self.tenant,
                time: self.time,
                outcome: self.outcome,
            },
            self.payload,
        )
    }
}

/// The fields of an event other than the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EventFields {
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) resource: String,
    pub(crate) subjects: Subjects,
    pub(crate) tenant: Option<String>,
    pub(crate) time: SystemTime,
    pub(crate) outcome: Outcome,
}

/// Nanoseconds since the Unix epoch as an `i64`, or an error outside
/// 1970–2262 (the range both the encoding and RFC 3339 text represent).
pub(crate) fn time_to_nanos(time: SystemTime) -> Result<i64> {
    let after = time
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::TimeOutOfRange)?;
    i64::try_from(after.as_nanos()).map_err(|_| Error::TimeOutOfRange)
}

/// The inverse of [`time_to_nanos`]; `None` for negative values.
pub(crate) fn nanos_to_time(nanos: i64) -> Option<SystemTime> {
    let nanos = u64::try_from(nanos).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))
}

/// `time` in RFC 3339 with nine fractional digits and `Z`
/// (`2026-01-02T03:04:05.123456789Z`), the form of checkpoints and JSON.
pub(crate) fn format_rfc3339(time: SystemTime) -> Result<String> {
    time_to_nanos(time)?;
    let ts = jiff::Timestamp::try_from(time).map_err(|_| Error::TimeOutOfRange)?;
    Ok(format!("{ts:.9}"))
}

/// Parses an RFC 3339 time with an offset (`Z` or `±hh:mm`).
pub(crate) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    text.parse::<jiff::Timestamp>().ok().map(SystemTime::from)
}

/// RFC 3339 times in JSON (`2026-01-02T03:04:05.123456789Z`).
pub(crate) mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let text = super::format_rfc3339(*time).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 time with an offset"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_subjects_is_with_subject_once_for_each() {
        let time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let one_by_one = Event::new("a", "b", "c")
            .with_time(time)
            .with_subject("client:1")
            .with_subject("client:2")
            .with_subject("client:3");
        let at_once = Event::new("a", "b", "c")
            .with_time(time)
            .with_subject("client:1")
            .with_subjects(["client:2".to_owned(), "client:3".to_owned()]);
        assert_eq!(one_by_one, at_once);
        assert_eq!(at_once.subjects(), ["client:1", "client:2", "client:3"]);
    }
}
