//! Space-efficient storage of Proxmox vzdump backups on ZFS (M18–M21, seed 004).
//!
//! Each guest gets one dataset `<root>/<vmid>` holding its raw disk images; each backup is
//! one snapshot `@YYYY_MM_DD-HH_MM_SS`. Ingest streams the VMA and writes only the 4 KiB
//! blocks that changed, so a snapshot costs about what the guest changed, not the size of the
//! archive.
//!
//! - [`parse_vzdump_name`]: vmid, time and compression from an archive name ([`name`]).
//! - [`ingest`]: archive → images (VM) or file tree (container, [`tree`]) → snapshot,
//!   transactional ([`mod@ingest`], [`lxc`]).
//! - [`restore`]: snapshot → VMA for `qmrestore` ([`mod@restore`]).
//! - [`files`]: a backup's images as read-only loop devices with partitions ([`mod@files`]).
//! - [`report`]: the savings table ([`mod@report`]).
//! - [`prune`]: retention of backup snapshots by calendar buckets ([`mod@prune`]).
//! - [`watch`]: which files of a vzdump directory are complete and ready to ingest.
//!
//! Every `zfs` command is an argv run through a `zferry_exec::Executor` ([`zfs`]); file I/O on
//! the images is local, so the executor must run on the machine that mounts the datasets.

pub mod acl;
pub mod error;
pub mod files;
pub mod ingest;
pub mod layout;
pub mod lxc;
pub mod name;
pub mod pax;
pub mod prune;
pub mod readahead;
pub mod report;
pub mod restore;
pub mod tarread;
pub mod tree;
pub mod watch;
pub mod zfs;

pub use error::{Error, Undo};
pub use ingest::{DeviceReport, IngestOptions, IngestReport, Outcome, ingest, sync_images};
pub use name::{ArchiveCompression, BackupTime, GuestKind, VzdumpName, parse_vzdump_name};
pub use report::{BackupRow, report};
pub use restore::{RestoreCompression, RestoreReport, restore};
pub use tree::{TarReport, TreeReport, sync_tar, sync_tar_metered, write_tar, write_tar_metered};
