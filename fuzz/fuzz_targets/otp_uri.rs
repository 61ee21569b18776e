//! The otpauth URI parser on arbitrary input: never panics, and whatever it
//! accepts renders to a URI that parses back to the same key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_otp::KeyUri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = KeyUri::parse(text) {
        let again = KeyUri::parse(&key.to_uri_exposed());
        assert_eq!(again.as_ref(), Ok(&key), "round trip of {text:?}");
    }
});
