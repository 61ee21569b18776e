//! The wire formats, for whoever writes an independent verifier: the
//! canonical record encoding, the payload commitment, the Merkle tree, the
//! segment files of a log directory, checkpoint notes and evidence bundles,
//! with the functions and limits that implement them.
//!
//! An application does not need this module: [`AuditLog`](crate::AuditLog),
//! [`verify_dir`](crate::verify_dir), [`verify_store`](crate::verify_store)
//! and [`Bundle::verify`](crate::Bundle::verify) cover recording and
//! checking. Everything here is version 1 and frozen: the crate's
//! known-answer tests fail on any change.
//!
//! # Records (canonical encoding, version 1)
//!
//! A record is hashed as the bytes below; every field has a fixed position and
//! every variable-length field a length prefix, so two different records never
//! share an encoding. All integers are big-endian.
//!
//! ```text
//! record   := version:u8 (= 1)
//!             index:u64                 position in the log, from 0
//!             previous:[32]             leaf hash of record index-1 (zeros for 0)
//!             time:i64                  nanoseconds since 1970-01-01T00:00:00Z, >= 0
//!             outcome:u8                0 success, 1 failure, 2 denied
//!             actor:str action:str resource:str
//!             tenant:opt-str
//!             subjects:u32 str*         count (at most 1 024), then each subject
//!             payload:opt-[32]          commitment to the payload, see below
//! str      := length:u32 bytes          UTF-8, at most 65 535 bytes
//! opt-X    := 0x00 | 0x01 X
//! ```
//!
//! The leaf hash is `SHA-256(0x00 || record)` ([`leaf_hash`], RFC 6962);
//! since each record names the leaf hash of its predecessor, the leaves also
//! form a hash chain. The tree over the leaves is the RFC 6962 / RFC 9162
//! Merkle tree: `node = SHA-256(0x01 || left || right)` ([`node_hash`]),
//! the empty tree's root `SHA-256("")` ([`empty_root`]).
//!
//! The payload commitment ([`payload_commitment`]) is
//! `SHA-256("palisade-audit payload v1" || 0x00 || salt[32] || payload)` where
//! `payload` is the JSON text of the payload (compact, every object's keys
//! in byte order, at most 1 MiB) and `salt` 32
//! random bytes kept beside the record. Erasing a payload deletes the salt
//! and the JSON; the commitment, and with it every hash and proof, stays as
//! it was. An erased payload must be covered by a later event whose action is
//! [`ERASE_ACTION`] naming one of the record's subjects.
//!
//! # Log directories
//!
//! ```text
//! DIR/segments/<first index, 20 digits>.seg   records, see below     (SEGMENTS_DIR)
//! DIR/checkpoints.log                         checkpoint frames      (CHECKPOINTS_FILE)
//! DIR/origin                                  the log's name + "\n"  (ORIGIN_FILE)
//! DIR/checkpoint.key                          signing key, 0600      (KEY_FILE)
//! DIR/checkpoint.pub                          public key             (PUBLIC_KEY_FILE)
//! DIR/LOCK                                    advisory append lock   (LOCK_FILE)
//! ```
//!
//! ```text
//! segment := magic "PALAUDIT" (8) | format version u32le (= 1) | first index u64le
//!            frame*
//! frame   := record_len u32le | sidecar_len u32le
//!            record_crc u32le | sidecar_crc u32le      masked CRC32C, as LevelDB
//!            record[record_len]                        canonical encoding
//!            sidecar[sidecar_len]
//! sidecar := 0x00                                      no payload
//!          | 0x01 salt[32] json                        payload present
//!          | 0x02 zero bytes                           payload erased (same length)
//! checkpoints.log := (note_len u32le | masked CRC32C of note u32le | note)*
//! ```
//!
//! The record part is immutable. The sidecar is rewritten in place, with its
//! own checksum, only to erase a payload. The masked CRC ([`masked_crc`]) is
//! `rotate_right(crc32c, 15) + 0xa282ead8`.
//!
//! # Checkpoints
//!
//! Signed notes in the format of Go's `golang.org/x/mod/sumdb/note` and the
//! C2SP `tlog-checkpoint` specification, ed25519 signatures:
//!
//! ```text
//! <origin>\n
//! <tree size, decimal>\n
//! <root hash, base64>\n
//! time <RFC 3339 time, nine fractional digits, Z>\n
//! \n
//! — <key name> <base64(key hash[4] || ed25519 signature[64])>\n
//! ```
//!
//! where the key hash is the first four bytes of
//! `SHA-256(name || "\n" || 0x01 || public key)`. Keys are written as
//! `name+<key hash hex>+base64(0x01 || key)` (public) and
//! `PRIVATE+KEY+name+<key hash hex>+base64(0x01 || seed)` (signing).
//!
//! # Evidence bundles
//!
//! A JSON document ([`Bundle`](crate::Bundle), format [`BUNDLE_FORMAT`]):
//! the records in their canonical encoding (hex), what is disclosed of each
//! payload ([`BundlePayload`]), an inclusion proof per record to the signed
//! checkpoint, the leaf before the range with its proof ([`ProvenLeaf`]),
//! and earlier checkpoints with consistency proofs ([`EarlierCheckpoint`]).
//! Hashes are 64 lowercase hex digits; unknown fields are refused.

pub use crate::proof::bundle::{
    BUNDLE_FORMAT, BundlePayload, BundleRecord, EarlierCheckpoint, MAX_BUNDLE_RECORDS, ProvenLeaf,
};
pub use crate::proof::checkpoint::{MAX_NOTE_LEN, parse_checkpoint_unverified};
pub use crate::proof::merkle::{
    MerkleTree, empty_root, leaf_hash, node_hash, root_from_inclusion_proof,
};
pub use crate::record::{
    Disclosure, ENCODING_VERSION, MAX_FIELD_LEN, MAX_PAYLOAD_LEN, MAX_SUBJECTS, payload_commitment,
};
pub use crate::store::segment::{
    FRAME_HEADER_LEN, Frame, FrameError, MAX_RECORD_LEN, MAX_SIDECAR_LEN, SEGMENT_HEADER_LEN,
    SEGMENT_MAGIC, SEGMENT_VERSION, encode_segment, masked_crc, parse_segment, read_frame,
};
pub use crate::verify::ERASE_ACTION;

/// The folder of segment files in a log directory.
pub const SEGMENTS_DIR: &str = "segments";
/// The checkpoint file in a log directory.
pub const CHECKPOINTS_FILE: &str = "checkpoints.log";
/// The file naming the log (its origin).
pub const ORIGIN_FILE: &str = "origin";
/// The signing key file in a log directory (mode 0600).
pub const KEY_FILE: &str = "checkpoint.key";
/// The public key file in a log directory.
pub const PUBLIC_KEY_FILE: &str = "checkpoint.pub";
/// The advisory lock held by the one process appending.
pub const LOCK_FILE: &str = "LOCK";
