//! Reversible masking with palisade-crypt (feature `crypt`).

use std::fmt;
use std::sync::Arc;

use palisade_crypt::{Ciphertext, Context, Keyring, TOKEN_PREFIX};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::kind::Kind;

/// Encrypts each finding with a palisade-crypt [`Keyring`], so that a key
/// holder can recover it: `<EMAIL:pcrypt:…>`. Used as
/// [`Operator::Encrypt`](crate::Operator::Encrypt).
///
/// Each value is encrypted (randomised, key-committing XChaCha20-Poly1305)
/// under the given [`Context`] extended with the finding's kind
/// (`pii.kind = EMAIL`), so a token cannot be passed off as another kind.
/// Equal values give different tokens: to join on masked values use
/// [`Operator::Hash`](crate::Operator::Hash), or a blind index next to this.
///
/// ```
/// use std::sync::Arc;
/// use palisade_crypt::{Context, Keyring};
/// use palisade_pii::{Encryptor, Masker, Operator};
///
/// let keyring = Arc::new(Keyring::generate()?);
/// let enc = Encryptor::new(keyring, Context::field("logs", "message", "app-1"));
/// let masker = Masker::new(Operator::Encrypt(enc.clone()));
/// let line = "refund to jan@example.com, card 4111 1111 1111 1111";
/// let masked = masker.mask(line)?;
/// assert!(masked.starts_with("refund to <EMAIL:pcrypt:") && !masked.contains("4111"));
/// assert_eq!(enc.reveal(&masked)?, line);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Encryptor {
    keyring: Arc<Keyring>,
    context: Context,
}

impl fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryptor").finish_non_exhaustive()
    }
}

const KIND_LABEL: &str = "pii.kind";

impl Encryptor {
    /// Encrypts with the primary key of `keyring`, bound to `context`.
    pub fn new(keyring: Arc<Keyring>, context: Context) -> Self {
        Self { keyring, context }
    }

    pub(crate) fn apply(&self, kind: Kind, value: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let context = self.context.clone().with(KIND_LABEL, kind.name());
        let token = self
            .keyring
            .encrypt(value, &context)
            .map_err(Error::EncryptionFailed)?
            .to_token();
        out.push(b'<');
        out.extend_from_slice(kind.name().as_bytes());
        out.push(b':');
        out.extend_from_slice(token.as_bytes());
        out.push(b'>');
        Ok(())
    }

    /// Decrypts one masked value, `<KIND:pcrypt:…>`, into its kind label and
    /// the original bytes (wiped on drop). Any failure (wrong key, context or
    /// kind, a modified token) is the same opaque [`Error::DecryptionFailed`].
    pub fn decrypt(&self, masked: &str) -> Result<(String, Zeroizing<Vec<u8>>)> {
        let inner = masked
            .strip_prefix('<')
            .and_then(|m| m.strip_suffix('>'))
            .ok_or(Error::DecryptionFailed)?;
        let (kind, token) = inner.split_once(':').ok_or(Error::DecryptionFailed)?;
        let ciphertext: Ciphertext = token.parse().map_err(|_| Error::DecryptionFailed)?;
        let context = self.context.clone().with(KIND_LABEL, kind);
        let plain = self
            .keyring
            .decrypt(&ciphertext, &context)
            .map_err(|_| Error::DecryptionFailed)?;
        Ok((kind.to_owned(), plain))
    }

    /// `text` with every `<KIND:pcrypt:…>` this encryptor wrote replaced by
    /// the original value. Fails as a whole, opaquely, if any token does not
    /// decrypt.
    pub fn reveal(&self, text: &str) -> Result<String> {
        let marker = format!(":{TOKEN_PREFIX}");
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            let (before, from) = rest.split_at(open);
            out.push_str(before);
            let close = from.find('>');
            match close {
                Some(c) if from.get(..c).is_some_and(|t| t.contains(&marker)) => {
                    let (token, after) = from.split_at(c + 1);
                    let (_, plain) = self.decrypt(token)?;
                    out.push_str(&String::from_utf8_lossy(&plain));
                    rest = after;
                }
                _ => {
                    out.push('<');
                    rest = from.get(1..).unwrap_or("");
                }
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}
