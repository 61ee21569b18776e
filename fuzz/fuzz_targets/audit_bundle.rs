//! The evidence-bundle parser: strict, never panics, round-trips, and
//! verification of whatever parses fails cleanly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_audit::Bundle;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(bundle) = Bundle::from_json(text) {
        let json = bundle.to_json().expect("a parsed bundle serializes");
        assert_eq!(Bundle::from_json(&json).expect("round trip"), bundle);
        let _ = bundle.verify(None);
    }
});
