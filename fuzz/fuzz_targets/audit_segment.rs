//! The segment reader: any bytes either fail cleanly or parse into records
//! whose canonical re-encoding parses back to the same records.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_audit::Record;
use palisade_audit::format::{encode_segment, parse_segment};

fuzz_target!(|data: &[u8]| {
    if let Ok((first, records)) = parse_segment(data) {
        for r in &records {
            let bytes = r.encode();
            let again = Record::decode(&bytes).expect("a decoded record re-encodes canonically");
            assert_eq!(again.encode(), bytes);
            assert_eq!(again.leaf_hash(), r.leaf_hash());
        }
        let encoded = encode_segment(first, &records);
        let (first2, records2) = parse_segment(&encoded).expect("re-encoded segment parses");
        assert_eq!(first, first2);
        assert_eq!(records, records2);
    }
});
