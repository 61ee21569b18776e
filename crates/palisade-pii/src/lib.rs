#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod checks;
mod context;
#[cfg(feature = "crypt")]
mod crypt;
mod error;
mod json;
mod kind;
#[cfg(feature = "tracing")]
mod log;
mod masker;
mod numeric;
mod operator;
mod phone;
// Generated from the `phonenumber` crate's database (see the file's header).
#[rustfmt::skip]
mod phone_tables;
mod redacted;
mod scanner;
mod secrets;
mod stream;
mod tables;
mod text;

use std::borrow::Cow;
use std::sync::LazyLock;

#[cfg(feature = "crypt")]
#[cfg_attr(docsrs, doc(cfg(feature = "crypt")))]
pub use crate::crypt::Encryptor;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use crate::log::{ScrubbingMakeWriter, ScrubbingWriter};
pub use crate::{
    error::{Error, Result},
    json::{FieldPath, JsonMasker},
    kind::{Finding, Kind},
    masker::{Masker, StreamSummary},
    operator::{HashKey, Operator, PartialMask},
    redacted::Redacted,
    scanner::{DEFAULT_REGIONS, Detector, Scanner, ScannerBuilder},
    secrets::{ENTROPY_THRESHOLD, shannon_entropy},
    stream::MAX_LINE,
};

static DEFAULT_MASKER: LazyLock<Masker> = LazyLock::new(Masker::default);

/// Every finding of every built-in kind in `text`.
///
/// The shortcut for `Scanner::new().scan(text)`; build a [`Scanner`] once to
/// choose kinds, telephone regions or a confidence threshold.
pub fn scan(text: &str) -> Vec<Finding> {
    DEFAULT_MASKER.scanner().scan(text)
}

/// `text` with every finding of every built-in kind replaced by its label
/// (`<EMAIL>`, `<PL_PESEL>`); borrowed unchanged when nothing is found.
///
/// The shortcut for `Masker::new(Operator::Label).mask(text)`, which cannot
/// fail because labelling cannot.
pub fn mask(text: &str) -> Cow<'_, str> {
    DEFAULT_MASKER
        .mask(text)
        .unwrap_or_else(|_| Cow::Owned(String::from("<REDACTED>")))
}
