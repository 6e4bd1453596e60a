//! Arbitrary input must give an error — never a panic, a hang or unbounded
//! memory. Random bytes, every truncation of a valid archive, and random
//! byte flips (with and without MD5 repair) through the reader and the
//! decompressors. The fuzz target in `fuzz/` runs the same body unboundedly.

#![allow(clippy::unwrap_used, reason = "test code")]

mod common;
use common::*;
use proptest::prelude::*;
use std::io::Read;
use std::time::{Duration, Instant};
use zferry_vma::{VmaError, VmaReader};

/// Reads everything; Ok only for a complete, valid archive.
fn consume(bytes: &[u8]) -> Result<(), VmaError> {
    let mut r = VmaReader::new(bytes)?;
    while r.next_cluster()?.is_some() {}
    Ok(())
}

/// Same through the decompressor front end.
fn consume_any(bytes: &[u8]) -> bool {
    let Ok((_, mut s)) = zferry_vma::decompress(std::io::Cursor::new(bytes.to_vec()), None) else {
        return false;
    };
    let mut out = Vec::new();
    if s.read_to_end(&mut out).is_err() {
        return false;
    }
    consume(&out).is_ok()
}

#[test]
fn every_truncation_is_an_error() {
    let b = golden_bytes();
    let start = Instant::now();
    let mut cuts: Vec<usize> = (0..b.len()).step_by(61).collect();
    cuts.extend([
        59,
        60,
        12287,
        12288,
        12799,
        12800,
        12801,
        13311,
        13312,
        b.len() - 1,
    ]);
    for cut in cuts {
        let e = consume(&b[..cut]).expect_err("truncated archive accepted");
        assert!(
            matches!(e, VmaError::Truncated { offset, .. } | VmaError::MissingCluster { offset, .. } if offset == cut as u64),
            "cut {cut}: {e:?}"
        );
    }
    consume(&b).unwrap();
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn truncated_compressed_files_are_errors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for name in [
        "golden.vma.zst",
        "golden.vma.gz",
        "golden.vma.lzo",
        "golden-lzo1x-999.vma.lzo",
    ] {
        let full = std::fs::read(dir.join(name)).unwrap();
        assert!(consume_any(&full), "{name} must be valid");
        for cut in 0..full.len() {
            assert!(!consume_any(&full[..cut]), "{name} cut at {cut} accepted");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_rejected(bytes in prop::collection::vec(any::<u8>(), 0..20_000)) {
        prop_assert!(consume(&bytes).is_err());
        prop_assert!(!consume_any(&bytes));
    }

    #[test]
    fn random_bytes_behind_valid_magics_are_rejected(
        magic in 0usize..4,
        tail in prop::collection::vec(any::<u8>(), 0..5000),
    ) {
        let prefix: &[u8] = [
            &b"VMA\0\0\0\0\x01"[..],
            &[0x28, 0xb5, 0x2f, 0xfd][..],
            &[0x1f, 0x8b, 8, 0][..],
            &[0x89, b'L', b'Z', b'O', 0, 0x0d, 0x0a, 0x1a, 0x0a][..],
        ][magic];
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&tail);
        let t = Instant::now();
        prop_assert!(!consume_any(&bytes));
        prop_assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn byte_flips_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
                              repair in any::<bool>()) {
        let mut b = golden_bytes();
        for (i, v) in &flips {
            let i = i.index(b.len());
            b[i] ^= v | 1;
        }
        if repair && header_size(&b) == 12800 {
            fix_header_md5(&mut b);
            for e in [12800usize, 12800 + 512 + 20 * 4096] {
                fix_extent_md5(&mut b, e);
            }
        }
        let t = Instant::now();
        let _ = consume(&b);
        prop_assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn lzo_block_corruption_never_panics(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
        let mut b = std::fs::read(dir.join("golden-lzo1x-999.vma.lzo")).unwrap();
        // Leave the lzop header intact so the block decoder sees the damage.
        for (i, v) in &flips {
            let i = 60 + i.index(b.len() - 60);
            b[i] ^= v | 1;
        }
        let _ = consume_any(&b);
    }
}
