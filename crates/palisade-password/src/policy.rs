//! Password policy after NIST SP 800-63B (rev. 4, section 3.1.1.2).

use core::fmt;
use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use unicode_normalization::UnicodeNormalization;

use crate::error::Cause;
use crate::{Error, Password, Result};

/// The blocklist shipped with the crate: Django's `common-passwords.txt`
/// (`CommonPasswordValidator`), 20,000 common passwords from Royce Williams's
/// list, lowercased; the crate README gives its provenance and license.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("data/common-passwords.txt")
        .lines()
        .filter(|line| !line.is_empty())
        .collect()
});

/// Number of passwords in the shipped blocklist.
pub fn blocklist_len() -> usize {
    COMMON.len()
}

/// A pluggable check against a corpus of breached passwords, such as a local
/// copy of Have I Been Pwned's list or its k-anonymity range API.
///
/// Closures `Fn(&Password) -> Result<bool, Cause>` implement it; any error
/// type (an HTTP client's, an I/O error, a `String`) converts into a
/// [`Cause`] with `?` or `.into()`.
pub trait BreachedPasswords: Send + Sync {
    /// Whether `password` appears in the corpus; an `Err` is why the check
    /// could not answer (it must never contain the password). It reaches the
    /// caller as the source of [`Error::BreachCheckFailed`].
    fn is_breached(&self, password: &Password) -> core::result::Result<bool, Cause>;
}

impl<F> BreachedPasswords for F
where
    F: Fn(&Password) -> core::result::Result<bool, Cause> + Send + Sync,
{
    fn is_breached(&self, password: &Password) -> core::result::Result<bool, Cause> {
        self(password)
    }
}

/// Who and where the password is for: NIST asks to refuse passwords built
/// from context-specific words (the user name, the service's name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Context {
    words: Vec<String>,
}

impl Context {
    /// Shortest context word considered; shorter ones would refuse too much.
    pub const MIN_WORD_CHARS: usize = 3;

    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a word the password must not contain (user name, first name, …).
    pub fn word(mut self, word: &str) -> Self {
        let word: String = word.nfkc().flat_map(char::to_lowercase).collect();
        if word.chars().count() >= Self::MIN_WORD_CHARS && !self.words.contains(&word) {
            self.words.push(word);
        }
        self
    }

    /// Adds the user name.
    pub fn user_name(self, name: &str) -> Self {
        self.word(name)
    }

    /// Adds an e-mail address: the local part, its pieces split at `.`, `_`,
    /// `-`, `+`, and the domain's labels except the top-level one.
    pub fn email(mut self, address: &str) -> Self {
        let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
        self = self.word(local);
        for piece in local.split(['.', '_', '-', '+']) {
            self = self.word(piece);
        }
        let labels: Vec<&str> = domain.split('.').collect();
        for label in labels.iter().take(labels.len().saturating_sub(1)) {
            self = self.word(label);
        }
        self
    }

    /// The words, lowercased and normalized.
    pub fn words(&self) -> &[String] {
        &self.words
    }
}

/// Why the policy refused a password.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Fewer characters than the minimum.
    TooShort {
        /// The minimum, in characters.
        min: usize,
    },
    /// More characters than the maximum.
    TooLong {
        /// The maximum, in characters.
        max: usize,
    },
    /// In the shipped blocklist of common passwords.
    Common,
    /// Made of repeated or sequential characters (`aaaaaa`, `1234abcd`, `abcabc`).
    Predictable,
    /// Contains a context word (user name, e-mail part, service name).
    ContextWord(String),
    /// Reported by the breached-password check.
    Breached,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::TooShort { min } => write!(f, "shorter than {min} characters"),
            Refusal::TooLong { max } => write!(f, "longer than {max} characters"),
            Refusal::Common => f.write_str("one of the most common passwords"),
            Refusal::Predictable => f.write_str("made of repeated or sequential characters"),
            Refusal::ContextWord(word) => write!(f, "contains `{word}`, a word of the context"),
            Refusal::Breached => f.write_str("found in a corpus of breached passwords"),
        }
    }
}

/// With the `serde` feature each refusal serializes as an object naming it,
/// with its bound or word and the sentence [`Display`](fmt::Display) prints:
/// `{"refusal":"too-short","min":15,"message":"shorter than 15 characters"}`.
#[cfg(feature = "serde")]
impl serde::Serialize for Refusal {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> core::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        match self {
            Refusal::TooShort { min } => {
                map.serialize_entry("refusal", "too-short")?;
                map.serialize_entry("min", min)?;
            }
            Refusal::TooLong { max } => {
                map.serialize_entry("refusal", "too-long")?;
                map.serialize_entry("max", max)?;
            }
            Refusal::Common => map.serialize_entry("refusal", "common")?,
            Refusal::Predictable => map.serialize_entry("refusal", "predictable")?,
            Refusal::ContextWord(word) => {
                map.serialize_entry("refusal", "context-word")?;
                map.serialize_entry("word", word)?;
            }
            Refusal::Breached => map.serialize_entry("refusal", "breached")?,
        }
        map.serialize_entry("message", &format_args!("{self}"))?;
        map.end()
    }
}

/// The policy's answer: accepted, or refused with every reason.
///
/// With the `serde` feature it serializes, for a sign-up form's answer or a
/// log line, as `{"accepted":false,"refusals":[{"refusal":"common","message":…}]}`
/// (each [`Refusal`] as its own `Serialize` describes). The password is never
/// part of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct PolicyVerdict {
    refusals: Vec<Refusal>,
}

#[cfg(feature = "serde")]
impl serde::Serialize for PolicyVerdict {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> core::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut out = serializer.serialize_struct("PolicyVerdict", 2)?;
        out.serialize_field("accepted", &self.is_accepted())?;
        out.serialize_field("refusals", &self.refusals)?;
        out.end()
    }
}

impl PolicyVerdict {
    /// Whether the password may be used.
    pub fn is_accepted(&self) -> bool {
        self.refusals.is_empty()
    }

    /// Why it may not; empty when accepted.
    pub fn refusals(&self) -> &[Refusal] {
        &self.refusals
    }
}

impl fmt::Display for PolicyVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.refusals.is_empty() {
            return f.write_str("accepted");
        }
        f.write_str("refused: ")?;
        for (i, refusal) in self.refusals.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{refusal}")?;
        }
        Ok(())
    }
}

/// A password policy after NIST SP 800-63B: length limits counted in
/// characters after NFKC normalization, a blocklist of common passwords,
/// predictable patterns, context words and an optional breached-password
/// check. No composition rules (no "one digit, one symbol"), by design.
///
/// ```
/// use palisade_password::{Context, Password, Policy, Refusal};
///
/// let policy = Policy::new();
/// let context = Context::new().user_name("alice").email("alice.smith@example.com");
/// let verdict = policy.check(&Password::new("qwerty123")?, &context)?;
/// assert_eq!(verdict.refusals(), &[Refusal::Common]);
/// let verdict = policy.check(&Password::new("smith and the lighthouse")?, &context)?;
/// assert_eq!(verdict.refusals(), &[Refusal::ContextWord("smith".into())]);
/// assert!(policy.check(&Password::new("ink wolf parsley tundra")?, &context)?.is_accepted());
/// # Ok::<(), palisade_password::Error>(())
/// ```
#[derive(Clone)]
pub struct Policy {
    min_chars: usize,
    max_chars: usize,
    blocklist: bool,
    words: Vec<String>,
    breached: Option<Arc<dyn BreachedPasswords>>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("min_chars", &self.min_chars)
            .field("max_chars", &self.max_chars)
            .field("blocklist", &self.blocklist)
            .field("words", &self.words)
            .field("breach_check", &self.breached.is_some())
            .finish()
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::new()
    }
}

impl Policy {
    /// Default minimum length: 8 characters, NIST's minimum for a password
    /// used with a second factor (use 15 for a password that is the only factor).
    pub const DEFAULT_MIN_CHARS: usize = 8;
    /// Default maximum length: 256 characters (NIST: at least 64).
    pub const DEFAULT_MAX_CHARS: usize = 256;

    /// The default policy: 8 to 256 characters, the shipped blocklist, no
    /// context words, no breached-password check.
    pub fn new() -> Self {
        Self {
            min_chars: Self::DEFAULT_MIN_CHARS,
            max_chars: Self::DEFAULT_MAX_CHARS,
            blocklist: true,
            words: Vec::new(),
            breached: None,
        }
    }

    /// Sets the minimum length in characters (at least 1, at most the maximum).
    ///
    /// # Errors
    /// [`Error::ParamInvalid`] when out of range.
    pub fn with_min_chars(mut self, min: usize) -> Result<Self> {
        if min == 0 || min > self.max_chars {
            return Err(Error::ParamInvalid {
                name: "min_chars",
                requirement: "must be between 1 and the maximum length",
            });
        }
        self.min_chars = min;
        Ok(self)
    }

    /// Sets the maximum length in characters: at least 64 (NIST), at most
    /// [`Password::MAX_BYTES`].
    ///
    /// # Errors
    /// [`Error::ParamInvalid`] when out of range.
    pub fn with_max_chars(mut self, max: usize) -> Result<Self> {
        if !(64..=Password::MAX_BYTES).contains(&max) || max < self.min_chars {
            return Err(Error::ParamInvalid {
                name: "max_chars",
                requirement: "must be between 64 and 1024 characters",
            });
        }
        self.max_chars = max;
        Ok(self)
    }

    /// Adds a word every password of this service is checked against (the
    /// service's name, the company's name).
    pub fn with_service_word(mut self, word: &str) -> Self {
        self.words = Context {
            words: core::mem::take(&mut self.words),
        }
        .word(word)
        .words;
        self
    }

    /// Turns the shipped blocklist off (only if you plug in a larger one).
    pub fn without_blocklist(mut self) -> Self {
        self.blocklist = false;
        self
    }

    /// Plugs in a breached-password check.
    pub fn with_breach_check(mut self, check: impl BreachedPasswords + 'static) -> Self {
        self.breached = Some(Arc::new(check));
        self
    }

    /// Checks `password` for an account described by `context`.
    ///
    /// # Errors
    /// [`Error::BreachCheckFailed`] when the breached-password check cannot answer.
    pub fn check(&self, password: &Password, context: &Context) -> Result<PolicyVerdict> {
        let mut refusals = Vec::new();
        let chars = password.char_count();
        if chars < self.min_chars {
            refusals.push(Refusal::TooShort {
                min: self.min_chars,
            });
        }
        if chars > self.max_chars {
            refusals.push(Refusal::TooLong {
                max: self.max_chars,
            });
            return Ok(PolicyVerdict { refusals });
        }
        let lower: String = password
            .normalized()
            .chars()
            .flat_map(char::to_lowercase)
            .collect();
        if self.blocklist && COMMON.contains(lower.trim()) {
            refusals.push(Refusal::Common);
        }
        if is_predictable(&lower) {
            refusals.push(Refusal::Predictable);
        }
        for word in self.words.iter().chain(context.words()) {
            if lower.contains(word.as_str()) {
                refusals.push(Refusal::ContextWord(word.clone()));
            }
        }
        if let Some(check) = &self.breached
            && check
                .is_breached(password)
                .map_err(Error::BreachCheckFailed)?
        {
            refusals.push(Refusal::Breached);
        }
        Ok(PolicyVerdict { refusals })
    }
}

/// Repeated or sequential characters: a short unit repeated (`aaaa`,
/// `abcabc`, `121212`), or at most two runs of constant step −1, 0 or +1
/// (`12345678`, `1234abcd`, `aaaa1111`, `zyxwvu`).
fn is_predictable(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    if n < 4 {
        return false;
    }
    let periodic = (1..=4).any(|period| {
        n >= 2 * period
            && chars
                .iter()
                .zip(chars.iter().skip(period))
                .all(|(a, b)| a == b)
    });
    if periodic {
        return true;
    }
    let steps: Vec<i64> = chars
        .windows(2)
        .map(|w| match w {
            [a, b] => i64::from(u32::from(*b)) - i64::from(u32::from(*a)),
            _ => i64::MAX,
        })
        .collect();
    // Split into runs of equal small steps; one break between runs is allowed.
    let mut runs = 1;
    let mut previous: Option<i64> = None;
    let mut break_pending = false;
    for step in steps {
        let small = (-1..=1).contains(&step);
        match previous {
            Some(p) if small && p == step => {}
            None if small => previous = Some(step),
            _ if !break_pending && !small && previous.is_some() => {
                // The jump between two runs.
                break_pending = true;
                runs += 1;
                previous = None;
            }
            _ => return false,
        }
        if small {
            break_pending = false;
        }
    }
    runs <= 2 && !break_pending
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictable_patterns() {
        for s in [
            "aaaaaaaa",
            "abcabcabc",
            "12121212",
            "12345678",
            "1234abcd",
            "aaaa1111",
            "zyxwvuts",
            "abcdefgh",
        ] {
            assert!(is_predictable(s), "{s}");
        }
        for s in [
            "password",
            "correct horse",
            "a1b2c3d4",
            "12345x7",
            "abc",
            "ink wolf",
            "1234abcdz",
            "aaa1bbb2",
        ] {
            assert!(!is_predictable(s), "{s}");
        }
    }

    #[test]
    fn blocklist_is_loaded() {
        assert!(blocklist_len() > 19_000);
        assert!(COMMON.contains("password") && COMMON.contains("qwerty"));
    }
}
