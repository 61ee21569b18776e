//! Telephone numbers: libphonenumber's parsing and validity rules as the
//! `phonenumber` crate applies them (`phonenumber::parse` then
//! `phonenumber::is_valid`), for the characters the numeric engine hands
//! over: ASCII digits, `+`, space, `-`, `.`, `/`, `(` and `)`.
//!
//! The crate's answers are what Palisade promises, but it pays for them on
//! every number: a metadata database of some 3,000 patterns is loaded and
//! checked on first use (about a tenth of a second), and each pattern lives
//! in a shared least-recently-used cache of 100 compiled regexes behind one
//! lock, so numbers of a few countries compile their patterns again and
//! again, and threads wait for each other. Here the same metadata
//! ([`crate::phone_tables`], generated from the crate's database, checked
//! against it by the unit tests) is compiled once per region on first use,
//! with the same regex options, and read without a lock. The unit tests and
//! the `phone_matches_phonenumber` differential test hold every answer
//! against the crate's. Text with any other character goes to the crate
//! itself.

use std::sync::OnceLock;

use phonenumber::country::Id;
use regex::{Regex, RegexBuilder};

use crate::phone_tables::{CODES, REGION_COUNT, REGIONS};

/// A phone number descriptor: the pattern a national significant number of
/// one type matches, and the lengths it may have (empty: any).
pub(crate) struct Desc {
    pub(crate) pattern: &'static str,
    pub(crate) lengths: &'static [u16],
    pub(crate) local_lengths: &'static [u16],
}

/// The metadata of one region (`001`: a non-geographic country code).
pub(crate) struct RegionMeta {
    pub(crate) id: &'static str,
    pub(crate) code: u16,
    pub(crate) international_prefix: Option<&'static str>,
    pub(crate) national_prefix: Option<&'static str>,
    pub(crate) national_prefix_for_parsing: Option<&'static str>,
    pub(crate) national_prefix_transform_rule: Option<&'static str>,
    pub(crate) leading_digits: Option<&'static str>,
    pub(crate) general: Desc,
    /// The descriptors of the number types (mobile, fixed line, premium
    /// rate, toll free, shared cost, VoIP, personal, pager, UAN, voicemail)
    /// the region has: a number is valid when the general descriptor and one
    /// of these match it.
    pub(crate) types: &'static [Desc],
}

/// A region whose national formats are recognised (an index into the tables).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Region(usize);

impl Region {
    /// The region of an ISO 3166 code libphonenumber knows (`PL`), as
    /// `phonenumber::country::Id` accepts it.
    pub(crate) fn parse(code: &str) -> Option<Self> {
        let id: Id = code.parse().ok()?;
        by_id(id.as_ref()).map(Region)
    }

    /// The ISO 3166 code.
    pub(crate) fn id(self) -> &'static str {
        REGIONS.get(self.0).map_or("", |m| m.id)
    }
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// The index of the region `id` (not `001`, which several entries share).
fn by_id(id: &str) -> Option<usize> {
    REGIONS
        .binary_search_by(|m| m.id.cmp(id))
        .ok()
        .filter(|&i| REGIONS.get(i).is_some_and(|m| m.id != "001"))
}

/// The regions of a country calling code, main region first.
fn regions_of(code: u16) -> Option<&'static [u16]> {
    CODES
        .binary_search_by(|(c, _)| c.cmp(&code))
        .ok()
        .and_then(|i| CODES.get(i))
        .map(|(_, r)| *r)
}

/// A pattern compiled on first use.
struct Lazy {
    pattern: &'static str,
    /// Matching only from the start, which is all the crate asks of
    /// `leading_digits` and of descriptors.
    anchored: bool,
    regex: OnceLock<Option<Regex>>,
}

impl Lazy {
    fn new(pattern: &'static str, anchored: bool) -> Self {
        Self {
            pattern,
            anchored,
            regex: OnceLock::new(),
        }
    }

    /// The pattern as compiled.
    fn source(&self) -> std::borrow::Cow<'static, str> {
        if self.anchored {
            // With whitespace ignored a `#` starts a comment, which the line
            // break ends.
            format!("^(?:{}\n)", self.pattern).into()
        } else {
            self.pattern.into()
        }
    }

    fn get(&self) -> Option<&Regex> {
        self.regex.get_or_init(|| compile(&self.source())).as_ref()
    }
}

/// A region's patterns, each compiled when first needed: most numbers are
/// settled by their region's general and mobile patterns.
struct Compiled {
    international_prefix: Option<Lazy>,
    national_prefix_for_parsing: Option<Lazy>,
    leading_digits: Option<Lazy>,
    general: Lazy,
    types: Vec<(&'static [u16], Lazy)>,
}

/// phonenumber's options (regex-cache's defaults and `ignore_whitespace`),
/// but ASCII classes: every text matched here is ASCII digits (national
/// numbers) or the ASCII characters [`in_domain`] admits, on which `\d`
/// and `[0-9]` agree. Unicode's `\d` compiles to an automaton over every
/// script's digits, which made compilation most of the cost of a
/// region's first number. A pattern that needs Unicode mode is compiled
/// with it.
fn compile(pattern: &str) -> Option<Regex> {
    compile_with(pattern, false)
        .or_else(|_| compile_with(pattern, true))
        .ok()
}

fn compile_with(pattern: &str, unicode: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(false)
        .multi_line(false)
        .dot_matches_new_line(false)
        .swap_greed(false)
        .ignore_whitespace(true)
        .unicode(unicode)
        .size_limit(10 * (1 << 20))
        .dfa_size_limit(2 * (1 << 20))
        .build()
}

static COMPILED: [OnceLock<Compiled>; REGION_COUNT] = [const { OnceLock::new() }; REGION_COUNT];

fn meta(i: usize) -> Option<&'static RegionMeta> {
    REGIONS.get(i)
}

fn compiled(i: usize) -> Option<&'static Compiled> {
    let cell = COMPILED.get(i)?;
    let m = meta(i)?;
    Some(cell.get_or_init(|| {
        Compiled {
            international_prefix: m.international_prefix.map(|p| Lazy::new(p, false)),
            national_prefix_for_parsing: m.national_prefix_for_parsing.map(|p| Lazy::new(p, false)),
            leading_digits: m.leading_digits.map(|p| Lazy::new(p, true)),
            general: Lazy::new(m.general.pattern, true),
            types: m
                .types
                .iter()
                .map(|d| (d.lengths, Lazy::new(d.pattern, true)))
                .collect(),
        }
    }))
}

/// `Descriptor::is_match`: a possible length and a match from the start.
fn desc_match(lengths: &[u16], re: &Lazy, value: &str) -> bool {
    (lengths.is_empty() || lengths.contains(&(value.len() as u16)))
        && re.get().is_some_and(|re| re.is_match(value))
}

fn general_match(i: usize, value: &str) -> bool {
    match (meta(i), compiled(i)) {
        (Some(m), Some(c)) => desc_match(m.general.lengths, &c.general, value),
        _ => false,
    }
}

/// `number_type(meta, value) != Type::Unknown`.
fn has_type(i: usize, value: &str) -> bool {
    general_match(i, value)
        && compiled(i).is_some_and(|c| {
            c.types
                .iter()
                .any(|(lengths, re)| desc_match(lengths, re, value))
        })
}

/// `validator::source_for`: the region whose rules judge `national` under
/// country calling code `code`.
fn source_for(code: u16, national: &str) -> Option<usize> {
    let regions = regions_of(code)?;
    if let [only] = regions {
        return Some(usize::from(*only));
    }
    regions.iter().map(|&r| usize::from(r)).find(|&r| {
        match compiled(r).and_then(|c| c.leading_digits.as_ref()) {
            Some(ld) => ld.get().is_some_and(|ld| ld.is_match(national)),
            None => has_type(r, national),
        }
    })
}

/// `validator::length(meta, number, Type::Unknown)`, as far as the parser
/// looks at it.
#[derive(PartialEq, Eq)]
enum Length {
    Possible,
    TooShort,
    Other,
}

fn length(i: usize, len: usize) -> Length {
    let Some(m) = meta(i) else {
        return Length::Other;
    };
    let len = len as u16;
    let possible = m.general.lengths;
    let (Some(&min), Some(&max)) = (possible.first(), possible.last()) else {
        return Length::Other;
    };
    if m.general.local_lengths.contains(&len) || len == min {
        Length::Possible
    } else if len < min {
        Length::TooShort
    } else if len > max {
        Length::Other
    } else if possible.contains(&len) {
        Length::Possible
    } else {
        Length::Other
    }
}

/// The characters handled here; others go to the `phonenumber` crate.
fn in_domain(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b' ' | b'-' | b'.' | b'/' | b'(' | b')'))
}

fn is_punctuation(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'/' | b'(' | b')')
}

/// The RFC 3966 reading (`+48-601-234-567`, `601.234.567`): national part
/// and country code, when the whole text is one.
fn rfc3966(s: &str) -> Option<(&str, Option<&str>)> {
    if s.contains(' ') {
        return None;
    }
    let separator = |b: u8| matches!(b, b'-' | b'.' | b'(' | b')');
    let mut rest = s;
    let mut prefix = None;
    if let Some(after) = s.strip_prefix('+') {
        let n = after.bytes().position(separator).unwrap_or(after.len());
        if n >= 1 {
            prefix = after.get(..n);
            rest = after.get(n..)?;
        }
    }
    let n = rest
        .bytes()
        .position(|b| !(b.is_ascii_digit() || separator(b)))
        .unwrap_or(rest.len());
    // Anything after the number would have to be `;` parameters.
    (n >= 1 && n == rest.len()).then_some((rest, prefix))
}

/// The natural-language reading: from the first `+` or digit, without the
/// punctuation at the end.
fn natural(s: &str) -> Option<&str> {
    let start = s.bytes().position(|b| b == b'+' || b.is_ascii_digit())?;
    let rest = s.get(start..)?;
    let end = rest
        .bytes()
        .rposition(|b| b.is_ascii_digit())
        .map_or(0, |p| p + 1);
    rest.get(..end).filter(|r| !r.is_empty())
}

/// `is_viable`: two digits, or pluses then at least three digits among
/// punctuation.
fn viable(s: &str) -> bool {
    if s.len() < 2 {
        return false;
    }
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let body = s.trim_start_matches('+');
    body.bytes()
        .all(|b| b.is_ascii_digit() || is_punctuation(b))
        && body.bytes().filter(u8::is_ascii_digit).count() >= 3
}

fn digits_of(s: &str) -> String {
    let mut digits = String::with_capacity(s.len());
    digits.extend(s.bytes().filter(u8::is_ascii_digit).map(char::from));
    digits
}

/// Where the country calling code comes from (the crate's `Source`, but
/// `Number`, which nothing after the parse looks at).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Plus,
    Idd,
    Default,
}

/// `helper::national_number`: strips a national prefix (or a carrier code),
/// or applies the region's transform rule.
fn national_number(i: usize, national: &mut String) {
    let Some(m) = meta(i) else { return };
    let parsing = compiled(i).and_then(|c| c.national_prefix_for_parsing.as_ref()?.get());
    let Some(parsing) = parsing else {
        if let Some(p) = m.national_prefix
            && national.starts_with(p)
        {
            national.drain(..p.len());
        }
        return;
    };
    let Some(found) = parsing.find(national) else {
        return;
    };
    if found.start() != 0 {
        return;
    }
    let end = found.end();
    let viable = general_match(i, national);
    let Some(caps) = parsing.captures(national) else {
        return;
    };
    let last = caps.get(caps.len().saturating_sub(1));
    match (m.national_prefix_transform_rule, last) {
        (Some(rule), Some(_)) => {
            let transformed = parsing.replace(national, rule).into_owned();
            if viable && !general_match(i, &transformed) {
                return;
            }
            *national = transformed;
        }
        _ => {
            national.drain(..end);
        }
    }
}

/// `phonenumber::parse(region, text)`: the country calling code and the
/// national significant number, or `None` where the crate returns an error.
fn parse(region: Option<Region>, s: &str) -> Option<(u16, String)> {
    let (code, national) = parse_national(region, s)?;
    // `NationalNumber`: leading zeros counted, the rest read as a number
    // below 2^56 (checked by `parse_national`), written back the same way
    // for validation.
    let zeros = national.bytes().take_while(|&b| b == b'0').count();
    let value: u64 = national.get(zeros..)?.parse().ok()?;
    let mut written = "0".repeat(zeros);
    written.push_str(&value.to_string());
    Some((code, written))
}

/// [`parse`] but for writing the national number back: the country calling
/// code and the national number's digits.
fn parse_national(region: Option<Region>, s: &str) -> Option<(u16, String)> {
    let (raw, rfc_prefix) = match rfc3966(s) {
        Some(found) => found,
        None => (natural(s)?, None),
    };
    if !viable(raw) {
        return None;
    }
    let region = region.map(|r| r.0);
    let idd = region.and_then(|r| compiled(r)?.international_prefix.as_ref()?.get());
    let mut national;
    // The calling code written before the number (RFC 3966), as digits.
    let prefix: Option<String>;
    let mut source;
    if let Some(p) = rfc_prefix {
        source = Source::Plus;
        national = digits_of(raw);
        prefix = Some(digits_of(p));
    } else {
        prefix = None;
        let plus = raw.bytes().take_while(|&b| b == b'+').count();
        national = digits_of(raw.get(plus..).unwrap_or(""));
        source = if plus == 0 {
            Source::Default
        } else {
            Source::Plus
        };
        // After pluses an international prefix is looked for only where the
        // region's pattern matches at the start.
        let strip = idd
            .and_then(|re| re.find(&national))
            .filter(|m| m.start() == 0)
            .map(|m| m.end())
            .filter(|&end| !national.get(end..).unwrap_or("").starts_with('0'));
        if let Some(end) = strip {
            if source != Source::Plus {
                source = Source::Idd;
            }
            national.drain(..end);
        }
    }
    let code: u16 = match source {
        Source::Plus | Source::Idd => {
            if national.len() <= 2 {
                return None;
            }
            if let Some(p) = &prefix {
                let code = p.parse().ok()?;
                regions_of(code)?;
                code
            } else {
                if national.starts_with('0') {
                    return None;
                }
                let (len, code) = (1..=3).find_map(|len| {
                    national
                        .get(..len)
                        .and_then(|c| c.parse::<u16>().ok())
                        .filter(|&c| regions_of(c).is_some())
                        .map(|c| (len, c))
                })?;
                national.drain(..len);
                code
            }
        }
        Source::Default => {
            let r = region?;
            let code = meta(r)?.code;
            let written = code.to_string();
            if national.starts_with(&written)
                && (!general_match(r, &national) || length(r, national.len()) != Length::Possible)
            {
                national.drain(..written.len());
            }
            code
        }
    };
    let judged_by = match region {
        Some(r) => Some(r),
        None => source_for(code, national.trim_start_matches('0')),
    };
    if let Some(r) = judged_by {
        let mut potential = national.clone();
        national_number(r, &mut potential);
        if let Some(p) = meta(r).and_then(|m| m.national_prefix)
            && potential.starts_with(p)
        {
            potential.drain(..p.len());
        }
        if length(r, potential.len()) != Length::TooShort {
            national = potential;
        }
    }
    if !(2..=17).contains(&national.len()) {
        return None;
    }
    // `NationalNumber`: the digits after the leading zeros read as a number
    // below 2^56.
    let zeros = national.bytes().take_while(|&b| b == b'0').count();
    let value: u64 = national.get(zeros..)?.parse().ok()?;
    if value >= 1 << 56 {
        return None;
    }
    Some((code, national))
}

/// `phonenumber::is_valid`: the region's rules accept the number.
fn valid_number(code: u16, national: &str) -> bool {
    source_for(code, national).is_some_and(|r| has_type(r, national))
}

/// Whether `text` is a valid telephone number: in national form of `region`,
/// or in international form (`+…`) for `None`. The same answer as
/// `phonenumber::parse(region, text)` followed by `phonenumber::is_valid`.
pub(crate) fn is_valid(region: Option<Region>, text: &str) -> bool {
    if !in_domain(text) {
        let id = region.and_then(|r| r.id().parse::<Id>().ok());
        return phonenumber::parse(id, text).is_ok_and(|p| phonenumber::is_valid(&p));
    }
    parse(region, text).is_some_and(|(code, national)| valid_number(code, &national))
}

/// The country calling code of `text` read in international form, as
/// `phonenumber::parse(None, text)` gives it.
pub(crate) fn country_code(text: &str) -> Option<u16> {
    if !in_domain(text) {
        return phonenumber::parse(None, text)
            .ok()
            .map(|p| p.code().value());
    }
    if let Some(answer) = quick_country_code(text) {
        return answer;
    }
    parse_national(None, text).map(|(code, _)| code)
}

/// [`parse_national`]`(None, text)`'s calling code without allocating, for
/// the common case: a number written `+<digits and punctuation>` of a
/// region whose national prefix (if any) is stripped without a pattern.
/// `None` leaves the answer to `parse_national` (every other case: an RFC
/// 3966 number, no `+`, a region with a `national_prefix_for_parsing`
/// pattern, a number that is not one).
fn quick_country_code(text: &str) -> Option<Option<u16>> {
    if rfc3966(text).is_some() {
        return None;
    }
    let raw = natural(text)?;
    if !viable(raw) {
        return None;
    }
    let plus = raw.bytes().take_while(|&b| b == b'+').count();
    if plus == 0 {
        return None;
    }
    // The digits after the pluses (`digits_of`).
    let mut buffer = [0u8; 32];
    let mut len = 0;
    for b in raw.bytes().skip(plus).filter(u8::is_ascii_digit) {
        *buffer.get_mut(len)? = b;
        len += 1;
    }
    quick_from_digits(buffer.get(..len)?)
}

/// [`country_code`] of `text` given as bytes, the same answer: for a
/// number written `+` first, the checks of [`quick_country_code`] on its
/// digits found in one pass ([`Digits`]); every other text, and every
/// case the quick path leaves to the parser, through [`country_code`]
/// itself.
pub(crate) fn country_code_of_bytes(text: &[u8]) -> Option<u16> {
    let mut digits = Digits::new();
    if digits.read(text) {
        digits.country_code(text)
    } else {
        std::str::from_utf8(text).ok().and_then(country_code)
    }
}

/// The digits of an international number written `+` first, found in one
/// pass: their places (for masking) and what [`quick_country_code`] needs
/// to answer from them.
pub(crate) struct Digits {
    /// The places of the digits, in order.
    places: [u8; 32],
    /// The digits themselves.
    digits: [u8; 32],
    len: usize,
    /// The classes of every byte, or-ed ([`BYTE_CLASS`]).
    classes: u8,
    /// The place of the first `+` after the leading ones, if any.
    inner_plus: Option<usize>,
}

impl Digits {
    /// No digits yet: [`Digits::read`] finds them.
    pub(crate) fn new() -> Digits {
        Digits {
            places: [0; 32],
            digits: [0; 32],
            len: 0,
            classes: 0,
            inner_plus: None,
        }
    }

    /// Finds the digits of `text`, which starts with `+`; `false` (and
    /// the digits left unusable) without a `+` first, beyond 32 digits or
    /// beyond 255 bytes: then the general paths answer. Filled in place,
    /// not returned: a copy of the arrays just written byte by byte
    /// stalls on reading them back.
    #[inline]
    pub(crate) fn read(&mut self, text: &[u8]) -> bool {
        if text.first() != Some(&b'+') || text.len() > usize::from(u8::MAX) {
            return false;
        }
        let mut classes = 0usize;
        let mut len = 0;
        let mut leading = true;
        let mut inner_plus = None;
        for (i, &b) in text.iter().enumerate() {
            classes |= usize::from(BYTE_CLASS.get(usize::from(b)).copied().unwrap_or(OTHER));
            if b.is_ascii_digit() {
                let (Some(place), Some(digit)) =
                    (self.places.get_mut(len), self.digits.get_mut(len))
                else {
                    return false;
                };
                // `text` is at most 255 bytes: `i` fits.
                *place = u8::try_from(i).unwrap_or(u8::MAX);
                *digit = b;
                len += 1;
                leading = false;
            } else if b == b'+' {
                if !leading && inner_plus.is_none() {
                    inner_plus = Some(i);
                }
            } else {
                leading = false;
            }
        }
        self.len = len;
        self.classes = u8::try_from(classes).unwrap_or(OTHER);
        self.inner_plus = inner_plus;
        true
    }

    /// [`country_code`] of the text the digits are of: the checks of
    /// [`quick_country_code`] on what the pass found, through
    /// [`country_code`] itself where they leave the text to the parser.
    #[inline]
    pub(crate) fn country_code(&self, text: &[u8]) -> Option<u16> {
        match self.quick() {
            Some(answer) => answer,
            None => std::str::from_utf8(text).ok().and_then(country_code),
        }
    }

    /// [`quick_country_code`]'s answer where the text is in its domain
    /// and holds a space (which no RFC 3966 number does): the leading
    /// pluses, then digits among punctuation up to the last digit (a `+`
    /// among them is left to the parser); `None` for any other text and
    /// wherever `quick_country_code` answers `None`.
    fn quick(&self) -> Option<Option<u16>> {
        if self.classes & OTHER != 0 || self.classes & SPACE == 0 {
            return None;
        }
        let last = *self.places.get(self.len.checked_sub(1)?)?;
        if self.inner_plus.is_some_and(|p| p < usize::from(last)) {
            return None;
        }
        quick_from_digits(self.digits.get(..self.len)?)
    }

    /// Appends `text` to `out` with its digits from the `keep_front`th to
    /// before the last `keep_last` (counted from 0) replaced by `mask`.
    #[inline]
    pub(crate) fn mask(
        &self,
        text: &[u8],
        keep_front: usize,
        keep_last: usize,
        mask: u8,
        out: &mut Vec<u8>,
    ) {
        let start = out.len();
        out.extend_from_slice(text);
        let places = self
            .places
            .get(keep_front..self.len.saturating_sub(keep_last))
            .unwrap_or(&[]);
        for &at in places {
            if let Some(b) = out.get_mut(start + usize::from(at)) {
                *b = mask;
            }
        }
    }
}

/// The classes of [`BYTE_CLASS`]: a character outside [`in_domain`], a
/// space.
const OTHER: u8 = 1;
const SPACE: u8 = 2;

/// Each byte's class for [`Digits`]: [`OTHER`] outside [`in_domain`]'s
/// characters, [`SPACE`] for a space, 0 for the others.
#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of bounds fails the build"
)]
static BYTE_CLASS: [u8; 256] = {
    let mut classes = [OTHER; 256];
    let mut b = 0u8;
    loop {
        let class = match b {
            b' ' => SPACE,
            b'0'..=b'9' | b'+' | b'-' | b'.' | b'/' | b'(' | b')' => 0,
            _ => OTHER,
        };
        classes[b as usize] = class;
        if b == u8::MAX {
            break;
        }
        b += 1;
    }
    classes
};

/// The calling code that prefixes three digits `abc` (at `100 * a + 10 *
/// b + c`), as one plus its index in [`CODES`] (0: none): of the one-, two-
/// and three-digit prefixes, the first that is a code, as
/// `parse_national` looks them up.
#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of bounds fails the build"
)]
static CODE_OF_PREFIX: [u8; 1000] = {
    assert!(CODES.len() < u8::MAX as usize);
    let mut table = [0u8; 1000];
    // Three-digit codes first, so that a shorter code that prefixes the
    // same digits (none does: calling codes are a prefix code) would win.
    let mut digits = 3;
    while digits >= 1 {
        let mut i = 0;
        while i < CODES.len() {
            let code = CODES[i].0 as usize;
            let (low, high) = match digits {
                3 => (100, 1000),
                2 => (10, 100),
                _ => (1, 10),
            };
            if code >= low && code < high {
                let span = 1000 / high;
                let mut at = code * span;
                while at < (code + 1) * span {
                    table[at] = i as u8 + 1;
                    at += 1;
                }
            }
            i += 1;
        }
        digits -= 1;
    }
    table
};

/// The rest of [`quick_country_code`]: the answer from the digits after
/// the pluses.
fn quick_from_digits(digits: &[u8]) -> Option<Option<u16>> {
    if digits.len() <= 2 || digits.first() == Some(&b'0') {
        return None;
    }
    // The calling code: the first of the one-, two- and three-digit
    // prefixes that is one (`parse::<u16>` of ASCII digits), looked up by
    // the first three digits.
    let prefix = digits
        .get(..3)?
        .iter()
        .fold(0usize, |p, d| p * 10 + usize::from(d - b'0'));
    let entry = usize::from(*CODE_OF_PREFIX.get(prefix)?).checked_sub(1)?;
    let &(code, regions) = CODES.get(entry)?;
    // The prefix's digits: the code's (the first digit is not 0).
    let code_len = match code {
        0..=9 => 1,
        10..=99 => 2,
        _ => 3,
    };
    let mut national = digits.get(code_len..)?;
    let zeros = |digits: &[u8]| digits.iter().take_while(|&&d| d == b'0').count();
    // `source_for`, which looks at the number only for a code shared by
    // several regions.
    let judged_by = match regions {
        [only] => Some(usize::from(*only)),
        _ => {
            let trimmed = national.get(zeros(national)..)?;
            source_for(code, std::str::from_utf8(trimmed).ok()?)
        }
    };
    if let Some(r) = judged_by {
        let m = meta(r)?;
        if m.national_prefix_for_parsing.is_some() {
            return None;
        }
        // `national_number` without a pattern strips the national prefix,
        // and the parser strips it once more.
        let mut potential = national;
        for _ in 0..2 {
            if let Some(p) = m.national_prefix
                && let Some(rest) = potential.strip_prefix(p.as_bytes())
            {
                potential = rest;
            }
        }
        if length(r, potential.len()) != Length::TooShort {
            national = potential;
        }
    }
    if !(2..=17).contains(&national.len()) {
        return None;
    }
    // The digits after the leading zeros read as a number (at most 17
    // digits: no overflow); none is not a number.
    let significant = national.get(zeros(national)..)?;
    if significant.is_empty() {
        return None;
    }
    // Sixteen digits or fewer are below 10^16 < 2^56: only a seventeen-digit
    // number needs reading (a chain of multiplications, one a digit).
    if significant.len() <= 16 {
        return Some(Some(code));
    }
    let value = significant
        .iter()
        .fold(0u64, |value, d| value * 10 + u64::from(d - b'0'));
    (value < 1 << 56).then_some(Some(code))
}

#[cfg(test)]
mod tests;
