//! The port held against the `phonenumber` crate: the tables against its
//! database, every answer against its answers.

use std::fmt::Write;

use phonenumber::metadata::DATABASE;

use super::*;

/// The descriptors `number_type` consults, the most common types first (a
/// number is valid if any matches, so their order does not change the
/// answer, only how soon it comes).
fn type_descs(m: &phonenumber::Metadata) -> Vec<&phonenumber::metadata::Descriptor> {
    let d = m.descriptors();
    [
        d.mobile(),
        d.fixed_line(),
        d.premium_rate(),
        d.toll_free(),
        d.shared_cost(),
        d.voip(),
        d.personal_number(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The metadata entries sorted as the tables hold them: by id, then code.
/// `DATABASE.iter()` is not enough: it goes through the entries by id, and
/// the non-geographic entries share the id `001`.
fn entries() -> Vec<&'static phonenumber::Metadata> {
    let mut all: Vec<_> = (0..1000u16)
        .filter_map(|code| DATABASE.by_code(&code))
        .flatten()
        .collect();
    all.sort_by(|a, b| (a.id(), a.country_code()).cmp(&(b.id(), b.country_code())));
    all
}

fn desc_source(d: &phonenumber::metadata::Descriptor) -> String {
    format!(
        "Desc {{ pattern: {:?}, lengths: &{:?}, local_lengths: &{:?} }}",
        d.national_number().as_str(),
        d.possible_length(),
        d.possible_local_length()
    )
}

/// The generated table file, from phonenumber's database.
fn table_source() -> String {
    let all = entries();
    let index = |m: &phonenumber::Metadata| {
        all.iter()
            .position(|e| e.id() == m.id() && e.country_code() == m.country_code())
            .unwrap()
    };
    let mut out = String::from(
        "//! libphonenumber's metadata as the `phonenumber` crate holds it: what\n\
         //! `phone.rs` needs to parse and validate numbers.\n\
         //!\n\
         //! Generated from `phonenumber::metadata::DATABASE`; do not edit. After\n\
         //! upgrading the crate, regenerate with\n\
         //! `cargo test -p palisade-pii --lib phone::tests::regenerate_tables -- --ignored`\n\
         //! (the unit test `tables_match_phonenumber` fails until then).\n\n\
         use crate::phone::{Desc, RegionMeta};\n\n",
    );
    writeln!(
        out,
        "pub(crate) const REGION_COUNT: usize = {};\n",
        all.len()
    )
    .unwrap();
    out.push_str("/// Every region, sorted by id (`001` entries by country code).\n");
    out.push_str("pub(crate) static REGIONS: [RegionMeta; REGION_COUNT] = [\n");
    for m in &all {
        let opt = |v: Option<&str>| match v {
            Some(s) => format!("Some({s:?})"),
            None => "None".to_owned(),
        };
        writeln!(
            out,
            "    RegionMeta {{\n        id: {:?},\n        code: {},\n        international_prefix: {},\n        national_prefix: {},\n        national_prefix_for_parsing: {},\n        national_prefix_transform_rule: {},\n        leading_digits: {},\n        general: {},\n        types: &[{}],\n    }},",
            m.id(),
            m.country_code(),
            opt(m.international_prefix().map(|r| r.as_str())),
            opt(m.national_prefix()),
            opt(m.national_prefix_for_parsing().map(|r| r.as_str())),
            opt(m.national_prefix_transform_rule()),
            opt(m.leading_digits().map(|r| r.as_str())),
            desc_source(m.descriptors().general()),
            type_descs(m)
                .iter()
                .map(|d| desc_source(d))
                .collect::<Vec<_>>()
                .join(", "),
        )
        .unwrap();
    }
    out.push_str("];\n\n");
    let codes: Vec<u16> = (0..1000u16)
        .filter(|code| DATABASE.by_code(code).is_some())
        .collect();
    writeln!(
        out,
        "/// Each country calling code and its regions (indices into [`REGIONS`]),\n/// main region first.\npub(crate) static CODES: [(u16, &[u16]); {}] = [",
        codes.len()
    )
    .unwrap();
    for code in codes {
        let regions: Vec<usize> = DATABASE
            .by_code(&code)
            .unwrap()
            .into_iter()
            .map(index)
            .collect();
        writeln!(out, "    ({code}, &{regions:?}),").unwrap();
    }
    out.push_str("];\n");
    out
}

#[test]
#[ignore = "writes src/phone_tables.rs"]
fn regenerate_tables() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/phone_tables.rs");
    std::fs::write(path, table_source()).unwrap();
}

#[test]
fn tables_match_phonenumber() {
    assert_eq!(
        include_str!("../phone_tables.rs"),
        table_source(),
        "src/phone_tables.rs is not what phonenumber's database gives: regenerate it"
    );
}

#[test]
fn metadata_has_the_shape_the_port_assumes() {
    assert!(DATABASE.by_code(&1000).is_none() && DATABASE.region(&0).is_none());
    for m in entries() {
        // Region ids parse (`source_for` unwraps them); `001` never shares a
        // code with a region (the port reads it through `by_code`).
        if m.id() != "001" {
            assert!(m.id().parse::<Id>().is_ok(), "{}", m.id());
        }
        let regions = DATABASE.region(&m.country_code()).unwrap();
        assert!(
            regions.len() == 1 || !regions.contains(&"001"),
            "{regions:?}"
        );
        // A transform rule comes with a pattern that has groups, or
        // phonenumber would unwrap a missing first group.
        if m.national_prefix_transform_rule().is_some() {
            let re = compile(m.national_prefix_for_parsing().unwrap().as_str()).unwrap();
            assert!(re.captures_len() > 1, "{}", m.id());
        }
    }
    // Every pattern compiles.
    for i in 0..REGION_COUNT {
        let m = meta(i).unwrap();
        let c = compiled(i).unwrap();
        assert_eq!(
            c.international_prefix.is_some(),
            m.international_prefix.is_some()
        );
        assert_eq!(
            c.national_prefix_for_parsing.is_some(),
            m.national_prefix_for_parsing.is_some()
        );
        assert_eq!(c.leading_digits.is_some(), m.leading_digits.is_some());
        let all = [
            &c.international_prefix,
            &c.national_prefix_for_parsing,
            &c.leading_digits,
        ]
        .into_iter()
        .flatten()
        .chain(std::iter::once(&c.general))
        .chain(c.types.iter().map(|(_, re)| re));
        for re in all {
            assert!(re.get().is_some(), "{}: {}", m.id, re.pattern);
            // ASCII classes, not the Unicode fallback (see `compile`).
            assert!(
                compile_with(&re.source(), false).is_ok(),
                "{}: {}",
                m.id,
                re.pattern
            );
        }
    }
}

/// xorshift64*: reproducible cases.
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
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const SEPARATORS: &[&str] = &[
    " ", " ", "-", ".", "/", "(", ")", "  ", " -", ") ", ". ", "", "", "",
];

/// `digits` cut into groups joined by separators.
fn grouped(r: &mut Rng, digits: &str) -> String {
    let mut out = String::new();
    let mut rest = digits;
    while !rest.is_empty() {
        let n = (1 + r.below(5)).min(rest.len());
        if !out.is_empty() {
            out.push_str(r.pick(SEPARATORS));
        }
        out.push_str(&rest[..n]);
        rest = &rest[n..];
    }
    out
}

/// A digit changed, dropped or added, now and then.
fn mutated(r: &mut Rng, digits: &str) -> String {
    let mut d: Vec<u8> = digits.bytes().collect();
    match r.below(6) {
        0 if !d.is_empty() => {
            let i = r.below(d.len());
            d[i] = b'0' + r.below(10) as u8;
        }
        1 if !d.is_empty() => {
            d.remove(r.below(d.len()));
        }
        2 => {
            let i = r.below(d.len() + 1);
            d.insert(i, b'0' + r.below(10) as u8);
        }
        _ => {}
    }
    String::from_utf8(d).unwrap()
}

fn random_digits(r: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + r.below(10) as u8))
        .collect()
}

/// A telephone-shaped string (in the port's characters) and the region to
/// read it in, if any.
fn candidate(r: &mut Rng, all: &[&'static phonenumber::Metadata]) -> (Option<usize>, String) {
    let i = r.below(all.len());
    let m = all[i];
    let descs: Vec<_> = std::iter::once(m.descriptors().general())
        .chain(type_descs(m))
        .collect();
    let example = r
        .pick(&descs)
        .example()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let n = 4 + r.below(10);
            random_digits(r, n)
        });
    let number = mutated(r, &example);
    let region = (m.id() != "001").then_some(i);
    let code = m.country_code().to_string();
    match r.below(10) {
        // International, as written in logs.
        0..=2 => {
            let lead = r.pick(&["+", "+", "+", "+(", "+ ", "++", "+0"]);
            let close = if lead.ends_with('(') { ")" } else { "" };
            let tail = grouped(r, &number);
            (
                None,
                format!("{lead}{code}{close}{}{tail}", r.pick(SEPARATORS)),
            )
        }
        // RFC 3966 shapes: no spaces.
        3 => {
            let tail: String = grouped(r, &number).replace(' ', "-");
            (
                None,
                format!("+{code}{}{tail}", r.pick(&["-", ".", "(", ""])),
            )
        }
        // National, with or without the national prefix.
        4..=6 => {
            let np = m.national_prefix().unwrap_or("");
            let body = if r.below(2) == 0 {
                format!("{np}{number}")
            } else {
                number
            };
            let text = grouped(r, &body);
            let text = if r.below(4) == 0 {
                format!("({text}")
            } else {
                text
            };
            (region, text)
        }
        // National region, international dialling (an IDD or the code).
        7 => {
            let idd = r.pick(&["00", "011", "810", "0011", "001", "010", "009", "0", ""]);
            (region, grouped(r, &format!("{idd}{code}{number}")))
        }
        // Any region, any shape.
        8 => {
            let other = r.below(all.len());
            let region = (all[other].id() != "001").then_some(other);
            let text = grouped(r, &format!("{code}{number}"));
            (
                region,
                if r.below(2) == 0 {
                    format!("+{text}")
                } else {
                    text
                },
            )
        }
        // Noise in the port's characters.
        _ => {
            let n = 1 + r.below(24);
            let text: String = (0..n)
                .map(|_| {
                    let c = b"0123456789012345678901234567890123456789+ -./()"[r.below(47)];
                    char::from(c)
                })
                .collect();
            (region.filter(|_| r.below(2) == 0), text)
        }
    }
}

fn theirs_valid(region: Option<usize>, text: &str) -> Option<bool> {
    let id = region.map(|i| meta(i).unwrap().id.parse::<Id>().unwrap());
    std::panic::catch_unwind(|| {
        phonenumber::parse(id, text).is_ok_and(|p| phonenumber::is_valid(&p))
    })
    .ok()
}

fn theirs_code(text: &str) -> Option<Option<u16>> {
    std::panic::catch_unwind(|| {
        phonenumber::parse(None, text)
            .ok()
            .map(|p| p.code().value())
    })
    .ok()
}

/// Every answer of the port equals the crate's, on telephone-shaped text
/// from every region's example numbers, mutated, regrouped, with national
/// and international prefixes, and on noise. `PALISADE_PHONE_CASES` sets
/// the count (default 5,000) and `PALISADE_PHONE_SEED` the seed.
#[test]
fn phone_matches_phonenumber() {
    let cases: usize = std::env::var("PALISADE_PHONE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let seed: u64 = std::env::var("PALISADE_PHONE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED);
    let all = entries();
    let mut r = Rng(seed | 1);
    let (mut valid, mut panics, mut compared) = (0, 0, 0);
    let mut wrong = Vec::new();
    for _ in 0..cases {
        let (region, text) = candidate(&mut r, &all);
        assert!(in_domain(&text), "{text:?}");
        for region in [None, region] {
            let ours = is_valid(region.map(Region), &text);
            match theirs_valid(region, &text) {
                Some(theirs) => {
                    compared += 1;
                    valid += usize::from(theirs);
                    if ours != theirs {
                        wrong.push(format!(
                            "{:?} {text:?}: ours {ours}, theirs {theirs}",
                            region.map(|i| meta(i).unwrap().id)
                        ));
                    }
                }
                None => panics += 1,
            }
        }
        match theirs_code(&text) {
            Some(theirs) => {
                let ours = country_code(&text);
                if ours != theirs {
                    wrong.push(format!(
                        "code of {text:?}: ours {ours:?}, theirs {theirs:?}"
                    ));
                }
            }
            None => panics += 1,
        }
    }
    eprintln!("{compared} answers compared, {valid} valid numbers, {panics} phonenumber panics");
    assert!(
        wrong.is_empty(),
        "{} differences:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(40)].join("\n")
    );
    assert!(
        valid > compared / 10,
        "too few valid numbers to mean much: {valid} of {compared}"
    );
}

/// The allocation-free calling code agrees with the full parse wherever it
/// answers, and `country_code` with the crate: every region's example
/// numbers written internationally, with and without the national prefix
/// after the calling code (which the parse strips), grouped, and the random
/// candidates of `phone_matches_phonenumber`.
#[test]
fn quick_country_code_agrees_with_the_parse() {
    let all = entries();
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut texts = Vec::new();
    for m in &all {
        let code = m.country_code();
        let np = m.national_prefix().unwrap_or("");
        let examples = std::iter::once(m.descriptors().general())
            .chain(type_descs(m))
            .filter_map(|d| d.example());
        for example in examples {
            for prefix in ["", np, "0"] {
                texts.push(format!("+{code} {prefix}{example}"));
                texts.push(format!("+{code}{prefix}{example}"));
                let grouped = grouped(&mut r, &format!("{prefix}{example}"));
                texts.push(format!("+{code} {grouped}"));
            }
        }
    }
    // Lengths at the parser's limits (2 to 17 digits, below 2^56), after
    // national prefixes and leading zeros.
    let mut codes: Vec<u16> = all.iter().map(|m| m.country_code()).collect();
    codes.dedup();
    for code in codes {
        for n in 0..=19 {
            for body in ["9", "1"] {
                for lead in ["", "0", "01"] {
                    texts.push(format!("+{code} {lead}{}", body.repeat(n)));
                }
            }
        }
    }
    for _ in 0..20_000 {
        texts.push(candidate(&mut r, &all).1);
    }
    let (mut answered, mut scans, mut wrong) = (0, 0, Vec::new());
    for text in &texts {
        if let Some(quick) = quick_country_code(text) {
            answered += 1;
            let full = parse_national(None, text).map(|(code, _)| code);
            if quick != full {
                wrong.push(format!("{text:?}: quick {quick:?}, parse {full:?}"));
            }
        }
        // The one-pass digits of a `+` number answer as the quick path
        // wherever they answer, and the bytes entry point as
        // `country_code` everywhere.
        let mut digits = Digits::new();
        if digits.read(text.as_bytes())
            && let Some(scanned) = digits.quick()
        {
            scans += 1;
            if Some(scanned) != quick_country_code(text) {
                wrong.push(format!("{text:?}: scan {scanned:?}, quick path differs"));
            }
        }
        if country_code_of_bytes(text.as_bytes()) != country_code(text) {
            wrong.push(format!("{text:?}: of bytes differs from country_code"));
        }
        if let Some(theirs) = theirs_code(text)
            && country_code(text) != theirs
        {
            wrong.push(format!(
                "{text:?}: ours {:?}, theirs {theirs:?}",
                country_code(text)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} differences:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(40)].join("\n")
    );
    assert!(
        answered > texts.len() / 4,
        "the quick path answered {answered} of {}",
        texts.len()
    );
    assert!(
        scans > texts.len() / 8,
        "the scan answered {scans} of {}",
        texts.len()
    );
}

/// The calling code looked up by three digits is the one
/// `parse_national` finds, the first of the one-, two- and three-digit
/// prefixes that `regions_of` knows: every three digits not starting with
/// 0 (`quick_from_digits` leaves those to the parser).
#[test]
fn code_of_prefix_is_the_first_prefix_that_is_a_code() {
    let mut found = 0;
    for (prefix, &entry) in CODE_OF_PREFIX.iter().enumerate().skip(100) {
        let text = format!("{prefix:03}");
        let expected = (1..=3).find_map(|len| {
            text[..len]
                .parse::<u16>()
                .ok()
                .filter(|&c| regions_of(c).is_some())
        });
        let ours = usize::from(entry).checked_sub(1).map(|i| CODES[i].0);
        assert_eq!(ours, expected, "{text}");
        found += usize::from(ours.is_some());
    }
    // Most of them begin with a code.
    assert!(found > 700, "{found}");
}

/// Each byte's class agrees with `in_domain` and the space test.
#[test]
fn byte_classes_agree_with_the_domain() {
    for b in 0..=u8::MAX {
        let text = [b];
        let in_domain = std::str::from_utf8(&text).is_ok_and(in_domain);
        assert_eq!(BYTE_CLASS[usize::from(b)] & OTHER == 0, in_domain, "{b}");
        assert_eq!(BYTE_CLASS[usize::from(b)] & SPACE != 0, b == b' ', "{b}");
    }
}

proptest::proptest! {
    /// The one-pass digits answer as the quick path wherever they answer,
    /// and the bytes entry point as `country_code`, on any text of the
    /// port's characters (pluses and digits anywhere) and on numbers
    /// opening with pluses.
    #[test]
    fn the_digits_agree_with_the_quick_path(
        text in proptest::prop_oneof![
            "[0-9+ ()./-]{0,24}",
            "[ (]{0,2}\\+{1,2}[ (]?[1-9][0-9]{0,2}[0-9+ ()./-]{0,20}",
            "\\+[1-9][0-9 ]{2,40}",
            "\\+[0-9 a-z]{0,20}",
        ]
    ) {
        let mut digits = Digits::new();
        if digits.read(text.as_bytes())
            && let Some(scanned) = digits.quick()
        {
            proptest::prop_assert_eq!(Some(scanned), quick_country_code(&text), "{:?}", text);
        }
        proptest::prop_assert_eq!(country_code_of_bytes(text.as_bytes()), country_code(&text), "{:?}", text);
    }
}
