//! Behaviour of the hasher: format, verdicts, upgrades, peppers,
//! normalization, scheme acceptance, cost ceilings, the dummy path.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

use palisade_password::{
    Error, Params, ParamsBuilder, Password, PasswordHasher, Pepper, Scheme, StoredHash,
    UpgradeReason, hash_password, verify_and_upgrade, verify_password,
};

fn pw(s: &str) -> Password {
    Password::new(s).unwrap()
}

fn small(m: u32, t: u32) -> Params {
    ParamsBuilder::new().m_cost(m).t_cost(t).build().unwrap()
}

fn hasher(m: u32, t: u32) -> PasswordHasher {
    PasswordHasher::builder()
        .params(small(m, t))
        .build()
        .unwrap()
}

#[test]
fn front_door_hashes_at_owasp_defaults_with_fresh_salts() {
    let a = hash_password("hunter2 hunter2").unwrap();
    let b = hash_password("hunter2 hunter2").unwrap();
    assert_ne!(a, b, "salts must differ");
    for h in [&a, &b] {
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        let fields: Vec<&str> = h.split('$').collect();
        assert_eq!(fields.len(), 6);
        assert_eq!(fields[4].len(), 22, "16-byte salt in unpadded B64");
        assert_eq!(fields[5].len(), 43, "32-byte tag in unpadded B64");
    }
    let verdict = verify_password("hunter2 hunter2", &a).unwrap();
    assert!(verdict.is_valid() && !verdict.needs_upgrade());
    assert_eq!(verdict.scheme(), Scheme::Argon2id);
    assert_eq!(verdict.to_string(), "valid");
    let verdict = verify_password("hunter2 hunter3", &a).unwrap();
    assert!(!verdict.is_valid() && !verdict.needs_upgrade());
    assert_eq!(verdict.to_string(), "invalid");
    let verified = verify_and_upgrade("hunter2 hunter2", &a).unwrap();
    assert!(verified.verdict.is_valid() && verified.new_hash.is_none());
}

#[test]
fn weaker_or_different_params_ask_for_an_upgrade_only_when_valid() {
    let old = hasher(64, 1);
    let new = hasher(128, 2);
    let stored = old.hash(&pw("open sesame")).unwrap();
    assert!(new.needs_upgrade(&stored).unwrap());
    assert!(!old.needs_upgrade(&stored).unwrap());

    let verified = new.verify_and_upgrade(&pw("open sesame"), &stored).unwrap();
    assert_eq!(verified.verdict.upgrade_reasons(), &[UpgradeReason::Params]);
    assert_eq!(verified.verdict.to_string(), "valid needs-upgrade");
    let upgraded = verified.new_hash.unwrap();
    assert!(upgraded.starts_with("$argon2id$v=19$m=128,t=2,p=1$"));
    assert!(!new.needs_upgrade(&upgraded).unwrap());

    let wrong = new
        .verify_and_upgrade(&pw("open sesame!"), &stored)
        .unwrap();
    assert!(!wrong.verdict.is_valid());
    assert!(wrong.verdict.upgrade_reasons().is_empty());
    assert!(wrong.new_hash.is_none());
}

#[test]
fn argon2_version_0x10_and_variants_are_legacy() {
    let h = hasher(256, 2);
    let password = pw("password");
    // libargon2 test.c inputs at v=0x10 (tests/data/reference_vectors.json).
    let v10 =
        "$argon2id$v=16$m=256,t=2,p=1$c29tZXNhbHQ$2gcOV25Q8vOKPIl8vdxsf7QCjocJcf+erntOGHkpXm4";
    let verdict = h.verify(&password, v10).unwrap();
    assert!(verdict.is_valid());
    assert!(
        verdict
            .upgrade_reasons()
            .contains(&UpgradeReason::OldVersion)
    );
    let argon2i =
        "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8";
    let verdict = h.verify(&password, argon2i).unwrap();
    assert!(
        verdict
            .upgrade_reasons()
            .contains(&UpgradeReason::LegacyScheme)
    );
}

#[test]
fn pepper_is_recorded_as_keyid_and_rotates() {
    let k1 = || Pepper::new("k1", *b"first pepper, 32 bytes long.....").unwrap();
    let k2 = || Pepper::new("k2", *b"second pepper, 32 bytes long....").unwrap();
    let plain = hasher(64, 1);
    let v1 = PasswordHasher::builder()
        .params(small(64, 1))
        .pepper(k1())
        .build()
        .unwrap();
    let v2 = PasswordHasher::builder()
        .params(small(64, 1))
        .pepper(k2())
        .retired_pepper(k1())
        .build()
        .unwrap();
    let password = pw("pepper me");

    let under_k1 = v1.hash(&password).unwrap();
    assert!(under_k1.contains(",keyid=azE$"), "{under_k1}"); // B64("k1")
    assert_eq!(
        StoredHash::parse(&under_k1).unwrap().pepper_id().as_deref(),
        Some("k1")
    );
    assert!(v1.verify(&password, &under_k1).unwrap().is_valid());
    assert!(!v1.verify(&pw("pepper you"), &under_k1).unwrap().is_valid());

    // Without the pepper: a typed error, not a silent "invalid".
    assert!(matches!(
        plain.verify(&password, &under_k1).unwrap_err(),
        Error::PepperUnknown(id) if id == "k1"
    ));

    // Rotation: the retired pepper still verifies and asks for an upgrade.
    let verified = v2.verify_and_upgrade(&password, &under_k1).unwrap();
    assert_eq!(verified.verdict.upgrade_reasons(), &[UpgradeReason::Pepper]);
    let under_k2 = verified.new_hash.unwrap();
    assert!(under_k2.contains(",keyid=azI$"), "{under_k2}");
    let again = v2.verify(&password, &under_k2).unwrap();
    assert!(again.is_valid() && !again.needs_upgrade());

    // A hash made before peppering verifies and asks for the pepper.
    let unpeppered = plain.hash(&password).unwrap();
    let verdict = v2.verify(&password, &unpeppered).unwrap();
    assert_eq!(verdict.upgrade_reasons(), &[UpgradeReason::Pepper]);

    // Same id, different secret: the pepper really enters the hash.
    let impostor = PasswordHasher::builder()
        .params(small(64, 1))
        .pepper(Pepper::new("k1", *b"not the first pepper at all.....").unwrap())
        .build()
        .unwrap();
    assert!(!impostor.verify(&password, &under_k1).unwrap().is_valid());

    // Two peppers with one id are refused at build time.
    let err = PasswordHasher::builder()
        .pepper(k1())
        .retired_pepper(k1())
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::PepperIdDuplicate(id) if id == "k1"),
        "{err:?}"
    );
    assert!(!format!("{v2:?}").contains("pepper, 32"));
}

#[test]
fn passwords_are_nfkc_normalized_and_unnormalized_foreign_hashes_still_verify() {
    let h = hasher(64, 1);
    // "ﬁ" (U+FB01) normalizes to "fi"; full-width digits to ASCII.
    let stored = h.hash(&pw("\u{FB01}sh \u{FF11}\u{FF12}")).unwrap();
    assert!(h.verify(&pw("fish 12"), &stored).unwrap().is_valid());

    // A hash of the raw bytes made elsewhere (argon2 directly) verifies and
    // reports that it was not normalized.
    use argon2::{Algorithm, Argon2, Version};
    use base64ct::{Base64Unpadded, Encoding};
    let raw = "\u{FB01}sh";
    let params = argon2::Params::new(64, 1, 1, Some(32)).unwrap();
    let mut tag = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(raw.as_bytes(), b"0123456789abcdef", &mut tag)
        .unwrap();
    let foreign = format!(
        "$argon2id$v=19$m=64,t=1,p=1${}${}",
        Base64Unpadded::encode_string(b"0123456789abcdef"),
        Base64Unpadded::encode_string(&tag)
    );
    let verdict = h.verify(&pw(raw), &foreign).unwrap();
    assert_eq!(verdict.upgrade_reasons(), &[UpgradeReason::Unnormalized]);
    // The normalized spelling alone does not match the raw-bytes hash.
    assert!(!h.verify(&pw("fish"), &foreign).unwrap().is_valid());
}

#[test]
fn schemes_can_be_restricted_and_costs_are_bounded() {
    let bcrypt = "$2b$04$8fb7YapE3PF1KwyYEtGXG.qc.UvEVt2lRcg3u2yVhEqWf0X8LkirK";
    let only_argon2 = PasswordHasher::builder().accept_only(&[]).build().unwrap();
    assert!(matches!(
        only_argon2.verify(&pw("password"), bcrypt).unwrap_err(),
        Error::SchemeNotAccepted(Scheme::Bcrypt)
    ));
    let with_bcrypt = PasswordHasher::builder()
        .accept_only(&[Scheme::Bcrypt])
        .build()
        .unwrap();
    assert!(
        with_bcrypt
            .verify(&pw("password"), bcrypt)
            .unwrap()
            .is_valid()
    );

    let h = PasswordHasher::default();
    for too_costly in [
        // scrypt at N=2^30: 1 TiB.
        "$scrypt$ln=30,r=8,p=1$NYZQyvm/d47R2tsb45wT4g$TRm40NJp20isI+g+L8+5fxPUx2rzcnvU6ZAS8Cvsx1c",
        // Argon2 at 2 GiB.
        "$argon2id$v=19$m=2097152,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=256,t=65,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "pbkdf2_sha256$10000001$salt$LANSrzfMKBAegscbVeAUbv3It1EN/8gC2fiV09fenm4=",
        "$2b$17$8fb7YapE3PF1KwyYEtGXG.qc.UvEVt2lRcg3u2yVhEqWf0X8LkirK",
    ] {
        assert!(
            matches!(
                h.verify(&pw("password"), too_costly).unwrap_err(),
                Error::CostTooHigh
            ),
            "{too_costly}"
        );
    }
    let lower_ceiling = PasswordHasher::builder()
        .params(small(64, 1))
        .max_memory_kib(128)
        .build()
        .unwrap();
    let v = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
    assert!(matches!(
        lower_ceiling.verify(&pw("password"), v).unwrap_err(),
        Error::CostTooHigh
    ));
    assert!(
        PasswordHasher::builder()
            .max_memory_kib(1024)
            .build()
            .is_err()
    );
}

#[test]
fn malformed_hashes_are_errors_that_do_not_echo_input() {
    let h = PasswordHasher::default();
    for bad in [
        "",
        "hunter2",
        "$argon2id$v=19$m=65536",
        "$md5$x$y",
        "$2b$04$short",
    ] {
        let err = h.verify(&pw("password"), bad).unwrap_err();
        assert!(
            matches!(err, Error::HashMalformed(_) | Error::SchemeUnsupported),
            "{bad}: {err:?}"
        );
        if !bad.is_empty() {
            assert!(!err.to_string().contains(bad), "{err}");
        }
    }
}

#[test]
fn dummy_verification_is_always_invalid_and_reuses_one_dummy_hash() {
    let h = hasher(64, 1);
    for candidate in ["", "password", "anything at all"] {
        let verdict = h.verify_dummy(&pw(candidate)).unwrap();
        assert!(!verdict.is_valid());
        assert_eq!(verdict.scheme(), Scheme::Argon2id);
    }
}

#[test]
fn password_length_is_bounded_before_hashing() {
    let huge = "x".repeat(1_000_000);
    assert!(matches!(
        hash_password(&huge).unwrap_err(),
        Error::PasswordTooLong { max: 1024 }
    ));
    assert!(matches!(
        verify_password(
            &huge,
            "$2b$04$8fb7YapE3PF1KwyYEtGXG.qc.UvEVt2lRcg3u2yVhEqWf0X8LkirK"
        )
        .unwrap_err(),
        Error::PasswordTooLong { max: 1024 }
    ));
    // 64 characters of emoji (256 bytes) are fine.
    let long = "🔒".repeat(64);
    let h = hasher(64, 1);
    let stored = h.hash(&pw(&long)).unwrap();
    assert!(h.verify(&pw(&long), &stored).unwrap().is_valid());
}
