//! Shared test helpers: the deterministic golden archive, image reassembly
//! and byte-patching with MD5 repair for crafted-archive tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(
    clippy::cast_possible_truncation,
    reason = "test data sizes are small constants"
)]

use zferry_vma::format::{
    EXTENT_HEADER_SIZE, EXTENT_MD5_OFFSET, HEADER_MD5_OFFSET, md5_with_zeroed_field,
};
use zferry_vma::{
    ClusterSource, ConfigBlob, DevId, Header, HeaderSpec, PrefetchReader, Uuid, VmaError,
    VmaReader, VmaWriter,
};

pub const GOLDEN_UUID: [u8; 16] = [
    0x5a, 0xfe, 0x7e, 0x57, 0x20, 0x17, 0x4d, 0x0c, 0x8a, 0x1e, 0x00, 0x0b, 0xac, 0x4b, 0x00, 0x04,
];
/// 2017-10-25 13:33:00 UTC, the day of the Proxtalks talk (seed 004).
pub const GOLDEN_CTIME: i64 = 1_508_938_380;
pub const GOLDEN_CONF: &str = "#qmdump#map:scsi0:drive-scsi0:local-lvm:raw:\n\
#qmdump#map:scsi1:drive-scsi1:local-zfs:raw:\n\
boot: order=scsi0\ncores: 2\nmemory: 2048\nname: golden\n\
scsi0: local-lvm:vm-100-disk-0,size=200K\nscsi1: local-zfs:vm-100-disk-1,size=4M\n";
pub const DEV1_SIZE: u64 = 3 * 65536 + 8192;
pub const DEV2_SIZE: u64 = 64 * 65536;

fn fill(block: &mut [u8], tag: u8) {
    for (i, b) in block.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(tag) | 1;
    }
}

/// The two images of the golden archive.
pub fn golden_images() -> Vec<Vec<u8>> {
    let mut d1 = vec![0u8; DEV1_SIZE as usize];
    for b in 0..16 {
        fill(&mut d1[b * 4096..(b + 1) * 4096], b as u8);
    }
    fill(&mut d1[2 * 65536..2 * 65536 + 4096], 100);
    fill(&mut d1[2 * 65536 + 15 * 4096..3 * 65536], 101);
    fill(&mut d1[3 * 65536 + 4096..3 * 65536 + 8192], 102);
    let mut d2 = vec![0u8; DEV2_SIZE as usize];
    fill(&mut d2[3 * 4096..4 * 4096], 200);
    fill(&mut d2[60 * 65536 + 7 * 4096..60 * 65536 + 8 * 4096], 201);
    vec![d1, d2]
}

pub fn golden_spec() -> HeaderSpec {
    HeaderSpec {
        uuid: Uuid::from_bytes(GOLDEN_UUID),
        ctime: GOLDEN_CTIME,
        configs: vec![ConfigBlob {
            name: "qemu-server.conf".into(),
            data: GOLDEN_CONF.as_bytes().to_vec(),
        }],
        devices: vec![
            ("drive-scsi0".into(), DEV1_SIZE),
            ("drive-scsi1".into(), DEV2_SIZE),
        ],
    }
}

/// Writes the golden archive: device 1 then device 2, each from cluster 0.
pub fn golden_bytes() -> Vec<u8> {
    let images = golden_images();
    let mut w = VmaWriter::new(Vec::new(), &golden_spec()).expect("valid spec");
    for (i, img) in images.iter().enumerate() {
        let id = DevId::new(i as u8 + 1).expect("nonzero");
        w.write_device(id, &img[..]).expect("write device");
    }
    w.finish().expect("complete")
}

/// Reads an archive completely and reassembles the images, with [`VmaReader`] and again
/// with [`PrefetchReader`]: both must agree on the images, or on the error and its offset.
pub fn read_all(bytes: &[u8]) -> Result<(Header, Vec<Vec<u8>>), VmaError> {
    let inline = VmaReader::new(bytes).and_then(|mut r| read_with(&mut r));
    let prefetched = PrefetchReader::spawn(std::io::Cursor::new(bytes.to_vec()))
        .and_then(|mut r| read_with(&mut r));
    match (&inline, &prefetched) {
        (Ok(a), Ok(b)) => assert!(a.0 == b.0 && a.1 == b.1, "the readers disagree"),
        (Err(a), Err(b)) => assert_eq!(
            (a.to_string(), a.offset()),
            (b.to_string(), b.offset()),
            "the readers fail differently"
        ),
        _ => panic!(
            "one reader failed: inline {:?}, prefetched {:?}",
            inline.as_ref().err(),
            prefetched.as_ref().err()
        ),
    }
    inline
}

fn read_with(r: &mut impl ClusterSource) -> Result<(Header, Vec<Vec<u8>>), VmaError> {
    let header = r.header().clone();
    let mut images: Vec<Vec<u8>> = header
        .devices
        .iter()
        .map(|d| vec![0u8; d.size as usize])
        .collect();
    while let Some(c) = r.next_cluster()? {
        let idx = header
            .devices
            .iter()
            .position(|d| d.id == c.dev_id)
            .expect("declared");
        for (off, block) in c.blocks() {
            if let Some(b) = block {
                images[idx][off as usize..off as usize + b.len()].copy_from_slice(b);
            }
        }
    }
    Ok((header, images))
}

pub fn put_be32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

pub fn be32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}

pub fn header_size(buf: &[u8]) -> usize {
    be32(buf, 56) as usize
}

/// Recomputes the header MD5 after a patch.
pub fn fix_header_md5(buf: &mut [u8]) {
    let hs = header_size(buf);
    let md5 = md5_with_zeroed_field(&buf[..hs], HEADER_MD5_OFFSET);
    buf[HEADER_MD5_OFFSET..HEADER_MD5_OFFSET + 16].copy_from_slice(&md5);
}

/// Recomputes the MD5 of the extent header at `at` after a patch.
pub fn fix_extent_md5(buf: &mut [u8], at: usize) {
    let md5 = md5_with_zeroed_field(&buf[at..at + EXTENT_HEADER_SIZE], EXTENT_MD5_OFFSET);
    buf[at + EXTENT_MD5_OFFSET..at + EXTENT_MD5_OFFSET + 16].copy_from_slice(&md5);
}
