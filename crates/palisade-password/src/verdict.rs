//! What a verification answers.

use core::fmt;

use crate::Scheme;

/// The answer to "is this the password of this stored hash?".
///
/// An invalid verdict says nothing else (no upgrade reasons), so a wrong
/// password learns nothing from it.
///
/// With the `serde` feature it serializes as
/// `{"valid":true,"scheme":"bcrypt","upgrade_reasons":["legacy-scheme"]}`,
/// the shape `palisade password verify --json` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[must_use]
pub struct Verdict {
    valid: bool,
    scheme: Scheme,
    #[cfg_attr(feature = "serde", serde(rename = "upgrade_reasons"))]
    upgrade: Vec<UpgradeReason>,
}

impl Verdict {
    pub(crate) fn valid(scheme: Scheme, upgrade: Vec<UpgradeReason>) -> Self {
        Self {
            valid: true,
            scheme,
            upgrade,
        }
    }

    pub(crate) fn invalid(scheme: Scheme) -> Self {
        Self {
            valid: false,
            scheme,
            upgrade: Vec::new(),
        }
    }

    /// Whether the password matches.
    pub fn is_valid(&self) -> bool {
        self.valid
    }

    /// Whether the password matches and the stored hash should be replaced
    /// by a new one (see [`Verdict::upgrade_reasons`]).
    pub fn needs_upgrade(&self) -> bool {
        self.valid && !self.upgrade.is_empty()
    }

    /// The scheme of the stored hash.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Why the stored hash should be upgraded; empty when it is current or
    /// when the password did not match.
    pub fn upgrade_reasons(&self) -> &[UpgradeReason] {
        &self.upgrade
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.valid, self.needs_upgrade()) {
            (false, _) => "invalid",
            (true, false) => "valid",
            (true, true) => "valid needs-upgrade",
        })
    }
}

/// Why a stored hash that verified should be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UpgradeReason {
    /// The hash uses a legacy scheme (bcrypt, PBKDF2, scrypt, Argon2i/d).
    LegacyScheme,
    /// The hash uses Argon2 version 0x10 instead of 0x13.
    OldVersion,
    /// The Argon2 parameters (or tag length, or salt length) differ from the
    /// current ones, as libsodium's `crypto_pwhash_str_needs_rehash` decides.
    Params,
    /// The hash has no pepper while one is configured, or a retired one.
    Pepper,
    /// The hash was made from the password's unnormalized form.
    Unnormalized,
}

impl UpgradeReason {
    /// A short machine-friendly name (`legacy-scheme`, `params`, …).
    pub const fn name(self) -> &'static str {
        match self {
            UpgradeReason::LegacyScheme => "legacy-scheme",
            UpgradeReason::OldVersion => "old-version",
            UpgradeReason::Params => "params",
            UpgradeReason::Pepper => "pepper",
            UpgradeReason::Unnormalized => "unnormalized",
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for UpgradeReason {
    /// As its [`name`](UpgradeReason::name).
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> core::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl fmt::Display for UpgradeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpgradeReason::LegacyScheme => "the scheme is kept for verification only",
            UpgradeReason::OldVersion => "the argon2 version is 0x10",
            UpgradeReason::Params => "the parameters differ from the current ones",
            UpgradeReason::Pepper => "the pepper is missing or retired",
            UpgradeReason::Unnormalized => "the password was hashed without normalization",
        })
    }
}

/// A verification that also produced the replacement hash when one was due.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Verified {
    /// The verdict on the password.
    pub verdict: Verdict,
    /// The new PHC string to store, when the password was valid and the
    /// stored hash needed an upgrade.
    pub new_hash: Option<String>,
}
