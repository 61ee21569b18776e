//! End-to-end behaviour of the public API: streams, JSON records, the
//! tracing writer, `Redacted`, custom detectors and scanner settings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

use palisade_pii::{
    Detector, Finding, HashKey, JsonMasker, Kind, Masker, Operator, PartialMask, Redacted, Scanner,
};
use serde_json::json;

#[test]
fn stream_passes_invalid_utf8_through_and_masks_around_it() {
    let mut input = b"ok \xff\xfe PESEL 44051401359 \xc3\x28\n".to_vec();
    input.extend_from_slice(b"second jan@example.com\nlast line without newline");
    let mut out = Vec::new();
    let summary = Masker::new(Operator::Label)
        .mask_stream(&input[..], &mut out)
        .unwrap();
    assert_eq!(
        out,
        b"ok \xff\xfe PESEL <PL_PESEL> \xc3\x28\nsecond <EMAIL>\nlast line without newline"
            .to_vec()
    );
    assert_eq!(
        (summary.lines, summary.masked, summary.bytes),
        (3, 2, input.len() as u64)
    );
}

#[test]
fn stream_masks_every_line_of_a_private_key_block() {
    let input = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1\nq2w3e4r5t6y7\n-----END RSA PRIVATE KEY-----\nafter 1\n";
    let mut out = Vec::new();
    Masker::new(Operator::Label)
        .mask_stream(input.as_bytes(), &mut out)
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out,
        "before\n<SECRET>\n<SECRET>\n<SECRET>\n<SECRET>\nafter 1\n"
    );
    // Whole-text masking covers the block as one secret.
    assert_eq!(palisade_pii::mask(input), "before\n<SECRET>\nafter 1\n");
}

#[test]
fn scan_reader_reports_stream_offsets() {
    let input = "line one\nPESEL 44051401359\n";
    let mut seen = Vec::new();
    Scanner::new()
        .scan_reader(input.as_bytes(), |f, text| {
            seen.push((f.kind, f.start, f.end, text.to_vec()))
        })
        .unwrap();
    assert_eq!(seen, vec![(Kind::PlPesel, 15, 26, b"44051401359".to_vec())]);
    assert_eq!(&input[15..26], "44051401359");
}

#[test]
fn json_paths_and_content() {
    let masker = Masker::new(Operator::Label);
    let mut record = json!({
        "id": 17,
        "customer": {"name": "Jan Kowalski", "phone": "+48 601 234 567", "pesel": 44051401359u64},
        "items": [{"sku": "A-1", "note": "call jan@example.com"}, {"sku": "B-2", "note": null}],
        "comment": "card 4111 1111 1111 1111"
    });
    let count = JsonMasker::new(&masker)
        .path("customer.name")
        .unwrap()
        .path("items[*].sku")
        .unwrap()
        .mask(&mut record)
        .unwrap();
    assert_eq!(
        record,
        json!({
            "id": 17,
            "customer": {"name": "<REDACTED>", "phone": "<PHONE>", "pesel": "<PL_PESEL>"},
            "items": [{"sku": "<REDACTED>", "note": "call <EMAIL>"}, {"sku": "<REDACTED>", "note": null}],
            "comment": "card <PAYMENT_CARD>"
        })
    );
    assert_eq!(count, 7);
    // Idempotent: a second pass changes nothing.
    let before = record.clone();
    assert_eq!(
        JsonMasker::new(&masker)
            .path("customer.name")
            .unwrap()
            .mask(&mut record)
            .unwrap(),
        0
    );
    assert_eq!(record, before);
    // Paths only, content detection off; a path whose value is a phone keeps its kind.
    let partial = Masker::new(Operator::Partial(PartialMask::default()));
    let mut r = json!({"phone": "+48 601 234 567", "free": "jan@example.com"});
    JsonMasker::new(&partial)
        .path("phone")
        .unwrap()
        .detect_content(false)
        .mask(&mut r)
        .unwrap();
    assert_eq!(
        r,
        json!({"phone": "+48 XXX XXX 567", "free": "jan@example.com"})
    );
    assert!(JsonMasker::new(&masker).path("a[").is_err());
}

#[test]
fn redacted_never_shows_the_value() {
    let r = Redacted::new(String::from("hunter2"));
    assert_eq!(
        format!("{r} {r:?} {r:#?}"),
        "<REDACTED> Redacted(<REDACTED>) Redacted(<REDACTED>)"
    );
    assert_eq!(serde_json::to_string(&r).unwrap(), "\"<REDACTED>\"");
    assert_eq!(r.expose(), "hunter2");
    let phone = Redacted::with_kind(Kind::Phone, "+48 601 234 567");
    assert_eq!(format!("{phone}"), "<PHONE>");
}

struct TicketId;

impl Detector for TicketId {
    fn detect(&self, text: &[u8], findings: &mut Vec<Finding>) {
        for (i, w) in text.windows(9).enumerate() {
            if w.starts_with(b"TCK-") && w[4..].iter().all(u8::is_ascii_digit) {
                findings.push(Finding {
                    kind: Kind::Custom("TICKET"),
                    start: i,
                    end: i + 9,
                    confidence: 0.9,
                });
            }
        }
    }
}

#[test]
fn custom_detectors_and_kind_selection() {
    let scanner = Scanner::builder()
        .kinds([Kind::Email])
        .detector(TicketId)
        .build()
        .unwrap();
    let masker = Masker::with_scanner(scanner, Operator::Label);
    assert_eq!(
        masker
            .mask("TCK-12345 from jan@example.com, PESEL 44051401359")
            .unwrap(),
        "<TICKET> from <EMAIL>, PESEL 44051401359"
    );
    assert!(Scanner::builder().phone_regions(["XX"]).build().is_err());
    assert!(Scanner::builder().min_confidence(1.5).build().is_err());
    assert!("NOT_A_KIND".parse::<Kind>().is_err());
    assert_eq!("pl_pesel".parse::<Kind>().unwrap(), Kind::PlPesel);
}

#[test]
fn min_confidence_and_context() {
    // A bare 10-digit NIP scores 0.5; with `NIP` before it, 0.8.
    let found = Scanner::new().scan("order 8567346215");
    assert!(
        found
            .iter()
            .any(|f| f.kind == Kind::PlNip && (f.confidence - 0.5).abs() < 1e-6)
    );
    let found = Scanner::new().scan("NIP: 8567346215");
    assert!(
        found
            .iter()
            .any(|f| f.kind == Kind::PlNip && (f.confidence - 0.8).abs() < 1e-6)
    );
    let strict = Scanner::builder().min_confidence(0.7).build().unwrap();
    assert!(
        strict
            .scan("order 8567346215")
            .iter()
            .all(|f| f.kind != Kind::PlNip)
    );
    assert!(
        strict
            .scan("NIP: 8567346215")
            .iter()
            .any(|f| f.kind == Kind::PlNip)
    );
    // A bare 10-digit number in the Unix-time range needs the word too.
    assert!(Scanner::new().scan("ts 1763884804").is_empty());
    assert!(
        Scanner::new()
            .scan("NIP 1763884804")
            .iter()
            .any(|f| f.kind == Kind::PlNip)
    );
    // A bare nine-digit SSN needs the word.
    assert!(
        Scanner::new()
            .scan("ref 536904399")
            .iter()
            .all(|f| f.kind != Kind::UsSsn)
    );
    assert!(
        Scanner::new()
            .scan("SSN 536904399")
            .iter()
            .any(|f| f.kind == Kind::UsSsn)
    );
}

#[test]
fn overlapping_findings_are_masked_as_one() {
    // `password=` takes the rest of the token, which holds an e-mail address:
    // one merged span, masked as a secret; nothing of either is left.
    let m = Masker::new(Operator::Partial(PartialMask::default()));
    assert_eq!(
        m.mask("password=jan@example.com").unwrap(),
        "password=XXXXXXXX"
    );
    // A number valid as both NIP and INN is one span.
    let found = Scanner::new().scan("7707083893");
    assert!(!found.is_empty());
    assert_eq!(palisade_pii::mask("x 7707083893 y"), "x <RU_INN> y");
}

#[test]
fn hash_tokens_join_without_revealing() {
    let key = HashKey::new(b"0123456789abcdef0123456789abcdef").unwrap();
    let m = Masker::new(Operator::Hash(key));
    let a = m.mask("client jan@example.com").unwrap().into_owned();
    let b = m.mask("client JAN@example.com").unwrap().into_owned();
    assert_eq!(a, b);
    assert!(a.starts_with("client <EMAIL:") && !a.contains("jan"));
}

#[test]
fn nothing_found_borrows() {
    let text = "2024-01-15 12:30:45 INFO request handled in 12 ms";
    assert!(matches!(
        palisade_pii::mask(text),
        std::borrow::Cow::Borrowed(_)
    ));
}
