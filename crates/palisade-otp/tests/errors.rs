//! The error type's two groups: verdicts on a code, and causes (a key URI or
//! a secret that cannot be used) nested in their own enums.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a test failure"
)]

use palisade_otp::{Error, FactorState, KeyUri, Secret, SecretError, Totp, UriError};

#[test]
fn refused_codes_are_verdicts() {
    let totp = Totp::new(Secret::from_bytes(b"12345678901234567890").unwrap());
    let mut state = FactorState::new();
    let now = 59;
    let code = totp.code_at(now);
    totp.verify(&code, now, &mut state).unwrap();
    let replayed = totp.verify(&code, now, &mut state).unwrap_err();
    assert_eq!(replayed, Error::Replayed);
    assert!(replayed.is_verdict());
    let invalid = totp.verify("000000", now, &mut state).unwrap_err();
    assert!(invalid.is_verdict(), "{invalid:?}");
}

#[test]
fn uri_and_secret_causes_are_nested_and_not_verdicts() {
    let err = KeyUri::parse("https://example.com/").unwrap_err();
    assert_eq!(err, Error::Uri(UriError::SchemeInvalid));
    assert!(!err.is_verdict());
    assert_eq!(err.to_string(), "not an otpauth URI");

    let err = KeyUri::parse("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP").unwrap_err();
    assert_eq!(err, Error::Secret(SecretError::TooShort { bits: 80 }));
    assert!(!err.is_verdict());
    assert_eq!(
        err.to_string(),
        "secret has 80 bits; at least 128 are required"
    );

    // A parameter out of range in a URI is the URI's problem, with the text
    // as written; the same value given to a builder is the builder's.
    let s = "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let err = KeyUri::parse(&format!("otpauth://totp/a?{s}&digits=9")).unwrap_err();
    assert_eq!(err, Error::Uri(UriError::DigitsInvalid("9".into())));
    let err = Totp::new(Secret::from_bytes(&[1; 20]).unwrap())
        .with_digits(9)
        .unwrap_err();
    assert_eq!(err, Error::DigitsOutOfRange(9));
    assert_eq!(err.to_string(), "digits must be 6, 7 or 8, not `9`");
}
