//! Rebuild a VMA from a backup snapshot (M20), ready for `qmrestore` — or, for a container
//! backup, a tar of its file tree for `pct restore`.
//!
//! The images and configs are read through the snapshot directory
//! (`<mountpoint>/.zfs/snapshot/<time>/`), which ZFS mounts on demand read-only: no clone to
//! create or clean up, and the live dataset is never touched. Device order, names, sizes, the
//! uuid and ctime come from the ingest manifest, so the rebuilt header matches the original.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use zferry_exec::Executor;
use zferry_progress::{CountingReader, CountingWriter, Meter, Progress};
use zferry_vma::{ConfigBlob, DevId, HeaderSpec, Uuid, VmaWriter, ops::image_file_name};
use zferry_zfs::DatasetName;

use crate::error::{Error, io_err};
use crate::ingest::mounted_dir;
use crate::layout::{self, Manifest};
use crate::name::BackupTime;
use crate::name::GuestKind;
use crate::tree::write_tar_metered;

/// Output compression of a rebuilt archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RestoreCompression {
    None,
    /// zstd at the given level (vzdump uses 1 by default).
    Zstd(i32),
}

/// What a restore produced.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub snapshot: String,
    pub output: PathBuf,
    pub devices: Vec<(String, u64)>,
    pub configs: Vec<String>,
    /// Size of the written file.
    pub bytes: u64,
}

/// Writes `out` (via `<out>.part`, renamed when complete) from `<root>/<vmid>@<time>`.
/// `progress` is told the bytes of images (or container files) read — of the images' total
/// size for a VM; unknown for a container — and the bytes of `out` written.
pub fn restore(
    exec: &dyn Executor,
    root: &DatasetName,
    vmid: u32,
    time: BackupTime,
    out: &Path,
    compression: RestoreCompression,
    progress: Option<Arc<dyn Progress>>,
) -> Result<RestoreReport, Error> {
    let ds = root
        .join_child(&vmid.to_string())
        .map_err(|e| Error::BadOption(e.to_string()))?;
    let snap_name = format!("{ds}@{time}");
    let dir = mounted_dir(exec, &ds)?
        .join(".zfs/snapshot")
        .join(time.to_string());
    if !dir.is_dir() {
        return Err(Error::NoSuchBackup(snap_name));
    }
    let m = Manifest::read(&dir)?;
    if m.kind == GuestKind::Lxc {
        let meter = Meter::new(None, progress);
        return restore_tar(&dir, snap_name, out, compression, &meter);
    }
    let meter = Meter::new(Some(m.devices.iter().map(|d| d.size).sum()), progress);
    let configs = m
        .configs
        .iter()
        .map(|name| {
            let p = dir.join(name);
            let data = fs::read(&p).map_err(io_err(p))?;
            Ok(ConfigBlob {
                name: name.clone(),
                data,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let spec = HeaderSpec {
        uuid: m.uuid.parse().unwrap_or_else(|_| Uuid::new_v4()),
        ctime: m.ctime,
        configs,
        devices: m.devices.iter().map(|d| (d.name.clone(), d.size)).collect(),
    };

    let part = out.with_file_name(format!(
        "{}.part",
        out.file_name().unwrap_or_default().to_string_lossy()
    ));
    let result = write_archive(&dir, &spec, &part, compression, &meter);
    if let Err(e) = result {
        let _ = fs::remove_file(&part);
        return Err(e);
    }
    meter.finish();
    fs::rename(&part, out).map_err(io_err(out))?;
    Ok(RestoreReport {
        snapshot: snap_name,
        output: out.to_owned(),
        devices: spec.devices.clone(),
        configs: m.configs,
        bytes: fs::metadata(out).map_err(io_err(out))?.len(),
    })
}

/// A container backup: its `tree/` as a tar (`.tar` or `.tar.zst`) for `pct restore`.
fn restore_tar(
    dir: &Path,
    snapshot: String,
    out: &Path,
    compression: RestoreCompression,
    meter: &Arc<Meter>,
) -> Result<RestoreReport, Error> {
    let part = out.with_file_name(format!(
        "{}.part",
        out.file_name().unwrap_or_default().to_string_lossy()
    ));
    let tree = dir.join(layout::TREE);
    let result = (|| {
        let f = CountingWriter::new(
            File::create(&part).map_err(io_err(&part))?,
            Arc::clone(meter),
        );
        let m = Some(&**meter);
        let f = match compression {
            RestoreCompression::None => {
                let (w, _) = write_tar_metered(&tree, BufWriter::with_capacity(1 << 20, f), m)?;
                w.into_inner().map_err(|e| io_err(&part)(e.into_error()))?
            }
            RestoreCompression::Zstd(level) => {
                let enc = zstd::Encoder::new(f, level).map_err(io_err(&part))?;
                let (w, _) = write_tar_metered(&tree, enc, m)?;
                w.finish().map_err(io_err(&part))?
            }
        };
        f.into_inner().sync_all().map_err(io_err(&part))
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&part);
        return Err(e);
    }
    meter.finish();
    fs::rename(&part, out).map_err(io_err(out))?;
    Ok(RestoreReport {
        snapshot,
        output: out.to_owned(),
        devices: Vec::new(),
        configs: Vec::new(),
        bytes: fs::metadata(out).map_err(io_err(out))?.len(),
    })
}

fn write_archive(
    dir: &Path,
    spec: &HeaderSpec,
    part: &Path,
    compression: RestoreCompression,
    meter: &Arc<Meter>,
) -> Result<(), Error> {
    let f = CountingWriter::new(File::create(part).map_err(io_err(part))?, Arc::clone(meter));
    let f = match compression {
        RestoreCompression::None => {
            write_devices(dir, spec, BufWriter::with_capacity(1 << 20, f), meter)?
                .into_inner()
                .map_err(|e| io_err(part)(e.into_error()))?
        }
        RestoreCompression::Zstd(level) => {
            let enc = zstd::Encoder::new(f, level).map_err(io_err(part))?;
            write_devices(dir, spec, enc, meter)?
                .finish()
                .map_err(io_err(part))?
        }
    };
    f.into_inner().sync_all().map_err(io_err(part))
}

/// Streams every image of `spec` (device ids 1, 2, … in order) into a VMA on `out`.
fn write_devices<W: Write>(
    dir: &Path,
    spec: &HeaderSpec,
    out: W,
    meter: &Arc<Meter>,
) -> Result<W, Error> {
    let mut w = VmaWriter::new(out, spec)?;
    for (i, (name, _)) in spec.devices.iter().enumerate() {
        let id = u8::try_from(i + 1)
            .ok()
            .and_then(DevId::new)
            .ok_or_else(|| Error::BadOption(format!("device {name}: too many devices")))?;
        let img = dir.join(image_file_name(name));
        let src = CountingReader::new(File::open(&img).map_err(io_err(&img))?, Arc::clone(meter));
        w.write_device(id, std::io::BufReader::with_capacity(1 << 20, src))?;
    }
    Ok(w.finish()?)
}
