//! Masking: scan, merge overlapping findings, replace each merged span.

use std::borrow::Cow;
use std::io::{BufRead, Write};
use std::num::NonZeroUsize;
use std::sync::{LazyLock, Mutex, mpsc};

use crate::error::Result;
use crate::kind::{Finding, Kind};
use crate::operator::Operator;
use crate::scanner::{Known, Scanner};
use crate::secrets::Prefixes;

/// Extra masking passes over a label or hash output (see `mask_into`).
const MAX_EXTRA_PASSES: usize = 4;

/// A masking thread that stopped without an answer (it panicked).
fn stopped() -> crate::Error {
    crate::Error::IoFailed(std::io::Error::other("a masking thread stopped"))
}

/// The start of a PEM block: whether a streamed line holds one (a vectorised
/// forward search), then where the last one starts.
static BEGIN: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"-----BEGIN"));
static BEGIN_LAST: LazyLock<memchr::memmem::FinderRev<'static>> =
    LazyLock::new(|| memchr::memmem::FinderRev::new(b"-----BEGIN"));

/// Whether the label of each built-in kind (`<EMAIL>`, in the order of
/// [`Kind::BUILTIN`]) holds a fragment of a secret rule's prefix.
static LABEL_FRAGMENTS: LazyLock<Vec<bool>> = LazyLock::new(|| {
    Kind::BUILTIN
        .iter()
        .map(|k| crate::secrets::holds_fragment(format!("<{}>", k.name()).as_bytes()))
        .collect()
});

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
    /// Every finding's confidence computed, as a scanner reports it (the
    /// tests compare the output with and without).
    #[cfg(test)]
    every_confidence: bool,
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

impl std::ops::AddAssign for StreamSummary {
    fn add_assign(&mut self, other: Self) {
        self.bytes += other.bytes;
        self.lines += other.lines;
        self.masked += other.masked;
    }
}

/// Bytes of whole lines each thread of [`Masker::mask_stream_parallel`]
/// masks at a time.
const CHUNK_LEN: usize = 256 * 1024;
/// Chunks read ahead per thread: the memory bound is about twice this many
/// chunks (input and output) per thread.
const CHUNKS_PER_THREAD: usize = 3;
/// Most threads a stream uses, whatever the caller asks.
const MAX_THREADS: usize = 64;

/// A chunk of a stream on its way through the threads.
#[derive(Default)]
struct Job {
    seq: u64,
    input: Vec<u8>,
    /// Whether a private-key block is open where the chunk starts.
    in_key: bool,
    output: Vec<u8>,
    summary: StreamSummary,
    result: Option<Result<()>>,
}

/// Masks a stream line by line, carrying the private-key state from line to
/// line; one per thread, its scratch space reused.
struct LineMasker<'m> {
    masker: &'m Masker,
    findings: Vec<Finding>,
    out: Vec<u8>,
    again: Vec<u8>,
    /// A chunk in lower case, and where fragments of secret rule prefixes
    /// start in it.
    lower: Vec<u8>,
    fragments: Vec<(usize, bool)>,
    /// Where `@` and `::` occur in a chunk (see `text::trigger_marks`).
    at_signs: Vec<usize>,
    double_colons: Vec<usize>,
    /// Inside a private-key block: every line is masked whole until its
    /// `-----END` line.
    in_key: bool,
    summary: StreamSummary,
}

impl<'m> LineMasker<'m> {
    fn new(masker: &'m Masker) -> Self {
        Self {
            masker,
            findings: Vec::new(),
            out: Vec::new(),
            again: Vec::new(),
            lower: Vec::new(),
            fragments: Vec::new(),
            at_signs: Vec::new(),
            double_colons: Vec::new(),
            in_key: false,
            summary: StreamSummary::default(),
        }
    }

    /// Masks a job's chunk into its output, with its own summary and
    /// result; a panic in the masking is the job's error, not the thread's.
    fn run(&mut self, job: &mut Job, max: usize) {
        self.summary = StreamSummary::default();
        self.in_key = job.in_key;
        job.output.clear();
        let masked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.chunk(&job.input, max, &mut job.output)
        }));
        job.summary = self.summary;
        job.result = Some(masked.unwrap_or_else(|_| Err(stopped())));
    }

    /// Masks `line` (its `\n` included) into `writer`; `known`: what is
    /// known of it. (The tests' line by line reference.)
    #[cfg(test)]
    fn line(&mut self, line: &[u8], known: Known<'_>, writer: &mut impl Write) -> Result<()> {
        if self.masked_line(line, known)? {
            writer.write_all(&self.out)?;
        } else {
            writer.write_all(line)?;
        }
        Ok(())
    }

    /// Masks `line` (its `\n` included) into `self.out`; `false` when
    /// nothing in it is masked (`self.out` is then not the line).
    #[inline(always)]
    fn masked_line(&mut self, line: &[u8], known: Known<'_>) -> Result<bool> {
        self.summary.bytes += line.len() as u64;
        self.summary.lines += 1;
        let body_len = line.len() - usize::from(line.ends_with(b"\n"));
        let (body, eol) = line.split_at(body_len);
        if self.in_key {
            self.in_key = self.masker.key_open_after(true, body);
            self.out.clear();
            self.masker
                .operator
                .apply(Kind::Secret, body, &mut self.out)?;
            self.out.extend_from_slice(eol);
            self.summary.masked += 1;
            return Ok(true);
        }
        let (n, no_prefix) = self.masker.mask_into_known(
            line,
            &mut self.findings,
            &mut self.out,
            &mut self.again,
            false,
            known,
        )?;
        self.summary.masked += n as u64;
        // `-----BEGIN` is a fragment of a secret rule's prefix, not a key
        // word's: a line known to hold none, or only key words' (see
        // `secrets::fragment_starts`), holds no key header.
        let key_words_only = matches!(
            known.prefixes,
            Prefixes::At {
                key_words_only: true,
                ..
            }
        );
        if !no_prefix && !key_words_only {
            self.in_key = self.masker.key_open_after(false, body);
        }
        Ok(n > 0)
    }

    /// Masks the whole lines of `chunk` (lines of at most `max` bytes) into
    /// `out`, the private-key state carried on from the chunk before.
    ///
    /// The secret engine's prefilter runs once over the whole chunk, not once
    /// per line: a line in which no fragment of a rule prefix starts is not
    /// searched for secrets. Lines left as they are are copied in runs.
    fn chunk(&mut self, chunk: &[u8], max: usize, out: &mut Vec<u8>) -> Result<()> {
        let known = self.masker.scanner.enabled(Kind::Secret) && {
            self.lower.clear();
            self.lower.extend_from_slice(chunk);
            self.lower.make_ascii_lowercase();
            crate::secrets::fragment_starts(&self.lower, &mut self.fragments)
        };
        let scanner = self.masker.scanner();
        // The e-mail and IPv6 engines' triggers, found once for the chunk.
        let triggers = scanner.enabled(Kind::Email)
            || scanner.enabled(Kind::Secret)
            || scanner.enabled(Kind::IpAddress);
        if triggers {
            crate::text::trigger_marks(chunk, &mut self.at_signs, &mut self.double_colons);
        }
        let (at_signs, double_colons) = (
            std::mem::take(&mut self.at_signs),
            std::mem::take(&mut self.double_colons),
        );
        let mut next_at_sign = at_signs.iter().copied().peekable();
        let mut next_double_colon = double_colons.iter().copied().peekable();
        let mut fragments = std::mem::take(&mut self.fragments);
        let lower = std::mem::take(&mut self.lower);
        let mut next = fragments.iter().copied().peekable();
        let mut at = 0;
        // Where the lines not yet written start.
        let mut copied = 0;
        let result = crate::stream::for_each_line(chunk, max, |line| {
            let end = at + line.len();
            while next.next_if(|&(f, _)| f < at).is_some() {}
            let prefixes = match next.peek() {
                _ if !known => Prefixes::Unknown,
                Some(&(f, _)) if f < end => {
                    let mut key_words_only = true;
                    while let Some((_, only)) = next.next_if(|&(g, _)| g < end) {
                        key_words_only &= only;
                    }
                    Prefixes::At {
                        lower: lower.get(at..end).unwrap_or(&[]),
                        first: f - at,
                        key_words_only,
                    }
                }
                _ => Prefixes::None,
            };
            let (at_sign, colons) = if triggers {
                crate::text::triggers(line, at, &mut next_at_sign, &mut next_double_colon)
            } else {
                (true, true)
            };
            let of_line = Known {
                prefixes,
                at_sign,
                colons,
            };
            // A line that fails is not written, nor is anything after it.
            if self.masked_line(line, of_line)? {
                out.extend_from_slice(chunk.get(copied..at).unwrap_or(&[]));
                out.extend_from_slice(&self.out);
                copied = end;
            }
            at = end;
            Ok(())
        });
        out.extend_from_slice(chunk.get(copied..at).unwrap_or(&[]));
        self.lower = lower;
        fragments.clear();
        self.fragments = fragments;
        self.at_signs = at_signs;
        self.double_colons = double_colons;
        result
    }
}

impl Masker {
    /// Every built-in kind, replaced by `operator`.
    pub fn new(operator: Operator) -> Self {
        Self::with_scanner(Scanner::new(), operator)
    }

    /// The findings of `scanner`, replaced by `operator`.
    pub fn with_scanner(scanner: Scanner, operator: Operator) -> Self {
        Self {
            scanner,
            operator,
            #[cfg(test)]
            every_confidence: false,
        }
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

    /// Masks `reader` into `writer` line by line, in bounded memory: lines
    /// are read in chunks of up to 256 KiB (what one read returns, from a
    /// pipe), plus the rest of a line that goes on past it (lines are cut at
    /// [`MAX_LINE`](crate::MAX_LINE) bytes).
    ///
    /// The stream is processed as bytes, not decoded: invalid UTF-8 passes
    /// through unchanged and never stops the stream, and findings are made of
    /// ASCII so they are found in any ASCII-compatible encoding. A private-key
    /// block (`-----BEGIN … PRIVATE KEY-----`) spans lines: every line up to
    /// its `-----END` line is masked whole.
    pub fn mask_stream<R: BufRead, W: Write>(&self, reader: R, writer: W) -> Result<StreamSummary> {
        self.mask_stream_chunks(reader, writer, CHUNK_LEN, crate::MAX_LINE)
    }

    /// [`Masker::mask_stream`] in chunks of about `chunk_len` bytes of whole
    /// lines of at most `max` bytes: the lines are those of a line by line
    /// reader, and the private-key state goes on from chunk to chunk.
    fn mask_stream_chunks<R: BufRead, W: Write>(
        &self,
        reader: R,
        mut writer: W,
        chunk_len: usize,
        max: usize,
    ) -> Result<StreamSummary> {
        let mut chunker = crate::stream::Chunker::new(reader, chunk_len, max);
        let mut lines = LineMasker::new(self);
        let (mut chunk, mut out) = (Vec::new(), Vec::new());
        loop {
            let more = chunker.next(&mut chunk);
            if matches!(more, Ok(true)) {
                out.clear();
                let masked = lines.chunk(&chunk, max, &mut out);
                writer.write_all(&out)?;
                masked?;
            }
            if !more? {
                break;
            }
        }
        writer.flush()?;
        Ok(lines.summary)
    }

    /// [`Masker::mask_stream`] on up to `threads` threads: the same bytes
    /// written, the same summary, the same error.
    ///
    /// The input is read in chunks of whole lines (256 KiB) that the threads
    /// mask side by side, and written in order. A private-key block that
    /// spans chunks is masked as one: the reader follows which chunk starts
    /// inside a block. Memory stays bounded: at most three chunks per thread
    /// are read ahead, each with its output. One thread is
    /// [`Masker::mask_stream`] itself.
    pub fn mask_stream_parallel<R: BufRead, W: Write>(
        &self,
        reader: R,
        writer: W,
        threads: NonZeroUsize,
    ) -> Result<StreamSummary> {
        self.mask_stream_threads(reader, writer, threads.get(), CHUNK_LEN, crate::MAX_LINE)
    }

    /// The threads of [`Masker::mask_stream_parallel`], with chunks of about
    /// `chunk_len` bytes and lines of at most `max` bytes.
    ///
    /// The calling thread is one of the `threads`: it reads the chunks,
    /// writes what comes back in order, and masks chunks itself whenever
    /// nothing is ready to be written, so that `threads` threads keep
    /// `threads` cores busy (a reader thread of its own would be one more
    /// thread than cores, waking and sleeping around every chunk).
    fn mask_stream_threads<R: BufRead, W: Write>(
        &self,
        reader: R,
        mut writer: W,
        threads: usize,
        chunk_len: usize,
        max: usize,
    ) -> Result<StreamSummary> {
        let threads = threads.clamp(1, MAX_THREADS);
        if threads == 1 {
            return self.mask_stream_chunks(reader, writer, chunk_len, max);
        }
        let mut chunker = crate::stream::Chunker::new(reader, chunk_len, max);
        let (work, jobs) = mpsc::sync_channel::<Job>(threads * CHUNKS_PER_THREAD);
        let jobs = Mutex::new(jobs);
        let (finished, done) = mpsc::channel::<Job>();
        let summary = std::thread::scope(|scope| {
            // Dropped when this closure returns, which stops the threads.
            let work = work;
            for _ in 1..threads {
                let (jobs, finished) = (&jobs, finished.clone());
                scope.spawn(move || {
                    let mut lines = LineMasker::new(self);
                    loop {
                        let next = match jobs.lock() {
                            Ok(jobs) => jobs.recv(),
                            Err(_) => break,
                        };
                        let Ok(mut job) = next else { break };
                        lines.run(&mut job, max);
                        if finished.send(job).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(finished);
            let mut lines = LineMasker::new(self);
            self.run_jobs(
                &mut chunker,
                &mut writer,
                threads,
                &work,
                &jobs,
                &done,
                |job| {
                    lines.run(job, max);
                },
            )
        })?;
        writer.flush()?;
        Ok(summary)
    }

    /// Reads chunks and hands them to the threads through `work`, masks one
    /// itself with `mask` when nothing is ready to be written, and writes
    /// what comes back through `done` in order.
    #[allow(clippy::too_many_arguments, reason = "the parts of one loop")]
    fn run_jobs<R: BufRead, W: Write>(
        &self,
        chunker: &mut crate::stream::Chunker<R>,
        writer: &mut W,
        threads: usize,
        work: &mpsc::SyncSender<Job>,
        jobs: &Mutex<mpsc::Receiver<Job>>,
        done: &mpsc::Receiver<Job>,
        mut mask: impl FnMut(&mut Job),
    ) -> Result<StreamSummary> {
        let ahead = threads * CHUNKS_PER_THREAD;
        let mut summary = StreamSummary::default();
        let (mut sent, mut written) = (0u64, 0u64);
        let mut waiting: std::collections::BTreeMap<u64, Job> = std::collections::BTreeMap::new();
        let mut spare: Vec<Job> = Vec::new();
        let mut in_key = false;
        let mut read_error = None;
        let mut reading = true;
        loop {
            while reading && sent - written < ahead as u64 {
                let mut job = spare.pop().unwrap_or_default();
                match chunker.next(&mut job.input) {
                    Ok(true) => {
                        job.seq = sent;
                        job.in_key = in_key;
                        in_key = self.key_open_after_chunk(in_key, &job.input, chunker.max());
                        sent += 1;
                        work.send(job).map_err(|_| stopped())?;
                    }
                    Ok(false) => reading = false,
                    Err(e) => {
                        read_error = Some(e);
                        reading = false;
                    }
                }
            }
            if sent == written {
                break;
            }
            while let Ok(job) = done.try_recv() {
                waiting.insert(job.seq, job);
            }
            if !waiting.contains_key(&written) {
                // Nothing to write yet: mask a waiting chunk here, or wait
                // for a thread's. When another thread holds the queue's
                // lock (it waits for work, or takes some), a chunk is being
                // masked or is done: waiting for it cannot wait forever.
                let mine = match jobs.try_lock() {
                    Ok(jobs) => jobs.try_recv().ok(),
                    Err(std::sync::TryLockError::WouldBlock) => None,
                    Err(std::sync::TryLockError::Poisoned(_)) => return Err(stopped()),
                };
                let job = match mine {
                    Some(mut job) => {
                        mask(&mut job);
                        job
                    }
                    None => done.recv().map_err(|_| stopped())?,
                };
                waiting.insert(job.seq, job);
            }
            while let Some(mut job) = waiting.remove(&written) {
                written += 1;
                summary += job.summary;
                writer.write_all(&job.output)?;
                job.result.take().unwrap_or_else(|| Err(stopped()))?;
                spare.push(job);
            }
        }
        match read_error {
            Some(e) => Err(e.into()),
            None => Ok(summary),
        }
    }

    /// Whether a private-key block is open after `body` (a line without its
    /// `\n`), given whether one was open before it: the state
    /// [`Masker::mask_stream`] carries from line to line.
    fn key_open_after(&self, open: bool, body: &[u8]) -> bool {
        if open {
            return memchr::memmem::find(body, b"-----END").is_none();
        }
        if !self.scanner.enabled(Kind::Secret) || BEGIN.find(body).is_none() {
            return false;
        }
        let Some(b) = BEGIN_LAST.rfind(body) else {
            return false;
        };
        let rest = body.get(b..).unwrap_or(&[]);
        memchr::memmem::find(rest, b"PRIVATE KEY").is_some()
            && memchr::memmem::find(rest, b"-----END").is_none()
    }

    /// [`Masker::key_open_after`] the lines of `chunk`.
    fn key_open_after_chunk(&self, mut open: bool, chunk: &[u8], max: usize) -> bool {
        // Most chunks hold no marker that could change the state.
        let marker: &[u8] = if open { b"-----END" } else { b"-----BEGIN" };
        if memchr::memmem::find(chunk, marker).is_none() {
            return open;
        }
        let _ = crate::stream::for_each_line(chunk, max, |line| {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            open = self.key_open_after(open, body);
            Ok(())
        });
        open
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
        self.mask_into_known(
            text,
            findings,
            out,
            again,
            char_boundaries,
            Known::prefixes(Prefixes::Unknown),
        )
        .map(|(spans, _)| spans)
    }

    /// [`Masker::mask_into`], told what is known of `text`'s fragments of
    /// secret rule prefixes, and returning whether it is known to hold none
    /// after the scan (see `mask_once`).
    #[inline(always)]
    fn mask_into_known(
        &self,
        text: &[u8],
        findings: &mut Vec<Finding>,
        out: &mut Vec<u8>,
        again: &mut Vec<u8>,
        char_boundaries: bool,
        known: Known<'_>,
    ) -> Result<(usize, bool)> {
        let (mut spans, text_no_prefix, mut no_prefix, mut kept) =
            self.mask_once(text, findings, out, char_boundaries, known)?;
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
        // `mask_once`) is not searched for secrets again; nor for e-mail
        // addresses or IPv6 addresses without their triggers, which the
        // output holds only where the text did when no replacement holds
        // `@` or `:` (its bytes are the text's, or a replacement's, which
        // is never empty, so no two colons become neighbours).
        let (mut at_sign, mut colons) = (known.at_sign, known.colons);
        for _ in 0..MAX_EXTRA_PASSES {
            at_sign |= !kept;
            colons |= !kept;
            let prefixes = if no_prefix {
                Prefixes::None
            } else {
                Prefixes::Unknown
            };
            let of_out = Known {
                prefixes,
                at_sign,
                colons,
            };
            let (n, _, none, clean) =
                self.mask_once(out, findings, again, char_boundaries, of_out)?;
            no_prefix = none;
            kept = clean;
            if n == 0 {
                break;
            }
            spans += n;
            std::mem::swap(out, again);
        }
        Ok((spans, text_no_prefix))
    }

    /// Masks `text` into `out` once; returns the number of merged spans,
    /// whether `text`, then `out`, are known to hold no fragment of a secret
    /// rule's prefix. `known` says what is already known of `text`. It is
    /// known of `out` when `text` holds none and no
    /// replacement does: the bytes between replacements are copied, and a
    /// fragment across a replacement's edge would contain its `<` or `>`,
    /// which no fragment does.
    /// And last, whether every replacement written is non-empty and holds
    /// neither `@` nor `:` (see `mask_into_known`).
    #[inline(always)]
    fn mask_once(
        &self,
        text: &[u8],
        findings: &mut Vec<Finding>,
        out: &mut Vec<u8>,
        char_boundaries: bool,
        known: Known<'_>,
    ) -> Result<(usize, bool, bool, bool)> {
        #[cfg(not(test))]
        let every = false;
        #[cfg(test)]
        let every = self.every_confidence;
        let text_none = self.scanner.scan_into_known(text, findings, known, every);
        if findings.is_empty() {
            return Ok((0, text_none, text_none, true));
        }
        let mut none = text_none;
        let mut kept = true;
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
            let label = out.get(written..).unwrap_or(&[]);
            kept &= !label.is_empty() && !label.iter().any(|&b| b == b'@' || b == b':');
            if none {
                none = label.first() == Some(&b'<')
                    && label.last() == Some(&b'>')
                    && !self.label_holds_fragment(kind, label);
            }
            copied = end;
            spans += 1;
        }
        out.extend_from_slice(text.get(copied..).unwrap_or(&[]));
        Ok((spans, text_none, none, kept))
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

    /// [`Masker::mask_value`] appending to `out`, for callers masking many
    /// values (a serializer writing a response): no allocation beyond
    /// `out`'s growth. The same text as `mask_value`.
    ///
    /// ```
    /// use palisade_pii::{Kind, Masker, Operator, PartialMask};
    ///
    /// let masker = Masker::new(Operator::Partial(PartialMask::default()));
    /// let mut out = String::new();
    /// for phone in ["+48 601 234 211", "+44 20 7946 0958"] {
    ///     out.clear();
    ///     masker.mask_value_into(Kind::Phone, phone, &mut out)?;
    ///     assert!(out.starts_with("+4") && out.contains("XXX"));
    /// }
    /// # Ok::<(), palisade_pii::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the operator fails (see [`Masker::mask`]); `out` keeps what it
    /// held before.
    pub fn mask_value_into(&self, kind: Kind, value: &str, out: &mut String) -> Result<()> {
        let mut bytes = std::mem::take(out).into_bytes();
        let start = bytes.len();
        let applied = self.operator.apply(kind, value.as_bytes(), &mut bytes);
        if applied.is_err() {
            bytes.truncate(start);
        }
        *out = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                // As in `mask_value`: a lossy copy of what the operator
                // wrote, if it was not UTF-8.
                let mut bytes = e.into_bytes();
                let tail = bytes.split_off(start);
                let mut text = String::from_utf8_lossy(&bytes).into_owned();
                text.push_str(&String::from_utf8_lossy(&tail));
                text
            }
        };
        applied
    }

    /// Whether `label`, which the operator wrote for a value of `kind`,
    /// holds a fragment of a secret rule's prefix: for the label operator's
    /// `<KIND>`, looked up.
    fn label_holds_fragment(&self, kind: Kind, label: &[u8]) -> bool {
        match (&self.operator, kind.bit()) {
            (Operator::Label, bit) if bit != 0 => LABEL_FRAGMENTS
                .get(bit.trailing_zeros() as usize)
                .copied()
                .unwrap_or(true),
            _ => crate::secrets::holds_fragment(label),
        }
    }

    /// Masks a whole value (a JSON field selected by path) as `kind`.
    pub(crate) fn mask_whole(&self, kind: Kind, value: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.operator.apply(kind, value, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::{HashKey, PartialMask};

    /// `mask_value_into` appends exactly what `mask_value` returns, after
    /// whatever `out` held, with every operator.
    #[test]
    fn mask_value_into_appends_mask_value() {
        let operators = [
            Operator::Redact,
            Operator::Label,
            Operator::Partial(PartialMask::default()),
            Operator::Partial(PartialMask::new('█', 1).unwrap().ignore(['-'])),
            Operator::Hash(HashKey::new(&[7; 32]).unwrap()),
        ];
        let values = [
            "+48 601 234 567",
            "jan.kowalski@example.com",
            "PL61 1090 1014 0000 0712 1981 2874",
            "Zażółć gęślą jaźń",
            "",
            "+",
        ];
        let kinds = [
            Kind::Phone,
            Kind::Email,
            Kind::Iban,
            Kind::Secret,
            Kind::Custom("NAME"),
        ];
        for operator in operators {
            let masker = Masker::new(operator);
            let mut out = String::from("kept ");
            for value in values {
                for kind in kinds {
                    let expected = masker.mask_value(kind, value).unwrap();
                    out.truncate(5);
                    masker.mask_value_into(kind, value, &mut out).unwrap();
                    assert_eq!(out, format!("kept {expected}"), "{kind:?} {value:?}");
                }
            }
        }
    }

    /// xorshift64*: reproducible inputs.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const PIECES: &[&[u8]] = &[
        b"user jan.kowalski@example.com ",
        b"call +48 601 234 567 ",
        b"PESEL 44051401359 ",
        b"password=hunter2 ",
        b"card 4111 1111 1111 1111 ",
        b"-----BEGIN RSA PRIVATE KEY-----",
        b"-----BEGIN PRIVATE KEY----- MIIEv",
        b"-----END RSA PRIVATE KEY-----",
        b"MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB ",
        b"-----BEGIN CERTIFICATE-----",
        b"plain words and numbers 12 345 ",
        b"\xff\xfe invalid ",
        b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        // Key words with and without an assignment, and fragments of other
        // rules' prefixes that start inside a key word's.
        b"session 4f2a9c01d3e5b7a9 renewed ",
        b"[auth] ",
        b"Auth",
        b"hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX ",
        b"ooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX ",
        b"apikey",
        b"x-api-key",
        b"JhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U ",
        b"token",
        b"=",
        b": ",
        b"Q9fK2mZ7xW4pL8vB3nR6",
        // IPv6 addresses, colons and URL credentials: the e-mail and IPv6
        // engines' triggers, which the chunks look for ahead of the lines.
        b"fe80::1 ",
        b"2001:db8:0:0:1:0:0:1",
        b"10:11:12 ",
        b"64:ff9b:1:2:3:4:10.0.0.1 ",
        b":",
        b"https://deploy:hunter2@git.example.com/x ",
        b"@",
        b"\n",
        b"\n",
        b"\n",
        b" ",
    ];

    /// Lines of values, private-key blocks, long lines and invalid UTF-8.
    fn input(r: &mut Rng, parts: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..parts {
            out.extend_from_slice(PIECES[r.below(PIECES.len())]);
        }
        out
    }

    /// The reference: line by line, as `mask_stream` was before chunks,
    /// every line searched for secrets.
    fn mask_lines<R: BufRead>(
        m: &Masker,
        reader: R,
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<StreamSummary> {
        let mut lines = LineMasker::new(m);
        crate::stream::for_each_line(reader, max, |line| {
            lines.line(line, Known::prefixes(Prefixes::Unknown), out)
        })?;
        Ok(lines.summary)
    }

    fn sequential(m: &Masker, input: &[u8], max: usize) -> (Vec<u8>, StreamSummary) {
        let mut out = Vec::new();
        let summary = mask_lines(m, input, &mut out, max).unwrap();
        (out, summary)
    }

    fn parallel(
        m: &Masker,
        input: &[u8],
        threads: usize,
        chunk: usize,
        max: usize,
    ) -> (Vec<u8>, StreamSummary) {
        let mut out = Vec::new();
        let summary = m
            .mask_stream_threads(input, &mut out, threads, chunk, max)
            .unwrap();
        (out, summary)
    }

    #[test]
    fn threads_write_what_one_thread_writes() {
        let maskers = [
            Masker::new(Operator::Label),
            Masker::new(Operator::Redact),
            Masker::new(Operator::Hash(
                HashKey::new(b"thread-test-key-0123456789").unwrap(),
            )),
        ];
        let mut r = Rng(0x1234_5678_9ABC_DEF1);
        for case in 0..100 {
            let parts = 1 + r.below(120);
            let text = input(&mut r, parts);
            let m = &maskers[case % maskers.len()];
            for max in [8, 40, crate::MAX_LINE] {
                let want = sequential(m, &text, max);
                for (threads, chunk) in [
                    (1, 1),
                    (1, 60),
                    (2, 1),
                    (2, 50),
                    (3, 17),
                    (5, 200),
                    (2, 1 << 20),
                ] {
                    let got = parallel(m, &text, threads, chunk, max);
                    assert_eq!(
                        got,
                        want,
                        "{threads} threads, chunks of {chunk}, lines of {max}: {:?}",
                        String::from_utf8_lossy(&text)
                    );
                }
            }
        }
    }

    /// A private key's lines are masked whole whichever chunk they fall in:
    /// the block opens in one chunk and closes several chunks later.
    #[test]
    fn a_private_key_across_chunks_is_masked_whole() {
        let mut text = b"before jan@example.com\n-----BEGIN RSA PRIVATE KEY-----\n".to_vec();
        for i in 0..40 {
            text.extend_from_slice(
                format!("MIIEow{i:02}AKCAQEA0Z3VS5JJcds3xfn password=x 44051401359\n").as_bytes(),
            );
        }
        text.extend_from_slice(b"-----END RSA PRIVATE KEY-----\nafter PESEL 44051401359\n");
        let m = Masker::new(Operator::Label);
        let want = sequential(&m, &text, crate::MAX_LINE);
        let masked = String::from_utf8(want.0.clone()).unwrap();
        assert_eq!(masked.matches("<SECRET>").count(), 42, "{masked}");
        assert!(!masked.contains("MIIEow"), "{masked}");
        for chunk in [1, 30, 100, 333, 1000, 2500] {
            for threads in [2, 3] {
                assert_eq!(
                    parallel(&m, &text, threads, chunk, crate::MAX_LINE),
                    want,
                    "{threads} threads, chunks of {chunk}"
                );
            }
        }
    }

    /// A key header on a line that also holds key words (`session`,
    /// `auth`) opens the block: the line's fragments are not all key
    /// words', so the header is looked for.
    #[test]
    fn a_key_header_after_key_words_opens_the_block() {
        let text = b"[auth] session renewed\n\
            [auth] session -----BEGIN RSA PRIVATE KEY-----\n\
            MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n\
            xoQ2ArnWbR3TYn8eTJ4l5f5R\n\
            -----END RSA PRIVATE KEY-----\n\
            [auth] token refreshed\n";
        let m = Masker::new(Operator::Label);
        let want = sequential(&m, text, crate::MAX_LINE);
        let masked = String::from_utf8(want.0.clone()).unwrap();
        assert!(!masked.contains("MIIEow"), "{masked}");
        assert!(!masked.contains("xoQ2Arn"), "{masked}");
        for threads in [1, 2] {
            assert_eq!(
                parallel(&m, text, threads, 1 << 20, crate::MAX_LINE),
                want,
                "{threads} threads"
            );
        }
    }

    /// The confidences a masker leaves at their base (of findings alone,
    /// see `context::apply`) change nothing it writes.
    #[test]
    fn confidences_left_at_base_change_nothing() {
        const WORDS: &[&[u8]] = &[
            b"PESEL ",
            b"tel. ",
            b"card ",
            b"IBAN:",
            b"cpf ",
            b"NIP ",
            b"SSN ",
            b"inn ",
            // Valid as both PESEL and CPF: the kind goes with the context.
            b"06040477385",
            b"88112541671",
            b"44051401359",
            b"111.444.777-35",
            b"123456789",
            b"7709957240",
            b"601 234 567",
            b"+48 601 234 567",
            b"4111 1111 1111 1111",
            b"1.222.111.4.7709957240",
            b"\xc3\xa9",
            b"\xb0",
            b" ",
            b"-",
            b"/",
            b"x",
            b"\n",
        ];
        let mut r = Rng(0x5151_7A7A_0101_2323);
        for (label, hash) in [(true, false), (false, true)] {
            let operator = if hash {
                Operator::Hash(HashKey::new(b"confidence-test-key-0123456789").unwrap())
            } else if label {
                Operator::Label
            } else {
                Operator::Redact
            };
            let base = Masker::new(operator.clone());
            let every = Masker {
                every_confidence: true,
                ..Masker::new(operator)
            };
            for _ in 0..4_000 {
                let n = 1 + r.below(14);
                let text: Vec<u8> = (0..n)
                    .flat_map(|_| WORDS[r.below(WORDS.len())].iter().copied())
                    .collect();
                assert_eq!(
                    base.mask_bytes(&text).unwrap(),
                    every.mask_bytes(&text).unwrap(),
                    "{:?}",
                    String::from_utf8_lossy(&text)
                );
                if let Ok(s) = std::str::from_utf8(&text) {
                    assert_eq!(base.mask(s).unwrap(), every.mask(s).unwrap(), "{s:?}");
                }
            }
        }
    }

    /// A line whose fragments are all key words' is searched for secrets
    /// only after an `=` or a `:`, unless another rule's fragment starts
    /// inside a key word's (`auth` + `hooks.sl`), which the prefilter does
    /// not report.
    #[test]
    fn key_words_without_assignments_hide_no_other_secret() {
        let m = Masker::new(Operator::Label);
        let text = b"session 4f2a9c01 renewed\n\
            Authooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX\n\
            [auth] token Q9fK2mZ7xW4pL8vB3nR6 sent\n\
            [auth] token: Q9fK2mZ7xW4pL8vB3nR6\n\
            x-apikeyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n\
            session=4f2a9c01d3e5b7a9c1e3\n";
        let want = sequential(&m, text, crate::MAX_LINE);
        let masked = String::from_utf8(want.0.clone()).unwrap();
        assert_eq!(masked.matches("<SECRET>").count(), 2, "{masked}");
        assert!(masked.contains("token: <SECRET>\n"), "{masked}");
        for threads in [1, 2] {
            assert_eq!(parallel(&m, text, threads, 1 << 20, crate::MAX_LINE), want);
        }
    }

    #[test]
    fn chunks_end_where_lines_end() {
        let mut r = Rng(0xFEED_F00D_1234_5679);
        for _ in 0..300 {
            let parts = r.below(40);
            let text = input(&mut r, parts);
            let max = [2, 5, 8, 40][r.below(4)];
            let mut ends = Vec::new();
            let mut at = 0;
            crate::stream::for_each_line(text.as_slice(), max, |l| {
                at += l.len();
                ends.push(at);
                Ok(())
            })
            .unwrap();
            for cut in 0..=text.len() {
                let whole = crate::stream::whole_lines(&text[..cut], max);
                // A line end of the whole stream, and the last one a reader
                // of the first `cut` bytes could know of.
                assert!(whole == 0 || ends.contains(&whole), "{whole} {ends:?}");
                // Every line ended by a `\n` before the cut is in.
                let newline = text[..cut]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                assert!(whole >= newline, "{cut}: {whole} < {newline}");
            }
        }
    }

    /// A reader that fails after `ok` bytes.
    struct Failing<'a> {
        data: &'a [u8],
        ok: usize,
    }

    impl std::io::Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.ok == 0 {
                return Err(std::io::Error::other("disk gone"));
            }
            let n = buf.len().min(self.ok).min(self.data.len()).min(7);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.ok -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_read_error_comes_after_the_lines_read_before_it() {
        let m = &Masker::new(Operator::Label);
        let mut r = Rng(0xABCD_EF01_2345_6789);
        for _ in 0..200 {
            let parts = 1 + r.below(60);
            let text = input(&mut r, parts);
            let ok = r.below(text.len() + 1);
            let mut want = Vec::new();
            let seq = mask_lines(
                m,
                std::io::BufReader::with_capacity(5, Failing { data: &text, ok }),
                &mut want,
                40,
            );
            for threads in [1, 2] {
                let mut got = Vec::new();
                let par = m.mask_stream_threads(
                    std::io::BufReader::with_capacity(5, Failing { data: &text, ok }),
                    &mut got,
                    threads,
                    13,
                    40,
                );
                assert_eq!(got, want);
                assert_eq!(format!("{seq:?}"), format!("{par:?}"));
            }
        }
    }
}
