//! `otpauth://` key URIs (Google Authenticator's Key URI Format).

use core::fmt;
use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::error::{Error, Result, UriError, echo};
use crate::otp::{Hotp, Totp};
use crate::params::{
    Algorithm, DEFAULT_DIGITS, DEFAULT_PERIOD, parse_decimal, parse_digits, parse_period,
};
#[cfg(feature = "qr")]
use crate::qr;
use crate::secret::Secret;

/// Longest URI the parser reads, in bytes (a QR code holds less).
pub const MAX_URI_LEN: usize = 4096;

/// Longest issuer or account name, in bytes. Percent-encoding at most
/// triples a name, and the issuer appears twice, so with the longest secret
/// a key's URI always stays within [`MAX_URI_LEN`] and parses back.
pub const MAX_NAME_LEN: usize = 255;

const NAME_TOO_LONG: &str = "issuer or account name is longer than 255 bytes";

/// Everything but RFC 3986's unreserved characters is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Whether a key is time-based or counter-based, with the parameter that goes
/// with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OtpKind {
    /// TOTP with its period in seconds.
    Totp {
        /// Period in seconds.
        period: u64,
    },
    /// HOTP with the counter the authenticator starts from.
    Hotp {
        /// Initial counter.
        counter: u64,
    },
}

impl OtpKind {
    /// `totp` or `hotp`, as in the URI.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Totp { .. } => "totp",
            Self::Hotp { .. } => "hotp",
        }
    }
}

/// A provisioning key in the Key URI Format:
/// `otpauth://TYPE/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=…&digits=…&period=…`.
///
/// Build one from a factor with [`KeyUri::totp`] / [`KeyUri::hotp`], or read
/// one with [`KeyUri::parse`], which rejects malformed input with a typed
/// [`Error`]. The URI contains the secret, so it has no `Display`: write it
/// out with [`KeyUri::to_uri_exposed`] (or, with the `qr` feature, draw it
/// with `KeyUri::qr_svg` / `KeyUri::qr_png`).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyUri {
    kind: OtpKind,
    secret: Secret,
    algorithm: Algorithm,
    digits: u8,
    issuer: Option<String>,
    account: String,
}

impl KeyUri {
    /// The key URI of a TOTP factor for `account` at `issuer`.
    ///
    /// Neither may be empty, longer than [`MAX_NAME_LEN`] bytes, contain a
    /// colon or a control character, or start or end with a space.
    pub fn totp(totp: &Totp, issuer: &str, account: &str) -> Result<Self> {
        Ok(Self {
            kind: OtpKind::Totp {
                period: totp.period(),
            },
            secret: totp.secret().clone(),
            algorithm: totp.algorithm(),
            digits: totp.digits(),
            issuer: Some(check_name(issuer, "issuer")?.to_owned()),
            account: check_name(account, "account")?.to_owned(),
        })
    }

    /// The key URI of an HOTP factor whose authenticator starts at `counter`.
    pub fn hotp(hotp: &Hotp, counter: u64, issuer: &str, account: &str) -> Result<Self> {
        Ok(Self {
            kind: OtpKind::Hotp { counter },
            secret: hotp.secret().clone(),
            algorithm: hotp.algorithm(),
            digits: hotp.digits(),
            issuer: Some(check_name(issuer, "issuer")?.to_owned()),
            account: check_name(account, "account")?.to_owned(),
        })
    }

    /// Parses an `otpauth://` URI.
    ///
    /// Accepts what the Key URI Format allows: scheme and type in any case,
    /// a literal or percent-encoded colon between issuer and account, spaces
    /// before the account, `+` for a space in parameter values, unknown
    /// parameters (ignored). Rejects a missing or empty secret, a secret that
    /// is not base32 or shorter than 128 bits, an unknown algorithm, digits
    /// other than 6–8, a period outside 1–86400 s, a missing HOTP counter, a
    /// repeated security parameter, an issuer prefix that differs from the
    /// `issuer` parameter, and an issuer or account name longer than
    /// [`MAX_NAME_LEN`] bytes (so whatever parses renders back to a URI that
    /// parses).
    pub fn parse(uri: &str) -> Result<Self> {
        if uri.len() > MAX_URI_LEN {
            return Err(UriError::Malformed("longer than 4096 bytes").into());
        }
        let (scheme, rest) = uri.split_once("://").ok_or(UriError::SchemeInvalid)?;
        if !scheme.eq_ignore_ascii_case("otpauth") {
            return Err(UriError::SchemeInvalid.into());
        }
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (kind_text, rest) = rest
            .split_once('/')
            .ok_or(UriError::Malformed("no label"))?;
        let is_totp = if kind_text.eq_ignore_ascii_case("totp") {
            true
        } else if kind_text.eq_ignore_ascii_case("hotp") {
            false
        } else {
            return Err(UriError::TypeUnknown(echo(kind_text)).into());
        };
        let (label, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (label_issuer, account) = parse_label(label)?;
        let params = Params::parse(query)?;

        let issuer = match (label_issuer, params.issuer) {
            (Some(label), Some(parameter)) if label != parameter => {
                return Err(UriError::IssuerMismatch {
                    label: echo(&label),
                    parameter: echo(&parameter),
                }
                .into());
            }
            (_, Some(parameter)) => Some(parameter),
            (label, None) => label,
        };
        if account.len() > MAX_NAME_LEN || issuer.as_ref().is_some_and(|i| i.len() > MAX_NAME_LEN) {
            return Err(UriError::LabelInvalid(NAME_TOO_LONG).into());
        }
        if let Some(issuer) = &issuer {
            if issuer.contains(':') {
                return Err(UriError::LabelInvalid("issuer contains a colon").into());
            }
            if issuer.chars().any(char::is_control) {
                return Err(UriError::LabelInvalid(
                    "issuer or account name contains a control character",
                )
                .into());
            }
        }
        let secret = Secret::from_base32(params.secret.as_deref().ok_or(UriError::SecretMissing)?)?;
        let algorithm = match params.algorithm {
            Some(text) => text
                .parse()
                .map_err(|_| UriError::AlgorithmUnknown(echo(&text)))?,
            None => Algorithm::Sha1,
        };
        let digits = match params.digits {
            Some(text) => parse_digits(&text)?,
            None => DEFAULT_DIGITS,
        };
        let kind = if is_totp {
            let period = match params.period {
                Some(text) => parse_period(&text)?,
                None => DEFAULT_PERIOD,
            };
            OtpKind::Totp { period }
        } else {
            let text = params.counter.ok_or(UriError::CounterMissing)?;
            let counter =
                parse_decimal(&text).ok_or_else(|| UriError::CounterInvalid(echo(&text)))?;
            OtpKind::Hotp { counter }
        };
        Ok(Self {
            kind,
            secret,
            algorithm,
            digits,
            issuer,
            account,
        })
    }

    /// The URI as text. It contains the secret in the clear.
    #[must_use]
    pub fn to_uri_exposed(&self) -> Zeroizing<String> {
        let mut uri = Zeroizing::new(String::with_capacity(160));
        uri.push_str("otpauth://");
        uri.push_str(self.kind.as_str());
        uri.push('/');
        if let Some(issuer) = &self.issuer {
            uri.extend(utf8_percent_encode(issuer, COMPONENT));
            uri.push(':');
        }
        uri.extend(utf8_percent_encode(&self.account, COMPONENT));
        uri.push_str("?secret=");
        uri.push_str(&self.secret.to_base32_exposed());
        if let Some(issuer) = &self.issuer {
            uri.push_str("&issuer=");
            uri.extend(utf8_percent_encode(issuer, COMPONENT));
        }
        uri.push_str("&algorithm=");
        uri.push_str(self.algorithm.as_str());
        uri.push_str("&digits=");
        uri.push_str(&self.digits.to_string());
        match self.kind {
            OtpKind::Totp { period } => {
                uri.push_str("&period=");
                uri.push_str(&period.to_string());
            }
            OtpKind::Hotp { counter } => {
                uri.push_str("&counter=");
                uri.push_str(&counter.to_string());
            }
        }
        uri
    }

    /// The URI as a QR code in SVG (black on white, with the quiet zone). The
    /// image encodes the secret: treat the file like the secret.
    #[cfg(feature = "qr")]
    #[cfg_attr(docsrs, doc(cfg(feature = "qr")))]
    pub fn qr_svg(&self) -> Result<Zeroizing<String>> {
        qr::svg(self.to_uri_exposed().as_bytes())
    }

    /// The URI as a QR code in PNG (8-bit greyscale, 8 pixels per module,
    /// with the quiet zone). The image encodes the secret.
    #[cfg(feature = "qr")]
    #[cfg_attr(docsrs, doc(cfg(feature = "qr")))]
    pub fn qr_png(&self) -> Result<Zeroizing<Vec<u8>>> {
        qr::png(self.to_uri_exposed().as_bytes())
    }

    /// TOTP or HOTP, with the period or initial counter.
    #[must_use]
    pub fn kind(&self) -> OtpKind {
        self.kind
    }

    /// The shared secret.
    #[must_use]
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The HMAC hash.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of digits.
    #[must_use]
    pub fn digits(&self) -> u8 {
        self.digits
    }

    /// The issuer (from the `issuer` parameter, else the label prefix).
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The account name.
    #[must_use]
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The TOTP factor this key describes (default skew and throttle).
    pub fn to_totp(&self) -> Result<Totp> {
        match self.kind {
            OtpKind::Totp { period } => Totp::new(self.secret.clone())
                .with_algorithm(self.algorithm)
                .with_digits(self.digits)?
                .with_period(period),
            OtpKind::Hotp { .. } => Err(Error::KindMismatch {
                expected: "totp",
                found: "hotp",
            }),
        }
    }

    /// The HOTP factor this key describes (default look-ahead and throttle).
    pub fn to_hotp(&self) -> Result<Hotp> {
        match self.kind {
            OtpKind::Hotp { .. } => Hotp::new(self.secret.clone())
                .with_algorithm(self.algorithm)
                .with_digits(self.digits),
            OtpKind::Totp { .. } => Err(Error::KindMismatch {
                expected: "hotp",
                found: "totp",
            }),
        }
    }
}

impl fmt::Debug for KeyUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyUri")
            .field("kind", &self.kind)
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// Checks an issuer or account name for use in a label.
fn check_name<'a>(name: &'a str, what: &'static str) -> Result<&'a str> {
    let issuer = what == "issuer";
    let reason = if name.is_empty() {
        if issuer {
            "issuer is empty"
        } else {
            "account name is empty"
        }
    } else if name.len() > MAX_NAME_LEN {
        NAME_TOO_LONG
    } else if name.contains(':') {
        if issuer {
            "issuer contains a colon"
        } else {
            "account name contains a colon"
        }
    } else if name.chars().any(char::is_control) {
        "issuer or account name contains a control character"
    } else if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        "issuer or account name starts or ends with a space"
    } else {
        return Ok(name);
    };
    Err(UriError::LabelInvalid(reason).into())
}

fn decode(text: &str) -> Result<Cow<'_, str>> {
    percent_decode_str(text)
        .decode_utf8()
        .map_err(|_| UriError::Malformed("percent-encoding is not UTF-8").into())
}

/// Splits a label into the optional issuer prefix and the account name.
fn parse_label(label: &str) -> Result<(Option<String>, String)> {
    let decoded = decode(label)?;
    if decoded.chars().any(char::is_control) {
        return Err(
            UriError::LabelInvalid("issuer or account name contains a control character").into(),
        );
    }
    let mut parts = decoded.split(':');
    let (issuer, account) = match (parts.next(), parts.next(), parts.next()) {
        (Some(account), None, _) => (None, account),
        (Some(issuer), Some(account), None) => (Some(issuer), account),
        _ => return Err(UriError::LabelInvalid("more than one colon").into()),
    };
    let account = account.trim_start_matches(' ');
    if account.is_empty() {
        return Err(UriError::LabelInvalid("account name is empty").into());
    }
    let issuer = issuer.filter(|i| !i.is_empty()).map(str::to_owned);
    Ok((issuer, account.to_owned()))
}

/// The security parameters of a query string, still as text.
#[derive(Default)]
struct Params {
    secret: Option<Zeroizing<String>>,
    issuer: Option<String>,
    algorithm: Option<String>,
    digits: Option<String>,
    period: Option<String>,
    counter: Option<String>,
}

impl Params {
    fn parse(query: &str) -> Result<Self> {
        let mut params = Self::default();
        let mut seen = [false; 6];
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(key)?;
            let slot = match key.as_ref() {
                "secret" => 0,
                "issuer" => 1,
                "algorithm" => 2,
                "digits" => 3,
                "period" => 4,
                "counter" => 5,
                _ => continue,
            };
            let seen = seen
                .get_mut(slot)
                .ok_or(UriError::Malformed("parameter table"))?;
            if *seen {
                return Err(UriError::ParameterRepeated(key.into_owned()).into());
            }
            *seen = true;
            let plus_as_space = Zeroizing::new(value.replace('+', " "));
            let value = Zeroizing::new(decode(&plus_as_space)?.into_owned());
            if value.is_empty() {
                continue;
            }
            match slot {
                0 => params.secret = Some(value),
                1 => params.issuer = Some(value.to_string()),
                2 => params.algorithm = Some(value.to_string()),
                3 => params.digits = Some(value.to_string()),
                4 => params.period = Some(value.to_string()),
                _ => params.counter = Some(value.to_string()),
            }
        }
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SecretError;

    /// Found by the `otp_uri` fuzz target: a 977-byte URI whose issuer is
    /// mostly `}`. It parsed, but its rendering (each `}` as `%7D`) was over
    /// 4096 bytes and did not parse back. Names are now bounded instead.
    #[test]
    fn names_are_bounded_so_every_parsed_key_renders_back() {
        let crash = include_str!("../tests/data/uri-render-too-long.txt");
        assert!(crash.len() < MAX_URI_LEN);
        assert_eq!(
            KeyUri::parse(crash.trim_end()),
            Err(UriError::LabelInvalid(NAME_TOO_LONG).into())
        );
        // The worst case allowed: the longest names of characters that
        // encode to three bytes each, the longest secret, every parameter
        // at its longest. It fits and round-trips.
        let name = "}".repeat(MAX_NAME_LEN);
        let secret = Secret::from_bytes(&[0xA5; crate::MAX_SECRET_LEN]).unwrap();
        let hotp = Hotp::new(secret)
            .with_algorithm(Algorithm::Sha512)
            .with_digits(8)
            .unwrap();
        let key = KeyUri::hotp(&hotp, u64::MAX, &name, &name).unwrap();
        let uri = key.to_uri_exposed();
        assert!(uri.len() <= MAX_URI_LEN, "{}", uri.len());
        assert_eq!(KeyUri::parse(&uri), Ok(key));
        // One byte more is refused by the builder and by the parser.
        let long = "}".repeat(MAX_NAME_LEN + 1);
        let totp = Totp::new(Secret::generate().unwrap());
        assert_eq!(
            KeyUri::totp(&totp, &long, "a").err(),
            Some(UriError::LabelInvalid(NAME_TOO_LONG).into())
        );
        assert_eq!(
            KeyUri::totp(&totp, "a", &long).err(),
            Some(UriError::LabelInvalid(NAME_TOO_LONG).into())
        );
        let uri = format!("otpauth://totp/a:{long}?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
        assert_eq!(
            KeyUri::parse(&uri),
            Err(UriError::LabelInvalid(NAME_TOO_LONG).into())
        );
    }

    const GOOGLE: &str = "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30";

    #[test]
    fn parses_the_key_uri_format_example() {
        let key = KeyUri::parse(GOOGLE).unwrap();
        assert_eq!(key.issuer(), Some("ACME Co"));
        assert_eq!(key.account(), "john.doe@email.com");
        assert_eq!(key.kind(), OtpKind::Totp { period: 30 });
        assert_eq!(key.algorithm(), Algorithm::Sha1);
        assert_eq!(key.digits(), 6);
        assert_eq!(
            &*key.secret().to_base32_exposed(),
            "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"
        );
        let again = KeyUri::parse(&key.to_uri_exposed()).unwrap();
        assert_eq!(again, key);
    }

    #[test]
    fn debug_leaves_the_secret_out() {
        let key = KeyUri::parse(GOOGLE).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("HXDM"), "{shown}");
        assert!(shown.ends_with(".. }"), "{shown}");
    }

    #[test]
    fn label_variants() {
        let s = "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let key = KeyUri::parse(&format!(
            "otpauth://totp/Big%20Corporation%3A%20alice%40bigco.com?{s}"
        ))
        .unwrap();
        assert_eq!(key.issuer(), Some("Big Corporation"));
        assert_eq!(key.account(), "alice@bigco.com");
        let key = KeyUri::parse(&format!("OTPAUTH://TOTP/alice?{s}&issuer=Big+Co")).unwrap();
        assert_eq!(key.issuer(), Some("Big Co"));
        assert_eq!(key.account(), "alice");
        let key = KeyUri::parse(&format!("otpauth://hotp/alice?{s}&counter=7")).unwrap();
        assert_eq!(key.kind(), OtpKind::Hotp { counter: 7 });
        assert_eq!(key.issuer(), None);
    }

    #[test]
    fn typed_rejections() {
        let s = "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let uri = Error::Uri;
        let secret = Error::Secret;
        let cases: &[(&str, Error)] = &[
            ("https://totp/a?secret=X", uri(UriError::SchemeInvalid)),
            ("otpauth:/totp/a", uri(UriError::SchemeInvalid)),
            (
                "otpauth://motp/a?x",
                uri(UriError::TypeUnknown("motp".into())),
            ),
            ("otpauth://totp", uri(UriError::Malformed("no label"))),
            ("otpauth://totp/a?issuer=b", uri(UriError::SecretMissing)),
            ("otpauth://totp/a?secret=", uri(UriError::SecretMissing)),
            (
                "otpauth://totp/a?secret=11111111111111111111111111",
                secret(SecretError::Base32Invalid),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP",
                secret(SecretError::TooShort { bits: 80 }),
            ),
            (
                &format!("otpauth://totp/a?{s}&algorithm=MD5"),
                uri(UriError::AlgorithmUnknown("MD5".into())),
            ),
            (
                &format!("otpauth://totp/a?{s}&digits=9"),
                uri(UriError::DigitsInvalid("9".into())),
            ),
            (
                &format!("otpauth://totp/a?{s}&digits=%2B6"),
                uri(UriError::DigitsInvalid("+6".into())),
            ),
            (
                &format!("otpauth://totp/a?{s}&period=0"),
                uri(UriError::PeriodInvalid("0".into())),
            ),
            (
                &format!("otpauth://totp/a?{s}&period=x"),
                uri(UriError::PeriodInvalid("x".into())),
            ),
            (
                &format!("otpauth://hotp/a?{s}"),
                uri(UriError::CounterMissing),
            ),
            (
                &format!("otpauth://hotp/a?{s}&counter=-1"),
                uri(UriError::CounterInvalid("-1".into())),
            ),
            (
                &format!("otpauth://totp/a?{s}&{s}"),
                uri(UriError::ParameterRepeated("secret".into())),
            ),
            (
                &format!("otpauth://totp/A:b?{s}&issuer=B"),
                uri(UriError::IssuerMismatch {
                    label: "A".into(),
                    parameter: "B".into(),
                }),
            ),
            (
                &format!("otpauth://totp/A:b:c?{s}"),
                uri(UriError::LabelInvalid("more than one colon")),
            ),
            (
                &format!("otpauth://totp/A:?{s}"),
                uri(UriError::LabelInvalid("account name is empty")),
            ),
            (
                &format!("otpauth://totp/b?{s}&issuer=A%3AB"),
                uri(UriError::LabelInvalid("issuer contains a colon")),
            ),
            (
                &format!("otpauth://totp/%FF?{s}"),
                uri(UriError::Malformed("percent-encoding is not UTF-8")),
            ),
        ];
        for (uri, expected) in cases {
            assert_eq!(KeyUri::parse(uri).as_ref().err(), Some(expected), "{uri}");
        }
    }

    #[test]
    fn builder_rejects_names_that_do_not_round_trip() {
        let totp = Totp::new(Secret::from_bytes(&[7; 20]).unwrap());
        for (issuer, account) in [
            ("", "a"),
            ("a", ""),
            ("a:b", "c"),
            ("a", "b:c"),
            ("a", " b"),
            ("a\n", "b"),
        ] {
            assert!(
                KeyUri::totp(&totp, issuer, account).is_err(),
                "{issuer:?} {account:?}"
            );
        }
        let key = KeyUri::totp(&totp, "ACME Co", "jo+doe@example.com").unwrap();
        assert_eq!(
            &*key.to_uri_exposed(),
            "otpauth://totp/ACME%20Co:jo%2Bdoe%40example.com?secret=A4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYH&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"
        );
    }
}
