//! Shared inputs for the Palisade benchmarks.
//!
//! Each file under `benches/` times a Palisade operation and, in the same run,
//! the alternative a user would otherwise pick, so that the report reads as a
//! ratio rather than as an absolute time on a noisy machine.

#![forbid(unsafe_code)]

pub mod pii_corpus;
