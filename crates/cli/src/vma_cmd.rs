//! `zferry vma list|config|verify|extract` (and `create`, in `vma_create`): Proxmox VMA archives, with the meaning of PVE's
//! `vma` tool. `.vma`, `.vma.zst`, `.vma.gz` and `.vma.lzo` are decompressed in-process;
//! `-` reads standard input.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::Serialize;
use zferry_progress::{CountingReader, Meter};
use zferry_vma::ops::{DeviceStats, Summary};
use zferry_vma::{Compression, VmaReader, VmaStream, decompress, open_path, open_path_metered};

use crate::cli::{VmaCommand, VmaConfigArgs, VmaExtractArgs, VmaFileArgs};
use crate::op_progress::OpProgress;
use crate::{exit, output};

pub fn run(command: &VmaCommand) -> Result<u8> {
    match command {
        VmaCommand::List(args) => list(args),
        VmaCommand::Config(args) => config(args),
        VmaCommand::Verify(args) => verify(args),
        VmaCommand::Extract(args) => extract(args),
        VmaCommand::Create(args) => crate::vma_create::create(args),
    }
}

/// Opens and decompresses `file` (`-` = stdin); errors here mean it could not be read.
fn open_stream(file: &str) -> Result<(Compression, VmaStream)> {
    Ok(if file == "-" {
        decompress(BufReader::with_capacity(1 << 20, std::io::stdin()), None)?
    } else {
        open_path(Path::new(file))?
    })
}

/// [`open_stream`] counting the archive's bytes (as stored) into a new meter reporting to
/// `progress`; the meter's total is the file size (unknown for stdin).
fn open_metered(file: &str, progress: &Arc<OpProgress>) -> Result<(VmaStream, Arc<Meter>)> {
    if file == "-" {
        let meter = Meter::new(None, Some(progress.observer()));
        let stdin = CountingReader::new(std::io::stdin(), Arc::clone(&meter));
        let (_, stream) = decompress(BufReader::with_capacity(1 << 20, stdin), None)?;
        return Ok((stream, meter));
    }
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading the size of {file}"))?
        .len();
    let meter = Meter::new(Some(size), Some(progress.observer()));
    let (_, stream) = open_path_metered(Path::new(file), Some(Arc::clone(&meter)))?;
    Ok((stream, meter))
}

fn open(file: &str) -> Result<(Compression, VmaReader<VmaStream>)> {
    let (kind, stream) = open_stream(file)?;
    let reader =
        VmaReader::new(stream).with_context(|| format!("{file}: not a valid VMA archive"))?;
    Ok((kind, reader))
}

#[derive(Debug, Serialize)]
struct ListReport {
    compression: &'static str,
    uuid: String,
    ctime: i64,
    configs: Vec<String>,
    devices: Vec<DeviceRow>,
}

#[derive(Debug, Serialize)]
struct DeviceRow {
    id: u8,
    name: String,
    size: u64,
}

fn list(args: &VmaFileArgs) -> Result<u8> {
    let (kind, reader) = open(&args.file)?;
    let header = reader.header();
    if args.json {
        output::json(&ListReport {
            compression: kind.name(),
            uuid: header.uuid.to_string(),
            ctime: header.ctime,
            configs: header.configs.iter().map(|c| c.name.clone()).collect(),
            devices: header
                .devices
                .iter()
                .map(|d| DeviceRow {
                    id: d.id.get(),
                    name: d.name.clone(),
                    size: d.size,
                })
                .collect(),
        })?;
    } else {
        output::text(
            &(zferry_vma::ops::list_lines(header).join(
                "
",
            ) + "
"),
        )?;
    }
    Ok(exit::OK)
}

fn config(args: &VmaConfigArgs) -> Result<u8> {
    let (_, reader) = open(&args.file)?;
    let header = reader.header();
    let name = args
        .name
        .as_deref()
        .or_else(|| {
            header
                .configs
                .iter()
                .map(|c| c.name.as_str())
                .find(|n| Path::new(n).extension().is_some_and(|e| e == "conf"))
        })
        .context("the archive has no config file")?;
    let data = zferry_vma::ops::config(header, name).with_context(|| {
        let names: Vec<&str> = header.configs.iter().map(|c| c.name.as_str()).collect();
        format!(
            "no config {name:?} in the archive (it has: {})",
            names.join(", ")
        )
    })?;
    output::text(&String::from_utf8_lossy(data))?;
    Ok(exit::OK)
}

#[derive(Debug, Serialize)]
struct VerifyReport {
    valid: bool,
    stream_bytes: u64,
    devices: Vec<DeviceReport>,
}

#[derive(Debug, Serialize)]
struct DeviceReport {
    name: String,
    size: u64,
    data_blocks: u64,
    zero_blocks: u64,
}

fn report(summary: &Summary) -> VerifyReport {
    VerifyReport {
        valid: true,
        stream_bytes: summary.stream_bytes,
        devices: summary
            .devices
            .iter()
            .map(|d: &DeviceStats| DeviceReport {
                name: d.name.clone(),
                size: d.size,
                data_blocks: d.data_blocks,
                zero_blocks: d.zero_blocks,
            })
            .collect(),
    }
}

fn verify(args: &VmaFileArgs) -> Result<u8> {
    let progress = OpProgress::start(format!("verify {}", args.file), args.json);
    let (stream, meter) = open_metered(&args.file, &progress)?;
    let result = VmaReader::new(stream).and_then(zferry_vma::ops::verify);
    if result.is_ok() {
        meter.finish();
    }
    progress.finish(result.is_ok());
    match result {
        Ok(summary) => {
            if args.json {
                output::json(&report(&summary))?;
            } else {
                for d in &summary.devices {
                    output::line(&format!(
                        "{}: OK, {} bytes, {} data blocks, {} zero blocks",
                        d.name, d.size, d.data_blocks, d.zero_blocks
                    ))?;
                }
            }
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("zferry: {}: archive is damaged: {e}", args.file);
            Ok(exit::PROBLEM)
        }
    }
}

fn extract(args: &VmaExtractArgs) -> Result<u8> {
    let progress = OpProgress::start(format!("extract {}", args.file), args.json);
    let (stream, meter) = open_metered(&args.file, &progress)?;
    let reader = VmaReader::new(stream)
        .with_context(|| format!("{}: not a valid VMA archive", args.file))?;
    let summary = zferry_vma::ops::extract_metered(reader, Path::new(&args.dir), Some(&meter));
    if summary.is_ok() {
        meter.finish();
    }
    progress.finish(summary.is_ok());
    let summary = summary.with_context(|| format!("extracting {} to {}", args.file, args.dir))?;
    if args.json {
        output::json(&report(&summary))?;
    } else {
        for d in &summary.devices {
            let image = zferry_vma::ops::image_file_name(&d.name);
            output::line(&format!(
                "{}/{image}: {} bytes ({} data blocks written)",
                args.dir, d.size, d.data_blocks
            ))?;
        }
    }
    Ok(exit::OK)
}
