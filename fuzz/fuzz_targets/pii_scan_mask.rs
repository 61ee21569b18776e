//! Scanning and masking arbitrary bytes: never panics, findings stay inside
//! the input, the stream path (line by line, invalid UTF-8 included) writes
//! exactly what masking the whole input writes, and masking text that holds
//! no labels of its own is idempotent and leaves nothing to find.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_pii::{Masker, Operator};
use std::sync::LazyLock;

static LABEL: LazyLock<Masker> = LazyLock::new(|| Masker::new(Operator::Label));

fuzz_target!(|data: &[u8]| {
    let findings = LABEL.scanner().scan_bytes(data);
    for f in &findings {
        assert!(f.start < f.end && f.end <= data.len());
        assert!((0.0..=1.0).contains(&f.confidence));
    }
    let whole = LABEL.mask_bytes(data).expect("labelling cannot fail");
    if memchr::memmem::find(data, b"-----BEGIN").is_none() {
        let mut streamed = Vec::new();
        LABEL.mask_stream(data, &mut streamed).expect("writing to a Vec cannot fail");
        assert_eq!(streamed, whole.as_ref());
    }
    if let Ok(text) = std::str::from_utf8(data)
        && !text.contains(['<', '>'])
    {
        let once = LABEL.mask(text).expect("labelling cannot fail");
        let twice = LABEL.mask(&once).expect("labelling cannot fail");
        assert_eq!(once, twice);
        assert!(LABEL.scanner().scan(&once).is_empty(), "{once:?}");
    }
});
