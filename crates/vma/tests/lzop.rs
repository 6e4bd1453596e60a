//! The LZO1X decoder against real `lzop` output of varied data (literal runs,
//! short and far matches, a long zero run, blocks > 256 KiB split by lzop).
//! The input is regenerated here with the same generator that made the
//! fixtures (tests/golden/README.md).

#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    reason = "test code"
)]

use std::io::Read;
use zferry_vma::lzo::LzopReader;

/// Same generator as the Python snippet in tests/golden/README.md.
fn text() -> Vec<u8> {
    let words: [&[u8]; 15] = [
        b"zfs",
        b"snapshot",
        b"vzdump",
        b"qemu",
        b"cluster",
        b"block",
        b"extent",
        b"proxmox",
        b"backup",
        b"restore",
        b"dataset",
        b"\n",
        b"  ",
        b"0x",
        b"4096",
    ];
    let mut x: u64 = 12345;
    let mut out = Vec::new();
    while out.len() < 200_000 {
        x = (x * 1_103_515_245 + 12345) & 0x7fff_ffff;
        out.extend_from_slice(words[((x >> 16) % 15) as usize]);
        if (x >> 8).is_multiple_of(7) {
            out.push((x >> 3) as u8);
        }
        if (x >> 12).is_multiple_of(97) && out.len() > 40_000 {
            let s = out.len() - 30_000;
            out.extend_from_within(s..s + 300);
        }
    }
    out.truncate(200_000);
    let head = out[..50_000].to_vec();
    out.extend(std::iter::repeat_n(0u8, 70_000));
    out.extend(head);
    out
}

#[test]
fn real_lzop_output_decodes() {
    let want = text();
    assert_eq!(want.len(), 320_000);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for name in ["lzo-text.bin.lzo", "lzo-text-999.bin.lzo"] {
        let f = std::fs::File::open(dir.join(name)).unwrap();
        let mut got = Vec::new();
        LzopReader::new(std::io::BufReader::new(f))
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        assert!(got == want, "{name} decodes to different bytes");
    }
}

#[test]
fn damaged_header_checksum_is_refused() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut b = std::fs::read(dir.join("lzo-text.bin.lzo")).unwrap();
    b[20] ^= 0x40; // inside the checksummed header fields
    let e = LzopReader::new(&b[..]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
}

#[test]
fn damaged_block_is_refused() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut b = std::fs::read(dir.join("lzo-text.bin.lzo")).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x55;
    let mut r = LzopReader::new(&b[..]).unwrap();
    let mut out = Vec::new();
    assert!(r.read_to_end(&mut out).is_err());
}
