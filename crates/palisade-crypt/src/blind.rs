//! Blind indexes: keyed, truncated HMACs of normalized plaintext for equality
//! search on encrypted columns (CipherSweet's design).

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::key::{KEY_LEN, SecretKey};
use crate::{Error, Result};

const INDEX_SALT: &[u8] = b"palisade-crypt v1 blind index";

/// How a value is normalized before it is indexed, so that equal-meaning
/// inputs find each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalizer {
    /// The value as given.
    Exact,
    /// Surrounding whitespace trimmed, then lowercased (Unicode): e-mail
    /// addresses, names.
    CaseInsensitive,
    /// ASCII digits only: phone numbers, identifiers typed with separators.
    Digits,
    /// The last `n` ASCII digits (all of them if there are fewer): "last 4
    /// digits of the card or social security number".
    LastDigits(usize),
}

impl Normalizer {
    /// The normalized value (wiped on drop).
    pub fn apply(&self, value: &str) -> Zeroizing<String> {
        Zeroizing::new(match self {
            Self::Exact => value.to_owned(),
            Self::CaseInsensitive => value.trim().to_lowercase(),
            Self::Digits => value.chars().filter(char::is_ascii_digit).collect(),
            Self::LastDigits(n) => {
                let digits: Zeroizing<Vec<char>> =
                    Zeroizing::new(value.chars().filter(char::is_ascii_digit).collect());
                let start = digits.len().saturating_sub(*n);
                digits.get(start..).unwrap_or_default().iter().collect()
            }
        })
    }
}

impl FromStr for Normalizer {
    type Err = Error;

    /// `exact`, `lowercase`, `digits` or `last<N>` (e.g. `last4`).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "exact" => Ok(Self::Exact),
            "lowercase" => Ok(Self::CaseInsensitive),
            "digits" => Ok(Self::Digits),
            _ => s
                .strip_prefix("last")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .map(Self::LastDigits)
                .ok_or_else(|| {
                    Error::IndexInvalid(format!(
                        "unknown normalizer `{s}`: use `exact`, `lowercase`, `digits` or `last4`"
                    ))
                }),
        }
    }
}

/// One blind index: HMAC-SHA256 under a key derived for this index alone,
/// truncated to a chosen number of bits.
///
/// Truncation is what keeps the index from being a perfect fingerprint: with
/// `R` rows and `L` bits, each index value is shared on average by
/// `C = R / 2^L` rows (coincidences). Choose `L` with [`safe_index_bits`].
pub struct BlindIndex {
    name: String,
    key: SecretKey,
    bits: u32,
    normalizer: Normalizer,
}

impl BlindIndex {
    pub(crate) fn new(
        root: &SecretKey,
        name: &str,
        bits: u32,
        normalizer: Normalizer,
    ) -> Result<Self> {
        if !(1..=256).contains(&bits) {
            return Err(Error::IndexInvalid(format!(
                "`{bits}` bits is outside 1..=256"
            )));
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        Hkdf::<Sha256>::new(Some(INDEX_SALT), root.as_bytes())
            .expand(name.as_bytes(), key.as_mut())
            .map_err(|_| Error::IndexInvalid("key derivation".into()))?;
        Ok(Self {
            name: name.to_owned(),
            key: SecretKey::from_bytes(*key),
            bits,
            normalizer,
        })
    }

    /// The index name (also the key derivation label).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Output size in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The index value of `value` after normalization.
    pub fn compute(&self, value: &str) -> BlindIndexValue {
        let normalized = self.normalizer.apply(value);
        self.compute_raw(normalized.as_bytes())
    }

    /// The index value of raw bytes, without normalization.
    pub fn compute_raw(&self, value: &[u8]) -> BlindIndexValue {
        // HMAC accepts keys of any length: this cannot fail.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_bytes())
            .map(|mac| mac.chain_update(value).finalize().into_bytes());
        let digest: [u8; 32] = mac.map(Into::into).unwrap_or([0; 32]);
        let bytes = usize::try_from(self.bits.div_ceil(8)).unwrap_or(32);
        let mut out = digest.get(..bytes).unwrap_or(&digest).to_vec();
        let spare = (8 - self.bits % 8) % 8;
        if let Some(last) = out.last_mut() {
            *last &= 0xffu8 << spare;
        }
        BlindIndexValue { bytes: out }
    }
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindIndex")
            .field("name", &self.name)
            .field("bits", &self.bits)
            .field("normalizer", &self.normalizer)
            .finish_non_exhaustive()
    }
}

/// A blind index value: the first `bits` bits of the HMAC (the unused low
/// bits of the last byte are zero). Shown as lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlindIndexValue {
    bytes: Vec<u8>,
}

impl BlindIndexValue {
    /// The value as bytes (`ceil(bits / 8)` of them).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The value as lowercase hex, for a database column.
    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.bytes)
    }
}

impl fmt::Display for BlindIndexValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The safe sizes, in bits, for a new blind index on a column of about
/// `rows` rows that already carries blind indexes totalling `existing_bits`.
///
/// CipherSweet's coincidence guidance: with `R` rows and `T` index bits in
/// total, an index value is shared on average by `C = R / 2^T` rows. Keep
/// `2 <= C < sqrt(R)`: at least two rows per value so that a value does not
/// single out a row, and fewer than `sqrt(R)` so that the index still
/// narrows a search. Hence `log2(R) / 2 < T <= log2(R) - 1`, computed here
/// exactly in integers: the upper bound is `floor(log2 R) - 1`, the lower is
/// the smallest `T` with `4^T > R`. Prefer the upper end (fewest false
/// positives that is still safe).
///
/// ```
/// // 50 000 customers, first index on the column:
/// assert_eq!(palisade_crypt::safe_index_bits(50_000, 0)?, 8..=14);
/// # Ok::<(), palisade_crypt::Error>(())
/// ```
pub fn safe_index_bits(rows: u64, existing_bits: u32) -> Result<RangeInclusive<u32>> {
    if rows < 2 {
        return Err(Error::IndexInvalid(format!(
            "no safe size for `{rows}` rows"
        )));
    }
    let total_max = rows.ilog2().saturating_sub(1);
    let mut total_min = 0u32;
    while (1u128 << (2 * total_min)) <= u128::from(rows) {
        total_min += 1;
    }
    let max = total_max.saturating_sub(existing_bits).min(256);
    let min = total_min.saturating_sub(existing_bits).max(1);
    if total_max < existing_bits || min > max {
        return Err(Error::IndexInvalid(format!(
            "no safe size for `{rows}` rows with `{existing_bits}` bits already indexed"
        )));
    }
    Ok(min..=max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizers() {
        assert_eq!(
            *Normalizer::CaseInsensitive.apply("  Alice@Example.COM \n"),
            "alice@example.com"
        );
        assert_eq!(
            *Normalizer::Digits.apply("+1 (555) 010-9999"),
            "15550109999"
        );
        assert_eq!(
            *Normalizer::LastDigits(4).apply("4111 1111 1111 1234"),
            "1234"
        );
        assert_eq!(*Normalizer::LastDigits(4).apply("12"), "12");
        assert_eq!(
            "last4".parse::<Normalizer>().unwrap(),
            Normalizer::LastDigits(4)
        );
        assert!("last0".parse::<Normalizer>().is_err());
        assert!("upper".parse::<Normalizer>().is_err());
    }

    #[test]
    fn planner_matches_the_guidance() {
        assert_eq!(safe_index_bits(50_000, 0).unwrap(), 8..=14);
        assert_eq!(safe_index_bits(50_000, 4).unwrap(), 4..=10);
        assert_eq!(safe_index_bits(1 << 20, 0).unwrap(), 11..=19);
        assert!(safe_index_bits(4, 0).is_err());
        assert!(safe_index_bits(50_000, 14).is_err());
        // Check the bounds against the definition C = R / 2^L.
        for rows in [10u64, 1000, 65_537, 1 << 30, (1 << 40) + 12_345] {
            let range = safe_index_bits(rows, 0).unwrap();
            let c = |bits: u32| rows as f64 / 2f64.powi(bits as i32);
            assert!(
                c(*range.end()) >= 2.0 && c(*range.end() + 1) < 2.0,
                "{rows}"
            );
            assert!(c(*range.start()) < (rows as f64).sqrt(), "{rows}");
            assert!(c(*range.start() - 1) >= (rows as f64).sqrt(), "{rows}");
        }
    }

    #[test]
    fn truncation_zeroes_spare_bits() {
        let root = SecretKey::from_bytes([7; 32]);
        let index = BlindIndex::new(&root, "email", 13, Normalizer::Exact).unwrap();
        let value = index.compute("x");
        assert_eq!(value.as_bytes().len(), 2);
        assert_eq!(value.as_bytes()[1] & 0b0000_0111, 0);
        let full = BlindIndex::new(&root, "email", 256, Normalizer::Exact).unwrap();
        assert_eq!(&full.compute("x").as_bytes()[..1], &value.as_bytes()[..1]);
        assert!(BlindIndex::new(&root, "email", 0, Normalizer::Exact).is_err());
        assert!(BlindIndex::new(&root, "email", 257, Normalizer::Exact).is_err());
    }
}
