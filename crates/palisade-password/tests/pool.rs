//! The hashing pool: blocking and async APIs, a flood that queues, budgets.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a test failure"
)]

use std::sync::Arc;

use palisade_password::{Error, HashingPool, ParamsBuilder, Password, PasswordHasher, calibrate};

fn hasher(m: u32) -> Arc<PasswordHasher> {
    Arc::new(
        PasswordHasher::builder()
            .params(ParamsBuilder::new().m_cost(m).t_cost(1).build().unwrap())
            .build()
            .unwrap(),
    )
}

#[test]
fn workers_follow_the_budget() {
    let pool = HashingPool::with_max_workers(hasher(1024), 3 * 1024 * 1024, 8).unwrap();
    assert_eq!(pool.workers(), 3);
    assert_eq!(pool.budget_kib(), 3072);
    let pool = HashingPool::with_max_workers(hasher(1024), 3 * 1024 * 1024, 2).unwrap();
    assert_eq!(pool.workers(), 2);
    let err = HashingPool::new(hasher(1024), 1023 * 1024).unwrap_err();
    assert!(
        matches!(
            err,
            Error::BudgetTooSmall {
                budget_kib: 1023,
                needed_kib: 1024
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_flood_queues_and_every_request_is_answered() {
    let pool = Arc::new(HashingPool::with_max_workers(hasher(256), 512 * 1024, 2).unwrap());
    let stored = pool.hash(Password::new("flood password").unwrap()).unwrap();
    let threads: Vec<_> = (0..40)
        .map(|i| {
            let pool = Arc::clone(&pool);
            let stored = stored.clone();
            std::thread::spawn(move || {
                let guess = if i % 2 == 0 {
                    "flood password"
                } else {
                    "wrong password"
                };
                pool.verify(Password::new(guess).unwrap(), &stored)
                    .unwrap()
                    .is_valid()
            })
        })
        .collect();
    let valid = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|v| *v)
        .count();
    assert_eq!(valid, 20);
    assert!(
        !pool
            .verify_dummy(Password::new("flood password").unwrap())
            .unwrap()
            .is_valid()
    );
    let verified = pool
        .verify_and_upgrade(
            Password::new("password").unwrap(),
            "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
        )
        .unwrap();
    assert!(
        verified
            .new_hash
            .unwrap()
            .starts_with("$argon2id$v=19$m=256,t=1,p=1$")
    );
}

#[test]
fn a_stored_hash_larger_than_a_worker_share_is_refused() {
    let pool = HashingPool::with_max_workers(hasher(64), 128 * 1024, 1).unwrap();
    let big =
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    let err = pool
        .verify(Password::new("password").unwrap(), big)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::BudgetTooSmall {
                budget_kib: 128,
                needed_kib: 65536
            }
        ),
        "{err:?}"
    );
}

#[cfg(feature = "tokio")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_api_answers_concurrent_requests() {
    let pool = Arc::new(HashingPool::with_max_workers(hasher(256), 512 * 1024, 2).unwrap());
    let stored = pool
        .hash_async(Password::new("async password").unwrap())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let pool = Arc::clone(&pool);
        let stored = stored.clone();
        tasks.push(tokio::spawn(async move {
            let guess = if i % 4 == 0 { "async password" } else { "nope" };
            pool.verify_async(Password::new(guess).unwrap(), &stored)
                .await
                .unwrap()
                .is_valid()
        }));
    }
    let mut valid = 0;
    for task in tasks {
        valid += usize::from(task.await.unwrap());
    }
    assert_eq!(valid, 5);
    let dummy = pool
        .verify_dummy_async(Password::new("x").unwrap())
        .await
        .unwrap();
    assert!(!dummy.is_valid());
    let verified = pool
        .verify_and_upgrade_async(Password::new("async password").unwrap(), &stored)
        .await
        .unwrap();
    assert!(verified.verdict.is_valid() && verified.new_hash.is_none());
}

#[test]
fn calibration_stays_within_the_memory_ceiling() {
    let calibration = calibrate(std::time::Duration::from_millis(5), 1024).unwrap();
    assert!(calibration.params.m_cost() <= 1024);
    assert!(calibration.params.t_cost() >= 1);
    assert!(calibrate(std::time::Duration::ZERO, 1024).is_err());
    assert!(calibrate(std::time::Duration::from_millis(5), 4).is_err());
}
