#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "tokio")]
mod asynclog;
mod chunks;
mod error;
mod event;
mod finding;
pub mod format;
mod hash;
mod log;
mod proof;
mod record;
mod sink;
mod store;
mod subjects;
mod verify;

// Recording and reading.
pub use crate::event::{Event, Outcome};
pub use crate::log::{AuditLog, CheckpointPolicy, Erasure};
pub use crate::record::{PayloadState, Record};
pub use crate::sink::AuditSink;
pub use crate::store::{Query, Receipt};
pub use crate::subjects::{Iter as SubjectsIter, Subjects, subject};

// Proofs and evidence.
pub use crate::hash::Hash;
pub use crate::proof::bundle::{Bundle, BundleReport};
pub use crate::proof::checkpoint::{Checkpoint, CheckpointSigner, CheckpointVerifier};
pub use crate::proof::merkle::{verify_consistency, verify_inclusion};
pub use crate::verify::{LogReport, verify_dir, verify_store};

// The async log (feature `tokio`).
#[cfg(feature = "tokio")]
pub use crate::asynclog::{
    AsyncAuditLog, AsyncAuditSink, AsyncLogBuilder, AsyncStore, BlockingStore, CommitStats,
    GroupCommit, verify_async_store,
};

// Stores.
pub use crate::record::Sealed;
pub use crate::store::Store;
pub use crate::store::file::{Durability, FileOptions, FileStore};
pub use crate::store::memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use crate::store::postgres::blocking::PostgresStore;
#[cfg(feature = "postgres-async")]
pub use crate::store::postgres::pooled::AsyncPostgresStore;
#[cfg(feature = "postgres-rustls")]
pub use crate::store::postgres_tls::postgres_rustls_connector;
pub use crate::store::recovery::Recovery;
#[cfg(feature = "sqlite")]
pub use crate::store::sqlite::SqliteStore;

// Errors.
pub use crate::error::{Error, Result};
pub use crate::finding::Finding;
