//! clamd's reply parser on arbitrary bytes: never panics, and a verdict is
//! only ever read from exactly the reply that renders it (so nothing but
//! `stream: OK\0` is clean).

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_scan::{Verdict, parse_reply};

fuzz_target!(|data: &[u8]| {
    match parse_reply(data) {
        Ok(Verdict::Clean) => assert_eq!(data, b"stream: OK\0"),
        Ok(Verdict::Infected { signature }) => {
            assert_eq!(data, format!("stream: {signature} FOUND\0").as_bytes());
        }
        Err(_) => {}
    }
});
