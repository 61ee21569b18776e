//! The palisade-pii bench corpora, generated from a fixed seed so every run
//! (and every machine) masks the same bytes.
//!
//! - [`mixed_log`]: web access-log lines (each with a client IP address),
//!   application lines with no personal data (timestamps, UUIDs, durations,
//!   version numbers) and application lines carrying one value each of
//!   thirteen kinds; lines average about 181 bytes and 55 % hold a finding.
//! - [`short_lines`]: application log lines of about 100 bytes; one in five
//!   carries one value, evenly an e-mail address, a telephone number, a card
//!   number, an IBAN, a PESEL, a CPF or a `password=…` assignment, each drawn
//!   afresh (valid check digits, telephone numbers in allocated ranges), so
//!   no value repeats often enough to be remembered; the other lines carry
//!   the digits logs are full of (times, ids, durations, counts).
//!
//! `cargo run --release -p palisade-benches --bin pii-corpus -- short 100`
//! writes the 100 MB short-line corpus to standard output.

use std::fmt::Write;

/// xorshift64*: a fixed, dependency-free generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        items.get(i).copied().unwrap_or("")
    }
    fn digit(&mut self) -> u32 {
        u32::try_from(self.below(10)).unwrap_or(0)
    }
}

const EMAILS: &[&str] = &[
    "jan.kowalski@example.pl",
    "ana.souza@example.com.br",
    "ivan@example.ru",
    "siti@example.co.id",
    "j.doe+billing@example.com",
];
const PHONES: &[&str] = &[
    "+48 601 234 567",
    "+55 11 91234-5678",
    "+7 912 345-67-89",
    "+62 812-3456-7890",
    "(11) 91234-5678",
    "+1 212 555 0123",
];
const CARDS: &[&str] = &[
    "4111 1111 1111 1111",
    "5555555555554444",
    "2223003122003222",
    "378282246310005",
    "2200000000000004",
];
const IBANS: &[&str] = &[
    "PL61 1090 1014 0000 0712 1981 2874",
    "DE89370400440532013000",
    "GB29 NWBK 6016 1331 9268 19",
    "BR1800360305000010009795493C1",
];
const PESELS: &[&str] = &["44051401359", "02070803628", "81100216357", "02270803624"];
const CPFS: &[&str] = &["111.444.777-35", "390.533.447-05", "11144477735"];
const INNS: &[&str] = &["7707083893", "500100732259"];
const SNILS: &[&str] = &["112-233-445 95", "087-654-303 00"];
const NIKS: &[&str] = &["3171015708450001", "3171011708450001"];
const SSNS: &[&str] = &["536-90-4399", "123-45-6789"];
const COMPONENTS: &[&str] = &[
    "orders",
    "billing",
    "auth",
    "search",
    "notifications",
    "inventory",
];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];

fn access_line(r: &mut Rng, out: &mut String) {
    let ip = format!(
        "{}.{}.{}.{}",
        1 + r.below(223),
        r.below(256),
        r.below(256),
        1 + r.below(254)
    );
    let _ = writeln!(
        out,
        "{ip} - - [23/Nov/2026:{:02}:{:02}:{:02} +0000] \"{} /api/v1/{}/{}?page={} HTTP/1.1\" {} {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\"",
        r.below(24),
        r.below(60),
        r.below(60),
        r.pick(METHODS),
        r.pick(COMPONENTS),
        r.below(10_000_000),
        r.below(50),
        [200, 200, 200, 201, 204, 304, 400, 404, 500]
            .get(usize::try_from(r.below(9)).unwrap_or(0))
            .copied()
            .unwrap_or(200),
        r.below(100_000)
    );
}

fn app_prefix(r: &mut Rng, out: &mut String) {
    let _ = write!(
        out,
        "2026-11-23T{:02}:{:02}:{:02}.{:03}Z {} [worker-{}] {}: ",
        r.below(24),
        r.below(60),
        r.below(60),
        r.below(1000),
        r.pick(&["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]),
        r.below(16),
        r.pick(COMPONENTS)
    );
}

fn plain_line(r: &mut Rng, out: &mut String) {
    app_prefix(r, out);
    let _ = writeln!(
        out,
        "request {:08x}-{:04x}-4{:03x}-a{:03x}-{:012x} handled in {} ms (cache hit ratio 0.{:02}, queue depth {}, build 4.12.{}, ts {})",
        r.next() as u32,
        r.below(0x10000),
        r.below(0x1000),
        r.below(0x1000),
        r.next() & 0xFFFF_FFFF_FFFF,
        r.below(2000),
        r.below(100),
        r.below(64),
        r.below(300),
        1_763_884_800 + r.below(86_400)
    );
}

fn pii_line(r: &mut Rng, out: &mut String) {
    app_prefix(r, out);
    let _ = match r.below(13) {
        0 => writeln!(out, "user {} logged in", r.pick(EMAILS)),
        1 => writeln!(out, "sms sent to {} (template otp)", r.pick(PHONES)),
        2 => writeln!(out, "payment with card {} declined, code 51", r.pick(CARDS)),
        3 => writeln!(out, "payout to IBAN {} scheduled", r.pick(IBANS)),
        4 => writeln!(out, "customer PESEL {} verified", r.pick(PESELS)),
        5 => writeln!(out, "client CPF {} registered", r.pick(CPFS)),
        6 => writeln!(out, "organisation INN {} checked", r.pick(INNS)),
        7 => writeln!(out, "SNILS {} attached to profile", r.pick(SNILS)),
        8 => writeln!(out, "KTP NIK {} uploaded", r.pick(NIKS)),
        9 => writeln!(out, "W-9 SSN {} received", r.pick(SSNS)),
        10 => writeln!(
            out,
            "login failed for admin password=Winter{}! retry",
            r.below(100)
        ),
        11 => writeln!(
            out,
            "deploy key ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234{:05} rotated",
            r.below(100_000)
        ),
        _ => writeln!(
            out,
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
        ),
    };
}

/// The mixed log corpus of about `bytes` bytes (lines of about 181 bytes).
pub fn mixed_log(bytes: usize) -> String {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = String::with_capacity(bytes + 512);
    while out.len() < bytes {
        match r.below(100) {
            0..40 => access_line(&mut r, &mut out),
            40..85 => plain_line(&mut r, &mut out),
            _ => pii_line(&mut r, &mut out),
        }
    }
    out
}

const FIRST: &[&str] = &[
    "jan", "anna", "piotr", "maria", "joao", "ana", "ivan", "olga", "siti", "budi", "john", "emma",
];
const LAST: &[&str] = &[
    "kowalski", "nowak", "souza", "silva", "petrov", "ivanova", "rahma", "santoso", "doe", "smith",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.pl",
    "mail.example.com.br",
    "example.ru",
    "example.co.id",
    "corp.example.org",
];
const SHORT_COMPONENTS: &[&str] = &["api", "auth", "billing", "orders", "search", "jobs"];
const LEVELS: &[&str] = &["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];

/// `2026-11-23THH:MM:SS.mmmZ app-N LEVEL [component] `: 45–50 bytes.
fn short_prefix(r: &mut Rng, out: &mut String) {
    let _ = write!(
        out,
        "2026-11-23T{:02}:{:02}:{:02}.{:03}Z app-{} {:<5} [{}] ",
        r.below(24),
        r.below(60),
        r.below(60),
        r.below(1000),
        1 + r.below(9),
        r.pick(LEVELS),
        r.pick(SHORT_COMPONENTS)
    );
}

/// A line without personal data: the numbers logs are full of.
fn short_plain(r: &mut Rng, out: &mut String) {
    short_prefix(r, out);
    let _ = match r.below(6) {
        0 => writeln!(
            out,
            "GET /v1/orders/{} -> {} in {} ms ({} bytes)",
            r.below(10_000_000),
            ["200", "200", "201", "304", "404", "500"]
                .get(usize::try_from(r.below(6)).unwrap_or(0))
                .copied()
                .unwrap_or("200"),
            r.below(900),
            r.below(100_000)
        ),
        1 => writeln!(
            out,
            "job {:08x} done: {} items, {} skipped, took {}.{:02}s",
            r.next() as u32,
            r.below(5000),
            r.below(50),
            r.below(60),
            r.below(100)
        ),
        2 => writeln!(
            out,
            "cache hit ratio 0.{:02}, {} keys, evicted {} (gen {})",
            r.below(100),
            r.below(1_000_000),
            r.below(1000),
            r.below(100)
        ),
        3 => writeln!(
            out,
            "retry {}/5 for task {} after {} ms backoff",
            1 + r.below(5),
            r.below(100_000_000),
            r.below(5000)
        ),
        4 => writeln!(
            out,
            "session {:016x} renewed, ttl {}s, build 4.12.{}",
            r.next(),
            r.below(7200),
            r.below(300)
        ),
        _ => writeln!(
            out,
            "queue depth {} (max {}), {} workers busy, lag {} ms",
            r.below(500),
            r.below(2000),
            r.below(32),
            r.below(10_000)
        ),
    };
}

fn digits(r: &mut Rng, n: usize) -> Vec<u32> {
    (0..n).map(|_| r.digit()).collect()
}

fn push_digits(s: &mut String, d: &[u32]) {
    for &x in d {
        s.push(char::from_digit(x, 10).unwrap_or('0'));
    }
}

fn weighted(d: &[u32], weights: &[u32]) -> u32 {
    d.iter().zip(weights).map(|(a, b)| a * b).sum()
}

fn pesel(r: &mut Rng) -> String {
    let year = r.below(100);
    let century_2000 = r.below(3) == 0;
    let month = 1 + r.below(12) + if century_2000 { 20 } else { 0 };
    let day = 1 + r.below(28);
    let mut s = format!("{year:02}{month:02}{day:02}");
    push_digits(&mut s, &digits(r, 4));
    let d: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    let check = (10 - weighted(&d, &[1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10) % 10;
    push_digits(&mut s, &[check]);
    s
}

fn cpf(r: &mut Rng) -> String {
    let mut d = digits(r, 9);
    for len in [9usize, 10] {
        let sum: u32 = d
            .iter()
            .zip((2..=u32::try_from(len + 1).unwrap_or(11)).rev())
            .map(|(a, w)| a * w)
            .sum();
        let rem = sum % 11;
        d.push(if rem < 2 { 0 } else { 11 - rem });
    }
    let mut s = String::new();
    push_digits(&mut s, &d);
    if r.below(2) == 0 {
        return s;
    }
    let (a, rest) = s.split_at(3);
    let (b, rest) = rest.split_at(3);
    let (c, e) = rest.split_at(3);
    format!("{a}.{b}.{c}-{e}")
}

fn luhn_complete(d: &mut Vec<u32>) {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 0 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    d.push((10 - sum % 10) % 10);
}

fn card(r: &mut Rng) -> String {
    let (prefix, len): (&[u32], usize) = match r.below(4) {
        0 => (&[4], 16),
        1 => (&[5, 1 + u32::try_from(r.below(5)).unwrap_or(0)], 16),
        2 => (&[2, 2, 2, 3], 16),
        _ => (&[3, 7], 15),
    };
    let mut d = prefix.to_vec();
    d.extend(digits(r, len - 1 - prefix.len()));
    luhn_complete(&mut d);
    let mut s = String::new();
    if len == 16 && r.below(2) == 0 {
        for (i, chunk) in d.chunks(4).enumerate() {
            if i > 0 {
                s.push(' ');
            }
            push_digits(&mut s, chunk);
        }
    } else {
        push_digits(&mut s, &d);
    }
    s
}

/// ISO 7064 MOD 97-10 check digits for `country` and `bban`.
fn iban(country: &str, bban: &str, grouped: bool) -> String {
    let mut rem = 0u32;
    for c in bban.chars().chain(country.chars()).chain("00".chars()) {
        let v = c.to_digit(36).unwrap_or(0);
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    let compact = format!("{country}{:02}{bban}", 98 - rem);
    if !grouped {
        return compact;
    }
    let chars: Vec<char> = compact.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

fn some_iban(r: &mut Rng) -> String {
    let grouped = r.below(2) == 0;
    let mut bban = String::new();
    match r.below(3) {
        0 => {
            push_digits(&mut bban, &digits(r, 24));
            iban("PL", &bban, grouped)
        }
        1 => {
            push_digits(&mut bban, &digits(r, 18));
            iban("DE", &bban, grouped)
        }
        _ => {
            bban.push_str(r.pick(&["NWBK", "BARC", "HBUK", "LOYD"]));
            push_digits(&mut bban, &digits(r, 14));
            iban("GB", &bban, grouped)
        }
    }
}

fn num(r: &mut Rng, k: usize) -> String {
    let mut s = String::new();
    push_digits(&mut s, &digits(r, k));
    s
}

/// A telephone number in an allocated (mobile or geographic) range.
fn phone(r: &mut Rng) -> String {
    match r.below(6) {
        0 => {
            let head = r.pick(&[
                "501", "512", "530", "601", "602", "660", "691", "721", "790",
            ]);
            format!("+48 {head} {} {}", num(r, 3), num(r, 3))
        }
        1 => format!("+55 11 9{}{}-{}", 6 + r.below(4), num(r, 3), num(r, 4)),
        2 => format!(
            "+7 9{}{} {}-{}-{}",
            r.below(7),
            num(r, 1),
            num(r, 3),
            num(r, 2),
            num(r, 2)
        ),
        3 => format!("+1 212 {}{} {}", 2 + r.below(8), num(r, 2), num(r, 4)),
        4 => format!("(11) 9{}{}-{}", 6 + r.below(4), num(r, 3), num(r, 4)),
        _ => format!("+44 7{}{} {}", 7 + r.below(3), num(r, 2), num(r, 6)),
    }
}

fn email(r: &mut Rng) -> String {
    let first = r.pick(FIRST);
    let last = r.pick(LAST);
    let domain = r.pick(DOMAINS);
    match r.below(3) {
        0 => format!("{first}.{last}@{domain}"),
        1 => format!("{first}.{last}{}@{domain}", r.below(1000)),
        _ => format!("{}{last}@{domain}", first.get(..1).unwrap_or("x")),
    }
}

fn password(r: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#%";
    let len = 8 + r.below(9);
    (0..len)
        .map(|_| {
            let i = usize::try_from(r.below(ALPHABET.len() as u64)).unwrap_or(0);
            char::from(ALPHABET.get(i).copied().unwrap_or(b'x'))
        })
        .collect()
}

/// A line carrying one value.
fn short_pii(r: &mut Rng, out: &mut String) {
    short_prefix(r, out);
    let _ = match r.below(7) {
        0 => writeln!(out, "user {} signed in from web, 2fa ok", email(r)),
        1 => writeln!(out, "sms code sent to {} (template otp-login)", phone(r)),
        2 => writeln!(out, "payment with card {} declined, code 51", card(r)),
        3 => writeln!(out, "payout to {} scheduled", some_iban(r)),
        4 => writeln!(out, "customer PESEL {} verified by registry", pesel(r)),
        5 => writeln!(out, "client CPF {} registered, plan basic", cpf(r)),
        _ => writeln!(
            out,
            "login failed for user {} password={} retry {}",
            r.below(100_000),
            password(r),
            1 + r.below(3)
        ),
    };
}

/// The short-line corpus of about `bytes` bytes (lines of about 100 bytes,
/// one in five carrying one value).
pub fn short_lines(bytes: usize) -> String {
    let mut r = Rng(0xD1B5_4A32_D192_ED03);
    let mut out = String::with_capacity(bytes + 256);
    while out.len() < bytes {
        if r.below(5) == 0 {
            short_pii(&mut r, &mut out);
        } else {
            short_plain(&mut r, &mut out);
        }
    }
    out
}
