//! `Encrypted<T>`: a typed, serde-friendly encrypted value.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::envelope::Ciphertext;
use crate::{Context, Error, Keyring, Result};

/// A value of type `T`, encrypted: serializes as its text token and decrypts
/// back into `T` for the right context.
///
/// The plaintext is the value's JSON encoding, built in and read from
/// buffers that are wiped. Wiping the decrypted `T` itself is up to `T`
/// (e.g. hold a `Zeroizing<String>`).
///
/// ```
/// use palisade_crypt::{Context, Encrypted, Keyring};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Customer { id: u64, phone: Encrypted<String> }
///
/// let keyring = Keyring::generate()?;
/// let context = Context::field("customers", "phone", "7");
/// let row = Customer { id: 7, phone: Encrypted::seal(&keyring, &"+1 555 0100".to_string(), &context)? };
/// let json = serde_json::to_string(&row).unwrap();
/// assert!(json.contains("pcrypt:"));
/// let back: Customer = serde_json::from_str(&json).unwrap();
/// assert_eq!(back.phone.open(&keyring, &context)?, "+1 555 0100");
/// # Ok::<(), palisade_crypt::Error>(())
/// ```
pub struct Encrypted<T> {
    ciphertext: Ciphertext,
    value: PhantomData<fn() -> T>,
}

impl<T: Serialize> Encrypted<T> {
    /// Encrypts `value` under the keyring's primary key for `context`.
    pub fn seal(keyring: &Keyring, value: &T, context: &Context) -> Result<Self> {
        let mut plaintext = Zeroizing::new(Vec::with_capacity(64));
        serde_json::to_writer(&mut *plaintext, value).map_err(|_| Error::ValueMalformed)?;
        Ok(Self::from_ciphertext(keyring.encrypt(&plaintext, context)?))
    }
}

impl<T: DeserializeOwned> Encrypted<T> {
    /// Decrypts for `context` and decodes the value.
    pub fn open(&self, keyring: &Keyring, context: &Context) -> Result<T> {
        let plaintext = keyring.decrypt(&self.ciphertext, context)?;
        serde_json::from_slice(&plaintext).map_err(|_| Error::ValueMalformed)
    }
}

impl<T> Encrypted<T> {
    /// Wraps a ciphertext known to hold a `T`.
    pub fn from_ciphertext(ciphertext: Ciphertext) -> Self {
        Self {
            ciphertext,
            value: PhantomData,
        }
    }

    /// The ciphertext.
    pub fn ciphertext(&self) -> &Ciphertext {
        &self.ciphertext
    }

    /// Re-encrypts under the keyring's primary key.
    pub fn rewrap(&self, keyring: &Keyring, context: &Context) -> Result<Self> {
        keyring
            .rewrap(&self.ciphertext, context)
            .map(Self::from_ciphertext)
    }
}

impl<T> Clone for Encrypted<T> {
    fn clone(&self) -> Self {
        Self::from_ciphertext(self.ciphertext.clone())
    }
}

impl<T> PartialEq for Encrypted<T> {
    fn eq(&self, other: &Self) -> bool {
        self.ciphertext == other.ciphertext
    }
}

impl<T> Eq for Encrypted<T> {}

impl<T> fmt::Debug for Encrypted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Encrypted").field(&self.ciphertext).finish()
    }
}

impl<T> Serialize for Encrypted<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        self.ciphertext.serialize(s)
    }
}

impl<'de, T> serde::Deserialize<'de> for Encrypted<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        Ciphertext::deserialize(d).map(Self::from_ciphertext)
    }
}
