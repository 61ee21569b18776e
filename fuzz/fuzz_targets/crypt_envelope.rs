//! The field envelope and token parsers on arbitrary input: never panic,
//! whatever parses re-encodes to itself; whatever authenticates under the
//! fuzz keyring (the seeds do) stops authenticating when any bit changes; the
//! input as a plaintext round-trips through encryption.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_crypt::{Ciphertext, Context, Keyring};

fuzz_target!(|data: &[u8]| {
    let keyring = Keyring::from_key_bytes(&[(1, [7; 32])], [9; 32]).unwrap();
    let context = Context::new().with("table", "t");
    let parsed = [
        Ciphertext::from_bytes(data).ok(),
        std::str::from_utf8(data).ok().and_then(|t| t.parse::<Ciphertext>().ok()),
    ];
    for ciphertext in parsed.into_iter().flatten() {
        assert_eq!(Ciphertext::from_bytes(ciphertext.as_bytes()).unwrap(), ciphertext);
        assert_eq!(ciphertext.to_token().parse::<Ciphertext>().unwrap(), ciphertext);
        if keyring.decrypt(&ciphertext, &context).is_ok() {
            let mut bytes = ciphertext.as_bytes().to_vec();
            let i = bytes.len() / 2;
            bytes[i] ^= 1;
            let tampered = Ciphertext::from_bytes(&bytes).unwrap();
            assert!(keyring.decrypt(&tampered, &context).is_err());
        }
    }
    let sealed = keyring.encrypt(data, &context).unwrap();
    assert_eq!(&keyring.decrypt(&sealed, &context).unwrap()[..], data);
});
