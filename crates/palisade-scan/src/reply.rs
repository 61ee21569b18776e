//! clamd's replies: the scan verdict, `PONG`, the version line.
//!
//! Commands are sent with the `z` prefix, so every reply is one line ended by
//! a NUL byte, after which clamd closes the connection. The parsers take the
//! whole reply as received, terminator included, and accept exactly the
//! replies clamd sends; anything else is [`Error::ReplyMalformed`], never a
//! clean verdict.

use crate::error::{Error, Result};

/// The longest reply read from clamd; a longer one is malformed. Real replies
/// are a few dozen bytes (`stream: Win.Test.EICAR_HDB-1 FOUND`).
pub(crate) const MAX_REPLY_LEN: usize = 4096;

/// The longest signature name accepted in a `FOUND` reply.
pub const MAX_SIGNATURE_LEN: usize = 512;

/// How much of a malformed reply an error message quotes.
const QUOTED_LEN: usize = 120;

/// What the scanner found in a file it read to the end.
///
/// With the `serde` feature it serializes as `{"verdict":"clean"}` or
/// `{"verdict":"infected","signature":"Win.Test.EICAR_HDB-1"}`.
#[must_use = "a verdict says whether the file may be stored"]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "verdict", rename_all = "snake_case"))]
pub enum Verdict {
    /// No signature matched (`stream: OK`).
    Clean,
    /// A signature matched (`stream: <signature> FOUND`).
    Infected {
        /// The signature's name, e.g. `Win.Test.EICAR_HDB-1`: printable ASCII,
        /// 1 to [`MAX_SIGNATURE_LEN`] bytes, safe to log.
        signature: String,
    },
}

/// Parses clamd's reply to `zINSTREAM`, terminator included.
///
/// `stream: OK\0` is [`Verdict::Clean`]; it is the only reply that is.
/// `stream: <signature> FOUND\0` is [`Verdict::Infected`];
/// `stream: <message> ERROR\0` is [`Error::ScannerFailed`];
/// `INSTREAM size limit exceeded. ERROR\0` is
/// [`Error::ScannerLimitExceeded`]; anything else (an empty reply, a missing
/// or repeated terminator, a signature with control characters, another
/// command's reply) is [`Error::ReplyMalformed`].
pub fn parse_reply(reply: &[u8]) -> Result<Verdict> {
    let line = line(reply)?;
    if line == b"stream: OK" {
        return Ok(Verdict::Clean);
    }
    if line == b"INSTREAM size limit exceeded. ERROR" {
        return Err(Error::ScannerLimitExceeded);
    }
    if let Some(rest) = line.strip_prefix(b"stream: ") {
        if let Some(signature) = rest.strip_suffix(b" FOUND") {
            if is_signature(signature) {
                // Printable ASCII is UTF-8.
                let signature = String::from_utf8_lossy(signature).into_owned();
                return Ok(Verdict::Infected { signature });
            }
        } else if let Some(message) = rest.strip_suffix(b" ERROR")
            && !message.is_empty()
        {
            return Err(Error::ScannerFailed {
                message: quote(message, MAX_REPLY_LEN),
            });
        }
    }
    Err(malformed(reply))
}

/// Parses the reply to `zPING`: exactly `PONG\0`.
pub(crate) fn parse_pong(reply: &[u8]) -> Result<()> {
    if reply == b"PONG\0" {
        Ok(())
    } else {
        Err(malformed(reply))
    }
}

/// Parses the reply to `zVERSION`: `ClamAV <version>[/<db>/<date>]\0`, as
/// printable ASCII.
pub(crate) fn parse_version(reply: &[u8]) -> Result<String> {
    let line = line(reply)?;
    if line.starts_with(b"ClamAV ") && line.iter().all(|&b| b == b' ' || b.is_ascii_graphic()) {
        Ok(String::from_utf8_lossy(line).into_owned())
    } else {
        Err(malformed(reply))
    }
}

/// The reply without its terminator: exactly one NUL, at the end.
fn line(reply: &[u8]) -> Result<&[u8]> {
    match reply.split_last() {
        Some((0, line)) if !line.contains(&0) => Ok(line),
        _ => Err(malformed(reply)),
    }
}

/// A signature name as clamd prints it: printable ASCII without spaces at
/// either end, not too long.
fn is_signature(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SIGNATURE_LEN
        && name.iter().all(|&b| b == b' ' || b.is_ascii_graphic())
        && name.first() != Some(&b' ')
        && name.last() != Some(&b' ')
}

pub(crate) fn malformed(reply: &[u8]) -> Error {
    Error::ReplyMalformed {
        reply: if reply.is_empty() {
            String::from("(nothing)")
        } else {
            quote(reply, QUOTED_LEN)
        },
    }
}

/// Printable ASCII kept, a backslash doubled, every other byte escaped as
/// `\xNN`; at most `max` input bytes, `…` when cut.
fn quote(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(max) {
        match b {
            b'\\' => out.push_str("\\\\"),
            b' '..=b'~' => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_only_for_the_exact_ok_line() {
        assert_eq!(parse_reply(b"stream: OK\0").unwrap(), Verdict::Clean);
        for reply in [
            &b"stream: OK"[..],
            b"stream: OK\0\0",
            b"stream: OK\n",
            b"stream: OK\0stream: OK\0",
            b"stream:  OK\0",
            b"Stream: OK\0",
            b" stream: OK\0",
            b"stream: OK \0",
            b"OK\0",
            b"stream: OK FOUND\0x",
            b"1: stream: OK\0",
            b"\0",
            b"",
        ] {
            assert!(
                matches!(parse_reply(reply), Err(Error::ReplyMalformed { .. })),
                "{reply:?} must be malformed, got {:?}",
                parse_reply(reply)
            );
        }
    }

    #[test]
    fn found_carries_the_signature() {
        assert_eq!(
            parse_reply(b"stream: Win.Test.EICAR_HDB-1 FOUND\0").unwrap(),
            Verdict::Infected {
                signature: "Win.Test.EICAR_HDB-1".into()
            }
        );
        // A name that looks like a verdict is still only a name.
        assert_eq!(
            parse_reply(b"stream: OK FOUND\0").unwrap(),
            Verdict::Infected {
                signature: "OK".into()
            }
        );
        for reply in [
            &b"stream:  FOUND\0"[..],
            b"stream: FOUND\0",
            b"stream: Eicar\nInjected FOUND\0",
            b"stream: Eicar\x1b[31m FOUND\0",
            b"stream: \xc3\xa9 FOUND\0",
            b"stream:  Eicar FOUND\0",
        ] {
            assert!(
                matches!(parse_reply(reply), Err(Error::ReplyMalformed { .. })),
                "{reply:?}"
            );
        }
        let long = format!("stream: {} FOUND\0", "A".repeat(MAX_SIGNATURE_LEN));
        assert!(parse_reply(long.as_bytes()).is_ok());
        let long = format!("stream: {} FOUND\0", "A".repeat(MAX_SIGNATURE_LEN + 1));
        assert!(parse_reply(long.as_bytes()).is_err());
    }

    #[test]
    fn errors_are_typed() {
        assert!(matches!(
            parse_reply(b"INSTREAM size limit exceeded. ERROR\0"),
            Err(Error::ScannerLimitExceeded)
        ));
        match parse_reply(b"stream: Can't allocate memory ERROR\0") {
            Err(Error::ScannerFailed { message }) => assert_eq!(message, "Can't allocate memory"),
            other => panic!("{other:?}"),
        }
        match parse_reply(b"stream: \x07bell ERROR\0") {
            Err(Error::ScannerFailed { message }) => assert_eq!(message, "\\x07bell"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_reply(b"UNKNOWN COMMAND\0"),
            Err(Error::ReplyMalformed { .. })
        ));
        assert!(matches!(
            parse_reply(b"stream:  ERROR\0"),
            Err(Error::ReplyMalformed { .. })
        ));
    }

    #[test]
    fn malformed_replies_are_quoted_safely() {
        let Err(Error::ReplyMalformed { reply }) = parse_reply(b"\x1b[2Jhi\nthere\0") else {
            panic!()
        };
        assert_eq!(reply, "\\x1b[2Jhi\\x0athere\\x00");
        let Err(Error::ReplyMalformed { reply }) = parse_reply(&[b'x'; 1000]) else {
            panic!()
        };
        assert_eq!(reply.len(), QUOTED_LEN + '…'.len_utf8());
        let Err(e) = parse_reply(b"") else { panic!() };
        assert_eq!(
            e.to_string(),
            "the virus scanner sent an unexpected reply `(nothing)`"
        );
    }

    #[test]
    fn pong_and_version() {
        parse_pong(b"PONG\0").unwrap();
        assert!(parse_pong(b"PONG").is_err());
        assert!(parse_pong(b"PONG\0\0").is_err());
        assert_eq!(parse_version(b"ClamAV 1.4.6\0").unwrap(), "ClamAV 1.4.6");
        assert_eq!(
            parse_version(b"ClamAV 1.4.6/27846/Sat Dec  5 09:26:03 2026\0").unwrap(),
            "ClamAV 1.4.6/27846/Sat Dec  5 09:26:03 2026"
        );
        assert!(parse_version(b"ClamAV 1.4.6").is_err());
        assert!(parse_version(b"PONG\0").is_err());
        assert!(parse_version(b"ClamAV \x1b\0").is_err());
    }
}
