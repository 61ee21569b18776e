//! Key commitment against a real multi-key collision ("invisible
//! salamanders", partitioning oracles: Len, Grubbs and Ristenpart, USENIX
//! Security 2021).
//!
//! XChaCha20-Poly1305 on its own is not key-committing: Poly1305 is linear
//! in the message blocks, so for any two keys one ciphertext block can be
//! solved for that makes the tag the same under both. This test builds such
//! a ciphertext for the two encryption keys that two keyrings derive, inside
//! a well-formed Palisade envelope, and checks that
//! - the raw AEAD really accepts it under both keys (the attack works, so the
//!   test is not vacuous), and
//! - Palisade accepts it only under the key whose commitment the header
//!   carries, and refuses it under the other.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a test: failures should be loud"
)]

use chacha20::XChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use num_bigint::BigUint;
use palisade_crypt::{Ciphertext, Context, Error, Keyring};
use sha2::Sha256;

/// The envelope's split of a keyring key (README, "Field envelope, version 2").
fn split(root: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let hkdf = Hkdf::<Sha256>::from_prk(root).unwrap();
    let mut encryption = [0u8; 32];
    let mut commitment = [0u8; 32];
    hkdf.expand(b"palisade-crypt v2 field key", &mut encryption)
        .unwrap();
    hkdf.expand(b"palisade-crypt v2 field commit", &mut commitment)
        .unwrap();
    (encryption, commitment)
}

fn le(bytes: &[u8]) -> BigUint {
    BigUint::from_bytes_le(bytes)
}

/// Poly1305's one-time key for XChaCha20-Poly1305: the first 32 bytes of
/// keystream block 0, `r` clamped (RFC 8439, section 2.5).
fn poly_key(key: &[u8; 32], nonce: &[u8; 24]) -> (BigUint, BigUint) {
    let mut block = [0u8; 32];
    XChaCha20::new(key.into(), nonce.into()).apply_keystream(&mut block);
    let clamp = le(&0x0fff_fffc_0fff_fffc_0fff_fffc_0fff_ffff_u128.to_le_bytes());
    (le(&block[..16]) & clamp, le(&block[16..]))
}

/// The Poly1305 input blocks of the AEAD (RFC 8439, section 2.8): AAD and
/// ciphertext each zero-padded to 16 bytes, then both lengths; every block
/// gets its 2^128 bit.
fn mac_blocks(aad: &[u8], ciphertext: &[u8]) -> Vec<BigUint> {
    let mut data = aad.to_vec();
    data.resize(aad.len().div_ceil(16) * 16, 0);
    data.extend_from_slice(ciphertext);
    data.resize(data.len().div_ceil(16) * 16, 0);
    data.extend_from_slice(&(aad.len() as u64).to_le_bytes());
    data.extend_from_slice(&(ciphertext.len() as u64).to_le_bytes());
    let top = BigUint::from(1u8) << 128;
    data.chunks(16).map(|block| le(block) + &top).collect()
}

/// Sum of block_i * r^(n - i) over the blocks, mod p (Poly1305's h before
/// adding s).
fn poly(blocks: &[BigUint], r: &BigUint, p: &BigUint) -> BigUint {
    blocks
        .iter()
        .fold(BigUint::from(0u8), |h, block| ((h + block) * r) % p)
}

#[test]
fn a_ciphertext_that_decrypts_under_two_keys_is_refused_under_the_uncommitted_one() {
    let root_a = [0xA1u8; 32];
    let root_b = [0xB2u8; 32];
    let ring_a = Keyring::from_key_bytes(&[(1, root_a)], [0; 32]).unwrap();
    let ring_b = Keyring::from_key_bytes(&[(1, root_b)], [0; 32]).unwrap();
    let (key_a, commitment_a) = split(&root_a);
    let (key_b, _) = split(&root_b);
    let context = Context::field("users", "email", "42");

    let p = (BigUint::from(1u8) << 130u32) - BigUint::from(5u8);
    let top = BigUint::from(1u8) << 128;
    let mut found = None;
    // One free ciphertext block; each nonce gives one candidate, which works
    // when the solved block fits in 128 bits and no reduction carry differs
    // (about one nonce in eight).
    for attempt in 0u8..=255 {
        let mut nonce = [0u8; 24];
        nonce[0] = attempt;
        let mut header = vec![2u8, 0, 0, 0, 1];
        header.extend_from_slice(&nonce);
        header.extend_from_slice(&commitment_a);
        let mut aad = header.clone();
        aad.extend_from_slice(&context.encode());

        let (r_a, s_a) = poly_key(&key_a, &nonce);
        let (r_b, s_b) = poly_key(&key_b, &nonce);
        // With the free block zero, the difference of the two polynomials;
        // the free block is the second-to-last of the blocks, so its
        // coefficient is r^2.
        let zero = mac_blocks(&aad, &[0u8; 16]);
        let h_a = poly(&zero, &r_a, &p);
        let h_b = poly(&zero, &r_b, &p);
        // Solve (h_a + x r_a^2) + s_a == (h_b + x r_b^2) + s_b (mod p) for x.
        let coefficient = (&r_a * &r_a + &p - (&r_b * &r_b) % &p) % &p;
        let target = (&h_b + &s_b + &p * 2u8 - &h_a - &s_a) % &p;
        let x = target * coefficient.modpow(&(&p - 2u8), &p) % &p;
        if x >= top {
            continue;
        }
        let mut block = x.to_bytes_le();
        block.resize(16, 0);
        let blocks = mac_blocks(&aad, &block);
        let tag_a = (poly(&blocks, &r_a, &p) + &s_a) % &top;
        let tag_b = (poly(&blocks, &r_b, &p) + &s_b) % &top;
        if tag_a != tag_b {
            continue;
        }
        let mut tag = tag_a.to_bytes_le();
        tag.resize(16, 0);
        found = Some((nonce, header, aad, block, tag));
        break;
    }
    let (nonce, header, aad, block, tag) = found.expect("a collision within 256 nonces");

    // The raw AEAD accepts the same bytes under both keys.
    let mut body = block.clone();
    body.extend_from_slice(&tag);
    for key in [&key_a, &key_b] {
        let opened = XChaCha20Poly1305::new(key.into()).decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &body,
                aad: &aad,
            },
        );
        assert!(
            opened.is_ok(),
            "the raw AEAD should accept it under both keys"
        );
    }

    // Palisade: the envelope carries A's commitment; A opens it, B refuses.
    let mut envelope = header;
    envelope.extend_from_slice(&body);
    let ciphertext = Ciphertext::from_bytes(&envelope).unwrap();
    let plaintext_a = ring_a.decrypt(&ciphertext, &context).unwrap();
    assert_eq!(plaintext_a.len(), 16);
    assert!(matches!(
        ring_b.decrypt(&ciphertext, &context),
        Err(Error::Unauthenticated)
    ));
    // B's commitment in the header instead: the AAD changes, so the
    // collision (built for A's header) no longer holds under either key.
    let (_, commitment_b) = split(&root_b);
    let mut swapped = envelope.clone();
    swapped[29..61].copy_from_slice(&commitment_b);
    let swapped = Ciphertext::from_bytes(&swapped).unwrap();
    assert!(ring_a.decrypt(&swapped, &context).is_err());
    assert!(ring_b.decrypt(&swapped, &context).is_err());
}
