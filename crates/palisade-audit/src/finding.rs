//! What a verifier reports about the first problem it finds.

use std::fmt;

/// The first problem a verification found: which record (if one is to blame)
/// and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The index of the first bad record, or `None` for a problem of the log
    /// as a whole (a missing tail, a bad checkpoint signature).
    pub index: Option<u64>,
    /// What is wrong, in words.
    pub problem: String,
}

impl Finding {
    pub(crate) fn at(index: u64, problem: impl Into<String>) -> Finding {
        Finding {
            index: Some(index),
            problem: problem.into(),
        }
    }

    pub(crate) fn log(problem: impl Into<String>) -> Finding {
        Finding {
            index: None,
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "record {i}: {}", self.problem),
            None => write!(f, "{}", self.problem),
        }
    }
}
