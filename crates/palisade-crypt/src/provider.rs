//! Envelope encryption: data keys wrapped by a key-encryption key that a
//! [`KeyProvider`] holds (a local keyring file, or a KMS or HSM).

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::envelope::{self, Ciphertext, FieldKey};
use crate::key::{KEY_LEN, SecretKey};
use crate::{Context, Error, Keyring, Result};

/// Key id written in envelopes made with a single [`DataKey`].
pub(crate) const DATA_KEY_ID: u32 = 0;

/// A 256-bit data encryption key, wiped on drop.
///
/// It encrypts and decrypts fields in the same envelope format as a
/// [`Keyring`] (with key id 0); it is stored only wrapped, by a
/// [`KeyProvider`].
#[derive(Clone)]
pub struct DataKey {
    key: SecretKey,
    field: FieldKey,
}

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> Result<Self> {
        Self::from_secret(SecretKey::generate()?)
    }

    /// A data key from 32 bytes, e.g. the plaintext key a KMS returned.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        SecretKey::from_slice(bytes)
            .ok_or_else(|| Error::ProviderFailed("a data key must be 32 bytes".into()))
            .and_then(Self::from_secret)
    }

    fn from_secret(key: SecretKey) -> Result<Self> {
        let field = FieldKey::derive(&key)?;
        Ok(Self { key, field })
    }

    /// The raw key bytes, for a provider that must send them to a KMS or
    /// HSM to be wrapped. Do not store or log them.
    pub fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        self.key.as_bytes()
    }

    /// Encrypts a field value under this key, bound to `context`.
    pub fn encrypt(&self, plaintext: &[u8], context: &Context) -> Result<Ciphertext> {
        envelope::seal(DATA_KEY_ID, &self.field, context, plaintext)
    }

    /// Decrypts a field value encrypted under this key for `context`.
    pub fn decrypt(
        &self,
        ciphertext: &Ciphertext,
        context: &Context,
    ) -> Result<Zeroizing<Vec<u8>>> {
        if ciphertext.key_id() != DATA_KEY_ID {
            return Err(Error::KeyUnknown(ciphertext.key_id()));
        }
        envelope::open(&self.field, ciphertext, context)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey").finish_non_exhaustive()
    }
}

/// A data key encrypted under a key-encryption key: safe to store next to
/// the data. `kek_id` names the key-encryption key (a KMS key ARN, an HSM
/// label, `local:3`), `ciphertext` is whatever the provider produced.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrappedKey {
    /// Which key-encryption key wrapped it.
    pub kek_id: String,
    /// The wrapped key, as produced by the provider.
    #[serde(with = "base64url")]
    pub ciphertext: Vec<u8>,
}

mod base64url {
    use super::*;

    pub(super) fn serialize<S: serde::Serializer>(
        bytes: &[u8],
        s: S,
    ) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> core::result::Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// Holds key-encryption keys and wraps and unwraps data keys with them.
///
/// The trait never asks for the key-encryption key itself, so it fits a
/// KMS (`Encrypt`/`Decrypt` or `GenerateDataKey` with an encryption
/// context) or an HSM (wrap/unwrap inside the device) as well as the
/// [`LocalKeyProvider`]. `context` must be authenticated by the provider
/// (KMS encryption context, AEAD associated data): a wrapped key only
/// unwraps for the context it was wrapped for.
pub trait KeyProvider {
    /// Wraps a data key under the provider's current key-encryption key.
    fn wrap_key(&self, key: &DataKey, context: &Context) -> Result<WrappedKey>;

    /// Unwraps a data key; fails if it was wrapped for another context or
    /// under a key the provider does not hold.
    fn unwrap_key(&self, wrapped: &WrappedKey, context: &Context) -> Result<DataKey>;

    /// A fresh data key and its wrapped form. A KMS provider should
    /// override this with its own data key generation.
    fn generate_data_key(&self, context: &Context) -> Result<(DataKey, WrappedKey)> {
        let key = DataKey::generate()?;
        let wrapped = self.wrap_key(&key, context)?;
        Ok((key, wrapped))
    }
}

/// A [`KeyProvider`] whose key-encryption keys are a [`Keyring`] in a local
/// secret file (mode 0600, refused if group or others can read it).
/// Rotating that keyring rotates the key-encryption key; old wrapped keys
/// keep unwrapping until their key is retired.
#[derive(Debug, Clone)]
pub struct LocalKeyProvider {
    keyring: Keyring,
}

const PURPOSE_LABEL: &str = "palisade-crypt.purpose";
const LOCAL_PREFIX: &str = "local:";

impl LocalKeyProvider {
    /// A provider over a keyring already in memory.
    pub fn new(keyring: Keyring) -> Self {
        Self { keyring }
    }

    /// Loads the keyring file (permissions checked).
    pub fn load(path: &Path) -> Result<Self> {
        Keyring::load(path).map(Self::new)
    }

    fn wrap_context(context: &Context) -> Context {
        context.clone().with(PURPOSE_LABEL, "data-key")
    }
}

impl KeyProvider for LocalKeyProvider {
    fn wrap_key(&self, key: &DataKey, context: &Context) -> Result<WrappedKey> {
        let ciphertext = self
            .keyring
            .encrypt(key.expose_bytes(), &Self::wrap_context(context))?;
        Ok(WrappedKey {
            kek_id: format!("{LOCAL_PREFIX}{}", ciphertext.key_id()),
            ciphertext: ciphertext.as_bytes().to_vec(),
        })
    }

    fn unwrap_key(&self, wrapped: &WrappedKey, context: &Context) -> Result<DataKey> {
        if !wrapped.kek_id.starts_with(LOCAL_PREFIX) {
            return Err(Error::ProviderFailed(
                format!("key `{}` is not held by the local provider", wrapped.kek_id).into(),
            ));
        }
        let ciphertext = Ciphertext::from_bytes(&wrapped.ciphertext)?;
        let bytes = self
            .keyring
            .decrypt(&ciphertext, &Self::wrap_context(context))?;
        DataKey::from_bytes(&bytes)
    }
}
