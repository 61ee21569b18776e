//! The one layer that calls the AEAD primitives (RustCrypto's
//! `chacha20poly1305`). Everything else in the crate goes through here, and
//! the Wycheproof vectors are run against these functions.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce, Tag, XChaCha20Poly1305, XNonce};

use crate::{Error, Result};

/// Length of a Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;

/// The two AEADs in use: XChaCha20-Poly1305 for fields (random 24-byte
/// nonces), ChaCha20-Poly1305 for stream chunks (counter nonces).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Algorithm {
    /// RFC 8439 ChaCha20-Poly1305, 12-byte nonce.
    ChaCha20Poly1305,
    /// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha), 24-byte nonce.
    XChaCha20Poly1305,
}

fn key(key: &[u8]) -> Result<Key> {
    let array: [u8; 32] = key
        .try_into()
        .map_err(|_| Error::CiphertextMalformed("key must be 32 bytes"))?;
    Ok(Key::from(array))
}

/// Encrypts `buffer` in place and returns the detached tag.
pub(crate) fn seal_in_place(
    algorithm: Algorithm,
    key_bytes: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buffer: &mut [u8],
) -> Result<[u8; TAG_LEN]> {
    let key = key(key_bytes)?;
    let tag = match algorithm {
        Algorithm::ChaCha20Poly1305 => {
            let nonce: [u8; 12] = nonce
                .try_into()
                .map_err(|_| Error::CiphertextMalformed("nonce must be 12 bytes"))?;
            ChaCha20Poly1305::new(&key).encrypt_in_place_detached(&Nonce::from(nonce), aad, buffer)
        }
        Algorithm::XChaCha20Poly1305 => {
            let nonce: [u8; 24] = nonce
                .try_into()
                .map_err(|_| Error::CiphertextMalformed("nonce must be 24 bytes"))?;
            XChaCha20Poly1305::new(&key).encrypt_in_place_detached(
                &XNonce::from(nonce),
                aad,
                buffer,
            )
        }
    }
    .map_err(|_| Error::CiphertextMalformed("plaintext too long"))?;
    Ok(tag.into())
}

/// Decrypts `buffer` in place if `tag` authenticates it; on failure the
/// buffer is left encrypted and the error says nothing more.
pub(crate) fn open_in_place(
    algorithm: Algorithm,
    key_bytes: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buffer: &mut [u8],
    tag: &[u8],
) -> Result<()> {
    let key = key(key_bytes)?;
    let tag: [u8; TAG_LEN] = tag
        .try_into()
        .map_err(|_| Error::CiphertextMalformed("tag must be 16 bytes"))?;
    let tag = Tag::from(tag);
    match algorithm {
        Algorithm::ChaCha20Poly1305 => {
            let nonce: [u8; 12] = nonce
                .try_into()
                .map_err(|_| Error::CiphertextMalformed("nonce must be 12 bytes"))?;
            ChaCha20Poly1305::new(&key).decrypt_in_place_detached(
                &Nonce::from(nonce),
                aad,
                buffer,
                &tag,
            )
        }
        Algorithm::XChaCha20Poly1305 => {
            let nonce: [u8; 24] = nonce
                .try_into()
                .map_err(|_| Error::CiphertextMalformed("nonce must be 24 bytes"))?;
            XChaCha20Poly1305::new(&key).decrypt_in_place_detached(
                &XNonce::from(nonce),
                aad,
                buffer,
                &tag,
            )
        }
    }
    .map_err(|_| Error::Unauthenticated)
}

#[cfg(test)]
mod wycheproof {
    //! Wycheproof AEAD vectors (C2SP/wycheproof `testvectors_v1`, as bundled
    //! by the `wycheproof` crate 0.7.0, Apache-2.0), stored under
    //! `tests/data/`. Every vector goes through `seal_in_place` and
    //! `open_in_place`: valid ones must encrypt to the expected ciphertext
    //! and tag and decrypt back; invalid ones must be refused.

    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct File {
        algorithm: String,
        number_of_tests: usize,
        test_groups: Vec<Group>,
    }

    #[derive(Deserialize)]
    struct Group {
        tests: Vec<Vector>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Vector {
        tc_id: u32,
        key: String,
        iv: String,
        aad: String,
        msg: String,
        ct: String,
        tag: String,
        result: String,
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn run(json: &str, algorithm: Algorithm, expected_name: &str) -> (usize, usize) {
        let file: File = serde_json::from_str(json).unwrap();
        assert_eq!(file.algorithm, expected_name);
        let (mut valid, mut invalid) = (0, 0);
        for v in file.test_groups.iter().flat_map(|g| &g.tests) {
            let (key, nonce, aad, msg, ct, tag) = (
                hex(&v.key),
                hex(&v.iv),
                hex(&v.aad),
                hex(&v.msg),
                hex(&v.ct),
                hex(&v.tag),
            );
            let mut opened = ct.clone();
            let open = open_in_place(algorithm, &key, &nonce, &aad, &mut opened, &tag);
            match v.result.as_str() {
                "valid" => {
                    valid += 1;
                    let mut sealed = msg.clone();
                    let got_tag = seal_in_place(algorithm, &key, &nonce, &aad, &mut sealed)
                        .unwrap_or_else(|e| panic!("tcId {}: seal failed: {e}", v.tc_id));
                    assert_eq!(sealed, ct, "tcId {}: ciphertext", v.tc_id);
                    assert_eq!(got_tag.to_vec(), tag, "tcId {}: tag", v.tc_id);
                    assert!(
                        open.is_ok(),
                        "tcId {}: open refused a valid vector",
                        v.tc_id
                    );
                    assert_eq!(opened, msg, "tcId {}: plaintext", v.tc_id);
                }
                "invalid" => {
                    invalid += 1;
                    assert!(open.is_err(), "tcId {}: invalid vector accepted", v.tc_id);
                }
                other => panic!("tcId {}: unexpected result {other}", v.tc_id),
            }
        }
        assert_eq!(valid + invalid, file.number_of_tests);
        (valid, invalid)
    }

    #[test]
    fn chacha20_poly1305() {
        let (valid, invalid) = run(
            include_str!("../tests/data/wycheproof/chacha20_poly1305_test.json"),
            Algorithm::ChaCha20Poly1305,
            "CHACHA20-POLY1305",
        );
        assert!(
            valid > 200 && invalid > 50,
            "{valid} valid, {invalid} invalid"
        );
    }

    #[test]
    fn xchacha20_poly1305() {
        let (valid, invalid) = run(
            include_str!("../tests/data/wycheproof/xchacha20_poly1305_test.json"),
            Algorithm::XChaCha20Poly1305,
            "XCHACHA20-POLY1305",
        );
        assert!(
            valid > 200 && invalid > 50,
            "{valid} valid, {invalid} invalid"
        );
    }
}
