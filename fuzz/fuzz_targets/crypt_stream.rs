//! The stream opener on arbitrary input: never panics and never releases
//! anything for a forged stream; two threads write the same bytes and give
//! the same outcome as one; the input as a plaintext round-trips through
//! seal and open.

#![no_main]

use std::num::NonZeroUsize;

use libfuzzer_sys::fuzz_target;
use palisade_crypt::{Context, Keyring};

fuzz_target!(|data: &[u8]| {
    let keyring = Keyring::from_key_bytes(&[(1, [7; 32])], [9; 32]).unwrap();
    let context = Context::new();
    let mut out = Vec::new();
    let outcome = keyring.open_stream(&context, data, &mut out);
    let mut parallel = Vec::new();
    let two = NonZeroUsize::new(2).unwrap();
    let parallel_outcome = keyring.open_stream_parallel(&context, data, &mut parallel, two);
    assert_eq!(format!("{outcome:?}"), format!("{parallel_outcome:?}"));
    assert_eq!(parallel, out);
    if outcome.is_ok() {
        // Only a stream sealed under the fuzz key can open: it must reseal
        // and reopen to the same plaintext.
        let mut again = Vec::new();
        keyring.seal_stream(&context, &out[..], &mut again).unwrap();
        let mut reopened = Vec::new();
        keyring.open_stream(&context, &again[..], &mut reopened).unwrap();
        assert_eq!(reopened, out);
    }
    let mut sealed = Vec::new();
    keyring
        .seal_stream_parallel(&context, data, &mut sealed, two)
        .unwrap();
    let mut opened = Vec::new();
    keyring.open_stream(&context, &sealed[..], &mut opened).unwrap();
    assert_eq!(opened, data);
});
