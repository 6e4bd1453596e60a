//! One crafted archive per validation rule: the golden archive with a
//! targeted patch (MD5s repaired where the rule under test is not the MD5),
//! asserting the exact error variant and stream offset.

#![allow(clippy::unwrap_used, reason = "test code")]

mod common;
use common::*;
use zferry_vma::VmaError;

/// Header size of the golden archive; the first extent starts here.
const E1: usize = 12800;
/// Second (last, short) extent: after 20 data blocks of the first.
const E2: usize = E1 + 512 + 20 * 4096;

fn blockinfo_at(extent: usize, slot: usize) -> usize {
    extent + 40 + 8 * slot
}

fn err_of(bytes: &[u8]) -> VmaError {
    read_all(bytes).expect_err("crafted archive must be rejected")
}

#[test]
fn golden_offsets_are_what_these_tests_assume() {
    let b = golden_bytes();
    assert_eq!(header_size(&b), E1);
    assert_eq!(&b[E2..E2 + 4], b"VMAE");
}

#[test]
fn bad_magic() {
    let mut b = golden_bytes();
    b[0] = b'X';
    let e = err_of(&b);
    assert!(
        matches!(e, VmaError::BadMagic { offset: 0, found } if &found == b"XMA\0"),
        "{e:?}"
    );
}

#[test]
fn unsupported_version() {
    let mut b = golden_bytes();
    put_be32(&mut b, 4, 2);
    assert!(matches!(
        err_of(&b),
        VmaError::UnsupportedVersion {
            offset: 4,
            version: 2
        }
    ));
}

#[test]
fn header_size_beyond_limit() {
    let mut b = golden_bytes();
    put_be32(&mut b, 56, 0xffff_0000);
    assert!(matches!(
        err_of(&b),
        VmaError::BadHeaderSize {
            offset: 56,
            size: 0xffff_0000,
            ..
        }
    ));
}

#[test]
fn bad_header_md5() {
    let mut b = golden_bytes();
    b[100] ^= 1; // reserved area: only the checksum can notice
    let e = err_of(&b);
    assert!(
        matches!(e, VmaError::BadHeaderChecksum { offset: 32, .. }),
        "{e:?}"
    );
}

#[test]
fn blob_buffer_out_of_bounds() {
    let mut b = golden_bytes();
    put_be32(&mut b, 52, 513); // 12288 + 513 > header_size 12800
    fix_header_md5(&mut b);
    let e = err_of(&b);
    assert!(
        matches!(
            e,
            VmaError::BlobBufferOutOfBounds {
                offset: 48,
                start: 12288,
                size: 513,
                header_size: 12800
            }
        ),
        "{e:?}"
    );
}

#[test]
fn blob_length_out_of_bounds() {
    let mut b = golden_bytes();
    // The first blob (config name) at buffer position 1 claims 60000 bytes.
    b[12289..12291].copy_from_slice(&60000u16.to_le_bytes());
    fix_header_md5(&mut b);
    let e = err_of(&b);
    assert!(
        matches!(
            e,
            VmaError::BlobOutOfBounds {
                offset: 12289,
                pos: 1,
                len: 60000
            }
        ),
        "{e:?}"
    );
}

#[test]
fn config_pointer_not_at_a_blob() {
    let mut b = golden_bytes();
    put_be32(&mut b, 3068, 5); // config_data[0] into the middle of a blob
    fix_header_md5(&mut b);
    let e = err_of(&b);
    assert!(
        matches!(
            e,
            VmaError::BadBlobPointer {
                offset: 3068,
                field: "config data",
                ptr: 5
            }
        ),
        "{e:?}"
    );
}

#[test]
fn config_with_name_but_no_data() {
    let mut b = golden_bytes();
    put_be32(&mut b, 3068, 0);
    fix_header_md5(&mut b);
    let e = err_of(&b);
    assert!(
        matches!(
            e,
            VmaError::BadConfig {
                offset: 3068,
                index: 0,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn device_without_size() {
    let mut b = golden_bytes();
    b[4136..4144].fill(0); // dev_info[1].size
    fix_header_md5(&mut b);
    let e = err_of(&b);
    assert!(
        matches!(
            e,
            VmaError::BadDevice {
                offset: 4128,
                dev_id: 1,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn bad_extent_magic() {
    let mut b = golden_bytes();
    b[E1 + 3] = b'X';
    fix_extent_md5(&mut b, E1);
    let e = err_of(&b);
    assert!(
        matches!(e, VmaError::BadExtentMagic { offset, found } if offset == E1 as u64 && &found == b"VMAX"),
        "{e:?}"
    );
}

#[test]
fn bad_extent_md5() {
    let mut b = golden_bytes();
    b[blockinfo_at(E1, 1) + 7] ^= 1;
    let e = err_of(&b);
    assert!(
        matches!(e, VmaError::BadExtentChecksum { offset } if offset == (E1 + 24) as u64),
        "{e:?}"
    );
}

#[test]
fn extent_uuid_mismatch() {
    let mut b = golden_bytes();
    b[E2 + 8] ^= 0xff;
    fix_extent_md5(&mut b, E2);
    let e = err_of(&b);
    assert!(
        matches!(e, VmaError::ExtentUuidMismatch { offset } if offset == (E2 + 8) as u64),
        "{e:?}"
    );
}

#[test]
fn unknown_dev_id() {
    let mut b = golden_bytes();
    b[blockinfo_at(E1, 1) + 3] = 7; // dev id byte of a zero cluster
    fix_extent_md5(&mut b, E1);
    let e = err_of(&b);
    assert!(
        matches!(e, VmaError::UnknownDevice { offset, dev_id: 7 } if offset == blockinfo_at(E1, 1) as u64),
        "{e:?}"
    );
}

#[test]
fn cluster_beyond_device_end() {
    let mut b = golden_bytes();
    put_be32(&mut b, blockinfo_at(E1, 1) + 4, 4); // dev 1 has clusters 0..=3
    fix_extent_md5(&mut b, E1);
    let e = err_of(&b);
    assert!(
        matches!(e, VmaError::ClusterBeyondEnd { offset, dev_id: 1, cluster: 4 } if offset == blockinfo_at(E1, 1) as u64),
        "{e:?}"
    );
}

#[test]
fn stored_block_beyond_device_end() {
    let mut b = golden_bytes();
    // Cluster 3 of dev 1 covers only 2 blocks; claim block 5 as stored.
    let at = blockinfo_at(E1, 3);
    b[at + 1] |= 1 << 5;
    fix_extent_md5(&mut b, E1);
    let e = err_of(&b);
    assert!(
        matches!(e, VmaError::BlockBeyondEnd { offset, dev_id: 1, cluster: 3, block: 5 } if offset == at as u64),
        "{e:?}"
    );
}

#[test]
fn duplicate_cluster() {
    let mut b = golden_bytes();
    put_be32(&mut b, blockinfo_at(E1, 1) + 4, 0); // cluster 1 -> 0 again
    fix_extent_md5(&mut b, E1);
    let e = err_of(&b);
    assert!(
        matches!(e, VmaError::DuplicateCluster { offset, dev_id: 1, cluster: 0 } if offset == blockinfo_at(E1, 1) as u64),
        "{e:?}"
    );
}

#[test]
fn duplicate_cluster_across_extents() {
    let mut b = golden_bytes();
    put_be32(&mut b, blockinfo_at(E2, 0) + 4, 54); // dev 2 cluster 54 is in extent 1 already
    fix_extent_md5(&mut b, E2);
    let e = err_of(&b);
    assert!(
        matches!(e, VmaError::DuplicateCluster { offset, dev_id: 2, cluster: 54 } if offset == blockinfo_at(E2, 0) as u64),
        "{e:?}"
    );
}

#[test]
fn missing_cluster() {
    let mut b = golden_bytes();
    // Drop dev 2 cluster 55 (a zero cluster, so the block count stays right).
    b[blockinfo_at(E2, 0)..blockinfo_at(E2, 0) + 8].fill(0);
    fix_extent_md5(&mut b, E2);
    let e = err_of(&b);
    assert!(
        matches!(e, VmaError::MissingCluster { offset, dev_id: 2, cluster: 55 } if offset == b.len() as u64),
        "{e:?}"
    );
}

#[test]
fn missing_last_extent() {
    let b = golden_bytes();
    let e = err_of(&b[..E2]);
    assert!(
        matches!(e, VmaError::MissingCluster { offset, dev_id: 2, cluster: 55 } if offset == E2 as u64),
        "{e:?}"
    );
}

#[test]
fn block_count_disagrees_with_masks() {
    let mut b = golden_bytes();
    b[E1 + 6..E1 + 8].copy_from_slice(&19u16.to_be_bytes());
    fix_extent_md5(&mut b, E1);
    let e = err_of(&b);
    assert!(
        matches!(e, VmaError::BadBlockCount { offset, declared: 19, counted: 20 } if offset == (E1 + 6) as u64),
        "{e:?}"
    );
}

#[test]
fn unused_slot_with_data() {
    let mut b = golden_bytes();
    b[blockinfo_at(E2, 20)] = 0x80; // mask bits on a dev-0 slot
    fix_extent_md5(&mut b, E2);
    let e = err_of(&b);
    assert!(
        matches!(e, VmaError::BadBlockInfo { offset, .. } if offset == blockinfo_at(E2, 20) as u64),
        "{e:?}"
    );
}

#[test]
fn truncated_in_block_data() {
    let b = golden_bytes();
    let cut = b.len() - 100;
    let e = err_of(&b[..cut]);
    assert!(
        matches!(e, VmaError::Truncated { offset, start, what: "extent block data" }
            if offset == cut as u64 && start == (E2 + 512) as u64),
        "{e:?}"
    );
}

#[test]
fn truncated_in_extent_header() {
    let b = golden_bytes();
    let e = err_of(&b[..E2 + 100]);
    assert!(
        matches!(e, VmaError::Truncated { offset, start, what: "extent header" }
            if offset == (E2 + 100) as u64 && start == E2 as u64),
        "{e:?}"
    );
}

#[test]
fn truncated_in_header() {
    let b = golden_bytes();
    let e = err_of(&b[..5000]);
    assert!(
        matches!(
            e,
            VmaError::Truncated {
                offset: 5000,
                start: 0,
                ..
            }
        ),
        "{e:?}"
    );
    let e = err_of(&b[..12500]);
    assert!(
        matches!(
            e,
            VmaError::Truncated {
                offset: 12500,
                start: 0,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn io_error_carries_the_offset() {
    struct Failing<'a>(&'a [u8]);
    impl std::io::Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let b = golden_bytes();
    let mut r = zferry_vma::VmaReader::new(Failing(&b[..E1 + 1000])).unwrap();
    let e = loop {
        match r.next_cluster() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("must fail"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(e, VmaError::Io { offset, .. } if offset == (E1 + 1000) as u64),
        "{e:?}"
    );
}
