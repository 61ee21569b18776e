//! What the log proves: the Merkle tree and its proofs, signed checkpoints,
//! and evidence bundles that carry both.

pub(crate) mod bundle;
pub(crate) mod checkpoint;
pub(crate) mod merkle;
