//! Streaming seal/open: round trips, truncation, reordering, extension,
//! wrong key or context, tampering.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use std::num::NonZeroUsize;

use palisade_crypt::{CHUNK_LEN, Context, Error, Keyring, STREAM_HEADER_LEN};
use proptest::prelude::*;

const SEALED: usize = CHUNK_LEN + 16;

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn backup() -> Context {
    Context::new().with("backup", "db-2026-11-23")
}

fn seal(keyring: &Keyring, plaintext: &[u8]) -> Vec<u8> {
    let mut sealed = Vec::new();
    let n = keyring
        .seal_stream(&backup(), plaintext, &mut sealed)
        .unwrap();
    assert_eq!(n, plaintext.len() as u64);
    sealed
}

fn open(keyring: &Keyring, sealed: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    keyring
        .open_stream(&backup(), sealed, &mut out)
        .map(|_| out)
}

#[test]
fn sizes_around_chunk_boundaries_round_trip() {
    let keyring = Keyring::generate().unwrap();
    for len in [
        0,
        1,
        CHUNK_LEN - 1,
        CHUNK_LEN,
        CHUNK_LEN + 1,
        2 * CHUNK_LEN,
        3 * CHUNK_LEN + 7,
    ] {
        let plaintext = data(len);
        let sealed = seal(&keyring, &plaintext);
        let chunks = len.div_ceil(CHUNK_LEN).max(1);
        assert_eq!(sealed.len(), STREAM_HEADER_LEN + len + 16 * chunks, "{len}");
        assert_eq!(open(&keyring, &sealed).unwrap(), plaintext, "{len}");
    }
}

#[test]
fn truncation_is_detected() {
    let keyring = Keyring::generate().unwrap();
    let sealed = seal(&keyring, &data(3 * CHUNK_LEN + 100));
    // Cut at each chunk boundary: the stream ends before its final chunk.
    for chunks in 0..3 {
        let cut = &sealed[..STREAM_HEADER_LEN + chunks * SEALED];
        assert!(
            matches!(open(&keyring, cut), Err(Error::StreamTruncated)),
            "{chunks} chunks"
        );
    }
    // Cut inside a chunk or inside the header: refused as well.
    for cut in [
        STREAM_HEADER_LEN + 10,
        STREAM_HEADER_LEN + SEALED + 5000,
        sealed.len() - 1,
    ] {
        assert!(open(&keyring, &sealed[..cut]).is_err(), "cut at {cut}");
    }
    for cut in [0, 3, 10, STREAM_HEADER_LEN - 1] {
        assert!(
            matches!(
                open(&keyring, &sealed[..cut]),
                Err(Error::CiphertextMalformed(_))
            ),
            "{cut}"
        );
    }
}

#[test]
fn reordering_and_duplication_are_detected() {
    let keyring = Keyring::generate().unwrap();
    let sealed = seal(&keyring, &data(4 * CHUNK_LEN));
    let header = &sealed[..STREAM_HEADER_LEN];
    let chunk =
        |i: usize| &sealed[STREAM_HEADER_LEN + i * SEALED..STREAM_HEADER_LEN + (i + 1) * SEALED];
    let assemble = |order: &[usize]| {
        let mut out = header.to_vec();
        for &i in order {
            out.extend_from_slice(chunk(i));
        }
        out
    };
    assert_eq!(
        open(&keyring, &assemble(&[0, 1, 2, 3])).unwrap(),
        data(4 * CHUNK_LEN)
    );
    for order in [
        &[1, 0, 2, 3][..],
        &[0, 2, 1, 3],
        &[0, 1, 3, 2],
        &[0, 0, 1, 2, 3],
        &[0, 1, 3],
    ] {
        assert!(
            matches!(
                open(&keyring, &assemble(order)),
                Err(Error::Unauthenticated)
            ),
            "{order:?}"
        );
    }
    // Dropping the final chunk leaves a stream without an end.
    assert!(matches!(
        open(&keyring, &assemble(&[0, 1, 2])),
        Err(Error::StreamTruncated)
    ));
    // Chunks from another stream (same key, other salt) do not splice in.
    let other = seal(&keyring, &data(4 * CHUNK_LEN));
    let mut spliced = sealed.clone();
    spliced[STREAM_HEADER_LEN + SEALED..STREAM_HEADER_LEN + 2 * SEALED]
        .copy_from_slice(&other[STREAM_HEADER_LEN + SEALED..STREAM_HEADER_LEN + 2 * SEALED]);
    assert!(matches!(
        open(&keyring, &spliced),
        Err(Error::Unauthenticated)
    ));
}

#[test]
fn extension_is_detected() {
    let keyring = Keyring::generate().unwrap();
    let mut full = seal(&keyring, &data(2 * CHUNK_LEN));
    full.push(0);
    assert!(matches!(
        open(&keyring, &full),
        Err(Error::StreamTrailingData)
    ));
    let mut short = seal(&keyring, &data(100));
    short.extend_from_slice(&[0; 40]);
    assert!(matches!(
        open(&keyring, &short),
        Err(Error::Unauthenticated)
    ));
}

#[test]
fn wrong_key_context_and_tampering_are_refused() {
    let keyring = Keyring::generate().unwrap();
    let sealed = seal(&keyring, &data(CHUNK_LEN + 10));
    let other = Keyring::generate().unwrap();
    assert!(matches!(open(&other, &sealed), Err(Error::Unauthenticated)));
    let mut out = Vec::new();
    let wrong = Context::new().with("backup", "db-2026-11-24");
    assert!(matches!(
        keyring.open_stream(&wrong, &sealed[..], &mut out),
        Err(Error::Unauthenticated)
    ));
    assert!(out.is_empty());
    // Every header bit, and bits spread over the chunks.
    let positions = (0..STREAM_HEADER_LEN)
        .chain((STREAM_HEADER_LEN..sealed.len()).step_by(997))
        .chain([sealed.len() - 1]);
    for i in positions {
        for bit in 0..8 {
            let mut flipped = sealed.clone();
            flipped[i] ^= 1 << bit;
            let result = open(&keyring, &flipped);
            assert!(result.is_err(), "byte {i} bit {bit}");
            if i >= 9 {
                assert!(
                    matches!(result, Err(Error::Unauthenticated)),
                    "byte {i} bit {bit}: {result:?}"
                );
            }
        }
    }
}

#[test]
fn rotation_keeps_old_streams_readable() {
    let mut keyring = Keyring::generate().unwrap();
    let sealed = seal(&keyring, &data(1000));
    keyring.rotate().unwrap();
    assert_eq!(open(&keyring, &sealed).unwrap(), data(1000));
    keyring.retire_below(2).unwrap();
    assert!(matches!(open(&keyring, &sealed), Err(Error::KeyRetired(1))));
}

fn threads(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

/// Opens with `n` threads; returns what was written and the outcome.
fn open_with(keyring: &Keyring, sealed: &[u8], n: usize) -> (Vec<u8>, String) {
    let mut out = Vec::new();
    let outcome = keyring.open_stream_parallel(&backup(), sealed, &mut out, threads(n));
    (out, format!("{outcome:?}"))
}

#[test]
fn threads_change_neither_bytes_nor_errors() {
    // 18 chunks: batches of 8 (one thread), 16 (two) and 24 (three) chunks,
    // so cuts and swaps fall inside, at and across batch boundaries.
    let keyring = Keyring::generate().unwrap();
    let plaintext = data(17 * CHUNK_LEN + 5);
    for n in 1..=3 {
        let mut sealed = Vec::new();
        let written = keyring
            .seal_stream_parallel(&backup(), &plaintext[..], &mut sealed, threads(n))
            .unwrap();
        assert_eq!(written, plaintext.len() as u64);
        assert_eq!(sealed.len(), STREAM_HEADER_LEN + plaintext.len() + 18 * 16);
        for m in 1..=3 {
            assert_eq!(open_with(&keyring, &sealed, m).0, plaintext, "{n} -> {m}");
        }
    }
    let sealed = seal(&keyring, &plaintext);
    let boundary = |k: usize| STREAM_HEADER_LEN + k * SEALED;
    let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
    for k in 0..18 {
        variants.push((format!("cut at chunk {k}"), sealed[..boundary(k)].to_vec()));
        let mid = boundary(k) + 7;
        variants.push((format!("cut inside chunk {k}"), sealed[..mid].to_vec()));
    }
    for (a, b) in [(0, 1), (7, 8), (8, 9), (15, 16), (2, 12)] {
        let mut swapped = sealed.clone();
        let chunk_a = sealed[boundary(a)..boundary(a + 1)].to_vec();
        let chunk_b = sealed[boundary(b)..boundary(b + 1)].to_vec();
        swapped[boundary(a)..boundary(a + 1)].copy_from_slice(&chunk_b);
        swapped[boundary(b)..boundary(b + 1)].copy_from_slice(&chunk_a);
        variants.push((format!("chunks {a} and {b} swapped"), swapped));
    }
    for k in [0, 7, 8, 9, 16, 17] {
        let mut flipped = sealed.clone();
        flipped[boundary(k) + 10] ^= 0x20;
        variants.push((format!("bit flipped in chunk {k}"), flipped));
    }
    let mut longer = sealed.clone();
    longer.push(0);
    variants.push(("a byte appended".into(), longer));
    for (what, bytes) in &variants {
        let (out, outcome) = open_with(&keyring, bytes, 1);
        assert!(outcome.starts_with("Err("), "{what}: {outcome}");
        assert!(plaintext.starts_with(&out), "{what}");
        assert_eq!(out.len() % CHUNK_LEN, 0, "{what}: whole chunks only");
        for m in 2..=3 {
            assert_eq!(
                open_with(&keyring, bytes, m),
                (out.clone(), outcome.clone()),
                "{what}, {m} threads"
            );
        }
    }
    // Chunk by chunk: every chunk before the first bad one is written.
    let (out, outcome) = open_with(&keyring, &sealed[..boundary(12)], 2);
    assert_eq!(
        (out.len(), outcome.as_str()),
        (11 * CHUNK_LEN, "Err(StreamTruncated)")
    );
    let (out, outcome) = open_with(
        &keyring,
        &variants
            .iter()
            .find(|(w, _)| w == "bit flipped in chunk 9")
            .unwrap()
            .1,
        3,
    );
    assert_eq!(
        (out.len(), outcome.as_str()),
        (9 * CHUNK_LEN, "Err(Unauthenticated)")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn parallel_round_trip(len in 0usize..(20 * CHUNK_LEN), seal_threads in 1usize..4, open_threads in 1usize..4) {
        let keyring = Keyring::from_key_bytes(&[(1, [3; 32])], [0; 32]).unwrap();
        let plaintext = data(len);
        let mut sealed = Vec::new();
        keyring.seal_stream_parallel(&backup(), &plaintext[..], &mut sealed, threads(seal_threads)).unwrap();
        prop_assert_eq!(open_with(&keyring, &sealed, open_threads), (plaintext, "Ok(".to_string() + &len.to_string() + ")"));
    }

    #[test]
    fn stream_round_trip(len in 0usize..(3 * CHUNK_LEN), seed in any::<u8>()) {
        let keyring = Keyring::from_key_bytes(&[(1, [seed; 32])], [0; 32]).unwrap();
        let plaintext: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(seed)).collect();
        let sealed = seal(&keyring, &plaintext);
        prop_assert_eq!(open(&keyring, &sealed).unwrap(), plaintext);
    }
}
