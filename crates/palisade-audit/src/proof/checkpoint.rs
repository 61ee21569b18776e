//! Signed tree heads in the signed-note format (Go's `golang.org/x/mod/sumdb/note`,
//! the C2SP `tlog-checkpoint` and `signed-note` specifications).
//!
//! A checkpoint's body is
//!
//! ```text
//! <origin>\n
//! <tree size, decimal>\n
//! <root hash, base64>\n
//! time <RFC 3339 time>\n
//! ```
//!
//! followed by an empty line and one signature line per signer,
//! `— <key name> <base64(key hash[4] || ed25519 signature[64])>`, where the
//! key hash is the first four bytes of `SHA-256(name || "\n" || 0x01 || public key)`.

use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::malformed;
use crate::{Error, Hash, Result};

/// The longest checkpoint note accepted, in bytes.
pub const MAX_NOTE_LEN: usize = 64 * 1024;
const ED25519_ALG: u8 = 0x01;
const SIG_PREFIX: &str = "\u{2014} ";

/// A tree head: the log's origin, its size and root, and when it was taken.
///
/// Serializes (for logs and API answers) with the root in hex and the time
/// in RFC 3339; the signed form is the note text of [`CheckpointSigner::sign`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Checkpoint {
    /// The log's identity, e.g. `palisade.example/audit/3f2a...`.
    pub origin: String,
    /// Number of records covered.
    pub size: u64,
    /// Merkle root over those records.
    pub root: Hash,
    /// When the checkpoint was signed.
    #[serde(with = "crate::event::rfc3339")]
    pub time: SystemTime,
}

impl Checkpoint {
    /// The note body that is signed.
    pub fn body(&self) -> Result<String> {
        check_name(&self.origin, "origin")?;
        Ok(format!(
            "{}\n{}\n{}\ntime {}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root.as_bytes()),
            crate::event::format_rfc3339(self.time)?
        ))
    }

    fn parse_body(body: &str) -> Result<Checkpoint> {
        let bad = |why: &str| malformed("checkpoint", why);
        let lines: Vec<&str> = body
            .strip_suffix('\n')
            .ok_or_else(|| bad("body does not end in a newline"))?
            .split('\n')
            .collect();
        let [origin, size, root_text, time] = lines.as_slice() else {
            return Err(bad("body must have exactly four lines"));
        };
        check_name(origin, "origin")?;
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad("size is not a canonical decimal number"));
        }
        let size: u64 = size.parse().map_err(|_| bad("size out of range"))?;
        let root_bytes = STANDARD
            .decode(root_text)
            .map_err(|_| bad("root is not base64"))?;
        let root = Hash::from_slice(&root_bytes).map_err(|_| bad("root is not 32 bytes"))?;
        if STANDARD.encode(root.as_bytes()) != *root_text {
            return Err(bad("root is not canonical base64"));
        }
        let time_text = time
            .strip_prefix("time ")
            .ok_or_else(|| bad("missing time line"))?;
        let time =
            crate::event::parse_rfc3339(time_text).ok_or_else(|| bad("time is not RFC 3339"))?;
        let checkpoint = Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root,
            time,
        };
        if checkpoint.body()? != body {
            return Err(bad("body is not in canonical form"));
        }
        Ok(checkpoint)
    }
}

fn check_name(name: &str, what: &'static str) -> Result<()> {
    if name.is_empty()
        || name.len() > 256
        || name.contains('+')
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(malformed(
            what,
            "must be 1-256 characters without spaces or `+`",
        ));
    }
    Ok(())
}

fn key_hash(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519_ALG]);
    h.update(public.as_bytes());
    let digest = h.finalize();
    let mut out = [0u8; 4];
    out.copy_from_slice(digest.get(..4).unwrap_or(&[0; 4]));
    out
}

/// The ed25519 key that signs checkpoints. Zeroized on drop; `Debug` shows
/// only the name.
pub struct CheckpointSigner {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// A fresh key named `name` (the key name in signature lines).
    pub fn generate(name: &str) -> Result<CheckpointSigner> {
        check_name(name, "key name")?;
        Ok(CheckpointSigner {
            name: name.to_owned(),
            key: SigningKey::generate(&mut OsRng),
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<key hash hex>+<base64(0x01 || seed)>`
    /// (the note signer-key format).
    pub fn from_text(text: &str) -> Result<CheckpointSigner> {
        let bad = || malformed("signing key", "expected PRIVATE+KEY+name+hash+key");
        let rest = text
            .trim_end()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(bad)?;
        let (name, hash, key) = split_key(rest).ok_or_else(bad)?;
        let bytes = Zeroizing::new(STANDARD.decode(key).map_err(|_| bad())?);
        let (alg, seed) = bytes.split_first().ok_or_else(bad)?;
        if *alg != ED25519_ALG {
            return Err(bad());
        }
        let seed: &[u8; 32] = seed.try_into().map_err(|_| bad())?;
        let signer = CheckpointSigner {
            name: name.to_owned(),
            key: SigningKey::from_bytes(seed),
        };
        check_name(name, "key name")?;
        if hex4(key_hash(name, &signer.key.verifying_key())) != hash {
            return Err(bad());
        }
        Ok(signer)
    }

    /// The text form read by [`CheckpointSigner::from_text`]; a secret.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new(Vec::with_capacity(33));
        raw.push(ED25519_ALG);
        raw.extend_from_slice(self.key.as_bytes());
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex4(key_hash(&self.name, &self.key.verifying_key())),
            STANDARD.encode(&*raw)
        ))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching public key.
    pub fn verifier(&self) -> CheckpointVerifier {
        let key = self.key.verifying_key();
        CheckpointVerifier {
            hash: key_hash(&self.name, &key),
            name: self.name.clone(),
            key,
        }
    }

    /// Signs `checkpoint` and returns the note text.
    pub fn sign(&self, checkpoint: &Checkpoint) -> Result<String> {
        let body = checkpoint.body()?;
        let sig = self.key.sign(body.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&key_hash(&self.name, &self.key.verifying_key()));
        blob.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{body}\n{SIG_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        ))
    }
}

/// A checkpoint public key: `<name>+<key hash hex>+<base64(0x01 || key)>`
/// (the note verifier-key format).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointVerifier {
    name: String,
    hash: [u8; 4],
    key: VerifyingKey,
}

impl CheckpointVerifier {
    /// Parses the text form.
    pub fn from_text(text: &str) -> Result<CheckpointVerifier> {
        let bad = || malformed("public key", "expected name+hash+key");
        let (name, hash, key) = split_key(text.trim_end()).ok_or_else(bad)?;
        check_name(name, "key name")?;
        let bytes = STANDARD.decode(key).map_err(|_| bad())?;
        let (alg, key) = bytes.split_first().ok_or_else(bad)?;
        if *alg != ED25519_ALG {
            return Err(bad());
        }
        let key: &[u8; 32] = key.try_into().map_err(|_| bad())?;
        let key = VerifyingKey::from_bytes(key).map_err(|_| bad())?;
        let verifier = CheckpointVerifier {
            hash: key_hash(name, &key),
            name: name.to_owned(),
            key,
        };
        if hex4(verifier.hash) != hash || verifier.to_text() != text.trim_end() {
            return Err(bad());
        }
        Ok(verifier)
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        let mut raw = vec![ED25519_ALG];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex4(self.hash), STANDARD.encode(raw))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Parses a signed note and checks this key's signature on it. Notes
    /// without a valid signature by this key are rejected; other signers'
    /// lines are ignored.
    pub fn open(&self, note: &str) -> Result<Checkpoint> {
        let checkpoint = parse_note(note, |name, blob, body| {
            name == self.name
                && blob.get(..4) == Some(&self.hash[..])
                && blob
                    .get(4..)
                    .and_then(|s| ed25519_dalek::Signature::from_slice(s).ok())
                    .is_some_and(|sig| self.key.verify_strict(body.as_bytes(), &sig).is_ok())
        })?;
        checkpoint.ok_or(Error::ProofInvalid)
    }
}

/// Parses a note without checking signatures (for display).
pub fn parse_checkpoint_unverified(note: &str) -> Result<Checkpoint> {
    parse_note(note, |_, _, _| true)?.ok_or_else(|| malformed("checkpoint", "no signature"))
}

/// Parses a note; returns the checkpoint if `accept` accepts one signature line.
fn parse_note(
    note: &str,
    mut accept: impl FnMut(&str, &[u8], &str) -> bool,
) -> Result<Option<Checkpoint>> {
    let bad = |why: &str| malformed("checkpoint", why);
    if note.len() > MAX_NOTE_LEN {
        return Err(bad("too long"));
    }
    let split = note
        .find("\n\n")
        .ok_or_else(|| bad("no blank line before the signatures"))?;
    let (body, sigs) = note.split_at(split + 1);
    let sigs = sigs
        .strip_prefix('\n')
        .ok_or_else(|| bad("no blank line before the signatures"))?;
    let checkpoint = Checkpoint::parse_body(body)?;
    let sigs = sigs
        .strip_suffix('\n')
        .ok_or_else(|| bad("signatures do not end in a newline"))?;
    let mut accepted = false;
    let mut count = 0;
    for line in sigs.split('\n') {
        count += 1;
        if count > 100 {
            return Err(bad("too many signatures"));
        }
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| bad("malformed signature line"))?;
        let (name, blob) = rest
            .split_once(' ')
            .ok_or_else(|| bad("malformed signature line"))?;
        check_name(name, "key name")?;
        let blob = STANDARD
            .decode(blob)
            .map_err(|_| bad("signature is not base64"))?;
        if blob.len() < 5 {
            return Err(bad("signature too short"));
        }
        if !accepted && accept(name, &blob, body) {
            accepted = true;
        }
    }
    Ok(accepted.then_some(checkpoint))
}

/// Splits `name+hash+key`; names cannot hold `+`, base64 keys can.
fn split_key(text: &str) -> Option<(&str, &str, &str)> {
    let (name, rest) = text.split_once('+')?;
    let (hash, key) = rest.split_once('+')?;
    Some((name, hash, key))
}

fn hex4(bytes: [u8; 4]) -> String {
    data_encoding::HEXLOWER.encode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "example.com/audit".into(),
            size: 42,
            root: Hash::from_bytes([7; 32]),
            time: crate::event::parse_rfc3339("2026-01-02T03:04:05Z").unwrap(),
        }
    }

    #[test]
    fn sign_open_round_trip_and_tamper() {
        let signer = CheckpointSigner::generate("example.com/audit").unwrap();
        let verifier = CheckpointVerifier::from_text(&signer.verifier().to_text()).unwrap();
        let note = signer.sign(&checkpoint()).unwrap();
        assert_eq!(verifier.open(&note).unwrap(), checkpoint());
        let tampered = note.replace("\n42\n", "\n43\n");
        assert!(verifier.open(&tampered).is_err());
        let other = CheckpointSigner::generate("example.com/audit").unwrap();
        assert!(other.verifier().open(&note).is_err());
        let again = CheckpointSigner::from_text(&signer.to_text()).unwrap();
        assert_eq!(again.verifier(), signer.verifier());
        for i in 0..note.len() {
            let mut bytes = note.clone().into_bytes();
            bytes[i] ^= 1;
            if let Ok(text) = String::from_utf8(bytes) {
                assert!(verifier.open(&text).is_err(), "byte {i}");
            }
        }
    }

    /// A note signed by Go's `golang.org/x/mod/sumdb/note` package: the
    /// example key and message of its documentation.
    #[test]
    fn key_hash_matches_go_note_example() {
        // From the note package documentation: verifier key
        // PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW
        let v = CheckpointVerifier::from_text(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap();
        assert_eq!(v.name(), "PeterNeumann");
    }
}
