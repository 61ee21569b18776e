//! Execution through the application's executor, with receipts in the audit log.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly on unexpected values"
)]

use palisade_audit::{AuditLog, AuditSink, Event, Outcome, Receipt};
use palisade_retention::{
    Action, ActionError, Executor, FailedStep, Policy, Record, RecordBuf, Status, Timestamp,
    execute,
};

fn t(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Records what it was asked to do; fails on records whose id starts with `bad`.
#[derive(Default)]
struct Recorder {
    done: Vec<(Action, String)>,
}

impl Recorder {
    fn act(&mut self, action: Action, record: &RecordBuf) -> Result<(), ActionError> {
        if record.id().starts_with("bad") {
            return Err(format!("storage refused `{}`", record.id()).into());
        }
        self.done.push((action, record.id().to_owned()));
        Ok(())
    }
}

impl Executor<RecordBuf> for Recorder {
    fn delete(&mut self, record: &RecordBuf) -> Result<(), ActionError> {
        self.act(Action::Delete, record)
    }
    fn anonymize(&mut self, record: &RecordBuf) -> Result<(), ActionError> {
        self.act(Action::Anonymize, record)
    }
    fn crypto_shred(&mut self, record: &RecordBuf) -> Result<(), ActionError> {
        self.act(Action::CryptoShred, record)
    }
    fn archive(&mut self, record: &RecordBuf) -> Result<(), ActionError> {
        self.act(Action::Archive, record)
    }
    fn review(&mut self, record: &RecordBuf) -> Result<(), ActionError> {
        self.act(Action::Review, record)
    }
}

const POLICY: &str = r#"
categories = ["a", "b", "c", "d", "e"]
[[rule]]
name = "ra"
category = "a"
from = "created"
after = "1 day"
then = "delete"
[[rule]]
name = "rb"
category = "b"
from = "created"
after = "1 day"
then = "anonymize"
[[rule]]
name = "rc"
category = "c"
from = "created"
after = "1 day"
then = "crypto-shred"
[[rule]]
name = "rd"
category = "d"
from = "created"
after = "1 day"
then = "archive"
[[rule]]
name = "re"
category = "e"
from = "created"
after = "1 day"
then = "review"
"#;

#[test]
fn every_action_is_executed_and_receipted() {
    let policy = Policy::from_toml(POLICY).unwrap();
    let created = t("2026-01-01T00:00:00Z");
    let records = vec![
        RecordBuf::new("r-a", "a", created).with_subject("alice"),
        RecordBuf::new("r-b", "b", created),
        RecordBuf::new("r-c", "c", created),
        RecordBuf::new("r-d", "d", created),
        RecordBuf::new("r-e", "e", created),
        RecordBuf::new("held", "a", created).with_hold("case-1"),
        RecordBuf::new("stray", "zzz", created),
        RecordBuf::new("bad-1", "a", created).with_subject("bob"),
    ];
    let log = AuditLog::new();
    let mut executor = Recorder::default();
    let plan = policy.plan(&records, t("2026-01-03T00:00:00Z"));
    let execution = execute(plan, &mut executor, &log);

    assert_eq!(
        executor.done,
        vec![
            (Action::Delete, "r-a".to_owned()),
            (Action::Anonymize, "r-b".to_owned()),
            (Action::CryptoShred, "r-c".to_owned()),
            (Action::Archive, "r-d".to_owned()),
            (Action::Review, "r-e".to_owned()),
        ]
    );
    assert_eq!(execution.executed.len(), 5);
    assert_eq!(execution.skipped, 2, "the held and the unclassified record");
    assert!(!execution.is_complete());
    assert_eq!(execution.failures.len(), 1);
    let failure = &execution.failures[0];
    assert_eq!(
        (failure.record.as_str(), failure.step),
        ("bad-1", FailedStep::Action)
    );
    assert!(
        failure.to_string().contains("storage refused `bad-1`"),
        "{failure}"
    );

    // Six events in the log: five successes and the failure, in plan order.
    assert_eq!(log.len().unwrap(), 6);
    let events = log.read(0, 6).unwrap();
    let names: Vec<_> = events
        .iter()
        .map(|r| (r.action().to_owned(), r.resource().to_owned(), r.outcome()))
        .collect();
    assert_eq!(
        names,
        vec![
            (
                "retention.delete".to_owned(),
                "r-a".to_owned(),
                Outcome::Success
            ),
            (
                "retention.anonymize".to_owned(),
                "r-b".to_owned(),
                Outcome::Success
            ),
            (
                "retention.crypto-shred".to_owned(),
                "r-c".to_owned(),
                Outcome::Success
            ),
            (
                "retention.archive".to_owned(),
                "r-d".to_owned(),
                Outcome::Success
            ),
            (
                "retention.review".to_owned(),
                "r-e".to_owned(),
                Outcome::Success
            ),
            (
                "retention.delete".to_owned(),
                "bad-1".to_owned(),
                Outcome::Failure
            ),
        ]
    );
    assert!(events.iter().all(|r| r.actor() == "retention"));
    assert!(events[0].concerns("alice"));
    let payload = events[0].payload().unwrap();
    assert_eq!(payload["rule"], "ra");
    assert_eq!(payload["category"], "a");
    assert_eq!(payload["due"], "2026-01-02T00:00:00Z");
    assert!(
        events[5].payload().unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("storage refused")
    );
    // Receipts match the log's leaves.
    for (executed, record) in execution.executed.iter().zip(&events) {
        assert_eq!(executed.receipt.index, record.index());
        assert_eq!(&executed.receipt.leaf_hash, record.leaf_hash());
    }
}

/// An audit sink that is down.
struct Down;

impl AuditSink for Down {
    fn record(&self, _event: Event) -> palisade_audit::Result<Receipt> {
        Err(palisade_audit::Error::IndexOutOfRange(0))
    }
}

#[test]
fn a_missing_receipt_is_a_reported_failure() {
    let policy = Policy::from_toml(POLICY).unwrap();
    let records = vec![RecordBuf::new("r-a", "a", t("2026-01-01T00:00:00Z"))];
    let mut executor = Recorder::default();
    let execution = execute(
        policy.plan(&records, t("2026-02-01T00:00:00Z")),
        &mut executor,
        &Down,
    );
    assert_eq!(executor.done.len(), 1, "the action was done");
    assert_eq!(execution.executed.len(), 0);
    assert_eq!(execution.failures.len(), 1);
    assert_eq!(execution.failures[0].step, FailedStep::Audit);
    assert!(
        execution.failures[0]
            .to_string()
            .contains("was done but not receipted")
    );
}

#[test]
fn erasure_answers_execute_only_what_is_due() {
    let policy = Policy::from_toml(
        "categories = [\"a\", \"inv\"]\n[[rule]]\nname = \"ra\"\ncategory = \"a\"\nfrom = \"created\"\nafter = \"1 year\"\nthen = \"delete\"\n[[rule]]\nname = \"law\"\ncategory = \"inv\"\nfrom = \"created\"\nretain = \"10 years\"\n",
    )
    .unwrap();
    let created = t("2026-01-01T00:00:00Z");
    let records = vec![
        RecordBuf::new("a1", "a", created).with_subject("alice"),
        RecordBuf::new("i1", "inv", created).with_subject("alice"),
        RecordBuf::new("a2", "a", created).with_subject("bob"),
    ];
    let answer: Vec<_> = policy
        .erase(&records, "alice", t("2026-02-01T00:00:00Z"))
        .collect();
    assert_eq!(
        answer.iter().map(|i| i.status).collect::<Vec<_>>(),
        [Status::Due, Status::Retained]
    );
    let log = AuditLog::new();
    let mut executor = Recorder::default();
    let execution = execute(answer, &mut executor, &log);
    assert_eq!(executor.done, vec![(Action::Delete, "a1".to_owned())]);
    assert_eq!(execution.skipped, 1);
    assert_eq!(log.len().unwrap(), 1);
}

/// Deletes, and nothing else: every other method is left out.
#[derive(Default)]
struct DeleteOnly {
    deleted: Vec<String>,
}

impl Executor<RecordBuf> for DeleteOnly {
    fn delete(&mut self, record: &RecordBuf) -> Result<(), ActionError> {
        self.deleted.push(record.id().to_owned());
        Ok(())
    }
}

/// Crypto-shreds, and nothing else (the back office's backups).
#[derive(Default)]
struct ShredOnly {
    shredded: Vec<String>,
}

impl Executor<RecordBuf> for ShredOnly {
    fn crypto_shred(&mut self, record: &RecordBuf) -> Result<(), ActionError> {
        self.shredded.push(record.id().to_owned());
        Ok(())
    }
}

#[test]
fn an_action_left_out_of_the_executor_is_a_reported_failure_never_done() {
    let policy = Policy::from_toml(POLICY).unwrap();
    let created = t("2026-01-01T00:00:00Z");
    let records: Vec<_> = ["a", "b", "c", "d", "e"]
        .into_iter()
        .map(|category| RecordBuf::new(format!("r-{category}"), category, created))
        .chain([RecordBuf::new("held", "b", created).with_hold("case-1")])
        .collect();
    let log = AuditLog::new();
    let mut executor = DeleteOnly::default();
    // A plan over references: the forwarding impl keeps both the method
    // written and the refusals of the ones left out.
    let plan = policy.plan(&records, t("2026-01-03T00:00:00Z"));
    let execution = execute(plan, &mut executor, &log);

    assert_eq!(executor.deleted, ["r-a"]);
    assert_eq!(execution.executed.len(), 1);
    assert_eq!(execution.executed[0].action, Action::Delete);
    assert_eq!(
        execution.skipped, 1,
        "the held record never reaches the executor"
    );
    let refused: Vec<_> = execution
        .failures
        .iter()
        .map(|f| (f.record.as_str(), f.action, f.step))
        .collect();
    assert_eq!(
        refused,
        [
            ("r-b", Action::Anonymize, FailedStep::Unsupported),
            ("r-c", Action::CryptoShred, FailedStep::Unsupported),
            ("r-d", Action::Archive, FailedStep::Unsupported),
            ("r-e", Action::Review, FailedStep::Unsupported),
        ]
    );
    assert_eq!(
        execution.failures[0].to_string(),
        "anonymize of record `r-b` under rule `rb` was not done: \
         the executor does not carry out action `anonymize`"
    );
    // Every attempt is in the log; the refusals as failures.
    let events = log.read(0, 5).unwrap();
    let outcomes: Vec<_> = events.iter().map(|r| r.outcome()).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Success,
            Outcome::Failure,
            Outcome::Failure,
            Outcome::Failure,
            Outcome::Failure
        ]
    );
    assert_eq!(
        events[1].payload().unwrap()["error"],
        "the executor does not carry out action `anonymize`"
    );
}

#[test]
fn an_erasure_request_is_never_silently_skipped_by_an_executor_without_delete() {
    // No explicit erasure rule: the built-in one deletes at once.
    let policy = Policy::from_toml(POLICY).unwrap();
    let records = vec![RecordBuf::new("r-c", "c", t("2026-01-01T00:00:00Z")).with_subject("alice")];
    let log = AuditLog::new();
    let mut executor = ShredOnly::default();
    let answer = policy.erase(&records, "alice", t("2026-01-01T12:00:00Z"));
    let execution = execute(answer, &mut executor, &log);
    assert!(executor.shredded.is_empty());
    assert!(execution.executed.is_empty());
    assert_eq!(execution.failures.len(), 1);
    assert_eq!(
        (execution.failures[0].action, execution.failures[0].step),
        (Action::Delete, FailedStep::Unsupported)
    );
    assert_eq!(log.read(0, 1).unwrap()[0].outcome(), Outcome::Failure);

    // The method it does write is used, through references too.
    let execution = execute(
        policy.plan(&records, t("2026-01-03T00:00:00Z")),
        &mut executor,
        &log,
    );
    assert_eq!(executor.shredded, ["r-c"]);
    assert!(execution.is_complete());
}

#[test]
fn the_unsupported_error_is_typed() {
    let mut executor = DeleteOnly::default();
    let record = RecordBuf::new("r", "a", t("2026-01-01T00:00:00Z"));
    let error = executor.archive(&record).unwrap_err();
    assert!(matches!(
        error.downcast_ref::<palisade_retention::Error>(),
        Some(palisade_retention::Error::ActionUnsupported(
            Action::Archive
        ))
    ));
    assert!(executor.deleted.is_empty());
}
