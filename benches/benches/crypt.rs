//! Field and stream encryption, side by side with the fastest references.
//!
//! `cargo bench -p palisade-benches --bench crypt` runs, in one run:
//! - `crypt_field_32B` and `crypt_field_1KiB`: encrypt + decrypt of one field
//!   through `Keyring` (fresh OS-random nonce, HChaCha20 subkey, key
//!   commitment check, context binding, envelope allocation) against
//!   - `ring` ChaCha20-Poly1305 on the same plaintext and associated data
//!     with a fixed nonce (the goal's yardstick: the AEAD alone, no nonce
//!     generation, no subkey),
//!   - the same `ring` calls with a fresh 12-byte nonce from the OS on each
//!     encryption (`getrandom`, as a correct caller must),
//!   - RustCrypto's `chacha20poly1305` XChaCha20-Poly1305 with a fixed nonce
//!     (the pure-Rust backend palisade-crypt uses without its `ring` feature);
//! - `crypt_field_paired`: the same operations timed in alternating rounds
//!   (A B A B …, about 20 ms each), printed as min / median / max of the
//!   per-round ratio Palisade / ring, which a drifting machine load moves much
//!   less than two separate criterion figures;
//! - `crypt_stream`: sealing `CRYPT_BENCH_MIB` MiB (default 64) from a file
//!   to `/dev/null` with `Keyring::seal_stream_parallel` on one thread and
//!   on every core, against `age -r <X25519 recipient>` (Debian's
//!   `/usr/bin/age`) as a whole command on the same file. The file is in
//!   `/dev/shm` (tmpfs) when it exists, else in the temporary directory;
//!   `CRYPT_BENCH_DIR` overrides.
//!
//! Instruction counts, which a loaded machine does not move: the bench
//! binary run with `CRYPT_BENCH_OP=<op>:<bytes>` and `CRYPT_BENCH_N=<n>`
//! performs `n` round trips of one operation and exits (`op`: `palisade`,
//! `ring`, `ring-getrandom`, `rustcrypto`); `benches/crypt-instructions.sh`
//! runs each under `valgrind --tool=callgrind` and prints instructions per
//! round trip and the ratios. Whole commands against age on 1 GiB:
//! `crates/palisade-crypt/bench-vs-age.sh`.

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
use std::time::{Duration, Instant};

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use criterion::{Criterion, Throughput};
use palisade_crypt::{Context, Keyring};
use rand_core::{OsRng, RngCore};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

/// Field sizes measured.
const SIZES: [(usize, &str); 2] = [(32, "32B"), (1024, "1KiB")];

/// One field operation and everything it needs, built once.
struct Field {
    keyring: Keyring,
    context: Context,
    plaintext: Vec<u8>,
    /// The associated data the envelope authenticates: the 61-byte header
    /// and the context's encoding.
    aad: Vec<u8>,
    ring: LessSafeKey,
    rustcrypto: XChaCha20Poly1305,
}

impl Field {
    fn new(len: usize) -> Self {
        let context = Context::field("customers", "email", "1234567").with("tenant", "acme");
        let mut aad = vec![0u8; 61];
        aad.extend_from_slice(&context.encode());
        Self {
            keyring: Keyring::from_key_bytes(&[(1, [7; 32])], [9; 32]).unwrap(),
            context,
            plaintext: vec![0x61; len],
            aad,
            ring: LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &[7; 32]).unwrap()),
            rustcrypto: XChaCha20Poly1305::new(&[7u8; 32].into()),
        }
    }

    /// Palisade: `Keyring::encrypt` then `Keyring::decrypt`.
    fn palisade(&self) {
        let ct = self
            .keyring
            .encrypt(black_box(&self.plaintext), &self.context)
            .unwrap();
        black_box(self.keyring.decrypt(&ct, &self.context).unwrap());
    }

    /// ring's ChaCha20-Poly1305 with the given 12-byte nonce: seal into a
    /// fresh buffer (as the envelope is a fresh buffer), open in place.
    fn ring_with(&self, nonce: [u8; 12]) {
        let mut buf = Vec::with_capacity(self.plaintext.len() + 16);
        buf.extend_from_slice(black_box(&self.plaintext));
        let aad = Aad::from(&self.aad[..]);
        let tag = self
            .ring
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), aad, &mut buf)
            .unwrap();
        let aad = Aad::from(&self.aad[..]);
        let pt = self
            .ring
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                aad,
                tag,
                &mut buf,
                0..,
            )
            .unwrap();
        black_box(pt);
    }

    fn ring(&self) {
        self.ring_with([3; 12]);
    }

    fn ring_getrandom(&self) {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).unwrap();
        self.ring_with(nonce);
    }

    /// RustCrypto's XChaCha20-Poly1305, fixed nonce.
    fn rustcrypto(&self) {
        let nonce = XNonce::from([3u8; 24]);
        let mut buf = Vec::with_capacity(self.plaintext.len() + 16);
        buf.extend_from_slice(black_box(&self.plaintext));
        let tag = self
            .rustcrypto
            .encrypt_in_place_detached(&nonce, &self.aad, &mut buf)
            .unwrap();
        self.rustcrypto
            .decrypt_in_place_detached(&nonce, &self.aad, &mut buf, &tag)
            .unwrap();
        black_box(buf);
    }

    fn op(&self, name: &str) -> fn(&Self) {
        match name {
            "palisade" => Self::palisade,
            "ring" => Self::ring,
            "ring-getrandom" => Self::ring_getrandom,
            "rustcrypto" => Self::rustcrypto,
            other => panic!("unknown operation `{other}`"),
        }
    }
}

fn field(c: &mut Criterion) {
    for (len, label) in SIZES {
        let field = Field::new(len);
        let mut group = c.benchmark_group(format!("crypt_field_{label}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("palisade Keyring encrypt+decrypt", |b| {
            b.iter(|| field.palisade());
        });
        group.bench_function(
            "ring ChaCha20-Poly1305 encrypt+decrypt (fixed nonce)",
            |b| {
                b.iter(|| field.ring());
            },
        );
        group.bench_function(
            "ring ChaCha20-Poly1305 encrypt+decrypt (getrandom nonce)",
            |b| b.iter(|| field.ring_getrandom()),
        );
        group.bench_function(
            "RustCrypto XChaCha20-Poly1305 encrypt+decrypt (fixed nonce)",
            |b| b.iter(|| field.rustcrypto()),
        );
        group.finish();
    }
}

/// Nanoseconds per call of `f`, over about `budget`.
fn time_per_call(f: &dyn Fn(), budget: Duration) -> f64 {
    let started = Instant::now();
    let mut calls = 0u64;
    while started.elapsed() < budget {
        for _ in 0..64 {
            f();
        }
        calls += 64;
    }
    started.elapsed().as_nanos() as f64 / calls as f64
}

fn summary(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[0],
        values[values.len() / 2],
        values[values.len() - 1],
    )
}

/// Palisade and each reference in alternating rounds; per-round ratios.
fn paired() {
    let rounds: usize = std::env::var("CRYPT_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(21);
    let budget = Duration::from_millis(20);
    println!(
        "\ncrypt_field_paired: {rounds} alternating rounds of ~20 ms each, ratio = Palisade / reference (min / median / max)"
    );
    for (len, label) in SIZES {
        let field = Field::new(len);
        let palisade = || field.palisade();
        for (name, reference) in [
            ("ring, fixed nonce", Field::ring as fn(&Field)),
            ("ring, getrandom nonce", Field::ring_getrandom),
            ("RustCrypto XChaCha20-Poly1305", Field::rustcrypto),
        ] {
            let reference = || reference(&field);
            let (mut ratios, mut ours, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..rounds {
                let (a, b) = if round % 2 == 0 {
                    let a = time_per_call(&palisade, budget);
                    (a, time_per_call(&reference, budget))
                } else {
                    let b = time_per_call(&reference, budget);
                    (time_per_call(&palisade, budget), b)
                };
                ratios.push(a / b);
                ours.push(a);
                theirs.push(b);
            }
            let (lo, mid, hi) = summary(&mut ratios);
            let (_, ours, _) = summary(&mut ours);
            let (_, theirs, _) = summary(&mut theirs);
            println!(
                "  {label:>4}: Palisade {:>7.3} µs vs {name:<30} {:>7.3} µs: {lo:.2}x / {mid:.2}x / {hi:.2}x",
                ours / 1000.0,
                theirs / 1000.0,
            );
        }
    }
}

fn work_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CRYPT_BENCH_DIR") {
        return dir.into();
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn input_file(dir: &Path, mib: usize) -> PathBuf {
    let path = dir.join(format!("palisade-crypt-bench-{mib}MiB.bin"));
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
    let identity = dir.join("palisade-crypt-bench-age-identity.txt");
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
    let dir = work_dir();
    let input = input_file(&dir, mib);
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
        let name = format!("palisade seal_stream file->/dev/null {mib} MiB, {threads} thread(s)");
        group.bench_function(name, |b| {
            b.iter(|| {
                let reader = File::open(&input).unwrap();
                let writer = File::options().write(true).open("/dev/null").unwrap();
                keyring
                    .seal_stream_parallel(&context, reader, writer, threads)
                    .unwrap();
            });
        });
    }
    match age_recipient(&dir) {
        Some(recipient) => {
            group.bench_function(format!("age -r X25519 file->/dev/null {mib} MiB"), |b| {
                b.iter(|| {
                    let status = Command::new("age")
                        .args(["-r", &recipient])
                        .arg(&input)
                        .stdout(Stdio::null())
                        .status()
                        .unwrap();
                    assert!(status.success());
                });
            });
        }
        None => eprintln!("age-keygen/age not installed: age comparison skipped"),
    }
    group.finish();
    let _ = std::fs::remove_file(dir.join("palisade-crypt-bench-age-identity.txt"));
}

/// `CRYPT_BENCH_OP=<op>:<bytes>`: `CRYPT_BENCH_N` round trips of one
/// operation, for instruction counts under callgrind.
fn count(spec: &str) {
    let (op, len) = spec
        .split_once(':')
        .expect("CRYPT_BENCH_OP is <op>:<bytes>");
    let n: u64 = std::env::var("CRYPT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let field = Field::new(len.parse().expect("<bytes> is a number"));
    let op = field.op(op);
    for _ in 0..n {
        op(&field);
    }
}

fn main() {
    if let Ok(spec) = std::env::var("CRYPT_BENCH_OP") {
        count(&spec);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    field(&mut c);
    stream(&mut c);
    c.final_summary();
    paired();
}
