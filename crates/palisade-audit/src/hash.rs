//! `Hash`: a SHA-256 digest, shown and parsed as 64 lowercase hex digits.

use std::fmt;
use std::str::FromStr;

use data_encoding::HEXLOWER;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, error::malformed};

/// A SHA-256 digest: a leaf hash, a Merkle root, a payload commitment.
///
/// Shown (`Display`, serde) and parsed (`FromStr`, serde) as 64 lowercase hex
/// digits; parsing is strict, so every hash has one text form.
///
/// Equality is the ordinary, variable-time comparison: every `Hash` of this
/// crate is public evidence (leaf hashes, roots and commitments are printed,
/// exported in bundles and signed in checkpoints), so its comparison has no
/// secret to leak. Secrets (payload salts, signing keys) are not `Hash`es.
///
/// ```
/// use palisade_audit::Hash;
///
/// let h: Hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".parse()?;
/// assert_eq!(h.as_bytes()[0], 0xe3);
/// assert_eq!(h.to_string().len(), 64);
/// assert!("E3B0".parse::<Hash>().is_err());
/// # Ok::<(), palisade_audit::Error>(())
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash([u8; 32]);

impl Hash {
    /// The all-zero hash: the `previous` of the first record.
    pub const ZERO: Hash = Hash([0; 32]);

    /// The hash with these bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Hash {
        Hash(bytes)
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 32 bytes, by value.
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// Parses 32 bytes from a slice of exactly that length.
    pub fn from_slice(bytes: &[u8]) -> Result<Hash, Error> {
        <[u8; 32]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| malformed("hash", format!("{} bytes, not 32", bytes.len())))
    }
}

impl From<[u8; 32]> for Hash {
    fn from(bytes: [u8; 32]) -> Hash {
        Hash(bytes)
    }
}

impl From<Hash> for [u8; 32] {
    fn from(hash: Hash) -> [u8; 32] {
        hash.0
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&HEXLOWER.encode(&self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl FromStr for Hash {
    type Err = Error;

    fn from_str(text: &str) -> Result<Hash, Error> {
        let bad = || malformed("hash", "expected 64 lowercase hex digits");
        if text.len() != 64 {
            return Err(bad());
        }
        let bytes = HEXLOWER.decode(text.as_bytes()).map_err(|_| bad())?;
        Hash::from_slice(&bytes).map_err(|_| bad())
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom("expected 64 lowercase hex digits"))
    }
}

/// Serde for proofs: lists of at most 64 hashes (no proof in a tree of 2^64
/// leaves is longer), so a hostile bundle cannot make the parser allocate
/// without bound.
pub(crate) mod serde_proof {
    use serde::de::{SeqAccess, Visitor};
    use serde::{Deserializer, Serialize, Serializer};

    use super::Hash;

    const MAX_PROOF: usize = 64;

    pub(crate) fn serialize<S: Serializer>(hs: &[Hash], s: S) -> Result<S::Ok, S::Error> {
        hs.serialize(s)
    }

    struct Hashes;

    impl<'de> Visitor<'de> for Hashes {
        type Value = Vec<Hash>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of at most 64 hashes in hex")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Hash>, A::Error> {
            let mut out = Vec::new();
            while let Some(h) = seq.next_element::<Hash>()? {
                if out.len() == MAX_PROOF {
                    return Err(serde::de::Error::custom("proof too long"));
                }
                out.push(h);
            }
            Ok(out)
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
        d.deserialize_seq(Hashes)
    }
}

/// Serde for byte strings as lowercase hex (a bundle's record encodings and
/// salts).
pub(crate) mod serde_hex {
    use data_encoding::HEXLOWER;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer, B: AsRef<[u8]>>(b: &B, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&HEXLOWER.encode(b.as_ref()))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>, B: TryFrom<Vec<u8>>>(
        d: D,
    ) -> Result<B, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes = HEXLOWER
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("expected lowercase hex"))?;
        B::try_from(bytes).map_err(|_| serde::de::Error::custom("wrong length"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_is_strict() {
        let h = Hash::from_bytes([0xab; 32]);
        assert_eq!(h.to_string(), "ab".repeat(32));
        assert_eq!(h.to_string().parse::<Hash>().unwrap(), h);
        assert_eq!(format!("{h:?}"), format!("Hash({})", "ab".repeat(32)));
        for bad in [
            "",
            &"AB".repeat(32),
            &"ab".repeat(31),
            &"ab".repeat(33),
            &"zz".repeat(32),
        ] {
            assert!(bad.parse::<Hash>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
        assert!(serde_json::from_str::<Hash>("\"ab\"").is_err());
    }
}
