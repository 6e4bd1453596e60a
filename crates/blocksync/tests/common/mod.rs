//! Test helpers: deterministic data, temp targets, and an independent count of differing blocks.
#![allow(dead_code)] // each test binary uses a different subset

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

pub const BS: usize = 4096;

/// splitmix64: deterministic bytes from a seed, no dependency.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn write_file(path: &Path, content: &[u8]) -> File {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .expect("create target");
    f.write_all(content).expect("write target");
    f
}

pub fn read_file(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read back")
}

/// Indexes and total bytes of the blocks where `src` differs from `old` zero-extended/truncated
/// to `src.len()` — computed without the library.
pub fn differing(src: &[u8], old: &[u8]) -> (Vec<u64>, u64) {
    let mut idx = Vec::new();
    let mut bytes = 0;
    for (i, s) in src.chunks(BS).enumerate() {
        let at = i * BS;
        let t: Vec<u8> = (at..at + s.len())
            .map(|p| old.get(p).copied().unwrap_or(0))
            .collect();
        if s != t.as_slice() {
            idx.push(i as u64);
            bytes += s.len() as u64;
        }
    }
    (idx, bytes)
}
