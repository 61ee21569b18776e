//! `palisade retention …`: check policy files, print plans, answer erasure requests.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use palisade_retention::{PlanItem, Policy, RecordBuf, Severity, Timestamp};

use crate::{CliResult, Failure};

/// Retention subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check a policy file: exit 0 when usable, 1 with its problems (line:column)
    Validate {
        /// The policy file (TOML)
        rules: PathBuf,
        /// The policy in force: refuse a new version that weakens its locked rules
        #[arg(long, value_name = "FILE")]
        previous: Option<PathBuf>,
        /// Fail on warnings too (conflicts resolved by precedence, unused declarations)
        #[arg(long)]
        deny_warnings: bool,
        /// Print one JSON object: {"valid", "errors", "warnings", "problems": [{"severity", "line", "column", "message"}]}
        #[arg(long)]
        json: bool,
    },
    /// Print what is due at an instant: one JSON object per line (record, action, rule, due, reason)
    Plan {
        /// The policy file (TOML)
        #[arg(long, value_name = "FILE")]
        rules: PathBuf,
        /// Records, one JSON object per line (`-` for standard input)
        #[arg(long, value_name = "FILE.jsonl")]
        records: PathBuf,
        /// The instant to plan at, RFC 3339 with an offset (default: the current time)
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
    },
    /// Answer an erasure request: each record of the subject, erased when or exempt until when and why
    Erase {
        /// The policy file (TOML)
        #[arg(long, value_name = "FILE")]
        rules: PathBuf,
        /// Records, one JSON object per line (`-` for standard input)
        #[arg(long, value_name = "FILE.jsonl")]
        records: PathBuf,
        /// The data subject who asked
        #[arg(long)]
        subject: String,
        /// When the request was made, RFC 3339 with an offset (default: the current time)
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
    },
}

pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Validate {
            rules,
            previous,
            deny_warnings,
            json,
        } => validate(&rules, previous.as_deref(), deny_warnings, json),
        Command::Plan {
            rules,
            records,
            now,
        } => {
            let policy = load(&rules)?;
            let now = instant(now.as_deref())?;
            stream(&records, |records, out| {
                for item in policy.plan(records, now) {
                    emit(out, &item)?;
                }
                Ok(())
            })
        }
        Command::Erase {
            rules,
            records,
            subject,
            now,
        } => {
            let policy = load(&rules)?;
            let now = instant(now.as_deref())?;
            stream(&records, |records, out| {
                for item in policy.erase(records, &subject, now) {
                    emit(out, &item)?;
                }
                Ok(())
            })
        }
    }
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format_args!("cannot read `{}`: {e}", path.display())))
}

fn load(path: &Path) -> Result<Policy, Failure> {
    Policy::from_toml(&read(path)?)
        .map_err(|e| Failure::input(format_args!("`{}`: {e}", path.display())))
}

fn instant(now: Option<&str>) -> Result<Timestamp, Failure> {
    match now {
        None => Ok(Timestamp::now()),
        Some(text) => text.parse().map_err(|_| {
            Failure::input(format_args!(
                "`{text}` is not an RFC 3339 instant with an offset, e.g. `2026-03-01T00:00:00Z`"
            ))
        }),
    }
}

fn validate(rules: &Path, previous: Option<&Path>, deny_warnings: bool, json: bool) -> CliResult {
    let text = read(rules)?;
    let mut problems = Policy::validate(&text);
    let name = rules.display();
    if let (Some(previous), Ok(new)) = (previous, Policy::from_toml(&text)) {
        let old = Policy::from_toml(&read(previous)?).map_err(|e| {
            Failure::input(format_args!(
                "the previous policy `{}` is not valid: {e}",
                previous.display()
            ))
        })?;
        problems.extend(old.replacement_problems(&new));
    }
    let mut out = io::stdout().lock();
    if json {
        let errors = problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        let warnings = problems.len() - errors;
        let valid = errors == 0 && !(deny_warnings && warnings > 0);
        let shown: Vec<_> = problems
            .iter()
            .map(|p| {
                serde_json::json!({
                    "severity": if p.severity == Severity::Error { "error" } else { "warning" },
                    "line": p.line,
                    "column": p.column,
                    "message": p.message,
                })
            })
            .collect();
        let value = serde_json::json!({
            "valid": valid,
            "errors": errors,
            "warnings": warnings,
            "problems": shown,
        });
        writeln!(out, "{value}").map_err(write_failed)?;
        return Ok(if valid {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    for problem in &problems {
        let place = match (problem.line, problem.column) {
            (Some(line), Some(column)) => format!("{name}:{line}:{column}"),
            (Some(line), None) => format!("{name}:{line}"),
            _ => format!("{name}"),
        };
        let severity = if problem.severity == Severity::Error {
            "error"
        } else {
            "warning"
        };
        writeln!(out, "{place}: {severity}: {}", problem.message).map_err(write_failed)?;
    }
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    if errors > 0 || (deny_warnings && warnings > 0) {
        return Err(Failure::verdict(format_args!(
            "`{name}` has {errors} error(s) and {warnings} warning(s)"
        )));
    }
    writeln!(out, "{name}: valid ({warnings} warning(s))").map_err(write_failed)?;
    Ok(ExitCode::SUCCESS)
}

fn write_failed(e: io::Error) -> Failure {
    Failure::output(&e)
}

/// Parses records lazily, line by line, and hands them to `body`; a malformed
/// line stops the run with its line number.
fn stream(
    path: &Path,
    body: impl FnOnce(&mut dyn Iterator<Item = RecordBuf>, &mut dyn Write) -> Result<(), Failure>,
) -> CliResult {
    let input: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        let file = File::open(path)
            .map_err(|e| Failure::input(format_args!("cannot read `{}`: {e}", path.display())))?;
        Box::new(BufReader::new(file))
    };
    let mut error: Option<Failure> = None;
    let mut records = input
        .lines()
        .enumerate()
        .map_while(|(index, line)| {
            let parsed = line.map_err(|e| format!("{e}")).and_then(|line| {
                if line.trim().is_empty() {
                    Ok(None)
                } else {
                    serde_json::from_str::<RecordBuf>(&line)
                        .map(Some)
                        .map_err(|e| e.to_string())
                }
            });
            match parsed {
                Ok(record) => Some(record),
                Err(message) => {
                    error = Some(Failure::input(format_args!(
                        "`{}` line {}: {message}",
                        path.display(),
                        index + 1
                    )));
                    None
                }
            }
        })
        .flatten();
    let mut out = BufWriter::new(io::stdout().lock());
    body(&mut records, &mut out)?;
    drop(records);
    out.flush().map_err(write_failed)?;
    match error {
        Some(failure) => Err(failure),
        None => Ok(ExitCode::SUCCESS),
    }
}

fn emit(out: &mut dyn Write, item: &PlanItem<'_, RecordBuf>) -> Result<(), Failure> {
    // The plan line's shape is the library's (`PlanItem`'s `Serialize`).
    serde_json::to_writer(&mut *out, item).map_err(|e| Failure::output(&e.into()))?;
    out.write_all(b"\n").map_err(write_failed)
}
