//! Context words: a word naming the kind among the few words before a value
//! raises the confidence of a finding (Presidio's context enhancement), and
//! is required for the weakest shapes (a bare nine-digit SSN, an ungrouped
//! national telephone number).
//!
//! Words are counted on the value's line, and every other finding counts as
//! one word however long it is: after masking, a label (`<PHONE>`) is one
//! word too, so masking never changes a finding's context. That keeps
//! masking idempotent.

use crate::kind::{Finding, Kind};

/// How many words before a value are looked at (Presidio's default prefix).
const WORDS: usize = 5;
/// How much a context word adds to the confidence.
const BOOST: f32 = 0.3;
/// Longest stretch searched for a context word at once, in bytes.
const MAX_WORD: usize = 48;
/// Longest word walked over, in bytes: bounds the work per finding.
const MAX_TOKEN: usize = 1024;

fn words(kind: Kind) -> &'static [&'static [u8]] {
    match kind {
        Kind::Phone => &[
            b"tel",
            b"phone",
            b"mobile",
            b"cell",
            b"fax",
            b"call",
            b"sms",
            b"whatsapp",
            b"kom",
            b"telefon",
            b"celular",
            b"hp",
            b"\xd1\x82\xd0\xb5\xd0\xbb", // тел
        ],
        Kind::PaymentCard => &[
            b"card",
            b"visa",
            b"mastercard",
            b"amex",
            b"karta",
            b"cart",
            b"pan",
            b"\xd0\xba\xd0\xb0\xd1\x80\xd1\x82",
        ],
        Kind::Iban => &[b"iban", b"account", b"konto", b"rachun"],
        Kind::PlPesel => &[b"pesel"],
        Kind::PlNip => &[b"nip", b"vat", b"tax"],
        Kind::PlRegon => &[b"regon"],
        Kind::BrCpf => &[b"cpf"],
        Kind::BrCnpj => &[b"cnpj"],
        Kind::RuInn => &[
            b"inn",
            b"\xd0\x98\xd0\x9d\xd0\x9d",
            b"\xd0\xb8\xd0\xbd\xd0\xbd",
        ],
        Kind::RuSnils => &[
            b"snils",
            b"\xd0\xa1\xd0\x9d\xd0\x98\xd0\x9b\xd0\xa1",
            b"\xd1\x81\xd0\xbd\xd0\xb8\xd0\xbb\xd1\x81",
        ],
        Kind::IdNik => &[b"nik", b"ktp", b"kependudukan"],
        Kind::UsSsn => &[b"ssn", b"social security", b"social sec"],
        _ => &[],
    }
}

/// Marks a finding whose shape is too weak to stand without a context word:
/// it is kept only if one is found. Stored as a negative confidence until
/// [`apply`] settles it.
pub(crate) fn needs_context(base: f32) -> f32 {
    -base
}

/// Raises the confidence of each finding with a context word before it, and
/// drops findings marked by [`needs_context`] that have none. `findings`
/// must be sorted by start.
///
/// Without `every`, only the findings whose confidence can change what a
/// masker writes are looked at (the others keep their base confidence):
/// those marked by [`needs_context`], and those that overlap or touch
/// another finding, whose kind the most confident one decides. A finding
/// with ASCII bytes on both sides is never widened to a character boundary
/// into a neighbour (see `Masker::mask_once`).
pub(crate) fn apply(text: &[u8], findings: &mut Vec<Finding>, every: bool) {
    // A line holds a few findings: their spans live on the stack then.
    const ON_STACK: usize = 16;
    let n = findings.len();
    let (mut spans_here, mut max_end_here) = ([(0, 0); ON_STACK], [0; ON_STACK + 1]);
    let (mut spans_heap, mut max_end_heap) = (Vec::new(), Vec::new());
    let (spans, max_end): (&mut [(usize, usize)], &mut [usize]) =
        match (spans_here.get_mut(..n), max_end_here.get_mut(..=n)) {
            (Some(spans), Some(max_end)) => (spans, max_end),
            _ => {
                spans_heap.resize(n, (0, 0));
                max_end_heap.resize(n + 1, 0);
                (spans_heap.as_mut_slice(), max_end_heap.as_mut_slice())
            }
        };
    // max_end[k]: the largest end among the first k findings.
    let mut largest = 0;
    for ((span, end), f) in spans
        .iter_mut()
        .zip(max_end.iter_mut().skip(1))
        .zip(findings.iter())
    {
        *span = (f.start, f.end);
        largest = largest.max(f.end);
        *end = largest;
    }
    let (spans, max_end) = (&*spans, &*max_end);
    let ascii = |i: usize| text.get(i).is_none_or(u8::is_ascii);
    for (k, f) in findings.iter_mut().enumerate() {
        let alone = || {
            max_end.get(k).is_some_and(|&e| e < f.start)
                && spans.get(k + 1).is_none_or(|&(s, _)| s > f.end)
                && f.start.checked_sub(1).is_some_and(ascii)
                && ascii(f.end)
        };
        if !every && f.confidence >= 0.0 && alone() {
            continue;
        }
        let list = words(f.kind);
        let hit = !list.is_empty() && has_context(text, f.start, spans, max_end, list);
        let base = f.confidence.abs();
        f.confidence = match (hit, f.confidence < 0.0) {
            (true, _) => (base + BOOST).min(1.0),
            (false, false) => base,
            (false, true) => -1.0,
        };
    }
    findings.retain(|f| f.confidence >= 0.0);
}

/// Whether a context word is among the [`WORDS`] words before `start`.
///
/// A word is a run of non-space bytes on the value's line. Findings inside it
/// (which may hold spaces, as a grouped telephone number does) are stepped
/// over whole and not searched, and they do not split it: `a@b.cd,` is one
/// word, as `<EMAIL>,` is once masked.
fn has_context(
    text: &[u8],
    start: usize,
    spans: &[(usize, usize)],
    max_end: &[usize],
    list: &[&[u8]],
) -> bool {
    let mut cursor = skip_space(text, start);
    for _ in 0..WORDS {
        let token_end = cursor;
        loop {
            if cursor == 0 || before(text, cursor) == b'\n' || token_end - cursor >= MAX_TOKEN {
                break;
            }
            // A finding covering the byte before the cursor: step over it.
            let j = spans.partition_point(|&(s, _)| s < cursor);
            if max_end.get(j).is_some_and(|&e| e >= cursor) {
                let covering = spans
                    .get(..j)
                    .unwrap_or_default()
                    .iter()
                    .rev()
                    .find(|&&(_, e)| e >= cursor);
                match covering {
                    Some(&(s, _)) if s < cursor => cursor = s,
                    _ => break,
                }
                continue;
            }
            if before(text, cursor).is_ascii_whitespace() {
                break;
            }
            // A fragment: back to whitespace, a finding or MAX_WORD bytes.
            let floor = max_end.get(j).copied().unwrap_or(0);
            let mut w = cursor;
            while w > floor && cursor - w < MAX_WORD && !before(text, w).is_ascii_whitespace() {
                w -= 1;
            }
            if text
                .get(w..cursor)
                .is_some_and(|word| matches_word(word, list))
            {
                return true;
            }
            if w == cursor {
                break;
            }
            cursor = w;
        }
        if cursor == token_end {
            // Nothing before the value on this line.
            return false;
        }
        cursor = skip_space(text, cursor);
    }
    false
}

fn before(text: &[u8], i: usize) -> u8 {
    i.checked_sub(1)
        .and_then(|j| text.get(j))
        .copied()
        .unwrap_or(b'\n')
}

/// Moves back over whitespace, not over a line end.
fn skip_space(text: &[u8], mut i: usize) -> usize {
    while i > 0 && before(text, i) != b'\n' && before(text, i).is_ascii_whitespace() {
        i -= 1;
    }
    i
}

/// Whether `word` contains one of `list` at the start of a word (`tel.`,
/// `(PESEL)`, `ИНН:` but not `hotel`), ignoring ASCII case.
fn matches_word(word: &[u8], list: &[&[u8]]) -> bool {
    let mut lower = [0u8; MAX_WORD];
    let Some(lw) = lower.get_mut(..word.len().min(MAX_WORD)) else {
        return false;
    };
    for (l, b) in lw.iter_mut().zip(word) {
        *l = b.to_ascii_lowercase();
    }
    // Only where a word starts can a context word match: the list is held
    // against those few places, not against every window.
    let lw = &*lw;
    (0..lw.len())
        .filter(|&i| {
            i == 0
                || !lw
                    .get(i - 1)
                    .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'<')
        })
        .any(|i| {
            let rest = lw.get(i..).unwrap_or(&[]);
            list.iter().any(|w| rest.starts_with(w))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: Kind, start: usize, end: usize, confidence: f32) -> Finding {
        Finding {
            kind,
            start,
            end,
            confidence,
        }
    }

    /// The first version: every window of the word held against every
    /// context word.
    fn matches_word_reference(word: &[u8], list: &[&[u8]]) -> bool {
        let lw: Vec<u8> = word
            .iter()
            .take(MAX_WORD)
            .map(u8::to_ascii_lowercase)
            .collect();
        list.iter().any(|w| {
            lw.windows(w.len()).enumerate().any(|(i, win)| {
                win == *w
                    && (i == 0
                        || !lw
                            .get(i - 1)
                            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'<'))
            })
        })
    }

    #[test]
    fn word_starts_are_where_context_words_match() {
        let alphabet = b"telTELphonPHON_<>:.-(0123 snilSAciaprd\xd1\x82\xd0\xb5\xd0\xbb";
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        let mut matched = 0;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 60) as usize;
            let word: Vec<u8> = (0..len)
                .map(|k| alphabet[((x >> (k % 50)) as usize + k * 7) % alphabet.len()])
                .collect();
            for kind in Kind::BUILTIN {
                let list = words(kind);
                matched += usize::from(matches_word(&word, list));
                assert_eq!(
                    matches_word(&word, list),
                    matches_word_reference(&word, list),
                    "{:?} {kind}",
                    String::from_utf8_lossy(&word)
                );
            }
        }
        assert!(matched > 500, "{matched}");
        assert!(matches_word(b"(tel.", words(Kind::Phone)));
        assert!(!matches_word(b"hotel", words(Kind::Phone)));
    }

    #[test]
    fn context_words_count_findings_as_one_word() {
        // `PESEL` is the fifth word before the number; two words are findings.
        let text = b"PESEL a@b.cd is +48 601 234 567 x 44051401359";
        let mut v = vec![
            f(Kind::Email, 6, 12, 0.9),
            f(Kind::Phone, 16, 31, 0.8),
            f(Kind::PlPesel, 34, 45, 0.7),
        ];
        apply(text, &mut v, true);
        assert!((v[2].confidence - 1.0).abs() < 1e-6, "{v:?}");
        // The sixth word: no boost, and a weak finding without context goes.
        let text = b"PESEL y a@b.cd is +48 601 234 567 x 44051401359";
        let mut v = vec![
            f(Kind::Email, 8, 14, 0.9),
            f(Kind::Phone, 18, 33, 0.8),
            f(Kind::PlPesel, 36, 47, 0.7),
        ];
        apply(text, &mut v, true);
        assert!((v[2].confidence - 0.7).abs() < 1e-6, "{v:?}");
        let mut v = vec![
            f(Kind::Email, 8, 14, 0.9),
            f(Kind::Phone, 18, 33, 0.8),
            f(Kind::PlPesel, 36, 47, needs_context(0.7)),
        ];
        apply(text, &mut v, true);
        assert_eq!(v.len(), 2);
        // Glued context counts: `PESEL:44051401359`.
        let mut v = vec![f(Kind::PlPesel, 6, 17, 0.7)];
        apply(b"PESEL:44051401359", &mut v, true);
        assert!((v[0].confidence - 1.0).abs() < 1e-6, "{v:?}");
    }
}
