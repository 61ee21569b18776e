//! The scanner: which detectors run over a text, and their findings.

use std::io::BufRead;

use crate::error::{Error, Result};
use crate::kind::{Finding, Kind};
use crate::numeric::{self, NumericConfig};
use crate::phone::Region;
use crate::secrets::Prefixes;
use crate::{context, secrets, text};

/// What a caller knows of a text before it is scanned, from a prefilter run
/// over many lines at once: what is ruled out is not searched for.
#[derive(Clone, Copy)]
pub(crate) struct Known<'a> {
    /// What is known of its fragments of secret rule prefixes.
    pub(crate) prefixes: Prefixes<'a>,
    /// `false`: it holds no `@`, so no e-mail address and no URL
    /// credentials (`text::scan_email` finds nothing).
    pub(crate) at_sign: bool,
    /// `false`: it holds neither `::` nor six colons, so no IPv6 address
    /// (`text::scan_ipv6` finds nothing).
    pub(crate) colons: bool,
}

impl<'a> Known<'a> {
    /// Only `prefixes` is known.
    pub(crate) fn prefixes(prefixes: Prefixes<'a>) -> Self {
        Self {
            prefixes,
            at_sign: true,
            colons: true,
        }
    }
}

/// A detector of a kind of data the built-in ones do not know.
///
/// Implementations append findings for `text` to `findings`, with byte
/// offsets into `text`; they must not panic on any input, including bytes
/// that are not UTF-8. A simple detector looks for a trigger with `memchr`
/// or a `regex::bytes::Regex` and validates what it finds.
///
/// ```
/// use palisade_pii::{Detector, Finding, Kind, Scanner};
///
/// /// Employee numbers: `EMP-` and six digits.
/// struct EmployeeNumber;
///
/// impl Detector for EmployeeNumber {
///     fn detect(&self, text: &[u8], findings: &mut Vec<Finding>) {
///         for (i, w) in text.windows(10).enumerate() {
///             if w.starts_with(b"EMP-") && w[4..].iter().all(u8::is_ascii_digit) {
///                 findings.push(Finding {
///                     kind: Kind::Custom("EMPLOYEE"),
///                     start: i,
///                     end: i + 10,
///                     confidence: 0.9,
///                 });
///             }
///         }
///     }
/// }
///
/// let scanner = Scanner::builder().detector(EmployeeNumber).build()?;
/// let found = scanner.scan("badge EMP-004211 at gate 3");
/// assert_eq!(found[0].kind.name(), "EMPLOYEE");
/// # Ok::<(), palisade_pii::Error>(())
/// ```
pub trait Detector: Send + Sync {
    /// Appends the findings in `text` to `findings`.
    fn detect(&self, text: &[u8], findings: &mut Vec<Finding>);
}

/// Finds personal data and secrets in text.
///
/// Built with [`Scanner::new`] (every built-in kind) or [`Scanner::builder`].
/// Scanning never allocates when nothing is found, and never panics: input
/// need not be UTF-8 ([`Scanner::scan_bytes`]).
pub struct Scanner {
    enabled: u32,
    numeric: NumericConfig,
    custom: Vec<Box<dyn Detector>>,
    min_confidence: f32,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<&str> = Kind::BUILTIN
            .iter()
            .filter(|k| self.enabled & k.bit() != 0)
            .map(|k| k.name())
            .collect();
        f.debug_struct("Scanner")
            .field("kinds", &kinds)
            .field("regions", &self.numeric.regions)
            .field("custom_detectors", &self.custom.len())
            .field("min_confidence", &self.min_confidence)
            .finish()
    }
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

/// Telephone regions tried for national formats unless set otherwise: the
/// markets the seed customers serve (Poland, Brazil, Russia, Indonesia), then
/// the United States, the United Kingdom and Germany.
pub const DEFAULT_REGIONS: [&str; 7] = ["PL", "BR", "RU", "ID", "US", "GB", "DE"];

fn default_regions() -> Vec<Region> {
    DEFAULT_REGIONS
        .iter()
        .filter_map(|r| Region::parse(r))
        .collect()
}

impl Scanner {
    /// A scanner for every built-in kind, national telephone formats of
    /// [`DEFAULT_REGIONS`], and no minimum confidence.
    pub fn new() -> Self {
        let enabled = Kind::BUILTIN.iter().fold(0, |a, k| a | k.bit());
        Self {
            enabled,
            numeric: NumericConfig {
                enabled,
                regions: default_regions(),
            },
            custom: Vec::new(),
            min_confidence: 0.0,
        }
    }

    /// A builder to choose kinds, regions, custom detectors and a threshold.
    pub fn builder() -> ScannerBuilder {
        ScannerBuilder::default()
    }

    /// Every finding in `text`, sorted by start (longer first on ties).
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        self.scan_bytes(text.as_bytes())
    }

    /// Every finding in `text`, which need not be UTF-8; offsets are bytes.
    pub fn scan_bytes(&self, text: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        self.scan_into(text, &mut out);
        out
    }

    pub(crate) fn scan_into(&self, text: &[u8], out: &mut Vec<Finding>) {
        self.scan_into_known(text, out, Known::prefixes(Prefixes::Unknown), true);
    }

    /// [`Scanner::scan_into`], told what is known of `text` ([`Known`]): of
    /// its fragments of secret rule prefixes (see `secrets::FRAGMENTS`): with
    /// none, the secret engine, which would find nothing, is not run; nor are
    /// the e-mail and IPv6 engines without their triggers. Returns whether `text`
    /// is known to hold none after this scan. Without `confidences`, a
    /// confidence that cannot change what a masker writes is left at its
    /// base (see `context::apply`).
    #[inline(always)]
    pub(crate) fn scan_into_known(
        &self,
        text: &[u8],
        out: &mut Vec<Finding>,
        known: Known<'_>,
        confidences: bool,
    ) -> bool {
        out.clear();
        let mut no_prefix = false;
        let on = |k: Kind| self.enabled & k.bit() != 0;
        // Engines with their own triggers first; the numeric engine then
        // treats their findings as it will treat the labels replacing them.
        if known.at_sign && (on(Kind::Email) || on(Kind::Secret)) {
            text::scan_email(text, on(Kind::Email), on(Kind::Secret), out);
        }
        if known.colons && on(Kind::IpAddress) {
            text::scan_ipv6(text, out);
        }
        if on(Kind::Secret) {
            no_prefix = match known.prefixes {
                Prefixes::Unknown => !secrets::scan(text, out),
                Prefixes::None => true,
                Prefixes::At {
                    lower,
                    first,
                    key_words_only,
                } => {
                    secrets::scan_at(text, lower, first, key_words_only, out);
                    false
                }
            };
        }
        if self.enabled & !(Kind::Email.bit() | Kind::Secret.bit()) != 0 {
            if out.is_empty() {
                numeric::scan(text, &[], &self.numeric, out);
            } else {
                // The other engines' spans, merged: on the stack unless
                // there are many.
                let mut stack = [(0, 0); 8];
                let mut heap = Vec::new();
                let blocked: &mut [(usize, usize)] = match stack.get_mut(..out.len()) {
                    Some(spans) => spans,
                    None => {
                        heap.resize(out.len(), (0, 0));
                        &mut heap
                    }
                };
                for (slot, f) in blocked.iter_mut().zip(out.iter()) {
                    *slot = (f.start, f.end);
                }
                let merged = merge_spans(blocked);
                numeric::scan(text, merged, &self.numeric, out);
            }
        }
        for d in &self.custom {
            d.detect(text, out);
        }
        if out.is_empty() {
            return no_prefix;
        }
        let len = text.len();
        out.retain(|f| f.start < f.end && f.end <= len);
        out.sort_by(|a, b| {
            a.start
                .cmp(&b.start)
                .then(b.end.cmp(&a.end))
                .then(a.kind.cmp(&b.kind))
        });
        let min = self.min_confidence;
        context::apply(text, out, confidences || min > 0.0);
        out.retain(|f| f.confidence >= min);
        out.dedup_by(|a, b| a.start == b.start && a.end == b.end && a.kind == b.kind);
        no_prefix
    }

    /// Scans a stream line by line, calling `on_finding` with each finding
    /// (offsets from the start of the stream) and the bytes it covers.
    /// Memory stays bounded by the longest line, capped at
    /// [`MAX_LINE`](crate::MAX_LINE) bytes (longer lines are scanned in
    /// pieces split at whitespace). Input need not be UTF-8. Returns the
    /// number of bytes read.
    pub fn scan_reader<R: BufRead>(
        &self,
        reader: R,
        mut on_finding: impl FnMut(&Finding, &[u8]),
    ) -> Result<u64> {
        let mut findings = Vec::new();
        let mut offset = 0u64;
        crate::stream::for_each_line(reader, crate::MAX_LINE, |line| {
            self.scan_into(line, &mut findings);
            for f in &findings {
                let shifted = Finding {
                    start: f.start + offset as usize,
                    end: f.end + offset as usize,
                    ..*f
                };
                on_finding(&shifted, line.get(f.start..f.end).unwrap_or(&[]));
            }
            offset += line.len() as u64;
            Ok(())
        })?;
        Ok(offset)
    }

    pub(crate) fn enabled(&self, kind: Kind) -> bool {
        self.enabled & kind.bit() != 0
    }
}

/// Sorts `spans` and merges those that overlap or touch, in place; returns
/// the merged ones.
fn merge_spans(spans: &mut [(usize, usize)]) -> &[(usize, usize)] {
    spans.sort_unstable();
    let mut n: usize = 0;
    for k in 0..spans.len() {
        let Some(&(s, e)) = spans.get(k) else { break };
        match n.checked_sub(1).and_then(|last| spans.get_mut(last)) {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => {
                if let Some(slot) = spans.get_mut(n) {
                    *slot = (s, e);
                }
                n += 1;
            }
        }
    }
    spans.get(..n).unwrap_or(&[])
}

/// Builds a [`Scanner`]: `Scanner::builder().kinds([Kind::Email]).build()?`.
#[derive(Default)]
pub struct ScannerBuilder {
    kinds: Option<Vec<Kind>>,
    regions: Option<Vec<String>>,
    custom: Vec<Box<dyn Detector>>,
    min_confidence: Option<f32>,
}

impl std::fmt::Debug for ScannerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScannerBuilder")
            .field("kinds", &self.kinds)
            .field("regions", &self.regions)
            .field("custom_detectors", &self.custom.len())
            .field("min_confidence", &self.min_confidence)
            .finish()
    }
}

impl ScannerBuilder {
    /// Only these built-in kinds (default: all). Custom kinds are ignored here;
    /// add custom detectors with [`ScannerBuilder::detector`].
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = Kind>) -> Self {
        self.kinds = Some(kinds.into_iter().collect());
        self
    }

    /// Regions (ISO 3166 codes, `"PL"`) whose national telephone formats are
    /// recognised, in the order tried; international `+` numbers are always
    /// recognised. Default: [`DEFAULT_REGIONS`]. Each region costs a
    /// libphonenumber parse per telephone-shaped candidate.
    pub fn phone_regions<S: AsRef<str>>(mut self, regions: impl IntoIterator<Item = S>) -> Self {
        self.regions = Some(regions.into_iter().map(|r| r.as_ref().to_owned()).collect());
        self
    }

    /// Adds a user-supplied detector; it runs after the built-in ones.
    pub fn detector(mut self, detector: impl Detector + 'static) -> Self {
        self.custom.push(Box::new(detector));
        self
    }

    /// Drops findings less sure than this (0.0–1.0; default 0.0, keep all).
    pub fn min_confidence(mut self, min: f32) -> Self {
        self.min_confidence = Some(min);
        self
    }

    /// The scanner, or an error for an unknown region or a threshold out of range.
    pub fn build(self) -> Result<Scanner> {
        let enabled = self
            .kinds
            .unwrap_or_else(|| Kind::BUILTIN.to_vec())
            .iter()
            .fold(0, |a, k| a | k.bit());
        let regions = match self.regions {
            None => default_regions(),
            Some(list) => list
                .iter()
                .map(|r| {
                    Region::parse(&r.trim().to_ascii_uppercase())
                        .ok_or_else(|| Error::RegionUnknown(r.clone()))
                })
                .collect::<Result<_>>()?,
        };
        let min_confidence = self.min_confidence.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&min_confidence) {
            return Err(Error::ConfidenceOutOfRange);
        }
        Ok(Scanner {
            enabled,
            numeric: NumericConfig { enabled, regions },
            custom: self.custom,
            min_confidence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The merge in place gives what the merge into a new list gave.
    #[test]
    fn spans_merge_in_place_as_into_a_list() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n) as usize
        };
        for _ in 0..5_000 {
            let spans: Vec<(usize, usize)> = (0..next(12))
                .map(|_| {
                    let s = next(40);
                    (s, s + next(8))
                })
                .collect();
            let mut sorted = spans.clone();
            sorted.sort_unstable();
            let mut want: Vec<(usize, usize)> = Vec::new();
            for (s, e) in sorted {
                match want.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => want.push((s, e)),
                }
            }
            let mut got = spans.clone();
            assert_eq!(merge_spans(&mut got), want.as_slice(), "{spans:?}");
        }
    }
}
