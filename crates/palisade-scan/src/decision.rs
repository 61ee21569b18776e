//! What an upload does with a scan's outcome.

use crate::error::{Error, Result};
use crate::reply::Verdict;

/// What to do with a file when the scanner cannot be reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FailurePolicy {
    /// Refuse the file (the default): no file is stored unscanned.
    #[default]
    FailClosed,
    /// Admit the file unscanned, as [`Decision::AdmittedUnscanned`], so the
    /// application can record it and scan it later. Applies only to
    /// [`Error::ScannerUnreachable`].
    FailOpen,
}

/// The outcome of [`Scanner::decide`](crate::Scanner::decide): whether an
/// uploaded file may be stored, and why.
///
/// Exhaustive on purpose: a caller handles each case.
///
/// | outcome | store? | what the back office does |
/// |---|---|---|
/// | `Clean` | yes | store it |
/// | `Infected` | no | 422, and an audit record naming the signature |
/// | `Refused` | no | 503 when the scanner is unreachable, timed out or failed; 413 for [`Error::FileTooLarge`] and [`Error::ScannerLimitExceeded`]; 400 for [`Error::InputUnreadable`] |
/// | `AdmittedUnscanned` | yes | store it, with an audit record saying it was not scanned (and scan it later) |
#[must_use = "a decision says whether the file may be stored"]
#[derive(Debug)]
pub enum Decision {
    /// clamd read the whole file and matched no signature.
    Clean,
    /// clamd matched a signature: do not store the file.
    Infected {
        /// The signature's name (printable ASCII, safe to log).
        signature: String,
    },
    /// The file was not scanned, or not to the end, and must not be stored:
    /// under [`FailurePolicy::FailClosed`] any error, under
    /// [`FailurePolicy::FailOpen`] any error but
    /// [`Error::ScannerUnreachable`].
    Refused(Error),
    /// The scanner was unreachable and the policy is
    /// [`FailurePolicy::FailOpen`]: the file may be stored, unscanned. The
    /// error says why; nothing was read from the file.
    AdmittedUnscanned(Error),
}

impl Decision {
    /// Applies `policy` to a scan's outcome.
    pub fn from_scan(scan: Result<Verdict>, policy: FailurePolicy) -> Decision {
        match scan {
            Ok(Verdict::Clean) => Decision::Clean,
            Ok(Verdict::Infected { signature }) => Decision::Infected { signature },
            Err(error @ Error::ScannerUnreachable { .. }) if policy == FailurePolicy::FailOpen => {
                Decision::AdmittedUnscanned(error)
            }
            Err(error) => Decision::Refused(error),
        }
    }

    /// Whether the file may be stored: [`Decision::Clean`] or
    /// [`Decision::AdmittedUnscanned`].
    pub fn may_store(&self) -> bool {
        matches!(self, Decision::Clean | Decision::AdmittedUnscanned(_))
    }
}

/// With the `serde` feature a decision serializes for a log line or an API
/// answer: `{"decision":"clean","may_store":true}`,
/// `{"decision":"infected","may_store":false,"signature":"Win.Test.EICAR_HDB-1"}`,
/// `{"decision":"refused","may_store":false,"error":"…"}` or
/// `{"decision":"admitted_unscanned","may_store":true,"error":"…"}` (the
/// error's message, as `Display` prints it).
#[cfg(feature = "serde")]
impl serde::Serialize for Decision {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> core::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        let name = match self {
            Decision::Clean => "clean",
            Decision::Infected { .. } => "infected",
            Decision::Refused(_) => "refused",
            Decision::AdmittedUnscanned(_) => "admitted_unscanned",
        };
        map.serialize_entry("decision", name)?;
        map.serialize_entry("may_store", &self.may_store())?;
        match self {
            Decision::Clean => {}
            Decision::Infected { signature } => map.serialize_entry("signature", signature)?,
            Decision::Refused(error) | Decision::AdmittedUnscanned(error) => {
                map.serialize_entry("error", &format_args!("{error}"))?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable() -> Error {
        Error::ScannerUnreachable {
            address: "unix:/nowhere".into(),
            source: std::io::ErrorKind::NotFound.into(),
        }
    }

    fn other_errors() -> Vec<Error> {
        vec![
            Error::ScannerTimedOut {
                address: "x".into(),
                source: std::io::ErrorKind::TimedOut.into(),
            },
            Error::ScannerDisconnected {
                address: "x".into(),
                source: std::io::ErrorKind::ConnectionReset.into(),
            },
            Error::ScannerFailed {
                message: "oops".into(),
            },
            Error::FileTooLarge { limit: 1 },
            Error::ScannerLimitExceeded,
            Error::ReplyMalformed { reply: "x".into() },
            Error::InputUnreadable {
                source: std::io::ErrorKind::UnexpectedEof.into(),
            },
        ]
    }

    #[test]
    fn fail_closed_refuses_every_error() {
        for error in other_errors().into_iter().chain([unreachable()]) {
            let decision = Decision::from_scan(Err(error), FailurePolicy::default());
            assert!(matches!(decision, Decision::Refused(_)), "{decision:?}");
            assert!(!decision.may_store());
        }
    }

    #[test]
    fn fail_open_admits_only_an_unreachable_scanner() {
        let decision = Decision::from_scan(Err(unreachable()), FailurePolicy::FailOpen);
        assert!(matches!(
            decision,
            Decision::AdmittedUnscanned(Error::ScannerUnreachable { .. })
        ));
        assert!(decision.may_store());
        for error in other_errors() {
            let decision = Decision::from_scan(Err(error), FailurePolicy::FailOpen);
            assert!(matches!(decision, Decision::Refused(_)), "{decision:?}");
            assert!(!decision.may_store());
        }
    }

    #[test]
    fn verdicts_pass_through_either_policy() {
        for policy in [FailurePolicy::FailClosed, FailurePolicy::FailOpen] {
            assert!(Decision::from_scan(Ok(Verdict::Clean), policy).may_store());
            let infected = Decision::from_scan(
                Ok(Verdict::Infected {
                    signature: "Eicar".into(),
                }),
                policy,
            );
            assert!(matches!(&infected, Decision::Infected { signature } if signature == "Eicar"));
            assert!(!infected.may_store());
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn decisions_and_verdicts_serialize_for_a_log_line() {
        use serde_json::{json, to_value};
        let infected = Verdict::Infected {
            signature: "Win.Test.EICAR_HDB-1".into(),
        };
        assert_eq!(
            to_value(&Verdict::Clean).unwrap(),
            json!({"verdict": "clean"})
        );
        assert_eq!(
            to_value(&infected).unwrap(),
            json!({"verdict": "infected", "signature": "Win.Test.EICAR_HDB-1"})
        );
        let policy = FailurePolicy::FailOpen;
        let cases = [
            (
                Decision::from_scan(Ok(Verdict::Clean), policy),
                json!({"decision": "clean", "may_store": true}),
            ),
            (
                Decision::from_scan(Ok(infected), policy),
                json!({"decision": "infected", "may_store": false, "signature": "Win.Test.EICAR_HDB-1"}),
            ),
            (
                Decision::from_scan(Err(Error::FileTooLarge { limit: 1 }), policy),
                json!({
                    "decision": "refused",
                    "may_store": false,
                    "error": "the file is larger than the virus scanner accepts (1 bytes)",
                }),
            ),
            (
                Decision::from_scan(Err(unreachable()), policy),
                json!({
                    "decision": "admitted_unscanned",
                    "may_store": true,
                    "error": unreachable().to_string(),
                }),
            ),
        ];
        for (decision, expected) in cases {
            assert_eq!(to_value(&decision).unwrap(), expected, "{decision:?}");
        }
    }
}
