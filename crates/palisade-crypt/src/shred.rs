//! Crypto-shredding: one data key per data subject, so that deleting the key
//! deletes the subject's data everywhere it was copied.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::envelope::Ciphertext;
use crate::{Context, Error, KeyProvider, Result, WrappedKey};

const SUBJECT_LABEL: &str = "palisade-crypt.subject";

/// Per-data-subject keys, stored wrapped by a [`KeyProvider`].
///
/// Every value about a subject (a customer, a user) is encrypted under that
/// subject's own random data key. [`shred`](SubjectKeyStore::shred) deletes
/// the wrapped key: from then on every ciphertext of that subject — in the
/// database, in replicas, in backups, in logs — is unreadable, and no other
/// subject is affected. The store holds only wrapped keys, so it can live in
/// a database table (serde); the provider holds the key-encryption key.
///
/// Shredding is only as final as the deletion of the wrapped key: keep the
/// store out of long-lived backups, or give those backups a retention
/// shorter than the promised deletion delay.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectKeyStore {
    subjects: BTreeMap<String, WrappedKey>,
}

impl SubjectKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn key_context(subject: &str) -> Context {
        Context::new().with(SUBJECT_LABEL, subject)
    }

    /// Encrypts a value about `subject`, creating the subject's key on first
    /// use.
    pub fn encrypt(
        &mut self,
        provider: &(impl KeyProvider + ?Sized),
        subject: &str,
        plaintext: &[u8],
        context: &Context,
    ) -> Result<Ciphertext> {
        let key = match self.subjects.get(subject) {
            Some(wrapped) => provider.unwrap_key(wrapped, &Self::key_context(subject))?,
            None => {
                let (key, wrapped) = provider.generate_data_key(&Self::key_context(subject))?;
                self.subjects.insert(subject.to_owned(), wrapped);
                key
            }
        };
        key.encrypt(plaintext, context)
    }

    /// Decrypts a value about `subject`; [`Error::SubjectUnknown`] once the
    /// subject was shredded.
    pub fn decrypt(
        &self,
        provider: &(impl KeyProvider + ?Sized),
        subject: &str,
        ciphertext: &Ciphertext,
        context: &Context,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let wrapped = self.subjects.get(subject).ok_or(Error::SubjectUnknown)?;
        provider
            .unwrap_key(wrapped, &Self::key_context(subject))?
            .decrypt(ciphertext, context)
    }

    /// Deletes the subject's key; returns whether there was one.
    pub fn shred(&mut self, subject: &str) -> bool {
        self.subjects.remove(subject).is_some()
    }

    /// Whether the subject has a key.
    pub fn contains(&self, subject: &str) -> bool {
        self.subjects.contains_key(subject)
    }

    /// Number of subjects with a key.
    pub fn len(&self) -> usize {
        self.subjects.len()
    }

    /// Whether no subject has a key.
    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }
}
