//! The checkpoint-note, public-key and hash parsers: any text either fails
//! cleanly or parses into a value whose canonical form is the input, and a
//! signature check on it (with a fixed key) never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_audit::format::parse_checkpoint_unverified;
use palisade_audit::{CheckpointVerifier, Hash};

/// The version 1 known-answer key (crates/palisade-audit/tests/format_kat.rs).
const VERIFIER: &str = "example.com/audit+8419a37b+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(checkpoint) = parse_checkpoint_unverified(text) {
        let body = checkpoint.body().expect("a parsed checkpoint has a body");
        assert!(text.starts_with(&body), "the body is the note's own text");
        let root: Hash = checkpoint.root.to_string().parse().expect("hex round trip");
        assert_eq!(root, checkpoint.root);
    }
    let known = CheckpointVerifier::from_text(VERIFIER).expect("the known key parses");
    if let Ok(checkpoint) = known.open(text) {
        assert_eq!(parse_checkpoint_unverified(text).ok(), Some(checkpoint));
    }
    if let Ok(key) = CheckpointVerifier::from_text(text) {
        assert_eq!(key.to_text(), text.trim_end());
    }
    if let Ok(hash) = text.parse::<Hash>() {
        assert_eq!(hash.to_string(), text);
    }
});
