//! `backoffice-load`: a bounded load generator for the back office.
//!
//! Signs in as one employee (password and base32 TOTP secret read from the
//! first two lines of standard input, never from arguments), then reads the
//! client list from `--threads` keep-alive connections until `--requests`
//! answers or `--seconds` have passed, whichever comes first, and prints
//! throughput, latency percentiles and the count of non-200 answers.

use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use palisade_backoffice::ApiSession;
use palisade_otp::{Secret, Totp};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(about = "Bounded load test of GET /api/clients")]
struct Args {
    /// Base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    /// The employee's tenant
    #[arg(long)]
    tenant: String,
    /// Employee e-mail
    #[arg(long)]
    email: String,
    /// Concurrent connections
    #[arg(long, default_value_t = 8)]
    threads: usize,
    /// Stop after this many requests in total
    #[arg(long, default_value_t = 20_000)]
    requests: u64,
    /// Stop after this many seconds
    #[arg(long, default_value_t = 20)]
    seconds: u64,
}

/// Signs in with the password and a TOTP code computed from `secret`.
fn sign_in(args: &Args, password: &str, secret: &str) -> Result<ApiSession, String> {
    let totp = Totp::new(Secret::from_base32(secret).map_err(|e| e.to_string())?);
    let code = totp.code_now().map_err(|e| e.to_string())?;
    ApiSession::sign_in(&args.url, &args.tenant, &args.email, password, &code)
        .map_err(|e| e.to_string())
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted.get(rank.min(sorted.len() - 1)).copied().unwrap_or(0)
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut lines = std::io::stdin().lock().lines();
    let password = Zeroizing::new(lines.next().and_then(Result::ok).unwrap_or_default());
    let secret = Zeroizing::new(lines.next().and_then(Result::ok).unwrap_or_default());
    let session = match sign_in(&args, &password, &secret) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sign-in failed: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.threads.max(1))
        .map(|_| {
            let issued = Arc::clone(&issued);
            let session = session.fork();
            let limit = args.requests;
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < limit {
                    let t = Instant::now();
                    match session.get_text("/api/clients") {
                        Ok((200, body)) if body.contains("\"clients\"") => {
                            latencies.push(t.elapsed().as_micros() as u64);
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        if let Ok((l, e)) = w.join() {
            all.extend(l);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    println!(
        "{} ok reads, {} errors in {:.2} s: {:.0} reads/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} connections)",
        all.len(),
        errors,
        elapsed,
        all.len() as f64 / elapsed,
        percentile(&all, 50.0) as f64 / 1000.0,
        percentile(&all, 99.0) as f64 / 1000.0,
        all.last().copied().unwrap_or(0) as f64 / 1000.0,
        args.threads
    );
    if errors == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    }
}
