//! Behaviour of verification: replay protection, the skew window, throttling,
//! enrollment confirmation and recovery codes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use palisade_otp::{
    Enrollment, Error, FactorState, Hotp, KeyUri, RecoveryCodes, Secret, Throttle, Totp,
};

const T: u64 = 1_700_000_000; // a step boundary is at 1_699_999_980; T is 20 s into its step

fn factor() -> Totp {
    Totp::new(Secret::from_bytes(b"12345678901234567890").unwrap())
}

#[test]
fn a_code_is_refused_the_second_time() {
    let totp = factor();
    let mut state = FactorState::new();
    let code = totp.code_at(T);
    assert_eq!(totp.verify(&code, T, &mut state), Ok(T / 30));
    assert_eq!(state.last_step(), Some(T / 30));
    assert_eq!(totp.verify(&code, T, &mut state), Err(Error::Replayed));
    // Still refused later while the code is within the window.
    assert_eq!(totp.verify(&code, T + 30, &mut state), Err(Error::Replayed));
    // An older code (previous step, inside the skew window) is refused too.
    let older = totp.code_at(T - 30);
    assert_eq!(totp.verify(&older, T, &mut state), Err(Error::Replayed));
    // The next step's code is fine.
    let next = totp.code_at(T + 30);
    assert_eq!(totp.verify(&next, T + 30, &mut state), Ok(T / 30 + 1));
}

#[test]
fn replay_protection_survives_a_store_round_trip() {
    let totp = factor();
    let mut state = FactorState::new();
    let code = totp.code_at(T);
    totp.verify(&code, T, &mut state).unwrap();
    let stored = serde_json::to_string(&state).unwrap();
    // Another app instance loads the state.
    let mut loaded: FactorState = serde_json::from_str(&stored).unwrap();
    assert_eq!(totp.verify(&code, T, &mut loaded), Err(Error::Replayed));
}

#[test]
fn the_skew_window_is_plus_minus_one_step_by_default() {
    let totp = factor();
    for (offset, accepted) in [
        (-2_i64, false),
        (-1, true),
        (0, true),
        (1, true),
        (2, false),
    ] {
        let mut state = FactorState::new();
        let at = T.checked_add_signed(offset * 30).unwrap();
        let result = totp.verify(&totp.code_at(at), T, &mut state);
        if accepted {
            assert_eq!(result, Ok(at / 30), "offset {offset}");
        } else {
            assert_eq!(result, Err(Error::Invalid), "offset {offset}");
            assert_eq!(state.failures(), 1);
        }
    }
    // Skew 0 accepts the current step only; skew 2 accepts two steps off.
    let mut state = FactorState::new();
    let strict = factor().with_skew(0);
    assert_eq!(
        strict.verify(&strict.code_at(T - 30), T, &mut state),
        Err(Error::Invalid)
    );
    let loose = factor().with_skew(2);
    let mut state = FactorState::new();
    assert_eq!(
        loose.verify(&loose.code_at(T - 60), T, &mut state),
        Ok(T / 30 - 2)
    );
}

#[test]
fn wrong_and_malformed_codes_are_opaque() {
    let totp = factor();
    let good = totp.code_at(T);
    let wrong = format!("{:06}", (good.parse::<u32>().unwrap() + 1) % 1_000_000);
    for code in [wrong.as_str(), "", "12345", "1234567", "abcdef", "12 34 5x"] {
        let mut state = FactorState::new();
        assert_eq!(
            totp.verify(code, T, &mut state),
            Err(Error::Invalid),
            "{code:?}"
        );
    }
    // Spaces typed between digits are ignored.
    let spaced = format!("{} {}", &good[..3], &good[3..]);
    assert_eq!(totp.verify(&spaced, T, &mut FactorState::new()), Ok(T / 30));
}

#[test]
fn the_throttle_engages_and_releases_after_the_back_off() {
    // Two free failures, then 10 s, 20 s, 40 s …
    let totp = factor().with_throttle(Throttle::new(2, 10, 3600));
    let mut state = FactorState::new();
    let good_later = |at: u64| totp.code_at(at);
    let mut now = T;
    assert_eq!(totp.verify("000000", now, &mut state), Err(Error::Invalid));
    assert_eq!(totp.verify("000001", now, &mut state), Err(Error::Invalid));
    assert_eq!(state.throttled_until(), None, "within the grace count");
    assert_eq!(totp.verify("000002", now, &mut state), Err(Error::Invalid));
    assert_eq!(state.throttled_until(), Some(now + 10));
    // During the back-off even the right code is refused, and not counted.
    let good = good_later(now + 5);
    assert_eq!(
        totp.verify(&good, now + 5, &mut state),
        Err(Error::Throttled { until: now + 10 })
    );
    assert_eq!(state.failures(), 3);
    // After it, a wrong code doubles the back-off.
    now += 10;
    assert_eq!(totp.verify("000003", now, &mut state), Err(Error::Invalid));
    assert_eq!(state.throttled_until(), Some(now + 20));
    assert_eq!(
        totp.verify(&good_later(now + 19), now + 19, &mut state),
        Err(Error::Throttled { until: now + 20 })
    );
    // Released: the right code is accepted and the state is reset.
    now += 20;
    let step = totp.verify(&good_later(now), now, &mut state).unwrap();
    assert_eq!(step, now / 30);
    assert_eq!((state.failures(), state.throttled_until()), (0, None));
}

#[test]
fn replays_count_as_failures() {
    let totp = factor().with_throttle(Throttle::new(1, 60, 60));
    let mut state = FactorState::new();
    let code = totp.code_at(T);
    totp.verify(&code, T, &mut state).unwrap();
    assert_eq!(totp.verify(&code, T, &mut state), Err(Error::Replayed));
    assert_eq!(totp.verify(&code, T, &mut state), Err(Error::Replayed));
    assert_eq!(
        totp.verify(&code, T, &mut state),
        Err(Error::Throttled { until: T + 60 })
    );
}

#[test]
fn the_factor_locks_after_the_configured_failures_until_unlocked() {
    let totp = factor().with_throttle(Throttle::new(u32::MAX, 0, 0).with_lock_after(Some(5)));
    let mut state = FactorState::new();
    for _ in 0..5 {
        assert_eq!(totp.verify("000000", T, &mut state), Err(Error::Invalid));
    }
    let good = totp.code_at(T);
    assert_eq!(totp.verify(&good, T, &mut state), Err(Error::Locked));
    assert_eq!(
        totp.verify(&good, T + 86_400, &mut state),
        Err(Error::Locked)
    );
    state.unlock();
    let later = T + 86_400;
    assert_eq!(
        totp.verify(&totp.code_at(later), later, &mut state),
        Ok(later / 30)
    );
}

#[test]
fn default_throttle_locks_at_nist_ceiling_of_100() {
    let totp = factor();
    let mut state = FactorState::new();
    let mut now = T;
    let mut invalid = 0;
    while invalid < 100 {
        match totp.verify("000000", now, &mut state) {
            Err(Error::Invalid) => invalid += 1,
            Err(Error::Throttled { until }) => now = until,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        totp.verify(&totp.code_at(now), now, &mut state),
        Err(Error::Locked)
    );
}

#[test]
fn hotp_moves_the_counter_forward_and_refuses_replays() {
    let hotp = Hotp::new(Secret::from_bytes(b"12345678901234567890").unwrap()).with_look_ahead(2);
    let mut state = FactorState::new();
    assert_eq!(hotp.verify("755224", T, &mut state), Ok(0));
    assert_eq!(hotp.verify("755224", T, &mut state), Err(Error::Replayed));
    // Counter 3 is within look-ahead 2 of the expected counter 1.
    assert_eq!(hotp.verify("969429", T, &mut state), Ok(3));
    // Counter 7 is too far ahead of 4.
    assert_eq!(hotp.verify("162583", T, &mut state), Err(Error::Invalid));
    // Counter 2 was skipped and is now behind: refused as a replay.
    assert_eq!(hotp.verify("359152", T, &mut state), Err(Error::Invalid));
    assert_eq!(hotp.verify("338314", T, &mut state), Ok(4));
}

#[test]
fn enrollment_activates_only_after_a_valid_first_code() {
    let enrollment = Enrollment::start("Example Corp", "alice@example.com").unwrap();
    assert_eq!(enrollment.secret().len(), 20, "160-bit secret");
    let key = KeyUri::parse(&enrollment.uri_exposed()).unwrap();
    assert_eq!(key.issuer(), Some("Example Corp"));
    assert_eq!(key.account(), "alice@example.com");
    let authenticator = key.to_totp().unwrap();

    let mut state = FactorState::new();
    let code = authenticator.code_at(T);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_eq!(
        enrollment.confirm_first(&wrong, T, &mut state).err(),
        Some(Error::Invalid)
    );
    let factor = enrollment.confirm_first(&code, T, &mut state).unwrap();
    assert_eq!(factor.secret(), enrollment.secret());
    // The confirming code cannot be used again to sign in.
    assert_eq!(factor.verify(&code, T, &mut state), Err(Error::Replayed));

    // A pending enrollment can be resumed from its URI.
    let resumed = Enrollment::resume(key).unwrap();
    assert_eq!(resumed.secret(), enrollment.secret());
}

#[test]
fn qr_codes_are_written_as_svg_and_png() {
    let enrollment = Enrollment::start("Example Corp", "alice@example.com").unwrap();
    let svg = enrollment.qr_svg().unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.ends_with("</svg>"));
    let png = enrollment.qr_png().unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: width and height are (modules + 8) * 8 pixels, square.
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(width, height);
    assert_eq!(width % 8, 0);
    let modules = width / 8 - 8;
    assert_eq!((modules - 21) % 4, 0, "a QR symbol is 21 + 4k modules wide");
}

#[test]
fn a_recovery_code_works_once() {
    let (mut stored, codes) = RecoveryCodes::generate(10).unwrap();
    // No back-off here: this test is about the codes, not the throttle.
    let throttle = Throttle::new(u32::MAX, 0, 0).with_lock_after(None);
    let mut state = FactorState::new();
    let mut redeem =
        |stored: &mut RecoveryCodes, code: &str| stored.redeem(code, T, &mut state, &throttle);
    assert_eq!(codes.len(), 10);
    assert_eq!(stored.remaining(), 10);
    for code in &codes {
        let text = code.expose();
        assert_eq!(text.len(), 19);
        assert!(text.chars().enumerate().all(|(i, c)| if i % 5 == 4 {
            c == '-'
        } else {
            "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)
        }));
    }
    assert_eq!(redeem(&mut stored, codes[3].expose()), Ok(9));
    assert_eq!(redeem(&mut stored, codes[3].expose()), Err(Error::Invalid));
    // Lower case, no hyphens, and O/I read as 0/1 are accepted.
    let typed = codes[4]
        .expose()
        .to_lowercase()
        .replace('-', "")
        .replace('0', "o")
        .replace('1', "i");
    assert_eq!(redeem(&mut stored, &typed), Ok(8));
    assert_eq!(
        redeem(&mut stored, "0000-0000-0000-0000"),
        Err(Error::Invalid)
    );
    // The stored form holds hashes only, and survives serialization.
    let json = serde_json::to_string(&stored).unwrap();
    for code in &codes {
        assert!(!json.contains(&code.expose().replace('-', "")));
    }
    let mut loaded: RecoveryCodes = serde_json::from_str(&json).unwrap();
    assert_eq!(redeem(&mut loaded, codes[4].expose()), Err(Error::Invalid));
    assert_eq!(redeem(&mut loaded, codes[5].expose()), Ok(7));
    assert_eq!(format!("{:?}", codes[0]), "RecoveryCode { .. }");
    // Debug shows counts, never the per-set key or a hash.
    assert_eq!(
        format!("{loaded:?}"),
        "RecoveryCodes { len: 10, remaining: 7, .. }"
    );
    // Two sets never share hashes (per-set key).
    let (other, _) = RecoveryCodes::generate(10).unwrap();
    assert_ne!(serde_json::to_string(&other).unwrap()[..80], json[..80]);
    assert_eq!(
        RecoveryCodes::generate(0).err(),
        Some(Error::RecoveryCountOutOfRange(0))
    );
}
