//! The one error type of the command-line tool and how it is reported.

use std::fmt::Display;
use std::io;
use std::process::ExitCode;

/// What a subcommand returns: the exit code of a finished run, or a failure.
pub(crate) type CliResult = Result<ExitCode, Failure>;

/// A run that could not finish: printed as one line on standard error.
#[derive(Debug)]
pub(crate) struct Failure {
    message: String,
    code: u8,
    /// The reader of standard output went away (`palisade … | head`): exit
    /// 0 without a word, as `cat` and ripgrep do.
    quiet: bool,
}

impl Failure {
    /// Malformed input or usage: exit status 2.
    pub(crate) fn input(message: impl Display) -> Self {
        Self {
            message: message.to_string(),
            code: 2,
            quiet: false,
        }
    }

    /// Writing standard output failed: a broken pipe ends the run quietly
    /// with status 0; any other error is reported (status 2).
    pub(crate) fn output(error: &io::Error) -> Self {
        if error.kind() == io::ErrorKind::BrokenPipe {
            Self {
                message: String::new(),
                code: 0,
                quiet: true,
            }
        } else {
            Self::input(format_args!("cannot write standard output: {error}"))
        }
    }

    /// A negative verdict that carries an explanation: exit status 1.
    pub(crate) fn verdict(message: impl Display) -> Self {
        Self {
            message: message.to_string(),
            code: 1,
            quiet: false,
        }
    }

    /// Prints the message and turns the failure into the process exit code.
    pub(crate) fn report(self) -> ExitCode {
        if !self.quiet {
            eprintln!("palisade: {}", self.message);
        }
        ExitCode::from(self.code)
    }
}

/// Makes `println!` and other writers that panic on a closed standard
/// output (`palisade … | head`) end the run quietly with status 0 instead of
/// a panic message: Rust ignores `SIGPIPE`, so a write to a pipe whose reader
/// is gone fails with `BrokenPipe`, and `println!` panics on that failure.
pub(crate) fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") || message.contains("BrokenPipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}
