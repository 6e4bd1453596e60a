//! zferry-zfs: typed names, pure argv builders and parsers for `zfs`/`zpool`, and typed errors.
//!
//! Nothing here runs a process: builders return argv vectors, parsers take captured text. The
//! thin glue that runs them through an executor lives in `ops` (when present).

pub mod name;

pub use name::{BookmarkName, DatasetName, NameError, PoolName, SnapshotName};
