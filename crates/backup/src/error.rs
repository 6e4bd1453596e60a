//! Errors of ingest, restore and report: each says which file or dataset and why.

use std::io;
use std::path::PathBuf;

use zferry_zfs::{SnapshotName, ZfsError};

/// Why an ingest, restore or report failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file name is not `vzdump-qemu-<vmid>-YYYY_MM_DD-HH_MM_SS.vma[.zst|.gz|.lzo]`.
    #[error(
        "{0}: not a vzdump archive name (vzdump-qemu-<vmid>-YYYY_MM_DD-HH_MM_SS.vma[.zst|.gz|.lzo] or vzdump-lxc-<vmid>-YYYY_MM_DD-HH_MM_SS.tar[.zst|.gz|.lzo])"
    )]
    NotAVmaBackup(PathBuf),
    /// Ingesting an archive older than the dataset's newest backup would put snapshots out of
    /// order; refused.
    #[error(
        "{file}: backup time {time} is older than the newest backup {newest}; refusing to ingest out of order"
    )]
    OutOfOrder {
        file: PathBuf,
        time: String,
        newest: String,
    },
    /// A `zfs` command failed.
    #[error(transparent)]
    Zfs(#[from] ZfsError),
    /// The dataset has no usable mountpoint (not mounted, `none` or `legacy`).
    #[error("dataset {dataset} has no usable mountpoint ({mountpoint:?})")]
    NoMountpoint {
        dataset: String,
        mountpoint: Option<String>,
    },
    /// Opening or decompressing the archive failed.
    #[error(transparent)]
    Open(#[from] zferry_vma::OpenError),
    /// The archive is damaged or truncated (offset and reason from the VMA reader).
    #[error("invalid or truncated archive: {0}")]
    Vma(#[from] zferry_vma::VmaError),
    /// Writing the rebuilt archive failed.
    #[error("writing the VMA: {0}")]
    Write(#[from] zferry_vma::WriteError),
    /// Applying blocks to an image failed.
    #[error("syncing image {path}: {source}")]
    Sync {
        path: PathBuf,
        source: zferry_blocksync::Error,
    },
    /// Reading the container's tar archive failed (damaged, truncated or not a tar).
    #[error("invalid or truncated tar archive: {source}")]
    Tar { source: io::Error },
    /// A tar header or extension header that cannot be read (`offset`: byte of the entry's
    /// first header in the uncompressed stream).
    #[error("tar entry {entry:?} at byte {offset}: {reason}")]
    TarFormat {
        entry: String,
        offset: u64,
        reason: String,
    },
    /// A tar entry this ingest refuses (escaping name, duplicate, dangling hard link).
    #[error("tar entry {entry:?}: {reason}")]
    BadTarEntry { entry: String, reason: &'static str },
    /// A POSIX ACL record of a tar entry (or an ACL xattr being archived) is malformed.
    #[error("{entry}: bad POSIX ACL in the {record} record: {reason}")]
    BadAcl {
        entry: String,
        record: String,
        reason: String,
    },
    /// The file system refused a POSIX ACL (ACLs off on the dataset).
    #[error(
        "{path}: the file system does not support POSIX ACLs, which the backup has: enable them on the dataset (zfs set acltype=posixacl <dataset>) and ingest again"
    )]
    AclUnsupported { path: PathBuf },
    /// A command (losetup) could not run or failed.
    #[error(transparent)]
    Exec(#[from] zferry_exec::ExecError),
    /// A partition of an exposed backup is still mounted.
    #[error("{device} is mounted on {mountpoint}: unmount it first (umount {mountpoint})")]
    Busy { device: String, mountpoint: String },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// The archive carries a config blob whose name cannot be stored as a plain file.
    #[error("config blob name {0:?} cannot be stored as a file")]
    BadBlobName(String),
    /// The ingest manifest in a snapshot is missing or unreadable.
    #[error("{path}: bad ingest manifest: {reason}")]
    Manifest { path: PathBuf, reason: String },
    /// The caller's cancel flag was raised (e.g. by a signal handler).
    #[error("cancelled")]
    Cancelled,
    /// An option value outside its allowed range.
    #[error("bad option: {0}")]
    BadOption(String),
    /// The requested backup snapshot does not exist.
    #[error("no backup {0}")]
    NoSuchBackup(String),
    /// An ingest failed after it had started changing the dataset; the dataset was returned to
    /// its previous state as described by `undo`.
    #[error("ingest of {file} failed: {source}; {undo}")]
    IngestFailed {
        file: PathBuf,
        undo: Undo,
        source: Box<Error>,
    },
}

/// What a failed ingest did to return the dataset to its state before.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Undo {
    /// `zfs rollback` to the newest snapshot succeeded.
    RolledBack(SnapshotName),
    /// There was no snapshot yet: the files this ingest created were removed.
    RemovedFiles(usize),
    /// Undoing failed too: the dataset holds a partial ingest (the next ingest rolls it back).
    UndoFailed(String),
}

impl std::fmt::Display for Undo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Undo::RolledBack(s) => write!(f, "dataset rolled back to {s}"),
            Undo::RemovedFiles(n) => {
                write!(f, "no previous backup: removed the {n} files it created")
            }
            Undo::UndoFailed(e) => write!(f, "UNDO FAILED, dataset holds a partial ingest: {e}"),
        }
    }
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
