//! ring's ChaCha20-Poly1305 (BoringSSL's assembly), and XChaCha20-Poly1305
//! built on it with HChaCha20 from RustCrypto's `chacha20`.

use chacha20::cipher::consts::U10;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroize;

use super::{Backend, ChunkKey, NONCE_LEN, TAG_LEN, Tag, XNONCE_LEN};
use crate::key::KEY_LEN;
use crate::{Error, Result};

/// The ring backend.
pub(crate) struct Ring;

/// A ChaCha20-Poly1305 key inside ring, overwritten when dropped.
///
/// ring does not wipe its keys, and its key type has no way in: on drop the
/// key is replaced, in place, by a key of zeros. Like every Rust value, a
/// key the compiler moved may have left a copy behind on the stack.
pub(crate) struct RingKey(LessSafeKey);

impl RingKey {
    fn new(key: &[u8]) -> Result<Self> {
        UnboundKey::new(&CHACHA20_POLY1305, key)
            .map(|key| Self(LessSafeKey::new(key)))
            .map_err(|_| Error::CiphertextMalformed("key must be 32 bytes"))
    }
}

impl Drop for RingKey {
    fn drop(&mut self) {
        if let Ok(zeros) = UnboundKey::new(&CHACHA20_POLY1305, &[0; KEY_LEN]) {
            self.0 = LessSafeKey::new(zeros);
        }
        // The overwritten key counts as read, so the store is not elided.
        std::hint::black_box(&mut self.0);
    }
}

impl ChunkKey for RingKey {
    fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<Tag> {
        let tag = self
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), buf)
            .map_err(|_| Error::CiphertextMalformed("plaintext too long"))?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    fn open_within(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        src: usize,
        tag: &Tag,
    ) -> Result<()> {
        if src > buf.len() {
            return Err(Error::CiphertextMalformed("chunk bounds"));
        }
        self.0
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                ring::aead::Tag::from(*tag),
                buf,
                src..,
            )
            .map(|_| ())
            .map_err(|_| Error::Unauthenticated)
    }
}

/// Runs `f` with XChaCha20-Poly1305's ChaCha20-Poly1305 key and nonce for
/// one message (draft-irtf-cfrg-xchacha-03, section 2.3; libsodium's
/// construction): subkey = HChaCha20(key, nonce[..16]),
/// nonce = 0x00000000 ‖ nonce[16..]. The key is built in place and lent, not
/// returned: ring's key type is several hundred bytes, and every move copies
/// it.
fn with_subkey<T>(
    key: &[u8; KEY_LEN],
    nonce: &[u8; XNONCE_LEN],
    f: impl FnOnce(&RingKey, &[u8; NONCE_LEN]) -> Result<T>,
) -> Result<T> {
    let bounds = || Error::CiphertextMalformed("nonce must be 24 bytes");
    let (head, rest) = nonce.split_first_chunk::<16>().ok_or_else(bounds)?;
    let tail: &[u8; 8] = rest.try_into().map_err(|_| bounds())?;
    let mut sub = chacha20::hchacha::<U10>(key.into(), head.into());
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, &sub);
    sub.as_mut_slice().zeroize();
    let Ok(unbound) = unbound else {
        return Err(Error::CiphertextMalformed("key must be 32 bytes"));
    };
    let ring_key = RingKey(LessSafeKey::new(unbound));
    let mut chacha_nonce = [0u8; NONCE_LEN];
    if let Some((_, last)) = chacha_nonce.split_last_chunk_mut::<8>() {
        *last = *tail;
    }
    f(&ring_key, &chacha_nonce)
}

impl Backend for Ring {
    type ChunkKey = RingKey;

    fn chunk_key(key: &[u8; KEY_LEN]) -> Result<RingKey> {
        RingKey::new(key)
    }

    fn xseal(
        key: &[u8; KEY_LEN],
        nonce: &[u8; XNONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<Tag> {
        with_subkey(key, nonce, |key, nonce| key.seal(nonce, aad, buf))
    }

    fn xopen(
        key: &[u8; KEY_LEN],
        nonce: &[u8; XNONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &Tag,
    ) -> Result<()> {
        with_subkey(key, nonce, |key, nonce| {
            key.open_within(nonce, aad, buf, 0, tag)
        })
    }
}
