//! File-level restore (M20): expose one backup's disk images as read-only block devices with
//! their partitions, so an admin can mount a partition and copy files out.
//!
//! [`expose`]: `zfs clone -o readonly=on <root>/<vmid>@<time> <root>/<vmid>-files-<time>`
//! (a clone, not the `.zfs/snapshot` directory, so the mount cannot expire under a loop device),
//! then `losetup --find --show --read-only --partscan` on each `disk-*.raw`; the partitions
//! are read from `/sys/class/block/loopN/loopNp*`. A container backup has no images: its
//! files are in the clone's `tree/`.
//!
//! [`cleanup`]: detaches every loop device whose backing file is inside the clone — refusing,
//! with the mount point to unmount, while any of its partitions is mounted — then destroys the
//! clone (never recursively). A failed [`expose`] cleans up what it had done.
//!
//! The clone's name (`<vmid>-files-<time>`) is not a vmid, so `report` and `prune` ignore it,
//! and ZFS refuses to destroy the backup snapshot while the clone exists.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use zferry_exec::{CommandSpec, Executor};
use zferry_zfs::{DatasetName, ObjectName};

use crate::error::Error;
use crate::ingest::mounted_dir;
use crate::layout::Manifest;
use crate::name::BackupTime;
use crate::zfs;

/// One partition of a mapped image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    pub device: String,
    pub size: u64,
}

/// One image mapped to a loop device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapping {
    pub image: PathBuf,
    pub loop_device: String,
    pub partitions: Vec<Partition>,
}

/// What [`expose`] set up.
#[derive(Debug, Clone, Serialize)]
pub struct FilesReport {
    pub clone: String,
    pub mountpoint: PathBuf,
    pub images: Vec<Mapping>,
}

/// What [`cleanup`] removed.
#[derive(Debug, Clone, Serialize)]
pub struct CleanupReport {
    pub clone: String,
    pub detached: Vec<String>,
    pub destroyed: bool,
}

/// `<root>/<vmid>-files-<time>`.
pub fn clone_name(root: &DatasetName, vmid: u32, time: BackupTime) -> Result<DatasetName, Error> {
    root.join_child(&format!("{vmid}-files-{time}"))
        .map_err(|e| Error::BadOption(e.to_string()))
}

fn run(exec: &dyn Executor, spec: &CommandSpec) -> Result<String, Error> {
    Ok(exec.run(spec)?.check()?.stdout_lossy())
}

/// The partitions the kernel found on `/dev/loopN`.
fn partitions(loop_dev: &str) -> Vec<Partition> {
    let name = loop_dev.trim_start_matches("/dev/");
    let dir = Path::new("/sys/class/block").join(name);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<Partition> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let part = e.file_name().to_str()?.to_owned();
            part.strip_prefix(name)?.strip_prefix('p')?;
            let sectors: u64 = fs::read_to_string(e.path().join("size"))
                .ok()?
                .trim()
                .parse()
                .ok()?;
            Some(Partition {
                device: format!("/dev/{part}"),
                size: sectors * 512,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        a.device
            .len()
            .cmp(&b.device.len())
            .then(a.device.cmp(&b.device))
    });
    out
}

/// Clones the backup read-only and maps its images; see the module docs.
pub fn expose(
    exec: &dyn Executor,
    root: &DatasetName,
    vmid: u32,
    time: BackupTime,
) -> Result<FilesReport, Error> {
    let ds = root
        .join_child(&vmid.to_string())
        .map_err(|e| Error::BadOption(e.to_string()))?;
    let snap = ds
        .snapshot(&time.to_string())
        .map_err(|e| Error::BadOption(e.to_string()))?;
    let exists = zfs::snapshots(exec, &ds).ok().is_some_and(|s| {
        s.iter()
            .any(|o| o.name == ObjectName::Snapshot(snap.clone()))
    });
    if !exists {
        return Err(Error::NoSuchBackup(snap.to_string()));
    }
    let clone = clone_name(root, vmid, time)?;
    if zfs::find_dataset(exec, &clone)?.is_some() {
        return Err(Error::BadOption(format!(
            "{clone} already exists: backup {snap} is already exposed (run with --cleanup first)"
        )));
    }
    zfs::clone_readonly(exec, &snap, &clone)?;
    let result = map_images(exec, &clone);
    if result.is_err() {
        let _ = cleanup(exec, root, vmid, time);
    }
    result
}

fn map_images(exec: &dyn Executor, clone: &DatasetName) -> Result<FilesReport, Error> {
    let mp = mounted_dir(exec, clone)?;
    let manifest = Manifest::read(&mp)?;
    let mut images = Vec::new();
    for d in &manifest.devices {
        let image = mp.join(zferry_vma::ops::image_file_name(&d.name));
        let spec = CommandSpec::new("losetup").args([
            "--find",
            "--show",
            "--read-only",
            "--partscan",
            &image.to_string_lossy(),
        ]);
        let dev = run(exec, &spec)?.trim().to_owned();
        images.push(Mapping {
            partitions: partitions(&dev),
            image,
            loop_device: dev,
        });
    }
    Ok(FilesReport {
        clone: clone.to_string(),
        mountpoint: mp,
        images,
    })
}

#[derive(Debug, serde::Deserialize)]
struct LosetupList {
    loopdevices: Vec<LoopDev>,
}

#[derive(Debug, serde::Deserialize)]
struct LoopDev {
    name: String,
    #[serde(rename = "back-file")]
    back_file: Option<String>,
}

/// Loop devices whose backing file lies under `dir`, from `losetup --list --json` output.
pub fn loops_under(json: &str, dir: &Path) -> Result<Vec<String>, serde_json::Error> {
    let list: LosetupList = if json.trim().is_empty() {
        LosetupList {
            loopdevices: Vec::new(),
        }
    } else {
        serde_json::from_str(json)?
    };
    Ok(list
        .loopdevices
        .into_iter()
        .filter(|l| {
            l.back_file
                .as_deref()
                .is_some_and(|f| Path::new(f.trim_end_matches(" (deleted)")).starts_with(dir))
        })
        .map(|l| l.name)
        .collect())
}

/// Detaches the clone's loop devices and destroys the clone; see the module docs.
pub fn cleanup(
    exec: &dyn Executor,
    root: &DatasetName,
    vmid: u32,
    time: BackupTime,
) -> Result<CleanupReport, Error> {
    let clone = clone_name(root, vmid, time)?;
    if zfs::find_dataset(exec, &clone)?.is_none() {
        return Err(Error::NoSuchBackup(format!(
            "{clone} (nothing is exposed for this backup)"
        )));
    }
    let mut detached = Vec::new();
    if let Ok(mp) = mounted_dir(exec, &clone) {
        let json = run(
            exec,
            &CommandSpec::new("losetup").args(["--list", "--json", "--output", "NAME,BACK-FILE"]),
        )?;
        let loops = loops_under(&json, &mp).map_err(|e| Error::BadOption(e.to_string()))?;
        let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
        for dev in &loops {
            if let Some(line) = mounts.lines().find(|l| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|src| src == dev || src.starts_with(&format!("{dev}p")))
            }) {
                let mut f = line.split_whitespace();
                return Err(Error::Busy {
                    device: f.next().unwrap_or_default().to_owned(),
                    mountpoint: f.next().unwrap_or_default().to_owned(),
                });
            }
        }
        for dev in loops {
            run(exec, &CommandSpec::new("losetup").args(["--detach", &dev]))?;
            detached.push(dev);
        }
    }
    zfs::destroy_dataset(exec, &clone)?;
    Ok(CleanupReport {
        clone: clone.to_string(),
        detached,
        destroyed: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_devices_backed_by_files_in_the_clone() {
        // losetup --list --json --output NAME,BACK-FILE (util-linux 2.38)
        let json = r#"{
   "loopdevices": [
      {"name": "/dev/loop1", "back-file": "/tank/backup/100-files-2026_11_21-01_00_00/disk-drive-scsi1.raw"},
      {"name": "/dev/loop0", "back-file": "/tank/backup/100-files-2026_11_21-01_00_00/disk-drive-scsi0.raw"},
      {"name": "/dev/loop2", "back-file": "/var/lib/other.img"},
      {"name": "/dev/loop3", "back-file": "/tank/backup/100-files-2026_11_21-01_00_000/x.raw"},
      {"name": "/dev/loop4", "back-file": null}
   ]
}"#;
        let dir = Path::new("/tank/backup/100-files-2026_11_21-01_00_00");
        assert_eq!(
            loops_under(json, dir).expect("parses"),
            ["/dev/loop1", "/dev/loop0"]
        );
        assert!(loops_under("", dir).expect("empty").is_empty());
    }
}
