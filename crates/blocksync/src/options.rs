//! Tuning and behaviour switches for a sync; the block size itself is fixed ([`crate::BLOCK_SIZE`]).

use std::num::NonZeroUsize;
use std::str::FromStr;

use crate::{BLOCK_SIZE, Error};

/// How a sync behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Turn source zero blocks that differ from the target into holes
    /// (`fallocate(PUNCH_HOLE|KEEP_SIZE)`); falls back to writing zeros where unsupported.
    /// When false, such blocks are written as zeros (ZFS with compression turns those into holes too).
    pub punch_holes: bool,
    /// Compare and count only; never write, punch or resize the target.
    pub dry_run: bool,
    /// Threads prefetching target ranges (the source is one stream, read by one thread).
    pub parallelism: NonZeroUsize,
    /// Bytes per source read and per target read.
    pub chunk_size: ChunkSize,
    /// Record the index of every changed block in [`crate::Report::changed_blocks`].
    pub record_changed: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            punch_holes: true,
            dry_run: false,
            parallelism: NonZeroUsize::MIN,
            chunk_size: ChunkSize::DEFAULT,
            record_changed: false,
        }
    }
}

/// A positive multiple of 4 KiB: the unit of pipelined I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSize(usize);

impl ChunkSize {
    /// 4 MiB: large enough that syscall cost vanishes, small enough to stay cache-friendly.
    pub const DEFAULT: ChunkSize = ChunkSize(4 << 20);

    /// Checked constructor.
    pub fn new(bytes: usize) -> Result<Self, Error> {
        if bytes == 0 || !bytes.is_multiple_of(BLOCK_SIZE) {
            return Err(Error::BadChunkSize(bytes));
        }
        Ok(ChunkSize(bytes))
    }

    /// The size in bytes.
    pub fn get(self) -> usize {
        self.0
    }
}

impl FromStr for ChunkSize {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bytes = s
            .trim()
            .parse::<usize>()
            .map_err(|_| Error::BadChunkSize(0))?;
        ChunkSize::new(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_size_must_be_positive_block_multiple() {
        assert_eq!(ChunkSize::new(8192).map(ChunkSize::get).ok(), Some(8192));
        assert!(matches!(ChunkSize::new(0), Err(Error::BadChunkSize(0))));
        assert!(matches!(
            ChunkSize::new(4097),
            Err(Error::BadChunkSize(4097))
        ));
        assert_eq!(
            "1048576".parse::<ChunkSize>().map(ChunkSize::get).ok(),
            Some(1 << 20)
        );
        assert!("x".parse::<ChunkSize>().is_err());
    }
}
