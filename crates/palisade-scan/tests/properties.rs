//! The reply parser's invariants over generated input: only the exact OK line
//! is clean, every well-formed FOUND line gives back its signature, and a
//! verdict always re-renders to the bytes it came from.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use palisade_scan::{Error, MAX_SIGNATURE_LEN, Verdict, parse_reply};
use proptest::prelude::*;

/// Signature names as clamd prints them: printable ASCII, no space at
/// either end.
fn signature() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._-]{1,60}",
        "[!-~]([ -~]{0,200}[!-~])?",
        Just("Win.Test.EICAR_HDB-1".to_owned()),
    ]
}

/// Bytes near clamd's replies, so mutations hit the interesting prefixes.
fn near_reply() -> impl Strategy<Value = Vec<u8>> {
    let base = prop_oneof![
        Just(b"stream: OK\0".to_vec()),
        Just(b"stream: Eicar FOUND\0".to_vec()),
        Just(b"stream: x ERROR\0".to_vec()),
        Just(b"INSTREAM size limit exceeded. ERROR\0".to_vec()),
    ];
    (
        base,
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    )
        .prop_map(|(mut bytes, edits)| {
            for (at, byte) in edits {
                let i = at.index(bytes.len() + 1);
                match byte % 3 {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    _ => {}
                }
            }
            bytes
        })
}

fn render(verdict: &Verdict) -> Vec<u8> {
    match verdict {
        Verdict::Clean => b"stream: OK\0".to_vec(),
        Verdict::Infected { signature } => format!("stream: {signature} FOUND\0").into_bytes(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn only_the_exact_ok_line_is_clean(reply in prop_oneof![
        near_reply(),
        proptest::collection::vec(any::<u8>(), 0..64),
    ]) {
        let parsed = parse_reply(&reply);
        if let Ok(verdict) = &parsed {
            // A verdict is only ever read from exactly the bytes it renders to.
            prop_assert_eq!(render(verdict), reply.clone());
        }
        prop_assert_eq!(matches!(parsed, Ok(Verdict::Clean)), reply == b"stream: OK\0");
    }

    #[test]
    fn found_lines_give_back_their_signature(signature in signature()) {
        let reply = format!("stream: {signature} FOUND\0");
        prop_assert_eq!(
            parse_reply(reply.as_bytes()).unwrap(),
            Verdict::Infected { signature: signature.clone() }
        );
        // Without its terminator, or with bytes after it, it is not a reply.
        prop_assert!(parse_reply(&reply.as_bytes()[..reply.len() - 1]).is_err());
        let mut longer = reply.clone().into_bytes();
        longer.push(b'x');
        prop_assert!(parse_reply(&longer).is_err());
    }

    #[test]
    fn error_lines_are_scanner_errors(message in "[!-~]([ -~]{0,100}[!-~])?") {
        let reply = format!("stream: {message} ERROR\0");
        match parse_reply(reply.as_bytes()) {
            Err(Error::ScannerFailed { message: m }) => {
                prop_assert_eq!(m, message.replace('\\', "\\\\"));
            }
            // `stream: <name> FOUND ERROR` is still an error line.
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn signature_bytes_outside_printable_ascii_are_refused(
        prefix in "[A-Za-z]{0,10}",
        bad in prop_oneof![0u8..0x20, 0x7fu8..=0xff],
        suffix in "[A-Za-z]{0,10}",
    ) {
        let mut reply = format!("stream: {prefix}").into_bytes();
        reply.push(bad);
        reply.extend_from_slice(format!("{suffix} FOUND\0").as_bytes());
        let malformed = matches!(parse_reply(&reply), Err(Error::ReplyMalformed { .. }));
        prop_assert!(malformed);
    }
}

#[test]
fn the_signature_length_limit_holds() {
    let at = format!("stream: {} FOUND\0", "S".repeat(MAX_SIGNATURE_LEN));
    assert!(parse_reply(at.as_bytes()).is_ok());
    let over = format!("stream: {} FOUND\0", "S".repeat(MAX_SIGNATURE_LEN + 1));
    assert!(matches!(
        parse_reply(over.as_bytes()),
        Err(Error::ReplyMalformed { .. })
    ));
}
