//! Streaming encryption for files and backups: STREAM (Hoang, Reyhanitabar,
//! Rogaway, Vizár) over ChaCha20-Poly1305 in 64 KiB chunks, as in age.

use std::io::{self, Read, Write};

use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::aead::{self, Algorithm, TAG_LEN};
use crate::key::{KEY_LEN, SecretKey, fill_random};
use crate::{Context, Error, Keyring, Result};

/// Magic bytes that open a sealed stream.
pub(crate) const MAGIC: &[u8; 4] = b"PCST";
/// Stream format version.
pub(crate) const STREAM_VERSION: u8 = 1;
/// Plaintext bytes per chunk.
pub const CHUNK_LEN: usize = 64 * 1024;
const SALT_LEN: usize = 32;
const COMMITMENT_LEN: usize = 32;
/// Header bytes covered by the key derivation: magic, version, key id, salt.
const PREFIX_LEN: usize = 4 + 1 + 4 + SALT_LEN;
/// Whole header: prefix and commitment.
pub const STREAM_HEADER_LEN: usize = PREFIX_LEN + COMMITMENT_LEN;
const SEALED_CHUNK_LEN: usize = CHUNK_LEN + TAG_LEN;

const INFO_KEY: &[u8] = b"palisade-crypt v1 stream payload key";
const INFO_COMMIT: &[u8] = b"palisade-crypt v1 stream commitment";

fn derive(
    key: &SecretKey,
    prefix: &[u8; PREFIX_LEN],
    context: &Context,
) -> Result<(Zeroizing<[u8; KEY_LEN]>, [u8; COMMITMENT_LEN])> {
    let salt = prefix
        .get(PREFIX_LEN - SALT_LEN..)
        .ok_or(Error::CiphertextMalformed("stream header"))?;
    let hkdf = Hkdf::<Sha256>::new(Some(salt), key.as_bytes());
    let context = context.encode();
    let mut payload_key = Zeroizing::new([0u8; KEY_LEN]);
    let mut commitment = [0u8; COMMITMENT_LEN];
    hkdf.expand_multi_info(&[INFO_KEY, prefix, &context], payload_key.as_mut())
        .and_then(|()| hkdf.expand_multi_info(&[INFO_COMMIT, prefix, &context], &mut commitment))
        .map_err(|_| Error::CiphertextMalformed("key derivation length"))?;
    Ok((payload_key, commitment))
}

/// Chunk nonce: 11-byte big-endian counter, then 0x01 for the final chunk
/// and 0x00 otherwise.
fn nonce(counter: u64, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[3..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn slice_mut(buf: &mut [u8], range: std::ops::Range<usize>) -> Result<&mut [u8]> {
    buf.get_mut(range)
        .ok_or(Error::CiphertextMalformed("chunk bounds"))
}

impl Keyring {
    /// Encrypts everything `reader` yields into `writer` under the primary
    /// key, bound to `context`, in constant memory; returns the number of
    /// plaintext bytes.
    ///
    /// Format (see the README): a 73-byte header (magic `PCST`, version, key
    /// id, random salt, key commitment), then 64 KiB chunks, each sealed with
    /// ChaCha20-Poly1305 under a key derived from the keyring key, the header
    /// and the context, with nonce = 11-byte counter || last-chunk flag.
    pub fn seal_stream(
        &self,
        context: &Context,
        reader: impl Read,
        writer: impl Write,
    ) -> Result<u64> {
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt)?;
        self.seal_stream_with_salt(&salt, context, reader, writer)
    }

    /// `seal_stream` with a given salt: for known-answer tests.
    pub(crate) fn seal_stream_with_salt(
        &self,
        salt: &[u8; SALT_LEN],
        context: &Context,
        mut reader: impl Read,
        mut writer: impl Write,
    ) -> Result<u64> {
        let id = self.primary_id();
        let key = &self.primary_key()?.key;
        let mut header = [0u8; STREAM_HEADER_LEN];
        let mut prefix = [0u8; PREFIX_LEN];
        prefix[..4].copy_from_slice(MAGIC);
        prefix[4] = STREAM_VERSION;
        prefix[5..9].copy_from_slice(&id.to_be_bytes());
        prefix[9..].copy_from_slice(salt);
        let (payload_key, commitment) = derive(key, &prefix, context)?;
        header[..PREFIX_LEN].copy_from_slice(&prefix);
        header[PREFIX_LEN..].copy_from_slice(&commitment);
        writer.write_all(&header)?;

        // One spare byte past the chunk tells whether more input follows.
        let mut buf = Zeroizing::new(vec![0u8; SEALED_CHUNK_LEN + 1]);
        let mut pending = 0;
        let mut counter = 0u64;
        let mut total = 0u64;
        loop {
            let n = pending + read_full(&mut reader, slice_mut(&mut buf, pending..CHUNK_LEN + 1)?)?;
            let last = n <= CHUNK_LEN;
            let len = n.min(CHUNK_LEN);
            let carry = buf.get(CHUNK_LEN).copied().unwrap_or(0);
            let tag = aead::seal_in_place(
                Algorithm::ChaCha20Poly1305,
                payload_key.as_ref(),
                &nonce(counter, last),
                &[],
                slice_mut(&mut buf, 0..len)?,
            )?;
            slice_mut(&mut buf, len..len + TAG_LEN)?.copy_from_slice(&tag);
            writer.write_all(slice_mut(&mut buf, 0..len + TAG_LEN)?)?;
            total += len as u64;
            if last {
                break;
            }
            *slice_mut(&mut buf, 0..1)?
                .first_mut()
                .ok_or(Error::StreamTruncated)? = carry;
            pending = 1;
            counter += 1;
        }
        writer.flush()?;
        Ok(total)
    }

    /// Decrypts a sealed stream from `reader` into `writer` in constant
    /// memory; returns the number of plaintext bytes.
    ///
    /// Each chunk is written only after it authenticates, but a stream is
    /// only known to be complete when this returns `Ok`: write to a
    /// temporary file and move it into place on success. Errors:
    /// [`Error::StreamTruncated`] when the stream stops before its final
    /// chunk, [`Error::StreamTrailingData`] when bytes follow it,
    /// [`Error::Unauthenticated`] for a wrong key or context, reordered,
    /// modified or spliced chunks.
    pub fn open_stream(
        &self,
        context: &Context,
        mut reader: impl Read,
        mut writer: impl Write,
    ) -> Result<u64> {
        let mut header = [0u8; STREAM_HEADER_LEN];
        let got = read_full(&mut reader, &mut header)?;
        let parsed = parse_header(header.get(..got).unwrap_or_default())?;
        let key = &self.decryption_key(parsed.key_id)?.key;
        let (payload_key, commitment) = derive(key, &parsed.prefix, context)?;
        if !bool::from(commitment.ct_eq(&parsed.commitment)) {
            return Err(Error::Unauthenticated);
        }

        let mut buf = Zeroizing::new(vec![0u8; SEALED_CHUNK_LEN + 1]);
        let mut pending = 0;
        let mut counter = 0u64;
        let mut total = 0u64;
        loop {
            let n = pending
                + read_full(
                    &mut reader,
                    slice_mut(&mut buf, pending..SEALED_CHUNK_LEN + 1)?,
                )?;
            let more = n > SEALED_CHUNK_LEN;
            let sealed = n.min(SEALED_CHUNK_LEN);
            let Some(len) = sealed.checked_sub(TAG_LEN) else {
                return Err(Error::StreamTruncated);
            };
            if !more && len == 0 && counter > 0 {
                return Err(Error::CiphertextMalformed(
                    "empty final chunk after other chunks",
                ));
            }
            let carry = buf.get(SEALED_CHUNK_LEN).copied().unwrap_or(0);
            let mut tag = [0u8; TAG_LEN];
            tag.copy_from_slice(slice_mut(&mut buf, len..sealed)?);
            let attempt = |last: bool, buf: &mut [u8]| {
                aead::open_in_place(
                    Algorithm::ChaCha20Poly1305,
                    payload_key.as_ref(),
                    &nonce(counter, last),
                    &[],
                    buf,
                    &tag,
                )
            };
            let body = slice_mut(&mut buf, 0..len)?;
            if attempt(!more, body).is_err() {
                // Tell truncation and extension apart from tampering: a
                // failed open leaves the chunk untouched, so try the other
                // flag. Only a full chunk can be either.
                let other = len == CHUNK_LEN && attempt(more, body).is_ok();
                return Err(match (other, more) {
                    (true, false) => Error::StreamTruncated,
                    (true, true) => Error::StreamTrailingData,
                    (false, _) => Error::Unauthenticated,
                });
            }
            if more && len != CHUNK_LEN {
                return Err(Error::CiphertextMalformed("short chunk before the end"));
            }
            writer.write_all(body)?;
            total += len as u64;
            if !more {
                break;
            }
            *slice_mut(&mut buf, 0..1)?
                .first_mut()
                .ok_or(Error::StreamTruncated)? = carry;
            pending = 1;
            counter += 1;
        }
        writer.flush()?;
        Ok(total)
    }
}

struct Header {
    prefix: [u8; PREFIX_LEN],
    key_id: u32,
    commitment: [u8; COMMITMENT_LEN],
}

/// Parses a stream header strictly: exact length, magic, version.
fn parse_header(bytes: &[u8]) -> Result<Header> {
    if bytes.len() < 5 || bytes.get(..4) != Some(MAGIC) {
        return Err(Error::CiphertextMalformed("not a palisade-crypt stream"));
    }
    let version = bytes.get(4).copied().unwrap_or(0);
    if version != STREAM_VERSION {
        return Err(Error::VersionUnsupported(version));
    }
    let header: &[u8; STREAM_HEADER_LEN] = bytes
        .try_into()
        .map_err(|_| Error::CiphertextMalformed("stream header is truncated"))?;
    let (prefix, commitment) = header.split_at(PREFIX_LEN);
    let mut id = [0u8; 4];
    id.copy_from_slice(prefix.get(5..9).unwrap_or(&[0; 4]));
    Ok(Header {
        prefix: prefix
            .try_into()
            .map_err(|_| Error::CiphertextMalformed("stream header"))?,
        key_id: u32::from_be_bytes(id),
        commitment: commitment
            .try_into()
            .map_err(|_| Error::CiphertextMalformed("stream header"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use sha2::Digest;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| ((i * 31 + 7) % 256) as u8).collect()
    }

    /// Known answers from `tests/data/make_kat.py` (pyca/cryptography's
    /// ChaCha20-Poly1305 and hashlib's HMAC): exact bytes for chunk counts
    /// 1 to 4, including a plaintext of exactly one chunk.
    #[test]
    fn known_answers_from_the_independent_implementation() {
        let kat: Value = serde_json::from_str(include_str!("../tests/data/kat.json")).unwrap();
        let key: [u8; 32] = hex(kat["key"].as_str().unwrap()).try_into().unwrap();
        let salt: [u8; SALT_LEN] = hex(kat["salt"].as_str().unwrap()).try_into().unwrap();
        let mut context = Context::new();
        for (label, value) in kat["context"].as_object().unwrap() {
            context = context.with(label, value.as_str().unwrap());
        }
        let streams = kat["streams"].as_array().unwrap();
        assert_eq!(streams.len(), 6);
        for stream in streams {
            let key_id = u32::try_from(stream["key_id"].as_u64().unwrap()).unwrap();
            let len = usize::try_from(stream["plaintext_len"].as_u64().unwrap()).unwrap();
            let keyring = Keyring::from_key_bytes(&[(key_id, key)], [0; 32]).unwrap();
            let plaintext = pattern(len);
            let mut sealed = Vec::new();
            keyring
                .seal_stream_with_salt(&salt, &context, &plaintext[..], &mut sealed)
                .unwrap();
            assert_eq!(
                sealed.len() as u64,
                stream["sealed_len"].as_u64().unwrap(),
                "{len}"
            );
            let digest: String = sha2::Sha256::digest(&sealed)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(digest, stream["sealed_sha256"].as_str().unwrap(), "{len}");
            if let Some(full) = stream["sealed"].as_str() {
                assert_eq!(sealed, hex(full));
            }
            let mut opened = Vec::new();
            keyring
                .open_stream(&context, &sealed[..], &mut opened)
                .unwrap();
            assert_eq!(opened, plaintext);
        }
    }
}
