//! Known-answer tests: RFC 6238 Appendix B (all 18 rows) and RFC 4226
//! Appendix D (all 10 values), read from `tests/data/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on malformed vector files"
)]

use palisade_otp::{Algorithm, Hotp, Secret, Totp};

const SEED_SHA1: &[u8] = b"12345678901234567890";
const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

fn rows(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect())
        .collect()
}

#[test]
fn rfc6238_appendix_b() {
    let rows = rows(include_str!("data/rfc6238-appendix-b.txt"));
    assert_eq!(rows.len(), 18);
    for row in &rows {
        let [time, step_hex, expected, mode] = row[..] else {
            panic!("malformed row {row:?}")
        };
        let time: u64 = time.parse().unwrap();
        let algorithm: Algorithm = mode.parse().unwrap();
        let seed = match algorithm {
            Algorithm::Sha1 => SEED_SHA1,
            Algorithm::Sha256 => SEED_SHA256,
            Algorithm::Sha512 => SEED_SHA512,
        };
        let totp = Totp::new(Secret::from_bytes(seed).unwrap())
            .with_algorithm(algorithm)
            .with_digits(8)
            .unwrap();
        assert_eq!(
            totp.step_at(time),
            u64::from_str_radix(step_hex, 16).unwrap(),
            "{row:?}"
        );
        assert_eq!(&*totp.code_at(time), expected, "{row:?}");
    }
}

#[test]
fn rfc4226_appendix_d() {
    let rows = rows(include_str!("data/rfc4226-appendix-d.txt"));
    assert_eq!(rows.len(), 10);
    let hotp = Hotp::new(Secret::from_bytes(SEED_SHA1).unwrap());
    for row in &rows {
        let [count, expected] = row[..] else {
            panic!("malformed row {row:?}")
        };
        assert_eq!(&*hotp.code(count.parse().unwrap()), expected, "{row:?}");
    }
}
