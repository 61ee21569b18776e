#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod bundle;
mod checkpoint;
mod error;
mod event;
mod file;
mod finding;
mod hex;
mod log;
mod merkle;
#[cfg(feature = "postgres")]
mod postgres;
mod record;
mod segment;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
mod verify;

pub use crate::{
    bundle::{
        BUNDLE_FORMAT, Bundle, BundlePayload, BundleRecord, BundleReport, EarlierCheckpoint,
        MAX_BUNDLE_RECORDS, ProvenLeaf,
    },
    checkpoint::{
        Checkpoint, CheckpointSigner, CheckpointVerifier, MAX_NOTE_LEN, parse_checkpoint_unverified,
    },
    error::{Error, Result},
    event::{Event, Outcome},
    file::{Durability, FileOptions, FileStore, Recovery},
    finding::Finding,
    hex::{from_hex, hash_from_hex, to_hex},
    log::{AuditLog, CheckpointPolicy, Erasure, KEY_FILE, MemoryLog, ORIGIN_FILE, PUBLIC_KEY_FILE},
    merkle::{
        Hash, MerkleTree, empty_root, leaf_hash, node_hash, root_from_inclusion_proof,
        verify_consistency, verify_inclusion,
    },
    record::{
        Disclosure, ENCODING_VERSION, MAX_FIELD_LEN, MAX_PAYLOAD_LEN, MAX_SUBJECTS, PayloadState,
        Record, Sealed, payload_commitment,
    },
    segment::{
        Frame, FrameError, SEGMENT_HEADER_LEN, SEGMENT_MAGIC, encode_segment, masked_crc,
        parse_segment, read_frame,
    },
    store::{AuditSink, MemoryStore, Query, Receipt, Store},
    verify::{ERASE_ACTION, Report, verify_dir, verify_store},
};

#[cfg(feature = "postgres")]
pub use crate::postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use crate::sqlite::SqliteStore;
