#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod error;
mod event;
mod finding;
mod log;
mod merkle;
mod record;
mod store;

pub use crate::{
    error::{Error, Result},
    event::{Event, Outcome},
    finding::Finding,
    log::{AuditLog, Erasure, MemoryLog},
    merkle::{
        Hash, MerkleTree, empty_root, leaf_hash, node_hash, root_from_inclusion_proof,
        verify_consistency, verify_inclusion,
    },
    record::{
        Disclosure, ENCODING_VERSION, MAX_FIELD_LEN, MAX_PAYLOAD_LEN, MAX_SUBJECTS, PayloadState,
        Record, Sealed, payload_commitment,
    },
    store::{AuditSink, MemoryStore, Query, Receipt, Store},
};
