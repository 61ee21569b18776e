//! Replacing an active factor needs proof (issue 15, hole 5), recovery codes
//! are throttled like codes and count toward the same lock, and a locked
//! factor stays locked until an administrator unlocks it (hole 9).
//!
//! The attacker here holds a signed-in session: they can start an
//! enrollment and know its new secret, but they have neither the active
//! factor's authenticator nor its recovery codes, and the session's last
//! password check is whatever the application recorded for it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use std::sync::Mutex;

use palisade_otp::{
    DEFAULT_STEP_UP_WINDOW, Enrollment, Error, FactorState, Proof, RecoveryCode, RecoveryCodes,
    Secret, StepUp, Throttle, Totp,
};
use proptest::prelude::*;

const T: u64 = 1_700_000_000;

/// The account's active factor, used once to sign in at `T - 600`.
fn active() -> (Totp, FactorState) {
    let totp = Totp::new(Secret::from_bytes(b"12345678901234567890").unwrap());
    let mut state = FactorState::new();
    let at = T - 600;
    totp.verify(&totp.code_at(at), at, &mut state).unwrap();
    (totp, state)
}

/// A pending enrollment and the authenticator that scanned it.
fn pending() -> (Enrollment, Totp) {
    let enrollment = Enrollment::start("Example Corp", "alice@example.com").unwrap();
    let phone = enrollment.key_uri().to_totp().unwrap();
    (enrollment, phone)
}

fn recovery() -> (RecoveryCodes, Vec<RecoveryCode>) {
    RecoveryCodes::generate(10).unwrap()
}

/// A six-digit code that is none of `totp`'s codes within ±1 step of `now`.
fn wrong_code(totp: &Totp, now: u64, seed: u32) -> String {
    let valid: Vec<String> = (0..3)
        .map(|i| totp.code_for_step(now / 30 + i - 1).to_string())
        .collect();
    (seed..)
        .map(|n| format!("{:06}", n % 1_000_000))
        .find(|c| !valid.contains(c))
        .unwrap()
}

#[test]
fn replacing_without_proof_is_refused_and_changes_nothing() {
    let (current, mut state) = active();
    let before = state.clone();
    let (enrollment, phone) = pending();
    let mut new_state = FactorState::new();
    let step_up = StepUp::new(&current, &mut state, None);
    assert_eq!(
        enrollment.confirm_replacement(&phone.code_at(T), T, &mut new_state, step_up),
        Err(Error::StepUpRequired)
    );
    assert_eq!(state, before);
    assert_eq!(
        new_state,
        FactorState::new(),
        "the new code was not looked at"
    );
    // On its own, too.
    assert_eq!(
        StepUp::new(&current, &mut state, None).verify(T),
        Err(Error::StepUpRequired)
    );
}

#[test]
fn replacing_with_a_current_code_uses_it_up() {
    let (current, mut state) = active();
    let (enrollment, phone) = pending();
    let proof = current.code_at(T);
    let mut new_state = FactorState::new();
    let step_up = StepUp::new(&current, &mut state, Some(Proof::CurrentCode(&proof)));
    let factor = enrollment
        .confirm_replacement(&phone.code_at(T), T, &mut new_state, step_up)
        .unwrap();
    assert_eq!(factor.secret(), enrollment.secret());
    assert_eq!(
        new_state.last_step(),
        Some(T / 30),
        "the new code is used up"
    );
    assert_eq!(state.last_step(), Some(T / 30), "so is the proof");

    // The same proof again (a second replacement, or a replayed request):
    // refused, and counted.
    let (again, phone) = pending();
    let step_up = StepUp::new(&current, &mut state, Some(Proof::CurrentCode(&proof)));
    assert_eq!(
        again.confirm_replacement(&phone.code_at(T), T, &mut FactorState::new(), step_up),
        Err(Error::ProofInvalid)
    );
    assert_eq!(state.failures(), 1);
    // Nor can it sign in.
    assert_eq!(current.verify(&proof, T, &mut state), Err(Error::Replayed));
}

#[test]
fn replacing_with_a_recovery_code_uses_it_up() {
    let (current, mut state) = active();
    let (mut codes, shown) = recovery();
    let (enrollment, phone) = pending();
    let proof = Proof::RecoveryCode {
        code: shown[2].expose(),
        codes: &mut codes,
    };
    let step_up = StepUp::new(&current, &mut state, Some(proof));
    enrollment
        .confirm_replacement(&phone.code_at(T), T, &mut FactorState::new(), step_up)
        .unwrap();
    assert_eq!(codes.remaining(), 9);

    let (again, phone) = pending();
    let proof = Proof::RecoveryCode {
        code: shown[2].expose(),
        codes: &mut codes,
    };
    let step_up = StepUp::new(&current, &mut state, Some(proof));
    assert_eq!(
        again.confirm_replacement(&phone.code_at(T), T, &mut FactorState::new(), step_up),
        Err(Error::ProofInvalid)
    );
    assert_eq!((codes.remaining(), state.failures()), (9, 1));
}

#[test]
fn a_password_check_counts_only_within_the_window() {
    let (current, mut state) = active();
    let before = state.clone();
    let mut check = |verified_at: u64, window: Option<u64>| {
        let proof = Proof::RecentPasswordCheck { verified_at };
        let step_up = StepUp::new(&current, &mut state, Some(proof));
        let step_up = match window {
            Some(seconds) => step_up.with_window(seconds),
            None => step_up,
        };
        let (enrollment, phone) = pending();
        enrollment
            .confirm_replacement(&phone.code_at(T), T, &mut FactorState::new(), step_up)
            .map(|_| ())
    };
    assert_eq!(DEFAULT_STEP_UP_WINDOW, 300);
    assert_eq!(check(T, None), Ok(()));
    assert_eq!(check(T - 300, None), Ok(()), "the window is inclusive");
    assert_eq!(
        check(T - 301, None),
        Err(Error::StepUpExpired {
            age: 301,
            window: 300
        })
    );
    assert_eq!(check(T - 301, Some(600)), Ok(()));
    assert_eq!(
        check(T - 61, Some(60)),
        Err(Error::StepUpExpired {
            age: 61,
            window: 60
        })
    );
    assert_eq!(
        check(0, None),
        Err(Error::StepUpExpired {
            age: T,
            window: 300
        })
    );
    // Another instance's clock a little ahead: fine. Far ahead, or
    // milliseconds passed as seconds: refused.
    assert_eq!(check(T + 60, None), Ok(()));
    assert_eq!(
        check(T + 61, None),
        Err(Error::StepUpInFuture {
            verified_at: T + 61,
            now: T
        })
    );
    assert_eq!(
        check(T * 1000, None),
        Err(Error::StepUpInFuture {
            verified_at: T * 1000,
            now: T
        })
    );
    // Refused password checks are not guesses: nothing is counted.
    assert_eq!(state, before);
}

#[test]
fn a_wrong_new_code_spends_no_proof() {
    let (current, mut state) = active();
    let (mut codes, shown) = recovery();
    let (enrollment, phone) = pending();
    let wrong = wrong_code(&phone, T, 0);
    let before = state.clone();
    let proof = Proof::RecoveryCode {
        code: shown[0].expose(),
        codes: &mut codes,
    };
    let step_up = StepUp::new(&current, &mut state, Some(proof));
    let mut new_state = FactorState::new();
    assert_eq!(
        enrollment.confirm_replacement(&wrong, T, &mut new_state, step_up),
        Err(Error::Invalid)
    );
    assert_eq!(codes.remaining(), 10, "the recovery code is still unused");
    assert_eq!(state, before);
    assert_eq!(
        new_state.failures(),
        1,
        "the new factor's own attempt counts"
    );
}

#[test]
fn a_refused_proof_leaves_the_new_code_usable() {
    let (current, mut state) = active();
    let (enrollment, phone) = pending();
    let new_code = phone.code_at(T);
    let mut new_state = FactorState::new();
    let stale = Proof::RecentPasswordCheck {
        verified_at: T - 3600,
    };
    let step_up = StepUp::new(&current, &mut state, Some(stale));
    assert!(matches!(
        enrollment.confirm_replacement(&new_code, T, &mut new_state, step_up),
        Err(Error::StepUpExpired { .. })
    ));
    assert_eq!(new_state, FactorState::new());
    // The user checks the password again and submits the same new code.
    let fresh = Proof::RecentPasswordCheck { verified_at: T };
    let step_up = StepUp::new(&current, &mut state, Some(fresh));
    assert!(
        enrollment
            .confirm_replacement(&new_code, T, &mut new_state, step_up)
            .is_ok()
    );
    assert_eq!(new_state.last_step(), Some(T / 30));
}

#[test]
fn wrong_proofs_are_throttled_then_lock_the_factor() {
    let (current, mut state) = active();
    let current = current.with_throttle(Throttle::new(2, 10, 60).with_lock_after(Some(6)));
    let (mut codes, shown) = recovery();
    let mut now = T;
    let attempt = |state: &mut FactorState, proof: Proof<'_>, now: u64| {
        let (enrollment, phone) = pending();
        let step_up = StepUp::new(&current, state, Some(proof));
        enrollment
            .confirm_replacement(&phone.code_at(now), now, &mut FactorState::new(), step_up)
            .map(|_| ())
    };
    // Two free failures, one of each kind; the third starts a 10 s back-off.
    let wrong = wrong_code(&current, now, 1);
    assert_eq!(
        attempt(&mut state, Proof::CurrentCode(&wrong), now),
        Err(Error::ProofInvalid)
    );
    let proof = Proof::RecoveryCode {
        code: "0000-0000-0000-0000",
        codes: &mut codes,
    };
    assert_eq!(attempt(&mut state, proof, now), Err(Error::ProofInvalid));
    assert_eq!(
        attempt(&mut state, Proof::CurrentCode(&wrong), now),
        Err(Error::ProofInvalid)
    );
    assert_eq!(state.throttled_until(), Some(now + 10));
    // During the back-off every proof is refused unseen, a fresh password
    // check and the right code included.
    let right = current.code_at(now);
    let fresh = Proof::RecentPasswordCheck { verified_at: now };
    assert_eq!(
        attempt(&mut state, fresh, now),
        Err(Error::Throttled { until: now + 10 })
    );
    assert_eq!(
        attempt(&mut state, Proof::CurrentCode(&right), now + 9),
        Err(Error::Throttled { until: now + 10 })
    );
    assert_eq!(state.failures(), 3);
    // Three more failures, each after its back-off, reach the lock of 6.
    for _ in 0..3 {
        now = state.throttled_until().unwrap();
        let wrong = wrong_code(&current, now, 7);
        assert_eq!(
            attempt(&mut state, Proof::CurrentCode(&wrong), now),
            Err(Error::ProofInvalid)
        );
    }
    assert_eq!(state.locked_at(), Some(now));
    // Locked: nothing gets through, however long one waits. Replacing the
    // factor would start a fresh state, so a recent password check cannot
    // either.
    let later = now + 86_400;
    let right = current.code_at(later);
    assert_eq!(
        attempt(&mut state, Proof::CurrentCode(&right), later),
        Err(Error::Locked)
    );
    let fresh = Proof::RecentPasswordCheck { verified_at: later };
    assert_eq!(attempt(&mut state, fresh, later), Err(Error::Locked));
    let proof = Proof::RecoveryCode {
        code: shown[0].expose(),
        codes: &mut codes,
    };
    assert_eq!(attempt(&mut state, proof, later), Err(Error::Locked));
    assert_eq!(codes.remaining(), 10);
    // An administrator's unlock, then the right code works.
    state.unlock();
    assert_eq!(
        attempt(&mut state, Proof::CurrentCode(&right), later),
        Ok(())
    );
}

#[test]
fn thirty_wrong_recovery_codes_then_the_right_one_is_throttled() {
    let (_, mut state) = active();
    let throttle = Throttle::default();
    let (mut codes, shown) = recovery();
    // A burst of 30 guesses at one moment: three free failures, the fourth
    // starts a 1 s back-off, and the rest are refused unseen.
    let outcomes: Vec<_> = (0..30)
        .map(|i| codes.redeem(&format!("0000-0000-0000-{i:04}"), T, &mut state, &throttle))
        .collect();
    assert!(outcomes[..4].iter().all(|o| *o == Err(Error::Invalid)));
    assert!(
        outcomes[4..]
            .iter()
            .all(|o| *o == Err(Error::Throttled { until: T + 1 }))
    );
    assert_eq!(state.failures(), 4);
    let right = shown[7].expose();
    assert_eq!(
        codes.redeem(right, T, &mut state, &throttle),
        Err(Error::Throttled { until: T + 1 })
    );

    // Thirty guesses each waiting out its back-off: all evaluated, and the
    // back-off has grown to 2^26 s, capped at 15 minutes.
    let (_, mut state) = active();
    let mut now = T;
    for i in 0..30 {
        now = state.throttled_until().unwrap_or(now);
        let guess = format!("0000-0000-0000-{i:04}");
        assert_eq!(
            codes.redeem(&guess, now, &mut state, &throttle),
            Err(Error::Invalid)
        );
    }
    assert_eq!(state.failures(), 30);
    let until = now + 15 * 60;
    assert_eq!(state.throttled_until(), Some(until));
    assert_eq!(
        codes.redeem(right, until - 1, &mut state, &throttle),
        Err(Error::Throttled { until })
    );
    assert_eq!(codes.remaining(), 10);
    // Once the back-off has passed, the right code is accepted, and clears
    // the failures but not the last accepted step.
    assert_eq!(codes.redeem(right, until, &mut state, &throttle), Ok(9));
    assert_eq!(state.failures(), 0);
    assert_eq!(state.throttled_until(), None);
    assert_eq!(state.last_step(), Some((T - 600) / 30));
}

#[test]
fn failures_of_codes_and_recovery_codes_add_up_to_one_lock() {
    let (current, mut state) = active();
    let current = current.with_throttle(Throttle::new(u32::MAX, 0, 0).with_lock_after(Some(10)));
    let (mut codes, shown) = recovery();
    for i in 0..5_u32 {
        let wrong = wrong_code(&current, T, i * 1000);
        assert_eq!(current.verify(&wrong, T, &mut state), Err(Error::Invalid));
        assert_eq!(
            codes.redeem("ZZZZ-ZZZZ-ZZZZ-ZZZZ", T, &mut state, current.throttle()),
            Err(Error::Invalid)
        );
        assert_eq!(state.failures(), 2 * (i + 1));
    }
    assert_eq!(
        codes.redeem(shown[0].expose(), T, &mut state, current.throttle()),
        Err(Error::Locked)
    );
    assert_eq!(
        current.verify(&current.code_at(T), T, &mut state),
        Err(Error::Locked)
    );
    assert!(current.throttle().is_locked(&state));
    // The administrator sees when and after how many failures, then unlocks.
    assert_eq!((state.failures(), state.locked_at()), (10, Some(T)));
    state.unlock();
    assert!(!current.throttle().is_locked(&state));
    assert_eq!(
        codes.redeem(shown[0].expose(), T, &mut state, current.throttle()),
        Ok(9)
    );
    // A recovery code does not move the replay window: the code used at
    // sign-in before is still refused, the current one accepted.
    let used = current.code_at(T - 600);
    assert_eq!(
        current.verify(&used, T - 600, &mut state),
        Err(Error::Replayed)
    );
    assert_eq!(
        current.verify(&current.code_at(T), T, &mut state),
        Ok(T / 30)
    );
}

#[test]
fn step_up_on_its_own_guards_other_changes() {
    let (current, mut state) = active();
    let (mut codes, shown) = recovery();
    let proof = Proof::RecoveryCode {
        code: shown[0].expose(),
        codes: &mut codes,
    };
    assert_eq!(
        StepUp::new(&current, &mut state, Some(proof)).verify(T),
        Ok(())
    );
    let wrong = wrong_code(&current, T, 0);
    assert_eq!(
        StepUp::new(&current, &mut state, Some(Proof::CurrentCode(&wrong))).verify(T),
        Err(Error::ProofInvalid)
    );
    let step_up = StepUp::new(
        &current,
        &mut state,
        Some(Proof::RecentPasswordCheck {
            verified_at: T - 100,
        }),
    )
    .with_window(60);
    assert_eq!(step_up.window(), 60);
    assert_eq!(
        step_up.verify(T),
        Err(Error::StepUpExpired {
            age: 100,
            window: 60
        })
    );
}

#[test]
fn proofs_are_redacted_in_debug() {
    let (current, mut state) = active();
    let (mut codes, shown) = recovery();
    let code = current.code_at(T);
    let text = format!("{:?}", Proof::CurrentCode(&code));
    assert_eq!(text, "CurrentCode(..)");
    let proof = Proof::RecoveryCode {
        code: shown[0].expose(),
        codes: &mut codes,
    };
    let text = format!("{:?}", StepUp::new(&current, &mut state, Some(proof)));
    assert!(!text.contains(shown[0].expose()), "{text}");
    assert!(text.contains("remaining: 10"), "{text}");
}

/// The caller's side of the contract with many requests at once: each reads
/// the stored state and codes, redeems a wrong guess, and writes both back
/// with a compare-and-swap; a verdict counts only if its write won. However
/// the threads interleave, at one instant no more guesses are judged than
/// the throttle's free failures plus the one that starts the back-off, and
/// every judged guess is counted in the stored state (no update is lost).
#[test]
fn parallel_guesses_through_a_conditional_write_are_judged_one_by_one() {
    let throttle = Throttle::default();
    let (codes, shown) = recovery();
    let store = Mutex::new((
        serde_json::to_string(&FactorState::new()).unwrap(),
        serde_json::to_string(&codes).unwrap(),
    ));
    let verdicts = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for i in 0..200 {
            let (store, verdicts, throttle) = (&store, &verdicts, &throttle);
            scope.spawn(move || {
                let read = store.lock().unwrap().clone();
                let mut state: FactorState = serde_json::from_str(&read.0).unwrap();
                let mut codes: RecoveryCodes = serde_json::from_str(&read.1).unwrap();
                let guess = format!("0000-0000-0000-{i:04}");
                let verdict = codes.redeem(&guess, T, &mut state, throttle);
                let written = (
                    serde_json::to_string(&state).unwrap(),
                    serde_json::to_string(&codes).unwrap(),
                );
                let mut stored = store.lock().unwrap();
                if *stored == read {
                    *stored = written;
                    verdicts.lock().unwrap().push(verdict);
                }
            });
        }
    });
    let verdicts = verdicts.into_inner().unwrap();
    assert!(
        verdicts
            .iter()
            .all(|v| matches!(v, Err(Error::Invalid | Error::Throttled { .. })))
    );
    let judged = verdicts
        .iter()
        .filter(|v| **v == Err(Error::Invalid))
        .count();
    assert!(judged <= 4, "{judged} guesses judged: {verdicts:?}");
    let (state, codes) = store.into_inner().unwrap();
    let mut state: FactorState = serde_json::from_str(&state).unwrap();
    let mut codes: RecoveryCodes = serde_json::from_str(&codes).unwrap();
    assert_eq!(usize::try_from(state.failures()).unwrap(), judged);
    // The right code now: refused while the back-off runs, if the burst
    // started one.
    let right = codes.redeem(shown[0].expose(), T, &mut state, &throttle);
    if judged == 4 {
        assert_eq!(right, Err(Error::Throttled { until: T + 1 }));
    } else {
        assert_eq!(right, Ok(9));
    }
}

/// One attempt to replace the factor with a wrong or missing proof.
#[derive(Clone, Debug)]
enum WrongProof {
    Nothing,
    Code(u32),
    RecoveryCode(String),
    StalePassword(u64),
    FuturePassword(u64),
}

fn wrong_proof() -> impl Strategy<Value = WrongProof> {
    prop_oneof![
        Just(WrongProof::Nothing),
        any::<u32>().prop_map(WrongProof::Code),
        "[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}".prop_map(WrongProof::RecoveryCode),
        (DEFAULT_STEP_UP_WINDOW + 1..100_000).prop_map(WrongProof::StalePassword),
        (61_u64..1 << 40).prop_map(WrongProof::FuturePassword),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// No sequence of wrong proofs, at any pace, yields a replacement, and
    /// every wrong code or recovery code is counted (or refused unseen).
    /// After an administrator's unlock, a right proof still works: the
    /// harness can tell success from failure.
    #[test]
    fn no_sequence_of_wrong_proofs_replaces_the_factor(
        attempts in proptest::collection::vec((wrong_proof(), 0_u64..2_000), 1..40),
    ) {
        let (current, mut state) = active();
        let (mut codes, _shown) = recovery();
        let (enrollment, phone) = pending();
        let mut now = T;
        let mut counted = 0_u32;
        for (proof, pause) in attempts {
            now += pause;
            let wrong_current = wrong_code(&current, now, match proof {
                WrongProof::Code(n) => n,
                _ => 0,
            });
            let proof = match &proof {
                WrongProof::Nothing => None,
                WrongProof::Code(_) => Some(Proof::CurrentCode(&wrong_current)),
                WrongProof::RecoveryCode(code) => {
                    Some(Proof::RecoveryCode { code, codes: &mut codes })
                }
                WrongProof::StalePassword(age) => {
                    Some(Proof::RecentPasswordCheck { verified_at: now - age })
                }
                WrongProof::FuturePassword(ahead) => {
                    Some(Proof::RecentPasswordCheck { verified_at: now + ahead })
                }
            };
            let step_up = StepUp::new(&current, &mut state, proof);
            let result = enrollment.confirm_replacement(
                &phone.code_at(now), now, &mut FactorState::new(), step_up,
            );
            match result {
                Ok(_) => prop_assert!(false, "replaced with a wrong proof at {now}"),
                Err(Error::ProofInvalid) => counted += 1,
                Err(
                    Error::StepUpRequired
                    | Error::StepUpExpired { .. }
                    | Error::StepUpInFuture { .. }
                    | Error::Throttled { .. }
                    | Error::Locked,
                ) => {}
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
            prop_assert_eq!(state.failures(), counted);
        }
        prop_assert_eq!(codes.remaining(), 10);
        state.unlock();
        let later = now + 60;
        let right = current.code_at(later);
        let step_up = StepUp::new(&current, &mut state, Some(Proof::CurrentCode(&right)));
        prop_assert!(enrollment
            .confirm_replacement(&phone.code_at(later), later, &mut FactorState::new(), step_up)
            .is_ok());
    }

    /// At one instant, however wrong codes and wrong recovery codes are
    /// interleaved, at most the free failures plus one are judged.
    #[test]
    fn guesses_of_either_kind_at_one_instant_are_bounded(
        kinds in proptest::collection::vec(any::<bool>(), 1..60),
        free in 0_u32..6,
        base in 1_u64..100,
    ) {
        let (current, mut state) = active();
        let current = current.with_throttle(Throttle::new(free, base, 3600));
        let (mut codes, _) = recovery();
        let wrong = wrong_code(&current, T, 0);
        let mut judged = 0;
        for recovery_code in kinds {
            let result = if recovery_code {
                codes.redeem("0000-0000-0000-0000", T, &mut state, current.throttle()).map(drop)
            } else {
                current.verify(&wrong, T, &mut state).map(drop)
            };
            match result {
                Err(Error::Invalid) => judged += 1,
                Err(Error::Throttled { .. }) => {}
                other => prop_assert!(false, "unexpected {other:?}"),
            }
        }
        prop_assert!(judged <= free + 1, "{judged} judged with {free} free");
    }
}
