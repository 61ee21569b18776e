//! The callback query parser on arbitrary text: no panic, and what it accepts
//! stays within the size limits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_sso::Callback;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(callback) = Callback::from_query(query) {
        for value in [&callback.code, &callback.state, &callback.iss, &callback.error, &callback.error_description] {
            assert!(value.as_ref().is_none_or(|v| v.len() <= 4096));
        }
    }
});
