//! Field envelopes through the public API: context binding, wrong keys,
//! tampering, rotation, retirement, trimming, key commitment, known answers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use palisade_crypt::{Ciphertext, Context, Encrypted, Error, Keyring};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(s.as_bytes())
        .unwrap()
}

fn row(id: &str) -> Context {
    Context::field("customers", "email", id).with("tenant", "acme")
}

#[test]
fn known_answers_decrypt_through_the_public_api() {
    let kat: serde_json::Value = serde_json::from_str(include_str!("data/kat.json")).unwrap();
    let key: [u8; 32] = hex(kat["key"].as_str().unwrap()).try_into().unwrap();
    let mut context = Context::new();
    for (label, value) in kat["context"].as_object().unwrap() {
        context = context.with(label, value.as_str().unwrap());
    }
    for field in kat["fields"].as_array().unwrap() {
        let id = u32::try_from(field["key_id"].as_u64().unwrap()).unwrap();
        let keyring = Keyring::from_key_bytes(&[(id, key)], [0; 32]).unwrap();
        let ciphertext = Ciphertext::from_bytes(&hex(field["envelope"].as_str().unwrap())).unwrap();
        assert_eq!(ciphertext.key_id(), id);
        let plaintext = keyring.decrypt(&ciphertext, &context).unwrap();
        assert_eq!(
            &plaintext[..],
            &hex(field["plaintext"].as_str().unwrap())[..]
        );
        // The token form round-trips.
        let again: Ciphertext = ciphertext.to_token().parse().unwrap();
        assert_eq!(again, ciphertext);
        // And the same bytes under another context are refused.
        assert!(matches!(
            keyring.decrypt(&ciphertext, &Context::new()),
            Err(Error::Unauthenticated)
        ));
    }
}

#[test]
fn wrong_context_is_refused() {
    let keyring = Keyring::generate().unwrap();
    let ct = keyring.encrypt(b"alice@example.com", &row("42")).unwrap();
    assert_eq!(
        &keyring.decrypt(&ct, &row("42")).unwrap()[..],
        b"alice@example.com"
    );
    for wrong in [
        row("43"),
        Context::field("customers", "phone", "42").with("tenant", "acme"),
        Context::field("customers", "email", "42").with("tenant", "other"),
        Context::field("customers", "email", "42"),
        row("42").with("extra", ""),
        Context::new(),
    ] {
        assert!(
            matches!(keyring.decrypt(&ct, &wrong), Err(Error::Unauthenticated)),
            "{wrong:?}"
        );
    }
}

#[test]
fn swapped_rows_are_refused() {
    let keyring = Keyring::generate().unwrap();
    let alice = keyring.encrypt(b"alice@example.com", &row("1")).unwrap();
    let mallory = keyring.encrypt(b"mallory@example.com", &row("2")).unwrap();
    // Mallory copies her e-mail ciphertext into Alice's row (and back).
    assert!(matches!(
        keyring.decrypt(&mallory, &row("1")),
        Err(Error::Unauthenticated)
    ));
    assert!(matches!(
        keyring.decrypt(&alice, &row("2")),
        Err(Error::Unauthenticated)
    ));
}

#[test]
fn wrong_key_is_refused_even_with_the_same_key_id() {
    let a = Keyring::generate().unwrap();
    let b = Keyring::generate().unwrap();
    let ct = a.encrypt(b"secret", &row("1")).unwrap();
    assert_eq!(ct.key_id(), b.primary_id());
    assert!(matches!(
        b.decrypt(&ct, &row("1")),
        Err(Error::Unauthenticated)
    ));
}

#[test]
fn every_flipped_bit_is_refused() {
    let keyring = Keyring::generate().unwrap();
    let ct = keyring.encrypt(b"4111 1111 1111 1111", &row("9")).unwrap();
    let bytes = ct.as_bytes().to_vec();
    let mut refused = 0;
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[i] ^= 1 << bit;
            let result =
                Ciphertext::from_bytes(&flipped).and_then(|c| keyring.decrypt(&c, &row("9")));
            match (i, result) {
                (0, Err(Error::VersionUnsupported(_))) => refused += 1,
                (1..=4, Err(Error::KeyUnknown(_))) => refused += 1,
                (5.., Err(Error::Unauthenticated)) => refused += 1,
                (i, other) => panic!("byte {i} bit {bit}: {other:?}"),
            }
        }
    }
    assert_eq!(refused, bytes.len() * 8);
    // Truncation and extension are refused too.
    for len in 0..bytes.len() {
        assert!(
            Ciphertext::from_bytes(&bytes[..len])
                .and_then(|c| keyring.decrypt(&c, &row("9")))
                .is_err()
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        Ciphertext::from_bytes(&longer).and_then(|c| keyring.decrypt(&c, &row("9"))),
        Err(Error::Unauthenticated)
    ));
}

#[test]
fn tokens_are_parsed_strictly() {
    let keyring = Keyring::generate().unwrap();
    let token = keyring.encrypt(b"x", &row("1")).unwrap().to_token();
    assert!(token.starts_with("pcrypt:"));
    let body = &token["pcrypt:".len()..];
    for bad in [
        format!("PCRYPT:{body}"),
        format!("pcrypt:{body}="),
        format!("pcrypt:{}", body.replace('-', "+").replace('_', "/") + "+"),
        format!(" {token}"),
        format!("{token}\n"),
        body.to_string(),
        "pcrypt:".to_string(),
        "pcrypt:AQ".to_string(),
    ] {
        assert!(bad.parse::<Ciphertext>().is_err(), "{bad}");
    }
    // Non-canonical base64: a 79-byte envelope ends in a character with four
    // unused low bits; setting one of them must be refused.
    let token = keyring.encrypt(b"xy", &row("1")).unwrap().to_token();
    let body = &token["pcrypt:".len()..];
    assert_eq!(body.len(), 106);
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let pos = alphabet.find(body.chars().last().unwrap()).unwrap();
    assert_eq!(pos & 0b1111, 0);
    let stray = alphabet.chars().nth(pos | 1).unwrap();
    let noncanonical = format!("pcrypt:{}{stray}", &body[..body.len() - 1]);
    assert!(matches!(
        noncanonical.parse::<Ciphertext>(),
        Err(Error::CiphertextMalformed(_))
    ));
    assert!(token.parse::<Ciphertext>().is_ok());
}

#[test]
fn rotation_keeps_old_data_readable_and_rewrap_moves_it() {
    let mut keyring = Keyring::generate().unwrap();
    let old = keyring.encrypt(b"v1 data", &row("1")).unwrap();
    assert_eq!(keyring.rotate().unwrap(), 2);
    assert_eq!(keyring.rotate().unwrap(), 3);
    let new = keyring.encrypt(b"v3 data", &row("1")).unwrap();
    assert_eq!((old.key_id(), new.key_id()), (1, 3));
    assert_eq!(&keyring.decrypt(&old, &row("1")).unwrap()[..], b"v1 data");
    assert!(keyring.needs_rewrap(&old) && !keyring.needs_rewrap(&new));
    let moved = keyring.rewrap(&old, &row("1")).unwrap();
    assert_eq!(moved.key_id(), 3);
    assert_eq!(&keyring.decrypt(&moved, &row("1")).unwrap()[..], b"v1 data");
    // Rewrap authenticates: a ciphertext for another row is not rewrapped.
    assert!(matches!(
        keyring.rewrap(&old, &row("2")),
        Err(Error::Unauthenticated)
    ));
}

#[test]
fn retire_refuses_and_trim_makes_unreadable() {
    let mut keyring = Keyring::generate().unwrap();
    let v1 = keyring.encrypt(b"one", &row("1")).unwrap();
    keyring.rotate().unwrap();
    let v2 = keyring.encrypt(b"two", &row("1")).unwrap();
    keyring.rotate().unwrap();

    // Trim is only allowed below the minimum decryption version.
    assert!(matches!(
        keyring.trim_below(2),
        Err(Error::VersionAboveAllowed {
            requested: 2,
            allowed: 1
        })
    ));
    assert!(matches!(
        keyring.retire_below(4),
        Err(Error::VersionAboveAllowed {
            requested: 4,
            allowed: 3
        })
    ));

    keyring.retire_below(2).unwrap();
    assert!(matches!(
        keyring.decrypt(&v1, &row("1")),
        Err(Error::KeyRetired(1))
    ));
    assert_eq!(&keyring.decrypt(&v2, &row("1")).unwrap()[..], b"two");
    // Retirement is reversible…
    keyring.retire_below(1).unwrap();
    assert_eq!(&keyring.decrypt(&v1, &row("1")).unwrap()[..], b"one");
    // …trimming is not.
    keyring.retire_below(2).unwrap();
    assert_eq!(keyring.trim_below(2).unwrap(), 1);
    assert_eq!(keyring.key_ids().collect::<Vec<_>>(), vec![2, 3]);
    keyring.retire_below(1).unwrap();
    assert!(matches!(
        keyring.decrypt(&v1, &row("1")),
        Err(Error::KeyUnknown(1))
    ));
    assert_eq!(&keyring.decrypt(&v2, &row("1")).unwrap()[..], b"two");
    // A trimmed keyring survives its file format.
    let reloaded = Keyring::from_json(&keyring.to_json().unwrap()).unwrap();
    assert!(matches!(
        reloaded.decrypt(&v1, &row("1")),
        Err(Error::KeyUnknown(1))
    ));
    assert_eq!(&reloaded.decrypt(&v2, &row("1")).unwrap()[..], b"two");
}

#[test]
fn keyring_file_is_owner_only_and_strict() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.json");
    let mut keyring = Keyring::generate().unwrap();
    keyring.create_file(&path).unwrap();
    assert!(
        keyring.create_file(&path).is_err(),
        "create must not overwrite"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            Keyring::load(&path),
            Err(Error::FileInsecure { mode: 0o640, .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let ct = keyring.encrypt(b"kept", &row("1")).unwrap();
    keyring.rotate().unwrap();
    keyring.save(&path).unwrap();
    let loaded = Keyring::load(&path).unwrap();
    assert_eq!(loaded.primary_id(), 2);
    assert_eq!(&loaded.decrypt(&ct, &row("1")).unwrap()[..], b"kept");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Debug never shows key material.
    let json = String::from_utf8(keyring.to_json().unwrap().to_vec()).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let secret = value["keys"][0]["key"].as_str().unwrap().to_owned();
    assert!(!format!("{keyring:?}").contains(&secret));

    // Strict parsing.
    let tweak = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = value.clone();
        f(&mut v);
        Keyring::from_json(v.to_string().as_bytes())
    };
    assert!(tweak(&|_| {}).is_ok());
    assert!(tweak(&|v| v["version"] = 2.into()).is_err());
    assert!(tweak(&|v| v["format"] = "other".into()).is_err());
    assert!(tweak(&|v| v["extra"] = 1.into()).is_err());
    assert!(tweak(&|v| v["primary"] = 9.into()).is_err());
    assert!(tweak(&|v| v["min_decryption_version"] = 0.into()).is_err());
    assert!(tweak(&|v| v["min_decryption_version"] = 3.into()).is_err());
    assert!(tweak(&|v| v["keys"][1]["id"] = 1.into()).is_err());
    assert!(tweak(&|v| v["keys"][0]["key"] = "AAAA".into()).is_err());
    assert!(tweak(&|v| v["index_key"] = format!("{secret}A").into()).is_err());
    // Errors never quote the file (which holds keys): not in the message,
    // not in `Debug`, not anywhere in the chain of causes.
    let err = Keyring::from_json(format!("{{\"format\": \"{secret}").as_bytes()).unwrap_err();
    assert!(!err.to_string().contains(&secret), "{err}");
    for text in [
        format!("{{\"format\": \"{secret}"),
        // serde_json's own message would be `invalid type: string "…"`.
        json.replacen(
            "\"primary\": ",
            &format!("\"primary\": \"{secret}\", \"x\": "),
            1,
        ),
        json.replacen("\"version\": 1", &format!("\"version\": \"{secret}\""), 1),
        json.replacen(&secret, &format!("{secret}!"), 1),
    ] {
        let err = Keyring::from_json(text.as_bytes()).unwrap_err();
        assert!(matches!(err, Error::KeyFileInvalid(_)), "{err:?}");
        let mut chain: Vec<&dyn std::error::Error> = vec![&err];
        while let Some(next) = chain.last().unwrap().source() {
            chain.push(next);
        }
        for e in chain {
            assert!(!e.to_string().contains(&secret), "{e}");
            assert!(!format!("{e:?}").contains(&secret), "{e:?}");
        }
    }
}

#[test]
fn encrypted_values_bind_type_and_context() {
    let keyring = Keyring::generate().unwrap();
    let sealed = Encrypted::seal(&keyring, &vec![1u32, 2, 3], &row("1")).unwrap();
    let json = serde_json::to_string(&sealed).unwrap();
    let back: Encrypted<Vec<u32>> = serde_json::from_str(&json).unwrap();
    assert_eq!(back.open(&keyring, &row("1")).unwrap(), vec![1, 2, 3]);
    assert!(matches!(
        back.open(&keyring, &row("2")),
        Err(Error::Unauthenticated)
    ));
    let wrong_type: Encrypted<String> = serde_json::from_str(&json).unwrap();
    assert!(matches!(
        wrong_type.open(&keyring, &row("1")),
        Err(Error::ValueMalformed)
    ));
    assert!(serde_json::from_str::<Encrypted<String>>("\"pcrypt:nope\"").is_err());
}

fn context_strategy() -> impl Strategy<Value = Context> {
    proptest::collection::btree_map(
        "[a-z]{1,8}",
        proptest::collection::vec(any::<u8>(), 0..16),
        0..4,
    )
    .prop_map(|m| {
        m.into_iter()
            .fold(Context::new(), |c, (l, v)| c.with(&l, v))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn field_round_trip(plaintext in proptest::collection::vec(any::<u8>(), 0..512), context in context_strategy()) {
        let keyring = Keyring::from_key_bytes(&[(1, [3; 32]), (2, [4; 32])], [5; 32]).unwrap();
        let ct = keyring.encrypt(&plaintext, &context).unwrap();
        prop_assert_eq!(ct.as_bytes().len(), plaintext.len() + 77);
        let parsed: Ciphertext = ct.to_token().parse().unwrap();
        prop_assert_eq!(&parsed, &ct);
        prop_assert_eq!(&keyring.decrypt(&parsed, &context).unwrap()[..], &plaintext[..]);
        let rewrapped = keyring.rewrap(&parsed, &context).unwrap();
        prop_assert_eq!(&keyring.decrypt(&rewrapped, &context).unwrap()[..], &plaintext[..]);
    }

    #[test]
    fn distinct_contexts_never_cross(a in context_strategy(), b in context_strategy()) {
        prop_assume!(a != b);
        prop_assert_ne!(a.encode(), b.encode());
        let keyring = Keyring::from_key_bytes(&[(1, [3; 32])], [5; 32]).unwrap();
        let ct = keyring.encrypt(b"x", &a).unwrap();
        prop_assert!(matches!(keyring.decrypt(&ct, &b), Err(Error::Unauthenticated)));
    }

    #[test]
    fn encrypted_round_trip(value in any::<(String, i64, Option<bool>)>()) {
        let keyring = Keyring::from_key_bytes(&[(1, [3; 32])], [5; 32]).unwrap();
        let sealed = Encrypted::seal(&keyring, &value, &row("p")).unwrap();
        let back: Encrypted<(String, i64, Option<bool>)> =
            serde_json::from_str(&serde_json::to_string(&sealed).unwrap()).unwrap();
        prop_assert_eq!(back.open(&keyring, &row("p")).unwrap(), value);
    }

    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), text in ".{0,120}") {
        let keyring = Keyring::from_key_bytes(&[(1, [3; 32])], [5; 32]).unwrap();
        if let Ok(ct) = Ciphertext::from_bytes(&bytes) {
            prop_assert!(keyring.decrypt(&ct, &Context::new()).is_err());
        }
        if let Ok(ct) = text.parse::<Ciphertext>() {
            prop_assert!(keyring.decrypt(&ct, &Context::new()).is_err());
        }
    }
}
