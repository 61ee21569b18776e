//! Quick timing without criterion: field encrypt+decrypt against the raw
//! XChaCha20-Poly1305 call, and stream seal/open throughput from memory.
//! `cargo run --release -p palisade-crypt --example measure [MiB]`. The
//! criterion bench (`benches/benches/crypt.rs`) is the reference; this is
//! for a quick look on a busy machine.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "a measurement tool"
)]

use std::hint::black_box;
use std::time::Instant;

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use palisade_crypt::{Context, Keyring};

fn per_op(n: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(256);
    let keyring = Keyring::from_key_bytes(&[(1, [7; 32])], [9; 32]).unwrap();
    let context = Context::field("customers", "email", "1234567").with("tenant", "acme");
    let plaintext = [0x61u8; 32];
    let mut aad = vec![0u8; 61];
    aad.extend_from_slice(&context.encode());
    let raw = XChaCha20Poly1305::new(&[7u8; 32].into());
    let nonce = XNonce::from([3u8; 24]);
    let n = 200_000;
    for round in 0..3 {
        let ours = per_op(n, || {
            let ct = keyring.encrypt(black_box(&plaintext), &context).unwrap();
            black_box(keyring.decrypt(&ct, &context).unwrap());
        });
        let theirs = per_op(n, || {
            let ct = raw
                .encrypt(
                    &nonce,
                    Payload {
                        msg: black_box(&plaintext),
                        aad: &aad,
                    },
                )
                .unwrap();
            black_box(
                raw.decrypt(
                    &nonce,
                    Payload {
                        msg: &ct,
                        aad: &aad,
                    },
                )
                .unwrap(),
            );
        });
        println!(
            "round {round}: 32-byte field encrypt+decrypt: palisade {ours:.0} ns, raw XChaCha20-Poly1305 {theirs:.0} ns, ratio {:.2}",
            ours / theirs
        );
    }
    let data = vec![0x5au8; mib << 20];
    let mut sealed = Vec::with_capacity(data.len() + data.len() / 4096 + 128);
    let start = Instant::now();
    keyring
        .seal_stream(&context, &data[..], &mut sealed)
        .unwrap();
    let seal = start.elapsed().as_secs_f64();
    let start = Instant::now();
    keyring
        .open_stream(&context, &sealed[..], std::io::sink())
        .unwrap();
    let open = start.elapsed().as_secs_f64();
    println!(
        "stream {mib} MiB in memory: seal {:.0} MiB/s, open {:.0} MiB/s",
        mib as f64 / seal,
        mib as f64 / open
    );
}
