//! Masking: scan, merge overlapping findings, replace each merged span.

use std::borrow::Cow;
use std::io::{BufRead, Write};
use std::sync::LazyLock;

use crate::error::Result;
use crate::kind::{Finding, Kind};
use crate::operator::Operator;
use crate::scanner::Scanner;

/// Extra masking passes over a label or hash output (see `mask_into`).
const MAX_EXTRA_PASSES: usize = 4;

/// The start of a PEM block: whether a streamed line holds one (a vectorised
/// forward search), then where the last one starts.
static BEGIN: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"-----BEGIN"));
static BEGIN_LAST: LazyLock<memchr::memmem::FinderRev<'static>> =
    LazyLock::new(|| memchr::memmem::FinderRev::new(b"-----BEGIN"));

/// Finds personal data and secrets and replaces them with an [`Operator`].
///
/// Overlapping and touching findings are merged first and the operator
/// replaces the union, so a value found twice (an 11-digit number that is a
/// valid PESEL and a valid CPF) or a secret inside a larger finding is never
/// left half-masked. A merged span takes the kind of its most confident
/// finding, except that a [`Kind::Secret`] anywhere in it makes it a secret.
///
/// With [`Operator::Label`] and [`Operator::Hash`] the output is scanned
/// again until nothing new is found: a value read in the context of a
/// neighbour can read differently once that neighbour is a label, and
/// masking masked text must change nothing.
#[derive(Debug, Default)]
pub struct Masker {
    scanner: Scanner,
    operator: Operator,
}

/// What [`Masker::mask_stream`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamSummary {
    /// Bytes read.
    pub bytes: u64,
    /// Lines read (a last line without `\n` counts).
    pub lines: u64,
    /// Values masked (after merging overlaps).
    pub masked: u64,
}

impl Masker {
    /// Every built-in kind, replaced by `operator`.
    pub fn new(operator: Operator) -> Self {
        Self {
            scanner: Scanner::new(),
            operator,
        }
    }

    /// The findings of `scanner`, replaced by `operator`.
    pub fn with_scanner(scanner: Scanner, operator: Operator) -> Self {
        Self { scanner, operator }
    }

    /// The scanner this masker uses.
    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }

    /// The operator this masker applies.
    pub fn operator(&self) -> &Operator {
        &self.operator
    }

    /// `text` with every finding replaced; borrowed unchanged when nothing is
    /// found. Spans are widened to character boundaries, so the output is
    /// always valid UTF-8.
    pub fn mask<'a>(&self, text: &'a str) -> Result<Cow<'a, str>> {
        let mut findings = Vec::new();
        let mut out = Vec::new();
        if self.mask_into(
            text.as_bytes(),
            &mut findings,
            &mut out,
            &mut Vec::new(),
            true,
        )? == 0
        {
            return Ok(Cow::Borrowed(text));
        }
        Ok(Cow::Owned(match String::from_utf8(out) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }))
    }

    /// `text`, which need not be UTF-8, with every finding replaced; bytes
    /// outside findings are copied unchanged.
    pub fn mask_bytes<'a>(&self, text: &'a [u8]) -> Result<Cow<'a, [u8]>> {
        let mut findings = Vec::new();
        let mut out = Vec::new();
        if self.mask_into(text, &mut findings, &mut out, &mut Vec::new(), false)? == 0 {
            return Ok(Cow::Borrowed(text));
        }
        Ok(Cow::Owned(out))
    }

    /// Masks `reader` into `writer` line by line, in memory bounded by the
    /// longest line (at most [`MAX_LINE`](crate::MAX_LINE) bytes).
    ///
    /// The stream is processed as bytes, not decoded: invalid UTF-8 passes
    /// through unchanged and never stops the stream, and findings are made of
    /// ASCII so they are found in any ASCII-compatible encoding. A private-key
    /// block (`-----BEGIN … PRIVATE KEY-----`) spans lines: every line up to
    /// its `-----END` line is masked whole.
    pub fn mask_stream<R: BufRead, W: Write>(
        &self,
        reader: R,
        mut writer: W,
    ) -> Result<StreamSummary> {
        let mut summary = StreamSummary::default();
        let mut findings = Vec::new();
        let mut out = Vec::new();
        let mut again = Vec::new();
        let mut in_key = false;
        crate::stream::for_each_line(reader, crate::MAX_LINE, |line| {
            summary.bytes += line.len() as u64;
            summary.lines += 1;
            let body_len = line.len() - usize::from(line.ends_with(b"\n"));
            let (body, eol) = line.split_at(body_len);
            if in_key {
                if memchr::memmem::find(body, b"-----END").is_some() {
                    in_key = false;
                }
                out.clear();
                self.operator.apply(Kind::Secret, body, &mut out)?;
                writer.write_all(&out)?;
                writer.write_all(eol)?;
                summary.masked += 1;
                return Ok(());
            }
            let (n, no_prefix) =
                self.mask_into_known(line, &mut findings, &mut out, &mut again, false)?;
            summary.masked += n as u64;
            if n == 0 {
                writer.write_all(line)?;
            } else {
                writer.write_all(&out)?;
            }
            // `-----BEGIN` is a fragment of a secret rule's prefix: a line
            // known to hold none holds no key header.
            if !no_prefix
                && self.scanner.enabled(Kind::Secret)
                && BEGIN.find(body).is_some()
                && let Some(b) = BEGIN_LAST.rfind(body)
            {
                let rest = body.get(b..).unwrap_or(&[]);
                in_key = memchr::memmem::find(rest, b"PRIVATE KEY").is_some()
                    && memchr::memmem::find(rest, b"-----END").is_none()
                    && self.scanner.enabled(Kind::Secret);
            }
            Ok(())
        })?;
        writer.flush()?;
        Ok(summary)
    }

    /// Scans `text` into `findings`, writes the masked text to `out` and
    /// returns the number of merged spans (0: `out` untouched). `again` is
    /// scratch space for the extra passes.
    pub(crate) fn mask_into(
        &self,
        text: &[u8],
        findings: &mut Vec<Finding>,
        out: &mut Vec<u8>,
        again: &mut Vec<u8>,
        char_boundaries: bool,
    ) -> Result<usize> {
        self.mask_into_known(text, findings, out, again, char_boundaries)
            .map(|(spans, _)| spans)
    }

    /// [`Masker::mask_into`], also returning whether `text` is known to hold
    /// no fragment of a secret rule's prefix (see `mask_once`).
    fn mask_into_known(
        &self,
        text: &[u8],
        findings: &mut Vec<Finding>,
        out: &mut Vec<u8>,
        again: &mut Vec<u8>,
        char_boundaries: bool,
    ) -> Result<(usize, bool)> {
        let (mut spans, text_no_prefix, mut no_prefix) =
            self.mask_once(text, findings, out, char_boundaries, false)?;
        if spans == 0 || !matches!(self.operator, Operator::Label | Operator::Hash(_)) {
            return Ok((spans, text_no_prefix));
        }
        // A value is judged with its neighbours as context, and a neighbour
        // that became a label reads differently (`1.222.111.4.7709957240`:
        // once the INN is `<RU_INN>`, `1.222.111.4` is an IP address). For
        // the operators that promise idempotence, mask the output again
        // until nothing new is found. Each pass turns digits or an e-mail
        // into a label, so this ends; the bound is a guard.
        // A text that held no fragment of a secret rule's prefix (see
        // `mask_once`) is not searched for secrets again.
        for _ in 0..MAX_EXTRA_PASSES {
            let (n, _, none) = self.mask_once(out, findings, again, char_boundaries, no_prefix)?;
            no_prefix = none;
            if n == 0 {
                break;
            }
            spans += n;
            std::mem::swap(out, again);
        }
        Ok((spans, text_no_prefix))
    }

    /// Masks `text` into `out` once; returns the number of merged spans and
    /// whether `text`, then `out`, are known to hold no fragment of a secret
    /// rule's prefix. `no_prefix` says whether that is already known of
    /// `text`. It is known of `out` when `text` holds none and no
    /// replacement does: the bytes between replacements are copied, and a
    /// fragment across a replacement's edge would contain its `<` or `>`,
    /// which no fragment does.
    fn mask_once(
        &self,
        text: &[u8],
        findings: &mut Vec<Finding>,
        out: &mut Vec<u8>,
        char_boundaries: bool,
        no_prefix: bool,
    ) -> Result<(usize, bool, bool)> {
        let text_none = self.scanner.scan_into_known(text, findings, no_prefix);
        if findings.is_empty() {
            return Ok((0, text_none, text_none));
        }
        let mut none = text_none;
        out.clear();
        out.reserve(text.len() + 16);
        let mut copied = 0;
        let mut spans = 0;
        let mut i = 0;
        while let Some(first) = findings.get(i) {
            let (mut start, mut end, mut kind, mut best) =
                (first.start, first.end, first.kind, first.confidence);
            i += 1;
            while let Some(f) = findings.get(i) {
                if f.start > end {
                    break;
                }
                end = end.max(f.end);
                if kind != Kind::Secret && (f.kind == Kind::Secret || f.confidence > best) {
                    kind = f.kind;
                    best = f.confidence;
                }
                i += 1;
            }
            if char_boundaries {
                while start > copied && text.get(start).is_some_and(|b| b & 0xC0 == 0x80) {
                    start -= 1;
                }
                while text.get(end).is_some_and(|b| b & 0xC0 == 0x80) {
                    end += 1;
                }
                // Findings that grew into the next one are merged with it.
                while let Some(f) = findings.get(i) {
                    if f.start > end {
                        break;
                    }
                    end = end.max(f.end);
                    i += 1;
                }
            }
            let start = start.max(copied);
            out.extend_from_slice(text.get(copied..start).unwrap_or(&[]));
            let written = out.len();
            self.operator
                .apply(kind, text.get(start..end).unwrap_or(&[]), out)?;
            if none {
                let label = out.get(written..).unwrap_or(&[]);
                none = label.first() == Some(&b'<')
                    && label.last() == Some(&b'>')
                    && !crate::secrets::holds_fragment(label);
            }
            copied = end;
            spans += 1;
        }
        out.extend_from_slice(text.get(copied..).unwrap_or(&[]));
        Ok((spans, text_none, none))
    }

    /// Masks `value` whole as a value of `kind`, without scanning it: for a
    /// field whose kind is known (a `phone` column is a [`Kind::Phone`]).
    ///
    /// ```
    /// use palisade_pii::{Kind, Masker, Operator, PartialMask};
    ///
    /// let masker = Masker::new(Operator::Partial(PartialMask::default()));
    /// assert_eq!(masker.mask_value(Kind::Phone, "+48 601 234 211")?, "+48 XXX XXX 211");
    /// # Ok::<(), palisade_pii::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the operator fails (see [`Masker::mask`]).
    pub fn mask_value(&self, kind: Kind, value: &str) -> Result<String> {
        let masked = self.mask_whole(kind, value.as_bytes())?;
        // The operators write UTF-8 for UTF-8 input; a lossy copy only if not.
        Ok(String::from_utf8(masked)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    /// Masks a whole value (a JSON field selected by path) as `kind`.
    pub(crate) fn mask_whole(&self, kind: Kind, value: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.operator.apply(kind, value, &mut out)?;
        Ok(out)
    }
}
