//! Evidence bundles: a range of records with everything needed to check
//! them elsewhere — proofs, signed checkpoints and the public key.

use serde::{Deserialize, Serialize};

use crate::error::malformed;
use crate::hash::{serde_hex, serde_proof};
use crate::proof::checkpoint::{Checkpoint, CheckpointVerifier};
use crate::proof::merkle::{verify_consistency, verify_inclusion};
use crate::record::{PayloadState, Record};
use crate::verify::ChainChecker;
use crate::{Error, Finding, Hash, Result};

/// The format tag of version 1 bundles.
pub const BUNDLE_FORMAT: &str = "palisade-audit-bundle/1";
/// The most records one bundle may hold.
pub const MAX_BUNDLE_RECORDS: usize = 1_000_000;

/// A self-contained, verifiable export of records `start..start + n`.
///
/// JSON, parsed strictly (unknown fields, non-canonical hex and oversized
/// proofs are rejected). Verify with [`Bundle::verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`BUNDLE_FORMAT`](crate::format::BUNDLE_FORMAT).
    pub format: String,
    /// The log's origin.
    pub origin: String,
    /// The checkpoint public key, `name+hash+key`.
    pub public_key: String,
    /// The signed checkpoint every inclusion proof leads to.
    pub checkpoint: String,
    /// Index of the first record.
    pub start: u64,
    /// The leaf hash of record `start - 1` and its inclusion proof, so the
    /// first record's chain link can be checked (absent when `start` is 0).
    pub previous: Option<ProvenLeaf>,
    /// The records, in order.
    pub records: Vec<BundleRecord>,
    /// Earlier checkpoints, each with a consistency proof to `checkpoint`:
    /// evidence that the records were already in the log at their time.
    pub earlier_checkpoints: Vec<EarlierCheckpoint>,
}

/// A leaf hash with its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenLeaf {
    /// The leaf hash.
    pub leaf_hash: Hash,
    /// Its inclusion proof in the checkpoint's tree.
    #[serde(with = "serde_proof")]
    pub inclusion: Vec<Hash>,
}

/// One record of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleRecord {
    /// The canonical encoding, hex.
    #[serde(with = "serde_hex")]
    pub record: Vec<u8>,
    /// What the bundle discloses of the payload.
    pub payload: BundlePayload,
    /// Inclusion proof in the checkpoint's tree.
    #[serde(with = "serde_proof")]
    pub inclusion: Vec<Hash>,
}

/// The payload of a bundled record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase", deny_unknown_fields)]
pub enum BundlePayload {
    /// The event had no payload.
    None,
    /// The payload: its salt and exact JSON text, which open the commitment.
    Present {
        /// The salt, hex.
        #[serde(with = "serde_hex")]
        salt: [u8; 32],
        /// The JSON text as committed.
        json: String,
    },
    /// The payload was erased (or withheld); only its commitment is evidence.
    Erased,
}

/// An earlier checkpoint and its consistency proof to the bundle's checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlierCheckpoint {
    /// The signed note.
    pub note: String,
    /// Consistency proof from its size to the bundle checkpoint's size.
    #[serde(with = "serde_proof")]
    pub consistency: Vec<Hash>,
}

/// What a bundle verification established.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[must_use = "the report holds the verified records and the checkpoint they are proven against"]
pub struct BundleReport {
    /// The checkpoint the records are proven against.
    pub checkpoint: Checkpoint,
    /// The verified records (payloads disclosed where present).
    pub records: Vec<Record>,
    /// Earlier checkpoints proven consistent.
    pub earlier: Vec<Checkpoint>,
}

impl BundlePayload {
    fn sidecar(&self) -> Vec<u8> {
        match self {
            BundlePayload::None => vec![0],
            BundlePayload::Present { salt, json } => {
                let mut out = Vec::with_capacity(33 + json.len());
                out.push(1);
                out.extend_from_slice(salt);
                out.extend_from_slice(json.as_bytes());
                out
            }
            BundlePayload::Erased => vec![2],
        }
    }

    pub(crate) fn from_state(state: &PayloadState) -> BundlePayload {
        match state {
            PayloadState::None => BundlePayload::None,
            PayloadState::Present(d) => match std::str::from_utf8(d.json()) {
                Ok(json) => BundlePayload::Present {
                    salt: *d.salt(),
                    json: json.to_owned(),
                },
                Err(_) => BundlePayload::Erased,
            },
            PayloadState::Erased => BundlePayload::Erased,
        }
    }
}

fn fail<T>(finding: Finding) -> Result<T> {
    Err(Error::LogInvalid(finding))
}

impl Bundle {
    /// Parses a bundle strictly. The function the `audit_bundle` fuzz target drives.
    pub fn from_json(text: &str) -> Result<Bundle> {
        let bundle: Bundle =
            serde_json::from_str(text).map_err(|e| malformed("bundle", e.to_string()))?;
        if bundle.format != BUNDLE_FORMAT {
            return Err(malformed("bundle", "unknown format"));
        }
        if bundle.records.is_empty() || bundle.records.len() > MAX_BUNDLE_RECORDS {
            return Err(malformed("bundle", "must hold 1 to 1000000 records"));
        }
        Ok(bundle)
    }

    /// The bundle as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| malformed("bundle", e.to_string()))
    }

    /// Verifies the bundle: the checkpoint's signature (with `trusted`, or
    /// else the bundle's own key, which the caller must then compare with a
    /// key it trusts), every record's encoding, chain link, payload
    /// commitment and inclusion proof, and every earlier checkpoint's
    /// signature and consistency proof.
    pub fn verify(&self, trusted: Option<&CheckpointVerifier>) -> Result<BundleReport> {
        let own = CheckpointVerifier::from_text(&self.public_key)?;
        if let Some(t) = trusted
            && t != &own
        {
            return fail(Finding::log("the bundle is signed by a different key"));
        }
        let key = trusted.unwrap_or(&own);
        let Ok(cp) = key.open(&self.checkpoint) else {
            return fail(Finding::log("the checkpoint signature does not verify"));
        };
        if cp.origin != self.origin {
            return fail(Finding::log("the checkpoint is for another log"));
        }
        let count = self.records.len() as u64;
        let end = self
            .start
            .checked_add(count)
            .filter(|&e| e <= cp.size && count > 0)
            .ok_or_else(|| {
                Error::LogInvalid(Finding::log("the records lie outside the checkpoint"))
            })?;
        let previous = match (&self.previous, self.start) {
            (None, 0) => Hash::ZERO,
            (Some(p), s) if s > 0 => {
                if verify_inclusion(s - 1, cp.size, &p.leaf_hash, &p.inclusion, &cp.root).is_err() {
                    return fail(Finding::at(s - 1, "inclusion proof does not verify"));
                }
                p.leaf_hash
            }
            _ => return fail(Finding::log("the previous leaf is missing or superfluous")),
        };
        let mut chain = ChainChecker::starting_at(self.start, previous);
        let mut records = Vec::with_capacity(self.records.len());
        for (i, r) in (self.start..end).zip(&self.records) {
            chain.push(&r.record, &r.payload.sidecar())?;
            let record = Record::decode(&r.record)?;
            if verify_inclusion(i, cp.size, record.leaf_hash(), &r.inclusion, &cp.root).is_err() {
                return fail(Finding::at(i, "inclusion proof does not verify"));
            }
            let state = match &r.payload {
                BundlePayload::Present { salt, json } => PayloadState::Present(
                    crate::record::Disclosure::new(*salt, json.as_bytes().to_vec()),
                ),
                BundlePayload::None => PayloadState::None,
                BundlePayload::Erased => PayloadState::Erased,
            };
            records.push(record.with_payload_state(state));
        }
        let mut earlier = Vec::new();
        for (n, e) in self.earlier_checkpoints.iter().enumerate() {
            let Ok(old) = key.open(&e.note) else {
                return fail(Finding::log(format!(
                    "earlier checkpoint {n} does not verify"
                )));
            };
            if old.origin != cp.origin
                || verify_consistency(old.size, cp.size, &old.root, &cp.root, &e.consistency)
                    .is_err()
            {
                return fail(Finding::log(format!(
                    "earlier checkpoint {n} is not consistent with the checkpoint"
                )));
            }
            earlier.push(old);
        }
        Ok(BundleReport {
            checkpoint: cp,
            records,
            earlier,
        })
    }
}
