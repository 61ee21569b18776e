//! Peppers: server-side secrets mixed into Argon2id, identified by a key id
//! recorded in the hash so that they can be rotated.

use core::fmt;

use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::{Error, Result};

/// A server-side secret fed to Argon2id as its `secret` input (RFC 9106's K),
/// with a short key id that the PHC string records as `keyid=`.
///
/// A pepper lives outside the database (a secrets manager, a file, an HSM-
/// derived key), so a stolen table of hashes cannot be attacked without it.
/// Keep retired peppers in the [`PasswordHasher`](crate::PasswordHasher) until
/// every hash made under them has been upgraded on login.
pub struct Pepper {
    id: String,
    secret: Zeroizing<Vec<u8>>,
}

impl Pepper {
    /// The shortest secret accepted, in bytes.
    pub const MIN_SECRET_LEN: usize = 16;

    /// A pepper with key id `id` (1 to 8 ASCII letters, digits, `-`, `_`) and
    /// its secret (at least 16 bytes, ideally 32 random bytes).
    ///
    /// # Errors
    /// [`Error::PepperIdInvalid`] or [`Error::PepperTooShort`].
    pub fn new(id: &str, secret: impl Into<Vec<u8>>) -> Result<Self> {
        let secret = Zeroizing::new(secret.into());
        let valid_id = (1..=argon2::Params::MAX_KEYID_LEN).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_id {
            return Err(Error::PepperIdInvalid);
        }
        if secret.len() < Self::MIN_SECRET_LEN {
            return Err(Error::PepperTooShort);
        }
        Ok(Self {
            id: id.to_owned(),
            secret,
        })
    }

    /// The key id.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pepper")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ZeroizeOnDrop for Pepper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_secrets_are_checked_and_debug_hides_the_secret() {
        assert!(matches!(
            Pepper::new("", [0; 32]).unwrap_err(),
            Error::PepperIdInvalid
        ));
        assert!(matches!(
            Pepper::new("123456789", [0; 32]).unwrap_err(),
            Error::PepperIdInvalid
        ));
        assert!(matches!(
            Pepper::new("a b", [0; 32]).unwrap_err(),
            Error::PepperIdInvalid
        ));
        assert!(matches!(
            Pepper::new("k1", [0; 15]).unwrap_err(),
            Error::PepperTooShort
        ));
        let pepper = Pepper::new("k-2026_1", vec![7; 32]).unwrap();
        assert_eq!(pepper.id(), "k-2026_1");
        assert_eq!(format!("{pepper:?}"), r#"Pepper { id: "k-2026_1", .. }"#);
    }
}
