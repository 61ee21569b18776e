//! Envelope encryption through a key provider, crypto-shredding, blind indexes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use palisade_crypt::{
    Context, DataKey, Error, KeyProvider, Keyring, LocalKeyProvider, Normalizer, SubjectKeyStore,
    WrappedKey,
};
use proptest::prelude::*;

fn provider() -> LocalKeyProvider {
    LocalKeyProvider::new(Keyring::generate().unwrap())
}

#[test]
fn shredding_one_subject_makes_exactly_its_data_unreadable() {
    let kek = provider();
    let mut store = SubjectKeyStore::new();
    let subjects = ["alice", "bob", "carol"];
    let mut rows = Vec::new();
    for subject in subjects {
        for field in ["email", "phone", "address"] {
            let context = Context::field("customers", field, subject);
            let plaintext = format!("{subject}'s {field}");
            let ct = store
                .encrypt(&kek, subject, plaintext.as_bytes(), &context)
                .unwrap();
            rows.push((subject, context, plaintext, ct));
        }
    }
    assert_eq!(store.len(), 3);
    // Before: everything reads back.
    for (subject, context, plaintext, ct) in &rows {
        assert_eq!(
            &store.decrypt(&kek, subject, ct, context).unwrap()[..],
            plaintext.as_bytes()
        );
    }
    // The store itself holds no secret and round-trips through serde.
    let saved = serde_json::to_string(&store).unwrap();
    assert!(serde_json::from_str::<SubjectKeyStore>(&saved).unwrap() == store);

    assert!(store.shred("bob"));
    assert!(!store.shred("bob"));
    assert!(!store.contains("bob"));
    for (subject, context, plaintext, ct) in &rows {
        let result = store.decrypt(&kek, subject, ct, context);
        if *subject == "bob" {
            assert!(matches!(result, Err(Error::SubjectUnknown)));
            // Bob's ciphertexts do not open under any surviving subject key either.
            for other in ["alice", "carol"] {
                assert!(matches!(
                    store.decrypt(&kek, other, ct, context),
                    Err(Error::Unauthenticated)
                ));
            }
        } else {
            assert_eq!(&result.unwrap()[..], plaintext.as_bytes());
        }
    }
    // A new key for Bob is a new key: the old data stays unreadable.
    store.encrypt(&kek, "bob", b"new", &Context::new()).unwrap();
    let (_, context, _, ct) = rows.iter().find(|r| r.0 == "bob").unwrap();
    assert!(matches!(
        store.decrypt(&kek, "bob", ct, context),
        Err(Error::Unauthenticated)
    ));
}

#[test]
fn wrapped_keys_unwrap_only_for_their_context_and_provider() {
    let kek = provider();
    let context = Context::new().with("object", "invoice-17");
    let (key, wrapped) = kek.generate_data_key(&context).unwrap();
    assert!(wrapped.kek_id.starts_with("local:"));
    let unwrapped = kek.unwrap_key(&wrapped, &context).unwrap();
    assert_eq!(unwrapped.expose_bytes(), key.expose_bytes());
    assert!(matches!(
        kek.unwrap_key(&wrapped, &Context::new()),
        Err(Error::Unauthenticated)
    ));
    assert!(matches!(
        provider().unwrap_key(&wrapped, &context),
        Err(Error::Unauthenticated)
    ));
    let foreign = WrappedKey {
        kek_id: "arn:aws:kms:eu-west-1:1:key/x".into(),
        ciphertext: wrapped.ciphertext.clone(),
    };
    assert!(matches!(
        kek.unwrap_key(&foreign, &context),
        Err(Error::ProviderFailed(_))
    ));
    // Data keys encrypt fields in the same envelope (key id 0).
    let ct = key.encrypt(b"total: 120 EUR", &context).unwrap();
    assert_eq!(ct.key_id(), 0);
    assert_eq!(
        &unwrapped.decrypt(&ct, &context).unwrap()[..],
        b"total: 120 EUR"
    );
    assert!(DataKey::generate().unwrap().decrypt(&ct, &context).is_err());
    assert!(!format!("{key:?}").contains(&format!("{:?}", key.expose_bytes())));
    // Wrapped keys serialize with a base64url ciphertext.
    let json = serde_json::to_string(&wrapped).unwrap();
    assert_eq!(serde_json::from_str::<WrappedKey>(&json).unwrap(), wrapped);
}

#[test]
fn local_provider_rotation_keeps_wrapped_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kek.json");
    let mut keyring = Keyring::generate().unwrap();
    keyring.create_file(&path).unwrap();
    let context = Context::new();
    let (key, wrapped) = LocalKeyProvider::load(&path)
        .unwrap()
        .generate_data_key(&context)
        .unwrap();
    keyring.rotate().unwrap();
    keyring.save(&path).unwrap();
    let rotated = LocalKeyProvider::load(&path).unwrap();
    assert_eq!(
        rotated
            .unwrap_key(&wrapped, &context)
            .unwrap()
            .expose_bytes(),
        key.expose_bytes()
    );
    assert_eq!(rotated.wrap_key(&key, &context).unwrap().kek_id, "local:2");
}

#[test]
fn blind_indexes_are_per_index_and_per_keyring() {
    let keyring = Keyring::generate().unwrap();
    let email = keyring
        .blind_index("customers.email", 32, Normalizer::CaseInsensitive)
        .unwrap();
    let other = keyring
        .blind_index("staff.email", 32, Normalizer::CaseInsensitive)
        .unwrap();
    assert_eq!(
        email.compute("Alice@Example.com "),
        email.compute("alice@example.com")
    );
    assert_ne!(
        email.compute("alice@example.com"),
        other.compute("alice@example.com")
    );
    let second = Keyring::generate()
        .unwrap()
        .blind_index("customers.email", 32, Normalizer::CaseInsensitive)
        .unwrap();
    assert_ne!(
        email.compute("alice@example.com"),
        second.compute("alice@example.com")
    );
    // Rotation of the encryption keys does not change index values.
    let mut rotated = keyring.clone();
    rotated.rotate().unwrap();
    let after = rotated
        .blind_index("customers.email", 32, Normalizer::CaseInsensitive)
        .unwrap();
    assert_eq!(
        email.compute("alice@example.com"),
        after.compute("alice@example.com")
    );
    // Last four digits.
    let ssn = keyring
        .blind_index("customers.ssn_last4", 16, Normalizer::LastDigits(4))
        .unwrap();
    assert_eq!(ssn.compute("123-45-6789"), ssn.compute("6789"));
    assert_eq!(ssn.compute("123-45-6789").to_hex().len(), 4);
    assert!(!format!("{email:?}").is_empty());
}

#[test]
fn blind_index_truncation_collides_as_the_planner_says() {
    // With 8 bits over 4096 distinct values, each index value is shared by
    // about 4096 / 256 = 16 of them: coincidences are what hide the value.
    let keyring = Keyring::from_key_bytes(&[(1, [1; 32])], [2; 32]).unwrap();
    let index = keyring.blind_index("t.c", 8, Normalizer::Exact).unwrap();
    let mut counts = std::collections::HashMap::new();
    for i in 0..4096 {
        *counts.entry(index.compute(&i.to_string())).or_insert(0u32) += 1;
    }
    assert_eq!(counts.len(), 256);
    assert!(
        counts.values().all(|&c| (2..=40).contains(&c)),
        "{:?}",
        counts.values().max()
    );
    assert_eq!(palisade_crypt::safe_index_bits(4096, 0).unwrap(), 7..=11);
}

proptest! {
    #[test]
    fn blind_index_is_deterministic_and_sized(value in ".{0,40}", bits in 1u32..=256) {
        let keyring = Keyring::from_key_bytes(&[(1, [1; 32])], [2; 32]).unwrap();
        let index = keyring.blind_index("t.c", bits, Normalizer::Exact).unwrap();
        let a = index.compute(&value);
        prop_assert_eq!(&a, &index.compute(&value));
        prop_assert_eq!(a.as_bytes().len() as u32, bits.div_ceil(8));
        let spare = (8 - bits % 8) % 8;
        prop_assert_eq!(a.as_bytes().last().unwrap() & ((1u8 << spare) - 1), 0);
    }

    #[test]
    fn data_key_round_trip(plaintext in proptest::collection::vec(any::<u8>(), 0..256)) {
        let kek = LocalKeyProvider::new(Keyring::from_key_bytes(&[(1, [1; 32])], [2; 32]).unwrap());
        let context = Context::new().with("k", "v");
        let (key, wrapped) = kek.generate_data_key(&context).unwrap();
        let ct = key.encrypt(&plaintext, &context).unwrap();
        let again = kek.unwrap_key(&wrapped, &context).unwrap();
        prop_assert_eq!(&again.decrypt(&ct, &context).unwrap()[..], &plaintext[..]);
    }
}
