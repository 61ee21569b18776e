//! The RFC 6962 / RFC 9162 Merkle tree: hashing, proofs and their checks.

use sha2::{Digest, Sha256};

use crate::chunks::Chunks;
use crate::{Error, Hash, Result};

/// `SHA-256(0x00 || data)`: the hash of a leaf (RFC 6962 section 2.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash::from_bytes(h.finalize().into())
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.as_bytes());
    h.update(right.as_bytes());
    Hash::from_bytes(h.finalize().into())
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    Hash::from_bytes(Sha256::digest([]).into())
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// A Merkle tree over leaf hashes that keeps every complete subtree, so that
/// appending is O(log n) and every root and proof O(log n) hashes.
#[derive(Clone, Debug, Default)]
pub struct MerkleTree {
    /// `levels[h][i]` is the hash of the complete subtree of height `h` that
    /// covers leaves `i * 2^h .. (i + 1) * 2^h`. In chunks: a tree of
    /// millions of leaves grows without copying its levels (and holding up
    /// appenders while a doubled level is copied and faulted in).
    levels: Vec<Chunks<Hash>>,
}

impl MerkleTree {
    /// An empty tree.
    pub fn new() -> MerkleTree {
        MerkleTree::default()
    }

    /// A tree over the given leaf hashes.
    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> MerkleTree {
        let mut tree = MerkleTree::new();
        for leaf in leaves {
            tree.push(leaf);
        }
        tree
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The leaf hash at `index`.
    pub fn leaf(&self, index: u64) -> Option<&Hash> {
        self.levels.first()?.get(usize::try_from(index).ok()?)
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut height = 0;
        let mut node = leaf;
        loop {
            if self.levels.len() <= height {
                self.levels.push(Chunks::default());
            }
            let Some(level) = self.levels.get_mut(height) else {
                return;
            };
            level.push(node);
            let len = level.len();
            if len % 2 == 1 {
                return;
            }
            let (Some(left), Some(right)) = (level.get(len - 2), level.get(len - 1)) else {
                return;
            };
            node = node_hash(left, right);
            height += 1;
        }
    }

    /// The root of the tree over the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash> {
        if size > self.len() {
            return Err(Error::IndexOutOfRange(size));
        }
        if size == 0 {
            return Ok(empty_root());
        }
        self.subtree(0, size)
    }

    /// The hash of leaves `start..end`, where `start` is a multiple of the
    /// largest power of two not above `end - start` (as in every RFC 6962
    /// recursion that starts at 0).
    fn subtree(&self, start: u64, end: u64) -> Result<Hash> {
        let n = end - start;
        if n.is_power_of_two() && start.is_multiple_of(n) {
            let height = n.trailing_zeros() as usize;
            return self
                .levels
                .get(height)
                .and_then(|level| level.get(usize::try_from(start >> height).ok()?))
                .copied()
                .ok_or(Error::IndexOutOfRange(end));
        }
        if n < 2 {
            return Err(Error::IndexOutOfRange(end));
        }
        let k = split(n);
        let left = self.subtree(start, start + k)?;
        let right = self.subtree(start + k, end)?;
        Ok(node_hash(&left, &right))
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves
    /// (RFC 6962 `PATH(m, D[n])`), leaf side first.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        if size > self.len() {
            return Err(Error::IndexOutOfRange(size));
        }
        if index >= size {
            return Err(Error::RangeInvalid(format!(
                "index `{index}` is not below size `{size}`"
            )));
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof)?;
        Ok(proof)
    }

    fn path(&self, m: u64, start: u64, end: u64, proof: &mut Vec<Hash>) -> Result<()> {
        let n = end - start;
        if n <= 1 {
            return Ok(());
        }
        let k = split(n);
        if m < k {
            self.path(m, start, start + k, proof)?;
            proof.push(self.subtree(start + k, end)?);
        } else {
            self.path(m - k, start + k, end, proof)?;
            proof.push(self.subtree(start, start + k)?);
        }
        Ok(())
    }

    /// The proof that the tree of the first `old` leaves is a prefix of the
    /// tree of the first `new` leaves (RFC 6962 `PROOF(m, D[n])`).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>> {
        if new > self.len() {
            return Err(Error::IndexOutOfRange(new));
        }
        if old > new {
            return Err(Error::RangeInvalid(format!(
                "size `{old}` is above size `{new}`"
            )));
        }
        let mut proof = Vec::new();
        if old == 0 || old == new {
            return Ok(proof);
        }
        self.subproof(old, 0, new, true, &mut proof)?;
        Ok(proof)
    }

    fn subproof(
        &self,
        m: u64,
        start: u64,
        end: u64,
        complete: bool,
        proof: &mut Vec<Hash>,
    ) -> Result<()> {
        let n = end - start;
        if m == n {
            if !complete {
                proof.push(self.subtree(start, end)?);
            }
            return Ok(());
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, start, start + k, complete, proof)?;
            proof.push(self.subtree(start + k, end)?);
        } else {
            self.subproof(m - k, start + k, end, false, proof)?;
            proof.push(self.subtree(start, start + k)?);
        }
        Ok(())
    }
}

/// The root that an inclusion proof leads to, or `None` if the proof has the
/// wrong shape for `index` and `size` (RFC 9162 section 2.1.3.2).
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let mut f = index;
    let mut s = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0).then_some(r)
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves with `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<()> {
    match root_from_inclusion_proof(index, size, leaf, proof) {
        Some(computed) if computed == *root => Ok(()),
        _ => Err(Error::ProofInvalid),
    }
}

/// Checks that the tree of `old` leaves with root `old_root` is a prefix of
/// the tree of `new` leaves with root `new_root` (RFC 9162 section 2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<()> {
    let ok = consistency_holds(old, new, old_root, new_root, proof);
    if ok { Ok(()) } else { Err(Error::ProofInvalid) }
}

fn consistency_holds(old: u64, new: u64, old_root: &Hash, new_root: &Hash, proof: &[Hash]) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        // Every tree extends the empty tree.
        return proof.is_empty();
    }
    let Some((first, rest)) = proof.split_first() else {
        return false;
    };
    let (start, rest) = if old.is_power_of_two() {
        (old_root, proof)
    } else {
        (first, rest)
    };
    let mut f = old - 1;
    let mut s = new - 1;
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut fr = *start;
    let mut sr = *start;
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *old_root && sr == *new_root && s == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962's definition, written out naively, as the reference.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_match_the_definition_and_proofs_verify() {
        let leaves: Vec<Hash> = (0u32..70).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let tree = MerkleTree::from_leaves(leaves.iter().copied());
        for size in 0..=70u64 {
            let root = tree.root(size).unwrap();
            assert_eq!(
                root,
                reference_root(&leaves[..size as usize]),
                "size {size}"
            );
            for index in 0..size {
                let proof = tree.inclusion_proof(index, size).unwrap();
                verify_inclusion(index, size, &leaves[index as usize], &proof, &root).unwrap();
                assert!(
                    verify_inclusion(
                        index,
                        size,
                        &leaves[(index as usize + 1) % 70],
                        &proof,
                        &root
                    )
                    .is_err()
                );
            }
            for old in 0..=size {
                let proof = tree.consistency_proof(old, size).unwrap();
                let old_root = tree.root(old).unwrap();
                verify_consistency(old, size, &old_root, &root, &proof).unwrap();
                if old > 0 && old < size {
                    let wrong = tree.root(old - 1).unwrap();
                    assert!(verify_consistency(old, size, &wrong, &root, &proof).is_err());
                }
            }
        }
    }
}
