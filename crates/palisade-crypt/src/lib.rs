#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aead;
mod async_provider;
mod blind;
mod context;
mod encrypted;
mod envelope;
mod error;
mod key;
mod keyring;
#[cfg(feature = "pkcs11")]
mod pkcs11;
mod provider;
mod secret_file;
mod shred;
mod stream;
mod wrapped;

pub use crate::{
    async_provider::AsyncKeyProvider,
    blind::{BlindIndex, BlindIndexValue, Normalizer, safe_index_bits},
    context::Context,
    encrypted::Encrypted,
    envelope::{Ciphertext, TOKEN_PREFIX},
    error::{Cause, Error, Result},
    keyring::Keyring,
    provider::{DataKey, KeyProvider, LocalKeyProvider, WrappedKey},
    shred::SubjectKeyStore,
    stream::{CHUNK_LEN, STREAM_HEADER_LEN},
    wrapped::{WrappedKeyring, ensure_outside},
};

#[cfg(feature = "pkcs11")]
#[cfg_attr(docsrs, doc(cfg(feature = "pkcs11")))]
pub use crate::pkcs11::{PinSource, Pkcs11Config, Pkcs11KeyProvider, Pkcs11Token};
