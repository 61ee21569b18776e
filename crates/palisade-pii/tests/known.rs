//! Known valid and invalid examples for every kind with a validity rule:
//! python-stdnum's documented examples and examples from the standards and
//! issuers (tests/data/known.tsv, made by scripts/gen_known.py, sources in
//! the last column). Each value is checked by `Kind::validate` and, embedded
//! in a sentence, by the scanner.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

use palisade_pii::{Kind, Scanner};

fn rows() -> Vec<(Kind, String, bool, String)> {
    include_str!("data/known.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "bad row {l:?}");
            let kind: Kind = cols[0].parse().unwrap();
            (
                kind,
                cols[1].to_owned(),
                cols[2] == "valid",
                cols[3].to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_kind_with_a_rule_has_valid_and_invalid_examples() {
    let rows = rows();
    for kind in Kind::BUILTIN {
        if kind == Kind::Secret {
            continue;
        }
        assert!(
            rows.iter().any(|r| r.0 == kind && r.2),
            "no valid example of {kind}"
        );
        assert!(
            rows.iter().any(|r| r.0 == kind && !r.2),
            "no invalid example of {kind}"
        );
    }
    // RU_SNILS has no stdnum module: it is covered by the standards rows.
    assert!(rows.len() > 100);
}

#[test]
fn validate_agrees_with_every_known_example() {
    let mut failures = Vec::new();
    for (kind, value, valid, source) in rows() {
        if kind.validate(&value) != valid {
            failures.push(format!(
                "{kind} {value:?}: expected valid={valid} ({source})"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The scanner finds each valid example written the way people write it, and
/// none of the invalid ones, inside a sentence.
#[test]
fn scanner_finds_valid_examples_in_text() {
    let scanner = Scanner::new();
    let mut failures = Vec::new();
    for (kind, value, valid, source) in rows() {
        // Values the scanner reads only in printed forms it recognises.
        let printable =
            !(value.contains(['=', '–']) || (kind == Kind::BrCnpj && value.contains(' ')));
        if !printable {
            continue;
        }
        // Written the way records carry them: after the name of the number
        // (bare numbers in the Unix-time range need it).
        let word = match kind {
            Kind::PlPesel => "PESEL",
            Kind::PlNip => "NIP",
            Kind::PlRegon => "REGON",
            Kind::BrCpf => "CPF",
            Kind::BrCnpj => "CNPJ",
            Kind::RuInn => "INN",
            Kind::RuSnils => "SNILS",
            Kind::IdNik => "NIK",
            Kind::UsSsn => "SSN",
            _ => "note",
        };
        let text = format!("{word}: {value} end");
        let found = scanner.scan(&text);
        // The finding must cover every character of the value that counts
        // (`PL 8567346215` is found as `8567346215`).
        let significant =
            |s: &str| -> String { s.chars().filter(|c| c.is_ascii_alphanumeric()).collect() };
        let want = significant(value.trim_start_matches("PL "));
        let exact = found
            .iter()
            .any(|f| f.kind == kind && significant(&text[f.start..f.end]) == want);
        if valid && !exact {
            failures.push(format!(
                "missed {kind} {value:?} ({source}); found {found:?}"
            ));
        }
        if !valid && exact {
            failures.push(format!("false {kind} {value:?} ({source})"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
