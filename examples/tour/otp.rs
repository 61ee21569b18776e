//! Chapter 2: second factors, with palisade-otp.

use std::error::Error;
use std::path::Path;

use palisade_examples::{chapter, show, step};
use palisade_otp::{Enrollment, FactorState, KeyUri, Proof, RecoveryCodes, StepUp, unix_now};

pub(crate) fn run(workdir: &Path) -> Result<(), Box<dyn Error>> {
    chapter(
        2,
        "Second factor",
        "staff sign in with a code from their phone; each code works once, guessing is \
         throttled, and lost phones are covered by single-use recovery codes",
    );

    // Enrollment: a fresh 160-bit secret, the otpauth URI and its QR code.
    let enrollment = Enrollment::start("Acme Back Office", "alice@acme.example")?;
    let qr = workdir.join("alice-otp.svg");
    std::fs::write(&qr, enrollment.qr_svg()?.as_bytes())?;
    step("alice enrolls: a 160-bit secret from the OS, shown as a QR code to scan");
    show("QR code written to", qr.display());
    show("as logged", format!("{:?}", enrollment.secret()));
    show("key URI", format!("{:?}", enrollment.key_uri()));

    // Her phone scans the QR code: here we decode the URI as the app would.
    let phone = KeyUri::parse(&enrollment.uri_exposed())?.to_totp()?;

    // Confirmation: the factor is only active after a first valid code.
    let now = unix_now()?;
    let mut state = FactorState::new();
    let wrong = if &*phone.code_at(now) == "000000" {
        "000001"
    } else {
        "000000"
    };
    step(format!("she types a wrong first code ({wrong})"));
    show(
        "confirm",
        display(
            enrollment
                .confirm_first(wrong, now, &mut state)
                .map(|_| "factor active"),
        ),
    );
    let first = phone.code_at(now);
    let factor = enrollment.confirm_first(&first, now, &mut state)?;
    step("she types the code her phone shows: the factor is now active");
    show("state to store", serde_json::to_string(&state)?);

    // Sign-in half a minute later: the matched time step is returned...
    let later = now + 30;
    let code = phone.code_at(later);
    step("sign-in 30 s later with the new code");
    show(
        "verify",
        display(
            factor
                .verify(&code, later, &mut state)
                .map(|s| format!("time step {s}")),
        ),
    );
    // ... and the same code, replayed (by her or by a phisher), is refused.
    step("the same code again, 5 seconds later");
    show(
        "verify",
        display(
            factor
                .verify(&code, later + 5, &mut state)
                .map(|s| format!("time step {s}")),
        ),
    );

    // Guessing: the replay was failure 1; after three, a doubling back-off starts.
    step("an attacker guesses five codes in a row (the replay above counted as a failure)");
    for guess in ["111111", "222222", "333333", "444444", "555555"] {
        let result = factor.verify(guess, later + 10, &mut state);
        show(guess, display(result.map(|s| format!("time step {s}"))));
    }
    show("state to store", serde_json::to_string(&state)?);

    // Recovery codes: shown once, stored as hashes, each usable once, and
    // throttled by the factor's state like codes.
    let (mut stored, codes) = RecoveryCodes::generate(10)?;
    step("ten recovery codes are shown to alice once; the server keeps only hashes");
    show("first code", codes.first().map_or("", |c| c.expose()));
    let lost_phone = codes.get(3).map_or("", |c| c.expose());
    let throttle = *factor.throttle();
    step("phone lost: alice signs in with a recovery code while the guessing back-off still runs");
    let mut redeem = |at: u64, state: &mut FactorState| {
        display(
            stored
                .redeem(lost_phone, at, state, &throttle)
                .map(|left| format!("{left} codes left")),
        )
    };
    show("recovery code", redeem(later + 10, &mut state));
    let after = state.throttled_until().unwrap_or(later + 10);
    step("once the back-off has passed, the same code works, then never again");
    show("first use", redeem(after, &mut state));
    show("second use", redeem(after, &mut state));

    // Replacing the factor: a session alone is not enough.
    let replacement = Enrollment::start("Acme Back Office", "alice@acme.example")?;
    let new_phone = KeyUri::parse(&replacement.uri_exposed())?.to_totp()?;
    let at = after + 60;
    let new_code = new_phone.code_at(at);
    step("someone with alice's stolen session enrolls their own phone in her place");
    let step_up = StepUp::new(&factor, &mut state, None);
    let outcome = replacement.confirm_replacement(&new_code, at, &mut FactorState::new(), step_up);
    show("replace", display(outcome.map(|_| "factor replaced")));
    step("alice does it after typing her password 2 minutes ago in this session");
    let recent = Proof::RecentPasswordCheck {
        verified_at: at - 120,
    };
    let step_up = StepUp::new(&factor, &mut state, Some(recent));
    let outcome = replacement.confirm_replacement(&new_code, at, &mut FactorState::new(), step_up);
    show("replace", display(outcome.map(|_| "factor replaced")));
    Ok(())
}

fn display<T: std::fmt::Display>(result: palisade_otp::Result<T>) -> String {
    match result {
        Ok(value) => format!("accepted ({value})"),
        Err(e) => format!("refused: {e}"),
    }
}
