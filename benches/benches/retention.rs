//! Planning retention over generated records.
//!
//! `cargo bench -p palisade-benches --bench retention` times the planner over
//! 100 000 generated records, next to the cost of generating them alone.
//!
//! With `RETENTION_SCALE=N` the binary instead plans N generated records once,
//! streaming, and prints records per second; run it under `/usr/bin/time -v`
//! with N = 1 000 000 and 10 000 000 to compare peak memory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "a benchmark: inputs are generated and known to be valid"
)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};

use jiff::Timestamp;
use palisade_retention::{Policy, Record};

const POLICY: &str = include_str!("../../crates/palisade-retention/examples/saas-policy.toml");

const CATEGORIES: [&str; 5] = [
    "support_attachment",
    "client_record",
    "invoice",
    "audit_log",
    "backup",
];

/// A generated record: no heap, cheap to make, like a row read from a table.
#[derive(Clone, Copy)]
struct Row {
    id: [u8; 20],
    id_len: u8,
    category: &'static str,
    created: Timestamp,
    last_activity: Option<Timestamp>,
    event: Option<(&'static str, Timestamp)>,
    held: bool,
}

impl Record for Row {
    fn id(&self) -> &str {
        std::str::from_utf8(&self.id[..usize::from(self.id_len)]).unwrap_or("?")
    }
    fn category(&self) -> &str {
        self.category
    }
    fn subject(&self) -> Option<&str> {
        None
    }
    fn created(&self) -> Timestamp {
        self.created
    }
    fn last_activity(&self) -> Option<Timestamp> {
        self.last_activity
    }
    fn event(&self, name: &str) -> Option<Timestamp> {
        self.event
            .filter(|(event, _)| *event == name)
            .map(|(_, at)| at)
    }
    fn hold(&self) -> Option<&str> {
        self.held.then_some("case-1")
    }
}

/// `n` records spread over ten years, from a fixed seed.
fn rows(n: u64) -> impl Iterator<Item = Row> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let base = 1_483_228_800_i64; // 2017-01-01
    (0..n).map(move |i| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let r = state;
        let created = Timestamp::from_second(base + (r % 315_360_000) as i64).unwrap();
        let later = |shift: u32| {
            Timestamp::from_second(created.as_second() + ((r >> shift) % 40_000_000) as i64)
                .unwrap()
        };
        let category = CATEGORIES[((r >> 40) % 5) as usize];
        let event = match category {
            "support_attachment" if r & 1 == 0 => Some(("ticket_closed", later(8))),
            "client_record" if r & 2 == 0 => Some(("contract_ended", later(12))),
            _ => None,
        };
        let mut id = [0_u8; 20];
        let mut digits = [0_u8; 20];
        let (mut v, mut len) = (i, 0);
        loop {
            digits[len] = b'0' + (v % 10) as u8;
            len += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for k in 0..len {
            id[k] = digits[len - 1 - k];
        }
        Row {
            id,
            id_len: len as u8,
            category,
            created,
            last_activity: (r & 4 == 0).then(|| later(16)),
            event,
            held: (r >> 50).is_multiple_of(100),
        }
    })
}

fn now() -> Timestamp {
    "2027-01-01T00:00:00Z".parse().unwrap()
}

fn scale(n: u64) {
    let policy = Policy::from_toml(POLICY).unwrap();
    let now = now();
    let started = Instant::now();
    let (mut items, mut held, mut checksum) = (0_u64, 0_u64, 0_i64);
    for item in policy.plan(rows(n), now) {
        items += 1;
        held += u64::from(item.hold().is_some());
        checksum = checksum.wrapping_add(item.due.map_or(0, |d| d.as_second()));
    }
    let elapsed = started.elapsed().as_secs_f64();
    black_box(checksum);
    println!(
        "planned {n} records in {elapsed:.3} s: {:.2} M records/s (generation included); {items} items, {held} held",
        n as f64 / elapsed / 1e6
    );
}

fn compare(c: &mut Criterion) {
    const N: u64 = 100_000;
    let policy = Policy::from_toml(POLICY).unwrap();
    let now = now();
    let mut group = c.benchmark_group("retention plan (100k records)");
    group.throughput(Throughput::Elements(N));
    group.bench_function("generate only", |b| {
        b.iter(|| {
            rows(N)
                .map(|r| r.created.as_second())
                .fold(0_i64, i64::wrapping_add)
        })
    });
    group.bench_function("palisade-retention plan (generation included)", |b| {
        b.iter(|| {
            policy
                .plan(rows(N), now)
                .map(|i| i.due.map_or(0, |d| d.as_second()))
                .fold(0_i64, i64::wrapping_add)
        })
    });
    group.finish();
}

fn main() {
    if let Ok(n) = std::env::var("RETENTION_SCALE") {
        scale(n.parse().expect("RETENTION_SCALE is a record count"));
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    compare(&mut criterion);
    criterion.final_summary();
}
