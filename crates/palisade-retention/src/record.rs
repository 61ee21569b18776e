//! What the planner needs to know about a record.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A record as the planner sees it.
///
/// Implement it on the application's own row type to plan without copying;
/// [`RecordBuf`] is an owned implementation that reads from JSON.
pub trait Record {
    /// The record's identifier, used as the audit event's resource.
    fn id(&self) -> &str;
    /// The data category that selects the rules (`invoice`, `support_attachment`).
    fn category(&self) -> &str;
    /// The data subject (the person the data is about), if any.
    fn subject(&self) -> Option<&str>;
    /// When the record was created.
    fn created(&self) -> Timestamp;
    /// The record's last activity; `None` means none since creation.
    fn last_activity(&self) -> Option<Timestamp>;
    /// When the named event (`ticket_closed`, `erasure_requested`) happened to the record.
    fn event(&self, name: &str) -> Option<Timestamp>;
    /// The first legal hold on the record, if any: while held, nothing destructive happens.
    fn hold(&self) -> Option<&str>;
}

impl<T: Record + ?Sized> Record for &T {
    fn id(&self) -> &str {
        (**self).id()
    }
    fn category(&self) -> &str {
        (**self).category()
    }
    fn subject(&self) -> Option<&str> {
        (**self).subject()
    }
    fn created(&self) -> Timestamp {
        (**self).created()
    }
    fn last_activity(&self) -> Option<Timestamp> {
        (**self).last_activity()
    }
    fn event(&self, name: &str) -> Option<Timestamp> {
        (**self).event(name)
    }
    fn hold(&self) -> Option<&str> {
        (**self).hold()
    }
}

/// An owned record, one JSON object per line in the CLI's record files.
///
/// Timestamps are RFC 3339 with an offset (`2026-02-28T23:30:00-05:00`); they
/// denote instants, so the offset never changes when a period ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordBuf {
    /// Identifier.
    pub id: String,
    /// Data category.
    pub category: String,
    /// Data subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Creation instant.
    pub created: Timestamp,
    /// Last activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity: Option<Timestamp>,
    /// Named events and when they happened.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub events: BTreeMap<String, Timestamp>,
    /// Legal holds (case names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<String>,
}

impl RecordBuf {
    /// A record of `category` created at `created`, without subject, activity, events or holds.
    pub fn new(id: impl Into<String>, category: impl Into<String>, created: Timestamp) -> Self {
        RecordBuf {
            id: id.into(),
            category: category.into(),
            subject: None,
            created,
            last_activity: None,
            events: BTreeMap::new(),
            holds: Vec::new(),
        }
    }

    /// Sets the data subject.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the last activity.
    pub fn with_last_activity(mut self, at: Timestamp) -> Self {
        self.last_activity = Some(at);
        self
    }

    /// Records that a named event happened.
    pub fn with_event(mut self, name: impl Into<String>, at: Timestamp) -> Self {
        self.events.insert(name.into(), at);
        self
    }

    /// Places a legal hold.
    pub fn with_hold(mut self, hold: impl Into<String>) -> Self {
        self.holds.push(hold.into());
        self
    }
}

impl Record for RecordBuf {
    fn id(&self) -> &str {
        &self.id
    }
    fn category(&self) -> &str {
        &self.category
    }
    fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }
    fn created(&self) -> Timestamp {
        self.created
    }
    fn last_activity(&self) -> Option<Timestamp> {
        self.last_activity
    }
    fn event(&self, name: &str) -> Option<Timestamp> {
        self.events.get(name).copied()
    }
    fn hold(&self) -> Option<&str> {
        self.holds.first().map(String::as_str)
    }
}
