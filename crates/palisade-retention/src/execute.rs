//! Carrying out a plan through the application, with a receipt for each action.

use std::fmt;

use palisade_audit::{AuditSink, Event, Outcome, Receipt};

use crate::error::Error;
use crate::plan::{PlanItem, Status};
use crate::record::Record;
use crate::rule::Action;

/// The error an [`Executor`] returns when an action fails: any error type,
/// or a `String`, converts into it with `.into()` or `?`.
pub type ActionError = Box<dyn std::error::Error + Send + Sync>;

/// The application's side of execution: how to act on one record.
///
/// Deleting a row, calling the masking hook, destroying a key in palisade-crypt's
/// keyring (crypto-shredding), moving a file to cold storage, opening a review
/// ticket: the policy decides *what*, the executor knows *how*. Each method
/// should be idempotent, since a plan that failed half-way is run again.
///
/// Implement the actions your policy uses and nothing else. A method left out
/// refuses: it returns [`Error::ActionUnsupported`] without touching the record,
/// and [`execute`] reports the item as a failure ([`FailedStep::Unsupported`])
/// and records a failure event, so an action is never reported done unless
/// the application did it. Remember that an erasure request deletes records of
/// every category without an explicit erasure rule ([`ERASURE_REQUESTED`]): an
/// executor that answers erasure requests implements [`delete`](Self::delete).
/// Legal holds and retain obligations are decided by the plan: held and
/// retained items never reach the executor.
///
/// [`ERASURE_REQUESTED`]: crate::ERASURE_REQUESTED
///
/// ```
/// use palisade_retention::{ActionError, Executor, RecordBuf};
///
/// /// Deletes attachment files; this policy says nothing else.
/// struct Attachments;
///
/// impl Executor<RecordBuf> for Attachments {
///     fn delete(&mut self, record: &RecordBuf) -> Result<(), ActionError> {
///         println!("rm {}.bin", record.id);
///         Ok(())
///     }
/// }
/// ```
pub trait Executor<R: ?Sized> {
    /// Deletes the record.
    fn delete(&mut self, record: &R) -> Result<(), ActionError> {
        unsupported(Action::Delete, record)
    }
    /// Removes personal data from the record through the masking hook.
    fn anonymize(&mut self, record: &R) -> Result<(), ActionError> {
        unsupported(Action::Anonymize, record)
    }
    /// Destroys the record's encryption key.
    fn crypto_shred(&mut self, record: &R) -> Result<(), ActionError> {
        unsupported(Action::CryptoShred, record)
    }
    /// Moves the record to archive storage.
    fn archive(&mut self, record: &R) -> Result<(), ActionError> {
        unsupported(Action::Archive, record)
    }
    /// Sends the record to disposition review.
    fn review(&mut self, record: &R) -> Result<(), ActionError> {
        unsupported(Action::Review, record)
    }
}

/// What a method left out of an [`Executor`] returns.
fn unsupported<R: ?Sized>(action: Action, _record: &R) -> Result<(), ActionError> {
    Err(Box::new(Error::ActionUnsupported(action)))
}

/// An executor for records also executes plans over references to them.
///
/// Every method forwards, so the methods `E` leaves out refuse as they do for `T`.
impl<'r, T: ?Sized, E: Executor<T> + ?Sized> Executor<&'r T> for E {
    fn delete(&mut self, record: &&'r T) -> Result<(), ActionError> {
        Executor::<T>::delete(self, record)
    }
    fn anonymize(&mut self, record: &&'r T) -> Result<(), ActionError> {
        Executor::<T>::anonymize(self, record)
    }
    fn crypto_shred(&mut self, record: &&'r T) -> Result<(), ActionError> {
        Executor::<T>::crypto_shred(self, record)
    }
    fn archive(&mut self, record: &&'r T) -> Result<(), ActionError> {
        Executor::<T>::archive(self, record)
    }
    fn review(&mut self, record: &&'r T) -> Result<(), ActionError> {
        Executor::<T>::review(self, record)
    }
}

/// The step of execution that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailedStep {
    /// The executor could not carry out the action (a failure event was still recorded).
    Action,
    /// The executor does not carry out this action ([`Error::ActionUnsupported`]):
    /// nothing was done, and a failure event was recorded.
    Unsupported,
    /// The action was carried out but its receipt could not be recorded.
    Audit,
}

/// One action carried out, with its audit receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// The record's identifier.
    pub record: String,
    /// What was done.
    pub action: Action,
    /// The rule that called for it.
    pub rule: String,
    /// The receipt of the audit event.
    pub receipt: Receipt,
}

/// One plan item that could not be carried out or receipted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionFailure {
    /// The record's identifier.
    pub record: String,
    /// The action attempted.
    pub action: Action,
    /// The rule that called for it.
    pub rule: String,
    /// Which step failed.
    pub step: FailedStep,
    /// The executor's or the audit sink's message.
    pub message: String,
}

impl fmt::Display for ExecutionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            FailedStep::Action => write!(
                f,
                "{} of record `{}` under rule `{}` failed: {}",
                self.action, self.record, self.rule, self.message
            ),
            FailedStep::Unsupported => write!(
                f,
                "{} of record `{}` under rule `{}` was not done: {}",
                self.action, self.record, self.rule, self.message
            ),
            FailedStep::Audit => write!(
                f,
                "{} of record `{}` under rule `{}` was done but not receipted: {}",
                self.action, self.record, self.rule, self.message
            ),
        }
    }
}

/// What [`execute`] did: every action carried out and every failure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Execution {
    /// Actions carried out and receipted, in plan order.
    pub executed: Vec<Executed>,
    /// Actions that failed, or whose receipt could not be recorded, in plan order.
    pub failures: Vec<ExecutionFailure>,
    /// Items not to act on: held, retained or unclassified.
    pub skipped: usize,
}

impl Execution {
    /// Whether every due action was carried out and receipted.
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The audit action name of a retention action (`retention.crypto-shred`).
pub fn audit_action(action: Action) -> &'static str {
    match action {
        Action::Review => "retention.review",
        Action::Archive => "retention.archive",
        Action::Anonymize => "retention.anonymize",
        Action::Delete => "retention.delete",
        Action::CryptoShred => "retention.crypto-shred",
    }
}

/// Carries out the `due` items of a plan through `executor` and records one
/// audit event per attempt through `audit`.
///
/// Each event has actor `retention`, action `retention.<action>`, the record id
/// as resource, the record's subject, and a payload naming the rule, the
/// category and the due date. A failed action is recorded with outcome
/// `failure` and reported; an action whose receipt cannot be recorded is
/// reported too. Nothing is dropped silently. Held, retained and unclassified
/// items are counted as skipped and never reach the executor.
pub fn execute<'p, R, I, E>(items: I, executor: &mut E, audit: &dyn AuditSink) -> Execution
where
    I: IntoIterator<Item = PlanItem<'p, R>>,
    R: Record,
    E: Executor<R> + ?Sized,
{
    let mut execution = Execution::default();
    for item in items {
        if item.status != Status::Due {
            execution.skipped += 1;
            continue;
        }
        let record = &item.record;
        let result = match item.action {
            Action::Delete => executor.delete(record),
            Action::Anonymize => executor.anonymize(record),
            Action::CryptoShred => executor.crypto_shred(record),
            Action::Archive => executor.archive(record),
            Action::Review => executor.review(record),
        };
        let mut payload = serde_json::json!({
            "rule": item.rule.name(),
            "category": record.category(),
            "due": item.due.map(|due| due.to_string()),
        });
        if let (Some(retention), Some(object)) = (item.retention, payload.as_object_mut()) {
            object.insert("retained_by".into(), retention.rule.name().into());
        }
        let outcome = if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        if let (Err(error), Some(object)) = (&result, payload.as_object_mut()) {
            object.insert("error".into(), error.to_string().into());
        }
        let mut event = Event::new("retention", audit_action(item.action), record.id())
            .with_outcome(outcome)
            .with_payload(payload);
        if let Some(subject) = record.subject() {
            event = event.with_subject(subject);
        }
        let receipt = audit.record(event);
        let failure = |step, message: String| ExecutionFailure {
            record: record.id().to_owned(),
            action: item.action,
            rule: item.rule.name().to_owned(),
            step,
            message,
        };
        match (result, receipt) {
            (Ok(()), Ok(receipt)) => execution.executed.push(Executed {
                record: record.id().to_owned(),
                action: item.action,
                rule: item.rule.name().to_owned(),
                receipt,
            }),
            (Ok(()), Err(error)) => execution
                .failures
                .push(failure(FailedStep::Audit, error.to_string())),
            (Err(error), _) => {
                let step = match error.downcast_ref::<Error>() {
                    Some(Error::ActionUnsupported(_)) => FailedStep::Unsupported,
                    _ => FailedStep::Action,
                };
                execution.failures.push(failure(step, error.to_string()));
            }
        }
    }
    execution
}
