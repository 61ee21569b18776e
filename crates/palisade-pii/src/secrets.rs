//! The secret engine: gitleaks-style rules, a keyword prefilter (one
//! Aho-Corasick automaton over token prefixes and key words), then a precise
//! check at each hit: token alphabets and lengths, PEM block boundaries, JWT
//! structure, and for `key = value` assignments the value itself (any value
//! after a password-like key; a high-entropy value after other key words).

use std::cell::RefCell;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::kind::{Finding, Kind};

/// A value of at least this many bits of Shannon entropy per character, after
/// a key word such as `token` or `secret`, is taken for a credential.
pub const ENTROPY_THRESHOLD: f32 = 3.0;
/// Minimum length of a high-entropy value after a key word.
const ENTROPY_MIN_LEN: usize = 10;
/// Longest assigned value looked at, in bytes.
const MAX_VALUE: usize = 512;

#[derive(Clone, Copy)]
enum Rule {
    /// A token with a fixed prefix (matched case-sensitively), a body alphabet
    /// and a length range.
    Token {
        body: fn(u8) -> bool,
        min: usize,
        max: usize,
        confidence: f32,
    },
    /// `-----BEGIN … PRIVATE KEY-----` … `-----END …-----`.
    PrivateKey,
    /// `eyJ…` `.` `eyJ…` `.` signature.
    Jwt,
    /// `Bearer <token>`.
    Bearer,
    /// A password-like key: any assigned value is a secret.
    Password,
    /// Another key word: a long high-entropy assigned value is a secret.
    KeyWord,
}

fn upper_b32(b: u8) -> bool {
    b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)
}
fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}
fn alnum_us(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}
fn alnum_dash(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}
fn url_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}
fn webhook_path(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'/'
}

const fn token(body: fn(u8) -> bool, min: usize, max: usize, confidence: f32) -> Rule {
    Rule::Token {
        body,
        min,
        max,
        confidence,
    }
}

static RULES: &[(&str, Rule)] = &[
    // AWS access key ids (the secret key is caught by the key-word rule).
    ("AKIA", token(upper_b32, 16, 16, 0.9)),
    ("ASIA", token(upper_b32, 16, 16, 0.9)),
    ("ABIA", token(upper_b32, 16, 16, 0.9)),
    ("ACCA", token(upper_b32, 16, 16, 0.9)),
    // GitHub tokens.
    ("ghp_", token(alnum, 36, 255, 0.95)),
    ("gho_", token(alnum, 36, 255, 0.95)),
    ("ghu_", token(alnum, 36, 255, 0.95)),
    ("ghs_", token(alnum, 36, 255, 0.95)),
    ("ghr_", token(alnum, 36, 255, 0.95)),
    ("github_pat_", token(alnum_us, 22, 255, 0.95)),
    // GitLab tokens.
    ("glpat-", token(url_safe, 20, 255, 0.95)),
    ("glptt-", token(url_safe, 20, 255, 0.95)),
    ("gldt-", token(url_safe, 20, 255, 0.95)),
    ("glrt-", token(url_safe, 20, 255, 0.95)),
    // Slack tokens and webhooks.
    ("xoxb-", token(alnum_dash, 10, 255, 0.9)),
    ("xoxp-", token(alnum_dash, 10, 255, 0.9)),
    ("xoxa-", token(alnum_dash, 10, 255, 0.9)),
    ("xoxr-", token(alnum_dash, 10, 255, 0.9)),
    ("xoxs-", token(alnum_dash, 10, 255, 0.9)),
    ("xoxe-", token(alnum_dash, 10, 255, 0.9)),
    (
        "hooks.slack.com/services/",
        token(webhook_path, 20, 255, 0.9),
    ),
    // Stripe secret and restricted keys.
    ("sk_live_", token(alnum, 16, 255, 0.95)),
    ("rk_live_", token(alnum, 16, 255, 0.95)),
    ("sk_test_", token(alnum, 16, 255, 0.9)),
    ("rk_test_", token(alnum, 16, 255, 0.9)),
    // Google API keys.
    ("AIza", token(url_safe, 35, 35, 0.9)),
    ("-----BEGIN", Rule::PrivateKey),
    ("eyJ", Rule::Jwt),
    ("bearer ", Rule::Bearer),
    ("password", Rule::Password),
    ("passwd", Rule::Password),
    ("passphrase", Rule::Password),
    ("pwd", Rule::Password),
    ("secret", Rule::KeyWord),
    ("token", Rule::KeyWord),
    ("apikey", Rule::KeyWord),
    ("api_key", Rule::KeyWord),
    ("api-key", Rule::KeyWord),
    ("access_key", Rule::KeyWord),
    ("accesskey", Rule::KeyWord),
    ("private_key", Rule::KeyWord),
    ("credential", Rule::KeyWord),
    ("auth", Rule::KeyWord),
    ("session", Rule::KeyWord),
    ("signature", Rule::KeyWord),
];

/// The prefilter: `None` only if the automaton could not be built, which
/// the unit tests rule out for the fixed rule set. It holds the prefixes in
/// lower case and runs over a lower-cased copy of the text: the same matches
/// as an ASCII-case-insensitive search of the text, found faster.
static AUTOMATON: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(RULES.iter().map(|(p, _)| p.to_ascii_lowercase()))
        .ok()
});

/// A fragment of each rule prefix (lower case), chosen to start with bytes
/// rarer in logs than the prefix's own (`pikey` for `apikey`, not `api`):
/// a text in which none occurs holds no prefix, so it has no finding. The
/// unit tests check that every prefix contains one.
const FRAGMENTS: &[&str] = &[
    "akia",
    "asia",
    "abia",
    "acca",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "glptt-",
    "gldt-",
    "glrt-",
    "xox",
    "hooks.sl",
    "k_live_",
    "k_test_",
    "aiza",
    "-----begin",
    "eyj",
    "bearer ",
    "pass",
    "pwd",
    "secret",
    "token",
    "pikey",
    "pi_key",
    "pi-key",
    "ss_key",
    "sskey",
    "vate_key",
    "dential",
    "auth",
    "ssion",
    "gnature",
];

/// The search for [`FRAGMENTS`]; `None` (no prefilter) only if it could not
/// be built, which the unit tests rule out. Leftmost-first, not standard
/// semantics: aho-corasick uses its vectorised (Teddy) search only then.
static PREFILTER: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostFirst)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(FRAGMENTS)
        .ok()
});

/// [`PREFILTER`]'s vectorised search (Teddy) alone, where the CPU has one:
/// the same matches, without the automaton's step at each of them.
static PACKED: LazyLock<Option<aho_corasick::packed::Searcher>> = LazyLock::new(|| {
    aho_corasick::packed::Config::new()
        .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
        .builder()
        .extend(FRAGMENTS)
        .build()
});

/// Other rules' fragments that could start inside a fragment: offset and
/// fragment.
type Inside = Vec<(usize, &'static str)>;

/// What a fragment occurrence ([`FRAGMENTS`]) found by [`PREFILTER`] can
/// start, by fragment: `None` for a fragment of some prefix that is not a
/// key word (a token prefix, `-----BEGIN`, `eyJ`, `Bearer `); for one found
/// only in the key words of [`Rule::Password`] and [`Rule::KeyWord`], the
/// other fragments that could start inside it (offset and fragment), which
/// a search that reports matches without overlap would not report.
static KEY_WORD_ONLY: LazyLock<Vec<Option<Inside>>> = LazyLock::new(|| {
    let lower: Vec<(String, Rule)> = RULES
        .iter()
        .map(|(prefix, rule)| (prefix.to_ascii_lowercase(), *rule))
        .collect();
    let key_word: Vec<bool> = FRAGMENTS
        .iter()
        .map(|f| {
            lower
                .iter()
                .filter(|(prefix, _)| prefix.contains(f))
                .all(|(_, rule)| matches!(rule, Rule::Password | Rule::KeyWord))
        })
        .collect();
    let others: Vec<&'static str> = FRAGMENTS
        .iter()
        .zip(&key_word)
        .filter(|(_, k)| !**k)
        .map(|(f, _)| *f)
        .collect();
    FRAGMENTS
        .iter()
        .zip(&key_word)
        .map(|(&z, &k)| {
            k.then(|| {
                let mut inside = Vec::new();
                for o in 1..z.len() {
                    let tail = z.get(o..).unwrap_or("");
                    for &x in &others {
                        if x.starts_with(tail) || tail.starts_with(x) {
                            inside.push((o, x));
                        }
                    }
                }
                inside
            })
        })
        .collect()
});

/// The largest lower-cased copy a thread keeps between scans, in bytes.
const KEEP_LOWER: usize = 64 * 1024;

thread_local! {
    /// The lower-cased copy of the text being scanned, reused.
    static LOWER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn at(text: &[u8], i: usize) -> u8 {
    text.get(i).copied().unwrap_or(b' ')
}

fn before(text: &[u8], i: usize) -> u8 {
    i.checked_sub(1).map_or(b' ', |j| at(text, j))
}

fn run(text: &[u8], from: usize, max: usize, class: impl Fn(u8) -> bool) -> usize {
    text.get(from..).map_or(0, |t| {
        t.iter().take(max + 1).take_while(|&&b| class(b)).count()
    })
}

/// Shannon entropy of `s` in bits per byte.
pub fn shannon_entropy(s: &[u8]) -> f32 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c += 1;
        }
    }
    #[expect(
        clippy::cast_precision_loss,
        reason = "lengths are at most a few hundred"
    )]
    let n = s.len() as f32;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            #[expect(
                clippy::cast_precision_loss,
                reason = "counts are at most a few hundred"
            )]
            let p = c as f32 / n;
            -p * p.log2()
        })
        .sum()
}

/// The longest rule prefix, in bytes: a prefix that holds a fragment
/// starting at `p` starts at `p - MAX_PREFIX_LEN` or later.
const MAX_PREFIX_LEN: usize = 25;

/// What is known of a text's fragments of rule prefixes before it is
/// scanned for secrets.
#[derive(Clone, Copy)]
pub(crate) enum Prefixes<'a> {
    /// Nothing: the text is searched.
    Unknown,
    /// It holds none, so it holds no secret.
    None,
    /// The text in lower case, and where the first fragment starts in it;
    /// `key_words_only`: every fragment in it is one of a key word's (see
    /// [`fragment_starts`]).
    At {
        lower: &'a [u8],
        first: usize,
        key_words_only: bool,
    },
}

/// [`scan`] of a text whose lower-case copy and first fragment are known
/// ([`Prefixes::At`]): no copy, no prefilter, and the keyword search starts
/// where the first prefix can start.
///
/// When the text's fragments are all key words' (`key_words_only`), only
/// an assignment can be found, and an assignment needs an `=` or a `:`
/// after its key word, which ends after the first fragment starts: without
/// one there, there is nothing to search for (`session 4f2a renewed`).
pub(crate) fn scan_at(
    text: &[u8],
    lower: &[u8],
    first: usize,
    key_words_only: bool,
    out: &mut Vec<Finding>,
) {
    if key_words_only && memchr::memchr2(b'=', b':', lower.get(first..).unwrap_or(&[])).is_none() {
        return;
    }
    if lower.len() == text.len() {
        keywords(text, lower, first.saturating_sub(MAX_PREFIX_LEN), out);
    } else {
        scan(text, out);
    }
}

/// Scans `text` for secrets and appends the findings. Returns `false` when
/// `text` holds no fragment of any rule prefix ([`FRAGMENTS`]), so nothing
/// here could be a secret; `true` otherwise.
pub(crate) fn scan(text: &[u8], out: &mut Vec<Finding>) -> bool {
    let mut spare = Vec::new();
    let done = LOWER.try_with(|buf| match buf.try_borrow_mut() {
        Ok(mut lower) => {
            let prefixed = scan_with(text, &mut lower, out);
            // A thread keeps a buffer of a typical line, not of the longest.
            if lower.capacity() > KEEP_LOWER {
                *lower = Vec::new();
            }
            prefixed
        }
        Err(_) => scan_with(text, &mut spare, out),
    });
    match done {
        Ok(prefixed) => prefixed,
        Err(_) => scan_with(text, &mut spare, out),
    }
}

/// Where fragments of rule prefixes ([`FRAGMENTS`]) start in `lower`, a
/// lower-cased text of many lines, into `starts` (sorted). A fragment never
/// holds a `\n`, so a line without a start here holds no rule prefix and no
/// secret: what [`scan`] returns `false` for. `false` if the prefilter could
/// not be built (nothing is known then).
///
/// Each start comes with whether the fragment there can only be part of a
/// key word ([`Rule::Password`], [`Rule::KeyWord`]): a fragment of another
/// rule's prefix is either reported here or starts inside a fragment that
/// is (matches are reported without overlap, leftmost first), and the
/// fragments that could start inside a key word's are looked for where it
/// was found.
pub(crate) fn fragment_starts(lower: &[u8], starts: &mut Vec<(usize, bool)>) -> bool {
    starts.clear();
    let Some(pre) = PREFILTER.as_ref() else {
        return false;
    };
    // Non-overlapping matches suffice: a fragment overlapping the one before
    // it lies on the same line.
    let start = |m: aho_corasick::Match| {
        let key_word_only = match KEY_WORD_ONLY.get(m.pattern().as_usize()) {
            Some(Some(inside)) => inside.iter().all(|&(o, x)| {
                !lower
                    .get(m.start() + o..)
                    .is_some_and(|rest| rest.starts_with(x.as_bytes()))
            }),
            _ => false,
        };
        (m.start(), key_word_only)
    };
    match PACKED.as_ref() {
        Some(packed) => starts.extend(packed.find_iter(lower).map(start)),
        None => starts.extend(pre.find_iter(lower).map(start)),
    }
    true
}

/// Whether `text` holds a fragment of a rule prefix ([`FRAGMENTS`]), in any
/// case; `true` if the prefilter could not be built.
pub(crate) fn holds_fragment(text: &[u8]) -> bool {
    let Some(pre) = PREFILTER.as_ref() else {
        return true;
    };
    // Labels are short: lower-cased on the stack.
    let mut buf = [0u8; 64];
    match buf.get_mut(..text.len()) {
        Some(lower) => {
            lower.copy_from_slice(text);
            lower.make_ascii_lowercase();
            pre.is_match(&*lower)
        }
        None => pre.is_match(text.to_ascii_lowercase().as_slice()),
    }
}

fn scan_with(text: &[u8], lower: &mut Vec<u8>, out: &mut Vec<Finding>) -> bool {
    if AUTOMATON.is_none() {
        return true;
    }
    lower.clear();
    lower.extend_from_slice(text);
    lower.make_ascii_lowercase();
    // Most lines hold no rule prefix at all: a search for fragments with
    // rarer leading bytes rules them out faster than the full automaton.
    if PREFILTER
        .as_ref()
        .is_some_and(|pre| !pre.is_match(lower.as_slice()))
    {
        return false;
    }
    keywords(text, lower, 0, out);
    true
}

/// The keyword search over `lower` (`text` in lower case) from `from`, and
/// the check of each rule at its hits. No match starts before `from`.
fn keywords(text: &[u8], lower: &[u8], from: usize, out: &mut Vec<Finding>) {
    let Some(ac) = AUTOMATON.as_ref() else {
        return;
    };
    let from = from.min(lower.len());
    let mut covered = 0;
    for m in ac.find_iter(aho_corasick::Input::new(lower).range(from..)) {
        if m.start() < covered {
            continue;
        }
        let Some((pattern, rule)) = RULES.get(m.pattern().as_usize()) else {
            continue;
        };
        let found = match *rule {
            Rule::Token {
                body,
                min,
                max,
                confidence,
            } => {
                let exact = text.get(m.start()..m.end()) == Some(pattern.as_bytes());
                let n = run(text, m.end(), max, body);
                let boundary = !alnum_us(before(text, m.start())) || pattern.contains('.');
                (exact && boundary && (min..=max).contains(&n) && !alnum(at(text, m.end() + n)))
                    .then(|| (m.start(), m.end() + n, confidence))
            }
            Rule::PrivateKey => private_key(text, m.start()),
            // A JWT header is base64url of `{"`: exactly `eyJ`, in this case.
            Rule::Jwt if text.get(m.start()..m.end()) == Some(pattern.as_bytes()) => {
                jwt(text, m.start())
            }
            Rule::Jwt => None,
            Rule::Bearer => {
                let n = run(text, m.end(), MAX_VALUE, |b| {
                    b.is_ascii_alphanumeric()
                        || matches!(b, b'.' | b'_' | b'~' | b'+' | b'/' | b'-' | b'=')
                });
                (n >= 8 && !alnum(before(text, m.start()))).then(|| (m.end(), m.end() + n, 0.85))
            }
            // `<SECRET:…>` is a token this crate wrote, not an assignment.
            Rule::Password | Rule::KeyWord if before(text, m.start()) == b'<' => None,
            Rule::Password | Rule::KeyWord => assignment(text, m.end()).and_then(|(s, e)| {
                let value = text.get(s..e)?;
                if already_masked(value) {
                    return None;
                }
                if matches!(rule, Rule::Password) {
                    Some((s, e, 0.9))
                } else {
                    (value.len() >= ENTROPY_MIN_LEN && shannon_entropy(value) >= ENTROPY_THRESHOLD)
                        .then_some((s, e, 0.75))
                }
            }),
        };
        if let Some((start, end, confidence)) = found {
            out.push(Finding {
                kind: Kind::Secret,
                start,
                end,
                confidence,
            });
            covered = end;
        }
    }
}

/// Values that are already masked, empty placeholders, or literals that are
/// not credentials: `<SECRET>`, `[FILTERED]`, `****`, `null`, `true`.
fn already_masked(value: &[u8]) -> bool {
    let first = value.first().copied().unwrap_or(b'<');
    first == b'<'
        || first == b'['
        || first == b'$'
        || (value.len() >= 3 && value.iter().all(|&b| b == first))
        || [
            &b"null"[..],
            b"none",
            b"nil",
            b"undefined",
            b"true",
            b"false",
            b"bearer",
            b"basic",
        ]
        .iter()
        .any(|w| value.eq_ignore_ascii_case(w))
}

/// After a key word ending at `i`: the rest of the key (`_hash`, `Confirm`), a
/// closing quote, `=`, `:`, `=>` or `:=`, then the value, quoted or bare.
/// Returns the value's span.
fn assignment(text: &[u8], mut i: usize) -> Option<(usize, usize)> {
    i += run(text, i, 40, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
    });
    i += run(text, i, 3, |b| matches!(b, b'"' | b'\'' | b'\\'));
    i += run(text, i, 8, |b| b == b' ' || b == b'\t');
    match (at(text, i), at(text, i + 1)) {
        (b'=', b'>') | (b':', b'=') => i += 2,
        (b'=', b'=') => return None,
        (b'=' | b':', _) => i += 1,
        _ => return None,
    }
    i += run(text, i, 8, |b| b == b' ' || b == b'\t');
    if at(text, i) == b'\\' {
        i += 1;
    }
    let q = at(text, i);
    let (start, end) = if matches!(q, b'"' | b'\'' | b'`') {
        let start = i + 1;
        let n = run(text, start, MAX_VALUE, |b| {
            b != q && b != b'\n' && b != b'\\'
        });
        (start, start + n)
    } else {
        let n = run(text, i, MAX_VALUE, |b| {
            !b.is_ascii_whitespace()
                && !matches!(
                    b,
                    b',' | b';' | b'&' | b'}' | b')' | b']' | b'"' | b'\'' | b'<' | b'>'
                )
        });
        (i, i + n)
    };
    // `Authorization: Bearer <token>`: the credential is the second word.
    let value = text.get(start..end)?;
    if (value.eq_ignore_ascii_case(b"bearer")
        || value.eq_ignore_ascii_case(b"basic")
        || value.eq_ignore_ascii_case(b"token"))
        && at(text, end) == b' '
    {
        let s = end + 1;
        let n = run(text, s, MAX_VALUE, |b| {
            !b.is_ascii_whitespace() && !matches!(b, b'"' | b'\'' | b',')
        });
        return (n > 0).then_some((s, s + n));
    }
    let end = char_floor(text, start, end);
    (end > start).then_some((start, end))
}

/// Moves `end` back so the span does not end inside a UTF-8 sequence.
fn char_floor(text: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && end < text.len() && (at(text, end) & 0xC0) == 0x80 {
        end -= 1;
    }
    end
}

fn private_key(text: &[u8], start: usize) -> Option<(usize, usize, f32)> {
    let header = text.get(start..)?;
    let line_end = header
        .iter()
        .take(80)
        .position(|&b| b == b'\n')
        .unwrap_or(header.len().min(80));
    let line = header.get(..line_end)?;
    if !line.starts_with(b"-----BEGIN ") || memchr::memmem::find(line, b"PRIVATE KEY").is_none() {
        return None;
    }
    let body = start + 11;
    let end = match memchr::memmem::find(text.get(body..)?, b"-----END") {
        Some(e) => {
            let after = body + e + 8;
            let close =
                memchr::memmem::find(text.get(after..)?, b"-----").map_or(after, |c| after + c + 5);
            close.min(after + 80).min(text.len())
        }
        // No end marker in this text: everything after the header is key
        // (but a final line ending, which a line-by-line stream keeps).
        None => {
            text.len() - usize::from(text.ends_with(b"\n")) - usize::from(text.ends_with(b"\r\n"))
        }
    };
    Some((start, end, 0.99))
}

fn jwt(text: &[u8], start: usize) -> Option<(usize, usize, f32)> {
    if alnum_us(before(text, start)) {
        return None;
    }
    let h = run(text, start, 4096, url_safe);
    if h < 10 || at(text, start + h) != b'.' {
        return None;
    }
    let p = start + h + 1;
    let b = run(text, p, 16384, url_safe);
    if b < 4 || at(text, p + b) != b'.' {
        return None;
    }
    let s = p + b + 1;
    let sig = run(text, s, 4096, url_safe);
    Some((start, s + sig, 0.9))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorised search alone finds what the automaton finds, match
    /// for match, in texts dense with fragments, their pieces and overlaps.
    #[test]
    fn packed_search_finds_what_the_automaton_finds() {
        let (Some(packed), Some(pre)) = (PACKED.as_ref(), PREFILTER.as_ref()) else {
            // No vectorised search on this CPU: the automaton alone runs.
            return;
        };
        let mut pieces: Vec<&[u8]> = FRAGMENTS.iter().map(|f| f.as_bytes()).collect();
        pieces.extend([
            &b"pas"[..],
            b"ss",
            b"ion",
            b"au",
            b"th",
            b"a",
            b"-",
            b"_",
            b" ",
            b"\n",
            b"x",
            b"0",
        ]);
        let mut state = 0x0123_4567_89AB_CDEFu64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..3_000 {
            let text: Vec<u8> = (0..next(40))
                .flat_map(|_| pieces[next(pieces.len())].iter().copied())
                .collect();
            let want: Vec<(usize, usize)> = pre
                .find_iter(&text)
                .map(|m| (m.start(), m.pattern().as_usize()))
                .collect();
            let got: Vec<(usize, usize)> = packed
                .find_iter(&text)
                .map(|m| (m.start(), m.pattern().as_usize()))
                .collect();
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn max_prefix_len_is_the_longest_prefix() {
        assert_eq!(
            RULES.iter().map(|(p, _)| p.len()).max(),
            Some(MAX_PREFIX_LEN)
        );
    }

    #[test]
    fn automaton_builds() {
        assert!(AUTOMATON.is_some());
        assert!(PREFILTER.is_some());
    }

    #[test]
    fn every_prefix_contains_a_fragment() {
        for (prefix, _) in RULES {
            let lower = prefix.to_ascii_lowercase();
            assert!(
                FRAGMENTS.iter().any(|f| lower.contains(f)),
                "{prefix} contains no prefilter fragment"
            );
        }
        // The masker relies on this: a fragment never runs across the edge
        // of a label (`<EMAIL>`).
        assert!(FRAGMENTS.iter().all(|f| !f.contains(['<', '>'])));
        assert!(holds_fragment(b"<SECRET>"));
        assert!(!holds_fragment(b"<IP_ADDRESS>"));
    }

    /// The fragments found only in key words, and the other rules'
    /// fragments that could start inside them: a change to the rules or the
    /// fragments shows here.
    #[test]
    fn key_word_fragments_are_known() {
        let mut key_words = Vec::new();
        for (z, inside) in FRAGMENTS.iter().zip(KEY_WORD_ONLY.iter()) {
            if let Some(inside) = inside {
                let inside: Vec<String> = inside.iter().map(|(o, x)| format!("{o}:{x}")).collect();
                key_words.push(format!("{z}[{}]", inside.join(",")));
            }
        }
        assert_eq!(
            key_words.join(" "),
            "pass[] pwd[] secret[] token[] pikey[3:eyj] pi_key[4:eyj] pi-key[4:eyj] \
             ss_key[4:eyj] sskey[3:eyj] vate_key[6:eyj] dential[] auth[3:hooks.sl] ssion[] \
             gnature[6:eyj]"
        );
    }

    #[test]
    fn jwt_prefix_is_case_sensitive() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let mut found = Vec::new();
        scan(jwt.as_bytes(), &mut found);
        assert_eq!(found.len(), 1, "{found:?}");
        for other in [jwt.replacen("eyJ", "eyj", 2), jwt.replacen("eyJ", "EYJ", 2)] {
            let mut found = Vec::new();
            scan(other.as_bytes(), &mut found);
            assert!(found.is_empty(), "{other}: {found:?}");
        }
    }

    #[test]
    fn entropy() {
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-6);
    }
}
