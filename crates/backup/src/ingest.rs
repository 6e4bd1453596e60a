//! Ingest one vzdump VMA archive into `<root>/<vmid>` and snapshot it `@<YYYY_MM_DD-HH_MM_SS>`
//! (M18/M19): the VMA is decompressed and validated in one streaming pass, and every 4 KiB
//! block goes straight into a [`zferry_blocksync::BlockSink`] on the device's image file, which
//! writes only blocks that differ from the previous backup. No temporary extraction.
//!
//! # Dataset properties (the 2–5 % goal)
//! A snapshot's `written` is what the backup costs. ZFS copies on write per *record*: one
//! changed 4 KiB block in a 16 KiB record rewrites 16 KiB. vzdump changes are scattered 4 KiB
//! guest blocks, so:
//! - `recordsize=4K` (default, [`IngestOptions::recordsize`]): a changed block costs 4 KiB of
//!   data. The price is metadata: four times the block pointers of 16K (128 B per record, ~3 %
//!   of a full image), and each changed record also rewrites its level-1 indirect block (one per
//!   4 MiB of image at 4K, per 16 MiB at 16K). With scattered changes 16K writes ~4× the data
//!   while saving only part of the indirect-block rewrites, so 4K wins whenever changes are
//!   sparse (the daily-backup case); 16K would only win for changes clustered in ≥ 16 KiB runs.
//! - `redundant_metadata=most`: level-1 indirect blocks of files are stored once instead of
//!   twice, halving the dominant metadata cost above (the data itself is the backup copy and
//!   the pool's own redundancy still applies).
//! - `compression=lz4`: with compression on, blocks of zeros are stored as holes, so zero
//!   blocks cost nothing. lz4 rather than zstd: a 4 KiB record on an ashift=12 pool cannot
//!   shrink below one sector anyway, and lz4 aborts early on incompressible data.
//! - `atime=off`: reading a snapshot or image must not dirty the dataset.
//!
//! # Transaction
//! A snapshot is taken only after the whole stream verified (the VMA reader checks every
//! extent and that every cluster appeared). Any failure after the first write (bad or
//! truncated archive, I/O error, cancel flag) rolls the dataset back to its newest snapshot
//! (`zfs rollback`, never `-r`, only that dataset) — or, for the first backup, removes the files
//! it created — and returns [`Error::IngestFailed`]. A process killed outright cannot undo;
//! the next ingest finds uncommitted changes (`written` > 0 since the newest snapshot) and rolls
//! them back first.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use zferry_blocksync::{BlockSink, Report as SyncReport};
use zferry_exec::Executor;
use zferry_progress::{Meter, Progress};
use zferry_vma::{ClusterSource, PrefetchReader, ops::image_file_name};
use zferry_zfs::{DatasetName, ObjectName, SnapshotName, ZfsObject};

use crate::error::{Error, Undo, io_err};
use crate::layout::{self, Manifest, ManifestDevice};
use crate::name::{GuestKind, VzdumpName, parse_vzdump_name};
use crate::zfs;

/// How to ingest.
#[derive(Clone, Copy)]
pub struct IngestOptions<'a> {
    /// Remove the archive (not its `.log`/`.notes`) after a successful ingest.
    pub delete_input: bool,
    /// `recordsize` for a dataset this ingest creates (bytes, power of two, 4 KiB – 1 MiB).
    /// Existing datasets keep theirs.
    pub recordsize: u32,
    /// Checked between clusters; when set the ingest stops and undoes its writes.
    pub cancel: Option<&'a AtomicBool>,
    /// Told the running totals: archive bytes read of its size, bytes compared and written.
    pub progress: Option<&'a Arc<dyn Progress>>,
}

impl std::fmt::Debug for IngestOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestOptions")
            .field("delete_input", &self.delete_input)
            .field("recordsize", &self.recordsize)
            .field("cancel", &self.cancel)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Default for IngestOptions<'_> {
    fn default() -> Self {
        IngestOptions {
            delete_input: false,
            recordsize: 4096,
            cancel: None,
            progress: None,
        }
    }
}

/// Whether the ingest did anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new snapshot was taken.
    Ingested,
    /// The snapshot for this archive already existed; nothing was read or written.
    AlreadyIngested,
}

/// Per-device result of the block sync.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceReport {
    pub name: String,
    pub size: u64,
    pub sync: SyncReport,
}

/// What an ingest did.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub file: PathBuf,
    pub name: VzdumpName,
    pub dataset: String,
    pub snapshot: String,
    pub outcome: Outcome,
    /// The archive's size on disk (compressed).
    pub vma_size: u64,
    /// Sum of the device sizes.
    pub virtual_size: u64,
    pub devices: Vec<DeviceReport>,
    /// Bytes of changed blocks over all devices (data written plus holes punched); for a
    /// container, the file bytes written.
    pub changed_bytes: u64,
    /// For a container archive: what bringing the file tree up to date did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree: Option<crate::tree::TreeReport>,
    /// Set when uncommitted changes of an earlier, killed ingest were rolled back first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered_from: Option<String>,
    pub created_dataset: bool,
    pub deleted_input: bool,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Ingests one qemu VMA archive; see the module docs.
pub fn ingest(
    exec: &dyn Executor,
    root: &DatasetName,
    file: &Path,
    opts: &IngestOptions<'_>,
) -> Result<IngestReport, Error> {
    let started = Instant::now();
    let not_vma = || Error::NotAVmaBackup(file.to_owned());
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_vzdump_name)
        .ok_or_else(not_vma)?;
    let rs = opts.recordsize;
    if !rs.is_power_of_two() || !(4096..=1 << 20).contains(&rs) {
        return Err(Error::BadOption(format!("recordsize {rs}")));
    }
    let ds = root
        .join_child(&name.vmid.to_string())
        .map_err(|e| Error::BadOption(e.to_string()))?;
    let snap = ds
        .snapshot(&name.time.to_string())
        .map_err(|e| Error::BadOption(e.to_string()))?;
    let vma_size = fs::metadata(file).map_err(io_err(file))?.len();
    let mut report = IngestReport {
        file: file.to_owned(),
        name: name.clone(),
        dataset: ds.to_string(),
        snapshot: snap.to_string(),
        outcome: Outcome::AlreadyIngested,
        vma_size,
        virtual_size: 0,
        devices: Vec::new(),
        changed_bytes: 0,
        tree: None,
        recovered_from: None,
        created_dataset: false,
        deleted_input: false,
        duration: Duration::ZERO,
    };

    let props = dataset_props(name.kind, rs);
    let Prepared::Ready { latest } = prepare_dataset(exec, &ds, &snap, &props, &mut report)? else {
        report.duration = started.elapsed();
        return Ok(report);
    };
    let dir = mounted_dir(exec, &ds)?;

    let mut created = Vec::new();
    let meter = Meter::new(Some(vma_size), opts.progress.cloned());
    let written = match name.kind {
        GuestKind::Qemu => write_backup(file, &name, &dir, opts, &meter, &mut created, &mut report),
        GuestKind::Lxc => {
            crate::lxc::write_backup(file, &name, &dir, opts, &meter, &mut created, &mut report)
        }
    };
    if written.is_ok() {
        meter.finish();
    }
    let result = written.and_then(|()| {
        let props = [
            (zfs::PROP_VMA_SIZE, vma_size.to_string()),
            (zfs::PROP_VIRTUAL_SIZE, report.virtual_size.to_string()),
        ];
        zfs::snapshot(exec, &snap, &props).map_err(Error::from)
    });
    if let Err(source) = result {
        let undo = undo(exec, latest.as_ref(), &created, &source);
        return Err(Error::IngestFailed {
            file: file.to_owned(),
            undo,
            source: Box::new(source),
        });
    }
    tracing::info!(%snap, changed = report.changed_bytes, "backup ingested");
    report.outcome = Outcome::Ingested;
    if opts.delete_input {
        fs::remove_file(file).map_err(io_err(file))?;
        report.deleted_input = true;
    }
    report.duration = started.elapsed();
    Ok(report)
}

/// Properties of a dataset this ingest creates; see the module docs. A container tree keeps
/// the default 128K records (whole files, mostly rewritten whole), stores xattrs in the
/// dnode (`xattr=sa`), supports the archive's POSIX ACLs (`acltype=posixacl`), and never honours set-id bits, executes or opens device nodes from
/// the backup copy (`setuid=off`, `exec=off`, `devices=off`).
fn dataset_props(kind: GuestKind, recordsize: u32) -> Vec<(&'static str, String)> {
    let mut props = vec![
        ("compression", "lz4".to_owned()),
        ("atime", "off".to_owned()),
    ];
    match kind {
        GuestKind::Qemu => {
            props.push(("recordsize", format!("{}K", recordsize / 1024)));
            props.push(("redundant_metadata", "most".to_owned()));
        }
        GuestKind::Lxc => {
            for (k, v) in [
                ("xattr", "sa"),
                ("acltype", "posixacl"),
                ("setuid", "off"),
                ("exec", "off"),
                ("devices", "off"),
            ] {
                props.push((k, v.to_owned()));
            }
        }
    }
    props
}

/// The dataset's state once it is ready to receive a backup.
enum Prepared {
    /// The backup's snapshot already exists.
    AlreadyIngested,
    /// Ready; `latest` is the snapshot to roll back to on failure (none for the first backup).
    Ready { latest: Option<SnapshotName> },
}

/// Creates the dataset if needed and finds its newest snapshot. Refuses out-of-order backups
/// and rolls back changes an interrupted ingest left behind.
fn prepare_dataset(
    exec: &dyn Executor,
    ds: &DatasetName,
    snap: &SnapshotName,
    props: &[(&str, String)],
    report: &mut IngestReport,
) -> Result<Prepared, Error> {
    // Unsynced writes of a killed ingest are not yet in `written`; commit them first.
    zfs::sync_pool(exec, &ds.pool())?;
    let existing = zfs::find_dataset(exec, ds)?;
    if existing.is_none() {
        let props: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
        zfs::create(exec, ds, &props)?;
        tracing::info!(dataset = %ds, "created backup dataset");
        report.created_dataset = true;
    }
    let snaps = zfs::snapshots(exec, ds)?;
    if snaps
        .iter()
        .any(|s| s.name == ObjectName::Snapshot(snap.clone()))
    {
        tracing::info!(%snap, file = %report.file.display(), "already ingested");
        return Ok(Prepared::AlreadyIngested);
    }
    let latest = snaps.last().map(snapshot_name);
    if let Some(newest) = &latest
        && newest.snapshot_part() > snap.snapshot_part()
    {
        return Err(Error::OutOfOrder {
            file: report.file.clone(),
            time: snap.snapshot_part().to_owned(),
            newest: newest.snapshot_part().to_owned(),
        });
    }
    if let (
        Some(newest),
        Some(ZfsObject {
            written: Some(w), ..
        }),
    ) = (&latest, &existing)
        && *w > 0
    {
        tracing::warn!(dataset = %ds, to = %newest, written = w,
            "rolling back uncommitted changes (an earlier ingest was interrupted)");
        zfs::rollback(exec, newest)?;
        report.recovered_from = Some(newest.to_string());
    }
    Ok(Prepared::Ready { latest })
}

fn snapshot_name(o: &ZfsObject) -> SnapshotName {
    match &o.name {
        ObjectName::Snapshot(s) => s.clone(),
        other => unreachable!("zfs::snapshots lists snapshots only, got {other:?}"),
    }
}

pub(crate) fn mounted_dir(exec: &dyn Executor, ds: &DatasetName) -> Result<PathBuf, Error> {
    let mp = zfs::mountpoint(exec, ds)?;
    match mp.as_deref() {
        Some(p) if p.starts_with('/') && Path::new(p).is_dir() => Ok(PathBuf::from(p)),
        _ => Err(Error::NoMountpoint {
            dataset: ds.to_string(),
            mountpoint: mp,
        }),
    }
}

fn undo(
    exec: &dyn Executor,
    latest: Option<&SnapshotName>,
    created: &[PathBuf],
    why: &Error,
) -> Undo {
    if let Some(snap) = latest {
        tracing::warn!(to = %snap, reason = %why, "ingest failed: rolling back");
        return match zfs::rollback(exec, snap) {
            Ok(()) => Undo::RolledBack(snap.clone()),
            Err(e) => Undo::UndoFailed(e.to_string()),
        };
    }
    tracing::warn!(files = created.len(), reason = %why,
        "first ingest failed: removing the files it created");
    for p in created {
        let removed = if p.is_dir() {
            fs::remove_dir_all(p)
        } else {
            fs::remove_file(p)
        };
        if let Err(e) = removed {
            return Undo::UndoFailed(format!("{}: {e}", p.display()));
        }
    }
    Undo::RemovedFiles(created.len())
}

/// Opens `path` read-write, creating it (and recording it in `created`) if absent.
fn open_rw(path: &Path, created: &mut Vec<PathBuf>) -> Result<File, Error> {
    let existed = path.exists();
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err(path))?;
    if !existed {
        created.push(path.to_owned());
    }
    Ok(f)
}

/// Writes `data` to `path` unless it already holds exactly that (an unchanged config costs
/// nothing in the next snapshot).
pub(crate) fn write_if_changed(
    path: &Path,
    data: &[u8],
    created: &mut Vec<PathBuf>,
) -> Result<(), Error> {
    match fs::read(path) {
        Ok(old) if old == data => return Ok(()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => created.push(path.to_owned()),
        Err(e) => return Err(io_err(path)(e)),
    }
    fs::write(path, data).map_err(io_err(path))
}

/// The `.log` and `.notes` vzdump writes next to an archive.
pub(crate) fn companions(file: &Path) -> (Option<PathBuf>, PathBuf) {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let stem = name
        .find(".vma")
        .or_else(|| name.find(".tar"))
        .map(|i| &name[..i]);
    let log = stem.map(|s| file.with_file_name(format!("{s}.log")));
    (log, file.with_file_name(format!("{name}.notes")))
}

/// Everything between "dataset ready" and "snapshot": images, configs, companions, manifest.
fn write_backup(
    file: &Path,
    name: &VzdumpName,
    dir: &Path,
    opts: &IngestOptions<'_>,
    meter: &Arc<Meter>,
    created: &mut Vec<PathBuf>,
    report: &mut IngestReport,
) -> Result<(), Error> {
    let (_, stream) = zferry_vma::open_path_metered(file, Some(Arc::clone(meter)))?;
    // Decompression and the archive's checks on their own thread, handing whole extents over
    // without a copy, while this thread compares and writes.
    let mut reader = PrefetchReader::spawn(stream)?;
    let header = reader.header().clone();
    for c in &header.configs {
        layout::check_blob_name(&c.name)?;
    }

    report.devices = sync_images(&mut reader, dir, opts.cancel, created, Some(meter))?;
    report.changed_bytes = report
        .devices
        .iter()
        .map(|d| d.sync.bytes_written + d.sync.bytes_punched)
        .sum();
    report.virtual_size = header.devices.iter().map(|d| d.size).sum();

    for c in &header.configs {
        write_if_changed(&dir.join(&c.name), &c.data, created)?;
    }
    copy_companions(file, dir, created)?;
    let manifest = Manifest {
        format: 1,
        kind: GuestKind::Qemu,
        vmid: name.vmid,
        time: name.time.to_string(),
        archive: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        uuid: header.uuid.to_string(),
        ctime: header.ctime,
        devices: header
            .devices
            .iter()
            .map(|d| ManifestDevice {
                name: d.name.clone(),
                size: d.size,
            })
            .collect(),
        configs: header.configs.iter().map(|c| c.name.clone()).collect(),
    };
    remove_stale(dir, &manifest)?;
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    write_if_changed(&dir.join(layout::MANIFEST), &json, created)
}

/// Copies the archive's `.log` and `.notes` into the dataset (removing stale copies).
pub(crate) fn copy_companions(
    file: &Path,
    dir: &Path,
    created: &mut Vec<PathBuf>,
) -> Result<(), Error> {
    let (log, notes) = companions(file);
    for (src, dst) in [(log, layout::LOG), (Some(notes), layout::NOTES)] {
        let dst = dir.join(dst);
        match src.map(fs::read) {
            Some(Ok(data)) => write_if_changed(&dst, &data, created)?,
            Some(Err(e)) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io_err(dst)(e));
            }
            _ => remove_if_present(&dst)?,
        }
    }
    Ok(())
}

pub(crate) fn remove_if_present(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

/// Streams every cluster of `reader` into `dir/disk-<devname>.raw` through a
/// [`BlockSink`] per device: only 4 KiB blocks that differ from the image already there are
/// written (zero blocks become holes), images are created or resized to the device size, and
/// synced to disk at the end. New files are recorded in `created`. This is the whole data
/// path of an ingest; it needs no ZFS (the ingest benchmark runs it on plain files).
/// `meter` counts compared and written bytes (per applied run of blocks).
pub fn sync_images(
    reader: &mut impl ClusterSource,
    dir: &Path,
    cancel: Option<&AtomicBool>,
    created: &mut Vec<PathBuf>,
    meter: Option<&Meter>,
) -> Result<Vec<DeviceReport>, Error> {
    let header = reader.header().clone();
    let mut devices = Vec::with_capacity(header.devices.len());
    let paths: Vec<PathBuf> = header
        .devices
        .iter()
        .map(|d| dir.join(image_file_name(&d.name)))
        .collect();
    let files = paths
        .iter()
        .map(|p| open_rw(p, created))
        .collect::<Result<Vec<_>, _>>()?;
    let sync_opts = zferry_blocksync::Options::default();
    let mut sinks = Vec::with_capacity(files.len());
    let mut slot = [usize::MAX; 256];
    for (i, (d, f)) in header.devices.iter().zip(&files).enumerate() {
        let sink = BlockSink::new(f, d.size, &sync_opts).map_err(|source| Error::Sync {
            path: paths[i].clone(),
            source,
        })?;
        let sink = match meter {
            Some(m) => sink.with_meter(m),
            None => sink,
        };
        sinks.push(sink);
        slot[usize::from(d.id.get())] = i;
    }
    while let Some(c) = reader.next_cluster()? {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(Error::Cancelled);
        }
        let i = slot[usize::from(c.dev_id.get())];
        let first = c.device_offset() / zferry_blocksync::BLOCK_SIZE_U64;
        let sync_err = |source| Error::Sync {
            path: paths[i].clone(),
            source,
        };
        if let Some(data) = c.whole() {
            sinks[i].put_blocks(first, data).map_err(sync_err)?;
            continue;
        }
        for b in 0..c.block_count() {
            sinks[i]
                .put(first + b as u64, c.block(b))
                .map_err(sync_err)?;
        }
    }
    for ((sink, d), path) in sinks.into_iter().zip(&header.devices).zip(&paths) {
        let sync = sink.finish().map_err(|source| Error::Sync {
            path: path.clone(),
            source,
        })?;
        devices.push(DeviceReport {
            name: d.name.clone(),
            size: d.size,
            sync,
        });
    }
    for (f, p) in files.iter().zip(&paths) {
        f.sync_all().map_err(io_err(p))?;
    }
    drop(files);
    Ok(devices)
}

/// Removes images and configs of the previous backup that this archive no longer has (a
/// detached disk, a deleted firewall config), so each snapshot holds exactly its backup.
fn remove_stale(dir: &Path, now: &Manifest) -> Result<(), Error> {
    let Ok(prev) = Manifest::read(dir) else {
        return Ok(());
    };
    let keep_img: Vec<String> = now
        .devices
        .iter()
        .map(|d| image_file_name(&d.name))
        .collect();
    for d in &prev.devices {
        let img = image_file_name(&d.name);
        if !keep_img.contains(&img) {
            remove_if_present(&dir.join(img))?;
        }
    }
    for c in &prev.configs {
        if !now.configs.contains(c) && layout::check_blob_name(c).is_ok() {
            remove_if_present(&dir.join(c))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn companions_are_vzdumps_log_and_notes_names() {
        let (log, notes) = companions(Path::new("/d/vzdump-qemu-100-2017_10_02-18_30_01.vma.zst"));
        assert_eq!(
            log.as_deref(),
            Some(Path::new("/d/vzdump-qemu-100-2017_10_02-18_30_01.log"))
        );
        assert_eq!(
            notes,
            Path::new("/d/vzdump-qemu-100-2017_10_02-18_30_01.vma.zst.notes")
        );
    }
}
