//! Chapter 7: retention, legal holds and erasure requests, with palisade-retention
//! and receipts in palisade-audit's log.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};

use palisade_audit::AuditLog;
use palisade_examples::{chapter, show, step};
use palisade_retention::{
    ActionError, Executor, Policy, Record, RecordBuf, Status, Timestamp, execute,
};

const POLICY: &str = include_str!("../../crates/palisade-retention/examples/saas-policy.toml");

/// The help desk's storage: attachment files on disk, and one encryption key
/// per client record (destroying it is crypto-shredding; in production the
/// executor would call palisade-crypt's keyring).
struct HelpDesk {
    attachments: PathBuf,
    record_keys: BTreeMap<String, [u8; 32]>,
}

impl HelpDesk {
    fn file(&self, record: &RecordBuf) -> PathBuf {
        self.attachments.join(format!("{}.bin", record.id()))
    }
}

impl Executor<RecordBuf> for HelpDesk {
    fn delete(&mut self, record: &RecordBuf) -> Result<(), ActionError> {
        std::fs::remove_file(self.file(record))?;
        Ok(())
    }
    fn crypto_shred(&mut self, record: &RecordBuf) -> Result<(), ActionError> {
        self.record_keys
            .remove(record.id())
            .map(drop)
            .ok_or_else(|| format!("no key for `{}`", record.id()).into())
    }
    /// Moves the record's file to cold storage (a folder beside it here).
    fn archive(&mut self, record: &RecordBuf) -> Result<(), ActionError> {
        let cold = self.attachments.join("archive");
        std::fs::create_dir_all(&cold)?;
        let file = self.file(record);
        if file.exists() {
            std::fs::rename(&file, cold.join(format!("{}.bin", record.id())))?;
        }
        Ok(())
    }
    /// Queues the record for a person to decide (a line in a review file).
    fn review(&mut self, record: &RecordBuf) -> Result<(), ActionError> {
        use std::io::Write;
        let mut queue = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.attachments.join("review-queue.txt"))?;
        writeln!(queue, "{}", record.id())?;
        Ok(())
    }
}

fn t(text: &str) -> Result<Timestamp, Box<dyn Error>> {
    Ok(text.parse()?)
}

pub(crate) fn run(workdir: &Path) -> Result<(), Box<dyn Error>> {
    chapter(
        7,
        "Retention",
        "files sent to support are kept only as long as needed and deleted on request; \
         customer data is deleted on request or after the end of service, unless the law \
         or a legal hold says otherwise",
    );

    // The policy: a readable file, validated with line numbers.
    let policy = Policy::from_toml(POLICY)?;
    step(format!(
        "the policy file declares {} categories and {} rules; validation finds no problem",
        policy.categories().count(),
        policy.rules().len()
    ));
    for rule in policy.rules() {
        let period = match (rule.kind().retains(), rule.action()) {
            (true, Some(action)) => format!("retain {}, then {action}", rule.duration_text()),
            (true, None) => format!("retain {}", rule.duration_text()),
            (false, action) => format!(
                "{} after {}",
                action.map_or("nothing", |a| a.as_str()),
                rule.duration_text()
            ),
        };
        let lock = if rule.locked() { " (locked)" } else { "" };
        show(
            rule.name(),
            format!(
                "{}: {period} from `{}`{lock}",
                rule.category(),
                rule.trigger()
            ),
        );
    }
    let shortened = POLICY.replace("retain = \"10 years\"", "retain = \"5 years\"");
    match policy.replace(Policy::from_toml(&shortened)?) {
        Ok(_) => return Err("a locked rule was shortened".into()),
        Err(refused) => {
            step("a new policy version tries to keep invoices 5 years instead of 10: refused");
            if let Some(problem) = refused.problems().first() {
                show("compliance lock", problem);
            }
        }
    }

    // The help desk's records.
    let attachments = workdir.join("retention-attachments");
    std::fs::create_dir_all(&attachments)?;
    let mut records = vec![
        RecordBuf::new("att-1", "support_attachment", t("2026-01-05T09:00:00Z")?)
            .with_subject("alice")
            .with_event("ticket_closed", t("2026-01-10T17:00:00+01:00")?),
        RecordBuf::new("att-2", "support_attachment", t("2026-01-06T11:00:00Z")?)
            .with_subject("bob")
            .with_event("ticket_closed", t("2026-01-12T08:00:00Z")?)
            .with_hold("case-42: Bob v. Acme"),
        RecordBuf::new("inv-2026-001", "invoice", t("2026-01-05T09:00:00Z")?).with_subject("alice"),
        RecordBuf::new("client-alice", "client_record", t("2021-03-01T10:00:00Z")?)
            .with_subject("alice"),
    ];
    for record in &records {
        if record.category == "support_attachment" {
            std::fs::write(
                attachments.join(format!("{}.bin", record.id)),
                b"screenshot",
            )?;
        }
    }
    let mut desk = HelpDesk {
        attachments: attachments.clone(),
        record_keys: BTreeMap::from([("client-alice".to_owned(), [7; 32])]),
    };
    let log = AuditLog::new();

    // 1. The nightly plan: an attachment expires, a hold blocks another.
    let now = t("2026-03-01T02:00:00Z")?;
    step(format!("the nightly plan at {now}"));
    let plan: Vec<_> = policy.plan(&records, now).collect();
    for item in &plan {
        show(
            &format!("{} {}", item.status, item.action),
            format!(
                "{} under `{}`: {}",
                item.record.id,
                item.rule.name(),
                item.reason()
            ),
        );
    }
    let execution = execute(plan, &mut desk, &log);
    step(format!(
        "executed: {} action(s), {} skipped (held), {} failure(s)",
        execution.executed.len(),
        execution.skipped,
        execution.failures.len()
    ));
    show("att-1.bin on disk", attachments.join("att-1.bin").exists());
    show(
        "att-2.bin on disk (held)",
        attachments.join("att-2.bin").exists(),
    );

    // What was deleted is gone from the help desk's records too.
    records.retain(|r| {
        r.category != "support_attachment" || attachments.join(format!("{}.bin", r.id)).exists()
    });

    // 2. Alice asks for erasure: the invoice is kept by law, and the answer says until when.
    let asked = t("2026-03-02T09:30:00+01:00")?;
    step(format!("alice asks for erasure at {asked} (GDPR art. 17)"));
    let answer: Vec<_> = policy.erase(&records, "alice", asked).collect();
    for item in &answer {
        let when = item.due.map_or("unknown".to_owned(), |due| due.to_string());
        show(
            &format!("{} {}", item.status, item.action),
            format!("{} by {when}: {}", item.record.id, item.reason()),
        );
    }
    let exempt = answer
        .iter()
        .find(|item| item.status == Status::Retained)
        .ok_or("no exemption")?;
    let exemption = exempt.retention.ok_or("no obligation named")?;
    step(format!(
        "the answer to alice: `{}` is kept under `{}` until {}",
        exempt.record.id,
        exemption.rule.name(),
        exemption
            .until
            .map_or("further notice".to_owned(), |u| u.to_string())
    ));
    let execution = execute(answer, &mut desk, &log);
    step(format!(
        "executed: {} action(s), {} kept; alice's client record key destroyed: {}",
        execution.executed.len(),
        execution.skipped,
        !desk.record_keys.contains_key("client-alice")
    ));

    // 3. Every action has a receipt in the tamper-evident audit log.
    step(format!(
        "the audit log holds {} retention receipts",
        log.len()?
    ));
    for record in log.read(0, log.len()?)? {
        let payload = record.payload().unwrap_or_default();
        show(
            &format!("#{}", record.index()),
            format!(
                "{} {} {} ({:?}) rule `{}` leaf {}",
                record.actor(),
                record.action(),
                record.resource(),
                record.outcome(),
                payload
                    .get("rule")
                    .and_then(|rule| rule.as_str())
                    .unwrap_or("?"),
                record
                    .leaf_hash()
                    .to_string()
                    .chars()
                    .take(12)
                    .collect::<String>()
            ),
        );
    }
    Ok(())
}
