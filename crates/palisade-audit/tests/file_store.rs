//! The file store end to end: durability, recovery, tamper evidence, erasure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use palisade_audit::format::{PUBLIC_KEY_FILE, masked_crc, read_frame};
use palisade_audit::{
    AuditLog, CheckpointVerifier, Durability, Error, Event, FileOptions, FileStore, Outcome, Query,
    Store, verify_dir, verify_inclusion,
};

fn event(i: u64) -> Event {
    Event::new(
        format!("staff:{}", i % 3),
        "customer.read",
        format!("customers/{i}"),
    )
    .with_tenant("acme")
    .with_subject(format!("customer:{}", i % 4))
    .with_outcome(if i.is_multiple_of(5) {
        Outcome::Denied
    } else {
        Outcome::Success
    })
    .with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + i))
    .with_payload(serde_json::json!({ "fields": ["email"], "n": i }))
}

fn key(dir: &Path) -> CheckpointVerifier {
    CheckpointVerifier::from_text(&fs::read_to_string(dir.join(PUBLIC_KEY_FILE)).unwrap()).unwrap()
}

fn make_log(dir: &Path, n: u64) {
    let log = AuditLog::open(dir, FileOptions::default()).unwrap();
    for i in 0..n {
        log.append(event(i)).unwrap();
    }
    log.checkpoint().unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to.join("segments")).unwrap();
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        fs::copy(&entry, to.join(rel)).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn segment(dir: &Path) -> PathBuf {
    dir.join("segments").join(format!("{:020}.seg", 0))
}

/// The frames of a single-segment log: (offset, length).
fn frames(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 20;
    while at < bytes.len() {
        let f = read_frame(&bytes[at..]).unwrap();
        out.push((at, f.len));
        at += f.len;
    }
    out
}

#[test]
fn append_reopen_query_prove() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = AuditLog::open(dir.path(), FileOptions::default()).unwrap();
        let receipts = log.append_batch((0..50).map(event).collect()).unwrap();
        assert_eq!(receipts.len(), 50);
        assert_eq!(receipts[49].index, 49);
        log.checkpoint().unwrap();
    }
    let (store, recovery) = FileStore::recover(dir.path(), FileOptions::default()).unwrap();
    assert_eq!(recovery.records, 50);
    assert!(recovery.is_clean());
    let log = AuditLog::from_file_store(store, None).unwrap();
    assert_eq!(log.len().unwrap(), 50);
    let r = log.append(event(50)).unwrap();
    assert_eq!(r.index, 50);
    let got = log.get(7).unwrap();
    assert_eq!(got.to_event(), event(7));
    let hits = log.query(&Query::subject("customer:1")).unwrap();
    assert_eq!(
        hits.iter().map(|r| r.index()).collect::<Vec<_>>(),
        (0..51).filter(|i| i % 4 == 1).collect::<Vec<_>>()
    );
    let by_actor = log.query(&Query::actor("staff:2")).unwrap();
    assert!(by_actor.iter().all(|r| r.actor() == "staff:2"));
    assert_eq!(by_actor.len(), 17);
    let range = log
        .query(&Query::between(
            UNIX_EPOCH + Duration::from_secs(1_700_000_010),
            UNIX_EPOCH + Duration::from_secs(1_700_000_020),
        ))
        .unwrap();
    assert_eq!(range.len(), 10);
    let (size, root) = log.head().unwrap();
    let proof = log.inclusion_proof(7, size).unwrap();
    verify_inclusion(7, size, got.leaf_hash(), &proof, &root).unwrap();
    let report = verify_dir(dir.path(), Some(&key(dir.path()))).unwrap();
    assert_eq!(report.records, 51);
    assert_eq!(report.root, root);
    assert_eq!(report.checkpoints_verified, 1);
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = FileStore::open(dir.path(), FileOptions::default()).unwrap();
    assert!(matches!(
        FileStore::open(dir.path(), FileOptions::default()),
        Err(Error::LogLocked)
    ));
    assert!(matches!(
        FileStore::recover(dir.path(), FileOptions::default()),
        Err(Error::LogLocked)
    ));
}

#[test]
fn segments_rotate_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileOptions {
        segment_size: 1024,
        ..FileOptions::default()
    };
    {
        let log = AuditLog::open(dir.path(), options).unwrap();
        for i in 0..40 {
            log.append(event(i)).unwrap();
        }
        log.checkpoint().unwrap();
    }
    assert!(fs::read_dir(dir.path().join("segments")).unwrap().count() > 3);
    let log = AuditLog::open(dir.path(), options).unwrap();
    assert_eq!(log.read(0, 40).unwrap().len(), 40);
    assert_eq!(
        verify_dir(dir.path(), Some(&key(dir.path())))
            .unwrap()
            .records,
        40
    );
}

#[test]
fn concurrent_group_commit_appends_form_one_valid_log() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileOptions {
        durability: Durability::GroupCommit {
            max_batch: 64,
            max_delay: Duration::from_millis(1),
        },
        ..FileOptions::default()
    };
    let log = AuditLog::open(dir.path(), options).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let log = &log;
            s.spawn(move || {
                for i in 0..50 {
                    log.append(event(t * 1000 + i)).unwrap();
                }
            });
        }
    });
    log.checkpoint().unwrap();
    drop(log);
    let report = verify_dir(dir.path(), Some(&key(dir.path()))).unwrap();
    assert_eq!(report.records, 200);
}

#[test]
fn a_torn_tail_is_dropped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 5);
    let seg = segment(dir.path());
    let bytes = fs::read(&seg).unwrap();
    let f = frames(&bytes);
    // Cut the last frame in half: as if the process died mid-write.
    let (last_at, last_len) = f[4];
    fs::write(&seg, &bytes[..last_at + last_len / 2]).unwrap();
    // The strict verifier reports the torn record...
    let err = verify_dir(dir.path(), None).unwrap_err();
    assert!(
        matches!(err, Error::LogInvalid(ref f) if f.index == Some(4)),
        "{err}"
    );
    // ...opening refuses to repair it silently, and changes nothing...
    let err = FileStore::open(dir.path(), FileOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::RecoveryNeeded(ref f) if f.index == Some(4)),
        "{err}"
    );
    assert!(matches!(
        AuditLog::open(dir.path(), FileOptions::default()),
        Err(Error::RecoveryNeeded(_))
    ));
    assert_eq!(
        fs::metadata(&seg).unwrap().len(),
        (last_at + last_len / 2) as u64
    );
    // ...recovery drops it and says so; the checkpoint (taken at size 5)
    // now reveals the loss.
    let (store, recovery) = FileStore::recover(dir.path(), FileOptions::default()).unwrap();
    assert_eq!(recovery.dropped_tail_bytes, (last_len / 2) as u64);
    assert_eq!(recovery.records, 4);
    assert!(!recovery.is_clean());
    assert_eq!(store.len().unwrap(), 4);
    drop(store);
    let err = verify_dir(dir.path(), Some(&key(dir.path()))).unwrap_err();
    assert!(err.to_string().contains("cut off the end"), "{err}");
}

#[test]
fn damage_before_the_tail_is_not_silently_dropped() {
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 5);
    let seg = segment(dir.path());
    let mut bytes = fs::read(&seg).unwrap();
    let (at, _) = frames(&bytes)[2];
    bytes[at + 20] ^= 0x40;
    fs::write(&seg, &bytes).unwrap();
    for err in [
        FileStore::open(dir.path(), FileOptions::default()).unwrap_err(),
        FileStore::recover(dir.path(), FileOptions::default()).unwrap_err(),
    ] {
        assert!(
            matches!(err, Error::LogInvalid(ref f) if f.index == Some(2)),
            "{err}"
        );
    }
}

#[test]
fn flipping_any_single_byte_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 4);
    let trusted = key(dir.path());
    assert_eq!(verify_dir(dir.path(), Some(&trusted)).unwrap().records, 4);
    let work = tempfile::tempdir().unwrap();
    let mut flips = 0;
    for file in walk(dir.path()) {
        let name = file.file_name().unwrap().to_str().unwrap().to_owned();
        // The lock file is empty; the key files are not the log (the
        // verifier is given the trusted public key).
        if name == "LOCK" || name == "checkpoint.key" || name == PUBLIC_KEY_FILE {
            continue;
        }
        let original = fs::read(&file).unwrap();
        let rel = file.strip_prefix(dir.path()).unwrap().to_path_buf();
        for pos in 0..original.len() {
            for mask in [0x01u8, 0x80] {
                let copy = work.path().join(format!("c{flips}"));
                copy_dir(dir.path(), &copy);
                let mut bytes = original.clone();
                bytes[pos] ^= mask;
                fs::write(copy.join(&rel), &bytes).unwrap();
                assert!(
                    verify_dir(&copy, Some(&trusted)).is_err(),
                    "flip {mask:#x} at {pos} of {} went unnoticed",
                    rel.display()
                );
                fs::remove_dir_all(&copy).unwrap();
                flips += 1;
            }
        }
    }
    assert!(flips > 1000, "{flips}");
}

/// Rewrites the segment with the frames in `order` (re-framed with valid
/// checksums, as a careful attacker would).
fn rewrite(dir: &Path, order: &[usize]) {
    let seg = segment(dir);
    let bytes = fs::read(&seg).unwrap();
    let f = frames(&bytes);
    let mut out = bytes[..20].to_vec();
    for &i in order {
        let (at, len) = f[i];
        out.extend_from_slice(&bytes[at..at + len]);
    }
    fs::write(&seg, out).unwrap();
}

#[test]
fn deleting_reordering_duplicating_records_is_detected() {
    for (order, bad) in [
        (vec![0, 1, 3, 4], 2u64),
        (vec![0, 2, 1, 3, 4], 1),
        (vec![0, 1, 1, 2, 3, 4], 2),
        (vec![1, 2, 3, 4], 0),
    ] {
        let dir = tempfile::tempdir().unwrap();
        make_log(dir.path(), 5);
        rewrite(dir.path(), &order);
        let err = verify_dir(dir.path(), None).unwrap_err();
        assert!(
            matches!(err, Error::LogInvalid(ref f) if f.index == Some(bad)),
            "{order:?}: {err}"
        );
    }
}

#[test]
fn truncating_after_a_checkpoint_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 5);
    rewrite(dir.path(), &[0, 1, 2, 3]);
    let err = verify_dir(dir.path(), Some(&key(dir.path()))).unwrap_err();
    assert!(
        matches!(err, Error::LogInvalid(ref f) if f.index == Some(4)),
        "{err}"
    );
    assert!(err.to_string().contains("cut off the end"), "{err}");
}

#[test]
fn a_consistently_rewritten_history_fails_the_checkpoint() {
    // An attacker with write access rebuilds the whole log from record 2 on,
    // with valid frames, chain and indexes, but cannot sign.
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 5);
    let forged = tempfile::tempdir().unwrap();
    {
        let log = AuditLog::open(forged.path(), FileOptions::default()).unwrap();
        for i in 0..5 {
            let e = if i == 2 { event(99) } else { event(i) };
            log.append(e).unwrap();
        }
    }
    fs::copy(segment(forged.path()), segment(dir.path())).unwrap();
    // The chain alone is consistent...
    let err = verify_dir(dir.path(), Some(&key(dir.path()))).unwrap_err();
    // ...but the signed checkpoint is not.
    assert!(
        err.to_string().contains("do not match checkpoint 0"),
        "{err}"
    );
}

#[test]
fn erasure_keeps_proofs_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), FileOptions::default()).unwrap();
    for i in 0..8 {
        log.append(event(i)).unwrap();
    }
    let note_before = log.checkpoint().unwrap();
    let (size, root) = log.head().unwrap();
    let erasure = log.erase_subject("customer:1", "dpo:bob").unwrap();
    assert_eq!(erasure.erased, vec![1, 5]);
    assert_eq!(erasure.receipt.index, 8);
    assert_eq!(log.get(1).unwrap().payload(), None);
    assert!(log.get(2).unwrap().payload().is_some());
    // Every proof stays valid against the old root.
    assert_eq!(log.root(size).unwrap(), root);
    let leaf = *log.get(5).unwrap().leaf_hash();
    verify_inclusion(
        5,
        size,
        &leaf,
        &log.inclusion_proof(5, size).unwrap(),
        &root,
    )
    .unwrap();
    let erase_event = log.get(8).unwrap();
    assert_eq!(erase_event.action(), "audit.erase");
    assert_eq!(erase_event.subjects(), ["customer:1"]);
    drop(log);
    let report = verify_dir(dir.path(), Some(&key(dir.path()))).unwrap();
    assert_eq!(report.payloads_erased, 2);
    assert!(!note_before.is_empty());
    // No personal payload text remains in the files.
    let bytes = fs::read(segment(dir.path())).unwrap();
    let needle = br#""n":5"#;
    assert!(!bytes.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn an_erasure_without_its_event_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 3);
    // Blank record 1's payload by hand, with a valid checksum.
    let seg = segment(dir.path());
    let mut bytes = fs::read(&seg).unwrap();
    let (at, len) = frames(&bytes)[1];
    let rl = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let side_at = at + 16 + rl;
    for b in &mut bytes[side_at..at + len] {
        *b = 0;
    }
    bytes[side_at] = 2;
    let crc = masked_crc(&bytes[side_at..at + len]);
    bytes[at + 12..at + 16].copy_from_slice(&crc.to_le_bytes());
    fs::write(&seg, &bytes).unwrap();
    let err = verify_dir(dir.path(), None).unwrap_err();
    assert!(
        matches!(err, Error::LogInvalid(ref f) if f.index == Some(1)),
        "{err}"
    );
}

#[test]
fn exported_bundles_verify_elsewhere_and_catch_tampering() {
    use palisade_audit::Bundle;
    use palisade_audit::format::BundlePayload;
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), FileOptions::default()).unwrap();
    for i in 0..10 {
        log.append(event(i)).unwrap();
    }
    log.checkpoint().unwrap();
    for i in 10..30 {
        log.append(event(i)).unwrap();
    }
    log.erase_subject("customer:2", "dpo:bob").unwrap();
    log.checkpoint().unwrap();
    let bundle = log.export(4, 9).unwrap();
    let text = bundle.to_json().unwrap();
    let parsed = Bundle::from_json(&text).unwrap();
    assert_eq!(parsed, bundle);
    let trusted = key(dir.path());
    let report = parsed.verify(Some(&trusted)).unwrap();
    assert_eq!(report.records.len(), 5);
    assert_eq!(report.records[0].to_event().actor(), "staff:1");
    assert_eq!(report.earlier.len(), 1);
    assert_eq!(report.earlier[0].size, 10);
    // Record 6 concerns customer:2, erased: the bundle says so and verifies.
    assert_eq!(parsed.records[2].payload, BundlePayload::Erased);
    // Tampering with any part fails.
    let mut t = parsed.clone();
    t.records[1].record[20] ^= 1;
    assert!(t.verify(Some(&trusted)).is_err());
    let mut t = parsed.clone();
    t.records.swap(0, 1);
    assert!(t.verify(Some(&trusted)).is_err());
    let mut t = parsed.clone();
    t.records.remove(2);
    assert!(t.verify(Some(&trusted)).is_err());
    let mut t = parsed.clone();
    if let BundlePayload::Present { json, .. } = &mut t.records[0].payload {
        json.push(' ');
    }
    assert!(t.verify(Some(&trusted)).is_err());
    let mut t = parsed.clone();
    t.start = 5;
    assert!(t.verify(Some(&trusted)).is_err());
    let other = tempfile::tempdir().unwrap();
    make_log(other.path(), 1);
    assert!(parsed.verify(Some(&key(other.path()))).is_err());
    // Unknown fields and bad hex are rejected by the parser.
    assert!(Bundle::from_json(&text.replacen("\"start\"", "\"extra\": 1, \"start\"", 1)).is_err());
    assert!(
        Bundle::from_json(&text.replacen(
            "\"inclusion\": [\n        \"",
            "\"inclusion\": [\n        \"X",
            1
        ))
        .is_err()
    );
}

#[test]
fn a_large_log_is_checked_in_parallel_and_still_names_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileOptions {
        durability: Durability::None,
        ..FileOptions::default()
    };
    {
        let log = AuditLog::open(dir.path(), options).unwrap();
        log.append_batch((0..3000).map(event).collect()).unwrap();
        log.checkpoint().unwrap();
    }
    let trusted = key(dir.path());
    assert_eq!(
        verify_dir(dir.path(), Some(&trusted)).unwrap().records,
        3000
    );
    let seg = segment(dir.path());
    let bytes = fs::read(&seg).unwrap();
    let (at, _) = frames(&bytes)[2000];
    for (offset, expect) in [(20, 2000u64), (16 + 1 + 3, 2000)] {
        let mut copy = bytes.clone();
        copy[at + offset] ^= 0x10;
        fs::write(&seg, &copy).unwrap();
        let err = verify_dir(dir.path(), Some(&trusted)).unwrap_err();
        assert!(
            matches!(err, Error::LogInvalid(ref f) if f.index == Some(expect)),
            "{err}"
        );
    }
}

/// The log folder holds personal data (actors, subjects, payloads): every
/// folder it creates is 0700 and every file 0600, whatever the umask.
#[test]
fn log_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    make_log(&dir, 3);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("segments")), 0o700);
    let files = walk(&dir);
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}
