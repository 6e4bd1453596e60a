//! `zferry vma create OUT DEVNAME=IMAGE… [-c CONFIG…]`: a VMA from raw images and config
//! files, written through PVE's layout by [`zferry_vma::VmaWriter`]. The archive is written
//! to `OUT.part` and renamed only when complete, so a present `OUT` is always whole.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use zferry_progress::{CountingReader, CountingWriter, Meter};
use zferry_vma::{ConfigBlob, DevId, HeaderSpec, Uuid, VmaWriter};

use crate::cli::VmaCreateArgs;
use crate::op_progress::OpProgress;
use crate::{exit, human, output};

/// Output wrapping, from the output file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum OutCompression {
    None,
    Zstd,
    Gzip,
}

fn out_compression(path: &Path) -> Result<OutCompression> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("zst") => Ok(OutCompression::Zstd),
        Some("gz") => Ok(OutCompression::Gzip),
        Some("lzo") => bail!(
            "{}: writing lzop is not supported; use .vma.zst (or .vma.gz)",
            path.display()
        ),
        _ => Ok(OutCompression::None),
    }
}

/// `DEVNAME=IMAGE` → (devname, image path).
fn parse_device(arg: &str) -> Result<(String, PathBuf)> {
    match arg.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_owned(), PathBuf::from(path)))
        }
        _ => bail!("device {arg:?}: expected DEVNAME=IMAGE, e.g. drive-scsi0=disk0.raw"),
    }
}

/// Size of a regular file or block device (seeking to the end works for both).
fn image_size(path: &Path) -> Result<u64> {
    let mut f = File::open(path).with_context(|| format!("opening image {}", path.display()))?;
    f.seek(SeekFrom::End(0))
        .with_context(|| format!("finding the size of {}", path.display()))
}

#[derive(Debug, Serialize)]
struct CreateReport {
    output: PathBuf,
    compression: OutCompression,
    uuid: String,
    configs: Vec<String>,
    devices: Vec<(String, u64)>,
    bytes: u64,
}

pub fn create(args: &VmaCreateArgs) -> Result<u8> {
    let out = PathBuf::from(&args.output);
    let compression = out_compression(&out)?;
    if out.exists() {
        bail!("{}: already exists; choose a new name", out.display());
    }
    let devices = args
        .devices
        .iter()
        .map(|a| parse_device(a))
        .collect::<Result<Vec<_>>>()?;
    let mut sized = Vec::with_capacity(devices.len());
    for (name, path) in &devices {
        sized.push((name.clone(), image_size(path)?));
    }
    let configs = args
        .configs
        .iter()
        .map(|c| {
            let path = Path::new(c);
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .with_context(|| format!("config {c:?} has no usable file name"))?;
            let data = fs::read(path).with_context(|| format!("reading config {c}"))?;
            Ok(ConfigBlob {
                name: name.to_owned(),
                data,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let ctime = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let spec = HeaderSpec {
        uuid: Uuid::new_v4(),
        ctime,
        configs,
        devices: sized,
    };
    let part = out.with_file_name(format!(
        "{}.part",
        out.file_name().unwrap_or_default().to_string_lossy()
    ));
    let progress = OpProgress::start(format!("create {}", out.display()), args.json);
    let total = spec.devices.iter().map(|(_, size)| size).sum();
    let meter = Meter::new(Some(total), Some(progress.observer()));
    let written = write_archive(&part, &spec, &devices, compression, args.zstd_level, &meter);
    if written.is_ok() {
        meter.finish();
    }
    progress.finish(written.is_ok());
    if let Err(e) = written {
        let _ = fs::remove_file(&part);
        return Err(e.context(format!("writing {}", out.display())));
    }
    fs::rename(&part, &out).with_context(|| format!("renaming {} into place", part.display()))?;
    let report = CreateReport {
        bytes: fs::metadata(&out)?.len(),
        output: out,
        compression,
        uuid: spec.uuid.to_string(),
        configs: spec.configs.iter().map(|c| c.name.clone()).collect(),
        devices: spec.devices,
    };
    if args.json {
        output::json(&report)?;
    } else {
        output::line(&format!(
            "{}: wrote {} ({} devices, {} configs)",
            report.output.display(),
            human::bytes(report.bytes),
            report.devices.len(),
            report.configs.len()
        ))?;
    }
    Ok(exit::OK)
}

fn write_archive(
    part: &Path,
    spec: &HeaderSpec,
    devices: &[(String, PathBuf)],
    compression: OutCompression,
    level: i32,
    meter: &Arc<Meter>,
) -> Result<()> {
    let f = File::create_new(part).with_context(|| format!("creating {}", part.display()))?;
    let buf = BufWriter::with_capacity(1 << 20, CountingWriter::new(f, Arc::clone(meter)));
    let f = match compression {
        OutCompression::None => write_devices(spec, devices, buf, meter)?
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?,
        OutCompression::Zstd => {
            let enc = zstd::Encoder::new(buf, level).context("starting zstd")?;
            let mut buf = write_devices(spec, devices, enc, meter)?.finish()?;
            buf.flush()?;
            buf.into_inner()
                .map_err(std::io::IntoInnerError::into_error)?
        }
        OutCompression::Gzip => {
            let enc = flate2::write::GzEncoder::new(buf, flate2::Compression::fast());
            let mut buf = write_devices(spec, devices, enc, meter)?.finish()?;
            buf.flush()?;
            buf.into_inner()
                .map_err(std::io::IntoInnerError::into_error)?
        }
    };
    f.into_inner().sync_all()?;
    Ok(())
}

fn write_devices<W: Write>(
    spec: &HeaderSpec,
    devices: &[(String, PathBuf)],
    out: W,
    meter: &Arc<Meter>,
) -> Result<W> {
    let mut w = VmaWriter::new(out, spec)?;
    for (i, (name, path)) in devices.iter().enumerate() {
        let id = u8::try_from(i + 1)
            .ok()
            .and_then(DevId::new)
            .context("too many devices")?;
        let src = File::open(path).with_context(|| format!("opening image {}", path.display()))?;
        let src = CountingReader::new(src, Arc::clone(meter));
        w.write_device(id, BufReader::with_capacity(1 << 20, src))
            .with_context(|| format!("device {name} from {}", path.display()))?;
    }
    Ok(w.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_arguments_and_output_names() {
        assert_eq!(
            parse_device("drive-scsi0=/a/b.raw").unwrap_or_default(),
            ("drive-scsi0".to_owned(), PathBuf::from("/a/b.raw"))
        );
        for bad in ["disk.raw", "=x", "drive-scsi0="] {
            assert!(parse_device(bad).is_err(), "{bad}");
        }
        let c = |p: &str| out_compression(Path::new(p)).ok();
        assert_eq!(c("a.vma"), Some(OutCompression::None));
        assert_eq!(c("a.vma.zst"), Some(OutCompression::Zstd));
        assert_eq!(c("a.vma.gz"), Some(OutCompression::Gzip));
        assert_eq!(c("a.vma.lzo"), None);
    }
}
