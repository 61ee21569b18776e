//! Known-answer tests: RFC 9106's Argon2 vectors, libargon2's reference PHC
//! strings and hashes made by the reference implementations of every legacy
//! scheme (tests/data/make_vectors.py).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};
use palisade_password::{Error, Password, PasswordHasher, Scheme, StoredHash, UpgradeReason};

fn hex(s: &str) -> Vec<u8> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(s.as_bytes())
        .unwrap()
}

/// RFC 9106 section 5, through argon2's raw API with secret and associated data.
#[test]
fn rfc9106_vectors() {
    let data = include_str!("data/rfc9106.txt");
    let mut seen = 0;
    for line in data
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut fields = line.split_whitespace();
        let algorithm = match fields.next().unwrap() {
            "argon2d" => Algorithm::Argon2d,
            "argon2i" => Algorithm::Argon2i,
            "argon2id" => Algorithm::Argon2id,
            other => panic!("unknown type {other}"),
        };
        let expected = hex(fields.next().unwrap());
        let params = ParamsBuilder::new()
            .m_cost(32)
            .t_cost(3)
            .p_cost(4)
            .data(AssociatedData::new(&[0x04; 12]).unwrap())
            .build()
            .unwrap();
        let secret = [0x03; 8];
        let argon2 = Argon2::new_with_secret(&secret, algorithm, Version::V0x13, params).unwrap();
        let mut out = [0u8; 32];
        argon2
            .hash_password_into(&[0x01; 32], &[0x02; 16], &mut out)
            .unwrap();
        assert_eq!(out.to_vec(), expected, "{line}");
        seen += 1;
    }
    assert_eq!(seen, 3);
}

/// The RFC 9106 inputs without secret go through Palisade's own path: the
/// associated data is carried in the PHC string as `data=`.
#[test]
fn rfc9106_inputs_through_the_phc_path_match_the_raw_api() {
    let params = ParamsBuilder::new()
        .m_cost(32)
        .t_cost(3)
        .p_cost(4)
        .data(AssociatedData::new(&[0x04; 12]).unwrap())
        .build()
        .unwrap();
    let mut tag = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(&[0x01; 32], &[0x02; 16], &mut tag)
        .unwrap();
    use base64ct::{Base64Unpadded, Encoding};
    let phc = format!(
        "$argon2id$v=19$m=32,t=3,p=4,data={}${}${}",
        Base64Unpadded::encode_string(&[0x04; 12]),
        Base64Unpadded::encode_string(&[0x02; 16]),
        Base64Unpadded::encode_string(&tag)
    );
    let password = Password::from_bytes(&[0x01; 32]).unwrap();
    let verdict = PasswordHasher::default().verify(&password, &phc).unwrap();
    assert!(verdict.is_valid());
    assert_eq!(verdict.upgrade_reasons(), &[UpgradeReason::Params]);
    let wrong = Password::from_bytes(&[0x01; 31]).unwrap();
    assert!(
        !PasswordHasher::default()
            .verify(&wrong, &phc)
            .unwrap()
            .is_valid()
    );
}

struct Vector {
    scheme: String,
    password: String,
    wrong: String,
    hash: String,
    origin: String,
}

fn reference_vectors() -> Vec<Vector> {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("data/reference_vectors.json")).unwrap();
    json["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            scheme: v["scheme"].as_str().unwrap().to_owned(),
            password: v["password"].as_str().unwrap().to_owned(),
            wrong: v["wrong"].as_str().unwrap().to_owned(),
            hash: v["hash"].as_str().unwrap().to_owned(),
            origin: v["origin"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// Every reference hash verifies with its password, is rejected with a
/// wrong one, reports its scheme, and (being legacy or weaker) asks for an
/// upgrade whose result verifies as current.
#[test]
fn reference_hashes_verify_and_reject_wrong_passwords() {
    let hasher = PasswordHasher::builder()
        .params(
            palisade_password::ParamsBuilder::new()
                .m_cost(96)
                .t_cost(1)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let vectors = reference_vectors();
    let mut per_scheme = std::collections::BTreeMap::<String, usize>::new();
    for v in &vectors {
        let password = Password::new(&v.password).unwrap();
        let verdict = hasher.verify(&password, &v.hash).unwrap();
        assert!(
            verdict.is_valid(),
            "{} ({}) should verify",
            v.hash,
            v.origin
        );
        assert_eq!(verdict.scheme().name(), v.scheme, "{}", v.hash);
        let wrong = Password::new(&v.wrong).unwrap();
        assert!(
            !hasher.verify(&wrong, &v.hash).unwrap().is_valid(),
            "{} accepted a wrong password",
            v.hash
        );
        assert!(
            verdict.needs_upgrade(),
            "{} should need an upgrade at m=96,t=1",
            v.hash
        );
        let upgraded = hasher.verify_and_upgrade(&password, &v.hash).unwrap();
        let new_hash = upgraded.new_hash.unwrap();
        let again = hasher.verify(&password, &new_hash).unwrap();
        assert!(again.is_valid() && !again.needs_upgrade(), "{new_hash}");
        assert_eq!(
            StoredHash::parse(&v.hash).unwrap().scheme().name(),
            v.scheme
        );
        *per_scheme.entry(v.scheme.clone()).or_default() += 1;
    }
    // Each scheme of the issue is covered by several vectors.
    for scheme in Scheme::ALL {
        assert!(
            per_scheme.get(scheme.name()).copied().unwrap_or(0) >= 3,
            "{scheme}: {per_scheme:?}"
        );
    }
    assert_eq!(vectors.len(), 47);
}

/// bcrypt's three idents appear, as does passlib's `.` in adapted base64.
#[test]
fn reference_data_covers_the_format_corners() {
    let vectors = reference_vectors();
    for prefix in [
        "$2a$",
        "$2b$",
        "$2y$",
        "$argon2id$v=16$",
        "$argon2i$v=16$",
        "$argon2d$v=16$",
    ] {
        assert!(
            vectors.iter().any(|v| v.hash.starts_with(prefix)),
            "{prefix}"
        );
    }
    assert!(vectors.iter().any(|v| v.scheme == "passlib-pbkdf2-sha256"
        && v.hash.split('$').skip(3).any(|f| f.contains('.'))));
}

/// libargon2's reference PHC strings (src/test.c: "password", "somesalt").
#[test]
fn libargon2_reference_phc_strings() {
    let hasher = PasswordHasher::default();
    let password = Password::new("password").unwrap();
    for (hash, scheme) in [
        (
            "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
            Scheme::Argon2i,
        ),
        (
            "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
            Scheme::Argon2id,
        ),
        (
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            Scheme::Argon2id,
        ),
    ] {
        let verdict = hasher.verify(&password, hash).unwrap();
        assert!(verdict.is_valid(), "{hash}");
        assert_eq!(verdict.scheme(), scheme);
        // 8-byte salts and other parameters than the current ones: upgrade.
        assert!(
            verdict.upgrade_reasons().contains(&UpgradeReason::Params),
            "{hash}"
        );
    }
    // One flipped tag bit is rejected.
    let flipped =
        "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/8";
    assert!(!hasher.verify(&password, flipped).unwrap().is_valid());
}

/// The argon2 crate's test vector with a `keyid=`: verified under a pepper of that id.
#[test]
fn stored_key_id_without_its_pepper_is_a_typed_error() {
    let hash = "$argon2d$v=19$m=65536,t=2,p=1,keyid=8PDw8A$YzI5dFpYTmhiSFFBQUFBQUFBQUFBQQ$Jxy74cswY2mq9y+u+iJcJy8EqOp4t/C7DWDzGwGB3IM";
    let err = PasswordHasher::default()
        .verify(&Password::new("password").unwrap(), hash)
        .unwrap_err();
    assert!(
        matches!(&err, Error::PepperUnknown(id) if id == "????"),
        "{err:?}"
    );
}
