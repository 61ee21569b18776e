//! The one error type of the crate, and the problems a policy file can have.

use std::fmt;

use crate::rule::Action;

/// What went wrong in palisade-retention.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The policy file has at least one error; every problem found is listed.
    #[error("{}", Problems(.0))]
    PolicyInvalid(Vec<Problem>),
    /// A new policy version would weaken a locked rule of the version it replaces.
    #[error("{}", Problems(.0))]
    LockedRuleWeakened(Vec<Problem>),
    /// The [`Executor`](crate::Executor) does not carry out this action: the
    /// application left its method out. Nothing was done to the record.
    #[error("the executor does not carry out action `{0}`")]
    ActionUnsupported(Action),
}

/// The result type of palisade-retention.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Every problem behind the error, in file order; none for an error
    /// that is not about a policy file.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::PolicyInvalid(problems) | Error::LockedRuleWeakened(problems) => problems,
            Error::ActionUnsupported(_) => &[],
        }
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self
            .0
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        write!(f, "the retention policy has {errors} error(s)")?;
        for problem in self.0 {
            write!(f, "; {problem}")?;
        }
        Ok(())
    }
}

/// How serious a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The policy is usable; a documented precedence resolves the issue.
    Warning,
    /// The policy cannot be used as written.
    Error,
}

/// One finding of policy validation, anchored to a line of the policy file.
///
/// The same shape as palisade-rbac's `Problem`, so a tool reports the
/// problems of both kinds of policy file alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// 1-based line in the policy file, when the problem has a place.
    pub line: Option<usize>,
    /// 1-based column (in characters) in that line.
    pub column: Option<usize>,
    /// What is wrong, in one lowercase sentence.
    pub message: String,
}

impl Problem {
    /// A problem anchored to a line only (or to nothing).
    pub(crate) fn at_line(severity: Severity, line: Option<usize>, message: String) -> Problem {
        Problem {
            severity,
            line,
            column: None,
            message,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(
                    f,
                    "line {line}, column {column}: {severity}: {}",
                    self.message
                )
            }
            (Some(line), None) => write!(f, "line {line}: {severity}: {}", self.message),
            _ => write!(f, "{severity}: {}", self.message),
        }
    }
}
