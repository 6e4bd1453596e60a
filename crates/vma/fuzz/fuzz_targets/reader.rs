//! Arbitrary bytes through the decompressor front end and the VMA reader:
//! must end in `Ok` or an error, never a panic, hang or unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    // Plain reader on the raw bytes.
    if let Ok(mut r) = zferry_vma::VmaReader::new(data) {
        while let Ok(Some(_)) = r.next_cluster() {}
    }
    // Through decompression (zstd/gzip/lzop by magic), capped at 64 MiB.
    if let Ok((_, s)) = zferry_vma::decompress(std::io::Cursor::new(data.to_vec()), None) {
        let mut r = match zferry_vma::VmaReader::new(s.take(64 << 20)) {
            Ok(r) => r,
            Err(_) => return,
        };
        while let Ok(Some(_)) = r.next_cluster() {}
    }
});
