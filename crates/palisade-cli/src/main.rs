//! `palisade`: the command-line tool over the Palisade crates.
//!
//! Conventions shared by every subcommand:
//! - secrets (passwords, keys) come from standard input or files, never from
//!   arguments, so they do not end up in shell history or `ps` output;
//! - exit status 0 means success or a positive verdict (valid, allow), 1 a
//!   negative verdict (invalid, deny, tampered), 2 malformed input or usage,
//!   with a one-line error on standard error.

#![forbid(unsafe_code)]

mod audit;
mod crypt;
mod failure;
mod input;
mod otp;
mod password;
mod pii;
mod policy;
mod retention;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub(crate) use failure::{CliResult, Failure};

/// mimalloc (v3) reserves its memory in large arenas it advises the kernel
/// to back with transparent huge pages. `password hash` and `verify` work in
/// 19 MiB of Argon2 memory, which with 4 KiB pages costs a new process about
/// 4,900 page faults (about a third of its CPU time); in huge pages about 300.
/// The Argon2 memory is still wiped after every hash by palisade-password.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Palisade: security building blocks for SaaS back ends.
#[derive(Debug, Parser)]
#[command(name = "palisade", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Hash and verify passwords, check them against the policy, calibrate Argon2
    #[command(subcommand)]
    Password(password::Command),
    /// Second factors: enroll (secret, otpauth URI, QR), codes, verification, recovery codes
    #[command(subcommand)]
    Otp(otp::Command),
    /// Field encryption: keyrings, rotation, tokens, rewrap, sealed streams, blind indexes
    #[command(subcommand)]
    Crypt(crypt::Command),
    /// Tamper-evident audit log: append, verify, prove, checkpoint, export, query, erase
    #[command(subcommand)]
    Audit(audit::Command),
    /// Retention: check policy files, plan what is due, answer erasure requests
    #[command(subcommand)]
    Retention(retention::Command),
    /// Access policies: validate files, decide and explain requests, list permissions, who can
    #[command(subcommand)]
    Policy(policy::Command),
    /// Personal data and secrets: scan for findings, mask streams and JSON documents
    #[command(subcommand)]
    Pii(pii::Command),
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell)
    Completions {
        /// The shell, e.g. `bash`
        shell: clap_complete::Shell,
    },
    /// Write the man pages (palisade.1 and one per subcommand) into a directory
    Man {
        /// The directory, e.g. `/usr/local/share/man/man1`
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    failure::quiet_on_broken_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Password(command) => password::run(command),
        Command::Otp(command) => otp::run(command),
        Command::Audit(command) => audit::run(command),
        Command::Crypt(command) => crypt::run(command),
        Command::Retention(command) => retention::run(command),
        Command::Policy(command) => policy::run(command),
        Command::Pii(command) => pii::run(command),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "palisade", &mut io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { out_dir } => clap_mangen::generate_to(Cli::command(), &out_dir)
            .map(|()| ExitCode::SUCCESS)
            .map_err(|e| {
                Failure::input(format_args!(
                    "cannot write man pages to `{}`: {e}",
                    out_dir.display()
                ))
            }),
    };
    match result {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}
