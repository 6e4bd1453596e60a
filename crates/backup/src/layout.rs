//! What one backup dataset holds (and so each of its snapshots):
//!
//! ```text
//! <mountpoint>/disk-<devname>.raw   one sparse image per VMA device, sized to the device
//! <mountpoint>/<config blob name>   qemu-server.conf, qemu-server.fw, … as in the archive
//! <mountpoint>/vzdump.log           the archive's `.log` next to it, if there was one
//! <mountpoint>/vzdump.notes         the archive's `.notes`, if there was one
//! <mountpoint>/zferry-backup.json   the manifest: device order and sizes, config names
//! ```
//!
//! A container (LXC) backup dataset instead holds the archive's file tree:
//!
//! ```text
//! <mountpoint>/tree/                the tar's entries (`./etc/vzdump/pct.conf` included)
//! <mountpoint>/vzdump.log, vzdump.notes, zferry-backup.json   as above (no devices)
//! ```
//!
//! The manifest exists because a VMA's device order and ids, its uuid and ctime, and which
//! files are config blobs cannot be recovered from file names alone; restore rebuilds the
//! header from it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::name::GuestKind;

/// Manifest file name.
pub const MANIFEST: &str = "zferry-backup.json";
/// Copied vzdump log.
pub const LOG: &str = "vzdump.log";
/// Copied vzdump notes.
pub const NOTES: &str = "vzdump.notes";
/// Directory holding a container archive's file tree.
pub const TREE: &str = "tree";

/// One device of the archive, in header order (device id = position + 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestDevice {
    pub name: String,
    pub size: u64,
}

/// The manifest stored with each backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// `qemu` (images) or `lxc` (file tree); absent in manifests written before LXC support.
    #[serde(default)]
    pub kind: GuestKind,
    pub vmid: u32,
    pub time: String,
    pub archive: String,
    pub uuid: String,
    pub ctime: i64,
    pub devices: Vec<ManifestDevice>,
    pub configs: Vec<String>,
}

impl Manifest {
    /// Reads and parses `dir/zferry-backup.json`.
    pub fn read(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(MANIFEST);
        let bad = |reason: String| Error::Manifest {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
        let m: Manifest = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        if m.format != 1 {
            return Err(bad(format!("unknown format {}", m.format)));
        }
        Ok(m)
    }
}

/// A config blob name that is safe to store as a plain file next to the images and does not
/// collide with the files this layout reserves.
pub fn check_blob_name(name: &str) -> Result<(), Error> {
    let reserved = name == MANIFEST
        || name == TREE
        || name == LOG
        || name == NOTES
        || name.starts_with("disk-")
        || name.starts_with('.');
    if reserved || zferry_vma::header::check_name(name).is_err() {
        return Err(Error::BadBlobName(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_names_that_would_collide_or_escape_are_refused() {
        for ok in ["qemu-server.conf", "qemu-server.fw"] {
            assert!(check_blob_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            MANIFEST,
            LOG,
            NOTES,
            "disk-drive-scsi0.raw",
            ".zfs",
            "..",
            "a/b",
            "",
        ] {
            assert!(
                matches!(check_blob_name(bad), Err(Error::BadBlobName(n)) if n == bad),
                "{bad}"
            );
        }
    }
}
