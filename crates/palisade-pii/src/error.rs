//! The one error type of the crate.

/// What can go wrong configuring a scanner or masker, or masking a stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A kind label that is not one of the built-in kinds.
    #[error("unknown kind `{0}`")]
    KindUnknown(String),
    /// A telephone region that is not an ISO 3166 code libphonenumber knows.
    #[error("unknown telephone region `{0}`")]
    RegionUnknown(String),
    /// A minimum confidence outside 0.0–1.0.
    #[error("minimum confidence must be between 0 and 1")]
    ConfidenceOutOfRange,
    /// A JSON field path that cannot be parsed.
    #[error("invalid field path `{path}`: {reason}")]
    PathInvalid {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A hash key shorter than [`HashKey::MIN_LEN`](crate::HashKey::MIN_LEN).
    #[error("hash key is {len} bytes long, at least 16 are needed")]
    KeyTooShort {
        /// The length of the key given.
        len: usize,
    },
    /// A digit as mask character: masked numbers would still look like numbers.
    #[error("mask character `{0}` must not be a digit")]
    MaskCharDigit(char),
    /// Reading or writing a stream failed.
    #[error("stream could not be read or written: {0}")]
    IoFailed(#[from] std::io::Error),
    /// Encrypting a value failed (palisade-crypt's error is the source).
    #[cfg(feature = "crypt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "crypt")))]
    #[error("value could not be encrypted: {0}")]
    EncryptionFailed(#[source] palisade_crypt::Error),
    /// A masked value did not decrypt (wrong key, context or kind, or
    /// modified): deliberately says no more.
    #[cfg(feature = "crypt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "crypt")))]
    #[error("masked value could not be decrypted")]
    DecryptionFailed,
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
