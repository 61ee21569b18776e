//! `palisade pii …`: find and mask personal data and secrets in streams and
//! JSON documents.
//!
//! Input is read from standard input as bytes, line by line, so logs of any
//! size pass in bounded memory and invalid UTF-8 never stops a run. The hash
//! key comes from a file or the `PALISADE_PII_KEY` environment variable, never
//! from an argument. Exit status: 0 done (with `--check`: nothing found), 1
//! with `--check`: something found, 2 malformed input or usage.

use std::io::{self, BufWriter, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use palisade_pii::{HashKey, JsonMasker, Kind, Masker, Operator, PartialMask, Scanner};
use zeroize::Zeroizing;

use crate::{CliResult, Failure};

/// Environment variable holding the hash key when `--key-file` is not given.
const KEY_ENV: &str = "PALISADE_PII_KEY";

/// Masking subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Report every finding on standard input, one per line, with byte offsets
    Scan {
        #[command(flatten)]
        detect: DetectArgs,
        /// Output format: `jsonl` ({"kind","start","end","text"}) or tab-separated `text`
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// Exit 1 if anything is found (a gate for CI or log shipping)
        #[arg(long)]
        check: bool,
    },
    /// Copy standard input to standard output with every finding masked
    Mask(MaskArgs),
}

/// What to look for.
#[derive(Debug, Args)]
pub(crate) struct DetectArgs {
    /// Kinds to detect, comma-separated (default: all), e.g. `EMAIL,PHONE,PL_PESEL`
    #[arg(long, value_delimiter = ',', value_name = "KIND,…")]
    kinds: Vec<String>,
    /// Regions whose national telephone formats are recognised, comma-separated
    #[arg(long, value_delimiter = ',', value_name = "CC,…")]
    regions: Vec<String>,
    /// Drop findings less sure than this (0.0–1.0)
    #[arg(long, value_name = "SCORE", default_value_t = 0.0)]
    min_confidence: f32,
}

/// How to mask.
#[derive(Debug, Args)]
pub(crate) struct MaskArgs {
    #[command(flatten)]
    detect: DetectArgs,
    /// What replaces a finding
    #[arg(long, value_enum, default_value_t = OperatorArg::Label)]
    operator: OperatorArg,
    /// Masking character of `--operator partial`
    #[arg(long, value_name = "CHAR", default_value_t = 'X')]
    mask_char: char,
    /// Characters `--operator partial` keeps at the end
    #[arg(long, value_name = "N", default_value_t = 3)]
    keep: usize,
    /// File holding the key of `--operator hash` (else the PALISADE_PII_KEY variable)
    #[arg(long, value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// Standard input is JSON (a document, or one per line); masks strings by content
    #[arg(long)]
    json: bool,
    /// With --json: mask the fields at this path whole (`a.b`, `items[*].phone`); repeatable
    #[arg(long = "path", value_name = "PATH", requires = "json")]
    paths: Vec<String>,
    /// With --json and --path: leave strings outside the paths alone
    #[arg(long, requires = "json")]
    paths_only: bool,
    /// Threads that mask chunks of lines (default: one per core); the output
    /// is the same for any number (not with --json)
    #[arg(long, value_name = "N", conflicts_with = "json")]
    threads: Option<NonZeroUsize>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Format {
    Jsonl,
    Text,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum OperatorArg {
    /// Remove the value
    Redact,
    /// Replace with the kind: `<PHONE>`
    Label,
    /// Mask digits but the last few: `+48 XXX XXX 567`
    Partial,
    /// Keyed deterministic token: `<EMAIL:k3m9w2hq4x7dfa5e>`
    Hash,
}

pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Scan {
            detect,
            format,
            check,
        } => scan(&detect, format, check),
        Command::Mask(args) => mask(&args),
    }
}

fn scanner(args: &DetectArgs) -> Result<Scanner, Failure> {
    let mut builder = Scanner::builder().min_confidence(args.min_confidence);
    if !args.kinds.is_empty() {
        let kinds = args
            .kinds
            .iter()
            .map(|k| k.parse::<Kind>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failure::input)?;
        builder = builder.kinds(kinds);
    }
    if !args.regions.is_empty() {
        builder = builder.phone_regions(&args.regions);
    }
    builder.build().map_err(Failure::input)
}

fn write_failed(e: io::Error) -> Failure {
    Failure::output(&e)
}

/// One line of `scan --format jsonl`, fields in the documented order.
#[derive(serde::Serialize)]
struct FindingLine<'a> {
    kind: &'a str,
    start: usize,
    end: usize,
    text: &'a str,
}

fn scan(args: &DetectArgs, format: Format, check: bool) -> CliResult {
    let scanner = scanner(args)?;
    let stdin = io::stdin().lock();
    let mut out = BufWriter::new(io::stdout().lock());
    let mut found = 0u64;
    let mut write_error = None;
    scanner
        .scan_reader(stdin, |f, text| {
            found += 1;
            let text = String::from_utf8_lossy(text);
            let line = match format {
                Format::Jsonl => serde_json::to_string(&FindingLine {
                    kind: f.kind.name(),
                    start: f.start,
                    end: f.end,
                    text: &text,
                })
                .unwrap_or_default(),
                Format::Text => {
                    format!(
                        "{}\t{}\t{}\t{:.2}\t{}",
                        f.kind,
                        f.start,
                        f.end,
                        f.confidence,
                        text.escape_debug()
                    )
                }
            };
            if write_error.is_none()
                && let Err(e) = writeln!(out, "{line}")
            {
                write_error = Some(e);
            }
        })
        .map_err(|e| Failure::input(format_args!("cannot read standard input: {e}")))?;
    if let Some(e) = write_error {
        return Err(write_failed(e));
    }
    out.flush().map_err(write_failed)?;
    Ok(if check && found > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn hash_key(path: Option<&PathBuf>) -> Result<HashKey, Failure> {
    let raw: Zeroizing<Vec<u8>> = match path {
        Some(p) => Zeroizing::new(std::fs::read(p).map_err(|e| {
            Failure::input(format_args!("cannot read key file `{}`: {e}", p.display()))
        })?),
        None => Zeroizing::new(
            std::env::var(KEY_ENV)
                .map_err(|_| {
                    Failure::input(format_args!(
                        "--operator hash needs a key: --key-file PATH or {KEY_ENV}"
                    ))
                })?
                .into_bytes(),
        ),
    };
    let trimmed = raw.strip_suffix(b"\n").unwrap_or(&raw);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    HashKey::new(trimmed).map_err(Failure::input)
}

fn mask(args: &MaskArgs) -> CliResult {
    let scanner = scanner(&args.detect)?;
    let operator = match args.operator {
        OperatorArg::Redact => Operator::Redact,
        OperatorArg::Label => Operator::Label,
        OperatorArg::Partial => {
            Operator::Partial(PartialMask::new(args.mask_char, args.keep).map_err(Failure::input)?)
        }
        OperatorArg::Hash => Operator::Hash(hash_key(args.key_file.as_ref())?),
    };
    let masker = Masker::with_scanner(scanner, operator);
    let stdin = io::stdin().lock();
    let mut out = BufWriter::new(io::stdout().lock());
    if !args.json {
        let threads = args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN));
        masker
            .mask_stream_parallel(stdin, &mut out, threads)
            .map_err(|e| match e {
                palisade_pii::Error::IoFailed(io) if io.kind() == io::ErrorKind::BrokenPipe => {
                    Failure::output(&io)
                }
                palisade_pii::Error::IoFailed(io) => {
                    Failure::input(format_args!("cannot read or write a stream: {io}"))
                }
                other => Failure::input(other),
            })?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut json = JsonMasker::new(&masker).detect_content(!args.paths_only);
    for p in &args.paths {
        json = json.path(p).map_err(Failure::input)?;
    }
    for value in serde_json::Deserializer::from_reader(stdin).into_iter::<serde_json::Value>() {
        let mut value =
            value.map_err(|e| Failure::input(format_args!("standard input is not JSON: {e}")))?;
        json.mask(&mut value).map_err(Failure::input)?;
        serde_json::to_writer(&mut out, &value).map_err(|e| write_failed(e.into()))?;
        writeln!(out).map_err(write_failed)?;
    }
    out.flush().map_err(write_failed)?;
    Ok(ExitCode::SUCCESS)
}
