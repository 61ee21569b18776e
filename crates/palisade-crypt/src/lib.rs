#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod aead;
mod blind;
mod context;
mod encrypted;
mod envelope;
mod error;
mod key;
mod keyring;
mod provider;
mod secret_file;
mod shred;
mod stream;

pub use crate::{
    blind::{BlindIndex, BlindIndexValue, Normalizer, safe_index_bits},
    context::Context,
    encrypted::Encrypted,
    envelope::{Ciphertext, TOKEN_PREFIX},
    error::{Error, Result},
    keyring::Keyring,
    provider::{DataKey, KeyProvider, LocalKeyProvider, WrappedKey},
    shred::SubjectKeyStore,
    stream::{CHUNK_LEN, STREAM_HEADER_LEN},
};
