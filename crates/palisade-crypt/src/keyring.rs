//! Versioned keys with one primary: encrypt, decrypt, rotate, rewrap, retire,
//! trim, and the keyring file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::envelope::{self, Ciphertext, FieldKey};
use crate::key::{KEY_LEN, SecretKey};
use crate::{BlindIndex, Context, Error, Normalizer, Result, secret_file};

/// Identifies the keyring file format.
const FORMAT: &str = "palisade-crypt keyring";
/// Version of the keyring file format.
const FORMAT_VERSION: u32 = 1;

/// Versioned encryption keys with stable ids and one primary.
///
/// The primary key (the newest) encrypts; every key at or above the minimum
/// decryption version decrypts. This is the model of Vault's transit engine
/// and Tink's keysets:
///
/// - [`rotate`](Keyring::rotate) adds a new primary; old ciphertexts stay
///   readable;
/// - [`rewrap`](Keyring::rewrap) re-encrypts a ciphertext under the primary
///   inside the library: the plaintext is never handed to the caller and is
///   wiped;
/// - [`retire_below`](Keyring::retire_below) sets the minimum decryption
///   version: older keys are kept but refuse to decrypt (reversible);
/// - [`trim_below`](Keyring::trim_below) deletes retired keys for good: what
///   they encrypted becomes unreadable.
///
/// Key ids are versions: 1, 2, 3, … in order of creation, never reused. A
/// keyring also holds a separate key for [blind indexes](Keyring::blind_index),
/// which is not rotated with the encryption keys (rotating it would change
/// every index value).
///
/// All key material is wiped on drop and left out of `Debug`.
#[derive(Clone)]
pub struct Keyring {
    keys: BTreeMap<u32, KeyVersion>,
    primary: u32,
    min_decryption_version: u32,
    index_key: SecretKey,
}

impl Keyring {
    /// A new keyring with one fresh random key (id 1) and a fresh blind
    /// index key.
    pub fn generate() -> Result<Self> {
        let mut keys = BTreeMap::new();
        keys.insert(1, KeyVersion::new(SecretKey::generate()?)?);
        Ok(Self {
            keys,
            primary: 1,
            min_decryption_version: 1,
            index_key: SecretKey::generate()?,
        })
    }

    /// Builds a keyring from given key bytes, for tests and known-answer
    /// vectors: `keys` are `(id, key)` pairs, the highest id is the primary.
    pub fn from_key_bytes(keys: &[(u32, [u8; 32])], index_key: [u8; 32]) -> Result<Self> {
        let mut map = BTreeMap::new();
        for (id, key) in keys {
            if *id == 0
                || map
                    .insert(*id, KeyVersion::new(SecretKey::from_bytes(*key))?)
                    .is_some()
            {
                return Err(Error::KeyFileInvalid(
                    format!("key id `{id}` is zero or given twice").into(),
                ));
            }
        }
        let (&primary, _) = map
            .last_key_value()
            .ok_or_else(|| Error::KeyFileInvalid("no keys".into()))?;
        let (&min, _) = map
            .first_key_value()
            .ok_or_else(|| Error::KeyFileInvalid("no keys".into()))?;
        Ok(Self {
            keys: map,
            primary,
            min_decryption_version: min,
            index_key: SecretKey::from_bytes(index_key),
        })
    }

    /// The id of the key that encrypts.
    pub fn primary_id(&self) -> u32 {
        self.primary
    }

    /// The ids of all keys present, ascending (retired ones included).
    pub fn key_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys.keys().copied()
    }

    /// Keys below this version refuse to decrypt.
    pub fn min_decryption_version(&self) -> u32 {
        self.min_decryption_version
    }

    /// Adds a new random key and makes it the primary; returns its id. Old
    /// keys keep decrypting.
    pub fn rotate(&mut self) -> Result<u32> {
        let next = self
            .keys
            .last_key_value()
            .map_or(1, |(id, _)| *id)
            .checked_add(1)
            .ok_or_else(|| Error::KeyIdsExhausted)?;
        self.keys
            .insert(next, KeyVersion::new(SecretKey::generate()?)?);
        self.primary = next;
        Ok(next)
    }

    /// Sets the minimum decryption version: keys below `version` stay in the
    /// keyring but refuse to decrypt ([`Error::KeyRetired`]). Lowering it
    /// again re-enables them. `version` may not exceed the primary.
    pub fn retire_below(&mut self, version: u32) -> Result<()> {
        if version > self.primary {
            return Err(Error::VersionAboveAllowed {
                requested: version,
                allowed: self.primary,
            });
        }
        self.min_decryption_version = version.max(1);
        Ok(())
    }

    /// Deletes (and wipes) every key below `version`; returns how many were
    /// deleted. Only retired keys can be trimmed: `version` may not exceed
    /// the minimum decryption version. What those keys encrypted becomes
    /// unreadable for good.
    pub fn trim_below(&mut self, version: u32) -> Result<usize> {
        if version > self.min_decryption_version {
            return Err(Error::VersionAboveAllowed {
                requested: version,
                allowed: self.min_decryption_version,
            });
        }
        let kept = self.keys.split_off(&version);
        let removed = std::mem::replace(&mut self.keys, kept).len();
        Ok(removed)
    }

    pub(crate) fn decryption_key(&self, id: u32) -> Result<&KeyVersion> {
        let key = self.keys.get(&id).ok_or_else(|| Error::KeyUnknown(id))?;
        if id < self.min_decryption_version {
            return Err(Error::KeyRetired(id));
        }
        Ok(key)
    }

    pub(crate) fn primary_key(&self) -> Result<&KeyVersion> {
        self.keys
            .get(&self.primary)
            .ok_or_else(|| Error::KeyUnknown(self.primary))
    }

    /// Encrypts a field value under the primary key, bound to `context`.
    pub fn encrypt(&self, plaintext: &[u8], context: &Context) -> Result<Ciphertext> {
        envelope::seal(self.primary, &self.primary_key()?.field, context, plaintext)
    }

    /// Decrypts a field value encrypted under any key of the keyring at or
    /// above the minimum decryption version, for exactly this `context`.
    /// The plaintext is wiped when dropped.
    pub fn decrypt(
        &self,
        ciphertext: &Ciphertext,
        context: &Context,
    ) -> Result<Zeroizing<Vec<u8>>> {
        envelope::open(
            &self.decryption_key(ciphertext.key_id())?.field,
            ciphertext,
            context,
        )
    }

    /// Re-encrypts a ciphertext under the primary key (same context) without
    /// exposing the plaintext, which is wiped before returning.
    pub fn rewrap(&self, ciphertext: &Ciphertext, context: &Context) -> Result<Ciphertext> {
        let plaintext = self.decrypt(ciphertext, context)?;
        self.encrypt(&plaintext, context)
    }

    /// Whether a ciphertext is under an older key than the primary and
    /// should be rewrapped.
    pub fn needs_rewrap(&self, ciphertext: &Ciphertext) -> bool {
        ciphertext.key_id() != self.primary
    }

    /// A blind index named `name` of `bits` bits (1 to 256) with the given
    /// normalizer. Its key is derived from the keyring's blind index key with
    /// HKDF-SHA256 (info = the index name), so every index has its own key.
    pub fn blind_index(&self, name: &str, bits: u32, normalizer: Normalizer) -> Result<BlindIndex> {
        BlindIndex::new(&self.index_key, name, bits, normalizer)
    }

    /// Serializes the keyring file (JSON, see the README) into a buffer that
    /// is wiped on drop.
    pub fn to_json(&self) -> Result<Zeroizing<Vec<u8>>> {
        let file = FileOut {
            format: FORMAT,
            version: FORMAT_VERSION,
            primary: self.primary,
            min_decryption_version: self.min_decryption_version,
            index_key: KeyOut(&self.index_key),
            keys: self
                .keys
                .iter()
                .map(|(id, key)| EntryOut {
                    id: *id,
                    key: KeyOut(&key.key),
                })
                .collect(),
        };
        // Sized up front so that the buffer never reallocates (which would
        // leave unwiped copies of key material behind).
        let mut out = Zeroizing::new(Vec::with_capacity(512 + 128 * self.keys.len()));
        serde_json::to_writer_pretty(&mut *out, &file)
            .map_err(|e| Error::KeyFileInvalid(Box::new(e)))?;
        out.push(b'\n');
        Ok(out)
    }

    /// Parses a keyring file strictly: known format and version, no unknown
    /// fields, unique ids, 32-byte keys, the primary present and at or above
    /// the minimum decryption version.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let file: FileIn<'_> = serde_json::from_slice(bytes)
            .map_err(|e| Error::KeyFileInvalid(Box::new(JsonInvalid::from(&e))))?;
        if file.format != FORMAT {
            return Err(Error::KeyFileInvalid(
                format!("format `{}` is not `{FORMAT}`", file.format).into(),
            ));
        }
        if file.version != FORMAT_VERSION {
            return Err(Error::KeyFileInvalid(
                format!("unsupported version `{}`", file.version).into(),
            ));
        }
        let mut keys = BTreeMap::new();
        for entry in &file.keys {
            if entry.id == 0 {
                return Err(Error::KeyFileInvalid("key id `0` is reserved".into()));
            }
            if keys
                .insert(entry.id, KeyVersion::new(decode_key(entry.key)?)?)
                .is_some()
            {
                return Err(Error::KeyFileInvalid(
                    format!("key id `{}` is given twice", entry.id).into(),
                ));
            }
        }
        if !keys.contains_key(&file.primary) {
            return Err(Error::KeyFileInvalid(
                format!("primary key `{}` is missing", file.primary).into(),
            ));
        }
        if file.min_decryption_version == 0 || file.min_decryption_version > file.primary {
            return Err(Error::KeyFileInvalid(
                format!(
                    "minimum decryption version `{}` is outside 1..=primary",
                    file.min_decryption_version
                )
                .into(),
            ));
        }
        Ok(Self {
            keys,
            primary: file.primary,
            min_decryption_version: file.min_decryption_version,
            index_key: decode_key(file.index_key)?,
        })
    }

    /// Creates a keyring file with mode 0600; refuses to overwrite one.
    pub fn create_file(&self, path: &Path) -> Result<()> {
        secret_file::create(path, &self.to_json()?)
    }

    /// Loads a keyring file, refusing it (on Unix) if group or others have
    /// any access to it.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_json(&secret_file::read(path)?)
    }

    /// Replaces a keyring file atomically (mode 0600).
    pub fn save(&self, path: &Path) -> Result<()> {
        secret_file::replace(path, &self.to_json()?)
    }
}

/// One version of a keyring: the stored key and the field keys derived from
/// it once, when it is loaded or created.
#[derive(Clone)]
pub(crate) struct KeyVersion {
    /// The key as stored in the keyring file; streams derive from it.
    pub(crate) key: SecretKey,
    /// The field envelope's encryption key and commitment.
    pub(crate) field: FieldKey,
}

impl KeyVersion {
    fn new(key: SecretKey) -> Result<Self> {
        let field = FieldKey::derive(&key)?;
        Ok(Self { key, field })
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("primary", &self.primary)
            .field("min_decryption_version", &self.min_decryption_version)
            .finish_non_exhaustive()
    }
}

/// Why a keyring file is not the JSON expected, without serde_json's
/// message: that can quote the input, which here is key material. Only the
/// kind of error and its place are kept, so it has no source.
#[derive(Debug, thiserror::Error)]
#[error("{kind} at line {line} column {column}")]
struct JsonInvalid {
    kind: &'static str,
    line: usize,
    column: usize,
}

impl From<&serde_json::Error> for JsonInvalid {
    fn from(e: &serde_json::Error) -> Self {
        let kind = match e.classify() {
            serde_json::error::Category::Io => "cannot read",
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Data => "unexpected or missing field",
            serde_json::error::Category::Eof => "unexpected end",
        };
        JsonInvalid {
            kind,
            line: e.line(),
            column: e.column(),
        }
    }
}

fn decode_key(text: &str) -> Result<SecretKey> {
    let mut buf = Zeroizing::new([0u8; KEY_LEN + 3]);
    let len = URL_SAFE_NO_PAD
        .decode_slice(text, buf.as_mut())
        .map_err(|_| Error::KeyFileInvalid("a key is not canonical base64url".into()))?;
    buf.get(..len)
        .and_then(SecretKey::from_slice)
        .ok_or_else(|| Error::KeyFileInvalid("a key is not 32 bytes".into()))
}

#[derive(serde::Serialize)]
struct FileOut<'a> {
    format: &'static str,
    version: u32,
    primary: u32,
    min_decryption_version: u32,
    index_key: KeyOut<'a>,
    keys: Vec<EntryOut<'a>>,
}

#[derive(serde::Serialize)]
struct EntryOut<'a> {
    id: u32,
    key: KeyOut<'a>,
}

struct KeyOut<'a>(&'a SecretKey);

impl serde::Serialize for KeyOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        let mut buf = Zeroizing::new([0u8; 44]);
        let len = URL_SAFE_NO_PAD
            .encode_slice(self.0.as_bytes(), buf.as_mut())
            .map_err(serde::ser::Error::custom)?;
        let text = buf
            .get(..len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(|| serde::ser::Error::custom("key encoding"))?;
        s.serialize_str(text)
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn<'a> {
    #[serde(borrow)]
    format: &'a str,
    version: u32,
    primary: u32,
    min_decryption_version: u32,
    #[serde(borrow)]
    index_key: &'a str,
    #[serde(borrow)]
    keys: Vec<EntryIn<'a>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryIn<'a> {
    id: u32,
    #[serde(borrow)]
    key: &'a str,
}
