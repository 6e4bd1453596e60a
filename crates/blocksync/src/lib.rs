//! Changed-block sync: bring a target file (or block device / zvol) to equal a source, comparing
//! in 4 KiB blocks and writing only the blocks that differ (the seed's "intelligent dd", M19).
//!
//! Why: on copy-on-write storage (ZFS) every rewritten block costs space in the next snapshot,
//! even when its content did not change. Writing only differing blocks keeps a snapshot's
//! `written` close to the bytes that really changed.
//!
//! Two entry points share one compare-and-apply core ([`apply`]):
//! - [`sync`]: a source stream, read in large chunks by a reader thread while target ranges are
//!   prefetched by other threads, so comparing never waits on one I/O at a time.
//! - [`BlockSink`]: blocks pushed one at a time in any order (the VMA ingest), batched into runs
//!   internally so contiguous blocks cost one target read and one coalesced write.
//!
//! [`reference`] is a deliberately naive per-block implementation that the tests check the fast
//! paths against.

mod apply;
mod engine;
mod error;
mod options;
mod punch;
pub mod reference;
mod report;
mod sink;
mod target;

pub use engine::{sync, sync_metered};
pub use error::Error;
pub use options::{ChunkSize, Options};
pub use report::Report;
pub use sink::BlockSink;
pub use target::{hint_sequential, holes_supported};

/// The compare granularity: 4 KiB, the page size and the block size ZFS zvols and most file
/// systems use; fixed so that "bytes written" means the same everywhere.
pub const BLOCK_SIZE: usize = 4096;

/// [`BLOCK_SIZE`] as a file offset quantity.
pub const BLOCK_SIZE_U64: u64 = 4096;
