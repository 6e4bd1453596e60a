//! Per-device "seen" bitmap of clusters, allocated lazily in 32 KiB chunks so
//! memory follows the clusters actually present, not the size a header claims.

/// Clusters per chunk: 4096 words × 64 bits (one chunk covers 16 GiB of disk).
const CHUNK_WORDS: usize = 4096;
const CHUNK_BITS: u64 = (CHUNK_WORDS * 64) as u64;

/// Set of cluster numbers in `0..len`.
#[derive(Debug)]
pub(crate) struct ClusterSet {
    len: u64,
    count: u64,
    chunks: Vec<Option<Box<[u64]>>>,
}

impl ClusterSet {
    pub(crate) fn new(len: u64) -> Self {
        let n = usize::try_from(len.div_ceil(CHUNK_BITS)).unwrap_or(usize::MAX);
        Self {
            len,
            count: 0,
            chunks: std::iter::repeat_with(|| None).take(n).collect(),
        }
    }

    /// Inserts `c` (< len); returns false if it was already present.
    pub(crate) fn insert(&mut self, c: u64) -> bool {
        debug_assert!(c < self.len);
        let chunk = self.chunks[(c / CHUNK_BITS) as usize]
            .get_or_insert_with(|| vec![0u64; CHUNK_WORDS].into_boxed_slice());
        let bit = c % CHUNK_BITS;
        let word = &mut chunk[(bit / 64) as usize];
        let m = 1u64 << (bit % 64);
        if *word & m != 0 {
            return false;
        }
        *word |= m;
        self.count += 1;
        true
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.count == self.len
    }

    /// Smallest cluster number not present, if any.
    pub(crate) fn first_missing(&self) -> Option<u64> {
        if self.is_complete() {
            return None;
        }
        for (ci, chunk) in self.chunks.iter().enumerate() {
            let base = ci as u64 * CHUNK_BITS;
            let Some(words) = chunk else {
                return Some(base);
            };
            for (wi, w) in words.iter().enumerate() {
                if *w != u64::MAX {
                    let c = base + wi as u64 * 64 + u64::from(w.trailing_ones());
                    return (c < self.len).then_some(c);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_duplicates_and_first_missing() {
        let mut s = ClusterSet::new(CHUNK_BITS + 3);
        assert_eq!(s.first_missing(), Some(0));
        assert!(s.insert(0));
        assert!(!s.insert(0));
        assert_eq!(s.first_missing(), Some(1));
        for c in 1..CHUNK_BITS {
            s.insert(c);
        }
        assert_eq!(s.first_missing(), Some(CHUNK_BITS));
        s.insert(CHUNK_BITS);
        s.insert(CHUNK_BITS + 2);
        assert_eq!(s.first_missing(), Some(CHUNK_BITS + 1));
        s.insert(CHUNK_BITS + 1);
        assert!(s.is_complete());
        assert_eq!(s.first_missing(), None);
    }
}
