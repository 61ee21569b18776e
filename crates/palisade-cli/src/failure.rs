//! The one error type of the command-line tool and how it is reported.

use std::fmt::Display;
use std::process::ExitCode;

/// What a subcommand returns: the exit code of a finished run, or a failure.
pub(crate) type CliResult = Result<ExitCode, Failure>;

/// A run that could not finish: printed as one line on standard error.
#[derive(Debug)]
pub(crate) struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    /// Malformed input or usage: exit status 2.
    pub(crate) fn input(message: impl Display) -> Self {
        Self {
            message: message.to_string(),
            code: 2,
        }
    }

    /// A negative verdict that carries an explanation: exit status 1.
    pub(crate) fn verdict(message: impl Display) -> Self {
        Self {
            message: message.to_string(),
            code: 1,
        }
    }

    /// Prints the message and turns the failure into the process exit code.
    pub(crate) fn report(self) -> ExitCode {
        eprintln!("palisade: {}", self.message);
        ExitCode::from(self.code)
    }
}
