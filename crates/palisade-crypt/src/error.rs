//! The one error type of the crate.

/// What can go wrong while encrypting, decrypting or managing keys.
///
/// Authentication failures are deliberately opaque: [`Error::Unauthenticated`]
/// says the same thing for a wrong key, a wrong context and a tampered
/// ciphertext, so that it cannot serve as an oracle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// A keyring or key file could not be parsed, is inconsistent, or could
    /// not be written. The cause says what is wrong: the JSON parser's or
    /// writer's error for a wrapped keyring, or a rule of the format the
    /// file breaks. It never quotes key material: for a plain keyring, whose
    /// keys are in clear, a parser error is reduced to its kind and place.
    #[error("invalid key file: {0}")]
    KeyFileInvalid(#[source] Cause),
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
    IoFailed(#[from] std::io::Error),
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
    ValueMalformed,
    /// No key is stored for this data subject: it was never created or it
    /// was shredded.
    #[error("no key for this data subject: never created or shredded")]
    SubjectUnknown,
    /// A key provider (KMS, HSM, file) failed to wrap or unwrap a key. The
    /// cause is the provider's own error (a KMS client's, a token's return
    /// code, or a message).
    #[error("key provider failed: {0}")]
    ProviderFailed(#[source] Cause),
    /// The PKCS#11 module (the token vendor's library) cannot be loaded or
    /// initialised.
    #[error("cannot load the PKCS#11 module `{module}`: {source}")]
    ModuleUnavailable {
        /// The module's path.
        module: String,
        /// Why it could not be loaded.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No token with this label (or in this slot) is present: the device is
    /// removed, the token not initialised, or the label is another.
    #[error(
        "no PKCS#11 token `{0}` is present: is the device connected and the token initialised?"
    )]
    TokenAbsent(String),
    /// The token refused the PIN.
    #[error("the PKCS#11 token refused the PIN")]
    PinIncorrect,
    /// The token's user PIN is locked after too many wrong attempts.
    #[error("the PKCS#11 token's user PIN is locked: the security officer must reset it")]
    PinLocked,
    /// The PIN could not be read: its file is missing, empty or readable by
    /// others, or its environment variable is unset or empty. The cause is
    /// the file's [`std::io::Error`] (under the file name), this crate's
    /// [`Error::FileInsecure`], or what is wrong with the variable.
    #[error("cannot read the PIN: {0}")]
    PinUnavailable(#[source] Cause),
    /// No key-encryption key with this label is on the token.
    #[error("no key-encryption key labelled `{0}` on the token")]
    KekUnknown(String),
    /// A key with this label is already on the token (when creating one).
    #[error("a key labelled `{0}` is already on the token")]
    KekExists(String),
    /// The key-encryption key could leave the token (it is extractable or not
    /// sensitive), or several keys carry its label.
    #[error("the key labelled `{label}` is refused as a key-encryption key: {reason}")]
    KekUnsafe {
        /// The key's label.
        label: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key file lies inside the folder of the data it protects.
    #[error(
        "key file `{file}` lies inside the data folder `{dir}`: keep it elsewhere, or use a hardware token"
    )]
    KeyFileInsideData {
        /// The key file.
        file: String,
        /// The data folder.
        dir: String,
    },
}

/// The underlying error of a failed key provider, an unreadable PIN or an
/// invalid key file; any error type, or a `String`, converts into it with
/// `.into()`.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An underlying error with what was being done when it happened, as a
/// [`Cause`]: `cannot read `/etc/pin`: No such file or directory`.
#[derive(Debug, thiserror::Error)]
#[error("{doing}: {source}")]
pub(crate) struct While<E: std::error::Error + 'static> {
    /// What was being done (`wrapped keyring`, ``cannot read `/etc/pin` ``).
    pub(crate) doing: String,
    /// What went wrong.
    #[source]
    pub(crate) source: E,
}

impl<E: std::error::Error + Send + Sync + 'static> While<E> {
    /// `source`, met while `doing`, as a [`Cause`].
    pub(crate) fn cause(doing: impl Into<String>, source: E) -> Cause {
        Box::new(While {
            doing: doing.into(),
            source,
        })
    }
}

/// The result type of the crate.
pub type Result<T> = core::result::Result<T, Error>;
