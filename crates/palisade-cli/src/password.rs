//! `palisade password …` (placeholder until palisade-password lands).

use std::process::ExitCode;

use clap::Subcommand;

use crate::CliResult;

/// Password subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the PHC string for the password on standard input
    Hash,
}

pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Hash => Ok(ExitCode::SUCCESS),
    }
}
