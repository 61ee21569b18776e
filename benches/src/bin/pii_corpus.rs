//! Writes a palisade-pii bench corpus to standard output, to time the
//! `palisade pii mask` command on the bytes the bench masks:
//!
//! ```text
//! cargo run --release -p palisade-benches --bin pii-corpus -- short 100 > short.log
//! cargo run --release -p palisade-benches --bin pii-corpus -- mixed 100 > mixed.log
//! ```
//!
//! The first argument names the corpus (`short`: lines of about 100 bytes,
//! one in five with a value; `mixed`: the 181-byte mixed log), the second
//! its size in MB (default 100).

use std::io::Write;
use std::process::ExitCode;

use palisade_benches::pii_corpus;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mb = match args.get(1).map(|a| a.parse::<usize>()) {
        None => 100,
        Some(Ok(mb)) => mb,
        Some(Err(_)) => {
            eprintln!("the size must be a whole number of MB");
            return ExitCode::from(2);
        }
    };
    let text = match args.first().map(String::as_str) {
        Some("short") => pii_corpus::short_lines(mb * 1_000_000),
        Some("mixed") => pii_corpus::mixed_log(mb * 1_000_000),
        _ => {
            eprintln!("usage: pii-corpus short|mixed [MB]");
            return ExitCode::from(2);
        }
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot write standard output: {e}");
            ExitCode::from(1)
        }
    }
}
