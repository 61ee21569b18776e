//! Properties of the login limiter over any sequence of attempts and any
//! order of settling them:
//! - per account, between two successes (and within `forget_after` of each
//!   other), admitted attempts are spaced at least as the schedule says:
//!   for the i-th and j-th of them, `t_j − t_i ≥ delay(1) + … + delay(j − i)`,
//!   so a window of length W admits at most the `n` whose first `n − 1`
//!   delays fit in W; never more than `lock_after`;
//! - per address, the same holds for the attempts that were not taken back
//!   by a success, whatever successes come between: a success resets the
//!   account only, never the address's protection against spraying;
//! - the in-memory and SQLite stores give the same answers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

use std::net::{IpAddr, Ipv4Addr};

use palisade_password::{
    Admission, AttemptStore, Backoff, Limits, LoginLimiter, MemoryAttemptStore, Reservation,
    SqliteAttemptStore,
};
use proptest::prelude::*;

const NOW: u64 = 1_700_000_000;

#[derive(Clone, Debug)]
enum Op {
    /// An attempt `dt` seconds after the previous op; account 0's owner
    /// types the `right` password, everyone else guesses wrong. Settled at
    /// once or left pending.
    Attempt {
        dt: u64,
        account: usize,
        address: usize,
        right: bool,
        settle_now: bool,
    },
    /// Settles one pending attempt.
    Settle { dt: u64, pick: usize },
}

/// A back-off; with a lock three times in ten when `lockable` (accounts).
fn backoff(max_free: u32, lockable: bool) -> impl Strategy<Value = Backoff> {
    let lock = if lockable {
        prop::option::weighted(0.3, 1..12u32).boxed()
    } else {
        Just(None).boxed()
    };
    (0..=max_free, 1..20u64, 1..20u64, 0..3000u64, lock).prop_map(
        |(free, base, factor, extra, lock)| {
            let max = base * factor;
            Backoff::new(free, base, max)
                .with_forget_after(max + extra)
                .with_lock_after(lock)
        },
    )
}

fn dt() -> impl Strategy<Value = u64> {
    prop_oneof![4 => Just(0u64), 4 => 0..5u64, 2 => 0..200u64, 1 => 0..5000u64]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (dt(), 0..3usize, 0..3usize, any::<bool>(), prop::bool::weighted(0.7))
            .prop_map(|(dt, account, address, right, settle_now)| Op::Attempt {
                dt,
                account,
                address,
                right,
                settle_now,
            }),
        1 => (dt(), any::<usize>()).prop_map(|(dt, pick)| Op::Settle { dt, pick }),
    ]
}

/// An admitted attempt: when, on which keys, and when a success settled it.
#[derive(Debug)]
struct Admitted {
    seq: usize,
    t: u64,
    account: usize,
    address: usize,
    success_at: Option<(usize, u64)>,
}

/// Runs `ops`; answers every reservation's answer and the admitted attempts.
fn run<S: AttemptStore>(limiter: &LoginLimiter<S>, ops: &[Op]) -> (Vec<String>, Vec<Admitted>) {
    let mut t = NOW;
    let mut answers = Vec::new();
    let mut admitted: Vec<Admitted> = Vec::new();
    let mut pending: Vec<(Reservation<'_, S>, usize, bool)> = Vec::new();
    let settle = |r: Reservation<'_, S>, a: &mut Admitted, success: bool, seq, t| {
        if success {
            r.succeeded(t).unwrap();
            a.success_at = Some((seq, t));
        } else {
            r.failed();
        }
    };
    let limits = limiter.limits();
    let longest = limits
        .account()
        .max_delay()
        .max(limits.address().max_delay());
    for (seq, op) in ops.iter().enumerate() {
        match *op {
            Op::Attempt {
                dt,
                account,
                address,
                right,
                settle_now,
            } => {
                t += dt;
                let name = format!("user{account}@example.com");
                let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, u8::try_from(address).unwrap()));
                match limiter.reserve(&name, ip, t).unwrap() {
                    Admission::Admitted(r) => {
                        answers.push("admitted".to_owned());
                        let idx = admitted.len();
                        admitted.push(Admitted {
                            seq,
                            t,
                            account,
                            address,
                            success_at: None,
                        });
                        let success = account == 0 && right;
                        if settle_now {
                            settle(r, &mut admitted[idx], success, seq, t);
                        } else {
                            pending.push((r, idx, success));
                        }
                    }
                    Admission::Throttled { retry_after } => {
                        assert!((1..=longest).contains(&retry_after), "{retry_after}");
                        answers.push(format!("throttled {retry_after}"));
                    }
                    Admission::Locked => answers.push("locked".to_owned()),
                }
            }
            Op::Settle { dt, pick } => {
                t += dt;
                if !pending.is_empty() {
                    let (r, idx, success) = pending.remove(pick % pending.len());
                    settle(r, &mut admitted[idx], success, seq, t);
                }
            }
        }
    }
    drop(pending);
    (answers, admitted)
}

/// The spacing the schedule demands between the i-th and j-th attempts of
/// a streak (j − i attempts apart).
fn least_spacing(backoff: &Backoff, apart: usize) -> u64 {
    (1..=u32::try_from(apart).unwrap())
        .map(|n| backoff.delay_after(n).unwrap_or(0))
        .sum()
}

/// Checks the schedule over one streak's attempt times.
fn check_streak(backoff: &Backoff, times: &[u64], what: &str) -> Result<(), TestCaseError> {
    if let Some(lock) = backoff.lock_after() {
        prop_assert!(
            times.len() <= lock as usize,
            "{what}: {} attempts, lock at {lock}",
            times.len()
        );
    }
    for i in 0..times.len() {
        for j in i + 1..times.len() {
            let need = least_spacing(backoff, j - i);
            prop_assert!(
                times[j] - times[i] >= need,
                "{what}: attempts {i} and {j} at {:?}, {} s apart, the schedule needs {need}",
                times,
                times[j] - times[i]
            );
        }
    }
    Ok(())
}

/// Splits attempts into streaks where `breaks(previous, next)` says a
/// counter was cleared or forgotten between them.
fn streaks<'a>(
    attempts: &[&'a Admitted],
    breaks: impl Fn(&Admitted, &Admitted) -> bool,
) -> Vec<Vec<&'a Admitted>> {
    let mut out: Vec<Vec<&Admitted>> = Vec::new();
    for &a in attempts {
        match out.last_mut() {
            Some(streak) if !breaks(streak[streak.len() - 1], a) => streak.push(a),
            _ => out.push(vec![a]),
        }
    }
    out
}

fn check_schedule(limits: &Limits, admitted: &[Admitted]) -> Result<(), TestCaseError> {
    for account in 0..3 {
        let on: Vec<&Admitted> = admitted.iter().filter(|a| a.account == account).collect();
        let resets: Vec<usize> = on
            .iter()
            .filter_map(|a| a.success_at.map(|(seq, _)| seq))
            .collect();
        let forget = limits.account().forget_after();
        for streak in streaks(&on, |prev, next| {
            next.t - prev.t >= forget || resets.iter().any(|&s| prev.seq <= s && s < next.seq)
        }) {
            let times: Vec<u64> = streak.iter().map(|a| a.t).collect();
            check_streak(limits.account(), &times, &format!("account {account}"))?;
        }
    }
    for address in 0..3 {
        let from: Vec<&Admitted> = admitted.iter().filter(|a| a.address == address).collect();
        let forget = limits.address().forget_after();
        for streak in streaks(&from, |prev, next| next.t - prev.t >= forget) {
            // A success takes back its own attempt (when settled within
            // `forget_after`); every other attempt keeps counting.
            let counted: Vec<u64> = streak
                .iter()
                .filter(|a| a.success_at.is_none_or(|(_, at)| at >= a.t + forget))
                .map(|a| a.t)
                .collect();
            check_streak(limits.address(), &counted, &format!("address {address}"))?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn admitted_attempts_never_exceed_the_schedule(
        account in backoff(4, true),
        address in backoff(8, false),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let limits = Limits::new(account, address).unwrap();
        let limiter = LoginLimiter::new(MemoryAttemptStore::new(), limits);
        let (_, admitted) = run(&limiter, &ops);
        check_schedule(&limits, &admitted)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn memory_and_sqlite_stores_answer_alike(
        account in backoff(4, true),
        address in backoff(8, false),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let limits = Limits::new(account, address).unwrap();
        let memory = LoginLimiter::new(MemoryAttemptStore::new(), limits);
        let sqlite = LoginLimiter::new(SqliteAttemptStore::open_in_memory().unwrap(), limits);
        let (expected, admitted) = run(&memory, &ops);
        prop_assert_eq!(run(&sqlite, &ops).0, expected);
        check_schedule(&limits, &admitted)?;
    }
}

/// The check itself can fail: with a wait per attempt, two attempts in the
/// same second break the schedule.
#[test]
fn the_schedule_check_refuses_attempts_too_close() {
    let limits = Limits::new(Backoff::new(1, 10, 100), Backoff::new(1, 10, 100)).unwrap();
    let at = |seq, t| Admitted {
        seq,
        t,
        account: 0,
        address: 0,
        success_at: None,
    };
    assert!(check_schedule(&limits, &[at(0, 0), at(1, 0), at(2, 10)]).is_ok());
    assert!(check_schedule(&limits, &[at(0, 0), at(1, 0), at(2, 9)]).is_err());
    // A success (account 0's, settled at seq 3) between attempts on other
    // accounts does not reset the address: three counted attempts in the
    // same second are too many.
    let mut own = at(2, 0);
    own.success_at = Some((3, 0));
    let on = |seq, account| Admitted {
        account,
        ..at(seq, 0)
    };
    assert!(check_schedule(&limits, &[on(0, 1), on(1, 1), own, on(4, 2)]).is_err());
    let mut own = at(2, 0);
    own.success_at = Some((3, 0));
    assert!(check_schedule(&limits, &[on(0, 1), own, on(4, 2)]).is_ok());
}
