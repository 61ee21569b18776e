//! `palisade otp …`: second-factor secrets, codes, verification and recovery
//! codes.
//!
//! The base32 secret is never an argument (it would show up in shell
//! history and in `ps` output): it is the first line of `--secret-file`, or
//! of standard input by default, asked for without echo at a terminal.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use palisade_otp::{
    Algorithm, DEFAULT_RECOVERY_CODES, Enrollment, Error, FactorState, Hotp, RecoveryCodes, Secret,
    Throttle, Totp, unix_now,
};
use zeroize::Zeroizing;

use crate::{CliResult, Failure, input};

/// Second-factor subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Enroll: print a new base32 secret and its otpauth:// URI, optionally
    /// writing the QR code
    New {
        /// Service name shown in the authenticator app
        #[arg(long)]
        issuer: String,
        /// Account name shown in the authenticator app (e.g. an e-mail address)
        #[arg(long)]
        account: String,
        /// Write the QR code as SVG to this file (it encodes the secret)
        #[arg(long, value_name = "FILE")]
        qr_svg: Option<PathBuf>,
        /// Write the QR code as PNG to this file (it encodes the secret)
        #[arg(long, value_name = "FILE")]
        qr_png: Option<PathBuf>,
        #[command(flatten)]
        params: CodeParams,
        /// Print one JSON object: {"secret", "uri"}
        #[arg(long)]
        json: bool,
    },
    /// Print the code for a time (now by default), or for an HOTP counter
    Code {
        /// File whose first line is the base32 secret (`-`, the default: standard input)
        #[arg(long, value_name = "FILE", default_value = "-")]
        secret_file: PathBuf,
        /// Unix time in seconds (default: now)
        #[arg(long, value_name = "UNIX", conflicts_with = "counter")]
        time: Option<u64>,
        /// HOTP counter: print the RFC 4226 code for it instead of a TOTP code
        #[arg(long, value_name = "N")]
        counter: Option<u64>,
        #[command(flatten)]
        params: CodeParams,
    },
    /// Check a code: exit 0 and print the matched time step if valid, exit 1
    /// if not
    Verify {
        /// File whose first line is the base32 secret (`-`, the default: standard input)
        #[arg(long, value_name = "FILE", default_value = "-")]
        secret_file: PathBuf,
        /// The code to check
        #[arg(long, value_name = "C")]
        code: String,
        /// Unix time in seconds (default: now)
        #[arg(long, value_name = "UNIX")]
        time: Option<u64>,
        /// Steps accepted on either side of the current one
        #[arg(long, value_name = "N", default_value_t = palisade_otp::DEFAULT_SKEW)]
        skew: u8,
        #[command(flatten)]
        params: CodeParams,
        /// Print one JSON object: {"valid", "step"} or {"valid", "reason"}
        #[arg(long)]
        json: bool,
    },
    /// Print fresh single-use recovery codes; with --hashes, write what to store
    RecoveryCodes {
        /// How many codes (1 to 100)
        #[arg(long, value_name = "N", default_value_t = DEFAULT_RECOVERY_CODES)]
        count: usize,
        /// Write the stored form (JSON: per-set key and one hash per code) here
        #[arg(long, value_name = "FILE")]
        hashes: Option<PathBuf>,
    },
}

/// Code parameters shared by the subcommands.
#[derive(Debug, Args)]
pub(crate) struct CodeParams {
    /// HMAC hash: SHA1, SHA256 or SHA512
    #[arg(long, value_name = "ALG", default_value = "SHA1", value_parser = parse_algorithm)]
    algorithm: Algorithm,
    /// Digits per code (6, 7 or 8)
    #[arg(long, value_name = "N", default_value_t = palisade_otp::DEFAULT_DIGITS)]
    digits: u8,
    /// TOTP period in seconds
    #[arg(long, value_name = "S", default_value_t = palisade_otp::DEFAULT_PERIOD)]
    period: u64,
}

fn parse_algorithm(text: &str) -> Result<Algorithm, String> {
    text.parse().map_err(|e: Error| e.to_string())
}

impl CodeParams {
    fn totp(&self, secret: Secret) -> Result<Totp, Failure> {
        Totp::new(secret)
            .with_algorithm(self.algorithm)
            .with_digits(self.digits)
            .and_then(|t| t.with_period(self.period))
            .map_err(Failure::input)
    }
}

/// The secret from the first line of `path`, or of standard input for `-`
/// (asked for without echo at a terminal).
fn read_secret(path: &Path) -> Result<Secret, Failure> {
    let text = if path == Path::new("-") {
        input::secret_line("Base32 secret: ")?
    } else {
        let whole =
            Zeroizing::new(fs::read_to_string(path).map_err(|e| {
                Failure::input(format_args!("cannot read `{}`: {e}", path.display()))
            })?);
        Zeroizing::new(whole.lines().next().unwrap_or_default().to_owned())
    };
    Secret::from_base32(&text).map_err(Failure::input)
}

fn time_or_now(time: Option<u64>) -> Result<u64, Failure> {
    match time {
        Some(t) => Ok(t),
        None => unix_now().map_err(Failure::input),
    }
}

fn write_file(path: &PathBuf, bytes: &[u8]) -> Result<(), Failure> {
    fs::write(path, bytes)
        .map_err(|e| Failure::input(format_args!("cannot write `{}`: {e}", path.display())))
}

pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::New {
            issuer,
            account,
            qr_svg,
            qr_png,
            params,
            json,
        } => {
            let totp = params.totp(Secret::generate().map_err(Failure::input)?)?;
            let enrollment =
                Enrollment::with_totp(totp, &issuer, &account).map_err(Failure::input)?;
            if let Some(path) = &qr_svg {
                let svg = enrollment.qr_svg().map_err(Failure::input)?;
                write_file(path, svg.as_bytes())?;
            }
            if let Some(path) = &qr_png {
                let png = enrollment.qr_png().map_err(Failure::input)?;
                write_file(path, &png)?;
            }
            let secret = enrollment.secret().to_base32_exposed();
            let uri = enrollment.uri_exposed();
            if json {
                let value = Zeroizing::new(
                    serde_json::json!({ "secret": secret.as_str(), "uri": uri.as_str() })
                        .to_string(),
                );
                println!("{}", value.as_str());
            } else {
                println!("{}", secret.as_str());
                println!("{}", uri.as_str());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Code {
            secret_file,
            time,
            counter,
            params,
        } => {
            let secret = read_secret(&secret_file)?;
            let code = match counter {
                Some(counter) => Hotp::new(secret)
                    .with_algorithm(params.algorithm)
                    .with_digits(params.digits)
                    .map_err(Failure::input)?
                    .code(counter),
                None => params.totp(secret)?.code_at(time_or_now(time)?),
            };
            println!("{}", code.as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            secret_file,
            code,
            time,
            skew,
            params,
            json,
        } => {
            let now = time_or_now(time)?;
            // One-off check: no stored state, so no replay memory or throttle.
            let totp = params
                .totp(read_secret(&secret_file)?)?
                .with_skew(skew)
                .with_throttle(Throttle::new(u32::MAX, 0, 0).with_lock_after(None));
            match totp.verify(&code, now, &mut FactorState::new()) {
                Ok(step) if json => {
                    println!("{}", serde_json::json!({ "valid": true, "step": step }));
                    Ok(ExitCode::SUCCESS)
                }
                Ok(step) => {
                    println!("valid: time step {step}");
                    Ok(ExitCode::SUCCESS)
                }
                // A one-off check has no state: the only verdict is `invalid`.
                Err(e) if json && e.is_verdict() => {
                    println!(
                        "{}",
                        serde_json::json!({ "valid": false, "reason": "invalid" })
                    );
                    Ok(ExitCode::from(1))
                }
                Err(e) if e.is_verdict() => Err(Failure::verdict(e)),
                Err(e) => Err(Failure::input(e)),
            }
        }
        Command::RecoveryCodes { count, hashes } => {
            let (stored, codes) = RecoveryCodes::generate(count).map_err(Failure::input)?;
            if let Some(path) = &hashes {
                let json = serde_json::to_string_pretty(&stored).map_err(Failure::input)?;
                write_file(path, format!("{json}\n").as_bytes())?;
            }
            for code in &codes {
                println!("{}", code.expose());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
