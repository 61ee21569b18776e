//! Context words: a word naming the kind shortly before a value raises the
//! confidence of a finding (Presidio's context enhancement), and is required
//! for the weakest shapes (a bare nine-digit SSN).

use crate::kind::Kind;

/// How far before a value context words are looked for, in bytes.
const WINDOW: usize = 48;
/// How much a context word adds to the confidence.
const BOOST: f32 = 0.3;

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

/// `base`, raised by [`BOOST`] (to at most 1.0) when a context word for `kind`
/// stands in the [`WINDOW`] bytes before `start`; `base` unchanged otherwise.
pub(crate) fn context_boost(text: &[u8], start: usize, kind: Kind, base: f32) -> f32 {
    let list = words(kind);
    if list.is_empty() {
        return base;
    }
    let from = start.saturating_sub(WINDOW);
    let Some(window) = text.get(from..start) else {
        return base;
    };
    let mut lower = [0u8; WINDOW];
    let Some(lw) = lower.get_mut(..window.len()) else {
        return base;
    };
    for (l, b) in lw.iter_mut().zip(window) {
        *l = b.to_ascii_lowercase();
    }
    let hit = list.iter().any(|w| {
        lw.windows(w.len()).enumerate().any(|(i, win)| {
            // The word must start a word (not `internet` for `inn`).
            win == *w && (i == 0 || !lw.get(i - 1).is_some_and(u8::is_ascii_alphabetic))
        })
    });
    if hit { (base + BOOST).min(1.0) } else { base }
}
