//! Properties: hash/verify round trip; the stored-hash parser answers every
//! input with a value or an error, never a panic, and its canonical output
//! parses back to the same value.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a test failure"
)]

use palisade_password::{ParamsBuilder, Password, PasswordHasher, StoredHash};
use proptest::prelude::*;

fn hasher() -> PasswordHasher {
    PasswordHasher::builder()
        .params(ParamsBuilder::new().m_cost(16).t_cost(1).build().unwrap())
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn hash_then_verify_round_trips(password in "\\PC{0,80}", other in "\\PC{0,80}") {
        let h = hasher();
        let stored = h.hash(&Password::new(&password).unwrap()).unwrap();
        let verdict = h.verify(&Password::new(&password).unwrap(), &stored).unwrap();
        prop_assert!(verdict.is_valid() && !verdict.needs_upgrade());
        let same = Password::new(&password).unwrap() == Password::new(&other).unwrap();
        let verdict = h.verify(&Password::new(&other).unwrap(), &stored).unwrap();
        prop_assert_eq!(verdict.is_valid(), same);
        let parsed = StoredHash::parse(&stored).unwrap();
        prop_assert_eq!(parsed.to_string(), stored);
    }
}

const PREFIXES: [&str; 8] = [
    "$argon2id$v=19$m=",
    "$argon2i$",
    "$argon2d$v=16$m=32,t=2,p=3,keyid=",
    "$2b$04$",
    "$2y$",
    "pbkdf2_sha256$",
    "$pbkdf2-sha256$",
    "$scrypt$ln=",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn any_bytes_parse_to_a_value_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(parsed) = StoredHash::parse(&text) {
            prop_assert_eq!(StoredHash::parse(&parsed.to_string()).unwrap(), parsed);
        }
    }

    #[test]
    fn format_shaped_inputs_parse_to_a_value_or_an_error(
        prefix in proptest::sample::select(PREFIXES.to_vec()),
        tail in "[$=,.+/0-9A-Za-z]{0,120}",
    ) {
        let text = format!("{prefix}{tail}");
        if let Ok(parsed) = StoredHash::parse(&text) {
            prop_assert_eq!(StoredHash::parse(&parsed.to_string()).unwrap(), parsed);
        }
        // Verification of anything parseable either answers or errors.
        let _ = PasswordHasher::builder()
            .max_memory_kib(1024)
            .params(ParamsBuilder::new().m_cost(16).t_cost(1).build().unwrap())
            .build()
            .unwrap()
            .needs_upgrade(&text);
    }

    #[test]
    fn mutated_valid_hashes_never_panic(index in 0usize..100, byte in any::<u8>()) {
        let valid = "$argon2d$v=16$m=32,t=2,p=3,keyid=8PDw8A,data=Dw8PDw8P$AAAAAAAAAAA$KnH4gniiaFnDvlA1xev3yovC4cnrrI6tnHOYtmja90o";
        let mut bytes = valid.as_bytes().to_vec();
        let at = index % bytes.len();
        if let Some(slot) = bytes.get_mut(at) { *slot = byte; }
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(parsed) = StoredHash::parse(&text) {
            prop_assert_eq!(StoredHash::parse(&parsed.to_string()).unwrap(), parsed);
        }
    }
}
