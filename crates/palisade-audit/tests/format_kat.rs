//! Known answers for the wire formats, produced by the version 1 code and
//! frozen: the canonical record encoding and leaf hashes, a whole segment
//! file, a signed checkpoint note, and an exported evidence bundle. Any
//! change to an encoding fails here.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use palisade_audit::format::{MerkleTree, encode_segment, parse_segment};
use palisade_audit::{
    Bundle, Checkpoint, CheckpointSigner, CheckpointVerifier, Event, Hash, Outcome, Sealed,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn events() -> Vec<Event> {
    vec![
        Event::new("staff:alice", "customer.read", "customers/4711")
            .with_tenant("acme")
            .with_subject("customer:4711")
            .with_time(UNIX_EPOCH + Duration::new(1_767_225_600, 123_456_789))
            .with_payload(serde_json::json!({ "fields": ["email", "iban"] })),
        Event::new("staff:bob", "customer.export", "customers")
            .with_outcome(Outcome::Denied)
            .with_time(UNIX_EPOCH + Duration::from_secs(1_767_225_601)),
        Event::new("svc:sweeper", "record.delete", "invoices/9")
            .with_tenant("globex")
            .with_subject("customer:1")
            .with_subject("customer:2")
            .with_outcome(Outcome::Failure)
            .with_time(UNIX_EPOCH + Duration::from_secs(1_767_225_602))
            .with_payload(serde_json::json!({ "reason": "ré-essai", "n": 3 })),
    ]
}

const RECORD_0: &str = "010000000000000000000000000000000000000000000000000000000000000000000000000000000018867251f555cd15000000000b73746166663a616c6963650000000d637573746f6d65722e726561640000000e637573746f6d6572732f34373131010000000461636d65000000010000000d637573746f6d65723a34373131014f97c1e30b5cfd1276285ba297a9dd82c2a17f3e8ea9608ba1f088aa7e984502";
const LEAVES: [&str; 3] = [
    "8cf0be6de79051b591280f0d786b89cbb024f674617120745fa60107bdbbe208",
    "c2c2378f94c92c82ac0e0b68046da5aa5fcd8cafc437f09cff03ac1c64e76ce6",
    "64297a1159ddaa13b65ad38eb2283ef4ea18df1a39d79b959c1b64d3055fe0f2",
];
const ROOT: &str = "8db9bfa8dcf64808f73d841e6b5085b6d2da8fe2838cf75234d26a35718358d0";

/// Records sealed with salts from a fixed ChaCha20 seed, chained from zero.
#[test]
fn records_and_segment_are_byte_identical_to_version_1() {
    let mut rng = ChaCha20Rng::from_seed([7; 32]);
    let mut previous = Hash::ZERO;
    let mut records = Vec::new();
    for (i, e) in events().into_iter().enumerate() {
        let r = Sealed::seal(e, &mut rng).unwrap().place(i as u64, previous);
        assert_eq!(r.leaf_hash().to_string(), LEAVES[i], "leaf {i}");
        previous = *r.leaf_hash();
        records.push(r);
    }
    assert_eq!(
        data_encoding::HEXLOWER.encode(&records[0].encode()),
        RECORD_0
    );
    let golden = std::fs::read(data("segment-v1.bin")).unwrap();
    assert_eq!(encode_segment(0, &records), golden);
    let (first, parsed) = parse_segment(&golden).unwrap();
    assert_eq!(first, 0);
    assert_eq!(parsed, records);
    let tree = MerkleTree::from_leaves(parsed.iter().map(|r| *r.leaf_hash()));
    assert_eq!(tree.root(3).unwrap().to_string(), ROOT);
}

const SIGNER: &str =
    "PRIVATE+KEY+example.com/audit+8419a37b+AUJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC";
const VERIFIER: &str = "example.com/audit+8419a37b+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS";
const NOTE: &str = "example.com/audit\n3\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\ntime 2026-01-01T00:00:00.000005000Z\n\n\u{2014} example.com/audit hBmjewH4/WzjXkQk7cjNAKbSWPuDuXR5MSyeze6R3wXrBg1TH3q5lRlDfDpRzZE8ogbNwG9edCUIGgIcJGqo9fuQ+g0=\n";

/// Ed25519 signatures are deterministic: a fixed key and checkpoint give
/// one note, byte for byte (nine fractional digits in the time).
#[test]
fn checkpoint_note_is_byte_identical_to_version_1() {
    let signer = CheckpointSigner::from_text(SIGNER).unwrap();
    assert_eq!(signer.verifier().to_text(), VERIFIER);
    let checkpoint = Checkpoint {
        origin: "example.com/audit".into(),
        size: 3,
        root: Hash::from_bytes([9; 32]),
        time: UNIX_EPOCH + Duration::new(1_767_225_600, 5_000),
    };
    assert_eq!(signer.sign(&checkpoint).unwrap(), NOTE);
    let opened = CheckpointVerifier::from_text(VERIFIER)
        .unwrap()
        .open(NOTE)
        .unwrap();
    assert_eq!(opened, checkpoint);
}

/// A bundle exported by the version 1 code (records 1..6 of a log whose
/// customer:1 payloads were erased) parses, verifies and serializes back to
/// the same text.
#[test]
fn a_version_1_bundle_verifies_and_round_trips() {
    let text = std::fs::read_to_string(data("bundle-v1.json")).unwrap();
    let bundle = Bundle::from_json(&text).unwrap();
    let key = CheckpointVerifier::from_text(&bundle.public_key).unwrap();
    let report = bundle.verify(Some(&key)).unwrap();
    assert_eq!(report.checkpoint.size, 7);
    assert_eq!(report.records.len(), 5);
    assert_eq!(report.records[0].index(), 1);
    assert_eq!(bundle.to_json().unwrap() + "\n", text);
    let mut tampered = bundle.clone();
    tampered.records[0].record[60] ^= 1;
    assert!(tampered.verify(Some(&key)).is_err());
}
