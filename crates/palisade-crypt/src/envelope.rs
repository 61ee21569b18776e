//! The field ciphertext envelope: a small, versioned binary format and its
//! text token form. The layout is documented byte by byte in the README.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::aead::{self, Backend, TAG_LEN, Tag, XNONCE_LEN};
use crate::key::{KEY_LEN, SecretKey, fill_random};
use crate::{Context, Error, Result};

/// Format version of the field envelope.
pub(crate) const VERSION: u8 = 2;
/// Length of the XChaCha20 nonce.
pub(crate) const NONCE_LEN: usize = XNONCE_LEN;
/// Length of the key commitment.
pub(crate) const COMMITMENT_LEN: usize = 32;
/// Length of the header: version, key id, nonce, commitment.
pub(crate) const HEADER_LEN: usize = 1 + 4 + NONCE_LEN + COMMITMENT_LEN;
/// Smallest envelope: header and tag around an empty plaintext.
pub(crate) const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Prefix of the text token.
pub const TOKEN_PREFIX: &str = "pcrypt:";

const INFO_KEY: &[u8] = b"palisade-crypt v2 field key";
const INFO_COMMIT: &[u8] = b"palisade-crypt v2 field commit";

/// A field ciphertext: the binary envelope, checked for shape (version,
/// lengths) but not yet authenticated.
///
/// Its text form ([`Ciphertext::to_token`], `Display`, serde) is
/// `pcrypt:` followed by the envelope in unpadded base64url.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ciphertext {
    bytes: Vec<u8>,
}

impl Ciphertext {
    /// Parses a binary envelope strictly: known version, complete header and
    /// tag. Authentication happens on decryption.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let version = *bytes
            .first()
            .ok_or_else(|| Error::CiphertextMalformed("empty ciphertext"))?;
        if version != VERSION {
            return Err(Error::VersionUnsupported(version));
        }
        if bytes.len() < OVERHEAD {
            return Err(Error::CiphertextMalformed(
                "shorter than the header and tag",
            ));
        }
        Ok(Self {
            bytes: bytes.to_vec(),
        })
    }

    /// Parses the text token (`pcrypt:` + unpadded base64url), strictly:
    /// exact prefix, canonical base64url, then [`Ciphertext::from_bytes`].
    pub fn from_token(token: &str) -> Result<Self> {
        let body = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or_else(|| Error::CiphertextMalformed("token does not start with `pcrypt:`"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| Error::CiphertextMalformed("token is not canonical base64url"))?;
        Self::from_bytes(&bytes)
    }

    /// The text token.
    pub fn to_token(&self) -> String {
        let mut token = String::with_capacity(TOKEN_PREFIX.len() + self.bytes.len() * 4 / 3 + 4);
        token.push_str(TOKEN_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&self.bytes, &mut token);
        token
    }

    /// The binary envelope.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The id of the key that encrypted it (read from the header; not
    /// authenticated until decryption).
    pub fn key_id(&self) -> u32 {
        let mut id = [0u8; 4];
        if let Some(bytes) = self.bytes.get(1..5) {
            id.copy_from_slice(bytes);
        }
        u32::from_be_bytes(id)
    }

    /// Length of the plaintext inside.
    pub fn plaintext_len(&self) -> usize {
        self.bytes.len().saturating_sub(OVERHEAD)
    }
}

impl fmt::Display for Ciphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_token())
    }
}

impl fmt::Debug for Ciphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ciphertext")
            .field("key_id", &self.key_id())
            .field("plaintext_len", &self.plaintext_len())
            .finish()
    }
}

impl std::str::FromStr for Ciphertext {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_token(s)
    }
}

impl serde::Serialize for Ciphertext {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_token())
    }
}

impl<'de> serde::Deserialize<'de> for Ciphertext {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let token = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::from_token(&token).map_err(serde::de::Error::custom)
    }
}

/// The two keys a field key splits into, derived once when the key is
/// loaded: the XChaCha20-Poly1305 key and the key commitment, each
/// HKDF-Expand-SHA256(PRK = key, info = label). The key is already uniformly
/// random, so HKDF-Extract is skipped (RFC 5869, section 3.3). Both are
/// wiped on drop.
#[derive(Clone)]
pub(crate) struct FieldKey {
    encryption: SecretKey,
    commitment: Zeroizing<[u8; COMMITMENT_LEN]>,
}

impl FieldKey {
    /// Derives the encryption key and the commitment from `key`.
    pub(crate) fn derive(key: &SecretKey) -> Result<Self> {
        let hkdf = Hkdf::<Sha256>::from_prk(key.as_bytes())
            .map_err(|_| Error::CiphertextMalformed("key must be 32 bytes"))?;
        let mut encryption = SecretKey::from_bytes([0u8; KEY_LEN]);
        let mut commitment = Zeroizing::new([0u8; COMMITMENT_LEN]);
        hkdf.expand(INFO_KEY, encryption.as_bytes_mut())
            .and_then(|()| hkdf.expand(INFO_COMMIT, commitment.as_mut()))
            .map_err(|_| Error::CiphertextMalformed("key derivation length"))?;
        Ok(Self {
            encryption,
            commitment,
        })
    }

    #[cfg(test)]
    pub(crate) fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }
}

impl fmt::Debug for FieldKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldKey").finish_non_exhaustive()
    }
}

/// Room on the stack for the associated data: the header and a context of
/// up to 451 encoded bytes (a few labels and ids). Larger ones go to the heap.
const AAD_ON_STACK: usize = 512;

/// Calls `f` with the associated data: `header` ‖ the context's encoding.
fn with_aad<T>(header: &[u8], context: &Context, f: impl FnOnce(&[u8]) -> T) -> T {
    let mut stack = [0u8; AAD_ON_STACK];
    if let Some((head, rest)) = stack.split_at_mut_checked(header.len()) {
        head.copy_from_slice(header);
        if let Some(aad) = context
            .encode_to(rest)
            .and_then(|len| stack.get(..header.len() + len))
        {
            return f(aad);
        }
    }
    let mut heap = Vec::with_capacity(header.len() + context.encoded_len());
    heap.extend_from_slice(header);
    context.encode_into(&mut heap);
    f(&heap)
}

/// Encrypts under `key` with a fresh random nonce.
pub(crate) fn seal(
    key_id: u32,
    key: &FieldKey,
    context: &Context,
    plaintext: &[u8],
) -> Result<Ciphertext> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    seal_with_nonce::<aead::Active>(key_id, key, &nonce, context, plaintext)
}

/// Encrypts with a given nonce and backend: only for known-answer and
/// differential tests, and `seal`.
pub(crate) fn seal_with_nonce<B: Backend>(
    key_id: u32,
    key: &FieldKey,
    nonce: &[u8; NONCE_LEN],
    context: &Context,
    plaintext: &[u8],
) -> Result<Ciphertext> {
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.push(VERSION);
    out.extend_from_slice(&key_id.to_be_bytes());
    out.extend_from_slice(nonce);
    out.extend_from_slice(key.commitment.as_ref());
    out.extend_from_slice(plaintext);
    let (header, body) = out
        .split_at_mut_checked(HEADER_LEN)
        .ok_or_else(|| Error::CiphertextMalformed("header"))?;
    let tag = with_aad(header, context, |aad| {
        B::xseal(key.encryption.as_bytes(), nonce, aad, body)
    })?;
    out.extend_from_slice(&tag);
    Ok(Ciphertext { bytes: out })
}

/// Compares a stored commitment with the key's in constant time, as four
/// 64-bit words (`subtle` compares slices element by element, with an
/// optimization barrier on each: 32 of them for bytes).
fn commitment_matches(expected: &[u8; COMMITMENT_LEN], stored: &[u8]) -> bool {
    let Ok(stored) = <&[u8; COMMITMENT_LEN]>::try_from(stored) else {
        return false;
    };
    let words = |bytes: &[u8; COMMITMENT_LEN]| -> [u64; COMMITMENT_LEN / 8] {
        let mut out = [0u64; COMMITMENT_LEN / 8];
        for (word, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(chunk);
            *word = u64::from_le_bytes(le);
        }
        out
    };
    bool::from(words(expected)[..].ct_eq(&words(stored)[..]))
}

/// Checks the commitment in constant time, then decrypts.
pub(crate) fn open(
    key: &FieldKey,
    ciphertext: &Ciphertext,
    context: &Context,
) -> Result<Zeroizing<Vec<u8>>> {
    open_with::<aead::Active>(key, ciphertext, context)
}

/// `open` with a given backend.
pub(crate) fn open_with<B: Backend>(
    key: &FieldKey,
    ciphertext: &Ciphertext,
    context: &Context,
) -> Result<Zeroizing<Vec<u8>>> {
    let bytes = ciphertext.as_bytes();
    let (header, rest) = bytes
        .split_at_checked(HEADER_LEN)
        .ok_or_else(|| Error::CiphertextMalformed("shorter than the header and tag"))?;
    let body_len = rest
        .len()
        .checked_sub(TAG_LEN)
        .ok_or_else(|| Error::CiphertextMalformed("shorter than the header and tag"))?;
    let (body, tag) = rest.split_at(body_len);
    let tag: &Tag = tag
        .try_into()
        .map_err(|_| Error::CiphertextMalformed("tag"))?;
    let nonce: &[u8; NONCE_LEN] = header
        .get(5..5 + NONCE_LEN)
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| Error::CiphertextMalformed("header"))?;
    let stored_commitment = header
        .get(5 + NONCE_LEN..)
        .ok_or_else(|| Error::CiphertextMalformed("header"))?;
    if !commitment_matches(&key.commitment, stored_commitment) {
        return Err(Error::Unauthenticated);
    }
    let mut plaintext = Zeroizing::new(body.to_vec());
    with_aad(header, context, |aad| {
        B::xopen(key.encryption.as_bytes(), nonce, aad, &mut plaintext, tag)
    })?;
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn hex(s: &str) -> Vec<u8> {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .unwrap()
    }

    /// Known answers from `tests/data/make_kat.py`, an independent Python
    /// implementation of the README's format on libsodium.
    #[test]
    fn known_answers_from_the_independent_implementation() {
        let kat: Value = serde_json::from_str(include_str!("../tests/data/kat.json")).unwrap();
        let key = SecretKey::from_slice(&hex(kat["key"].as_str().unwrap())).unwrap();
        let key = FieldKey::derive(&key).unwrap();
        let nonce: [u8; NONCE_LEN] = hex(kat["nonce"].as_str().unwrap()).try_into().unwrap();
        let mut context = Context::new();
        for (label, value) in kat["context"].as_object().unwrap() {
            context = context.with(label, value.as_str().unwrap());
        }
        let fields = kat["fields"].as_array().unwrap();
        assert_eq!(fields.len(), 3);
        for field in fields {
            let key_id = u32::try_from(field["key_id"].as_u64().unwrap()).unwrap();
            let plaintext = hex(field["plaintext"].as_str().unwrap());
            let expected = hex(field["envelope"].as_str().unwrap());
            let sealed =
                seal_with_nonce::<aead::Active>(key_id, &key, &nonce, &context, &plaintext)
                    .unwrap();
            assert_eq!(sealed.as_bytes(), &expected[..], "key id {key_id}");
            assert_eq!(&open(&key, &sealed, &context).unwrap()[..], &plaintext[..]);
        }
    }

    /// Every single-bit change of the stored commitment is refused before
    /// decryption, and so is a commitment of another length.
    #[test]
    fn every_bit_of_the_commitment_is_checked() {
        let key = FieldKey::derive(&SecretKey::from_bytes([3; 32])).unwrap();
        let context = Context::field("t", "c", "1");
        let sealed =
            seal_with_nonce::<aead::Active>(7, &key, &[1; NONCE_LEN], &context, b"x").unwrap();
        assert_eq!(&open(&key, &sealed, &context).unwrap()[..], b"x");
        let start = 5 + NONCE_LEN;
        for bit in 0..COMMITMENT_LEN * 8 {
            let mut bytes = sealed.as_bytes().to_vec();
            bytes[start + bit / 8] ^= 1 << (bit % 8);
            let tampered = Ciphertext::from_bytes(&bytes).unwrap();
            assert!(
                matches!(open(&key, &tampered, &context), Err(Error::Unauthenticated)),
                "bit {bit}"
            );
        }
        let expected = key.commitment();
        assert!(commitment_matches(expected, &expected[..]));
        assert!(!commitment_matches(
            expected,
            &expected[..COMMITMENT_LEN - 1]
        ));
        assert!(!commitment_matches(
            expected,
            &[expected.as_slice(), &[0]].concat()
        ));
    }

    #[test]
    fn layout_matches_the_readme() {
        let key = FieldKey::derive(&SecretKey::from_bytes([9; 32])).unwrap();
        let nonce = [5u8; NONCE_LEN];
        let sealed =
            seal_with_nonce::<aead::Active>(0x0102_0304, &key, &nonce, &Context::new(), b"abc")
                .unwrap();
        let bytes = sealed.as_bytes();
        assert_eq!(bytes.len(), OVERHEAD + 3);
        assert_eq!(bytes[0], 2);
        assert_eq!(&bytes[1..5], &[1, 2, 3, 4]);
        assert_eq!(&bytes[5..29], &nonce);
        assert_eq!(&bytes[29..61], key.commitment());
        assert_eq!(sealed.key_id(), 0x0102_0304);
        assert_eq!(sealed.plaintext_len(), 3);
    }

    /// The ring backend's envelopes are byte for byte the pure-Rust
    /// backend's, and each opens the other's.
    #[cfg(feature = "ring")]
    mod differential {
        use super::*;
        use crate::aead::RustCrypto;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            #[test]
            fn backends_seal_the_same_envelope_and_open_each_other(
                key in any::<[u8; 32]>(),
                key_id in any::<u32>(),
                nonce in any::<[u8; NONCE_LEN]>(),
                pairs in proptest::collection::vec(("[a-z]{1,8}", proptest::collection::vec(any::<u8>(), 0..40)), 0..6),
                long_value in proptest::option::of(proptest::collection::vec(any::<u8>(), 400..700)),
                plaintext in proptest::collection::vec(any::<u8>(), 0..1100),
            ) {
                let key = FieldKey::derive(&SecretKey::from_bytes(key)).unwrap();
                let mut context = Context::new();
                for (label, value) in &pairs {
                    context = context.with(label, value);
                }
                // Associated data past the stack buffer goes to the heap.
                if let Some(value) = long_value {
                    context = context.with("long", value);
                }
                let by_active = seal_with_nonce::<aead::Active>(key_id, &key, &nonce, &context, &plaintext).unwrap();
                let by_rust = seal_with_nonce::<RustCrypto>(key_id, &key, &nonce, &context, &plaintext).unwrap();
                prop_assert_eq!(by_active.as_bytes(), by_rust.as_bytes());
                prop_assert_eq!(&open_with::<aead::Active>(&key, &by_rust, &context).unwrap()[..], &plaintext[..]);
                prop_assert_eq!(&open_with::<RustCrypto>(&key, &by_active, &context).unwrap()[..], &plaintext[..]);
                let other = context.clone().with("row", "other");
                prop_assert!(open_with::<aead::Active>(&key, &by_rust, &other).is_err());
            }
        }
    }
}
