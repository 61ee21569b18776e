//! A list in fixed-size chunks, for what grows with the log.

/// A list in fixed-size chunks: appending never moves (copies) what is
/// already held, as one growing `Vec` would at every doubling.
#[derive(Clone, Debug)]
pub(crate) struct Chunks<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunks<T> {
    fn default() -> Self {
        Chunks {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunks<T> {
    pub(crate) const CHUNK: usize = 4096;

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn last(&self) -> Option<&T> {
        self.chunks.last()?.last()
    }

    pub(crate) fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < Self::CHUNK => chunk.push(item),
            _ => {
                let mut chunk = Vec::with_capacity(Self::CHUNK);
                chunk.push(item);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        self.chunks
            .get(index / Self::CHUNK)?
            .get(index % Self::CHUNK)
    }

    /// Items `range`, which must be within the length.
    pub(crate) fn range(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = &T> {
        self.chunks
            .iter()
            .skip(range.start / Self::CHUNK)
            .flatten()
            .skip(range.start % Self::CHUNK)
            .take(range.len())
    }
}
