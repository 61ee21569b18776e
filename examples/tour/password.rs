//! Chapter 1: passwords, with palisade-password.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use palisade_examples::{chapter, show, step};
use palisade_password::{
    Context, HashingPool, ParamsBuilder, Password, PasswordHasher, Pepper, Policy,
};

pub(crate) fn run(_workdir: &Path) -> Result<(), Box<dyn Error>> {
    chapter(
        1,
        "Passwords",
        "passwords are checked against NIST's rules, stored as Argon2id, upgraded on login, \
         and never appear in logs",
    );

    // Sign-up: the policy refuses with reasons (NIST SP 800-63B, no composition rules).
    let breached = ["winter is coming 2024"];
    let policy = Policy::new()
        .with_service_word("acme")
        .with_breach_check(move |p: &Password| Ok(breached.contains(&p.expose())));
    let context = Context::new()
        .user_name("alice")
        .email("alice@acme.example");
    for candidate in [
        "Password1",
        "alice in acme land",
        "winter is coming 2024",
        "1234abcd",
    ] {
        let verdict = policy.check(&Password::new(candidate)?, &context)?;
        step(format!("sign-up with {candidate:?}"));
        show("policy", &verdict);
    }
    let chosen = Password::new("ink wolf parsley tundra")?;
    step("sign-up with a passphrase");
    show("policy", policy.check(&chosen, &context)?);
    show("as logged", format!("{chosen:?}"));

    // Storage: Argon2id at OWASP's parameters, in a PHC string.
    let hasher = PasswordHasher::default();
    let stored = hasher.hash(&chosen)?;
    step("stored as an Argon2id PHC string (m=19456 KiB, t=2, p=1, 16-byte salt)");
    show("hash", &stored);
    show("login, right password", hasher.verify(&chosen, &stored)?);
    show(
        "login, wrong password",
        hasher.verify(&Password::new("ink wolf parsley tundr")?, &stored)?,
    );

    // Upgrade on login: a hash from an older, weaker configuration.
    let old = PasswordHasher::builder()
        .params(ParamsBuilder::new().m_cost(4096).t_cost(1).build()?)
        .build()?;
    let old_hash = old.hash(&chosen)?;
    let verified = hasher.verify_and_upgrade(&chosen, &old_hash)?;
    step("a hash left by last year's weaker settings (m=4096, t=1)");
    show("verdict", &verified.verdict);
    show("new hash", verified.new_hash.as_deref().unwrap_or("-"));

    // A legacy scheme inherited from a Django app: verified once, then replaced.
    let django =
        "pbkdf2_sha256$1000$u33xtHaXDmXR8uPftSI0Ap$LANSrzfMKBAegscbVeAUbv3It1EN/8gC2fiV09fenm4=";
    let verified = hasher.verify_and_upgrade(&Password::new("password")?, django)?;
    step("a Django PBKDF2 hash from the old stack");
    show(
        "verdict",
        format!("{} ({})", verified.verdict, verified.verdict.scheme()),
    );

    // Pepper rotation: the key id travels in the hash.
    let k2025 = || Pepper::new("2025", *b"last year's 32-byte vault secret");
    let peppered_2025 = PasswordHasher::builder().pepper(k2025()?).build()?;
    let rotated = PasswordHasher::builder()
        .pepper(Pepper::new("2026", *b"this year's 32-byte vault secret")?)
        .retired_pepper(k2025()?)
        .build()?;
    let under_2025 = peppered_2025.hash(&chosen)?;
    let verified = rotated.verify_and_upgrade(&chosen, &under_2025)?;
    step("peppers rotate: a hash under the retired 2025 pepper");
    show("verdict", &verified.verdict);
    show("new hash", verified.new_hash.as_deref().unwrap_or("-"));

    // Unknown user: the same work as a real verification, always invalid.
    let started = Instant::now();
    let _ = hasher.verify(&chosen, &stored)?;
    let real = started.elapsed();
    let _ = hasher.verify_dummy(&chosen)?; // first call also makes the dummy hash
    let started = Instant::now();
    let dummy = hasher.verify_dummy(&chosen)?;
    let dummy_time = started.elapsed();
    step("login for an account that does not exist");
    show("verdict", &dummy);
    show(
        "time",
        format!("real verify {real:.1?}, dummy verify {dummy_time:.1?}"),
    );

    // A login burst through the pool: 24 verifications within a 64 MiB budget.
    let pool = Arc::new(HashingPool::new(
        Arc::new(PasswordHasher::default()),
        64 << 20,
    )?);
    let started = Instant::now();
    let logins: Vec<_> = (0..24)
        .map(|_| {
            let pool = Arc::clone(&pool);
            let stored = stored.clone();
            std::thread::spawn(move || -> Result<bool, palisade_password::Error> {
                Ok(pool
                    .verify(Password::new("ink wolf parsley tundra")?, &stored)?
                    .is_valid())
            })
        })
        .collect();
    let mut valid = 0;
    for login in logins {
        valid += usize::from(login.join().map_err(|_| "login thread failed")??);
    }
    step(format!(
        "24 simultaneous logins through a pool with a 64 MiB budget ({} workers)",
        pool.workers()
    ));
    show(
        "result",
        format!("{valid}/24 valid in {:.1?}", started.elapsed()),
    );
    Ok(())
}
