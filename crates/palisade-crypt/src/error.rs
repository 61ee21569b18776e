//! The one error type of the crate.

/// What can go wrong while encrypting, decrypting or managing keys.
///
/// Authentication failures are deliberately opaque: [`Error::Unauthenticated`]
/// says the same thing for a wrong key, a wrong context and a tampered
/// ciphertext, so that it cannot serve as an oracle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ciphertext does not authenticate: wrong key, wrong context, or
    /// modified bytes.
    #[error("ciphertext does not authenticate")]
    Unauthenticated,
    /// The ciphertext or token is not well formed (lengths, prefix, encoding).
    #[error("malformed ciphertext: {0}")]
    CiphertextMalformed(&'static str),
    /// The ciphertext announces a format version this library does not know.
    #[error("unsupported ciphertext version `{0}`")]
    VersionUnsupported(u8),
    /// The ciphertext names a key that is not in the keyring (never existed
    /// or trimmed).
    #[error("no key with id `{0}` in the keyring")]
    KeyUnknown(u32),
    /// The ciphertext names a key below the keyring's minimum decryption
    /// version.
    #[error("key `{0}` is retired: below the minimum decryption version")]
    KeyRetired(u32),
    /// A minimum version was asked for that would retire or remove the
    /// primary key (or, for a trim, keys that may still decrypt).
    #[error("version `{requested}` is above the allowed maximum `{allowed}`")]
    VersionAboveAllowed {
        /// The version asked for.
        requested: u32,
        /// The highest version the operation accepts.
        allowed: u32,
    },
    /// The keyring has used up its key ids.
    #[error("the keyring has no key ids left")]
    KeyIdsExhausted,
    /// A keyring or key file could not be parsed or is inconsistent.
    #[error("invalid key file: {0}")]
    KeyFileInvalid(String),
    /// A secret file is readable or writable by group or others.
    #[error("`{path}` is accessible by group or others (mode {mode:o}): run `chmod 600` on it")]
    FileInsecure {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading or writing a file or stream failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed")]
    RandomUnavailable,
    /// A context string is not of the form `label=value,label=value`.
    #[error("invalid context: {0}")]
    ContextInvalid(String),
    /// A blind index was asked for a number of bits outside `1..=256`, an
    /// unknown normalizer, or no safe size exists for the given population.
    #[error("invalid blind index: {0}")]
    IndexInvalid(String),
    /// A stream ended before its final chunk.
    #[error("stream is truncated: it ends before its final chunk")]
    StreamTruncated,
    /// A stream has bytes after its final chunk.
    #[error("stream has data after its final chunk")]
    StreamTrailingData,
    /// A value could not be turned into bytes for encryption, or decrypted
    /// bytes are not a value of the expected type (the message never
    /// contains the plaintext).
    #[error("encrypted value does not have the expected shape")]
    ValueEncoding,
    /// No key is stored for this data subject: it was never created or it
    /// was shredded.
    #[error("no key for this data subject: never created or shredded")]
    SubjectUnknown,
    /// A key provider (KMS, HSM, file) failed to wrap or unwrap a key.
    #[error("key provider failed: {0}")]
    ProviderFailed(String),
}

/// The result type of the crate.
pub type Result<T> = core::result::Result<T, Error>;
