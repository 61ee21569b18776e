//! Chapter 6: the audit log. Staff accesses are logged; a customer sees who
//! touched their data; an export verifies elsewhere; tampering is caught;
//! erasure keeps the evidence intact.

use std::error::Error;
use std::fs;
use std::path::Path;

use palisade_audit::format::PUBLIC_KEY_FILE;
use palisade_audit::{
    AuditLog, Bundle, CheckpointVerifier, Event, FileOptions, Hash, Outcome, Query, verify_dir,
};
use palisade_examples::{chapter, show, step};

pub(crate) fn run(workdir: &Path) -> Result<(), Box<dyn Error>> {
    chapter(
        6,
        "Audit log",
        "every access to customer data is logged, and the log holds up as evidence",
    );
    let dir = workdir.join("audit");
    let log = AuditLog::open(&dir, FileOptions::default())?;
    step("staff access customer records; each access is durable before the app goes on");
    let accesses = [
        (
            "staff:alice",
            "customer.read",
            Outcome::Success,
            "support ticket 812",
        ),
        (
            "staff:bob",
            "customer.export",
            Outcome::Success,
            "quarterly report",
        ),
        (
            "staff:mallory",
            "customer.export",
            Outcome::Denied,
            "no ticket",
        ),
        (
            "staff:mallory",
            "customer.read",
            Outcome::Success,
            "none given",
        ),
    ];
    for (actor, action, outcome, reason) in accesses {
        let receipt = log.append(
            Event::new(actor, action, "tenants/acme/customers/4711")
                .with_tenant("acme")
                .with_subject("customer:4711")
                .with_outcome(outcome)
                .with_payload(serde_json::json!({ "reason": reason, "fields": ["email", "iban"] })),
        )?;
        show(
            &format!("record {}", receipt.index),
            format_args!(
                "{actor} {action} ({}), leaf {}…",
                outcome.as_str(),
                short(&receipt.leaf_hash)
            ),
        );
    }
    log.append(
        Event::new("staff:alice", "customer.read", "tenants/acme/customers/99")
            .with_subject("customer:99"),
    )?;
    let note = log.checkpoint()?;
    step("a signed checkpoint commits to the whole log (ed25519, signed-note format)");
    for line in note.lines() {
        show("checkpoint", line);
    }

    step("customer 4711 asks who accessed their data");
    for r in log.query(&Query::subject("customer:4711"))? {
        show(
            &format!("record {}", r.index()),
            format_args!("{} {} {}", r.actor(), r.action(), r.outcome().as_str()),
        );
    }

    step(
        "export their records as an evidence bundle and verify it elsewhere with only the public key",
    );
    let bundle = log.export(0, 4)?.to_json()?;
    let trusted = CheckpointVerifier::from_text(&fs::read_to_string(dir.join(PUBLIC_KEY_FILE))?)?;
    let report = Bundle::from_json(&bundle)?.verify(Some(&trusted))?;
    show(
        "bundle",
        format_args!(
            "{} bytes, {} records proven against the checkpoint at size {}",
            bundle.len(),
            report.records.len(),
            report.checkpoint.size
        ),
    );
    drop(log);

    step("an insider edits a copy of the log to hide mallory's read (record 3)");
    let copy = workdir.join("audit-tampered");
    fs::create_dir_all(copy.join("segments"))?;
    for name in ["origin", "checkpoints.log", PUBLIC_KEY_FILE] {
        fs::copy(dir.join(name), copy.join(name))?;
    }
    let seg = "segments/00000000000000000000.seg";
    let mut bytes = fs::read(dir.join(seg))?;
    let at = bytes
        .windows(13)
        .rposition(|w| w == b"staff:mallory")
        .ok_or("record not found")?;
    bytes
        .get_mut(at + 6..at + 13)
        .ok_or("record not found")?
        .copy_from_slice(b"alice  ");
    fs::write(copy.join(seg), &bytes)?;
    match verify_dir(&copy, Some(&trusted)) {
        Ok(_) => return Err("tampering went unnoticed".into()),
        Err(e) => show("verify", format_args!("FAILED as it must: {e}")),
    }
    step("the original still verifies");
    let ok = verify_dir(&dir, Some(&trusted))?;
    show(
        "verify",
        format_args!("ok: {} records, root {}…", ok.records, short(&ok.root)),
    );

    step("GDPR erasure: customer 4711's details go, the evidence stays valid");
    let log = AuditLog::open(&dir, FileOptions::default())?;
    let erasure = log.erase_subject("customer:4711", "dpo:carol")?;
    show(
        "erased payloads",
        format_args!(
            "{:?}, erasure recorded as record {}",
            erasure.erased, erasure.receipt.index
        ),
    );
    drop(log);
    let ok = verify_dir(&dir, Some(&trusted))?;
    show(
        "verify",
        format_args!(
            "ok: {} records, {} payloads erased",
            ok.records, ok.payloads_erased
        ),
    );
    Ok(())
}

/// The first 16 hex digits of a hash.
fn short(hash: &Hash) -> String {
    hash.to_string().chars().take(16).collect()
}
