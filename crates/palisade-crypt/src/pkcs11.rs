//! A [`KeyProvider`] whose key-encryption key is a non-extractable AES-256
//! key on a PKCS#11 token (an HSM, a smart card, SoftHSM2).
//!
//! Data keys are wrapped with `C_Encrypt` under `CKM_AES_GCM` (random
//! 96-bit IV, 128-bit tag, the context in the associated data) and unwrapped
//! with `C_Decrypt`: the key-encryption key never leaves the token. The
//! README explains why AES-GCM rather than `CKM_AES_KEY_WRAP_PAD`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::RawAuthPin;
use zeroize::Zeroizing;

use crate::error::While;
use crate::key::{KEY_LEN, fill_random};
use crate::provider::{DataKey, KeyProvider, WrappedKey};
use crate::{Context, Error, Result, secret_file};

/// Prefix of the `kek_id` of keys wrapped by this provider; the key label
/// follows.
const KEK_PREFIX: &str = "pkcs11:";
/// First byte of a wrapped key: the format (AES-GCM, 12-byte IV, 16-byte tag).
const WRAP_VERSION: u8 = 1;
const IV_LEN: usize = 12;
const TAG_BITS: u64 = 128;
const TAG_LEN: usize = 16;
/// Length of a wrapped data key: version, IV, ciphertext, tag.
const WRAPPED_LEN: usize = 1 + IV_LEN + KEY_LEN + TAG_LEN;
/// Starts the associated data of every wrap, before the context.
const AAD_LABEL: &[u8] = b"palisade-crypt v1 pkcs11 data key";

/// Which token holds the key-encryption key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pkcs11Token {
    /// The token with this label (as set by `softhsm2-util --init-token
    /// --label` or the HSM's tools). A label survives slot renumbering.
    Label(String),
    /// The token in the slot with this id.
    Slot(u64),
}

impl fmt::Display for Pkcs11Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Label(label) => f.write_str(label),
            Self::Slot(id) => write!(f, "slot {id}"),
        }
    }
}

/// Where the token's user PIN comes from: never a command-line argument.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinSource {
    /// A file holding the PIN (one trailing newline is ignored). Refused,
    /// on Unix, when group or others have any access to it.
    File(PathBuf),
    /// An environment variable holding the PIN.
    Env(String),
}

impl PinSource {
    /// Reads the PIN into a buffer that is wiped on drop.
    fn read(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut pin = match self {
            Self::File(path) => secret_file::read(path).map_err(|e| match e {
                Error::IoFailed(io) => Error::PinUnavailable(While::cause(
                    format!("cannot read `{}`", path.display()),
                    io,
                )),
                other => Error::PinUnavailable(Box::new(other)),
            })?,
            Self::Env(name) => match std::env::var_os(name) {
                Some(value) => Zeroizing::new(value.into_encoded_bytes()),
                None => {
                    return Err(Error::PinUnavailable(
                        format!("environment variable `{name}` is not set").into(),
                    ));
                }
            },
        };
        if pin.last() == Some(&b'\n') {
            pin.pop();
            if pin.last() == Some(&b'\r') {
                pin.pop();
            }
        }
        if pin.is_empty() {
            return Err(Error::PinUnavailable(
                match self {
                    Self::File(path) => format!("`{}` is empty", path.display()),
                    Self::Env(name) => format!("environment variable `{name}` is empty"),
                }
                .into(),
            ));
        }
        Ok(pin)
    }
}

/// How to reach the key-encryption key on a PKCS#11 token.
///
/// ```
/// use palisade_crypt::{PinSource, Pkcs11Config, Pkcs11Token};
///
/// let config = Pkcs11Config::new(
///     "/usr/lib/softhsm/libsofthsm2.so",
///     Pkcs11Token::Label("palisade".into()),
///     "palisade-kek",
///     PinSource::File("/etc/palisade/hsm.pin".into()),
/// );
/// assert_eq!(config.key_label(), "palisade-kek");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkcs11Config {
    module: PathBuf,
    token: Pkcs11Token,
    key_label: String,
    pin: PinSource,
}

impl Pkcs11Config {
    /// The module (the vendor's PKCS#11 library, e.g.
    /// `/usr/lib/softhsm/libsofthsm2.so`), the token, the label of the
    /// key-encryption key on it, and where the user PIN comes from.
    pub fn new(
        module: impl Into<PathBuf>,
        token: Pkcs11Token,
        key_label: impl Into<String>,
        pin: PinSource,
    ) -> Self {
        Self {
            module: module.into(),
            token,
            key_label: key_label.into(),
            pin,
        }
    }

    /// The module's path.
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// The token.
    pub fn token(&self) -> &Pkcs11Token {
        &self.token
    }

    /// The label of the key-encryption key.
    pub fn key_label(&self) -> &str {
        &self.key_label
    }

    /// Where the PIN comes from.
    pub fn pin(&self) -> &PinSource {
        &self.pin
    }
}

/// A [`KeyProvider`] whose key-encryption key is a non-extractable AES-256
/// key on a PKCS#11 token.
///
/// [`open`](Self::open) loads the module, finds the token, logs in and finds
/// the key; each step fails with its own error ([`Error::ModuleUnavailable`],
/// [`Error::TokenAbsent`], [`Error::PinIncorrect`], [`Error::KekUnknown`]),
/// so an application can refuse to start with a clear message.
/// [`generate_kek`](Self::generate_kek) creates the key for setup.
///
/// Wrapping is `C_Encrypt` with `CKM_AES_GCM` over the 32 key bytes, with a
/// random IV and the context as associated data; unwrapping is `C_Decrypt`,
/// which fails on the token for a modified wrapped key or another context.
/// One session serves the provider, behind a mutex: wraps and unwraps are
/// serialised (they happen when keys are loaded, not per field).
///
/// The module is loaded and initialised once per process and stays loaded:
/// several providers (or [`generate_kek`](Self::generate_kek) then
/// [`open`](Self::open)) share it. PKCS#11 logs in per process, not per
/// session: while one provider is logged in to a token, another one opened
/// on the same token in the same process is not asked for the PIN again.
pub struct Pkcs11KeyProvider {
    session: Mutex<Session>,
    key: ObjectHandle,
    token: Pkcs11Token,
    kek_id: String,
}

impl fmt::Debug for Pkcs11KeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11KeyProvider")
            .field("kek_id", &self.kek_id)
            .finish_non_exhaustive()
    }
}

impl Pkcs11KeyProvider {
    /// Opens the token and finds the key-encryption key. The key must be an
    /// AES key that is sensitive and not extractable
    /// ([`Error::KekUnsafe`] otherwise).
    pub fn open(config: &Pkcs11Config) -> Result<Self> {
        let session = login(config)?;
        let key = find_kek(&session, &config.key_label)?;
        Ok(Self::new(session, key, config))
    }

    /// Creates the key-encryption key on the token (setup): an AES-256 key
    /// generated inside the token, stored on it (`CKA_TOKEN`), private,
    /// sensitive, never extractable, not modifiable, allowed to encrypt and
    /// decrypt only (no `CKA_WRAP`, so no other key can be wrapped under it
    /// and then decrypted). Refuses when a key with this label exists
    /// ([`Error::KekExists`]).
    pub fn generate_kek(config: &Pkcs11Config) -> Result<Self> {
        let session = login(config)?;
        let label = &config.key_label;
        if !find_labelled(&session, label)?.is_empty() {
            return Err(Error::KekExists(label.clone()));
        }
        let mut id = [0u8; 16];
        fill_random(&mut id)?;
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen((KEY_LEN as u64).into()),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Modifiable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Sign(false),
            Attribute::Verify(false),
            Attribute::Derive(false),
        ];
        let key = session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(|e| token_error(e, &config.token))?;
        Ok(Self::new(session, key, config))
    }

    fn new(session: Session, key: ObjectHandle, config: &Pkcs11Config) -> Self {
        Self {
            session: Mutex::new(session),
            key,
            token: config.token.clone(),
            kek_id: format!("{KEK_PREFIX}{}", config.key_label),
        }
    }

    /// The id written in the keys this provider wraps: `pkcs11:` and the
    /// key label.
    pub fn kek_id(&self) -> &str {
        &self.kek_id
    }

    fn session(&self) -> MutexGuard<'_, Session> {
        // A panic while holding the lock cannot leave the session in a
        // state that matters: every operation is single-part.
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl KeyProvider for Pkcs11KeyProvider {
    fn wrap_key(&self, key: &DataKey, context: &Context) -> Result<WrappedKey> {
        let mut iv = [0u8; IV_LEN];
        fill_random(&mut iv)?;
        let mut params_iv = iv;
        let aad = associated_data(context);
        let params = GcmParams::new(&mut params_iv, &aad, TAG_BITS.into())
            .map_err(|e| Error::ProviderFailed(Box::new(e)))?;
        let sealed = self
            .session()
            .encrypt(&Mechanism::AesGcm(params), self.key, key.expose_bytes())
            .map_err(|e| token_error(e, &self.token))?;
        if sealed.len() != KEY_LEN + TAG_LEN {
            return Err(Error::ProviderFailed(
                format!(
                    "the token returned {} bytes for a wrapped key, not {}",
                    sealed.len(),
                    KEY_LEN + TAG_LEN
                )
                .into(),
            ));
        }
        let mut ciphertext = Vec::with_capacity(WRAPPED_LEN);
        ciphertext.push(WRAP_VERSION);
        ciphertext.extend_from_slice(&iv);
        ciphertext.extend_from_slice(&sealed);
        Ok(WrappedKey {
            kek_id: self.kek_id.clone(),
            ciphertext,
        })
    }

    fn unwrap_key(&self, wrapped: &WrappedKey, context: &Context) -> Result<DataKey> {
        if wrapped.kek_id != self.kek_id {
            return Err(Error::ProviderFailed(
                format!(
                    "the key was wrapped under `{}`, this provider holds `{}`",
                    wrapped.kek_id, self.kek_id
                )
                .into(),
            ));
        }
        if wrapped.ciphertext.len() != WRAPPED_LEN {
            return Err(Error::CiphertextMalformed(
                "a PKCS#11 wrapped key is not 61 bytes",
            ));
        }
        let (version, rest) = wrapped
            .ciphertext
            .split_first()
            .ok_or(Error::CiphertextMalformed("empty wrapped key"))?;
        if *version != WRAP_VERSION {
            return Err(Error::VersionUnsupported(*version));
        }
        let (iv, sealed) = rest
            .split_at_checked(IV_LEN)
            .ok_or(Error::CiphertextMalformed(
                "a PKCS#11 wrapped key is not 61 bytes",
            ))?;
        let mut params_iv: [u8; IV_LEN] = iv
            .try_into()
            .map_err(|_| Error::CiphertextMalformed("a PKCS#11 wrapped key is not 61 bytes"))?;
        let aad = associated_data(context);
        let params = GcmParams::new(&mut params_iv, &aad, TAG_BITS.into())
            .map_err(|e| Error::ProviderFailed(Box::new(e)))?;
        let session = self.session();
        let bytes = Zeroizing::new(
            session
                .decrypt(&Mechanism::AesGcm(params), self.key, sealed)
                .map_err(|e| match e {
                    CkError::Pkcs11(
                        RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange,
                        _,
                    ) => Error::Unauthenticated,
                    // SoftHSM2 (2.6) answers a GCM tag mismatch with
                    // CKR_GENERAL_ERROR. If the session still answers, the
                    // token is fine and the wrapped key did not
                    // authenticate; otherwise the device failed.
                    CkError::Pkcs11(RvError::GeneralError, _) => match session.get_session_info() {
                        Ok(_) => Error::Unauthenticated,
                        Err(e) => token_error(e, &self.token),
                    },
                    other => token_error(other, &self.token),
                })?,
        );
        drop(session);
        DataKey::from_bytes(&bytes)
    }
}

/// The associated data of a wrap: a fixed label, the format byte and the
/// canonical context encoding.
fn associated_data(context: &Context) -> Vec<u8> {
    let encoded = context.encode();
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 1 + encoded.len());
    aad.extend_from_slice(AAD_LABEL);
    aad.push(WRAP_VERSION);
    aad.extend_from_slice(&encoded);
    aad
}

/// The module, loaded and initialised once per process and kept: a second
/// `C_Initialize` would fail and a `C_Finalize` would end every other user's
/// sessions.
fn module(path: &Path) -> Result<Pkcs11> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let unavailable = |source: CkError| Error::ModuleUnavailable {
        module: path.display().to_string(),
        source: Box::new(source),
    };
    let mut modules = MODULES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(module) = modules.get(path) {
        return Ok(module.clone());
    }
    if !path.is_file() {
        return Err(Error::ModuleUnavailable {
            module: path.display().to_string(),
            source: "no such file".into(),
        });
    }
    let module = Pkcs11::new(path).map_err(unavailable)?;
    match module.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(unavailable(e)),
    }
    modules.insert(path.to_owned(), module.clone());
    Ok(module)
}

/// Loads the module, finds the token, opens a read-write session and logs in
/// as the user.
fn login(config: &Pkcs11Config) -> Result<Session> {
    // The PIN first: a configuration mistake is reported before any device
    // is touched.
    let pin = config.pin.read()?;
    let pin = RawAuthPin::new(Box::new(pin.to_vec()));
    let module = module(&config.module)?;
    let slot = find_token(&module, &config.token)?;
    let session = module
        .open_rw_session(slot)
        .map_err(|e| token_error(e, &config.token))?;
    match session.login_with_raw(UserType::User, &pin) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
        Err(e) => Err(token_error(e, &config.token)),
    }
}

fn find_token(module: &Pkcs11, token: &Pkcs11Token) -> Result<Slot> {
    let slots = module
        .get_slots_with_token()
        .map_err(|e| token_error(e, token))?;
    for slot in slots {
        let found = match token {
            Pkcs11Token::Slot(id) => slot.id() == *id,
            Pkcs11Token::Label(label) => match module.get_token_info(slot) {
                Ok(info) => info.token_initialized() && info.label() == label,
                // A token removed between the two calls: keep looking.
                Err(_) => false,
            },
        };
        if found {
            return Ok(slot);
        }
    }
    Err(Error::TokenAbsent(token.to_string()))
}

fn find_labelled(session: &Session, label: &str) -> Result<Vec<ObjectHandle>> {
    session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(|e| Error::ProviderFailed(Box::new(e)))
}

/// The one AES key with this label, checked to be sensitive and not
/// extractable.
fn find_kek(session: &Session, label: &str) -> Result<ObjectHandle> {
    let unsafe_key = |reason| Error::KekUnsafe {
        label: label.to_owned(),
        reason,
    };
    let key = match find_labelled(session, label)?.as_slice() {
        [] => return Err(Error::KekUnknown(label.to_owned())),
        [key] => *key,
        _ => return Err(unsafe_key("several keys carry this label")),
    };
    let attributes = session
        .get_attributes(
            key,
            &[
                AttributeType::KeyType,
                AttributeType::Sensitive,
                AttributeType::Extractable,
            ],
        )
        .map_err(|e| Error::ProviderFailed(Box::new(e)))?;
    let (mut aes, mut sensitive, mut extractable) = (false, false, true);
    for attribute in attributes {
        match attribute {
            Attribute::KeyType(kind) => aes = kind == KeyType::AES,
            Attribute::Sensitive(value) => sensitive = value,
            Attribute::Extractable(value) => extractable = value,
            _ => {}
        }
    }
    if !aes {
        return Err(unsafe_key("it is not an AES key"));
    }
    if extractable || !sensitive {
        return Err(unsafe_key(
            "it can leave the token (extractable or not sensitive)",
        ));
    }
    Ok(key)
}

/// Maps a token's answer to the crate's errors: PIN and presence problems
/// get their own variants, the rest keeps the PKCS#11 return code.
fn token_error(error: CkError, token: &Pkcs11Token) -> Error {
    match error {
        CkError::Pkcs11(RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange, _) => {
            Error::PinIncorrect
        }
        CkError::Pkcs11(RvError::PinLocked, _) => Error::PinLocked,
        CkError::Pkcs11(
            RvError::TokenNotPresent
            | RvError::TokenNotRecognized
            | RvError::DeviceRemoved
            | RvError::SlotIdInvalid
            | RvError::SessionClosed
            | RvError::SessionHandleInvalid,
            _,
        ) => Error::TokenAbsent(token.to_string()),
        source => Error::ProviderFailed(Box::new(TokenFailed {
            token: token.to_string(),
            source,
        })),
    }
}

/// A token's error other than PIN and presence, with the token it came from.
#[derive(Debug, thiserror::Error)]
#[error("PKCS#11 token `{token}`: {source}")]
struct TokenFailed {
    token: String,
    #[source]
    source: CkError,
}
