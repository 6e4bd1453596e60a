//! Fixture generator and contenders for the ingest benchmark (`crates/backup/bench/ingest-vs.sh`).
//!
//! - `gen DIR SIZE_MIB PERMILLE`: writes `DIR/base.raw` (yesterday's image, the ingest target)
//!   and `DIR/vzdump-qemu-100-2026_11_21-01_00_00.vma.zst` (today's backup: about PERMILLE/1000
//!   of the 4 KiB blocks changed, scattered; zstd level 1 as vzdump). Blocks are half random,
//!   half text, so the archive compresses about 2:1 like a real disk; one MiB in 16 is zeros.
//!   Prints the number of changed blocks.
//! - `ingest ARCHIVE DIR`: the ingest data path without ZFS (decompress, verify, write only
//!   changed blocks into `DIR/disk-drive-scsi0.raw`, fsync): `zferry_backup::sync_images`.
//! - `extract ARCHIVE DIR`: `vma extract` (step one of the two-step pipeline).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use zferry_vma::{DevId, HeaderSpec, Uuid, VmaReader, VmaWriter};

const BS: usize = 4096;
const TEXT: &[u8] = b"Nov 21 01:00:00 pve kernel: [12345.678901] EXT4-fs (vda1): mounted filesystem with ordered data mode. ";

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Block `i` of a disk; `version` > 0 for a changed block.
fn block(buf: &mut [u8], i: u64, version: u64) {
    if (i / 256) % 16 == 5 && version == 0 {
        buf.fill(0);
        return;
    }
    let seed = mix(i ^ (version << 48));
    let (random, text) = buf.split_at_mut(BS / 2);
    for (k, w) in random.chunks_mut(8).enumerate() {
        w.copy_from_slice(&mix(seed ^ ((k as u64) << 40)).to_le_bytes());
    }
    let start = usize::try_from(seed % TEXT.len() as u64).unwrap_or(0);
    for (k, b) in text.iter_mut().enumerate() {
        *b = TEXT[(start + k) % TEXT.len()];
    }
}

fn changed(i: u64, permille: u64) -> bool {
    mix(i ^ 0xdead_beef) % 1000 < permille
}

fn generate(dir: &Path, mib: u64, permille: u64) -> Result<u64, Box<dyn std::error::Error>> {
    let size = mib << 20;
    let blocks = size / BS as u64;
    let mut base = BufWriter::with_capacity(4 << 20, File::create(dir.join("base.raw"))?);
    let spec = HeaderSpec {
        uuid: Uuid::from_u128(0xbe7c),
        ctime: 1_763_686_800,
        configs: vec![zferry_vma::ConfigBlob {
            name: "qemu-server.conf".into(),
            data: b"scsi0: local:vm-100-disk-0\n".to_vec(),
        }],
        devices: vec![("drive-scsi0".into(), size)],
    };
    let out = File::create(dir.join("vzdump-qemu-100-2026_11_21-01_00_00.vma.zst"))?;
    let enc = zstd::Encoder::new(BufWriter::with_capacity(4 << 20, out), 1)?;
    let mut w = VmaWriter::new(enc, &spec)?;
    let dev = DevId::new(1).ok_or("device id")?;
    let mut cluster = vec![0u8; 16 * BS];
    let mut n_changed = 0;
    for c in 0..blocks / 16 {
        for b in 0..16 {
            let i = c * 16 + b;
            let blk = &mut cluster[usize::try_from(b)? * BS..][..BS];
            block(blk, i, 0);
            base.write_all(blk)?;
            if changed(i, permille) {
                block(blk, i, 1);
                n_changed += 1;
            }
        }
        w.write_cluster(dev, u32::try_from(c)?, &cluster)?;
    }
    base.into_inner()?.sync_all()?;
    w.finish()?.finish()?.into_inner()?.sync_all()?;
    Ok(n_changed)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["gen", dir, mib, permille] => {
            let n = generate(Path::new(dir), mib.parse()?, permille.parse()?)?;
            println!("{n}");
        }
        ["ingest", archive, dir] => {
            let (_, stream) = zferry_vma::open_path(Path::new(archive))?;
            let mut reader = zferry_vma::PrefetchReader::spawn(stream)?;
            let mut created = Vec::new();
            let devices =
                zferry_backup::sync_images(&mut reader, Path::new(dir), None, &mut created, None)?;
            println!("{}", serde_json::to_string(&devices)?);
        }
        ["extract", archive, dir] => {
            let (_, stream) = zferry_vma::open_path(Path::new(archive))?;
            let summary = zferry_vma::ops::extract(VmaReader::new(stream)?, Path::new(dir))?;
            println!("{} bytes of stream", summary.stream_bytes);
        }
        _ => {
            return Err(
                "usage: ingest_bench gen DIR SIZE_MIB PERMILLE | ingest ARCHIVE DIR | extract ARCHIVE DIR"
                    .into(),
            );
        }
    }
    Ok(())
}
