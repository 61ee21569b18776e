//! Parsing and encoding of stored password hashes: Argon2 PHC strings and the
//! legacy formats this crate verifies.
//!
//! Parsing never hashes and never panics; costs are checked against the
//! verifier's ceilings later, when a verification is asked for.

use core::fmt;

use argon2::password_hash::PasswordHash;
use base64ct::{Base64, Base64Unpadded, Encoding};

use crate::{Error, Params, Result};

/// The scheme of a stored password hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Scheme {
    /// Argon2id (RFC 9106), the scheme new hashes use.
    Argon2id,
    /// Argon2i, verify-only.
    Argon2i,
    /// Argon2d, verify-only.
    Argon2d,
    /// bcrypt `$2a$`, `$2b$`, `$2y$`, verify-only (feature `bcrypt`).
    Bcrypt,
    /// Django's `pbkdf2_sha256$iterations$salt$hash`, verify-only (feature `pbkdf2`).
    DjangoPbkdf2Sha256,
    /// passlib's `$pbkdf2-sha256$rounds$salt$hash`, verify-only (feature `pbkdf2`).
    PasslibPbkdf2Sha256,
    /// scrypt as the PHC string `$scrypt$ln=…,r=…,p=…$salt$hash` written by
    /// passlib and RustCrypto's scrypt crate, verify-only (feature `scrypt`).
    Scrypt,
}

#[cfg(feature = "serde")]
impl serde::Serialize for Scheme {
    /// As its [`name`](Scheme::name).
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> core::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl Scheme {
    /// Every scheme this crate knows, compiled in or not.
    pub const ALL: [Scheme; 7] = [
        Scheme::Argon2id,
        Scheme::Argon2i,
        Scheme::Argon2d,
        Scheme::Bcrypt,
        Scheme::DjangoPbkdf2Sha256,
        Scheme::PasslibPbkdf2Sha256,
        Scheme::Scrypt,
    ];

    /// The scheme's short name, as printed by the CLI and in JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Scheme::Argon2id => "argon2id",
            Scheme::Argon2i => "argon2i",
            Scheme::Argon2d => "argon2d",
            Scheme::Bcrypt => "bcrypt",
            Scheme::DjangoPbkdf2Sha256 => "django-pbkdf2-sha256",
            Scheme::PasslibPbkdf2Sha256 => "passlib-pbkdf2-sha256",
            Scheme::Scrypt => "scrypt",
        }
    }

    /// Whether this build can verify the scheme (its cargo feature is on).
    pub const fn is_compiled_in(self) -> bool {
        match self {
            Scheme::Argon2id | Scheme::Argon2i | Scheme::Argon2d => true,
            Scheme::Bcrypt => cfg!(feature = "bcrypt"),
            Scheme::DjangoPbkdf2Sha256 | Scheme::PasslibPbkdf2Sha256 => cfg!(feature = "pbkdf2"),
            Scheme::Scrypt => cfg!(feature = "scrypt"),
        }
    }

    /// Whether the scheme is kept for verification only: hashes in it are
    /// upgraded to Argon2id on the next successful login.
    pub const fn is_legacy(self) -> bool {
        !matches!(self, Scheme::Argon2id)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed stored password hash of any supported scheme.
///
/// [`StoredHash::parse`] accepts every format listed in [`Scheme`];
/// `Display` writes the canonical form, which parses back to an equal value.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredHash {
    pub(crate) kind: Kind,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Argon2 {
        scheme: Scheme,
        version: argon2::Version,
        params: Params,
        keyid: Vec<u8>,
        data: Vec<u8>,
        salt: Vec<u8>,
        tag: Vec<u8>,
    },
    Bcrypt {
        /// The whole `$2b$cc$…` string, handed to the bcrypt crate as is.
        encoded: String,
        cost: u32,
    },
    Pbkdf2 {
        scheme: Scheme,
        iterations: u32,
        salt: Vec<u8>,
        tag: Vec<u8>,
    },
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: Vec<u8>,
        tag: Vec<u8>,
    },
}

const MALFORMED_PHC: Error = Error::HashMalformed("not a valid PHC string");

impl StoredHash {
    /// Parses a stored hash.
    ///
    /// # Errors
    /// [`Error::HashMalformed`] or [`Error::SchemeUnsupported`]; the input is
    /// never echoed back.
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() > 512 {
            return Err(Error::HashMalformed("longer than 512 bytes"));
        }
        if let Some(rest) = s.strip_prefix("pbkdf2_sha256$") {
            return parse_django(rest);
        }
        if s.starts_with("$2") {
            return parse_bcrypt(s);
        }
        if let Some(rest) = s.strip_prefix("$pbkdf2-sha256$") {
            return parse_passlib(rest);
        }
        if !s.starts_with('$') {
            return Err(Error::SchemeUnsupported);
        }
        let phc = PasswordHash::new(s).map_err(|_| MALFORMED_PHC)?;
        match phc.algorithm.as_str() {
            "argon2id" => parse_argon2(&phc, Scheme::Argon2id),
            "argon2i" => parse_argon2(&phc, Scheme::Argon2i),
            "argon2d" => parse_argon2(&phc, Scheme::Argon2d),
            "scrypt" => parse_scrypt(&phc),
            _ => Err(Error::SchemeUnsupported),
        }
    }

    /// The hash's scheme.
    pub fn scheme(&self) -> Scheme {
        match &self.kind {
            Kind::Argon2 { scheme, .. } | Kind::Pbkdf2 { scheme, .. } => *scheme,
            Kind::Bcrypt { .. } => Scheme::Bcrypt,
            Kind::Scrypt { .. } => Scheme::Scrypt,
        }
    }

    /// The Argon2 parameters, for Argon2 hashes.
    pub fn argon2_params(&self) -> Option<Params> {
        match &self.kind {
            Kind::Argon2 { params, .. } => Some(*params),
            _ => None,
        }
    }

    /// The pepper key id recorded in an Argon2 hash (`keyid=`), if any.
    pub fn pepper_id(&self) -> Option<String> {
        match &self.kind {
            Kind::Argon2 { keyid, .. } if !keyid.is_empty() => {
                Some(String::from_utf8_lossy(keyid).into_owned())
            }
            _ => None,
        }
    }
}

impl fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The tag is an offline-crackable verifier: leave it out.
        f.debug_struct("StoredHash")
            .field("scheme", &self.scheme())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for StoredHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Argon2 {
                scheme,
                version,
                params,
                keyid,
                data,
                salt,
                tag,
            } => {
                write!(
                    f,
                    "${}$v={}$m={},t={},p={}",
                    scheme,
                    u32::from(*version),
                    params.m_cost(),
                    params.t_cost(),
                    params.p_cost()
                )?;
                if !keyid.is_empty() {
                    write!(f, ",keyid={}", Base64Unpadded::encode_string(keyid))?;
                }
                if !data.is_empty() {
                    write!(f, ",data={}", Base64Unpadded::encode_string(data))?;
                }
                write!(
                    f,
                    "${}${}",
                    Base64Unpadded::encode_string(salt),
                    Base64Unpadded::encode_string(tag)
                )
            }
            Kind::Bcrypt { encoded, .. } => f.write_str(encoded),
            Kind::Pbkdf2 {
                scheme: Scheme::DjangoPbkdf2Sha256,
                iterations,
                salt,
                tag,
            } => write!(
                f,
                "pbkdf2_sha256${iterations}${}${}",
                String::from_utf8_lossy(salt),
                Base64::encode_string(tag)
            ),
            Kind::Pbkdf2 {
                iterations,
                salt,
                tag,
                ..
            } => write!(
                f,
                "$pbkdf2-sha256${iterations}${}${}",
                ab64_encode(salt),
                ab64_encode(tag)
            ),
            Kind::Scrypt {
                log_n,
                r,
                p,
                salt,
                tag,
            } => write!(
                f,
                "$scrypt$ln={log_n},r={r},p={p}${}${}",
                Base64Unpadded::encode_string(salt),
                Base64Unpadded::encode_string(tag)
            ),
        }
    }
}

impl core::str::FromStr for StoredHash {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// A decimal without sign or leading zeros, as every format here writes it.
fn decimal(s: &str) -> Option<u32> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

fn b64(s: &str) -> Result<Vec<u8>> {
    Base64Unpadded::decode_vec(s).map_err(|_| Error::HashMalformed("invalid base64"))
}

/// passlib's "adapted base64": standard alphabet with `.` for `+`, no padding.
fn ab64_decode(s: &str) -> Result<Vec<u8>> {
    if s.contains('+') {
        return Err(Error::HashMalformed("invalid base64"));
    }
    b64(&s.replace('.', "+"))
}

fn ab64_encode(bytes: &[u8]) -> String {
    Base64Unpadded::encode_string(bytes).replace('+', ".")
}

fn parse_argon2(phc: &PasswordHash<'_>, scheme: Scheme) -> Result<StoredHash> {
    let version = match phc.version {
        None | Some(0x10) => argon2::Version::V0x10,
        Some(0x13) => argon2::Version::V0x13,
        Some(_) => return Err(Error::HashMalformed("unknown argon2 version")),
    };
    let (mut m, mut t, mut p) = (None, None, None);
    let (mut keyid, mut data) = (Vec::new(), Vec::new());
    for (name, value) in phc.params.iter() {
        let slot = match name.as_str() {
            "m" => &mut m,
            "t" => &mut t,
            "p" => &mut p,
            "keyid" => {
                keyid = b64(value.as_str())?;
                continue;
            }
            "data" => {
                data = b64(value.as_str())?;
                continue;
            }
            _ => return Err(Error::HashMalformed("unknown argon2 parameter")),
        };
        *slot = Some(decimal(value.as_str()).ok_or(MALFORMED_PHC)?);
    }
    if keyid.len() > argon2::Params::MAX_KEYID_LEN || data.len() > argon2::Params::MAX_DATA_LEN {
        return Err(Error::HashMalformed("argon2 keyid or data too long"));
    }
    let (Some(m), Some(t), Some(p)) = (m, t, p) else {
        return Err(Error::HashMalformed("argon2 needs m, t and p"));
    };
    let salt = b64(phc.salt.ok_or(MALFORMED_PHC)?.as_str())?;
    if salt.len() < argon2::MIN_SALT_LEN {
        return Err(Error::HashMalformed("salt shorter than 8 bytes"));
    }
    let tag = phc.hash.ok_or(MALFORMED_PHC)?.as_bytes().to_vec();
    let params = Params::from_stored(m, t, p, tag.len())?;
    Ok(StoredHash {
        kind: Kind::Argon2 {
            scheme,
            version,
            params,
            keyid,
            data,
            salt,
            tag,
        },
    })
}

fn parse_scrypt(phc: &PasswordHash<'_>) -> Result<StoredHash> {
    if phc.version.is_some() {
        return Err(MALFORMED_PHC);
    }
    let (mut ln, mut r, mut p) = (None, None, None);
    for (name, value) in phc.params.iter() {
        let slot = match name.as_str() {
            "ln" => &mut ln,
            "r" => &mut r,
            "p" => &mut p,
            _ => return Err(Error::HashMalformed("unknown scrypt parameter")),
        };
        *slot = Some(decimal(value.as_str()).ok_or(MALFORMED_PHC)?);
    }
    let (Some(ln), Some(r), Some(p)) = (ln, r, p) else {
        return Err(Error::HashMalformed("scrypt needs ln, r and p"));
    };
    let log_n = u8::try_from(ln)
        .ok()
        .filter(|ln| (1..64).contains(ln))
        .ok_or(Error::HashMalformed("scrypt ln out of range"))?;
    // RFC 7914: r * p < 2^30.
    if r == 0 || p == 0 || u64::from(r) * u64::from(p) >= 1 << 30 {
        return Err(Error::HashMalformed("scrypt r or p out of range"));
    }
    let salt = b64(phc.salt.ok_or(MALFORMED_PHC)?.as_str())?;
    let tag = phc.hash.ok_or(MALFORMED_PHC)?.as_bytes().to_vec();
    Ok(StoredHash {
        kind: Kind::Scrypt {
            log_n,
            r,
            p,
            salt,
            tag,
        },
    })
}

fn parse_bcrypt(s: &str) -> Result<StoredHash> {
    const ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let malformed = Error::HashMalformed("not a bcrypt hash");
    let bytes = s.as_bytes();
    let (Some(ident), Some(cost), Some(rest)) = (s.get(..4), s.get(4..7), s.get(7..)) else {
        return Err(malformed);
    };
    if !matches!(ident, "$2a$" | "$2b$" | "$2y$") {
        return Err(Error::SchemeUnsupported);
    }
    let cost = cost
        .strip_suffix('$')
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse::<u32>().ok())
        .filter(|c| (4..=31).contains(c))
        .ok_or(Error::HashMalformed("bcrypt cost out of range"))?;
    if bytes.len() != 60 || !rest.bytes().all(|b| ALPHABET.contains(&b)) {
        return Err(malformed);
    }
    Ok(StoredHash {
        kind: Kind::Bcrypt {
            encoded: s.to_owned(),
            cost,
        },
    })
}

fn split3(rest: &str) -> Result<(&str, &str, &str)> {
    let mut parts = rest.split('$');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), Some(c), None) => Ok((a, b, c)),
        _ => Err(Error::HashMalformed("wrong number of `$` fields")),
    }
}

fn parse_django(rest: &str) -> Result<StoredHash> {
    let (iterations, salt, tag) = split3(rest)?;
    let iterations = decimal(iterations)
        .filter(|&i| i > 0)
        .ok_or(Error::HashMalformed("bad iteration count"))?;
    if salt.is_empty() {
        return Err(Error::HashMalformed("empty salt"));
    }
    let tag = Base64::decode_vec(tag).map_err(|_| Error::HashMalformed("invalid base64"))?;
    if tag.len() != 32 {
        return Err(Error::HashMalformed("pbkdf2-sha256 hash is not 32 bytes"));
    }
    Ok(StoredHash {
        kind: Kind::Pbkdf2 {
            scheme: Scheme::DjangoPbkdf2Sha256,
            iterations,
            salt: salt.as_bytes().to_vec(),
            tag,
        },
    })
}

fn parse_passlib(rest: &str) -> Result<StoredHash> {
    let (iterations, salt, tag) = split3(rest)?;
    let iterations = decimal(iterations)
        .filter(|&i| i > 0)
        .ok_or(Error::HashMalformed("bad iteration count"))?;
    let salt = ab64_decode(salt)?;
    let tag = ab64_decode(tag)?;
    if tag.len() != 32 {
        return Err(Error::HashMalformed("pbkdf2-sha256 hash is not 32 bytes"));
    }
    Ok(StoredHash {
        kind: Kind::Pbkdf2 {
            scheme: Scheme::PasslibPbkdf2Sha256,
            iterations,
            salt,
            tag,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_parses_and_round_trips() {
        for (s, scheme) in [
            (
                "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
                Scheme::Argon2id,
            ),
            (
                "$argon2d$v=16$m=32,t=2,p=3,keyid=8PDw8A,data=Dw8PDw8P$AAAAAAAAAAA$KnH4gniiaFnDvlA1xev3yovC4cnrrI6tnHOYtmja90o",
                Scheme::Argon2d,
            ),
            (
                "$2y$04$8fb7YapE3PF1KwyYEtGXG.qc.UvEVt2lRcg3u2yVhEqWf0X8LkirK",
                Scheme::Bcrypt,
            ),
            (
                "pbkdf2_sha256$1000$u33xtHaXDmXR8uPftSI0Ap$LANSrzfMKBAegscbVeAUbv3It1EN/8gC2fiV09fenm4=",
                Scheme::DjangoPbkdf2Sha256,
            ),
            (
                "$pbkdf2-sha256$1250$G.McAyDEuNf6X0tpLeX8nw$ce5hRqseZgWb53eLC5HlNzvYIUCoRw0drWF0LXYaaq0",
                Scheme::PasslibPbkdf2Sha256,
            ),
            (
                "$scrypt$ln=9,r=8,p=2$NYZQyvm/d47R2tsb45wT4g$TRm40NJp20isI+g+L8+5fxPUx2rzcnvU6ZAS8Cvsx1c",
                Scheme::Scrypt,
            ),
        ] {
            let parsed = StoredHash::parse(s).unwrap();
            assert_eq!(parsed.scheme(), scheme);
            assert_eq!(parsed.to_string(), s, "canonical form of {scheme}");
        }
    }

    #[test]
    fn missing_version_means_0x10() {
        let parsed = StoredHash::parse(
            "$argon2i$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
        )
        .unwrap();
        assert!(parsed.to_string().starts_with("$argon2i$v=16$"));
    }

    #[test]
    fn rejects_malformed_inputs() {
        for s in [
            "",
            "$",
            "plain",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ",
            "$argon2id$v=20$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=065536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=0,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2,p=1,x=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$2x$04$8fb7YapE3PF1KwyYEtGXG.qc.UvEVt2lRcg3u2yVhEqWf0X8LkirK",
            "$2b$03$8fb7YapE3PF1KwyYEtGXG.qc.UvEVt2lRcg3u2yVhEqWf0X8LkirK",
            "$2b$04$8fb7YapE3PF1KwyYEtGXG.qc.UvEVt2lRcg3u2yVhEqWf0X8Lkir",
            "$2b$04$8fb7YapE3PF1KwyYEtGXG.qc.UvEVt2lRcg3u2yVhEqWf0X8Lkir!",
            "pbkdf2_sha256$0$salt$LANSrzfMKBAegscbVeAUbv3It1EN/8gC2fiV09fenm4=",
            "pbkdf2_sha256$1000$salt$LANSrzfMKBAegscbVeAUbv3It1EN/8gC2fiV09fenm4",
            "pbkdf2_sha256$1000$$LANSrzfMKBAegscbVeAUbv3It1EN/8gC2fiV09fenm4=",
            "pbkdf2_sha256$1000$a$b$LANSrzfMKBAegscbVeAUbv3It1EN/8gC2fiV09fenm4=",
            "$pbkdf2-sha256$1000$G+McAyDEuNf6X0tpLeX8nw$ce5hRqseZgWb53eLC5HlNzvYIUCoRw0drWF0LXYaaq0",
            "$scrypt$ln=0,r=8,p=1$NYZQyvm/d47R2tsb45wT4g$TRm40NJp20isI+g+L8+5fxPUx2rzcnvU6ZAS8Cvsx1c",
            "$scrypt$ln=9,r=0,p=1$NYZQyvm/d47R2tsb45wT4g$TRm40NJp20isI+g+L8+5fxPUx2rzcnvU6ZAS8Cvsx1c",
            "$md5$rounds=1$salt$hash",
        ] {
            assert!(StoredHash::parse(s).is_err(), "accepted {s:?}");
        }
    }

    #[test]
    fn errors_do_not_echo_the_hash() {
        let s =
            "$argon2id$v=19$m=1,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        let message = StoredHash::parse(s).unwrap_err().to_string();
        assert!(
            !message.contains("CTFh") && !message.contains("c29t"),
            "{message}"
        );
    }
}
