//! The e-mail and IPv6 engines: each jumps between occurrences of its trigger
//! byte (`@`, `:`) with `memchr` and grows a candidate around it.

use std::net::Ipv6Addr;

use crate::checks::{email_domain, email_local, is_domain_byte, is_local_byte};
use crate::kind::{Finding, Kind};
use crate::numeric::{glued_left, glued_right};

fn at(text: &[u8], i: usize) -> u8 {
    text.get(i).copied().unwrap_or(b' ')
}

fn before(text: &[u8], i: usize) -> u8 {
    i.checked_sub(1).map_or(b' ', |j| at(text, j))
}

/// E-mail addresses; with `secrets`, also the password of URL credentials
/// (`https://user:password@host`), which share the `@`.
pub(crate) fn scan_email(text: &[u8], emails: bool, secrets: bool, out: &mut Vec<Finding>) {
    let mut covered = 0;
    for at_pos in memchr::memchr_iter(b'@', text) {
        if at_pos < covered {
            continue;
        }
        let mut start = at_pos;
        while start > 0 && at_pos - start < 64 && is_local_byte(before(text, start)) {
            start -= 1;
        }
        while at(text, start) == b'.' && start < at_pos {
            start += 1;
        }
        let mut end = at_pos + 1;
        while end < text.len() && end - at_pos <= 253 && is_domain_byte(at(text, end)) {
            end += 1;
        }
        while end > at_pos + 1 && matches!(before(text, end), b'.' | b'-') {
            end -= 1;
        }
        let (Some(local), Some(domain)) = (text.get(start..at_pos), text.get(at_pos + 1..end))
        else {
            continue;
        };
        if secrets
            && before(text, start) == b':'
            && url_userinfo(text, start - 1)
            && !local.is_empty()
        {
            out.push(Finding {
                kind: Kind::Secret,
                start,
                end: at_pos,
                confidence: 0.9,
            });
            covered = at_pos + 1;
            continue;
        }
        if emails && email_local(local) && email_domain(domain) {
            out.push(Finding {
                kind: Kind::Email,
                start,
                end,
                confidence: 0.9,
            });
            covered = end;
        }
    }
}

/// Whether the `:` at `colon` separates user and password in a URL:
/// `scheme://user:` with no space between.
fn url_userinfo(text: &[u8], colon: usize) -> bool {
    let from = colon.saturating_sub(128);
    let Some(window) = text.get(from..colon) else {
        return false;
    };
    match memchr::memmem::rfind(window, b"://") {
        Some(p) => window.get(p + 3..).is_some_and(|user| {
            !user.is_empty()
                && user
                    .iter()
                    .all(|&b| !b.is_ascii_whitespace() && b != b'/' && b != b'@')
        }),
        None => false,
    }
}

/// Whether `text` has `::` or at least six colons: no candidate of
/// [`scan_ipv6`] is parsed without one or the other, and a candidate's
/// colons are the text's.
fn may_hold_ipv6(text: &[u8]) -> bool {
    let mut colons = 0;
    let mut last = None;
    for colon in memchr::memchr_iter(b':', text) {
        if last.is_some_and(|l: usize| l + 1 == colon) {
            return true;
        }
        colons += 1;
        if colons >= 6 {
            return true;
        }
        last = Some(colon);
    }
    false
}

/// The searches of [`trigger_marks`]: `@` is rare in logs, `::` rarer.
static DOUBLE_COLON: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"::"));

/// Where `@` and `::` start in `chunk`, a text of many lines, into `at_signs`
/// and `double_colons` (sorted; every `::`, overlapping ones included): two
/// searches over the chunk instead of two per line. [`triggers`] then says
/// what each line may hold.
pub(crate) fn trigger_marks(
    chunk: &[u8],
    at_signs: &mut Vec<usize>,
    double_colons: &mut Vec<usize>,
) {
    at_signs.clear();
    at_signs.extend(memchr::memchr_iter(b'@', chunk));
    double_colons.clear();
    let mut from = 0;
    while let Some(p) = chunk.get(from..).and_then(|rest| DOUBLE_COLON.find(rest)) {
        double_colons.push(from + p);
        from += p + 1;
    }
}

/// Of `line`, which starts at `start` of a chunk, given the chunk's marks
/// from [`trigger_marks`] (from the first at or after `start`): whether it
/// holds an `@` (else [`scan_email`] finds nothing in it), and whether it
/// holds `::` or six colons (else [`scan_ipv6`] finds nothing in it, see
/// [`may_hold_ipv6`]). Advances both past the line.
pub(crate) fn triggers(
    line: &[u8],
    start: usize,
    at_signs: &mut std::iter::Peekable<impl Iterator<Item = usize>>,
    double_colons: &mut std::iter::Peekable<impl Iterator<Item = usize>>,
) -> (bool, bool) {
    let end = start + line.len();
    let mut at_sign = false;
    while at_signs.next_if(|&m| m < end).is_some() {
        at_sign = true;
    }
    let mut double = false;
    // A `::` that starts on the line's last byte is not in it.
    while let Some(p) = double_colons.next_if(|&p| p < end) {
        double |= p + 1 < end;
    }
    let colons = double || count_colons(line) >= 6;
    (at_sign, colons)
}

/// The colons in `text`, 32 bytes at a time (a form the compiler turns into
/// vector compares).
fn count_colons(text: &[u8]) -> usize {
    let mut blocks = text.chunks_exact(32);
    let mut n = 0;
    for block in &mut blocks {
        let mut k = 0u8;
        for &b in block {
            k += u8::from(b == b':');
        }
        n += usize::from(k);
    }
    let mut rest = blocks.remainder().chunks_exact(8);
    for block in &mut rest {
        let mut k = 0u8;
        for &b in block {
            k += u8::from(b == b':');
        }
        n += usize::from(k);
    }
    n + rest.remainder().iter().filter(|&&b| b == b':').count()
}

fn is_v6_byte(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// IPv6 addresses: grown around each `:` over hex digits, colons and dots,
/// then parsed by the standard library.
pub(crate) fn scan_ipv6(text: &[u8], out: &mut Vec<Finding>) {
    if !may_hold_ipv6(text) {
        return;
    }
    let mut covered = 0;
    for colon in memchr::memchr_iter(b':', text) {
        if colon < covered {
            continue;
        }
        // `key: value`: a colon not followed by a hex digit, a colon or a dot
        // ends a candidate with a single colon, which is never an address.
        if !is_v6_byte(at(text, colon + 1)) {
            covered = colon + 1;
            continue;
        }
        let mut start = colon;
        while start > 0 && colon - start < 4 && (before(text, start).is_ascii_hexdigit()) {
            start -= 1;
        }
        if glued_left(text, &[], start) || before(text, start) == b'.' {
            covered = colon + 1;
            continue;
        }
        let mut end = colon;
        while end < text.len() && end - start < 45 && is_v6_byte(at(text, end)) {
            end += 1;
        }
        covered = end;
        let mut stop = end;
        while stop > colon
            && matches!(before(text, stop), b'.' | b':')
            && !text.get(..stop).is_some_and(|t| t.ends_with(b"::"))
        {
            stop -= 1;
        }
        if glued_right(text, &[], end) {
            continue;
        }
        let Some(cand) = text.get(start..stop) else {
            continue;
        };
        let colons = cand.iter().filter(|&&b| b == b':').count();
        if colons < 2 {
            continue;
        }
        // Without `::`, an address has eight groups (seven colons), or six
        // and an IPv4 address (six colons): fewer cannot parse.
        if colons < 6 && !cand.windows(2).any(|w| w == b"::") {
            continue;
        }
        let parsed = std::str::from_utf8(cand)
            .ok()
            .and_then(|s| s.parse::<Ipv6Addr>().ok());
        if parsed.is_some() {
            out.push(Finding {
                kind: Kind::IpAddress,
                start,
                end: stop,
                confidence: 0.8,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`triggers`] says of each line of a chunk is what the engines'
    /// own searches find in that line alone: an `@`, and `::` or six colons.
    #[test]
    fn triggers_of_a_line_are_its_own() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        const BYTES: &[u8] = b"::::@@ab1\n\n";
        let (mut at_signs, mut double_colons) = (Vec::new(), Vec::new());
        for _ in 0..3_000 {
            let len = (next() % 90) as usize;
            let chunk: Vec<u8> = (0..len)
                .map(|_| BYTES[(next() % BYTES.len() as u64) as usize])
                .collect();
            trigger_marks(&chunk, &mut at_signs, &mut double_colons);
            let mut a = at_signs.iter().copied().peekable();
            let mut d = double_colons.iter().copied().peekable();
            // Lines as a stream cuts them, including pieces of a long line
            // that end without a `\n`.
            let max = 2 + (next() % 12) as usize;
            let mut start = 0;
            crate::stream::for_each_line(chunk.as_slice(), max, |line| {
                let want = (memchr::memchr(b'@', line).is_some(), may_hold_ipv6(line));
                assert_eq!(
                    triggers(line, start, &mut a, &mut d),
                    want,
                    "{:?} in {:?}",
                    String::from_utf8_lossy(line),
                    String::from_utf8_lossy(&chunk)
                );
                start += line.len();
                Ok(())
            })
            .unwrap();
        }
    }

    #[test]
    fn texts_without_double_colon_or_six_colons_hold_no_ipv6() {
        for (text, may) in [
            (&b"at 10:11:12 key: value"[..], false),
            (b"1:2:3:4:5:6", false),
            (b"1:2:3:4:5:6:7", true),
            (b"fe80::1", true),
            (b"::", true),
            (b":", false),
        ] {
            assert_eq!(
                may_hold_ipv6(text),
                may,
                "{}",
                String::from_utf8_lossy(text)
            );
            if !may {
                let mut found = Vec::new();
                scan_ipv6(text, &mut found);
                assert!(found.is_empty());
            }
        }
        let mut found = Vec::new();
        scan_ipv6(b"from 2001:db8::8a2e:370:7334 at 10:11", &mut found);
        assert_eq!(found.len(), 1, "{found:?}");
    }
}
