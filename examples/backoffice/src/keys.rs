//! Where the back office's keys come from: the keyring that encrypts every
//! personal value is stored wrapped under a key-encryption key that lives
//! outside the data: on a PKCS#11 token (an HSM; the key never leaves it),
//! or in a key file kept out of the data folder. A plain keyring file in the
//! data folder is for development only.

use std::path::{Path, PathBuf};

use palisade_crypt::{Keyring, LocalKeyProvider, Pkcs11Config, Pkcs11KeyProvider, ensure_outside};

use crate::error::{Error, Result, internal};

/// The keyring and its key-encryption key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// A plain keyring file (made on first start): development only, it is
    /// refused outside a development configuration.
    Plain(PathBuf),
    /// The keyring wrapped under a local key-encryption key file, which must
    /// lie outside the data folder (another disk, a mounted secret).
    LocalKek {
        /// The key-encryption key file (a palisade-crypt keyring, 0600).
        kek: PathBuf,
        /// The wrapped keyring (no key in clear; may live with the data).
        keyring: PathBuf,
    },
    /// The keyring wrapped under a key on a PKCS#11 token.
    Pkcs11 {
        /// The module, token, key label and PIN source.
        token: Pkcs11Config,
        /// The wrapped keyring.
        keyring: PathBuf,
    },
}

fn key_error(what: &str, e: palisade_crypt::Error) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

impl KeySource {
    /// The keyring, loaded (or made, wrapped, on first start). `dev` allows
    /// a plain keyring file and a key file inside `data_dir`.
    pub(crate) fn open(&self, data_dir: &Path, dev: bool) -> Result<Keyring> {
        match self {
            KeySource::Plain(path) => {
                if !dev {
                    return Err(Error::Internal(format!(
                        "the keyring `{}` is a plain key file: give a key-encryption key \
                         outside the data folder (--kek) or a PKCS#11 token (--hsm-module), \
                         or --dev for development",
                        path.display()
                    )));
                }
                if path.exists() {
                    Keyring::load(path).map_err(|e| key_error("the keyring", e))
                } else {
                    let keyring = Keyring::generate().map_err(internal)?;
                    keyring
                        .create_file(path)
                        .map_err(|e| key_error("the keyring", e))?;
                    Ok(keyring)
                }
            }
            KeySource::LocalKek { kek, keyring } => {
                if !dev {
                    ensure_outside(kek, data_dir)
                        .map_err(|e| key_error("the key-encryption key", e))?;
                }
                let provider = LocalKeyProvider::load(kek)
                    .map_err(|e| key_error("the key-encryption key", e))?;
                load_or_create(keyring, &provider)
            }
            KeySource::Pkcs11 { token, keyring } => {
                let provider = Pkcs11KeyProvider::open(token)
                    .map_err(|e| key_error("the PKCS#11 token", e))?;
                load_or_create(keyring, &provider)
            }
        }
    }
}

fn load_or_create(path: &Path, provider: &impl palisade_crypt::KeyProvider) -> Result<Keyring> {
    if path.exists() {
        Keyring::load_wrapped(path, provider).map_err(|e| key_error("the wrapped keyring", e))
    } else {
        let keyring = Keyring::generate().map_err(internal)?;
        keyring
            .create_wrapped_file(path, provider)
            .map_err(|e| key_error("the wrapped keyring", e))?;
        Ok(keyring)
    }
}
