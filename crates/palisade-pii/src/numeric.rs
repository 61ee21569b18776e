//! The numeric engine: one pass over the text that stops only at digits.
//!
//! At each digit it gathers a *token*: up to [`MAX_GROUPS`] digit groups joined
//! by one or two separator bytes (` -./()`). Every run of consecutive groups
//! (longest first) is then held against the formats of the identifiers —
//! group lengths and separators — and only a run whose shape fits is handed
//! to the check-digit validators. Telephone numbers, whose validation
//! (libphonenumber metadata) costs microseconds, are tried last and only for
//! shapes that look like telephone numbers. Letters glued to digits
//! (`abc123`, `v1.2`, hex ids) end a token, so identifiers are only found as
//! whole words. IBANs and `PL`-prefixed NIPs, which start with letters, are
//! recognised where the letters meet the digits.

use crate::checks;
use crate::context::needs_context;
use crate::kind::{Finding, Kind};
use crate::phone::{self, Region};

const MAX_GROUPS: usize = 12;
const MAX_DIGITS: usize = 19;

/// Settings of the numeric engine, derived from the scanner's settings.
#[derive(Clone, Debug)]
pub(crate) struct NumericConfig {
    /// Bit set of enabled built-in kinds ([`Kind::bit`]).
    pub(crate) enabled: u32,
    /// Regions whose national telephone formats are recognised, in order.
    pub(crate) regions: Vec<Region>,
}

impl NumericConfig {
    fn on(&self, kind: Kind) -> bool {
        self.enabled & kind.bit() != 0
    }
}

#[derive(Clone, Copy, Default)]
struct Group {
    start: usize,
    end: usize,
    /// The separator bytes before this group (0 = none), up to two.
    sep: [u8; 2],
}

impl Group {
    fn len(&self) -> usize {
        self.end - self.start
    }
}

/// [`is_word`] of every byte value: one load instead of three comparisons.
#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time with b < 256; a bad index would fail the build"
)]
static WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte.is_ascii_alphanumeric() || byte == b'_';
        b += 1;
    }
    table
};

/// An ASCII letter or digit, or `_`.
fn is_word(b: u8) -> bool {
    WORD_BYTES.get(usize::from(b)).copied().unwrap_or(false)
}

/// Whether a value starting at `i` is glued to what precedes it: a letter,
/// digit or `_`, or a label this crate wrote (`<EMAIL>`, `<PHONE:…>`), which
/// stands where a glued value was: treating it alike keeps masking idempotent.
#[inline(always)]
pub(crate) fn glued_left(text: &[u8], bl: &[(usize, usize)], i: usize) -> bool {
    let b = before(text, i);
    is_word(b) || (!bl.is_empty() && ends_at(bl, i)) || (b == b'>' && label_ends_at(text, i - 1))
}

/// Whether a label (`<EMAIL>`) ends at `close`, the position of its `>`.
#[inline(never)]
fn label_ends_at(text: &[u8], close: usize) -> bool {
    let Some(head) = text.get(..close) else {
        return false;
    };
    let tail = head.rsplit(|&c| c == b'<').next().unwrap_or(&[]);
    head.len() > tail.len() && is_label(tail)
}

/// Whether a value ending at `i` is glued to what follows (see [`glued_left`]).
#[inline(always)]
pub(crate) fn glued_right(text: &[u8], bl: &[(usize, usize)], i: usize) -> bool {
    let b = at(text, i);
    is_word(b) || (!bl.is_empty() && starts_at(bl, i)) || (b == b'<' && label_starts_at(text, i))
}

/// Whether a label (`<EMAIL>`) starts at `open`, the position of its `<`.
#[inline(never)]
fn label_starts_at(text: &[u8], open: usize) -> bool {
    let rest = text.get(open + 1..).unwrap_or(&[]);
    rest.iter()
        .take(64)
        .position(|&c| c == b'>')
        .and_then(|close| rest.get(..close))
        .is_some_and(is_label)
}

/// Spans found by the other engines (e-mail, IPv6, secrets), merged and
/// sorted: the numeric engine treats them as it treats the labels that will
/// replace them, so its findings do not change when they are masked.
fn ends_at(bl: &[(usize, usize)], i: usize) -> bool {
    bl.binary_search_by(|&(_, e)| e.cmp(&i)).is_ok()
}

fn starts_at(bl: &[(usize, usize)], i: usize) -> bool {
    bl.binary_search_by(|&(s, _)| s.cmp(&i)).is_ok()
}

/// The end of the blocked span containing `i`, if any.
fn inside(bl: &[(usize, usize)], i: usize) -> Option<usize> {
    if bl.is_empty() {
        return None;
    }
    let k = bl.partition_point(|&(s, _)| s <= i);
    bl.get(k.checked_sub(1)?)
        .filter(|&&(_, e)| e > i)
        .map(|&(_, e)| e)
}

/// Whether a blocked span starts in `a..b`.
fn starts_within(bl: &[(usize, usize)], a: usize, b: usize) -> bool {
    if bl.is_empty() {
        return false;
    }
    let k = bl.partition_point(|&(s, _)| s < a);
    bl.get(k).is_some_and(|&(s, _)| s < b)
}

/// `PHONE`, `PL_PESEL`, `EMAIL:k3m9w2hq4x7dfa5e`: the inside of a label.
fn is_label(inner: &[u8]) -> bool {
    let (kind, token) = match inner.iter().position(|&c| c == b':') {
        Some(p) => (
            inner.get(..p).unwrap_or(&[]),
            inner.get(p + 1..).unwrap_or(&[]),
        ),
        None => (inner, &[][..]),
    };
    kind.len() >= 3
        && kind.len() <= 32
        && kind.iter().all(|&c| c.is_ascii_uppercase() || c == b'_')
        && token
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b':' | b'-' | b'_'))
}

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'/' | b'(' | b')')
}

fn at(text: &[u8], i: usize) -> u8 {
    text.get(i).copied().unwrap_or(b' ')
}

fn before(text: &[u8], i: usize) -> u8 {
    i.checked_sub(1).map_or(b' ', |j| at(text, j))
}

/// One bit (the high bit of its byte) for each ASCII digit among the eight
/// bytes of `w`.
fn digit_bits(w: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = w & LOW7;
    // Per byte, no carry into the next one (x ≤ 0x7F): the high bit of
    // x + 0x50 is set from 0x30 (`0`) up, that of x + 0x46 from 0x3A up.
    let from_zero = x.wrapping_add(0x5050_5050_5050_5050);
    let past_nine = x.wrapping_add(0x4646_4646_4646_4646);
    from_zero & !past_nine & !w & HIGH
}

/// The eight bytes of `text` from `i`, if there are eight.
#[inline(always)]
fn word_at(text: &[u8], i: usize) -> Option<u64> {
    let bytes: [u8; 8] = text.get(i..i.wrapping_add(8))?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// The position of the first ASCII digit at or after `from`, eight bytes at a
/// time.
#[cfg(test)]
fn next_digit(text: &[u8], from: usize) -> Option<usize> {
    next_digit_run(text, from).map(|(d, _)| d)
}

/// The first run of ASCII digits at or after `from`: its start and end, eight
/// bytes at a time. The load that finds the run's first digit settles its
/// end too when the run ends within those eight bytes (most do).
#[inline(always)]
fn next_digit_run(text: &[u8], from: usize) -> Option<(usize, usize)> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(w) = word_at(text, i) {
        let bits = digit_bits(w);
        if bits != 0 {
            let first = bits.trailing_zeros();
            // The bytes from the first digit on that are not digits.
            let other = !bits & HIGH & (u64::MAX << first);
            let d = i + (first / 8) as usize;
            if other != 0 {
                return Some((d, i + (other.trailing_zeros() / 8) as usize));
            }
            return Some((d, digit_run(text, i + 8)));
        }
        i += 8;
    }
    let d = text.get(i..)?.iter().position(u8::is_ascii_digit)? + i;
    Some((d, digit_run(text, d)))
}

/// The end of the run of ASCII digits starting at `from`, eight bytes at a
/// time (runs are short: one load settles most of them).
fn digit_run(text: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(w) = word_at(text, i) {
        let other = !digit_bits(w) & 0x8080_8080_8080_8080;
        if other != 0 {
            return i + (other.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + text.get(i..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    })
}

fn word_run(text: &[u8], from: usize) -> usize {
    text.get(from..)
        .map_or(0, |t| t.iter().take_while(|&&b| is_word(b)).count())
        + from
}

/// Scans `text` for every enabled numeric kind and appends the findings.
pub(crate) fn scan(
    text: &[u8],
    bl: &[(usize, usize)],
    cfg: &NumericConfig,
    out: &mut Vec<Finding>,
) {
    scan_tokens::<true>(text, bl, cfg, out);
}

/// [`scan`]; with `SHORT`, tokens that cannot hold anything are settled by
/// [`short_token`] (the tests hold both against each other).
fn scan_tokens<const SHORT: bool>(
    text: &[u8],
    bl: &[(usize, usize)],
    cfg: &NumericConfig,
    out: &mut Vec<Finding>,
) {
    let mut i = 0;
    while let Some((d, e)) = next_digit_run(text, i) {
        if SHORT
            && bl.is_empty()
            && let Some(next) = short_token(text, d, e)
        {
            i = next;
            continue;
        }
        if let Some(end) = inside(bl, d) {
            i = end;
            continue;
        }
        if glued_left(text, bl, d) {
            i = letters_then_digits(text, bl, d, cfg, out).unwrap_or_else(|| word_run(text, d));
            continue;
        }
        i = token(text, bl, d, cfg, out);
    }
}

/// Gathers the token starting at the digit `d` (not glued on its left, not
/// inside a blocked span), evaluates it and returns where [`scan_tokens`]
/// goes on. Out of line: most tokens are settled before, and the scan's
/// own frame then need not set up the groups.
#[inline(never)]
fn token(
    text: &[u8],
    bl: &[(usize, usize)],
    d: usize,
    cfg: &NumericConfig,
    out: &mut Vec<Finding>,
) -> usize {
    let mut groups = [Group::default(); MAX_GROUPS];
    // Gather the token's groups.
    let mut k = 0;
    let mut j = d;
    let mut sep = [0u8; 2];
    let mut next = d;
    let mut ndigits = 0;
    while let Some(slot) = groups.get_mut(k) {
        let e = digit_run(text, j);
        if glued_right(text, bl, e) {
            // Glued to letters: this group is not a whole word.
            next = word_run(text, e);
            break;
        }
        *slot = Group {
            start: j,
            end: e,
            sep,
        };
        k += 1;
        ndigits += e - j;
        next = e;
        let (s1, s2, s3) = (at(text, e), at(text, e + 1), at(text, e + 2));
        if is_sep(s1) && s2.is_ascii_digit() {
            sep = [s1, 0];
            j = e + 1;
        } else if is_sep(s1) && is_sep(s2) && s3.is_ascii_digit() {
            sep = [s1, s2];
            j = e + 2;
        } else {
            break;
        }
        if starts_within(bl, e, j + 1) {
            break;
        }
    }
    // Fewer than four groups and seven digits: nothing to classify and
    // no telephone number (see `evaluate`).
    let last_taken = if k < 4 && ndigits < 7 {
        None
    } else {
        groups
            .get(..k)
            .and_then(|token| evaluate(text, bl, token, cfg, out))
    };
    let mut i = next.max(d + 1);
    if k == MAX_GROUPS && j > next {
        // The token goes on past the buffer: start again after the last
        // group that went into a finding (or one group on), so the rest
        // is read as it will be once those findings are masked.
        let restart = last_taken.map_or(1, |t| t + 1);
        i = groups.get(restart).map_or(j, |g| g.start);
    }
    i
}

/// Where [`scan`] goes on after the token starting at the digit `d`, when
/// that token is certain to hold nothing and no span is blocked: a number
/// glued to letters on its right (`692s`), a single group of fewer than
/// eight digits (or of eight not after `+` or `(`: `task 63700032`) that no
/// separator joins to another (`retry 5`, `:31`, `9869457`) or that one
/// joins only to digits glued to letters (`15.237Z`), or a token of fewer
/// than four groups and seven digits ([`few_digits`]). `None` for every
/// other token, and for a digit glued on its left. `e`: the
/// end of the digit run starting at `d`.
#[inline(always)]
fn short_token(text: &[u8], d: usize, e: usize) -> Option<usize> {
    let b = before(text, d);
    if is_word(b) || b == b'>' {
        return None;
    }
    // A timestamp's year is a run of four digits and a `-`.
    if e - d == 4 && at(text, e) == b'-' && log_timestamp(text, d) && b != b'+' && b != b'(' {
        // `2026-11-23T01:31:` is a token of two groups glued to `T01`, and
        // `:31` one of one group; `2026-11-23 01:31:` is one of four groups
        // that is a date (see `date_like`), and `:31`: nothing in either.
        return Some(d + 16);
    }
    let c = at(text, e);
    if is_word(c) {
        return Some(word_run(text, e));
    }
    // No kind is a lone group of seven digits (see `evaluate`: identifiers
    // have nine or more, cards twelve, telephone numbers eight), nor of
    // eight without a `+` before it (telephone numbers of eight digits are
    // international, see `phone`; `(` may stand between).
    if c == b'<' || e - d > 8 || (e - d == 8 && (b == b'+' || b == b'(')) {
        return None;
    }
    if is_sep(c) {
        let c2 = at(text, e + 1);
        if c2.is_ascii_digit() {
            // `15.237Z`, `1.5s`: the second group is glued to letters, so it
            // is not one; the token is the first alone, which is short.
            let e2 = digit_run(text, e + 1);
            if is_word(at(text, e2)) {
                return Some(word_run(text, e2));
            }
            return few_digits(text, d);
        }
        if is_sep(c2) && at(text, e + 2).is_ascii_digit() {
            return few_digits(text, d);
        }
    }
    Some(e)
}

/// Where [`scan`] goes on after the token starting at `d` (no span blocked,
/// not glued on its left) when it has fewer than four groups and seven
/// digits, which [`token`] would gather to evaluate nothing (`5/5`, `0.12`,
/// `4.12.81`): the same groups, gathered without keeping them. `None` for a
/// longer token.
#[inline(always)]
fn few_digits(text: &[u8], d: usize) -> Option<usize> {
    let (mut k, mut j, mut ndigits) = (0, d, 0);
    let next = loop {
        let e = digit_run(text, j);
        if glued_right(text, &[], e) {
            break word_run(text, e);
        }
        k += 1;
        ndigits += e - j;
        if k >= 4 || ndigits >= 7 {
            return None;
        }
        let (s1, s2, s3) = (at(text, e), at(text, e + 1), at(text, e + 2));
        if is_sep(s1) && s2.is_ascii_digit() {
            j = e + 1;
        } else if is_sep(s1) && is_sep(s2) && s3.is_ascii_digit() {
            j = e + 2;
        } else {
            break e;
        }
    };
    Some(next.max(d + 1))
}

/// Whether a log timestamp's date, hour and minute start at `d`:
/// `2026-11-23T01:31:` or `2026-11-23 01:31:`. Two eight-byte loads: the
/// digits' bits of each against the pattern's, its other bytes compared
/// under a mask (the byte-by-byte form is the tests' reference).
#[inline(always)]
fn log_timestamp(text: &[u8], d: usize) -> bool {
    // `dddd-dd-`: digits at bytes 0–3, 5 and 6, `-` at 4 and 7.
    const DATE_DIGITS: u64 = 0x0080_8000_8080_8080;
    const DATE_SEPS: (u64, u64) = (0xFF00_00FF_0000_0000, 0x2D00_002D_0000_0000);
    // `ddTdd:dd` (or a space for the `T`): digits at 0, 1, 3, 4, 6 and 7.
    const TIME_DIGITS: u64 = 0x8080_0080_8000_8080;
    const TIME_COLON: (u64, u64) = (0x0000_FF00_0000_0000, 0x0000_3A00_0000_0000);
    let (Some(date), Some(time)) = (word_at(text, d), word_at(text, d + 8)) else {
        return false;
    };
    let t = (time >> 16) & 0xFF;
    digit_bits(date) & DATE_DIGITS == DATE_DIGITS
        && date & DATE_SEPS.0 == DATE_SEPS.1
        && digit_bits(time) & TIME_DIGITS == TIME_DIGITS
        && time & TIME_COLON.0 == TIME_COLON.1
        && (t == u64::from(b'T') || t == u64::from(b' '))
        && at(text, d + 16) == b':'
}

/// [`log_timestamp`] byte by byte.
#[cfg(test)]
fn log_timestamp_bytes(text: &[u8], d: usize) -> bool {
    match text.get(d..d + 17) {
        Some(
            [
                y0,
                y1,
                y2,
                y3,
                b'-',
                m0,
                m1,
                b'-',
                d0,
                d1,
                b'T' | b' ',
                h0,
                h1,
                b':',
                n0,
                n1,
                b':',
            ],
        ) => [y0, y1, y2, y3, m0, m1, d0, d1, h0, h1, n0, n1]
            .iter()
            .all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// Letters glued to digits: an IBAN (`PL61 1090 …`) or a `PL` NIP. Returns the
/// end of what was recognised.
fn letters_then_digits(
    text: &[u8],
    bl: &[(usize, usize)],
    d: usize,
    cfg: &NumericConfig,
    out: &mut Vec<Finding>,
) -> Option<usize> {
    let p = d.checked_sub(2)?;
    let (a, b) = (at(text, p), at(text, p + 1));
    if !a.is_ascii_uppercase()
        || !b.is_ascii_uppercase()
        || glued_left(text, bl, p)
        || inside(bl, p).is_some()
    {
        return None;
    }
    if cfg.on(Kind::Iban)
        && let Some(end) = iban_at(text, bl, p)
    {
        push(out, Kind::Iban, p, end, 0.9);
        return Some(end);
    }
    if cfg.on(Kind::PlNip) && (a, b) == (b'P', b'L') {
        let e = digit_run(text, d);
        let digits = text.get(d..e)?;
        if !glued_right(text, bl, e) && checks::pl_nip(digits) {
            push(out, Kind::PlNip, p, e, 0.85);
            return Some(e);
        }
    }
    None
}

/// An IBAN starting at `p` in electronic (`PL61109010140000071219812874`) or
/// paper format (`PL61 1090 1014 …`): exactly the registered number of
/// characters, single spaces allowed between them.
fn iban_at(text: &[u8], bl: &[(usize, usize)], p: usize) -> Option<usize> {
    let want = checks::iban_length(text.get(p..p + 2)?)?;
    let mut compact = [0u8; 34];
    let mut n = 0;
    let mut i = p;
    while n < want {
        let b = at(text, i);
        if b.is_ascii_digit() || b.is_ascii_uppercase() {
            *compact.get_mut(n)? = b;
            n += 1;
            i += 1;
        } else if b == b' ' && n >= 4 && (at(text, i + 1).is_ascii_alphanumeric()) {
            i += 1;
        } else {
            return None;
        }
    }
    if glued_right(text, bl, i) || starts_within(bl, p, i) {
        return None;
    }
    checks::iban(compact.get(..n)?).then_some(i)
}

fn push(out: &mut Vec<Finding>, kind: Kind, start: usize, end: usize, base: f32) {
    let confidence = base;
    out.push(Finding {
        kind,
        start,
        end,
        confidence,
    });
}

/// Tries every run of groups, longest first, left to right, for identifiers,
/// cards and IPv4 addresses; then telephone numbers in each stretch of groups
/// left over. Telephone numbers are found only as a whole stretch (an
/// international one from its `+`, a national one as the entire stretch), so
/// that masking a neighbour never turns a stretch into a new finding: the
/// scanner's findings are stable under masking, which makes masking
/// idempotent.
fn evaluate(
    text: &[u8],
    bl: &[(usize, usize)],
    g: &[Group],
    cfg: &NumericConfig,
    out: &mut Vec<Finding>,
) -> Option<usize> {
    let mut taken = [false; MAX_GROUPS];
    // digits_before[i]: the digits in the groups before group i.
    let mut digits_before = [0usize; MAX_GROUPS + 1];
    for (i, group) in g.iter().enumerate() {
        let so_far = digits_before.get(i).copied().unwrap_or(0);
        if let Some(slot) = digits_before.get_mut(i + 1) {
            *slot = so_far + group.len();
        }
    }
    let digits = |a: usize, b: usize| {
        digits_before.get(b + 1).copied().unwrap_or(0) - digits_before.get(a).copied().unwrap_or(0)
    };
    let mut a = 0;
    while a < g.len() {
        let mut next = a + 1;
        for b in (a..g.len()).rev() {
            // `classify` finds nothing in a run of other than four groups
            // (an IPv4 address) without 7–19 digits: skip it unasked.
            if b - a + 1 != 4 && !(7..=MAX_DIGITS).contains(&digits(a, b)) {
                continue;
            }
            if let Some(run) = g.get(a..=b)
                && classify(text, run, a == 0, cfg, out)
            {
                for t in taken.iter_mut().take(b + 1).skip(a) {
                    *t = true;
                }
                next = b + 1;
                break;
            }
        }
        a = next;
    }
    if cfg.on(Kind::Phone) {
        let mut s = 0;
        while s < g.len() {
            if taken.get(s).copied().unwrap_or(true) {
                s += 1;
                continue;
            }
            let mut e = s;
            while e + 1 < g.len() && !taken.get(e + 1).copied().unwrap_or(true) {
                e += 1;
            }
            // No run of fewer than eight digits is a telephone number
            // (international: 8–15, national: 9–13).
            if let Some(stretch) = g.get(s..=e)
                && digits(s, e) >= 8
                && let Some(last) = phones(text, bl, stretch, &cfg.regions, out)
            {
                for t in taken.iter_mut().take(s + last + 1).skip(s) {
                    *t = true;
                }
            }
            s = e + 1;
        }
    }
    taken.iter().take(g.len()).rposition(|&t| t)
}

/// Telephone numbers in a stretch of groups: an international number from
/// the stretch's `+` (longest valid run), then the rest as a national number.
fn phones(
    text: &[u8],
    bl: &[(usize, usize)],
    stretch: &[Group],
    regions: &[Region],
    out: &mut Vec<Finding>,
) -> Option<usize> {
    let mut rest = stretch;
    let mut last = None;
    if let Some(head) = stretch.first()
        && plus_before(text, head.start)
    {
        for b in (0..stretch.len()).rev() {
            if let Some(run) = stretch.get(..=b)
                && let Some((start, confidence)) = phone(text, bl, run, regions)
            {
                push(
                    out,
                    Kind::Phone,
                    start,
                    run.last().map_or(start, |g| g.end),
                    confidence,
                );
                rest = stretch.get(b + 1..).unwrap_or(&[]);
                last = Some(b);
                break;
            }
        }
        if rest.len() == stretch.len() {
            return None;
        }
    }
    if !rest.is_empty()
        && let Some((start, confidence)) = phone(text, bl, rest, regions)
    {
        push(
            out,
            Kind::Phone,
            start,
            rest.last().map_or(start, |g| g.end),
            confidence,
        );
        last = Some(stretch.len() - 1);
    }
    last
}

fn plus_before(text: &[u8], start: usize) -> bool {
    let lead = before(text, start);
    lead == b'+' || (lead == b'(' && start >= 1 && before(text, start - 1) == b'+')
}

fn seps_all(run: &[Group], s: u8) -> bool {
    run.iter().skip(1).all(|g| g.sep == [s, 0])
}

fn lens_are(run: &[Group], lens: &[usize]) -> bool {
    run.len() == lens.len() && run.iter().zip(lens).all(|(g, &l)| g.len() == l)
}

fn seps_are(run: &[Group], seps: &[u8]) -> bool {
    run.len() == seps.len() + 1 && run.iter().skip(1).zip(seps).all(|(g, &s)| g.sep == [s, 0])
}

/// Classifies one run of groups; returns whether anything was found.
fn classify(
    text: &[u8],
    run: &[Group],
    first: bool,
    cfg: &NumericConfig,
    out: &mut Vec<Finding>,
) -> bool {
    let (Some(head), Some(tail)) = (run.first(), run.last()) else {
        return false;
    };
    let (start, end) = (head.start, tail.end);
    let ndigits: usize = run.iter().map(Group::len).sum();

    // IPv4: four groups of 1–3 digits joined by dots, not part of a longer
    // dotted sequence (a version number).
    if run.len() == 4 && cfg.on(Kind::IpAddress) {
        let dotted = seps_all(run, b'.') && run.iter().all(|g| (1..=3).contains(&g.len()));
        let alone = (first || head.sep[0] != b'.')
            && !(at(text, end) == b'.' && at(text, end + 1).is_ascii_digit());
        if dotted && alone && run.iter().all(|g| octet(text, g)) {
            push(out, Kind::IpAddress, start, end, 0.8);
            return true;
        }
    }
    if !(7..=MAX_DIGITS).contains(&ndigits) {
        return false;
    }
    let mut buf = [0u8; MAX_DIGITS];
    let mut n = 0;
    for g in run {
        for &b in text.get(g.start..g.end).unwrap_or(&[]) {
            if let Some(slot) = buf.get_mut(n) {
                *slot = b;
                n += 1;
            }
        }
    }
    let Some(digits) = buf.get(..n) else {
        return false;
    };
    let bare = run.len() == 1;
    let mut found = false;
    let mut hit = |kind: Kind, base: f32, out: &mut Vec<Finding>| {
        push(out, kind, start, end, base);
        found = true;
    };

    // Identifiers, by length and printed format.
    match n {
        9 => {
            if cfg.on(Kind::PlRegon) && bare && checks::pl_regon(digits) {
                hit(Kind::PlRegon, 0.4, out);
            }
            if cfg.on(Kind::UsSsn) && checks::us_ssn(digits) {
                let formatted =
                    lens_are(run, &[3, 2, 4]) && (seps_all(run, b'-') || seps_all(run, b' '));
                if formatted {
                    hit(Kind::UsSsn, 0.6, out);
                } else if bare {
                    hit(Kind::UsSsn, needs_context(0.5), out);
                }
            }
        }
        10 => {
            let nip_format = bare
                || ((lens_are(run, &[3, 3, 2, 2]) || lens_are(run, &[3, 2, 2, 3]))
                    && (seps_all(run, b'-') || seps_all(run, b' ')));
            // A bare number in the range of Unix times (2001–2036) is taken
            // for a NIP or INN only with a context word: one timestamp in
            // five would pass one of the two checksums.
            let epoch =
                bare && (b"1000000000".as_slice()..b"2100000000".as_slice()).contains(&digits);
            let weak = |base: f32| if epoch { needs_context(base) } else { base };
            if cfg.on(Kind::PlNip) && nip_format && checks::pl_nip(digits) {
                hit(Kind::PlNip, if bare { weak(0.5) } else { 0.75 }, out);
            }
            if cfg.on(Kind::RuInn) && bare && checks::ru_inn(digits) {
                hit(Kind::RuInn, weak(0.5), out);
            }
        }
        11 => {
            if cfg.on(Kind::PlPesel) && bare && checks::pl_pesel(digits) {
                hit(Kind::PlPesel, 0.7, out);
            }
            let cpf_format = lens_are(run, &[3, 3, 3, 2]) && seps_are(run, b"..-");
            if cfg.on(Kind::BrCpf) && (bare || cpf_format) && checks::br_cpf(digits) {
                hit(Kind::BrCpf, if bare { 0.5 } else { 0.85 }, out);
            }
            let snils_format =
                lens_are(run, &[3, 3, 3, 2]) && (seps_are(run, b"-- ") || seps_are(run, b"---"));
            if cfg.on(Kind::RuSnils) && (bare || snils_format) && checks::ru_snils(digits) {
                hit(Kind::RuSnils, if bare { 0.4 } else { 0.85 }, out);
            }
        }
        12 if cfg.on(Kind::RuInn) && bare && checks::ru_inn(digits) => {
            hit(Kind::RuInn, 0.5, out);
        }
        14 => {
            if cfg.on(Kind::PlRegon) && bare && checks::pl_regon(digits) {
                hit(Kind::PlRegon, 0.5, out);
            }
            let cnpj_format = lens_are(run, &[2, 3, 3, 4, 2]) && seps_are(run, b"../-");
            if cfg.on(Kind::BrCnpj) && (bare || cnpj_format) && checks::br_cnpj(digits) {
                hit(Kind::BrCnpj, if bare { 0.6 } else { 0.9 }, out);
            }
        }
        16 if cfg.on(Kind::IdNik) && bare && checks::id_nik(digits) => {
            hit(Kind::IdNik, 0.5, out);
        }
        _ => {}
    }
    if cfg.on(Kind::PaymentCard) && n >= 12 && card_format(run) && checks::payment_card(digits) {
        hit(Kind::PaymentCard, 0.85, out);
    }
    found
}

/// Whether a group of one to three digits is an IPv4 octet as the standard
/// library parses one (`checks::ip_address`): at most 255, no leading zero.
fn octet(text: &[u8], g: &Group) -> bool {
    match text.get(g.start..g.end) {
        Some([_]) => true,
        Some([a, b]) => *a != b'0' && b.is_ascii_digit(),
        Some([a, b, c]) => {
            *a != b'0'
                && b.is_ascii_digit()
                && c.is_ascii_digit()
                && u16::from(*a - b'0') * 100 + u16::from(*b - b'0') * 10 + u16::from(*c - b'0')
                    <= 255
        }
        _ => false,
    }
}

/// Printed card formats: contiguous, groups of four (the last shorter), or
/// the 4-6-5 and 4-6-4 layouts of Amex and Diners; one separator throughout.
fn card_format(run: &[Group]) -> bool {
    if run.len() == 1 {
        return true;
    }
    if !(seps_all(run, b' ') || seps_all(run, b'-')) {
        return false;
    }
    let Some((last, init)) = run.split_last() else {
        return false;
    };
    (init.iter().all(|g| g.len() == 4) && (1..=4).contains(&last.len()))
        || lens_are(run, &[4, 6, 5])
        || lens_are(run, &[4, 6, 4])
}

/// A telephone number ending at the run's last group, if the run has the
/// shape of one and libphonenumber says it is valid. Returns its start (which
/// includes a leading `+` or `(`) and the confidence.
fn phone(
    text: &[u8],
    bl: &[(usize, usize)],
    run: &[Group],
    regions: &[Region],
) -> Option<(usize, f32)> {
    let ndigits: usize = run.iter().map(Group::len).sum();
    let head = run.first()?;
    let end = run.last()?.end;
    let mut start = head.start;
    let lead = before(text, start);
    let plus = plus_before(text, start);
    if lead == b'(' || lead == b'+' {
        start -= 1;
        if before(text, start) == b'+' {
            start -= 1;
        }
    }
    if glued_left(text, bl, start) {
        return None;
    }
    if plus {
        if !(8..=15).contains(&ndigits) {
            return None;
        }
        let span = std::str::from_utf8(text.get(start..end)?).ok()?;
        return phone_international(span).then_some((start, 0.8));
    }
    if !(9..=13).contains(&ndigits) || date_like(run) || regions.is_empty() {
        return None;
    }
    // The head's own separator is ignored: it lies before the number (after
    // a finding, once masked, the number starts a token of its own), and
    // `lead` has already looked at it.
    let parens = lead == b'('
        || run
            .iter()
            .skip(1)
            .any(|g| g.sep.contains(&b'(') || g.sep.contains(&b')'));
    let grouped = run.len() >= 3
        && run
            .iter()
            .skip(1)
            .all(|g| matches!(g.sep, [b' ' | b'-' | b'.', 0]))
        && run.iter().skip(1).all(|g| (2..=5).contains(&g.len()))
        && head.len() <= 5;
    // An ungrouped national number (`601234567`) is not taken for a telephone
    // number: order numbers and timestamps look the same.
    if !(parens || grouped) || run.iter().skip(1).any(|g| g.sep.contains(&b'/')) {
        return None;
    }
    let span = std::str::from_utf8(text.get(start..end)?).ok()?;
    regions
        .iter()
        .any(|&region| phone::is_valid(Some(region), span))
        .then_some((start, 0.6))
}

/// `2024-01-15`, `15.01.2024`, `01/15/2024`: dates are not telephone numbers.
fn date_like(run: &[Group]) -> bool {
    run.windows(3).any(|w| match w {
        [a, b, c] => {
            b.sep == c.sep
                && matches!(
                    (a.len(), b.len(), c.len()),
                    (4, 2, 2) | (2, 2, 4) | (1, 2, 4) | (2, 1, 4)
                )
        }
        _ => false,
    })
}

/// Whether `text` is a valid telephone number in international form (`+…`).
pub(crate) fn phone_international(text: &str) -> bool {
    text.starts_with('+')
        && text.len() <= 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b' ' | b'-' | b'.' | b'(' | b')'))
        && phone::is_valid(None, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_bits_match_the_byte_test() {
        for b in 0..=255u8 {
            for fill in [0u8, b' ', b'/', b'0', b'9', b':', 0x7F, 0x80, 0xB0, 0xFF] {
                for lane in 0..8 {
                    let mut bytes = [fill; 8];
                    if let Some(slot) = bytes.get_mut(lane) {
                        *slot = b;
                    }
                    let bits = digit_bits(u64::from_le_bytes(bytes));
                    for (k, &c) in bytes.iter().enumerate() {
                        let bit = 0x80u64 << (8 * k);
                        assert_eq!(bits & bit != 0, c.is_ascii_digit(), "{bytes:?}");
                    }
                }
            }
        }
    }

    /// The short-token path finds what the token-by-token path finds, on
    /// lines of numbers, separators, letters, labels and identifiers.
    #[test]
    fn short_tokens_change_nothing() {
        const PIECES: &[&[u8]] = &[
            b"0",
            b"7",
            b"12",
            b"123",
            b"2026",
            b"987654",
            b"9874305",
            b"63700032",
            b"29022158",
            b"44051401359",
            b"4111111111111111",
            b"601",
            b" ",
            b"  ",
            b"-",
            b".",
            b"/",
            b"(",
            b")",
            b":",
            b",",
            b"+",
            b"+48 ",
            b"T",
            b"Z",
            b"ms",
            b"s",
            b"1.5",
            b"15.237Z",
            b"PL",
            b"DE89",
            b"x",
            b"_",
            b"<EMAIL>",
            b"<PHONE:ab-1>",
            b"<",
            b">",
            b"\xc3\xa9",
            b"2026-11-23T01:31:15.237Z",
            b"2026-12-06 00:46:37,575",
            b"2026-12-06 00:46:",
            b"2026-12-06T00:46:",
            b"2026-12-06T0",
            b"1999-99-99 99:99:9",
            b"+1 212 907 5283",
            // Telephone numbers of eight digits, one group (Saint Helena).
            b"+29022158",
            b"+290 22158",
            b"914.431.775-12",
            b"DE50701524860468476016",
            b"PL61 1090 1014 0000 0712 1981 2874",
            b"192.168.0.1",
        ];
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let cfg = NumericConfig {
            enabled: Kind::BUILTIN.iter().fold(0, |a, k| a | k.bit()),
            regions: crate::scanner::DEFAULT_REGIONS
                .iter()
                .filter_map(|r| Region::parse(r))
                .collect(),
        };
        let mut found = 0;
        for _ in 0..20_000 {
            let n = (next() % 12) as usize;
            let text: Vec<u8> = (0..n)
                .flat_map(|_| {
                    PIECES[(next() % PIECES.len() as u64) as usize]
                        .iter()
                        .copied()
                })
                .collect();
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            scan_tokens::<true>(&text, &[], &cfg, &mut fast);
            scan_tokens::<false>(&text, &[], &cfg, &mut slow);
            assert_eq!(fast, slow, "{:?}", String::from_utf8_lossy(&text));
            found += fast.len();
        }
        assert!(found > 2_000, "{found}");
        // Timestamps after `+` or `(` can read as telephone numbers.
        let mut phones = 0;
        for lead in [&b"+"[..], b"(", b"+(", b" ", b""] {
            for _ in 0..4_000 {
                let mut text = lead.to_vec();
                for (k, c) in b"dddd-dd-dd dd:dd:dd".iter().enumerate() {
                    text.push(match (c, k) {
                        (b'd', _) => b'0' + (next() % 10) as u8,
                        (b' ', _) if next() % 2 == 0 => b'T',
                        (&c, _) => c,
                    });
                }
                let (mut fast, mut slow) = (Vec::new(), Vec::new());
                scan_tokens::<true>(&text, &[], &cfg, &mut fast);
                scan_tokens::<false>(&text, &[], &cfg, &mut slow);
                assert_eq!(fast, slow, "{:?}", String::from_utf8_lossy(&text));
                phones += fast.iter().filter(|f| f.kind == Kind::Phone).count();
            }
        }
        assert!(phones > 10, "{phones}");
        // A lone group of eight digits is a telephone number only after
        // `+` (or `+(`).
        let mut phones = 0;
        for lead in [&b"+"[..], b"+(", b"(", b" ", b"", b"x +", b"x +("] {
            for number in [&b"29022158"[..], b"63700032"] {
                for tail in [&b""[..], b" ", b")", b" x"] {
                    let text = [lead, number, tail].concat();
                    let (mut fast, mut slow) = (Vec::new(), Vec::new());
                    scan_tokens::<true>(&text, &[], &cfg, &mut fast);
                    scan_tokens::<false>(&text, &[], &cfg, &mut slow);
                    assert_eq!(fast, slow, "{:?}", String::from_utf8_lossy(&text));
                    phones += fast.iter().filter(|f| f.kind == Kind::Phone).count();
                }
            }
        }
        assert!(phones >= 16, "{phones}");
    }

    /// The eight-byte form of the timestamp test answers as the byte by
    /// byte one, on timestamps with each byte replaced by every value and
    /// cut short at every length.
    #[test]
    fn log_timestamps_match_the_byte_test() {
        let mut found = 0;
        for stamp in [&b"x2026-11-23T01:31:15"[..], b"x1999-09-09 23:59:"] {
            for pos in 0..stamp.len() {
                for b in 0..=255u8 {
                    let mut text = stamp.to_vec();
                    text[pos] = b;
                    for len in [text.len(), 18, 17, 16, 9] {
                        let cut = &text[..len];
                        for d in 0..3 {
                            let want = log_timestamp_bytes(cut, d);
                            assert_eq!(log_timestamp(cut, d), want, "{cut:?} at {d}");
                            found += usize::from(want);
                        }
                    }
                }
            }
        }
        assert!(found > 1000, "{found}");
    }

    #[test]
    fn octets_are_what_the_standard_library_parses() {
        let mut groups: Vec<String> = (0..10).map(|n| n.to_string()).collect();
        groups.extend((0..100).map(|n| format!("{n:02}")));
        groups.extend((0..1000).map(|n| format!("{n:03}")));
        for g in &groups {
            for text in [
                format!("{g}.1.2.3"),
                format!("1.{g}.2.3"),
                format!("1.2.3.{g}"),
            ] {
                let b = text.as_bytes();
                let mut run = Vec::new();
                let mut start = 0;
                for (i, &c) in b.iter().chain(b".").enumerate() {
                    if c == b'.' {
                        run.push(Group {
                            start,
                            end: i,
                            sep: [0, 0],
                        });
                        start = i + 1;
                    }
                }
                assert_eq!(
                    run.iter().all(|g| octet(b, g)),
                    checks::ip_address(b),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn word_bytes_are_letters_digits_and_underscore() {
        for b in 0..=255u8 {
            assert_eq!(is_word(b), b.is_ascii_alphanumeric() || b == b'_', "{b}");
        }
    }

    #[test]
    fn next_digit_finds_the_first_digit_and_its_run() {
        let text = b"abcdefghijklmnop 7 x\xc3\xa9y \xb0\xb1 12345678901234567890z 0 123 1234567 9";
        for from in 0..=text.len() + 2 {
            let first = text
                .get(from..)
                .and_then(|t| t.iter().position(u8::is_ascii_digit))
                .map(|p| from + p);
            assert_eq!(next_digit(text, from), first, "from {from}");
            let run = first.map(|d| {
                let len = text[d..].iter().take_while(|b| b.is_ascii_digit()).count();
                (d, d + len)
            });
            assert_eq!(next_digit_run(text, from), run, "from {from}");
        }
    }
}
