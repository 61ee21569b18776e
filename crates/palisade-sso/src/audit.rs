//! Audit records of sign-ins, refusals, provisioning and logouts.

use palisade_audit::{AuditSink, Event, Outcome, Receipt};
use serde_json::{Value, json};

use crate::error::Error;

/// The action names the crate records.
pub(crate) const SIGN_IN: &str = "sso.sign_in";
pub(crate) const PROVISION: &str = "sso.provision";
pub(crate) const LOGOUT: &str = "sso.logout";

/// The actor of a record: the provider's subject when known.
pub(crate) fn actor(subject: Option<&str>) -> String {
    match subject {
        Some(sub) => format!("oidc:{sub}"),
        None => "oidc:unknown".to_owned(),
    }
}

/// Records one event for `tenant`.
pub(crate) fn record(
    sink: &dyn AuditSink,
    tenant: &str,
    subject: Option<&str>,
    action: &str,
    outcome: Outcome,
    payload: Value,
) -> palisade_audit::Result<Receipt> {
    let mut event = Event::new(actor(subject), action, format!("sso/{tenant}"))
        .with_tenant(tenant)
        .with_outcome(outcome)
        .with_payload(payload);
    if let Some(sub) = subject {
        event = event.with_subject(format!("oidc:{sub}"));
    }
    sink.record(event)
}

/// Records a refusal and hands the error back. A refusal stays a refusal
/// even if the record cannot be written.
pub(crate) fn refuse(
    sink: &dyn AuditSink,
    tenant: &str,
    subject: Option<&str>,
    action: &str,
    error: Error,
) -> Error {
    let outcome = match error {
        Error::ProviderUnavailable { .. }
        | Error::HttpClientUnavailable(_)
        | Error::ClientSecretUnavailable { .. }
        | Error::RandomUnavailable
        | Error::AuditUnavailable(_) => Outcome::Failure,
        _ => Outcome::Denied,
    };
    let _ = record(
        sink,
        tenant,
        subject,
        action,
        outcome,
        json!({ "reason": error.code(), "detail": error.to_string() }),
    );
    error
}
