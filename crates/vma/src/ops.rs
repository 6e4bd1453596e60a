//! The operations PVE's `vma` tool offers — list, config, verify, extract —
//! as library calls over a [`VmaReader`]. No terminal output here; callers
//! render the returned values.

use crate::error::{ExtractError, VmaError};
use crate::header::Header;
use crate::reader::VmaReader;
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use zferry_progress::Meter;

/// Per-device totals gathered while reading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceStats {
    pub dev_id: u8,
    pub name: String,
    pub size: u64,
    /// Stored (non-zero) 4 KiB blocks.
    pub data_blocks: u64,
    /// Blocks marked zero.
    pub zero_blocks: u64,
}

/// Result of a full read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub header: Header,
    pub devices: Vec<DeviceStats>,
    /// Bytes of VMA stream read (uncompressed).
    pub stream_bytes: u64,
}

fn stats_for(header: &Header) -> Vec<DeviceStats> {
    header
        .devices
        .iter()
        .map(|d| DeviceStats {
            dev_id: d.id.get(),
            name: d.name.clone(),
            size: d.size,
            ..DeviceStats::default()
        })
        .collect()
}

/// `vma list`: lines in the style of PVE's tool (`CFG:`, `DEV:`, `CTIME:`).
pub fn list_lines(header: &Header) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!("UUID: {}", header.uuid));
    out.push(format!("CTIME: {}", header.ctime));
    for c in &header.configs {
        out.push(format!("CFG: size: {} name: {}", c.data.len(), c.name));
    }
    for d in &header.devices {
        out.push(format!(
            "DEV: dev_id={} size: {} devname: {}",
            d.id, d.size, d.name
        ));
    }
    out
}

/// `vma config -c NAME`: the named config blob (default `qemu-server.conf`).
pub fn config<'h>(header: &'h Header, name: &str) -> Option<&'h [u8]> {
    header.config(name).map(|c| c.data.as_slice())
}

/// `vma verify`: reads the whole archive, running every check.
pub fn verify<R: Read>(mut reader: VmaReader<R>) -> Result<Summary, VmaError> {
    let mut devices = stats_for(reader.header());
    while let Some(c) = reader.next_cluster()? {
        let s = devices
            .iter_mut()
            .find(|d| d.dev_id == c.dev_id.get())
            .expect("reader only yields declared devices");
        let stored = u64::from(c.mask.count_ones());
        s.data_blocks += stored;
        s.zero_blocks += c.block_count() as u64 - stored;
    }
    Ok(Summary {
        header: reader.header().clone(),
        devices,
        stream_bytes: reader.position(),
    })
}

/// File name PVE's `vma extract` uses for a device image.
pub fn image_file_name(devname: &str) -> String {
    format!("disk-{devname}.raw")
}

/// `vma extract`: creates `dir` (which must not exist), writes every config
/// blob as a file and each device as a sparse `disk-<devname>.raw` (zero
/// blocks are never written, so they stay holes). Images are written under a
/// `tmp-` name and renamed only after the whole archive verified, so a
/// present `disk-*.raw` is always complete.
pub fn extract<R: Read>(reader: VmaReader<R>, dir: &Path) -> Result<Summary, ExtractError> {
    extract_metered(reader, dir, None)
}

/// [`extract`], counting the bytes of stored blocks written into `meter` (once per cluster).
pub fn extract_metered<R: Read>(
    mut reader: VmaReader<R>,
    dir: &Path,
    meter: Option<&Meter>,
) -> Result<Summary, ExtractError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| ExtractError::Io { path, source }
    };
    if dir.exists() {
        return Err(ExtractError::TargetExists {
            path: dir.to_owned(),
        });
    }
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let header = reader.header().clone();
    for c in &header.configs {
        let p = dir.join(&c.name);
        fs::write(&p, &c.data).map_err(io_err(&p))?;
    }
    let mut files: Vec<Option<(File, PathBuf, PathBuf)>> = (0..256).map(|_| None).collect();
    for d in &header.devices {
        let name = image_file_name(&d.name);
        let tmp = dir.join(format!("tmp-{name}"));
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        f.set_len(d.size).map_err(io_err(&tmp))?;
        files[usize::from(d.id.get())] = Some((f, tmp, dir.join(name)));
    }
    let mut devices = stats_for(&header);
    while let Some(c) = reader.next_cluster()? {
        let Some((f, tmp, _)) = &files[usize::from(c.dev_id.get())] else {
            unreachable!("reader only yields declared devices");
        };
        let s = devices
            .iter_mut()
            .find(|d| d.dev_id == c.dev_id.get())
            .expect("declared device");
        let mut written = 0u64;
        for (off, block) in c.blocks() {
            match block {
                Some(b) => {
                    f.write_all_at(b, off).map_err(io_err(tmp))?;
                    s.data_blocks += 1;
                    written += b.len() as u64;
                }
                None => s.zero_blocks += 1,
            }
        }
        if let Some(m) = meter {
            m.add_written(written);
        }
    }
    for (f, tmp, fin) in files.into_iter().flatten() {
        f.sync_all().map_err(io_err(&tmp))?;
        drop(f);
        fs::rename(&tmp, &fin).map_err(io_err(&fin))?;
    }
    Ok(Summary {
        header,
        devices,
        stream_bytes: reader.position(),
    })
}
