//! The wrapped keyring file: a [`Keyring`] sealed under a data key that a
//! [`KeyProvider`] wraps, so that the file holds no key in clear and can lie
//! next to the data it protects.

use std::path::{Component, Path, PathBuf};

use crate::AsyncKeyProvider;
use crate::error::While;
use crate::provider::{DataKey, KeyProvider, WrappedKey};
use crate::{Ciphertext, Context, Error, Keyring, Result, secret_file};

/// Identifies the wrapped keyring file format.
const FORMAT: &str = "palisade-crypt wrapped keyring";
/// Version of the wrapped keyring file format.
const FORMAT_VERSION: u32 = 1;
/// Largest wrapped keyring file read: a keyring of thousands of keys.
const MAX_FILE_LEN: usize = 4 << 20;

/// A [`Keyring`] sealed under a fresh data key, and that data key wrapped by
/// a [`KeyProvider`] (a PKCS#11 token, a KMS, a local key file).
///
/// The file ([`WrappedKeyring::to_json`]) holds the provider's `kek_id`, the
/// wrapped data key and the keyring's JSON encrypted in the crate's field
/// envelope (bound to the purpose `keyring`): no key material in clear. It
/// can be stored with the data; opening it needs the provider.
///
/// [`Keyring::load_wrapped`] and [`Keyring::save_wrapped`] are the front
/// door; this type is for async providers ([`WrappedKeyring::open_async`])
/// and for code that moves the file itself.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrappedKeyring {
    format: String,
    version: u32,
    wrapped_key: WrappedKey,
    keyring: Ciphertext,
}

/// What the data key is wrapped for, authenticated by the provider. Its
/// label is not `palisade-crypt.purpose`, which the local provider sets on
/// every context it wraps for (and would overwrite).
fn key_context() -> Context {
    Context::new().with("palisade-crypt.use", "keyring-key")
}

/// What the keyring's JSON is sealed for.
fn keyring_context() -> Context {
    Context::new().with("palisade-crypt.use", "keyring")
}

impl WrappedKeyring {
    /// Seals `keyring` under a fresh data key from `provider`.
    pub fn seal<P: KeyProvider + ?Sized>(keyring: &Keyring, provider: &P) -> Result<Self> {
        let (key, wrapped) = provider.generate_data_key(&key_context())?;
        Self::seal_with(keyring, &key, wrapped)
    }

    /// Seals `keyring` under a fresh data key from an async `provider`.
    pub async fn seal_async<P: AsyncKeyProvider + ?Sized>(
        keyring: &Keyring,
        provider: &P,
    ) -> Result<Self> {
        let (key, wrapped) = provider.generate_data_key(&key_context()).await?;
        Self::seal_with(keyring, &key, wrapped)
    }

    fn seal_with(keyring: &Keyring, key: &DataKey, wrapped_key: WrappedKey) -> Result<Self> {
        Ok(Self {
            format: FORMAT.to_owned(),
            version: FORMAT_VERSION,
            wrapped_key,
            keyring: key.encrypt(&keyring.to_json()?, &keyring_context())?,
        })
    }

    /// Unwraps the data key with `provider` and opens the keyring.
    pub fn open<P: KeyProvider + ?Sized>(&self, provider: &P) -> Result<Keyring> {
        self.open_with(&provider.unwrap_key(&self.wrapped_key, &key_context())?)
    }

    /// Unwraps the data key with an async `provider` and opens the keyring.
    pub async fn open_async<P: AsyncKeyProvider + ?Sized>(&self, provider: &P) -> Result<Keyring> {
        let key = provider
            .unwrap_key(&self.wrapped_key, &key_context())
            .await?;
        self.open_with(&key)
    }

    fn open_with(&self, key: &DataKey) -> Result<Keyring> {
        Keyring::from_json(&key.decrypt(&self.keyring, &keyring_context())?)
    }

    /// The wrapped data key: its `kek_id` names the key-encryption key.
    pub fn wrapped_key(&self) -> &WrappedKey {
        &self.wrapped_key
    }

    /// The file's bytes (JSON).
    pub fn to_json(&self) -> Result<Vec<u8>> {
        let mut out = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::KeyFileInvalid(While::cause("cannot write", e)))?;
        out.push(b'\n');
        Ok(out)
    }

    /// Parses a wrapped keyring file strictly: known format and version, no
    /// unknown fields, a well-formed envelope. Nothing is authenticated until
    /// [`open`](Self::open).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_FILE_LEN {
            return Err(Error::KeyFileInvalid(
                "a wrapped keyring file is at most 4 MiB".into(),
            ));
        }
        let file: Self = serde_json::from_slice(bytes)
            .map_err(|e| Error::KeyFileInvalid(While::cause("wrapped keyring", e)))?;
        if file.format != FORMAT {
            return Err(Error::KeyFileInvalid(
                format!("format `{}` is not `{FORMAT}`", file.format).into(),
            ));
        }
        if file.version != FORMAT_VERSION {
            return Err(Error::KeyFileInvalid(
                format!("unsupported wrapped keyring version `{}`", file.version).into(),
            ));
        }
        Ok(file)
    }

    /// Reads and parses a wrapped keyring file. It holds no key in clear, so
    /// its permissions are not checked.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_json(&std::fs::read(path)?)
    }

    /// Creates the file (mode 0600); refuses to overwrite one.
    pub fn create_file(&self, path: &Path) -> Result<()> {
        secret_file::create(path, &self.to_json()?)
    }

    /// Replaces the file atomically (mode 0600).
    pub fn save(&self, path: &Path) -> Result<()> {
        secret_file::replace(path, &self.to_json()?)
    }
}

impl Keyring {
    /// Loads a wrapped keyring file and opens it with `provider`.
    pub fn load_wrapped<P: KeyProvider + ?Sized>(path: &Path, provider: &P) -> Result<Self> {
        WrappedKeyring::load(path)?.open(provider)
    }

    /// Creates a wrapped keyring file (mode 0600): the keyring sealed under
    /// a fresh data key that `provider` wraps. Refuses to overwrite.
    pub fn create_wrapped_file<P: KeyProvider + ?Sized>(
        &self,
        path: &Path,
        provider: &P,
    ) -> Result<()> {
        WrappedKeyring::seal(self, provider)?.create_file(path)
    }

    /// Replaces a wrapped keyring file atomically, under a fresh data key.
    pub fn save_wrapped<P: KeyProvider + ?Sized>(&self, path: &Path, provider: &P) -> Result<()> {
        WrappedKeyring::seal(self, provider)?.save(path)
    }
}

/// Refuses a key file that lies inside `data_dir` (after resolving `..` and
/// symbolic links of the parts that exist): the key would be copied, backed
/// up and stolen with the data it protects. An application calls it at start
/// for a local key file, unless it runs in a development mode.
///
/// Neither path needs to exist. A hard link to the key inside the folder is
/// not detected.
///
/// ```
/// use std::path::Path;
///
/// let data = Path::new("/var/lib/app");
/// assert!(palisade_crypt::ensure_outside(Path::new("/etc/app/kek.json"), data).is_ok());
/// assert!(palisade_crypt::ensure_outside(Path::new("/var/lib/app/keys/kek.json"), data).is_err());
/// assert!(palisade_crypt::ensure_outside(Path::new("/var/lib/app/../app/kek.json"), data).is_err());
/// ```
pub fn ensure_outside(key_file: &Path, data_dir: &Path) -> Result<()> {
    let file = resolve(key_file)?;
    let dir = resolve(data_dir)?;
    if file.starts_with(&dir) {
        return Err(Error::KeyFileInsideData {
            file: key_file.display().to_string(),
            dir: data_dir.display().to_string(),
        });
    }
    Ok(())
}

/// An absolute path with the longest existing prefix canonicalized (symbolic
/// links resolved) and `.`/`..` resolved lexically in the rest.
fn resolve(path: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let components: Vec<Component<'_>> = absolute.components().collect();
    // The longest prefix that exists, with its links resolved.
    let (mut resolved, rest) = (0..=components.len())
        .rev()
        .find_map(|split| {
            let (head, tail) = components.split_at_checked(split)?;
            let prefix: PathBuf = head.iter().collect();
            prefix
                .canonicalize()
                .ok()
                .map(|canonical| (canonical, tail))
        })
        .unwrap_or((PathBuf::from("/"), components.as_slice()));
    for part in rest {
        match part {
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(name) => resolved.push(name),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Ok(resolved)
}
