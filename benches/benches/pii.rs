//! palisade-pii mask throughput on two generated 100 MB log corpora, and
//! Presidio (Microsoft's PII anonymiser, Python) on a slice of one of them in
//! the same run.
//!
//! The corpora (`palisade_benches::pii_corpus`, made at bench time from a
//! fixed seed) are:
//! - short lines: application log lines of about 100 bytes, one in five
//!   carrying one value (e-mail, telephone, card, IBAN, PESEL, CPF or a
//!   `password=` assignment), each drawn afresh, so that per-line costs and
//!   validation (telephone numbers in particular) are paid in full;
//! - the mixed log: lines of about 181 bytes, web access-log lines (each
//!   with a client IP address), application lines with no personal data
//!   (timestamps, UUIDs, durations, version numbers) and application lines
//!   carrying one value of thirteen kinds; 55 % of lines hold one.
//!
//! Reported, every built-in kind, label operator, streamed as `palisade pii
//! mask` streams (chunks of lines): `pii_mask_short/palisade/1_thread` and
//! `…/2_threads` ([`Masker::mask_stream_parallel`], the same bytes); then
//! `pii_mask/palisade/all_kinds` and `…/presidio_kinds` (only the kinds
//! Presidio also has) on the mixed log; then, on one slice of the mixed log,
//! Palisade and `benches/pii_presidio.py` (Presidio's pattern recognizers
//! for the same kinds), with the ratio. Presidio needs `pip install
//! presidio-analyzer presidio-anonymizer`; without it the comparison prints
//! why and is skipped. Set `PII_BENCH_MB` to change the corpus sizes and
//! `PII_PRESIDIO_KB` the slice. `crates/palisade-pii/bench-mask.sh` times
//! the whole command on the same short lines.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    reason = "a benchmark fails loudly and prints rates"
)]
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use std::io;
use std::num::NonZeroUsize;
use std::process::Command;
use std::time::Instant;

use criterion::{Criterion, Throughput, black_box, criterion_group};
use palisade_benches::pii_corpus;
use palisade_pii::{Kind, Masker, Operator, Scanner};

fn presidio_kinds() -> Scanner {
    Scanner::builder()
        .kinds([
            Kind::Email,
            Kind::Phone,
            Kind::PaymentCard,
            Kind::Iban,
            Kind::IpAddress,
            Kind::UsSsn,
            Kind::PlPesel,
        ])
        .build()
        .unwrap()
}

fn mb_per_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

fn bench(c: &mut Criterion) {
    let mb: usize = std::env::var("PII_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let all = Masker::new(Operator::Label);
    bench_short_lines(c, &all, mb);

    let text = pii_corpus::mixed_log(mb * 1_000_000);
    let same = Masker::with_scanner(presidio_kinds(), Operator::Label);
    let lines = text.lines().count();
    let with_findings = text
        .lines()
        .take(200_000)
        .filter(|l| !all.scanner().scan(l).is_empty())
        .count();
    println!(
        "mixed log: {:.1} MB, {lines} lines, {:.0} % of the first 200 000 lines hold findings",
        text.len() as f64 / 1e6,
        100.0 * with_findings as f64 / lines.min(200_000) as f64
    );

    let mut group = c.benchmark_group("pii_mask");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function("palisade/all_kinds", |b| {
        b.iter(|| {
            all.mask_stream(black_box(text.as_bytes()), io::sink())
                .unwrap()
        });
    });
    group.bench_function("palisade/presidio_kinds", |b| {
        b.iter(|| {
            same.mask_stream(black_box(text.as_bytes()), io::sink())
                .unwrap()
        });
    });
    group.finish();

    compare_with_presidio(&text, &same, &all);
}

/// The short-line corpus, on one thread and on two.
fn bench_short_lines(c: &mut Criterion, all: &Masker, mb: usize) {
    let text = pii_corpus::short_lines(mb * 1_000_000);
    let lines = text.lines().count();
    println!(
        "short lines: {:.1} MB, {lines} lines, {:.1} bytes a line",
        text.len() as f64 / 1e6,
        text.len() as f64 / lines as f64
    );
    let two = NonZeroUsize::new(2).unwrap();
    let mut group = c.benchmark_group("pii_mask_short");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function("palisade/1_thread", |b| {
        b.iter(|| {
            all.mask_stream(black_box(text.as_bytes()), io::sink())
                .unwrap()
        });
    });
    group.bench_function("palisade/2_threads", |b| {
        b.iter(|| {
            all.mask_stream_parallel(black_box(text.as_bytes()), io::sink(), two)
                .unwrap()
        });
    });
    group.finish();
}

/// Presidio on a slice, then Palisade on the same slice, both timed here.
fn compare_with_presidio(text: &str, same: &Masker, all: &Masker) {
    let kb: usize = std::env::var("PII_PRESIDIO_KB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let mut cut = (kb * 1000).min(text.len());
    while !text.is_char_boundary(cut) || (cut < text.len() && text.as_bytes()[cut - 1] != b'\n') {
        cut += 1;
    }
    let slice = &text[..cut];
    let path = std::env::temp_dir().join(format!("palisade-pii-bench-{}.log", std::process::id()));
    std::fs::write(&path, slice).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/pii_presidio.py");
    let output = Command::new("python3").arg(script).arg(&path).output();
    let _ = std::fs::remove_file(&path);
    let presidio = match output {
        Ok(o) if o.status.success() => {
            let line = String::from_utf8_lossy(&o.stdout)
                .lines()
                .last()
                .unwrap_or("")
                .to_owned();
            serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v["mb_per_s"].as_f64())
        }
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            println!(
                "presidio: skipped, the script failed: {}",
                err.lines().last().unwrap_or("")
            );
            None
        }
        Err(e) => {
            println!("presidio: skipped, python3 cannot run: {e}");
            None
        }
    };
    let Some(presidio) = presidio else { return };
    let time = |m: &Masker| {
        let rounds = 20;
        let started = Instant::now();
        for _ in 0..rounds {
            m.mask_stream(black_box(slice.as_bytes()), io::sink())
                .unwrap();
        }
        started.elapsed().as_secs_f64() / f64::from(rounds)
    };
    let same_rate = mb_per_s(slice.len(), time(same));
    let all_rate = mb_per_s(slice.len(), time(all));
    println!(
        "presidio vs palisade on the same {:.0} KB slice (line by line, labels):",
        slice.len() as f64 / 1e3
    );
    println!("  presidio (pattern recognizers, same kinds): {presidio:.3} MB/s");
    println!(
        "  palisade, same kinds:                      {same_rate:.1} MB/s  ({:.0}x)",
        same_rate / presidio
    );
    println!(
        "  palisade, all kinds:                       {all_rate:.1} MB/s  ({:.0}x)",
        all_rate / presidio
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
