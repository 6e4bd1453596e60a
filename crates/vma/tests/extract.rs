//! `list`, `config`, `verify` and `extract` on the golden archive: extracted
//! images equal the originals, zero blocks stay holes, configs are written
//! verbatim, and a damaged archive leaves no `disk-*.raw` behind.

#![allow(clippy::unwrap_used, reason = "test code")]

mod common;
use common::*;
use std::os::unix::fs::MetadataExt;
use zferry_vma::{ExtractError, VmaError, VmaReader, ops};

#[test]
fn list_and_config() {
    let b = golden_bytes();
    let r = VmaReader::new(&b[..]).unwrap();
    let lines = ops::list_lines(r.header());
    assert_eq!(
        lines,
        vec![
            "UUID: 5afe7e57-2017-4d0c-8a1e-000bac4b0004".to_string(),
            format!("CTIME: {GOLDEN_CTIME}"),
            format!("CFG: size: {} name: qemu-server.conf", GOLDEN_CONF.len()),
            format!("DEV: dev_id=1 size: {DEV1_SIZE} devname: drive-scsi0"),
            format!("DEV: dev_id=2 size: {DEV2_SIZE} devname: drive-scsi1"),
        ]
    );
    assert_eq!(
        ops::config(r.header(), "qemu-server.conf"),
        Some(GOLDEN_CONF.as_bytes())
    );
    assert_eq!(ops::config(r.header(), "nope.conf"), None);
}

#[test]
fn verify_counts_blocks() {
    let b = golden_bytes();
    let s = ops::verify(VmaReader::new(&b[..]).unwrap()).unwrap();
    assert_eq!(s.stream_bytes, b.len() as u64);
    let counts: Vec<_> = s
        .devices
        .iter()
        .map(|d| (d.dev_id, d.data_blocks, d.zero_blocks))
        .collect();
    // dev1: 50 blocks (3 full clusters + 2), 19 stored; dev2: 1024 blocks, 2 stored.
    assert_eq!(counts, vec![(1, 19, 31), (2, 2, 1022)]);
}

#[test]
fn extract_writes_sparse_images_and_configs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let b = golden_bytes();
    ops::extract(VmaReader::new(&b[..]).unwrap(), &dir).unwrap();
    let images = golden_images();
    let d1 = std::fs::read(dir.join("disk-drive-scsi0.raw")).unwrap();
    let d2 = std::fs::read(dir.join("disk-drive-scsi1.raw")).unwrap();
    assert!(d1 == images[0]);
    assert!(d2 == images[1]);
    assert_eq!(
        std::fs::read(dir.join("qemu-server.conf")).unwrap(),
        GOLDEN_CONF.as_bytes()
    );
    // 4 MiB image with 8 KiB of data: far fewer than 8192 sectors allocated
    // (on filesystems with hole support, which tmpfs/ext4/xfs/zfs all have).
    let allocated = std::fs::metadata(dir.join("disk-drive-scsi1.raw"))
        .unwrap()
        .blocks()
        * 512;
    assert!(
        allocated < DEV2_SIZE / 4,
        "image not sparse: {allocated} bytes allocated"
    );
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            "disk-drive-scsi0.raw",
            "disk-drive-scsi1.raw",
            "qemu-server.conf"
        ]
    );

    let again = ops::extract(VmaReader::new(&b[..]).unwrap(), &dir).unwrap_err();
    assert!(matches!(again, ExtractError::TargetExists { .. }));
}

#[test]
fn failed_extract_leaves_no_final_images() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let b = golden_bytes();
    let cut = &b[..b.len() - 10];
    let e = ops::extract(VmaReader::new(cut).unwrap(), &dir).unwrap_err();
    assert!(
        matches!(e, ExtractError::Vma(VmaError::Truncated { .. })),
        "{e:?}"
    );
    assert!(!dir.join("disk-drive-scsi0.raw").exists());
    assert!(!dir.join("disk-drive-scsi1.raw").exists());
}

#[test]
fn mislabelled_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp
        .path()
        .join("vzdump-qemu-100-2017_10_25-13_33_00.vma.zst");
    let gz = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/golden.vma.gz"),
    )
    .unwrap();
    std::fs::write(&p, gz).unwrap();
    let e = zferry_vma::open_path(&p).err().expect("mismatch");
    assert!(
        matches!(
            e,
            zferry_vma::OpenError::CompressionMismatch {
                by_name: "zstd",
                by_magic: "gzip"
            }
        ),
        "{e:?}"
    );
}
