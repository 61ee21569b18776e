//! Property tests: key URIs round-trip, the parser never panics, codes have
//! the configured shape and verification accepts exactly the window.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use palisade_otp::{Algorithm, FactorState, Hotp, KeyUri, OtpKind, Secret, Throttle, Totp};
use proptest::prelude::*;

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Sha1),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha512)
    ]
}

/// Issuer and account names that a label can carry: no colon, no control
/// characters, no surrounding spaces; anything else, Unicode included.
fn name() -> impl Strategy<Value = String> {
    "[^:\\p{Cc}\\s][^:\\p{Cc}]{0,30}[^:\\p{Cc}\\s]|[^:\\p{Cc}\\s]"
}

proptest! {
    #[test]
    fn totp_uri_round_trips(
        secret in proptest::collection::vec(any::<u8>(), 16..80),
        algorithm in algorithm(),
        digits in 6_u8..=8,
        period in 1_u64..=86_400,
        issuer in name(),
        account in name(),
    ) {
        let totp = Totp::new(Secret::from_bytes(&secret).unwrap())
            .with_algorithm(algorithm)
            .with_digits(digits).unwrap()
            .with_period(period).unwrap();
        let key = KeyUri::totp(&totp, &issuer, &account).unwrap();
        let parsed = KeyUri::parse(&key.to_uri_exposed()).unwrap();
        prop_assert_eq!(&parsed, &key);
        prop_assert_eq!(parsed.secret().expose_bytes(), &secret[..]);
        prop_assert_eq!(parsed.issuer(), Some(issuer.as_str()));
        prop_assert_eq!(parsed.account(), account.as_str());
        prop_assert_eq!(parsed.kind(), OtpKind::Totp { period });
        prop_assert_eq!(parsed.to_totp().unwrap(), totp);
    }

    #[test]
    fn hotp_uri_round_trips(
        secret in proptest::collection::vec(any::<u8>(), 16..40),
        counter in any::<u64>(),
        issuer in name(),
        account in name(),
    ) {
        let hotp = Hotp::new(Secret::from_bytes(&secret).unwrap());
        let key = KeyUri::hotp(&hotp, counter, &issuer, &account).unwrap();
        let parsed = KeyUri::parse(&key.to_uri_exposed()).unwrap();
        prop_assert_eq!(parsed.kind(), OtpKind::Hotp { counter });
        prop_assert_eq!(&parsed, &key);
    }

    #[test]
    fn parser_never_panics_on_any_text(text in "\\PC{0,200}") {
        let _ = KeyUri::parse(&text);
    }

    #[test]
    fn parser_never_panics_on_mangled_uris(
        tail in "[a-zA-Z0-9%:/?&=#+. -]{0,120}",
        head in prop_oneof![Just("otpauth://totp/"), Just("otpauth://hotp/"), Just("OTPAUTH://"), Just("otpauth:")],
    ) {
        let text = format!("{head}{tail}");
        if let Ok(key) = KeyUri::parse(&text) {
            // Whatever parses re-renders to a URI that parses to the same key.
            prop_assert_eq!(KeyUri::parse(&key.to_uri_exposed()).unwrap(), key);
        }
    }

    #[test]
    fn codes_have_the_configured_digits_and_verify_within_the_window(
        secret in proptest::collection::vec(any::<u8>(), 16..64),
        algorithm in algorithm(),
        digits in 6_u8..=8,
        now in 100_u64..(1 << 40),
        offset in -3_i64..=3,
        skew in 0_u8..=2,
    ) {
        let totp = Totp::new(Secret::from_bytes(&secret).unwrap())
            .with_algorithm(algorithm)
            .with_digits(digits).unwrap()
            .with_skew(skew)
            .with_throttle(Throttle::new(u32::MAX, 0, 0).with_lock_after(None));
        let at = now.checked_add_signed(offset * 30).unwrap();
        let code = totp.code_at(at);
        prop_assert_eq!(code.len(), usize::from(digits));
        prop_assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let mut state = FactorState::new();
        let result = totp.verify(&code, now, &mut state);
        if offset.unsigned_abs() <= u64::from(skew) {
            prop_assert_eq!(result, Ok(at / 30));
        } else if let Ok(step) = result {
            // Only a coincidence of codes (probability 10^-digits per step)
            // can accept a code from outside the window, and then for a step
            // inside it.
            prop_assert!(step.abs_diff(now / 30) <= u64::from(skew));
        }
    }
}
