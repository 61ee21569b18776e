//! palisade-otp against plain totp-rs: what replay protection, throttling and
//! the persisted state cost on top of the same code check (±1 step, SHA-1,
//! 6 digits), plus recovery-code redemption against ten stored hashes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmarks fail loudly on setup errors"
)]
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use criterion::{BatchSize, Criterion, black_box, criterion_group, criterion_main};
use palisade_otp::{FactorState, RecoveryCodes, Secret, Throttle, Totp};

const SEED: &[u8] = b"12345678901234567890";
const NOW: u64 = 1_700_000_000;

fn totp_verify(c: &mut Criterion) {
    let ours = Totp::new(Secret::from_bytes(SEED).unwrap());
    let theirs = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, SEED.to_vec());
    let code = ours.code_at(NOW).to_string();
    assert!(theirs.check(&code, NOW));

    let mut group = c.benchmark_group("otp_verify_valid_code");
    group.bench_function("palisade-otp Totp::verify (replay + throttle state)", |b| {
        b.iter_batched_ref(
            FactorState::new,
            |state| {
                ours.verify(black_box(&code), black_box(NOW), state)
                    .unwrap()
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("totp-rs TOTP::check (stateless)", |b| {
        b.iter(|| assert!(theirs.check(black_box(&code), black_box(NOW))));
    });
    group.finish();

    let mut group = c.benchmark_group("otp_verify_wrong_code");
    group.bench_function("palisade-otp Totp::verify (replay + throttle state)", |b| {
        b.iter_batched_ref(
            FactorState::new,
            |state| {
                ours.verify(black_box("000000"), black_box(NOW), state)
                    .unwrap_err()
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("totp-rs TOTP::check (stateless)", |b| {
        b.iter(|| assert!(!theirs.check(black_box("000000"), black_box(NOW))));
    });
    group.finish();
}

fn recovery_redeem(c: &mut Criterion) {
    let (stored, codes) = RecoveryCodes::generate(10).unwrap();
    let last = codes.last().unwrap().expose().to_owned();
    let throttle = Throttle::default();
    c.bench_function("otp_recovery_redeem_10_hashes", |b| {
        b.iter_batched_ref(
            || (stored.clone(), FactorState::new()),
            |(set, state)| {
                set.redeem(black_box(&last), black_box(NOW), state, &throttle)
                    .unwrap()
            },
            BatchSize::SmallInput,
        );
    });
}

criterion_group!(benches, totp_verify, recovery_redeem);
criterion_main!(benches);
