//! Container backups (`vzdump-lxc-<vmid>-YYYY_MM_DD-HH_MM_SS.tar[.zst|.gz|.lzo]`): the tar is
//! decompressed in-process and streamed into `<mountpoint>/tree/` by [`crate::tree`], which
//! rewrites only what changed; the ingest around it (dataset, snapshot, rollback on failure,
//! re-ingest as a no-op) is the same as for VM archives ([`crate::ingest`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zferry_progress::{CountingReader, Meter};

use zferry_vma::{Compression, decompress};

use crate::error::{Error, io_err};
use crate::ingest::{IngestOptions, IngestReport, copy_companions, write_if_changed};
use crate::layout::{self, Manifest};
use crate::name::{ArchiveCompression, GuestKind, VzdumpName};
use crate::tree;

/// Opens and decompresses a container archive. The content's magic decides (zstd, gzip,
/// lzop); a plain tar passes through. A name whose compression disagrees with the content is
/// refused.
pub fn open_tar(file: &Path, by_name: ArchiveCompression) -> Result<zferry_vma::VmaStream, Error> {
    open_tar_metered(file, by_name, None)
}

/// [`open_tar`], counting the archive's bytes (as stored) into `meter` as they are read.
pub fn open_tar_metered(
    file: &Path,
    by_name: ArchiveCompression,
    meter: Option<Arc<Meter>>,
) -> Result<zferry_vma::VmaStream, Error> {
    let f = fs::File::open(file).map_err(io_err(file))?;
    let hint = match by_name {
        ArchiveCompression::None => None,
        ArchiveCompression::Zst => Some(Compression::Zstd),
        ArchiveCompression::Gz => Some(Compression::Gzip),
        ArchiveCompression::Lzo => Some(Compression::Lzo),
    };
    let (_, stream) = match meter {
        Some(m) => decompress(
            std::io::BufReader::with_capacity(1 << 20, CountingReader::new(f, m)),
            hint,
        )?,
        None => decompress(std::io::BufReader::with_capacity(1 << 20, f), hint)?,
    };
    Ok(stream)
}

/// Everything between "dataset ready" and "snapshot" for a container archive.
pub(crate) fn write_backup(
    file: &Path,
    name: &VzdumpName,
    dir: &Path,
    opts: &IngestOptions<'_>,
    meter: &Arc<Meter>,
    created: &mut Vec<PathBuf>,
    report: &mut IngestReport,
) -> Result<(), Error> {
    let stream = open_tar_metered(file, name.compression, Some(Arc::clone(meter)))?;
    let root = dir.join(layout::TREE);
    if !root.exists() {
        created.push(root.clone());
    }
    let mut src = crate::readahead::Readahead::new(stream);
    let t = tree::sync_tar_metered(&mut src, &root, opts.cancel, Some(meter))?;
    // The tar ends before the file does (zero blocks, record padding): read the rest so the
    // archive is known to decompress to its end and progress ends at its size.
    std::io::copy(&mut src, &mut std::io::sink()).map_err(|source| Error::Tar { source })?;
    report.virtual_size = t.file_bytes;
    report.changed_bytes = t.bytes_written;
    report.tree = Some(t);
    copy_companions(file, dir, created)?;
    let manifest = Manifest {
        format: 1,
        kind: GuestKind::Lxc,
        vmid: name.vmid,
        time: name.time.to_string(),
        archive: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        uuid: String::new(),
        ctime: 0,
        devices: Vec::new(),
        configs: Vec::new(),
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    write_if_changed(&dir.join(layout::MANIFEST), &json, created)
}
