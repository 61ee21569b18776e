//! Narration helpers shared by the Palisade examples.
//!
//! The examples are meant to be read as much as run: each prints what it does
//! and why, chapter by chapter.

#![forbid(unsafe_code)]

use std::fmt::Display;

/// Prints a chapter heading: a numbered title and the promise it makes real.
pub fn chapter(number: u32, title: &str, promise: &str) {
    println!();
    println!("== {number}. {title} ==");
    println!("   promise: {promise}");
}

/// Prints one narrated step.
pub fn step(text: impl Display) {
    println!(" - {text}");
}

/// Prints a value the reader should look at, indented under the step.
pub fn show(label: &str, value: impl Display) {
    println!("     {label}: {value}");
}
