//! The `serde` feature: `Params` round trips and is checked on the way in;
//! `Verdict` serializes in the shape the CLI prints; a policy's verdict
//! serializes with every refusal and never the password.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation is a test failure"
)]

use palisade_password::{Context, Params, ParamsBuilder, Password, Policy, verify_password};

#[test]
fn params_round_trip_and_are_checked_when_read() {
    let params = ParamsBuilder::new()
        .m_cost(65_536)
        .t_cost(3)
        .build()
        .unwrap();
    let json = serde_json::to_string(&params).unwrap();
    assert_eq!(
        json,
        r#"{"m_cost":65536,"t_cost":3,"p_cost":1,"output_len":32}"#
    );
    assert_eq!(serde_json::from_str::<Params>(&json).unwrap(), params);

    // Values the builder refuses are refused when read, with its message.
    let err =
        serde_json::from_str::<Params>(r#"{"m_cost":65536,"t_cost":0,"p_cost":1,"output_len":32}"#)
            .unwrap_err();
    assert!(err.to_string().contains("t_cost"), "{err}");
    assert!(
        serde_json::from_str::<Params>(
            r#"{"m_cost":65536,"t_cost":3,"p_cost":1,"output_len":32,"salt":1}"#
        )
        .is_err(),
        "unknown fields are refused"
    );
}

#[test]
fn verdicts_serialize_with_scheme_and_reasons() {
    // Django's PBKDF2 hash of "password": valid, kept for verification only.
    let legacy =
        "pbkdf2_sha256$1000$u33xtHaXDmXR8uPftSI0Ap$LANSrzfMKBAegscbVeAUbv3It1EN/8gC2fiV09fenm4=";
    let valid = verify_password("password", legacy).unwrap();
    assert_eq!(
        serde_json::to_value(&valid).unwrap(),
        serde_json::json!({
            "valid": true,
            "scheme": "django-pbkdf2-sha256",
            "upgrade_reasons": ["legacy-scheme"],
        })
    );
    let invalid = verify_password("Password", legacy).unwrap();
    assert_eq!(
        serde_json::to_value(&invalid).unwrap(),
        serde_json::json!({
            "valid": false,
            "scheme": "django-pbkdf2-sha256",
            "upgrade_reasons": [],
        })
    );
}

#[test]
fn policy_verdicts_serialize_every_refusal_without_the_password() {
    let policy = Policy::new();
    let context = Context::new().word("alice");
    let refused = policy
        .check(&Password::new("zalice7").unwrap(), &context)
        .unwrap();
    let value = serde_json::to_value(&refused).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "accepted": false,
            "refusals": [
                {"refusal": "too-short", "min": 8, "message": "shorter than 8 characters"},
                {
                    "refusal": "context-word",
                    "word": "alice",
                    "message": "contains `alice`, a word of the context",
                },
            ],
        })
    );
    assert!(!value.to_string().contains("zalice7"), "{value}");

    let common = policy
        .check(&Password::new("iloveyou").unwrap(), &Context::new())
        .unwrap();
    assert_eq!(
        serde_json::to_value(&common).unwrap()["refusals"],
        serde_json::json!([{"refusal": "common", "message": "one of the most common passwords"}])
    );

    let accepted = policy
        .check(&Password::new("ink wolf parsley tundra").unwrap(), &context)
        .unwrap();
    assert_eq!(
        serde_json::to_value(&accepted).unwrap(),
        serde_json::json!({"accepted": true, "refusals": []})
    );
}
