//! The stored-hash parser of palisade-password (Argon2 PHC strings, bcrypt,
//! Django and passlib PBKDF2, scrypt): any input parses or errors, never
//! panics; a parsed hash's canonical form parses back to the same value.
//! Only parsing and the cost admission run here, never a hash computation.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_password::{PasswordHasher, StoredHash};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(parsed) = StoredHash::parse(text) {
        let canonical = parsed.to_string();
        let again = StoredHash::parse(&canonical).expect("canonical form parses");
        assert!(again == parsed, "round trip changed {canonical}");
        let _ = PasswordHasher::shared_default().needs_upgrade(text);
    }
});
