//! Structure and check-digit validation of the identifiers the scanner knows.
//!
//! Every function takes the *compact* form (separators removed) as ASCII bytes
//! and never panics: lengths are checked before any digit is read, and digits
//! are read through iterators.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::tables::{IBAN_COUNTRIES, NIK_PROVINCES};

/// The character class of one BBAN field in the IBAN registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bban {
    /// `n`: digits.
    Num,
    /// `a`: upper-case letters.
    Alpha,
    /// `c`: digits and letters.
    Alnum,
}

/// Digit values of an all-digit string, or `None` if any byte is not a digit.
fn digits<const N: usize>(s: &[u8]) -> Option<[u32; N]> {
    if s.len() != N {
        return None;
    }
    let mut out = [0u32; N];
    for (o, &b) in out.iter_mut().zip(s) {
        if !b.is_ascii_digit() {
            return None;
        }
        *o = u32::from(b - b'0');
    }
    Some(out)
}

fn weighted(values: &[u32], weights: &[u32]) -> u32 {
    values.iter().zip(weights).map(|(v, w)| v * w).sum()
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn date_exists(year: u32, month: u32, day: u32) -> bool {
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Luhn (ISO/IEC 7812-1 annex B) over a digit string of any length ≥ 2.
pub(crate) fn luhn(s: &[u8]) -> bool {
    if s.len() < 2 || !s.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = s
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The issuer prefix of `s` (leading digits as a number), `width` digits wide.
fn prefix(s: &[u8], width: usize) -> u32 {
    s.iter()
        .take(width)
        .fold(0, |acc, &b| acc * 10 + u32::from(b.wrapping_sub(b'0') % 10))
}

/// Payment card: 12–19 digits, an issuer range of a current brand (ISO/IEC
/// 7812 IIN ranges: Visa, Mastercard 51–55 and 2221–2720, Amex, Discover,
/// Diners, JCB, UnionPay, Maestro, Mir 2200–2204, RuPay, Verve, Elo, Troy) whose
/// length matches, and the Luhn check.
pub(crate) fn payment_card(s: &[u8]) -> bool {
    let len = s.len();
    if !(12..=19).contains(&len) || !luhn(s) {
        return false;
    }
    let p1 = prefix(s, 1);
    let p2 = prefix(s, 2);
    let p3 = prefix(s, 3);
    let p4 = prefix(s, 4);

    match p1 {
        // Visa (13, 16, 19) and Visa Electron.
        4 => matches!(len, 13 | 16 | 19),
        // Mastercard 51–55; Maestro 50, 56–59.
        5 => match p2 {
            51..=55 => len == 16,
            _ => (12..=19).contains(&len),
        },
        // Mir 2200–2204; Mastercard 2221–2720.
        2 => match p4 {
            2200..=2204 => (16..=19).contains(&len),
            2221..=2720 => len == 16,
            _ => false,
        },
        3 => match p2 {
            // American Express.
            34 | 37 => len == 15,
            // Diners Club International and Carte Blanche.
            36 => (14..=19).contains(&len),
            30 => (300..=305).contains(&p3) && (14..=19).contains(&len),
            38 | 39 => (14..=19).contains(&len),
            // JCB 3528–3589.
            35 => (3528..=3589).contains(&p4) && (16..=19).contains(&len),
            _ => false,
        },
        // Discover, UnionPay, Maestro, RuPay, Troy, Elo, Verve, InstaPayment.
        6 => (12..=19).contains(&len),
        // RuPay 81, 82; Verve 506099–506198 and 650002–650027 fall under 5/6.
        8 => matches!(p2, 81 | 82) && len == 16,
        // UATP 1.
        1 => len == 15,
        _ => false,
    }
}

/// IBAN (ISO 13616): a registered country, its length, the BBAN structure of
/// the registry, and the ISO 7064 MOD 97-10 check.
pub(crate) fn iban(s: &[u8]) -> bool {
    let (Some(cc), Some(check), Some(bban)) = (s.get(..2), s.get(2..4), s.get(4..)) else {
        return false;
    };
    if !check.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let Some((_, length, structure)) = IBAN_COUNTRIES.iter().find(|(c, _, _)| c == cc) else {
        return false;
    };
    if s.len() != *length {
        return false;
    }
    let mut rest = bban;
    for &(count, class) in structure.iter() {
        let Some((field, tail)) = rest.split_at_checked(usize::from(count)) else {
            return false;
        };
        let ok = field.iter().all(|b| match class {
            Bban::Num => b.is_ascii_digit(),
            Bban::Alpha => b.is_ascii_uppercase(),
            Bban::Alnum => b.is_ascii_digit() || b.is_ascii_uppercase(),
        });
        if !ok {
            return false;
        }
        rest = tail;
    }
    // Move the first four characters to the end; letters count as 10..=35.
    let mut rem: u32 = 0;
    for &b in bban.iter().chain(cc).chain(check) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v < 10 {
            (rem * 10 + v) % 97
        } else {
            (rem * 100 + v) % 97
        };
    }
    rem == 1
}

/// The IBAN length registered for a country code, if any.
pub(crate) fn iban_length(cc: &[u8]) -> Option<usize> {
    IBAN_COUNTRIES
        .iter()
        .find(|(c, _, _)| c == cc)
        .map(|(_, l, _)| *l)
}

/// PESEL: check digit (weights 1-3-7-9) and a real birth date, the century
/// encoded in the month (+80 for 1800s, +20 for 2000s, +40, +60).
pub(crate) fn pl_pesel(s: &[u8]) -> bool {
    let Some(d) = digits::<11>(s) else {
        return false;
    };
    let check = (10 - weighted(&d, &[1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10) % 10;
    if Some(&check) != d.last() {
        return false;
    }
    let (yy, mm, dd) = (d[0] * 10 + d[1], d[2] * 10 + d[3], d[4] * 10 + d[5]);
    let century = match mm / 20 {
        0 => 1900,
        1 => 2000,
        2 => 2100,
        3 => 2200,
        4 => 1800,
        _ => return false,
    };
    date_exists(century + yy, mm % 20, dd)
}

/// NIP (Polish tax id): weights 6-5-7-2-3-4-5-6-7, mod 11, equal to the last digit.
pub(crate) fn pl_nip(s: &[u8]) -> bool {
    let Some(d) = digits::<10>(s) else {
        return false;
    };
    let sum = weighted(&d, &[6, 5, 7, 2, 3, 4, 5, 6, 7]) % 11;
    Some(&sum) == d.last()
}

fn regon9(d: &[u32]) -> bool {
    let check = weighted(d, &[8, 9, 2, 3, 4, 5, 6, 7]) % 11 % 10;
    d.get(8) == Some(&check)
}

/// REGON: 9 digits (weights 8-9-2-3-4-5-6-7) or 14 digits (the 9-digit prefix
/// valid too, then weights 2-4-8-5-0-9-7-3-6-1-2-4-8), mod 11 mod 10.
pub(crate) fn pl_regon(s: &[u8]) -> bool {
    if let Some(d) = digits::<9>(s) {
        return regon9(&d);
    }
    let Some(d) = digits::<14>(s) else {
        return false;
    };
    let check = weighted(&d, &[2, 4, 8, 5, 0, 9, 7, 3, 6, 1, 2, 4, 8]) % 11 % 10;
    regon9(&d) && d.last() == Some(&check)
}

/// CPF: two mod-11 check digits; the all-zero number is invalid, and so are
/// numbers of one repeated digit (`111.111.111-11`), which pass the checksum
/// but are never issued (Receita Federal).
pub(crate) fn br_cpf(s: &[u8]) -> bool {
    let Some(d) = digits::<11>(s) else {
        return false;
    };
    if d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let s1 = weighted(&d, &[10, 9, 8, 7, 6, 5, 4, 3, 2]);
    let d1 = (11 - s1 % 11) % 11 % 10;
    let s2 = weighted(&d, &[11, 10, 9, 8, 7, 6, 5, 4, 3]) + 2 * d1;
    let d2 = (11 - s2 % 11) % 11 % 10;
    d[9] == d1 && d[10] == d2
}

/// CNPJ: 14 characters, the first 12 digits or upper-case letters (the
/// alphanumeric CNPJ of Receita Federal IN 2.229/2024, letters valued
/// `ascii - 48`), two mod-11 check digits; the all-zero base is invalid.
pub(crate) fn br_cnpj(s: &[u8]) -> bool {
    if s.len() != 14 {
        return false;
    }
    let (Some(base), Some(check)) = (s.get(..12), s.get(12..)) else {
        return false;
    };
    if !base
        .iter()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        || !check.iter().all(u8::is_ascii_digit)
        || base.iter().all(|&b| b == b'0')
    {
        return false;
    }
    let mut v: Vec<u32> = base.iter().map(|&b| u32::from(b - b'0')).collect();
    let d1 = (11 - weighted(&v, &[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]) % 11) % 11 % 10;
    v.push(d1);
    let d2 = (11 - weighted(&v, &[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]) % 11) % 11 % 10;
    check.first().map(|&b| u32::from(b - b'0')) == Some(d1)
        && check.get(1).map(|&b| u32::from(b - b'0')) == Some(d2)
}

/// INN: 10 digits (organisations, one check digit) or 12 digits (persons, two),
/// weights of the Federal Tax Service, mod 11 mod 10.
pub(crate) fn ru_inn(s: &[u8]) -> bool {
    if let Some(d) = digits::<10>(s) {
        return weighted(&d, &[2, 4, 10, 3, 5, 9, 4, 6, 8]) % 11 % 10 == d[9];
    }
    let Some(d) = digits::<12>(s) else {
        return false;
    };
    let d1 = weighted(&d, &[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) % 11 % 10;
    let d2 = weighted(&d, &[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) % 11 % 10;
    d[10] == d1 && d[11] == d2
}

/// SNILS: 9 digits and a two-digit check: Σ dᵢ·(9−i) mod 101, where 100 → 00.
/// Numbers up to 001-001-998 carry no check and are accepted as issued.
pub(crate) fn ru_snils(s: &[u8]) -> bool {
    let Some(d) = digits::<11>(s) else {
        return false;
    };
    let number = d[..9].iter().fold(0u32, |a, &x| a * 10 + x);
    if number == 0 {
        return false;
    }
    let check = d[9] * 10 + d[10];
    if number <= 1_001_998 {
        return true;
    }
    let sum = weighted(&d, &[9, 8, 7, 6, 5, 4, 3, 2, 1]) % 101;
    check == if sum == 100 { 0 } else { sum }
}

/// NIK: 16 digits, a province code in use, and a birth date DDMMYY that exists
/// in 19YY or 20YY, the day +40 for women.
pub(crate) fn id_nik(s: &[u8]) -> bool {
    let Some(d) = digits::<16>(s) else {
        return false;
    };
    let province = d[0] * 10 + d[1];
    if !NIK_PROVINCES.iter().any(|&p| u32::from(p) == province) {
        return false;
    }
    let raw_day = d[6] * 10 + d[7];
    let day = match raw_day {
        1..=31 => raw_day,
        41..=71 => raw_day - 40,
        _ => return false,
    };
    let (month, yy) = (d[8] * 10 + d[9], d[10] * 10 + d[11]);
    date_exists(1900 + yy, month, day) || date_exists(2000 + yy, month, day)
}

/// SSN (SSA rules): area not 000, 666 or 9xx; group not 00; serial not 0000;
/// and not one of the numbers voided after public misuse.
pub(crate) fn us_ssn(s: &[u8]) -> bool {
    let Some(d) = digits::<9>(s) else {
        return false;
    };
    let area = d[0] * 100 + d[1] * 10 + d[2];
    let group = d[3] * 10 + d[4];
    let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    !matches!(s, b"078051120" | b"457555462" | b"219099999")
}

/// An IPv4 dotted quad or an IPv6 address, by the standard library's parsers.
pub(crate) fn ip_address(s: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(s) else {
        return false;
    };
    text.parse::<Ipv4Addr>().is_ok() || text.parse::<Ipv6Addr>().is_ok()
}

/// An e-mail address: a dot-atom local part and a domain of at least two
/// labels, with an alphabetic top-level label of two or more letters.
pub(crate) fn email(s: &[u8]) -> bool {
    let Some(at) = s.iter().rposition(|&b| b == b'@') else {
        return false;
    };
    let (Some(local), Some(domain)) = (s.get(..at), s.get(at + 1..)) else {
        return false;
    };
    email_local(local) && email_domain(domain)
}

pub(crate) fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | b'\'')
}

pub(crate) fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

pub(crate) fn email_local(local: &[u8]) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && local.iter().all(|&b| is_local_byte(b))
        && local.first() != Some(&b'.')
        && local.last() != Some(&b'.')
        && !local.windows(2).any(|w| w == b"..")
}

pub(crate) fn email_domain(domain: &[u8]) -> bool {
    if domain.len() < 4 || domain.len() > 253 || !domain.iter().all(|&b| is_domain_byte(b)) {
        return false;
    }
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in domain.split(|&b| b == b'.') {
        if label.is_empty()
            || label.len() > 63
            || label.first() == Some(&b'-')
            || label.last() == Some(&b'-')
        {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(date_exists(2000, 2, 29));
        assert!(!date_exists(1900, 2, 29));
        assert!(!date_exists(2023, 4, 31));
        assert!(!date_exists(2023, 13, 1));
    }

    #[test]
    fn luhn_basics() {
        assert!(luhn(b"79927398713"));
        assert!(!luhn(b"79927398710"));
        assert!(!luhn(b"7"));
    }
}
