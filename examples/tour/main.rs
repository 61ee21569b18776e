//! A narrated walk through every Palisade capability.
//!
//! Run it with `cargo run --release --example tour`. Each chapter uses one crate
//! the way a SaaS back end would, and prints what happens; the last chapter
//! starts the back office that composes them all. It finishes in seconds
//! (from a terminal the back office stays up until Enter) and writes only to
//! a temporary folder.

#![forbid(unsafe_code)]

mod audit;
mod backoffice;
mod crypt;
mod otp;
mod password;
mod pii;
mod rbac;
mod retention;

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    println!("Palisade tour: the promises of a SaaS security page, one crate each.");
    let workdir = std::env::temp_dir().join(format!("palisade-tour-{}", std::process::id()));
    std::fs::create_dir_all(&workdir)?;

    password::run(&workdir)?;
    otp::run(&workdir)?;
    crypt::run(&workdir)?;
    rbac::run(&workdir)?;
    pii::run(&workdir)?;
    audit::run(&workdir)?;
    retention::run(&workdir)?;
    backoffice::run(&workdir)?;

    std::fs::remove_dir_all(&workdir)?;
    println!();
    println!("Tour finished.");
    Ok(())
}
