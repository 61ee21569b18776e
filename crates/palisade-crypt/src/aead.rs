//! The one layer that calls the AEAD primitives: everything else in the
//! crate goes through here, and the Wycheproof vectors are run against it.
//!
//! Two backends give the same bytes:
//! - **ring** (the `ring` feature, on by default): ring's ChaCha20-Poly1305,
//!   BoringSSL's assembly. XChaCha20-Poly1305 is built on it as
//!   draft-irtf-cfrg-xchacha-03 (section 2.3) defines it and libsodium
//!   computes it: subkey = HChaCha20(key, nonce[..16]) (RustCrypto's
//!   `chacha20`), then ChaCha20-Poly1305 under the subkey with nonce
//!   0x00000000 ‖ nonce[16..].
//! - **RustCrypto**'s pure-Rust `chacha20poly1305`: the backend without the
//!   feature, and the reference the ring backend is tested against.

#[cfg(feature = "ring")]
mod ring_backend;
#[cfg(any(not(feature = "ring"), test))]
mod rustcrypto_backend;

use crate::Result;
use crate::key::KEY_LEN;

/// Length of a Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;
/// Length of a ChaCha20-Poly1305 (RFC 8439) nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of an XChaCha20-Poly1305 nonce.
pub(crate) const XNONCE_LEN: usize = 24;

/// A Poly1305 tag.
pub(crate) type Tag = [u8; TAG_LEN];

/// The backend in use.
#[cfg(feature = "ring")]
pub(crate) type Active = ring_backend::Ring;
/// The backend in use.
#[cfg(not(feature = "ring"))]
pub(crate) type Active = rustcrypto_backend::RustCrypto;

/// The pure-Rust backend, for the differential tests.
#[cfg(test)]
pub(crate) use rustcrypto_backend::RustCrypto;

/// A backend: XChaCha20-Poly1305 for fields (random 24-byte nonces), and
/// ChaCha20-Poly1305 keys for stream chunks (counter nonces).
pub(crate) trait Backend {
    /// A ChaCha20-Poly1305 key, set up once for many messages.
    type ChunkKey: ChunkKey + Send + Sync;

    /// Sets up a ChaCha20-Poly1305 key.
    fn chunk_key(key: &[u8; KEY_LEN]) -> Result<Self::ChunkKey>;

    /// XChaCha20-Poly1305: encrypts `buf` in place, returns the tag.
    fn xseal(
        key: &[u8; KEY_LEN],
        nonce: &[u8; XNONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<Tag>;

    /// XChaCha20-Poly1305: decrypts `buf` in place if `tag` authenticates
    /// it; otherwise fails with nothing more said, and `buf` is garbage.
    fn xopen(
        key: &[u8; KEY_LEN],
        nonce: &[u8; XNONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &Tag,
    ) -> Result<()>;
}

/// ChaCha20-Poly1305 under a key set up once.
pub(crate) trait ChunkKey {
    /// Encrypts `buf` in place, returns the tag.
    fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<Tag>;

    /// Decrypts the ciphertext `buf[src..]` into `buf[..buf.len() - src]` if
    /// `tag` authenticates it; otherwise fails with nothing more said. When
    /// the two ranges do not overlap (`src` at least half the buffer), the
    /// ciphertext is left as it was, so it can be tried again.
    fn open_within(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        src: usize,
        tag: &Tag,
    ) -> Result<()>;
}

#[cfg(test)]
mod wycheproof {
    //! Wycheproof AEAD vectors (C2SP/wycheproof `testvectors_v1`, as bundled
    //! by the `wycheproof` crate 0.7.0, Apache-2.0), stored under
    //! `tests/data/`. Every vector goes through each backend's seal and
    //! open: valid ones must encrypt to the expected ciphertext and tag and
    //! decrypt back; invalid ones must be refused.

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
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .unwrap()
    }

    /// How one algorithm is called: seal returns ciphertext and tag; open
    /// returns the plaintext. `None` when the key, nonce or tag length does
    /// not fit the algorithm (such vectors must be invalid ones).
    trait Algorithm {
        const NAME: &'static str;
        fn seal(key: &[u8], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Option<(Vec<u8>, Tag)>;
        fn open(key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8], tag: &[u8]) -> Option<Vec<u8>>;
    }

    struct ChaCha<B>(std::marker::PhantomData<B>);
    struct XChaCha<B>(std::marker::PhantomData<B>);

    impl<B: Backend> Algorithm for ChaCha<B> {
        const NAME: &'static str = "CHACHA20-POLY1305";
        fn seal(key: &[u8], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Option<(Vec<u8>, Tag)> {
            let key = B::chunk_key(key.try_into().ok()?).unwrap();
            let mut buf = msg.to_vec();
            let tag = key.seal(nonce.try_into().ok()?, aad, &mut buf).unwrap();
            Some((buf, tag))
        }
        fn open(key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8], tag: &[u8]) -> Option<Vec<u8>> {
            let key = B::chunk_key(key.try_into().ok()?).unwrap();
            // Out of place, as the stream opener does: ciphertext in the
            // second half, plaintext to the first.
            let mut buf = vec![0u8; ct.len()];
            buf.extend_from_slice(ct);
            key.open_within(
                nonce.try_into().ok()?,
                aad,
                &mut buf,
                ct.len(),
                tag.try_into().ok()?,
            )
            .ok()?;
            assert_eq!(&buf[ct.len()..], ct, "ciphertext kept");
            buf.truncate(ct.len());
            Some(buf)
        }
    }

    impl<B: Backend> Algorithm for XChaCha<B> {
        const NAME: &'static str = "XCHACHA20-POLY1305";
        fn seal(key: &[u8], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Option<(Vec<u8>, Tag)> {
            let mut buf = msg.to_vec();
            let tag =
                B::xseal(key.try_into().ok()?, nonce.try_into().ok()?, aad, &mut buf).unwrap();
            Some((buf, tag))
        }
        fn open(key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8], tag: &[u8]) -> Option<Vec<u8>> {
            let mut buf = ct.to_vec();
            B::xopen(
                key.try_into().ok()?,
                nonce.try_into().ok()?,
                aad,
                &mut buf,
                tag.try_into().ok()?,
            )
            .ok()?;
            Some(buf)
        }
    }

    fn run<A: Algorithm>(json: &str) {
        let file: File = serde_json::from_str(json).unwrap();
        assert_eq!(file.algorithm, A::NAME);
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
            let opened = A::open(&key, &nonce, &aad, &ct, &tag);
            match v.result.as_str() {
                "valid" => {
                    valid += 1;
                    let (sealed, got_tag) = A::seal(&key, &nonce, &aad, &msg)
                        .unwrap_or_else(|| panic!("tcId {}: seal refused", v.tc_id));
                    assert_eq!(sealed, ct, "tcId {}: ciphertext", v.tc_id);
                    assert_eq!(got_tag.to_vec(), tag, "tcId {}: tag", v.tc_id);
                    assert_eq!(opened, Some(msg), "tcId {}: plaintext", v.tc_id);
                }
                "invalid" => {
                    invalid += 1;
                    assert!(
                        opened.is_none(),
                        "tcId {}: invalid vector accepted",
                        v.tc_id
                    );
                }
                other => panic!("tcId {}: unexpected result {other}", v.tc_id),
            }
        }
        assert_eq!(valid + invalid, file.number_of_tests);
        assert!(
            valid > 200 && invalid > 50,
            "{valid} valid, {invalid} invalid"
        );
    }

    const CHACHA: &str = include_str!("../tests/data/wycheproof/chacha20_poly1305_test.json");
    const XCHACHA: &str = include_str!("../tests/data/wycheproof/xchacha20_poly1305_test.json");

    #[test]
    fn chacha20_poly1305() {
        run::<ChaCha<Active>>(CHACHA);
    }

    #[test]
    fn xchacha20_poly1305() {
        run::<XChaCha<Active>>(XCHACHA);
    }

    #[test]
    fn chacha20_poly1305_pure_rust() {
        run::<ChaCha<RustCrypto>>(CHACHA);
    }

    #[test]
    fn xchacha20_poly1305_pure_rust() {
        run::<XChaCha<RustCrypto>>(XCHACHA);
    }
}

/// The ring backend against the pure-Rust one: the same ciphertext and tag
/// for any key, nonce, associated data and message, and each opens what the
/// other sealed (and refuses it with one bit flipped).
#[cfg(all(test, feature = "ring"))]
mod differential {
    use super::ring_backend::Ring;
    use super::*;
    use proptest::prelude::*;

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn xchacha_backends_agree(
            key in any::<[u8; 32]>(),
            nonce in any::<[u8; 24]>(),
            aad in bytes(200),
            msg in bytes(1100),
            flip in any::<usize>(),
        ) {
            let (mut by_ring, mut by_rust) = (msg.clone(), msg.clone());
            let ring_tag = Ring::xseal(&key, &nonce, &aad, &mut by_ring).unwrap();
            let rust_tag = RustCrypto::xseal(&key, &nonce, &aad, &mut by_rust).unwrap();
            prop_assert_eq!(&by_ring, &by_rust);
            prop_assert_eq!(ring_tag, rust_tag);

            let mut opened = by_rust.clone();
            Ring::xopen(&key, &nonce, &aad, &mut opened, &rust_tag).unwrap();
            prop_assert_eq!(&opened, &msg);
            let mut opened = by_ring.clone();
            RustCrypto::xopen(&key, &nonce, &aad, &mut opened, &ring_tag).unwrap();
            prop_assert_eq!(&opened, &msg);

            // One flipped bit in the ciphertext or tag: both refuse.
            let mut sealed = by_ring.clone();
            sealed.extend_from_slice(&ring_tag);
            let bit = flip % (sealed.len() * 8);
            sealed[bit / 8] ^= 1 << (bit % 8);
            let (body, tag) = sealed.split_at(msg.len());
            let tag: Tag = tag.try_into().unwrap();
            prop_assert!(Ring::xopen(&key, &nonce, &aad, &mut body.to_vec(), &tag).is_err());
            prop_assert!(RustCrypto::xopen(&key, &nonce, &aad, &mut body.to_vec(), &tag).is_err());
        }

        #[test]
        fn chacha_backends_agree(
            key in any::<[u8; 32]>(),
            nonce in any::<[u8; 12]>(),
            aad in bytes(64),
            msg in bytes(3000),
        ) {
            let (ring_key, rust_key) = (Ring::chunk_key(&key).unwrap(), RustCrypto::chunk_key(&key).unwrap());
            let (mut by_ring, mut by_rust) = (msg.clone(), msg.clone());
            let ring_tag = ring_key.seal(&nonce, &aad, &mut by_ring).unwrap();
            let rust_tag = rust_key.seal(&nonce, &aad, &mut by_rust).unwrap();
            prop_assert_eq!(&by_ring, &by_rust);
            prop_assert_eq!(ring_tag, rust_tag);
            for (opener, sealed, tag) in [
                (&ring_key as &dyn ChunkKey, &by_rust, rust_tag),
                (&rust_key as &dyn ChunkKey, &by_ring, ring_tag),
            ] {
                let mut buf = vec![0u8; msg.len()];
                buf.extend_from_slice(sealed);
                opener.open_within(&nonce, &aad, &mut buf, msg.len(), &tag).unwrap();
                prop_assert_eq!(&buf[..msg.len()], &msg[..]);
                prop_assert_eq!(&buf[msg.len()..], &sealed[..]);
                // A wrong nonce is refused and leaves the ciphertext as it was.
                let mut other = nonce;
                other[11] ^= 1;
                prop_assert!(opener.open_within(&other, &aad, &mut buf, msg.len(), &tag).is_err());
                prop_assert_eq!(&buf[msg.len()..], &sealed[..]);
            }
        }
    }
}
