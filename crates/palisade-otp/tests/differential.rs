//! Differential tests against pyotp: codes and provisioning URIs produced by
//! `tests/data/gen_pyotp_vectors.py` (committed with its output).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on malformed vector files"
)]

use palisade_otp::{FactorState, Hotp, KeyUri, Secret, Throttle, Totp};

#[test]
fn codes_agree_with_pyotp() {
    let mut totp_rows = 0;
    let mut hotp_rows = 0;
    for line in include_str!("data/pyotp-codes.txt").lines() {
        if line.starts_with('#') {
            continue;
        }
        let [kind, algorithm, digits, period, secret, at, expected] =
            line.split(' ').collect::<Vec<_>>()[..]
        else {
            panic!("malformed line {line}")
        };
        let secret = Secret::from_base32(secret).unwrap();
        let algorithm = algorithm.parse().unwrap();
        let digits: u8 = digits.parse().unwrap();
        let at: u64 = at.parse().unwrap();
        match kind {
            "totp" => {
                let totp = Totp::new(secret)
                    .with_algorithm(algorithm)
                    .with_digits(digits)
                    .unwrap()
                    .with_period(period.parse().unwrap())
                    .unwrap();
                assert_eq!(&*totp.code_at(at), expected, "{line}");
                // And the verifier accepts it, reporting the step.
                let mut state = FactorState::new();
                assert_eq!(totp.verify(expected, at, &mut state), Ok(totp.step_at(at)));
                totp_rows += 1;
            }
            "hotp" => {
                let hotp = Hotp::new(secret)
                    .with_algorithm(algorithm)
                    .with_digits(digits)
                    .unwrap()
                    .with_throttle(Throttle::default());
                assert_eq!(&*hotp.code(at), expected, "{line}");
                hotp_rows += 1;
            }
            other => panic!("unknown kind {other}"),
        }
    }
    assert_eq!((totp_rows, hotp_rows), (1500, 500));
}

#[test]
fn pyotp_uris_parse_to_the_same_fields() {
    let lines: Vec<&str> = include_str!("data/pyotp-uris.txt")
        .lines()
        .skip(2) // the two header lines; names may themselves start with `#`
        .collect();
    assert_eq!(lines.len(), 4 * 300);
    for block in lines.chunks(4) {
        let [uri, secret, issuer, account] = block else {
            panic!("short block {block:?}")
        };
        let key = KeyUri::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(&*key.secret().to_base32_exposed(), *secret, "{uri}");
        assert_eq!(key.issuer(), Some(*issuer), "{uri}");
        assert_eq!(key.account(), *account, "{uri}");
        // Our own rendering of the same key parses back to the same key.
        let again = KeyUri::parse(&key.to_uri_exposed()).unwrap();
        assert_eq!(again, key, "{uri}");
    }
}
