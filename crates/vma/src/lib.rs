//! Codec for Proxmox VE's VMA backup archives (`vzdump-qemu-*.vma[.zst|.gz|.lzo]`).
//!
//! * [`VmaReader`] streams an archive: the header (configs, devices) is
//!   validated on construction, then [`VmaReader::next_cluster`] yields one
//!   64 KiB cluster at a time with its zero-block mask, so consumers can write
//!   changed blocks without buffering images. Every structural rule is checked
//!   and a violation is a [`VmaError`] carrying the exact stream offset.
//!   [`PrefetchReader`] runs the same reader on its own thread and hands whole extents
//!   over without copying them (decompression overlaps with the caller's work).
//! * [`open_path`]/[`decompress`] undo zstd, gzip or lzop in-process.
//! * [`VmaWriter`] writes archives PVE's `vma`/`qmrestore` can read.
//! * [`ops`] offers `list`, `config`, `verify` and `extract` with the meaning
//!   of PVE's `vma` subcommands.
//!
//! The on-disk format and where PVE's spec and code disagree: `FORMAT.md`
//! and [`format`].
//!
//! ```
//! use zferry_vma::{DevId, HeaderSpec, VmaReader, VmaWriter};
//! let spec = HeaderSpec {
//!     uuid: uuid::Uuid::nil(),
//!     ctime: 0,
//!     configs: vec![],
//!     devices: vec![("drive-scsi0".into(), 70_000)],
//! };
//! let mut w = VmaWriter::new(Vec::new(), &spec).unwrap();
//! w.write_device(DevId::new(1).unwrap(), &[7u8; 70_000][..]).unwrap();
//! let bytes = w.finish().unwrap();
//! let mut r = VmaReader::new(&bytes[..]).unwrap();
//! let mut n = 0;
//! while let Some(c) = r.next_cluster().unwrap() {
//!     n += c.len();
//! }
//! assert_eq!(n, 70_000);
//! ```

#![allow(
    clippy::cast_possible_truncation,
    reason = "binary codec: every narrowing cast is of a value bounded by the format (header <= 512 KiB, extent <= 3.7 MiB, masked bit fields)"
)]

mod clusters;
pub mod compress;
pub mod error;
pub mod format;
pub mod header;
pub mod lzo;
pub mod ops;
pub mod prefetch;
pub mod reader;
pub mod writer;

pub use compress::{Compression, VmaStream, decompress, open_path, open_path_metered};
pub use error::{ExtractError, OpenError, VmaError, WriteError};
pub use header::{ConfigBlob, DevId, Device, Header, HeaderSpec};
pub use prefetch::PrefetchReader;
pub use reader::{Cluster, ClusterSource, VmaReader};
pub use uuid::Uuid;
pub use writer::VmaWriter;
