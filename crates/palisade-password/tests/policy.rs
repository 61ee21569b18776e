//! The NIST SP 800-63B policy as a table of passwords and expected refusals.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a test failure"
)]

use palisade_password::{Context, Error, Password, Policy, Refusal};

fn context() -> Context {
    Context::new()
        .user_name("alice")
        .email("alice.liddell+shop@wonderland.example")
        .word("Carroll")
}

#[test]
fn policy_table() {
    let policy = Policy::new().with_service_word("Palisade");
    let cases: &[(&str, &[Refusal])] = &[
        // Accepted: long, uncommon, no context; no composition rules.
        ("ink wolf parsley tundra", &[]),
        ("correcthorsebatterystaple", &[]),
        ("ünïcödé pässwörd", &[]),
        ("zq9!", &[Refusal::TooShort { min: 8 }]),
        // Common passwords, case-insensitively.
        ("password", &[Refusal::Common]),
        ("Password1", &[Refusal::Common]),
        ("iloveyou", &[Refusal::Common]),
        ("qwertyuiop", &[Refusal::Common]),
        ("12345678", &[Refusal::Common, Refusal::Predictable]),
        // Repetitive or sequential (NIST's "aaaaaa", "1234abcd").
        ("qqqqqqqqqqqqq", &[Refusal::Predictable]),
        ("lmnopqrstu", &[Refusal::Predictable]),
        ("5678wxyz", &[Refusal::Predictable]),
        ("xyzxyzxyzxyz", &[Refusal::Predictable]),
        // Context words: user name, e-mail parts, service name.
        (
            "my name is alice ok",
            &[Refusal::ContextWord("alice".into())],
        ),
        (
            "through the LIDDELL glass",
            &[Refusal::ContextWord("liddell".into())],
        ),
        (
            "wonderland forever!",
            &[Refusal::ContextWord("wonderland".into())],
        ),
        (
            "palisade rocks hard",
            &[Refusal::ContextWord("palisade".into())],
        ),
        (
            "lewis carroll wrote",
            &[Refusal::ContextWord("carroll".into())],
        ),
        // NFKC: full-width letters are the same word.
        ("ｐａｓｓｗｏｒｄ", &[Refusal::Common]),
    ];
    for (password, expected) in cases {
        let verdict = policy
            .check(&Password::new(password).unwrap(), &context())
            .unwrap();
        assert_eq!(verdict.refusals(), *expected, "{password:?}");
        assert_eq!(verdict.is_accepted(), expected.is_empty());
    }
}

#[test]
fn lengths_count_characters_and_accept_64_or_more() {
    let policy = Policy::new();
    let sixty_four = "blue river ".repeat(6) + "abcd"; // 70 chars
    assert!(
        policy
            .check(&Password::new(&sixty_four).unwrap(), &Context::new())
            .unwrap()
            .is_accepted()
    );
    let emoji = "🌊🦊🌲🪨🍄🐚🌵🦉"; // 8 characters, 32 bytes
    assert!(
        policy
            .check(&Password::new(emoji).unwrap(), &Context::new())
            .unwrap()
            .is_accepted()
    );
    let too_long = "wxyz ".repeat(60); // 300 characters
    let verdict = policy
        .check(&Password::new(&too_long).unwrap(), &Context::new())
        .unwrap();
    assert_eq!(verdict.refusals(), &[Refusal::TooLong { max: 256 }]);
    let strict = Policy::new().with_min_chars(15).unwrap();
    let verdict = strict
        .check(&Password::new("ink wolf tundra").unwrap(), &Context::new())
        .unwrap();
    assert!(verdict.is_accepted());
    let verdict = strict
        .check(&Password::new("ink wolf tundr").unwrap(), &Context::new())
        .unwrap();
    assert_eq!(verdict.refusals(), &[Refusal::TooShort { min: 15 }]);
    assert!(Policy::new().with_max_chars(63).is_err());
    assert!(Policy::new().with_min_chars(0).is_err());
}

#[test]
fn breached_check_is_pluggable_and_its_failure_is_an_error() {
    let corpus = ["tr0ub4dor&3 horse"];
    let policy =
        Policy::new().with_breach_check(move |p: &Password| Ok(corpus.contains(&p.expose())));
    let verdict = policy
        .check(
            &Password::new("tr0ub4dor&3 horse").unwrap(),
            &Context::new(),
        )
        .unwrap();
    assert_eq!(verdict.refusals(), &[Refusal::Breached]);
    assert_eq!(
        verdict.to_string(),
        "refused: found in a corpus of breached passwords"
    );
    assert!(
        policy
            .check(&Password::new("ink wolf parsley").unwrap(), &Context::new())
            .unwrap()
            .is_accepted()
    );

    // The check's own error is kept as the source, not flattened.
    let offline = Policy::new().with_breach_check(|_: &Password| {
        Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "service unreachable").into())
    });
    let err = offline
        .check(&Password::new("ink wolf parsley").unwrap(), &Context::new())
        .unwrap_err();
    assert!(matches!(err, Error::BreachCheckFailed(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "breached-password check failed: service unreachable"
    );
    let source = std::error::Error::source(&err).expect("the cause is kept");
    let io = source
        .downcast_ref::<std::io::Error>()
        .expect("as the check's own error type");
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn verdicts_list_every_reason() {
    let verdict = Policy::new()
        .check(
            &Password::new("alice").unwrap(),
            &Context::new().user_name("alice"),
        )
        .unwrap();
    assert_eq!(
        verdict.refusals(),
        &[
            Refusal::TooShort { min: 8 },
            Refusal::Common,
            Refusal::ContextWord("alice".into())
        ]
    );
    assert_eq!(
        verdict.to_string(),
        "refused: shorter than 8 characters; one of the most common passwords; contains `alice`, a word of the context"
    );
}
