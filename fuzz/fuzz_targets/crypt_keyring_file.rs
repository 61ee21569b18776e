//! The keyring file and wrapped keyring file parsers on arbitrary input:
//! never panic; whatever parses re-serializes and parses back to itself; a
//! wrapped keyring that opens under the fuzz KEK (the seeds do) gives a
//! keyring that round-trips through its own file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_crypt::{Keyring, LocalKeyProvider, WrappedKeyring};

fuzz_target!(|data: &[u8]| {
    if let Ok(keyring) = Keyring::from_json(data) {
        let again = Keyring::from_json(&keyring.to_json().unwrap()).unwrap();
        assert_eq!(again.key_ids().collect::<Vec<_>>(), keyring.key_ids().collect::<Vec<_>>());
    }
    if let Ok(wrapped) = WrappedKeyring::from_json(data) {
        assert_eq!(WrappedKeyring::from_json(&wrapped.to_json().unwrap()).unwrap(), wrapped);
        let kek = Keyring::from_key_bytes(&[(1, [7; 32])], [9; 32]).unwrap();
        if let Ok(keyring) = wrapped.open(&LocalKeyProvider::new(kek)) {
            assert!(Keyring::from_json(&keyring.to_json().unwrap()).is_ok());
        }
    }
});
