//! What a finding is: the kinds of personal data and secrets, and findings.

use std::fmt;
use std::str::FromStr;

use crate::checks;
use crate::error::Error;

/// A kind of personal data or secret.
///
/// The names (`PL_PESEL`, `PAYMENT_CARD`, …) are the labels used in output
/// (`<PL_PESEL>`), on the command line (`--kinds PL_PESEL,EMAIL`) and in JSON
/// findings. [`Kind::Custom`] names the kinds of user-supplied detectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An e-mail address.
    Email,
    /// A telephone number valid by libphonenumber's metadata, international
    /// (`+48 601 234 567`) or in a national format of a configured region.
    Phone,
    /// A payment card number: brand range, length and Luhn check.
    PaymentCard,
    /// An IBAN: registered country and length, BBAN structure, MOD 97-10.
    Iban,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// Polish PESEL (national identification number): check digit and birth date.
    PlPesel,
    /// Polish NIP (tax identification number): check digit.
    PlNip,
    /// Polish REGON (business registry number), 9 or 14 digits: check digits.
    PlRegon,
    /// Brazilian CPF (individual taxpayer number): two check digits.
    BrCpf,
    /// Brazilian CNPJ (company number), numeric or alphanumeric: two check digits.
    BrCnpj,
    /// Russian INN (taxpayer number), 10 or 12 digits: check digits.
    RuInn,
    /// Russian SNILS (individual insurance account number): check number.
    RuSnils,
    /// Indonesian NIK (population identification number): province and birth date.
    IdNik,
    /// US Social Security number: area, group and serial rules.
    UsSsn,
    /// A credential: cloud and VCS tokens, private keys, JWTs, passwords and
    /// high-entropy values assigned to key words.
    Secret,
    /// A kind defined by a user-supplied [`Detector`](crate::Detector).
    Custom(&'static str),
}

impl Kind {
    /// Every built-in kind, in label order of the documentation.
    pub const BUILTIN: [Kind; 15] = [
        Kind::Email,
        Kind::Phone,
        Kind::PaymentCard,
        Kind::Iban,
        Kind::IpAddress,
        Kind::PlPesel,
        Kind::PlNip,
        Kind::PlRegon,
        Kind::BrCpf,
        Kind::BrCnpj,
        Kind::RuInn,
        Kind::RuSnils,
        Kind::IdNik,
        Kind::UsSsn,
        Kind::Secret,
    ];

    /// The label: `EMAIL`, `PL_PESEL`, …, or the custom name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Email => "EMAIL",
            Kind::Phone => "PHONE",
            Kind::PaymentCard => "PAYMENT_CARD",
            Kind::Iban => "IBAN",
            Kind::IpAddress => "IP_ADDRESS",
            Kind::PlPesel => "PL_PESEL",
            Kind::PlNip => "PL_NIP",
            Kind::PlRegon => "PL_REGON",
            Kind::BrCpf => "BR_CPF",
            Kind::BrCnpj => "BR_CNPJ",
            Kind::RuInn => "RU_INN",
            Kind::RuSnils => "RU_SNILS",
            Kind::IdNik => "ID_NIK",
            Kind::UsSsn => "US_SSN",
            Kind::Secret => "SECRET",
            Kind::Custom(name) => name,
        }
    }

    /// Whether `candidate` is a valid value of this kind, checked the way the
    /// scanner checks what it finds (check digits, dates, registries).
    ///
    /// Separators are ignored the way the standards print them: spaces and
    /// `-` everywhere, `.` and `/` in the Brazilian numbers, `.` in NIK, and a
    /// `PL` prefix on NIP. This is the function the differential tests hold
    /// against python-stdnum. [`Kind::Secret`] and custom kinds have no
    /// intrinsic validity and return `false`; [`Kind::Phone`] needs a region
    /// and is checked only in the international `+` form.
    pub fn validate(self, candidate: &str) -> bool {
        // Unicode dashes (`–`, `‑`, `−`) count as `-`, as in stdnum's `clean`.
        let compact = |drop: &[u8]| -> Vec<u8> {
            candidate
                .trim()
                .chars()
                .map(|c| match c {
                    '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe63}' | '\u{ff0d}' => '-',
                    c => c,
                })
                .filter(|c| !c.is_ascii() || !drop.contains(&(*c as u8)))
                .map(|c| if c.is_ascii() { c as u8 } else { 0xFF })
                .collect()
        };
        match self {
            Kind::Email => checks::email(candidate.trim().as_bytes()),
            Kind::Phone => crate::numeric::phone_international(candidate.trim()),
            Kind::PaymentCard => checks::payment_card(&compact(b" -")),
            Kind::Iban => checks::iban(&compact(b" -.").to_ascii_uppercase()),
            Kind::IpAddress => checks::ip_address(candidate.trim().as_bytes()),
            Kind::PlPesel => checks::pl_pesel(&compact(b" -")),
            Kind::PlNip => {
                let c = compact(b" -").to_ascii_uppercase();
                checks::pl_nip(c.strip_prefix(b"PL").unwrap_or(&c))
            }
            Kind::PlRegon => checks::pl_regon(&compact(b" -")),
            Kind::BrCpf => checks::br_cpf(&compact(b" -.")),
            Kind::BrCnpj => checks::br_cnpj(&compact(b" -./").to_ascii_uppercase()),
            Kind::RuInn => checks::ru_inn(&compact(b" ")),
            Kind::RuSnils => checks::ru_snils(&compact(b" -")),
            Kind::IdNik => checks::id_nik(&compact(b" -.")),
            Kind::UsSsn => {
                let t = candidate.trim().as_bytes();
                // `123-45-6789` or `123456789`, as stdnum accepts.
                let c: Vec<u8> = match t {
                    [a, b, c, b'-', d, e, b'-', rest @ ..] => {
                        [&[*a, *b, *c, *d, *e][..], rest].concat()
                    }
                    _ => t.to_vec(),
                };
                checks::us_ssn(&c)
            }
            Kind::Secret | Kind::Custom(_) => false,
        }
    }

    pub(crate) fn bit(self) -> u32 {
        match self {
            Kind::Custom(_) => 0,
            k => Kind::BUILTIN
                .iter()
                .position(|b| *b == k)
                .map_or(0, |i| 1 << i),
        }
    }

    /// Whether partial masking treats this kind as a number (masks digits only).
    pub(crate) fn is_numeric(self) -> bool {
        !matches!(
            self,
            Kind::Email | Kind::Iban | Kind::IpAddress | Kind::Secret | Kind::Custom(_)
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = Error;

    /// Parses a built-in label, ignoring ASCII case (`pl_pesel` works too).
    fn from_str(s: &str) -> Result<Self, Error> {
        Kind::BUILTIN
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::KindUnknown(s.to_owned()))
    }
}

/// One piece of personal data or secret found in a text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Finding {
    /// What was found.
    pub kind: Kind,
    /// Byte offset of the first byte of the value.
    pub start: usize,
    /// Byte offset one past the last byte of the value.
    pub end: usize,
    /// How sure the detector is, from 0.0 to 1.0: the base score of the rule
    /// that matched, raised when a context word (`pesel`, `card`, `tel`…)
    /// stands shortly before the value.
    pub confidence: f32,
}

impl Finding {
    /// The byte range of the value.
    pub fn span(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}
