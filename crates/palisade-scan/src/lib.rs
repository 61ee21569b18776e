#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod address;
#[cfg(feature = "tokio")]
mod async_io;
mod decision;
mod error;
mod reply;
mod scanner;

pub use crate::{
    address::Address,
    decision::{Decision, FailurePolicy},
    error::{Error, Result},
    reply::{MAX_SIGNATURE_LEN, Verdict, parse_reply},
    scanner::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_STREAM_MAX_LENGTH, DEFAULT_TIMEOUT, Scanner},
};
