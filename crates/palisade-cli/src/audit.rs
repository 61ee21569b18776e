//! `palisade audit …`: a tamper-evident audit log in a directory.
//!
//! The checkpoint signing key lives in the log directory as
//! `checkpoint.key` (mode 0600), created with the log, or in a file given with
//! `--key`; it is never an argument. `checkpoint.pub` is the public key: give
//! a copy kept elsewhere to `verify --public-key` for independent assurance.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::SystemTime;

use clap::{Subcommand, ValueEnum};
use palisade_audit::format::PUBLIC_KEY_FILE;
use palisade_audit::{
    AuditLog, Bundle, CheckpointSigner, CheckpointVerifier, Durability, Error, Event, FileOptions,
    FileStore, Hash, Query, Record, Recovery, verify_dir,
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::{CliResult, Failure};

/// The most events appended (and made durable) together.
const MAX_BATCH: usize = 4096;

/// Audit log subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Append JSON events, one per line on standard input; print `index
    /// leaf-hash` for each once it is durable (a printed line is an
    /// acknowledgement), and sign a checkpoint at the end
    Append {
        #[command(flatten)]
        log: LogArgs,
        /// When records reach the disk
        #[arg(long, value_enum, default_value_t = Sync::Group)]
        sync: Sync,
        /// Sign a checkpoint after this many records (and at the end)
        #[arg(long, value_name = "N", default_value_t = 10_000)]
        checkpoint_every: u64,
    },
    /// Verify a log directory (or with --bundle, an evidence bundle): exit 0
    /// with the record count and root, 1 naming the first bad record
    Verify {
        /// The log directory
        #[arg(
            long,
            value_name = "DIR",
            env = "PALISADE_AUDIT_LOG",
            required_unless_present = "bundle"
        )]
        log: Option<PathBuf>,
        /// Verify this evidence bundle instead of a directory
        #[arg(long, value_name = "FILE", conflicts_with = "log")]
        bundle: Option<PathBuf>,
        /// The trusted checkpoint public key (default: the log's own
        /// `checkpoint.pub`, or the key inside the bundle)
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the inclusion proof of a record (JSON, hex hashes)
    Prove {
        #[command(flatten)]
        log: LogArgs,
        /// The record's index
        #[arg(long, value_name = "I")]
        index: u64,
        /// The tree size to prove against (default: the whole log)
        #[arg(long, value_name = "N")]
        size: Option<u64>,
    },
    /// Print the consistency proof between two tree sizes (JSON, hex hashes)
    Consistency {
        #[command(flatten)]
        log: LogArgs,
        /// The earlier size
        #[arg(long, value_name = "N")]
        from: u64,
        /// The later size
        #[arg(long, value_name = "M")]
        to: u64,
    },
    /// Repair what a crash left in a log directory (an incomplete last record,
    /// an interrupted erasure) and say what was done; the other subcommands
    /// refuse such a directory until it is recovered (`append` recovers by
    /// itself)
    Recover {
        #[command(flatten)]
        log: LogArgs,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Sign a checkpoint of the current tree head and print it
    Checkpoint {
        #[command(flatten)]
        log: LogArgs,
    },
    /// Export records FROM..TO as a self-contained evidence bundle (JSON)
    Export {
        #[command(flatten)]
        log: LogArgs,
        /// First record
        #[arg(long, value_name = "N", default_value_t = 0)]
        from: u64,
        /// One past the last record (default: the end of the log)
        #[arg(long, value_name = "M")]
        to: Option<u64>,
        /// Write the bundle here instead of standard output
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print records (JSON, one per line) about a data subject, by an actor,
    /// or in a time range
    Query {
        #[command(flatten)]
        log: LogArgs,
        /// Records concerning this data subject
        #[arg(long, value_name = "S")]
        subject: Option<String>,
        /// Records of this actor
        #[arg(long, value_name = "A")]
        actor: Option<String>,
        /// Records at or after this RFC 3339 time
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Records before this RFC 3339 time
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
    },
    /// Erase the payloads of every record about a data subject (GDPR), keeping
    /// every proof valid, and record the erasure
    Erase {
        #[command(flatten)]
        log: LogArgs,
        /// The data subject
        #[arg(long, value_name = "S")]
        subject: String,
        /// Who erases (recorded as the erasure event's actor)
        #[arg(long, value_name = "A", default_value = "palisade-cli")]
        actor: String,
    },
}

/// Where the log is and which key signs.
#[derive(Debug, clap::Args)]
pub(crate) struct LogArgs {
    /// The log directory (created by `append` if missing)
    #[arg(long, value_name = "DIR", env = "PALISADE_AUDIT_LOG")]
    log: PathBuf,
    /// The signing key file (default: `checkpoint.key` in the log directory)
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
}

/// Durability policies on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Sync {
    /// Group commit: appends waiting together share one fsync
    Group,
    /// One fsync per batch of input, never shared
    Always,
    /// No fsync (survives a crash of this process, not of the machine)
    None,
}

pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Append {
            log,
            sync,
            checkpoint_every,
        } => append(&log, sync, checkpoint_every),
        Command::Verify {
            log,
            bundle,
            public_key,
            json,
        } => verify(
            log.as_deref(),
            bundle.as_deref(),
            public_key.as_deref(),
            json,
        ),
        Command::Prove { log, index, size } => prove(&log, index, size),
        Command::Consistency { log, from, to } => consistency(&log, from, to),
        Command::Recover { log, json } => {
            let (_log, recovery) = open_recovering(&log, FileOptions::default())?;
            if json {
                println!("{}", json!(recovery));
            } else {
                println!(
                    "{} records; dropped {} bytes of an incomplete tail; finished {} interrupted erasure(s)",
                    recovery.records,
                    recovery.dropped_tail_bytes,
                    recovery.completed_erasures.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Checkpoint { log } => {
            let log = open(&log, FileOptions::default())?;
            print!("{}", log.checkpoint().map_err(failure)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            log,
            from,
            to,
            output,
        } => export(&log, from, to, output.as_deref()),
        Command::Query {
            log,
            subject,
            actor,
            since,
            until,
        } => query(&log, subject, actor, since, until),
        Command::Erase {
            log,
            subject,
            actor,
        } => {
            let log = open(&log, FileOptions::default())?;
            let erasure = log.erase_subject(&subject, &actor).map_err(failure)?;
            println!(
                "erased {} payload(s); the erasure is record {}",
                erasure.erased.len(),
                erasure.receipt.index
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn failure(e: Error) -> Failure {
    match e {
        Error::LogInvalid(_) | Error::ProofInvalid => Failure::verdict(e),
        Error::RecoveryNeeded(_) => Failure::input(format_args!(
            "{e} (run `palisade audit recover` to repair it)"
        )),
        other => Failure::input(other),
    }
}

fn signer(args: &LogArgs) -> Result<Option<CheckpointSigner>, Failure> {
    let Some(path) = &args.key else {
        return Ok(None);
    };
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format_args!("cannot read `{}`: {e}", path.display())))?,
    );
    CheckpointSigner::from_text(&text)
        .map(Some)
        .map_err(failure)
}

/// Opens the log; refuses a directory that needs recovery.
fn open(args: &LogArgs, options: FileOptions) -> Result<AuditLog<FileStore>, Failure> {
    let store = FileStore::open(&args.log, options).map_err(failure)?;
    AuditLog::from_file_store(store, signer(args)?).map_err(failure)
}

/// Repairs what a crash left, then opens the log.
fn open_recovering(
    args: &LogArgs,
    options: FileOptions,
) -> Result<(AuditLog<FileStore>, Recovery), Failure> {
    let (store, recovery) = FileStore::recover(&args.log, options).map_err(failure)?;
    let log = AuditLog::from_file_store(store, signer(args)?).map_err(failure)?;
    Ok((log, recovery))
}

fn append(args: &LogArgs, sync: Sync, checkpoint_every: u64) -> CliResult {
    let durability = match sync {
        Sync::Group => Durability::GroupCommit {
            max_batch: MAX_BATCH,
            max_delay: std::time::Duration::ZERO,
        },
        Sync::Always => Durability::EveryAppend,
        Sync::None => Durability::None,
    };
    let (log, recovery) = open_recovering(
        args,
        FileOptions {
            durability,
            ..FileOptions::default()
        },
    )?;
    let log = log.with_checkpoint_policy(palisade_audit::CheckpointPolicy {
        every_records: Some(checkpoint_every.max(1)),
        every: None,
    });
    if recovery.dropped_tail_bytes > 0 {
        eprintln!(
            "palisade: recovered the log: dropped an incomplete tail of {} bytes (never acknowledged)",
            recovery.dropped_tail_bytes
        );
    }
    // A reader thread feeds lines; the writer takes whatever has arrived
    // (up to MAX_BATCH) and makes it durable with one fsync.
    let (tx, rx) = mpsc::sync_channel::<io::Result<String>>(MAX_BATCH * 2);
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stdout = io::stdout();
    let mut line_no = 0u64;
    let mut appended = 0u64;
    let mut pending: Vec<Event> = Vec::new();
    let mut problem: Option<Failure> = None;
    while let Ok(first) = rx.recv() {
        let mut lines = vec![first];
        while lines.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(l) => lines.push(l),
                Err(_) => break,
            }
        }
        for line in lines {
            line_no += 1;
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    problem = Some(Failure::input(format_args!(
                        "cannot read standard input: {e}"
                    )));
                    break;
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Event>(&line) {
                Ok(event) => pending.push(event),
                Err(e) => {
                    problem = Some(Failure::input(format_args!(
                        "line {line_no}: not an event: {e}"
                    )));
                    break;
                }
            }
        }
        if !pending.is_empty() {
            let receipts = log
                .append_batch(std::mem::take(&mut pending))
                .map_err(failure)?;
            appended += receipts.len() as u64;
            let mut out = stdout.lock();
            for r in &receipts {
                writeln!(out, "{} {}", r.index, r.leaf_hash).map_err(|e| Failure::output(&e))?;
            }
            out.flush().map_err(|e| Failure::output(&e))?;
        }
        if problem.is_some() {
            break;
        }
    }
    if appended > 0 {
        log.checkpoint().map_err(failure)?;
    }
    match problem {
        Some(p) => Err(p),
        None => Ok(ExitCode::SUCCESS),
    }
}

fn read_key(path: &Path) -> Result<CheckpointVerifier, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format_args!("cannot read `{}`: {e}", path.display())))?;
    CheckpointVerifier::from_text(&text).map_err(failure)
}

fn verify(
    log: Option<&Path>,
    bundle: Option<&Path>,
    public_key: Option<&Path>,
    as_json: bool,
) -> CliResult {
    let trusted = public_key.map(read_key).transpose()?;
    let verdict = if let Some(path) = bundle {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format_args!("cannot read `{}`: {e}", path.display())))?;
        let bundle = match Bundle::from_json(&text) {
            Ok(b) => b,
            Err(e) => return report_failure(&e, as_json),
        };
        bundle.verify(trusted.as_ref()).map(|r| {
            let last = r.records.last().map_or(0, |x| x.index() + 1);
            json!({
                "ok": true,
                "origin": r.checkpoint.origin,
                "records": r.records.len(),
                "from": bundle.start,
                "to": last,
                "tree_size": r.checkpoint.size,
                "root": r.checkpoint.root,
                "checkpoint_time": rfc3339(r.checkpoint.time),
                "earlier_checkpoints": r.earlier.len(),
                "key_source": if trusted.is_some() { "--public-key" } else { "bundle" },
            })
        })
    } else {
        let dir = log.ok_or_else(|| Failure::input("give --log DIR or --bundle FILE"))?;
        let own = dir.join(PUBLIC_KEY_FILE);
        let (key, source) = match (&trusted, own.exists()) {
            (Some(k), _) => (Some(k.clone()), "--public-key"),
            (None, true) => (Some(read_key(&own)?), "log directory"),
            (None, false) => (None, "none"),
        };
        verify_dir(dir, key.as_ref()).map(|r| {
            json!({
                "ok": true,
                "records": r.records,
                "root": r.root,
                "checkpoints_verified": r.checkpoints_verified,
                "latest_checkpoint_size": r.latest_checkpoint.as_ref().map(|c| c.size),
                "payloads_present": r.payloads_present,
                "payloads_erased": r.payloads_erased,
                "key_source": source,
            })
        })
    };
    match verdict {
        Ok(v) => {
            if as_json {
                println!("{v}");
            } else {
                let text = |key: &str| v.get(key).and_then(|x| x.as_str()).unwrap_or_default();
                let records = v.get("records").cloned().unwrap_or_default();
                println!("ok: {records} records, root {}", text("root"));
                if let Some(n) = v.get("checkpoints_verified") {
                    println!("checkpoints verified: {n} (key: {})", text("key_source"));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => report_failure(&e, as_json),
    }
}

fn report_failure(e: &Error, as_json: bool) -> CliResult {
    let (index, problem) = match e {
        Error::LogInvalid(f) => (f.index, f.problem.clone()),
        other => (None, other.to_string()),
    };
    if as_json {
        println!(
            "{}",
            json!({ "ok": false, "first_bad_record": index, "problem": problem })
        );
    }
    match e {
        Error::LogInvalid(_) | Error::ProofInvalid | Error::InputMalformed { .. } => {
            Err(Failure::verdict(format_args!("verification failed: {e}")))
        }
        _ => Err(Failure::input(e)),
    }
}

/// A checkpoint time in RFC 3339 with nine fractional digits, as in notes.
fn rfc3339(t: SystemTime) -> String {
    // Checkpoint times are parsed from RFC 3339, so they are in range.
    jiff::Timestamp::try_from(t).map_or_else(|_| String::new(), |ts| format!("{ts:.9}"))
}

fn hexes(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(Hash::to_string).collect()
}

fn prove(args: &LogArgs, index: u64, size: Option<u64>) -> CliResult {
    let log = open(args, FileOptions::default())?;
    let size = match size {
        Some(s) => s,
        None => log.len().map_err(failure)?,
    };
    let proof = log.inclusion_proof(index, size).map_err(failure)?;
    let record = log.get(index).map_err(failure)?;
    println!(
        "{}",
        json!({
            "index": index,
            "size": size,
            "leaf_hash": record.leaf_hash(),
            "root": log.root(size).map_err(failure)?,
            "proof": hexes(&proof),
        })
    );
    Ok(ExitCode::SUCCESS)
}

fn consistency(args: &LogArgs, from: u64, to: u64) -> CliResult {
    let log = open(args, FileOptions::default())?;
    let proof = log.consistency_proof(from, to).map_err(failure)?;
    println!(
        "{}",
        json!({
            "from": from,
            "to": to,
            "old_root": log.root(from).map_err(failure)?,
            "new_root": log.root(to).map_err(failure)?,
            "proof": hexes(&proof),
        })
    );
    Ok(ExitCode::SUCCESS)
}

fn export(args: &LogArgs, from: u64, to: Option<u64>, output: Option<&Path>) -> CliResult {
    let log = open(args, FileOptions::default())?;
    let to = match to {
        Some(t) => t,
        None => log.len().map_err(failure)?,
    };
    let bundle = log.export(from, to).map_err(failure)?;
    let text = bundle.to_json().map_err(failure)? + "\n";
    match output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Failure::input(format_args!("cannot write `{}`: {e}", path.display())))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_time(text: Option<String>) -> Result<Option<SystemTime>, Failure> {
    text.map(|t| {
        t.parse::<jiff::Timestamp>()
            .map(SystemTime::from)
            .map_err(|_| {
                Failure::input(format_args!(
                    "`{t}` is not an RFC 3339 time with an offset (`Z` or `+02:00`)"
                ))
            })
    })
    .transpose()
}

/// A record as one JSON object.
pub(crate) fn record_json(r: &Record) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

fn query(
    args: &LogArgs,
    subject: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
) -> CliResult {
    let q = Query {
        subject,
        actor,
        since: parse_time(since)?,
        until: parse_time(until)?,
    };
    if q == Query::default() {
        return Err(Failure::input(
            "give at least one of --subject, --actor, --since, --until",
        ));
    }
    let log = open(args, FileOptions::default())?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for r in log.query(&q).map_err(failure)? {
        writeln!(out, "{}", record_json(&r)).map_err(|e| Failure::output(&e))?;
    }
    Ok(ExitCode::SUCCESS)
}
