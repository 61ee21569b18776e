//! What replaces a finding: the anonymisation operators.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::kind::Kind;

/// How a finding is replaced in the output.
///
/// Every operator replaces the *whole* span of a finding (after overlapping
/// findings are merged), so no part of a value is left unless the operator
/// keeps it on purpose ([`PartialMask`] keeps the last digits).
#[derive(Clone, Debug, Default)]
pub enum Operator {
    /// Removes the value: `PESEL 44051401359` → `PESEL `. Unlike the other
    /// operators it is not idempotent: after `password: hunter2 next` becomes
    /// `password:  next`, a second pass reads `next` as the password.
    Redact,
    /// Replaces the value with its kind: `<PL_PESEL>`. The default.
    #[default]
    Label,
    /// Masks characters and keeps a few: `+48 601 234 567` → `+48 XXX XXX 567`.
    /// The digits it keeps are still digits: on a second pass they can join a
    /// neighbouring number into a new finding, which is then masked too
    /// (never less than before).
    Partial(PartialMask),
    /// Replaces the value with its ciphertext under a palisade-crypt keyring,
    /// which the key holder can reverse: `<EMAIL:pcrypt:…>` (feature `crypt`).
    #[cfg(feature = "crypt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "crypt")))]
    Encrypt(crate::crypt::Encryptor),
    /// Replaces the value with a keyed, deterministic token:
    /// `<EMAIL:k3m9w2hq4x7dfa5e>`. Equal values give equal tokens under one
    /// key, so masked records can still be joined; without the key the token
    /// reveals nothing.
    Hash(HashKey),
}

/// Partial masking, after Google Cloud DLP's character masking: characters of
/// the value are replaced by a masking character, except the last
/// `keep_last` and any character to ignore.
///
/// What is masked depends on the kind: in numbers (telephone, cards,
/// identifiers) only digits, so the layout stays readable
/// (`+48 XXX XXX 567`; the country calling code is kept, see
/// [`PartialMask::keep_country_code`]); in an e-mail address the local part
/// but its first character (`jXXXXXX@example.com`); in an IBAN every letter
/// and digit but the country code and the last ones; in other kinds every
/// character that is not punctuation or space. A [`Kind::Secret`] is always
/// masked whole, as eight masking characters, so neither its end nor its
/// length is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartialMask {
    mask_char: char,
    keep_last: usize,
    keep_country_code: bool,
    ignore: Vec<char>,
}

impl Default for PartialMask {
    /// `X`, keeping the last three characters and the country calling code.
    fn default() -> Self {
        Self {
            mask_char: 'X',
            keep_last: 3,
            keep_country_code: true,
            ignore: Vec::new(),
        }
    }
}

impl PartialMask {
    /// Masks with `mask_char`, keeping the last `keep_last` maskable
    /// characters. A digit as `mask_char` is refused: the output would still
    /// look like (and could validate as) a number.
    pub fn new(mask_char: char, keep_last: usize) -> Result<Self> {
        if mask_char.is_ascii_digit() {
            return Err(Error::MaskCharDigit(mask_char));
        }
        Ok(Self {
            mask_char,
            keep_last,
            ..Self::default()
        })
    }

    /// The character masked characters are replaced by. On ASCII text the
    /// mask writes only the text's own bytes and this character's.
    pub fn mask_char(&self) -> char {
        self.mask_char
    }

    /// Whether the country calling code of an international telephone number
    /// stays visible (default: yes).
    pub fn keep_country_code(mut self, keep: bool) -> Self {
        self.keep_country_code = keep;
        self
    }

    /// Characters never masked (Cloud DLP's *characters to ignore*).
    pub fn ignore(mut self, chars: impl IntoIterator<Item = char>) -> Self {
        self.ignore = chars.into_iter().collect();
        self
    }

    fn apply(&self, kind: Kind, value: &[u8], out: &mut Vec<u8>) {
        if kind != Kind::Secret && value.is_ascii() {
            self.apply_ascii(kind, value, out);
        } else {
            self.apply_general(kind, value, out);
        }
    }

    /// [`PartialMask::apply_general`] for ASCII text, byte by byte: the same
    /// bytes out (each character is one byte, so character and byte
    /// positions agree), without the general path's lossy copy and per
    /// character decoding. `value` is ASCII and `kind` is not
    /// [`Kind::Secret`].
    fn apply_ascii(&self, kind: Kind, value: &[u8], out: &mut Vec<u8>) {
        let mut mc = [0u8; 4];
        let mask = self.mask_char.encode_utf8(&mut mc).as_bytes();
        // An international number, masked with one byte: its digits found
        // once, for the calling code and the mask both.
        if kind == Kind::Phone
            && self.keep_country_code
            && self.ignore.is_empty()
            && let [single] = mask
            && let mut digits = crate::phone::Digits::new()
            && digits.read(value)
        {
            let keep_front = code_len(digits.country_code(value));
            digits.mask(value, keep_front, self.keep_last, *single, out);
            return;
        }
        let (keep_front, tail_end) = match kind {
            Kind::Email => (1, memchr::memrchr(b'@', value).unwrap_or(value.len())),
            Kind::Iban => (2, value.len()),
            Kind::Phone if self.keep_country_code && value.first() == Some(&b'+') => (
                code_len(crate::phone::country_code_of_bytes(value)),
                value.len(),
            ),
            _ => (0, value.len()),
        };
        // An e-mail address keeps no last characters: its local part is
        // masked to its end.
        let keep_last = if kind == Kind::Email {
            0
        } else {
            self.keep_last
        };
        let span = Span {
            keep_front,
            tail_end,
            keep_last,
        };
        let class = if kind.is_numeric() {
            &ASCII_DIGITS
        } else {
            &ASCII_TEXT
        };
        if self.ignore.is_empty() {
            // The common case: the class's table as it is.
            span.mask(value, mask, out, class);
        } else {
            // The class less the characters to ignore.
            let mut maskable = *class;
            for c in &self.ignore {
                if let Some(m) = u8::try_from(u32::from(*c))
                    .ok()
                    .and_then(|b| maskable.get_mut(usize::from(b)))
                {
                    *m = false;
                }
            }
            span.mask(value, mask, out, &maskable);
        }
    }

    /// Partial masking of any text, character by character (invalid UTF-8
    /// read lossily).
    fn apply_general(&self, kind: Kind, value: &[u8], out: &mut Vec<u8>) {
        let mut mc = [0u8; 4];
        let mask = self.mask_char.encode_utf8(&mut mc).as_bytes();
        if kind == Kind::Secret {
            for _ in 0..8 {
                out.extend_from_slice(mask);
            }
            return;
        }
        let text = String::from_utf8_lossy(value);
        let numeric = kind.is_numeric();
        let maskable = |c: char| {
            !self.ignore.contains(&c)
                && if numeric {
                    c.is_ascii_digit()
                } else {
                    !c.is_ascii_punctuation() && !c.is_whitespace()
                }
        };
        // Characters kept at the front: the e-mail local part's first, the
        // IBAN country code, the telephone country calling code.
        let (mut keep_front, tail_end) = match kind {
            Kind::Email => (1, text.rfind('@').unwrap_or(text.len())),
            Kind::Iban => (2, text.len()),
            Kind::Phone if self.keep_country_code && text.starts_with('+') => {
                (country_code_len(&text), text.len())
            }
            _ => (0, text.len()),
        };
        let total = text
            .get(..tail_end)
            .unwrap_or("")
            .chars()
            .filter(|&c| maskable(c))
            .count();
        let keep_from = if kind == Kind::Email {
            total
        } else {
            total.saturating_sub(self.keep_last)
        };
        let mut seen = 0;
        for (i, c) in text.char_indices() {
            if i < tail_end && maskable(c) {
                let visible = keep_front > 0 || seen >= keep_from;
                keep_front = keep_front.saturating_sub(1);
                seen += 1;
                if !visible {
                    out.extend_from_slice(mask);
                    continue;
                }
            }
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        }
    }
}

/// Which characters of an ASCII value a partial mask replaces: of the
/// maskable characters before `tail_end`, counted from 0, those from the
/// `keep_front`th to before the last `keep_last`.
struct Span {
    keep_front: usize,
    tail_end: usize,
    keep_last: usize,
}

impl Span {
    /// Appends `value` to `out`, its masked characters replaced by `mask`:
    /// those `maskable` between the one after the first `keep_front`
    /// maskable characters and the first of the last `keep_last` (no
    /// count of them all: each end is found from its side).
    #[inline]
    fn mask(&self, value: &[u8], mask: &[u8], out: &mut Vec<u8>, maskable: &[bool; 256]) {
        let maskable = |b: u8| maskable.get(usize::from(b)).copied().unwrap_or(false);
        let head = value.get(..self.tail_end).unwrap_or(&[]);
        let from = match self.keep_front {
            0 => 0,
            n => nth_maskable(head.iter().enumerate(), n, maskable).map_or(head.len(), |i| i + 1),
        };
        let to = match self.keep_last {
            0 => head.len(),
            n => nth_maskable(head.iter().enumerate().rev(), n, maskable).unwrap_or(0),
        };
        let to = to.max(from);
        if let [single] = mask {
            // A one-byte mask: the value copied, the masked characters
            // replaced in place.
            let start = out.len();
            out.extend_from_slice(value);
            let masked = out
                .get_mut(start.saturating_add(from)..start.saturating_add(to))
                .unwrap_or(&mut []);
            for b in masked {
                if maskable(*b) {
                    *b = *single;
                }
            }
            return;
        }
        let middle = value.get(from..to).unwrap_or(&[]);
        let replaced = middle.iter().filter(|&&b| maskable(b)).count();
        out.reserve(
            value
                .len()
                .saturating_add(mask.len().saturating_sub(1).saturating_mul(replaced)),
        );
        out.extend_from_slice(value.get(..from).unwrap_or(&[]));
        for &b in middle {
            if maskable(b) {
                out.extend_from_slice(mask);
            } else {
                out.push(b);
            }
        }
        out.extend_from_slice(value.get(to..).unwrap_or(&[]));
    }
}

/// The place of the `n`th byte (counted from 1) that `maskable` takes,
/// going through `places` (bytes with their places, in either direction).
#[inline]
fn nth_maskable<'v>(
    places: impl Iterator<Item = (usize, &'v u8)>,
    n: usize,
    maskable: impl Fn(u8) -> bool,
) -> Option<usize> {
    places
        .filter(|&(_, &b)| maskable(b))
        .nth(n.checked_sub(1)?)
        .map(|(i, _)| i)
}

/// The ASCII characters a partial mask masks, one entry a byte (none
/// beyond ASCII, which the ASCII path never sees): digits in numbers; in
/// other kinds, every character but punctuation and whitespace as
/// `char::is_whitespace` has it (tab, line feed, vertical tab, form feed,
/// carriage return, space; unlike `u8::is_ascii_whitespace`, which leaves
/// out vertical tab).
#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of bounds fails the build"
)]
const fn ascii_set(numeric: bool) -> [bool; 256] {
    let mut set = [false; 256];
    let mut b = 0u8;
    while b < 128 {
        set[b as usize] = if numeric {
            b.is_ascii_digit()
        } else {
            !b.is_ascii_punctuation() && !matches!(b, b'\t'..=b'\r' | b' ')
        };
        b += 1;
    }
    set
}

static ASCII_DIGITS: [bool; 256] = ascii_set(true);
static ASCII_TEXT: [bool; 256] = ascii_set(false);

/// Digits of the country calling code of an international number (`+48` →
/// 2), 0 when it has none. Calling codes are a prefix code (ITU-T E.164):
/// the one assigned code that prefixes the digits after `+` is the number's,
/// found by looking up its one-, two- and three-digit prefixes in
/// libphonenumber's metadata, without parsing the whole number.
fn country_code_len(text: &str) -> usize {
    code_len(crate::phone::country_code(text))
}

/// The digits of a calling code as written (`code.to_string().len()`), 0
/// without one.
fn code_len(code: Option<u16>) -> usize {
    code.map_or(0, |code| {
        code.checked_ilog10().map_or(1, |log| log as usize + 1)
    })
}

/// The key of the [`Operator::Hash`] tokens: at least 16 bytes, wiped from
/// memory when dropped, never shown by `Debug`.
#[derive(Clone)]
pub struct HashKey(Zeroizing<Vec<u8>>);

impl HashKey {
    /// The shortest key accepted, in bytes.
    pub const MIN_LEN: usize = 16;
    /// Bytes of HMAC-SHA256 output kept in a token (80 bits: 16 base32 letters).
    pub const TOKEN_BYTES: usize = 10;

    /// A key from raw bytes (read from a file or a secret store, never typed
    /// on a command line).
    pub fn new(key: &[u8]) -> Result<Self> {
        if key.len() < Self::MIN_LEN {
            return Err(Error::KeyTooShort { len: key.len() });
        }
        Ok(Self(Zeroizing::new(key.to_vec())))
    }

    /// The token of `value` of `kind`, without the angle brackets:
    /// `EMAIL:k3m9w2hq4x7dfa5e`. The value is normalised first (digits only
    /// for numbers, upper case for IBANs, lower case for e-mail addresses),
    /// so `+48 601 234 567` and `+48601234567` share a token. The kind is
    /// part of the MAC input: equal strings of different kinds do not collide.
    pub fn token(&self, kind: Kind, value: &[u8]) -> String {
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            // HMAC accepts keys of any length; this arm is unreachable.
            Err(_) => return format!("{kind}:"),
        };
        mac.update(kind.name().as_bytes());
        mac.update(&[0]);
        let normalised: Vec<u8> = match kind {
            k if k.is_numeric() => value.iter().copied().filter(u8::is_ascii_digit).collect(),
            Kind::Iban => value
                .iter()
                .filter(|b| b.is_ascii_alphanumeric())
                .map(u8::to_ascii_uppercase)
                .collect(),
            Kind::Email => value.to_ascii_lowercase(),
            _ => value.to_vec(),
        };
        mac.update(&normalised);
        let tag = mac.finalize().into_bytes();
        let mut token = String::with_capacity(kind.name().len() + 17);
        token.push_str(kind.name());
        token.push(':');
        base32(tag.get(..Self::TOKEN_BYTES).unwrap_or(&[]), &mut token);
        token
    }
}

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashKey").finish_non_exhaustive()
    }
}

/// RFC 4648 base32, lower case, no padding, appended to `out`.
fn base32(bytes: &[u8], out: &mut String) {
    let start = out.len();
    data_encoding::BASE32_NOPAD.encode_append(bytes, out);
    if let Some(appended) = out.get_mut(start..) {
        appended.make_ascii_lowercase();
    }
}

impl Operator {
    /// Appends the replacement of `value`, a whole value of `kind`, to
    /// `out`: the bytes of [`Masker::mask_value`](crate::Masker::mask_value)
    /// with this operator, for a caller that writes them on (a serializer
    /// writing a response) without a `String` in between. The bytes are
    /// UTF-8 for the operators here; `mask_value` reads any that are not
    /// lossily, and so should a caller.
    ///
    /// ```
    /// use palisade_pii::{Kind, Operator, PartialMask};
    ///
    /// let operator = Operator::Partial(PartialMask::default());
    /// let mut out = b"phone: ".to_vec();
    /// operator.apply_into(Kind::Phone, "+48 601 234 211", &mut out)?;
    /// assert_eq!(out, b"phone: +48 XXX XXX 211");
    /// # Ok::<(), palisade_pii::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the operator fails (see [`Masker::mask`](crate::Masker::mask));
    /// `out` may then hold part of a replacement after what it held before.
    pub fn apply_into(&self, kind: Kind, value: &str, out: &mut Vec<u8>) -> Result<()> {
        self.apply(kind, value.as_bytes(), out)
    }

    /// Appends the replacement of `value`, a finding of `kind`, to `out`.
    pub(crate) fn apply(&self, kind: Kind, value: &[u8], out: &mut Vec<u8>) -> Result<()> {
        match self {
            Operator::Redact => {}
            Operator::Label => {
                out.push(b'<');
                out.extend_from_slice(kind.name().as_bytes());
                out.push(b'>');
            }
            Operator::Partial(p) => p.apply(kind, value, out),
            Operator::Hash(key) => {
                out.push(b'<');
                out.extend_from_slice(key.token(kind, value).as_bytes());
                out.push(b'>');
            }
            #[cfg(feature = "crypt")]
            Operator::Encrypt(enc) => enc.apply(kind, value, out)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod country_code_tests {
    use super::country_code_len;

    /// The prefix lookup agrees with a full libphonenumber parse on every
    /// valid international number of every region's example numbers.
    #[test]
    fn calling_codes_agree_with_a_full_parse() {
        let mut checked = 0;
        for meta in phonenumber::metadata::DATABASE.iter() {
            let code = meta.country_code();
            for example in [meta.descriptors().fixed_line(), meta.descriptors().mobile()]
                .into_iter()
                .flatten()
                .filter_map(|d| d.example())
            {
                let text = format!("+{code} {example}");
                if let Ok(parsed) = phonenumber::parse(None, &text) {
                    assert_eq!(
                        country_code_len(&text),
                        parsed.code().value().to_string().len(),
                        "{text}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 400, "{checked} numbers checked");
        assert_eq!(country_code_len("601 234 567"), 0);
        assert_eq!(country_code_len("+"), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn partial(p: &PartialMask, kind: Kind, v: &str) -> String {
        let mut out = Vec::new();
        p.apply(kind, v.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn partial_examples() {
        let p = PartialMask::default();
        assert_eq!(
            partial(&p, Kind::Phone, "+48 601 234 567"),
            "+48 XXX XXX 567"
        );
        assert_eq!(
            partial(&p, Kind::PaymentCard, "4111 1111 1111 1111"),
            "XXXX XXXX XXXX X111"
        );
        assert_eq!(
            partial(&p, Kind::Email, "jan.kowalski@example.com"),
            "jXX.XXXXXXXX@example.com"
        );
        assert_eq!(partial(&p, Kind::Secret, "hunter2"), "XXXXXXXX");
        let four = PartialMask::new('*', 4).unwrap().ignore(['-']);
        assert_eq!(
            partial(&four, Kind::PlNip, "123-456-32-18"),
            "***-***-32-18"
        );
        assert!(PartialMask::new('7', 1).is_err());
    }

    fn kinds() -> impl Strategy<Value = Kind> {
        prop_oneof![
            Just(Kind::Phone),
            Just(Kind::Email),
            Just(Kind::Iban),
            Just(Kind::PaymentCard),
            Just(Kind::PlPesel),
            Just(Kind::IpAddress),
            Just(Kind::Secret),
            Just(Kind::Custom("NAME")),
        ]
    }

    fn masks() -> impl Strategy<Value = PartialMask> {
        (
            prop_oneof![
                Just('X'),
                Just('*'),
                Just('#'),
                Just('é'),
                Just('█'),
                Just(' ')
            ],
            0usize..6,
            any::<bool>(),
            prop::collection::vec(
                prop_oneof![
                    Just('-'),
                    Just(' '),
                    Just('@'),
                    Just('a'),
                    Just('4'),
                    Just('ł')
                ],
                0..3,
            ),
        )
            .prop_map(|(c, keep, cc, ignore)| {
                PartialMask::new(c, keep)
                    .unwrap()
                    .keep_country_code(cc)
                    .ignore(ignore)
            })
    }

    /// Text shaped like the values masked: telephone numbers with and
    /// without a calling code, e-mail addresses, IBANs, and any ASCII
    /// (control characters, every whitespace, punctuation).
    fn ascii_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\+[0-9]{1,3}[ -]?[0-9 ()./-]{0,16}",
            "[0-9 ()+-]{0,18}",
            "[a-z0-9._%+-]{0,12}@[a-z0-9.-@]{0,12}",
            "[A-Z]{2}[0-9]{2}[ A-Z0-9]{0,24}",
            "[\\x00-\\x7f]{0,24}",
        ]
    }

    proptest! {
        /// The ASCII fast path writes the same bytes as the general path.
        #[test]
        fn ascii_path_equals_general_path(
            mask in masks(),
            kind in kinds(),
            text in ascii_text(),
        ) {
            prop_assume!(kind != Kind::Secret);
            let (mut fast, mut general) = (Vec::new(), Vec::new());
            mask.apply_ascii(kind, text.as_bytes(), &mut fast);
            mask.apply_general(kind, text.as_bytes(), &mut general);
            prop_assert_eq!(fast, general, "{:?} {:?}", kind, text);
        }

        /// On any input (UTF-8 or not), `apply` agrees with the general path.
        #[test]
        fn apply_equals_general_path_on_any_bytes(
            mask in masks(),
            kind in kinds(),
            text in prop_oneof![
                ascii_text().prop_map(String::into_bytes),
                any::<String>().prop_map(String::into_bytes),
                prop::collection::vec(any::<u8>(), 0..24),
            ],
        ) {
            let (mut fast, mut general) = (b"prefix ".to_vec(), b"prefix ".to_vec());
            mask.apply(kind, &text, &mut fast);
            mask.apply_general(kind, &text, &mut general);
            prop_assert_eq!(fast, general);
        }
    }

    /// `apply_into` appends exactly the bytes of `Masker::mask_value`, with
    /// every operator, on values of every shape.
    #[test]
    fn apply_into_appends_mask_value() {
        let operators = [
            Operator::Redact,
            Operator::Label,
            Operator::Partial(PartialMask::default()),
            Operator::Partial(PartialMask::new('█', 1).unwrap().ignore(['-'])),
            Operator::Partial(PartialMask::new('"', 2).unwrap().keep_country_code(false)),
            Operator::Hash(HashKey::new(&[7; 32]).unwrap()),
        ];
        let values = [
            "+48 601 234 567",
            "+1 (202) 555-0143",
            "jan.kowalski@example.com",
            "PL61 1090 1014 0000 0712 1981 2874",
            "Zażółć gęślą jaźń",
            "tab\there \"quoted\" \\ back",
            "",
            "+",
        ];
        for operator in operators {
            let masker = crate::Masker::new(operator.clone());
            for value in values {
                for kind in [
                    Kind::Phone,
                    Kind::Email,
                    Kind::Iban,
                    Kind::Secret,
                    Kind::Custom("NAME"),
                ] {
                    let mut out = b"kept ".to_vec();
                    operator.apply_into(kind, value, &mut out).unwrap();
                    let expected = masker.mask_value(kind, value).unwrap();
                    assert_eq!(
                        String::from_utf8(out).unwrap(),
                        format!("kept {expected}"),
                        "{kind:?} {value:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn base32_known_answer() {
        // RFC 4648 section 10: BASE32("fooba") = "MZXW6YTB".
        let mut s = String::new();
        base32(b"fooba", &mut s);
        assert_eq!(s, "mzxw6ytb");
    }

    #[test]
    fn hash_tokens_are_keyed_and_normalised() {
        let k1 = HashKey::new(&[1; 32]).unwrap();
        let k2 = HashKey::new(&[2; 32]).unwrap();
        let a = k1.token(Kind::Phone, b"+48 601 234 567");
        assert_eq!(a, k1.token(Kind::Phone, b"+48601234567"));
        assert_ne!(a, k2.token(Kind::Phone, b"+48601234567"));
        assert!(a.starts_with("PHONE:") && a.len() == 6 + 16);
        assert!(HashKey::new(&[0; 15]).is_err());
        assert_eq!(format!("{k1:?}"), "HashKey { .. }");
    }
}
