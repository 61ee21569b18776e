//! Oversight from the audit log: each employee's actions, who accessed a
//! client's data (and which fields left in clear), and incident reports for
//! a suspected account with the GDPR's 72-hour notification deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use palisade_audit::{Outcome, Record};
use palisade_axum::{Authorized, Guarded};
use serde::Deserialize;
use serde_json::Value;

use crate::app::Backoffice;
use crate::error::{Error, Result, internal};
use crate::gate::{Audit, Incident, Read, Report};
use crate::views::{
    AccessList, ActionList, IncidentReport, IncidentSubject, LogEntry, Notice, subject,
};

/// At most this many entries in one answer (newest first).
const PAGE: usize = 500;
/// GDPR art. 33: the supervisory authority is notified within 72 hours.
const NOTIFY_WITHIN: i64 = 72 * 3600;

/// Filters of the action log.
#[derive(Deserialize, Default)]
pub(crate) struct ActionFilter {
    /// Whose actions (an employee id; "viewer as user" records match both).
    pub(crate) user: Option<String>,
    /// Actions starting with this (`client.`, `account.view_as`).
    pub(crate) action: Option<String>,
    pub(crate) from: Option<i64>,
    pub(crate) to: Option<i64>,
}

/// Filters of the data-access log.
#[derive(Deserialize)]
pub(crate) struct AccessFilter {
    pub(crate) client: String,
    /// Only accesses that showed this field in clear (`phone`, `email`).
    pub(crate) field: Option<String>,
    pub(crate) from: Option<i64>,
    pub(crate) to: Option<i64>,
}

/// The window and account of an incident.
#[derive(Deserialize)]
pub(crate) struct IncidentFilter {
    /// The suspected account.
    pub(crate) user: String,
    pub(crate) from: i64,
    pub(crate) to: i64,
}

fn time_of(unix: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap_or(0))
}

fn unix_of(record: &Record) -> i64 {
    record
        .time()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn strings(payload: Option<&Value>, key: &str) -> Vec<String> {
    payload
        .and_then(|p| p.get(key))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn entry(record: &Record) -> LogEntry {
    let payload = record.payload();
    LogEntry {
        index: record.index(),
        time: unix_of(record),
        actor: record.actor().to_owned(),
        action: record.action().to_owned(),
        resource: record.resource().to_owned(),
        outcome: record.outcome().as_str(),
        subjects: record.subjects().to_vec(),
        shown: strings(payload.as_ref(), "shown"),
        masked: strings(payload.as_ref(), "masked"),
    }
}

/// Whether `actor` (as recorded) is `user`, acting or viewed as.
fn acts_as(actor: &str, user: &str) -> bool {
    actor == user
        || actor.ends_with(&format!(" as {user}"))
        || actor.starts_with(&format!("{user} as "))
}

impl Backoffice {
    fn audit_query(&self, tenant: &str, query: &palisade_audit::Query) -> Result<Vec<Record>> {
        self.audit(tenant)?.query(query).map_err(internal)
    }

    /// The action log: what employees did, newest first.
    pub(crate) fn action_log(&self, tenant: &str, filter: &ActionFilter) -> Result<Vec<LogEntry>> {
        let query = palisade_audit::Query {
            since: filter.from.map(time_of),
            until: filter.to.map(time_of),
            ..palisade_audit::Query::default()
        };
        let mut entries: Vec<LogEntry> = self
            .audit_query(tenant, &query)?
            .iter()
            .filter(|r| filter.user.as_deref().is_none_or(|u| acts_as(r.actor(), u)))
            .filter(|r| {
                filter
                    .action
                    .as_deref()
                    .is_none_or(|a| r.action().starts_with(a))
            })
            .map(entry)
            .collect();
        entries.reverse();
        entries.truncate(PAGE);
        Ok(entries)
    }

    /// The data-access log of one client: every answer that carried its
    /// data, newest first; with `field`, only those that showed it in clear.
    pub(crate) fn access_log(&self, tenant: &str, filter: &AccessFilter) -> Result<Vec<LogEntry>> {
        let query = palisade_audit::Query {
            subject: Some(subject(&filter.client)),
            since: filter.from.map(time_of),
            until: filter.to.map(time_of),
            ..palisade_audit::Query::default()
        };
        let mut entries: Vec<LogEntry> = self
            .audit_query(tenant, &query)?
            .iter()
            .filter(|r| r.outcome() == Outcome::Success)
            .map(entry)
            .filter(|e| {
                filter
                    .field
                    .as_deref()
                    .is_none_or(|f| e.shown.iter().any(|s| s == f))
            })
            .collect();
        entries.reverse();
        entries.truncate(PAGE);
        Ok(entries)
    }

    /// An incident report: the data subjects `user` accessed in the window,
    /// what of theirs left in clear, the deadline to notify the authority,
    /// and a draft notice per subject.
    pub(crate) fn incident_report(
        &self,
        tenant: &str,
        filter: &IncidentFilter,
    ) -> Result<IncidentReport> {
        if filter.to <= filter.from {
            return Err(Error::BadRequest(
                "the window must end after it starts".into(),
            ));
        }
        let query = palisade_audit::Query {
            since: Some(time_of(filter.from)),
            until: Some(time_of(filter.to)),
            ..palisade_audit::Query::default()
        };
        let mut subjects: BTreeMap<String, IncidentSubject> = BTreeMap::new();
        for record in self.audit_query(tenant, &query)? {
            if record.outcome() != Outcome::Success || !acts_as(record.actor(), &filter.user) {
                continue;
            }
            let payload = record.payload();
            let shown = strings(payload.as_ref(), "shown");
            let masked = strings(payload.as_ref(), "masked");
            let time = unix_of(&record);
            for s in record.subjects() {
                let e = subjects
                    .entry(s.to_owned())
                    .or_insert_with(|| IncidentSubject {
                        subject: s.to_owned(),
                        name: None,
                        fields_in_clear: Vec::new(),
                        fields_masked: Vec::new(),
                        accesses: 0,
                        first: time,
                        last: time,
                    });
                e.accesses += 1;
                e.first = e.first.min(time);
                e.last = e.last.max(time);
                for f in &shown {
                    if !e.fields_in_clear.contains(f) {
                        e.fields_in_clear.push(f.clone());
                    }
                }
                for f in &masked {
                    if !e.fields_masked.contains(f) && !shown.contains(f) {
                        e.fields_masked.push(f.clone());
                    }
                }
            }
        }
        let detected = self.clock.now();
        let mut notices = Vec::new();
        let mut list = Vec::new();
        for (_, mut s) in subjects {
            s.fields_masked.retain(|f| !s.fields_in_clear.contains(f));
            if let Some(client) = s.subject.strip_prefix("client:") {
                s.name = self.client_name(tenant, client).ok().flatten();
            }
            notices.push(Notice {
                subject: s.subject.clone(),
                text: draft_notice(&s, filter),
            });
            list.push(s);
        }
        Ok(IncidentReport {
            user: filter.user.clone(),
            from: filter.from,
            to: filter.to,
            detected,
            notify_authority_by: detected + NOTIFY_WITHIN,
            subjects: list,
            notices,
        })
    }

    /// A client's name, decrypted (`None` once erased).
    fn client_name(&self, tenant: &str, client: &str) -> Result<Option<String>> {
        let Some(row) = self.db.query_one(
            "SELECT name FROM clients WHERE id = $1 AND tenant = $2",
            &[client.into(), tenant.into()],
        )?
        else {
            return Ok(None);
        };
        self.open_text(tenant, "clients", "name", client, &row.text("name")?)
            .map(Some)
    }
}

/// GDPR art. 34: the notice to a data subject, in plain language.
fn draft_notice(s: &IncidentSubject, filter: &IncidentFilter) -> String {
    let who = s.name.as_deref().unwrap_or("Customer");
    let what = if s.fields_in_clear.is_empty() {
        "your record (with your contact details masked)".to_owned()
    } else {
        format!("your {}", s.fields_in_clear.join(", "))
    };
    format!(
        "Dear {who},\n\nwe are writing to tell you about a personal data breach. Between \
         {from} and {to} (Unix time), an employee account we believe was misused accessed \
         {what} {n} time(s). We have blocked the account and are investigating. \
         You may want to be alert to unexpected calls or messages claiming to come from us. \
         Contact our data protection officer with any question.\n",
        from = filter.from,
        to = filter.to,
        n = s.accesses,
    )
}

/// `GET /api/audit/actions?user=&action=&from=&to=`
pub(crate) async fn actions(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Audit>,
    Query(filter): Query<ActionFilter>,
) -> Result<Guarded<ActionList>> {
    let tenant = auth.tenant().to_owned();
    let entries = app
        .blocking(move |app| app.action_log(&tenant, &filter))
        .await?;
    Ok(auth.respond(ActionList { entries }))
}

/// `GET /api/audit/access?client=&field=&from=&to=`
pub(crate) async fn access(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Read, Audit>,
    Query(filter): Query<AccessFilter>,
) -> Result<Guarded<AccessList>> {
    let tenant = auth.tenant().to_owned();
    auth.note("client", filter.client.clone());
    let entries = app
        .blocking(move |app| app.access_log(&tenant, &filter))
        .await?;
    Ok(auth.respond(AccessList { entries }))
}

/// `GET /api/incidents/report?user=&from=&to=`
pub(crate) async fn report(
    State(app): State<Arc<Backoffice>>,
    auth: Authorized<Report, Incident>,
    Query(filter): Query<IncidentFilter>,
) -> Result<Guarded<IncidentReport>> {
    let tenant = auth.tenant().to_owned();
    auth.note("suspect", filter.user.clone());
    let report = app
        .blocking(move |app| app.incident_report(&tenant, &filter))
        .await?;
    Ok(auth.respond(report))
}
