//! Errors of the block-sync engine: every I/O error says which side, which operation and where.

use std::io;

/// Why a sync or a sink operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the source stream failed.
    #[error("reading source at byte {offset}: {source}")]
    ReadSource { offset: u64, source: io::Error },
    /// An I/O operation on the target failed.
    #[error("{op} on target at byte {offset}: {source}")]
    Target {
        op: &'static str,
        offset: u64,
        source: io::Error,
    },
    /// The target is a block device smaller than the source; devices cannot grow.
    #[error("target device holds {device_size} bytes but the source has at least {needed}")]
    TargetTooSmall { device_size: u64, needed: u64 },
    /// A block handed to [`crate::BlockSink::put`] lies beyond the declared size.
    #[error("block {block_index} lies beyond the declared size of {size} bytes")]
    BlockBeyondSize { block_index: u64, size: u64 },
    /// A block handed to [`crate::BlockSink::put`] has the wrong length.
    #[error("block {block_index} has {got} bytes, expected {expected}")]
    BadBlockLength {
        block_index: u64,
        got: usize,
        expected: usize,
    },
    /// A chunk size that is zero or not a multiple of 4 KiB.
    #[error("chunk size {0} is not a positive multiple of 4096")]
    BadChunkSize(usize),
    /// A worker thread panicked (a bug; reported instead of propagating the panic).
    #[error("internal worker thread panicked")]
    WorkerPanicked,
}

impl Error {
    pub(crate) fn target(op: &'static str, offset: u64) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Target { op, offset, source }
    }
}
