//! The golden archive: written deterministically (fixed uuid and ctime) and
//! checked in, so any change to the writer's output is visible. Its structure
//! is asserted field by field at the offsets `vma_spec.txt` gives.
//!
//! Regenerate after an intended format change with
//! `ZFERRY_UPDATE_GOLDEN=1 cargo test -p zferry-vma --test golden`; the
//! compressed copies then come from the real tools (see tests/golden/README.md).

#![allow(
    clippy::cast_possible_truncation,
    clippy::unwrap_used,
    reason = "test assertions on small constant-size data"
)]

mod common;
use common::*;
use std::path::PathBuf;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

#[test]
fn writer_output_equals_checked_in_golden_file() {
    let bytes = golden_bytes();
    let path = golden_path("golden.vma");
    if std::env::var_os("ZFERRY_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &bytes).expect("write golden");
    }
    let on_disk = std::fs::read(&path).expect("golden.vma is checked in");
    assert_eq!(bytes.len(), on_disk.len());
    assert!(
        bytes == on_disk,
        "writer output differs from tests/golden/golden.vma"
    );
}

#[test]
fn golden_header_layout() {
    let b = std::fs::read(golden_path("golden.vma")).expect("golden");
    assert_eq!(&b[0..4], b"VMA\0");
    assert_eq!(be32(&b, 4), 1, "version");
    assert_eq!(&b[8..24], &GOLDEN_UUID);
    assert_eq!(
        i64::from_be_bytes(b[24..32].try_into().unwrap()),
        GOLDEN_CTIME
    );
    assert_eq!(
        be32(&b, 48),
        12288,
        "blob buffer right after the fixed header"
    );
    // Blob buffer: reserved byte, then config name, config data, 2 device names.
    let conf_len = GOLDEN_CONF.len() as u32;
    let blob_size = 1 + (2 + 17) + (2 + conf_len) + (2 + 12) + (2 + 12);
    assert_eq!(
        be32(&b, 52),
        blob_size,
        "exact used blob length, not rounded"
    );
    assert_eq!(be32(&b, 56), 12288 + 512, "header size rounded to 512");
    // config_names[0] / config_data[0]
    assert_eq!(
        be32(&b, 2044),
        1,
        "first blob at position 1 (0 is reserved)"
    );
    assert_eq!(be32(&b, 3068), 1 + 2 + 17);
    assert_eq!(be32(&b, 2048), 0, "config slot 1 unused");
    // The blob lengths are little-endian.
    assert_eq!(&b[12289..12291], &[17, 0]);
    assert_eq!(&b[12291..12308], b"qemu-server.conf\0");
    assert_eq!(&b[12308..12310], &(conf_len as u16).to_le_bytes());
    assert!(
        b[12310..12310 + GOLDEN_CONF.len()]
            .starts_with(b"#qmdump#map:scsi0:drive-scsi0:local-lvm:raw:\n")
    );
    // dev_info[0] empty, dev_info[1] and [2] set, [3] empty.
    assert!(b[4096..4128].iter().all(|&x| x == 0));
    let name1 = 1 + 19 + 2 + conf_len;
    assert_eq!(be32(&b, 4128), name1);
    assert_eq!(
        u64::from_be_bytes(b[4136..4144].try_into().unwrap()),
        DEV1_SIZE
    );
    assert_eq!(be32(&b, 4160), name1 + 14);
    assert_eq!(
        u64::from_be_bytes(b[4168..4176].try_into().unwrap()),
        DEV2_SIZE
    );
    assert!(b[4192..4224].iter().all(|&x| x == 0));
    let at = 12288 + name1 as usize;
    assert_eq!(&b[at..at + 14], b"\x0c\x00drive-scsi0\0");
}

#[test]
fn golden_extent_layout() {
    let b = std::fs::read(golden_path("golden.vma")).expect("golden");
    let e1 = 12800;
    assert_eq!(&b[e1..e1 + 4], b"VMAE");
    assert_eq!(&b[e1 + 4..e1 + 6], &[0, 0], "reserved");
    // dev1: 16 + 0 + 2 + 1 blocks, dev2 cluster 0: 1 block.
    assert_eq!(u16::from_be_bytes([b[e1 + 6], b[e1 + 7]]), 20);
    assert_eq!(&b[e1 + 8..e1 + 24], &GOLDEN_UUID);
    let bi = |i: usize| u64::from_be_bytes(b[e1 + 40 + 8 * i..e1 + 48 + 8 * i].try_into().unwrap());
    // mask(16) | reserved(8) dev_id(8) | cluster(32): 0xMMMM_RRDD_CCCC_CCCC
    assert_eq!(bi(0), 0xffff_0001_0000_0000);
    assert_eq!(
        bi(1),
        0x0000_0001_0000_0001,
        "zero cluster: mask 0, no data"
    );
    assert_eq!(bi(2), 0x8001_0001_0000_0002);
    assert_eq!(bi(3), 0x0002_0001_0000_0003, "partial last cluster");
    assert_eq!(bi(4), 0x0008_0002_0000_0000);
    assert_eq!(bi(58), 0x0000_0002_0000_0036, "59 clusters per extent");
    // First data block follows the extent header directly.
    assert_eq!(
        b[e1 + 512],
        1,
        "block 0 of dev1: fill(tag 0) starts with 0|1"
    );
    let e2 = e1 + 512 + 20 * 4096;
    assert_eq!(&b[e2..e2 + 4], b"VMAE");
    assert_eq!(u16::from_be_bytes([b[e2 + 6], b[e2 + 7]]), 1);
    let bi2 =
        |i: usize| u64::from_be_bytes(b[e2 + 40 + 8 * i..e2 + 48 + 8 * i].try_into().unwrap());
    assert_eq!(bi2(0), 0x0000_0002_0000_0037);
    assert_eq!(bi2(5), 0x0080_0002_0000_003c, "dev2 cluster 60 block 7");
    assert_eq!(bi2(8), 0x0000_0002_0000_003f);
    assert_eq!(bi2(9), 0, "unused slots of the short last extent are zero");
    assert_eq!(b.len(), e2 + 512 + 4096);
}

#[test]
fn golden_reads_back_to_the_images() {
    let b = std::fs::read(golden_path("golden.vma")).expect("golden");
    let (h, images) = read_all(&b).expect("valid archive");
    assert_eq!(h.uuid.as_bytes(), &GOLDEN_UUID);
    assert_eq!(h.ctime, GOLDEN_CTIME);
    assert_eq!(h.configs.len(), 1);
    assert_eq!(h.configs[0].name, "qemu-server.conf");
    assert_eq!(h.configs[0].data, GOLDEN_CONF.as_bytes());
    let names: Vec<_> = h
        .devices
        .iter()
        .map(|d| (d.id.get(), d.name.as_str(), d.size))
        .collect();
    assert_eq!(
        names,
        vec![(1, "drive-scsi0", DEV1_SIZE), (2, "drive-scsi1", DEV2_SIZE)]
    );
    assert!(images == golden_images());
}

#[test]
fn compressed_golden_files_decode_to_the_same_archive() {
    let plain = std::fs::read(golden_path("golden.vma")).expect("golden");
    for (name, kind) in [
        ("golden.vma.zst", zferry_vma::Compression::Zstd),
        ("golden.vma.gz", zferry_vma::Compression::Gzip),
        ("golden.vma.lzo", zferry_vma::Compression::Lzo),
        ("golden-lzo1x-999.vma.lzo", zferry_vma::Compression::Lzo),
        ("golden.vma", zferry_vma::Compression::None),
    ] {
        let (k, mut s) = zferry_vma::open_path(&golden_path(name)).expect(name);
        assert_eq!(k, kind, "{name}");
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut s, &mut out).expect(name);
        assert!(out == plain, "{name} decodes to different bytes");
        let r = zferry_vma::VmaReader::new(&out[..]).expect(name);
        zferry_vma::ops::verify(r).expect(name);
    }
}
