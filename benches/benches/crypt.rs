//! Field and stream encryption, side by side with what they wrap.
//!
//! `cargo bench -p palisade-benches --bench crypt` runs, in one run:
//! - `crypt_field_32B`: encrypt + decrypt of a 32-byte field through
//!   `Keyring` (random nonce, key commitment check, context binding,
//!   envelope) against the raw `chacha20poly1305` XChaCha20-Poly1305 calls
//!   it wraps (same AAD, fixed nonce; and with a fresh OS-random nonce) and
//!   against `ring`'s ChaCha20-Poly1305;
//! - `crypt_stream`: sealing 64 MiB from a file to a file with
//!   `Keyring::seal_stream_parallel` on one thread and on every core,
//!   against `age -r <X25519 recipient>` (Debian's `/usr/bin/age`) as a
//!   whole command on the same file. Set
//!   `CRYPT_BENCH_MIB` to change the size; the 1 GiB figures with peak
//!   memory come from `crates/palisade-crypt/bench-vs-age.sh`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "a benchmark: inputs are generated and known to be valid"
)]

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use criterion::{Criterion, Throughput};
use palisade_crypt::{Context, Keyring};
use rand_core::{OsRng, RngCore};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

fn field(c: &mut Criterion) {
    let keyring = Keyring::from_key_bytes(&[(1, [7; 32])], [9; 32]).unwrap();
    let context = Context::field("customers", "email", "1234567").with("tenant", "acme");
    let plaintext = [0x61u8; 32];
    // The AAD the envelope authenticates: 61 header bytes and the context.
    let mut aad = vec![0u8; 61];
    aad.extend_from_slice(&context.encode());

    let mut group = c.benchmark_group("crypt_field_32B");
    group.throughput(Throughput::Elements(1));
    group.bench_function("palisade Keyring encrypt+decrypt", |b| {
        b.iter(|| {
            let ct = keyring.encrypt(black_box(&plaintext), &context).unwrap();
            let pt = keyring.decrypt(&ct, &context).unwrap();
            black_box(pt);
        });
    });

    let raw = XChaCha20Poly1305::new(&[7u8; 32].into());
    // One encrypt+decrypt through the raw AEAD, as Palisade's envelope does.
    let raw_round_trip = |nonce: &XNonce| {
        let ct = raw
            .encrypt(
                nonce,
                Payload {
                    msg: black_box(&plaintext),
                    aad: &aad,
                },
            )
            .unwrap();
        let pt = raw
            .decrypt(
                nonce,
                Payload {
                    msg: &ct,
                    aad: &aad,
                },
            )
            .unwrap();
        black_box(pt);
    };
    let nonce = XNonce::from([3u8; 24]);
    group.bench_function(
        "raw chacha20poly1305 XChaCha encrypt+decrypt (fixed nonce)",
        |b| b.iter(|| raw_round_trip(&nonce)),
    );
    group.bench_function(
        "raw chacha20poly1305 XChaCha encrypt+decrypt (OsRng nonce)",
        |b| {
            b.iter(|| {
                let mut n = [0u8; 24];
                OsRng.fill_bytes(&mut n);
                raw_round_trip(&XNonce::from(n));
            });
        },
    );

    let ring_key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &[7u8; 32]).unwrap());
    group.bench_function(
        "ring ChaCha20-Poly1305 encrypt+decrypt (fixed nonce)",
        |b| {
            b.iter(|| {
                let mut buf = black_box(plaintext).to_vec();
                ring_key
                    .seal_in_place_append_tag(
                        Nonce::assume_unique_for_key([3; 12]),
                        Aad::from(&aad[..]),
                        &mut buf,
                    )
                    .unwrap();
                let pt = ring_key
                    .open_in_place(
                        Nonce::assume_unique_for_key([3; 12]),
                        Aad::from(&aad[..]),
                        &mut buf,
                    )
                    .unwrap();
                black_box(pt);
            });
        },
    );

    group.finish();
}

fn input_file(mib: usize) -> PathBuf {
    let path = std::env::temp_dir().join(format!("palisade-crypt-bench-{mib}MiB.bin"));
    if std::fs::metadata(&path).map(|m| m.len()).ok() != Some((mib << 20) as u64) {
        let mut out = BufWriter::new(File::create(&path).unwrap());
        let mut chunk = vec![0u8; 1 << 20];
        for _ in 0..mib {
            OsRng.fill_bytes(&mut chunk);
            out.write_all(&chunk).unwrap();
        }
        out.flush().unwrap();
    }
    path
}

fn age_recipient(dir: &Path) -> Option<String> {
    let identity = dir.join("age-identity.txt");
    let _ = std::fs::remove_file(&identity);
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&identity)
        .stderr(Stdio::piped())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stderr).ok()?;
    text.split_whitespace()
        .find(|w| w.starts_with("age1"))
        .map(str::to_owned)
}

fn stream(c: &mut Criterion) {
    let mib: usize = std::env::var("CRYPT_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let input = input_file(mib);
    let output = std::env::temp_dir().join("palisade-crypt-bench-out.bin");
    let keyring = Keyring::from_key_bytes(&[(1, [7; 32])], [9; 32]).unwrap();
    let context = Context::new().with("backup", "bench");

    let mut group = c.benchmark_group("crypt_stream");
    group.throughput(Throughput::Bytes((mib << 20) as u64));
    group.sample_size(10);
    let cores = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    let mut thread_counts = vec![NonZeroUsize::MIN];
    if cores > NonZeroUsize::MIN {
        thread_counts.push(cores);
    }
    for threads in thread_counts {
        let name = format!("palisade seal_stream file->file {mib} MiB, {threads} thread(s)");
        group.bench_function(name, |b| {
            b.iter(|| {
                let reader = File::open(&input).unwrap();
                let writer = File::create(&output).unwrap();
                keyring
                    .seal_stream_parallel(&context, reader, writer, threads)
                    .unwrap();
            });
        });
    }
    match age_recipient(&std::env::temp_dir()) {
        Some(recipient) => {
            group.bench_function(format!("age -r X25519 file->file {mib} MiB"), |b| {
                b.iter(|| {
                    let status = Command::new("age")
                        .args(["-r", &recipient, "-o"])
                        .arg(&output)
                        .arg(&input)
                        .status()
                        .unwrap();
                    assert!(status.success());
                });
            });
        }
        None => eprintln!("age-keygen/age not installed: age comparison skipped"),
    }
    group.finish();
    let _ = std::fs::remove_file(&output);
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    field(&mut c);
    stream(&mut c);
    c.final_summary();
}
