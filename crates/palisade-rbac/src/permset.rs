//! Sets of permission ids: a bitset when dense, a sorted array when sparse.

/// An immutable set of permission ids below a known universe size.
#[derive(Clone, Debug)]
pub(crate) enum PermSet {
    /// One bit per permission of the universe.
    Dense(Box<[u64]>),
    /// The members, sorted ascending.
    Sparse(Box<[u32]>),
}

impl PermSet {
    /// Builds a bitset unless it would take more than twice the memory of
    /// the sorted array (bit tests are cheaper than searches).
    pub(crate) fn build(mut ids: Vec<u32>, universe: u32) -> Self {
        ids.sort_unstable();
        ids.dedup();
        let words = (universe as usize).div_ceil(64);
        if ids.len().saturating_mul(8) >= words.saturating_mul(8) {
            let mut bits = vec![0u64; words];
            for id in ids {
                if let Some(word) = bits.get_mut((id / 64) as usize) {
                    *word |= 1 << (id % 64);
                }
            }
            Self::Dense(bits.into_boxed_slice())
        } else {
            Self::Sparse(ids.into_boxed_slice())
        }
    }

    /// Whether `id` is a member.
    #[inline]
    pub(crate) fn contains(&self, id: u32) -> bool {
        match self {
            Self::Dense(bits) => bits
                .get((id / 64) as usize)
                .is_some_and(|word| word & (1 << (id % 64)) != 0),
            Self::Sparse(ids) => match ids.len() {
                0 => false,
                1..=8 => ids.contains(&id),
                _ => ids.binary_search(&id).is_ok(),
            },
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Self::Dense(bits) => bits.len() * 8,
            Self::Sparse(ids) => ids.len() * 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PermSet;

    #[test]
    fn both_representations_agree() {
        let members = vec![0, 3, 64, 65, 100, 127];
        let sparse = PermSet::build(members.clone(), 100_000);
        let dense = PermSet::build(members.clone(), 128);
        assert!(matches!(sparse, PermSet::Sparse(_)));
        assert!(matches!(dense, PermSet::Dense(_)));
        for id in 0..300 {
            let expected = members.contains(&id);
            assert_eq!(sparse.contains(id), expected, "{id}");
            assert_eq!(dense.contains(id), expected, "{id}");
        }
    }
}
