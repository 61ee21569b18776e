//! RustCrypto's pure-Rust `chacha20poly1305`.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, XChaCha20Poly1305};

use super::{Backend, ChunkKey, NONCE_LEN, Tag, XNONCE_LEN};
use crate::key::KEY_LEN;
use crate::{Error, Result};

/// The RustCrypto backend.
pub(crate) struct RustCrypto;

impl ChunkKey for ChaCha20Poly1305 {
    fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<Tag> {
        self.encrypt_in_place_detached(nonce.into(), aad, buf)
            .map(Into::into)
            .map_err(|_| Error::CiphertextMalformed("plaintext too long"))
    }

    fn open_within(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        src: usize,
        tag: &Tag,
    ) -> Result<()> {
        let len = buf
            .len()
            .checked_sub(src)
            .ok_or_else(|| Error::CiphertextMalformed("chunk bounds"))?;
        if src > 0 {
            buf.copy_within(src.., 0);
        }
        let body = buf
            .get_mut(..len)
            .ok_or_else(|| Error::CiphertextMalformed("chunk bounds"))?;
        // Checks the tag before decrypting: on failure `body` still holds
        // the ciphertext.
        self.decrypt_in_place_detached(nonce.into(), aad, body, tag.into())
            .map_err(|_| Error::Unauthenticated)
    }
}

impl Backend for RustCrypto {
    type ChunkKey = ChaCha20Poly1305;

    fn chunk_key(key: &[u8; KEY_LEN]) -> Result<ChaCha20Poly1305> {
        Ok(ChaCha20Poly1305::new(key.into()))
    }

    fn xseal(
        key: &[u8; KEY_LEN],
        nonce: &[u8; XNONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<Tag> {
        XChaCha20Poly1305::new(key.into())
            .encrypt_in_place_detached(nonce.into(), aad, buf)
            .map(Into::into)
            .map_err(|_| Error::CiphertextMalformed("plaintext too long"))
    }

    fn xopen(
        key: &[u8; KEY_LEN],
        nonce: &[u8; XNONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &Tag,
    ) -> Result<()> {
        XChaCha20Poly1305::new(key.into())
            .decrypt_in_place_detached(nonce.into(), aad, buf, tag.into())
            .map_err(|_| Error::Unauthenticated)
    }
}
