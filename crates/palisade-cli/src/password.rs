//! `palisade password …`: hash, verify, check against the policy, calibrate.
//!
//! The password is the first line of standard input (without its line
//! ending), never an argument.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use palisade_password::{
    Context, Params, ParamsBuilder, Password, PasswordHasher, Policy, calibrate,
};

use crate::{CliResult, Failure, input};

/// Password subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the Argon2id PHC string of the password on standard input
    Hash {
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Verify the password on standard input against HASH: prints `valid`,
    /// `valid needs-upgrade` or `invalid`; exit 0 valid, 1 invalid, 2 malformed
    Verify {
        /// The stored hash (Argon2 PHC string, bcrypt, Django or passlib
        /// PBKDF2-SHA256, scrypt)
        hash: String,
        /// Print a JSON object: valid, needs_upgrade, scheme, upgrade_reasons
        /// (and new_hash with --upgrade)
        #[arg(long)]
        json: bool,
        /// When an upgrade is due, also print the new hash (second line, or
        /// `new_hash` in JSON)
        #[arg(long)]
        upgrade: bool,
        /// The current parameters that decide whether an upgrade is due
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Check the password on standard input against the NIST SP 800-63B
    /// policy: prints `accepted` or `refused` and one reason per line; exit 0/1
    Check {
        /// A context word the password must not contain (user name, e-mail
        /// address, service name); repeatable
        #[arg(long = "context", value_name = "WORD")]
        context: Vec<String>,
        /// Minimum length in characters (NIST: 15 for a password used alone)
        #[arg(long, value_name = "N", default_value_t = Policy::DEFAULT_MIN_CHARS)]
        min_chars: usize,
        /// Print a JSON object: accepted, reasons
        #[arg(long)]
        json: bool,
    },
    /// Pick Argon2id parameters that take about the target time on this machine
    Calibrate {
        /// Target time of one hash, in milliseconds
        #[arg(long, value_name = "N")]
        target_ms: u64,
        /// Memory ceiling, in MiB
        #[arg(long, value_name = "N")]
        max_memory_mib: u32,
        /// Print a JSON object: m_cost, t_cost, p_cost, measured_ms, meets_owasp
        #[arg(long)]
        json: bool,
    },
}

/// Argon2id parameters; unset ones keep the defaults (m=19456, t=2, p=1).
#[derive(Debug, Args)]
pub(crate) struct ParamArgs {
    /// Memory cost in KiB
    #[arg(long, value_name = "KIB")]
    m_cost: Option<u32>,
    /// Number of passes
    #[arg(long, value_name = "N")]
    t_cost: Option<u32>,
    /// Number of lanes
    #[arg(long, value_name = "N")]
    p_cost: Option<u32>,
}

impl ParamArgs {
    fn hasher(&self) -> Result<PasswordHasher, Failure> {
        let defaults = Params::default();
        let params = ParamsBuilder::new()
            .m_cost(self.m_cost.unwrap_or(defaults.m_cost()))
            .t_cost(self.t_cost.unwrap_or(defaults.t_cost()))
            .p_cost(self.p_cost.unwrap_or(defaults.p_cost()))
            .build()
            .map_err(Failure::input)?;
        PasswordHasher::builder()
            .params(params)
            .build()
            .map_err(Failure::input)
    }
}

fn password() -> Result<Password, Failure> {
    let line = input::secret_line("Password: ")?;
    Password::new(&line).map_err(Failure::input)
}

pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Hash { params } => {
            let hasher = params.hasher()?;
            let password = password()?;
            println!("{}", hasher.hash(&password).map_err(Failure::input)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            hash,
            json,
            upgrade,
            params,
        } => {
            let hasher = params.hasher()?;
            let password = password()?;
            let verified = if upgrade {
                hasher.verify_and_upgrade(&password, hash.trim())
            } else {
                hasher
                    .verify(&password, hash.trim())
                    .map(|verdict| palisade_password::Verified {
                        verdict,
                        new_hash: None,
                    })
            }
            .map_err(Failure::input)?;
            let verdict = &verified.verdict;
            if json {
                let reasons: Vec<&str> =
                    verdict.upgrade_reasons().iter().map(|r| r.name()).collect();
                let mut object = serde_json::json!({
                    "valid": verdict.is_valid(),
                    "needs_upgrade": verdict.needs_upgrade(),
                    "scheme": verdict.scheme().name(),
                    "upgrade_reasons": reasons,
                });
                if let (Some(new_hash), Some(map)) = (&verified.new_hash, object.as_object_mut()) {
                    map.insert("new_hash".into(), new_hash.clone().into());
                }
                println!("{object}");
            } else {
                println!("{verdict}");
                if let Some(new_hash) = &verified.new_hash {
                    println!("{new_hash}");
                }
            }
            Ok(if verdict.is_valid() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Check {
            context,
            min_chars,
            json,
        } => {
            let policy = Policy::new()
                .with_min_chars(min_chars)
                .map_err(Failure::input)?;
            let context = context.iter().fold(Context::new(), |c, word| {
                if word.contains('@') {
                    c.email(word)
                } else {
                    c.word(word)
                }
            });
            let password = password()?;
            let verdict = policy.check(&password, &context).map_err(Failure::input)?;
            let reasons: Vec<String> = verdict.refusals().iter().map(ToString::to_string).collect();
            if json {
                let object = serde_json::json!({
                    "accepted": verdict.is_accepted(),
                    "reasons": reasons,
                });
                println!("{object}");
            } else {
                println!(
                    "{}",
                    if verdict.is_accepted() {
                        "accepted"
                    } else {
                        "refused"
                    }
                );
                for reason in &reasons {
                    println!("- {reason}");
                }
            }
            Ok(if verdict.is_accepted() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Calibrate {
            target_ms,
            max_memory_mib,
            json,
        } => {
            let max_kib = max_memory_mib
                .checked_mul(1024)
                .ok_or_else(|| Failure::input("`--max-memory-mib` must be at most 4096 MiB"))?;
            let calibration =
                calibrate(Duration::from_millis(target_ms), max_kib).map_err(Failure::input)?;
            let p = calibration.params;
            let measured_ms = calibration.measured.as_secs_f64() * 1000.0;
            if json {
                let object = serde_json::json!({
                    "m_cost": p.m_cost(),
                    "t_cost": p.t_cost(),
                    "p_cost": p.p_cost(),
                    "measured_ms": (measured_ms * 10.0).round() / 10.0,
                    "meets_owasp": p.meets_owasp(),
                });
                println!("{object}");
            } else {
                println!("m={},t={},p={}", p.m_cost(), p.t_cost(), p.p_cost());
                println!(
                    "one hash took {measured_ms:.1} ms; {} OWASP's minimum",
                    if p.meets_owasp() { "meets" } else { "is below" }
                );
                println!(
                    "flags: --m-cost {} --t-cost {} --p-cost {}",
                    p.m_cost(),
                    p.t_cost(),
                    p.p_cost()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
