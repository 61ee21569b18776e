//! palisade-pii mask throughput on a generated 100 MB mixed log corpus, and
//! Presidio (Microsoft's PII anonymiser, Python) on a slice of the same
//! corpus in the same run.
//!
//! The corpus (made here at bench time, seeded) mixes web access-log lines
//! (each with a client IP address), application lines with no personal data
//! (timestamps, UUIDs, durations, version numbers: the digits that make
//! identifiers hard to tell from noise) and application lines carrying one
//! value each: e-mail, telephone, card, IBAN, PESEL, CPF, INN, SNILS, NIK,
//! SSN, a password assignment, a GitHub token or a JWT. About 55 % of lines
//! hold personal data or a secret.
//!
//! Reported: `palisade/all_kinds` (every built-in kind) and
//! `palisade/presidio_kinds` (only the kinds Presidio also has) over the full
//! corpus, streamed line by line as `palisade pii mask` does; then, on the
//! same slice, Palisade and `benches/pii_presidio.py` (Presidio's pattern
//! recognizers for the same kinds), with the ratio. Presidio needs
//! `pip install presidio-analyzer presidio-anonymizer`; without it the
//! comparison prints why and is skipped. Set `PII_BENCH_MB` to change the
//! corpus size and `PII_PRESIDIO_KB` the slice.

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
use std::process::Command;
use std::time::Instant;

use criterion::{Criterion, Throughput, black_box, criterion_group};
use palisade_pii::{Kind, Masker, Operator, Scanner};

/// xorshift64*: a fixed, dependency-free generator, so the corpus is the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const EMAILS: &[&str] = &[
    "jan.kowalski@example.pl",
    "ana.souza@example.com.br",
    "ivan@example.ru",
    "siti@example.co.id",
    "j.doe+billing@example.com",
];
const PHONES: &[&str] = &[
    "+48 601 234 567",
    "+55 11 91234-5678",
    "+7 912 345-67-89",
    "+62 812-3456-7890",
    "(11) 91234-5678",
    "+1 212 555 0123",
];
const CARDS: &[&str] = &[
    "4111 1111 1111 1111",
    "5555555555554444",
    "2223003122003222",
    "378282246310005",
    "2200000000000004",
];
const IBANS: &[&str] = &[
    "PL61 1090 1014 0000 0712 1981 2874",
    "DE89370400440532013000",
    "GB29 NWBK 6016 1331 9268 19",
    "BR1800360305000010009795493C1",
];
const PESELS: &[&str] = &["44051401359", "02070803628", "81100216357", "02270803624"];
const CPFS: &[&str] = &["111.444.777-35", "390.533.447-05", "11144477735"];
const INNS: &[&str] = &["7707083893", "500100732259"];
const SNILS: &[&str] = &["112-233-445 95", "087-654-303 00"];
const NIKS: &[&str] = &["3171015708450001", "3171011708450001"];
const SSNS: &[&str] = &["536-90-4399", "123-45-6789"];
const COMPONENTS: &[&str] = &[
    "orders",
    "billing",
    "auth",
    "search",
    "notifications",
    "inventory",
];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];

fn access_line(r: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    let ip = format!(
        "{}.{}.{}.{}",
        1 + r.below(223),
        r.below(256),
        r.below(256),
        1 + r.below(254)
    );
    let _ = writeln!(
        out,
        "{ip} - - [23/Nov/2026:{:02}:{:02}:{:02} +0000] \"{} /api/v1/{}/{}?page={} HTTP/1.1\" {} {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\"",
        r.below(24),
        r.below(60),
        r.below(60),
        r.pick(METHODS),
        r.pick(COMPONENTS),
        r.below(10_000_000),
        r.below(50),
        [200, 200, 200, 201, 204, 304, 400, 404, 500][r.below(9) as usize],
        r.below(100_000)
    );
}

fn app_prefix(r: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "2026-11-23T{:02}:{:02}:{:02}.{:03}Z {} [worker-{}] {}: ",
        r.below(24),
        r.below(60),
        r.below(60),
        r.below(1000),
        ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"][r.below(6) as usize],
        r.below(16),
        r.pick(COMPONENTS)
    );
}

fn plain_line(r: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    app_prefix(r, out);
    let _ = writeln!(
        out,
        "request {:08x}-{:04x}-4{:03x}-a{:03x}-{:012x} handled in {} ms (cache hit ratio 0.{:02}, queue depth {}, build 4.12.{}, ts {})",
        r.next() as u32,
        r.below(0x10000),
        r.below(0x1000),
        r.below(0x1000),
        r.next() & 0xFFFF_FFFF_FFFF,
        r.below(2000),
        r.below(100),
        r.below(64),
        r.below(300),
        1_763_884_800 + r.below(86_400)
    );
}

fn pii_line(r: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    app_prefix(r, out);
    let _ = match r.below(13) {
        0 => writeln!(out, "user {} logged in", r.pick(EMAILS)),
        1 => writeln!(out, "sms sent to {} (template otp)", r.pick(PHONES)),
        2 => writeln!(out, "payment with card {} declined, code 51", r.pick(CARDS)),
        3 => writeln!(out, "payout to IBAN {} scheduled", r.pick(IBANS)),
        4 => writeln!(out, "customer PESEL {} verified", r.pick(PESELS)),
        5 => writeln!(out, "client CPF {} registered", r.pick(CPFS)),
        6 => writeln!(out, "organisation INN {} checked", r.pick(INNS)),
        7 => writeln!(out, "SNILS {} attached to profile", r.pick(SNILS)),
        8 => writeln!(out, "KTP NIK {} uploaded", r.pick(NIKS)),
        9 => writeln!(out, "W-9 SSN {} received", r.pick(SSNS)),
        10 => writeln!(
            out,
            "login failed for admin password=Winter{}! retry",
            r.below(100)
        ),
        11 => writeln!(
            out,
            "deploy key ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234{:05} rotated",
            r.below(100_000)
        ),
        _ => writeln!(
            out,
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
        ),
    };
}

/// A mixed log corpus of about `bytes` bytes.
fn corpus(bytes: usize) -> String {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = String::with_capacity(bytes + 512);
    while out.len() < bytes {
        match r.below(100) {
            0..40 => access_line(&mut r, &mut out),
            40..85 => plain_line(&mut r, &mut out),
            _ => pii_line(&mut r, &mut out),
        }
    }
    out
}

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
    let text = corpus(mb * 1_000_000);
    let all = Masker::new(Operator::Label);
    let same = Masker::with_scanner(presidio_kinds(), Operator::Label);
    let lines = text.lines().count();
    let with_findings = text
        .lines()
        .take(200_000)
        .filter(|l| !all.scanner().scan(l).is_empty())
        .count();
    println!(
        "corpus: {:.1} MB, {lines} lines, {:.0} % of the first 200 000 lines hold findings",
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
