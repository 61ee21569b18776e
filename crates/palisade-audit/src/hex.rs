//! Lowercase hexadecimal, strict on input, and its serde adapters.

use crate::merkle::Hash;

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(
            *DIGITS.get(usize::from(b >> 4)).unwrap_or(&b'0'),
        ));
        out.push(char::from(
            *DIGITS.get(usize::from(b & 15)).unwrap_or(&b'0'),
        ));
    }
    out
}

fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes lowercase hex; `None` on odd length or any other character.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| match pair {
            [h, l] => Some(digit(*h)? << 4 | digit(*l)?),
            _ => None,
        })
        .collect()
}

/// Decodes a 32-byte hash from lowercase hex.
pub fn hash_from_hex(text: &str) -> Option<Hash> {
    from_hex(text)?.try_into().ok()
}

pub(crate) mod serde_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::merkle::Hash;

    pub(crate) fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_hex(h))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let text = <&str>::deserialize(d)?;
        super::hash_from_hex(text).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

pub(crate) mod serde_hashes {
    use serde::de::{SeqAccess, Visitor};
    use serde::ser::SerializeSeq;
    use serde::{Deserializer, Serializer};

    use crate::merkle::Hash;

    /// No proof in a tree of 2^64 leaves is longer.
    const MAX_PROOF: usize = 64;

    pub(crate) fn serialize<S: Serializer>(hs: &[Hash], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(hs.len()))?;
        for h in hs {
            seq.serialize_element(&super::to_hex(h))?;
        }
        seq.end()
    }

    struct Hashes;

    impl<'de> Visitor<'de> for Hashes {
        type Value = Vec<Hash>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of at most 64 hashes in hex")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Hash>, A::Error> {
            let mut out = Vec::new();
            while let Some(text) = seq.next_element::<&str>()? {
                if out.len() == MAX_PROOF {
                    return Err(serde::de::Error::custom("proof too long"));
                }
                out.push(
                    super::hash_from_hex(text)
                        .ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))?,
                );
            }
            Ok(out)
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
        d.deserialize_seq(Hashes)
    }
}

pub(crate) mod serde_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_hex(b))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <&str>::deserialize(d)?;
        super::from_hex(text).ok_or_else(|| serde::de::Error::custom("expected lowercase hex"))
    }
}
