//! Reversible masking with palisade-crypt (feature `crypt`): a masked text
//! reveals back to the original for the key holder only, for the context and
//! kind it was made with.

#![cfg(feature = "crypt")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::sync::Arc;

use palisade_crypt::{Context, Keyring};
use palisade_pii::{Encryptor, Error, Masker, Operator, Scanner};
use proptest::prelude::*;

fn encryptor(keyring: &Arc<Keyring>, row: &str) -> Encryptor {
    Encryptor::new(Arc::clone(keyring), Context::field("logs", "message", row))
}

#[test]
fn mask_then_reveal_round_trips() {
    let keyring = Arc::new(Keyring::generate().unwrap());
    let enc = encryptor(&keyring, "1");
    let masker = Masker::new(Operator::Encrypt(enc.clone()));
    let line = "PESEL 44051401359, tel +48 601 234 567, password=hunter2, CPF 111.444.777-35";
    let masked = masker.mask(line).unwrap().into_owned();
    for value in ["44051401359", "601 234 567", "hunter2", "111.444.777-35"] {
        assert!(!masked.contains(value), "{value} in {masked}");
    }
    assert_eq!(masked.matches(":pcrypt:").count(), 4);
    // Tokens are randomised: the same line masks differently each time.
    assert_ne!(masker.mask(line).unwrap(), masked);
    assert_eq!(enc.reveal(&masked).unwrap(), line);
    // Nothing in the masked line is found again.
    assert!(Scanner::new().scan(&masked).is_empty(), "{masked}");
}

#[test]
fn reveal_is_bound_to_key_context_and_kind() {
    let keyring = Arc::new(Keyring::generate().unwrap());
    let masker = Masker::new(Operator::Encrypt(encryptor(&keyring, "1")));
    let masked = masker.mask("mail jan@example.com").unwrap().into_owned();
    // Another row's context, another keyring, a relabelled kind: all refused alike.
    assert!(matches!(
        encryptor(&keyring, "2").reveal(&masked),
        Err(Error::DecryptionFailed)
    ));
    let other = Arc::new(Keyring::generate().unwrap());
    assert!(matches!(
        encryptor(&other, "1").reveal(&masked),
        Err(Error::DecryptionFailed)
    ));
    let relabelled = masked.replace("<EMAIL:", "<PHONE:");
    assert!(matches!(
        encryptor(&keyring, "1").reveal(&relabelled),
        Err(Error::DecryptionFailed)
    ));
    let (kind, plain) = encryptor(&keyring, "1")
        .decrypt(masked.trim_start_matches("mail "))
        .unwrap();
    assert_eq!(
        (kind.as_str(), &plain[..]),
        ("EMAIL", &b"jan@example.com"[..])
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_text_round_trips(words in prop::collection::vec(prop_oneof![
        Just("jan@example.com".to_owned()),
        Just("4111 1111 1111 1111".to_owned()),
        Just("+55 11 91234-5678".to_owned()),
        Just("token=9f8a7b6c5d4e3f2a1b0c".to_owned()),
        "[a-z0-9 ,.]{0,12}",
    ], 0..8)) {
        let keyring = Arc::new(Keyring::generate().unwrap());
        let enc = encryptor(&keyring, "p");
        let text = words.join(" ");
        let masked = Masker::new(Operator::Encrypt(enc.clone())).mask(&text).unwrap().into_owned();
        prop_assert_eq!(enc.reveal(&masked).unwrap(), text);
    }
}
