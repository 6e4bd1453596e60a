//! Zero handling, holes, growth and shrink, and error reporting on the host file system.
//! Hole assertions run only where the file system reports holes (SEEK_HOLE); otherwise the test
//! prints that it skipped them.

mod common;

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;

use common::{BS, bytes, read_file, write_file};
use rustix::fs::SeekFrom;
use zferry_blocksync::{Error, Options, holes_supported, sync};

/// Byte ranges that are data according to SEEK_DATA/SEEK_HOLE.
fn data_extents(f: &File) -> Vec<(u64, u64)> {
    let len = f.metadata().expect("stat").len();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < len {
        let Ok(start) = rustix::fs::seek(f, SeekFrom::Data(pos)) else {
            break;
        };
        let end = rustix::fs::seek(f, SeekFrom::Hole(start)).expect("seek hole");
        out.push((start, end));
        pos = end;
    }
    out
}

/// Whether `[from, to)` contains no data extent.
fn is_hole(f: &File, from: u64, to: u64) -> bool {
    data_extents(f).iter().all(|&(s, e)| e <= from || s >= to)
}

/// Holes are meaningful only if the file system really creates one for a punched range.
fn fs_punches_holes(dir: &std::path::Path) -> bool {
    let f = write_file(&dir.join("probe"), &vec![1u8; 64 * BS]);
    let zeros = vec![0u8; 64 * BS];
    let _ = sync(zeros.as_slice(), &f, &Options::default());
    let ok = holes_supported(&f) && is_hole(&f, 0, 64 * BS as u64);
    if !ok {
        println!("NOTE: this file system reports no holes; hole assertions skipped");
    }
    ok
}

#[test]
fn changed_zero_blocks_become_holes_and_st_blocks_drop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t");
    let old = bytes(1, 256 * BS);
    let target = write_file(&path, &old);
    target.sync_all().expect("fsync"); // allocate blocks so st_blocks is meaningful
    let before = target.metadata().expect("stat").blocks();
    // Source: the same data with blocks 16..144 zeroed.
    let mut src = old.clone();
    src[16 * BS..144 * BS].fill(0);
    let r = sync(src.as_slice(), &target, &Options::default()).expect("sync");
    assert_eq!(read_file(&path), src);
    assert_eq!(r.blocks_changed, 128);
    if fs_punches_holes(dir.path()) {
        assert_eq!(r.holes_punched, 128);
        assert_eq!(r.bytes_punched, 128 * 4096);
        assert_eq!(r.bytes_written, 0);
        assert!(
            is_hole(&target, 16 * 4096, 144 * 4096),
            "{:?}",
            data_extents(&target)
        );
        let after = target.metadata().expect("stat").blocks();
        // 128 blocks of 4 KiB = 1024 sectors of 512 bytes freed.
        assert_eq!(
            before - after,
            1024,
            "st_blocks before {before} after {after}"
        );
    } else {
        assert_eq!(r.bytes_written + r.bytes_punched, 128 * 4096);
    }
}

#[test]
fn without_punching_zero_blocks_are_written_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t");
    let target = write_file(&path, &vec![9u8; 8 * BS]);
    let src = vec![0u8; 8 * BS];
    let opts = Options {
        punch_holes: false,
        ..Options::default()
    };
    let r = sync(src.as_slice(), &target, &opts).expect("sync");
    assert_eq!(read_file(&path), src);
    assert_eq!(r.bytes_written, 8 * 4096);
    assert_eq!(r.blocks_zeroed, 8);
    assert_eq!(r.holes_punched, 0);
}

#[test]
fn zero_source_blocks_over_zero_target_blocks_are_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t");
    let mut old = vec![0u8; 10 * BS];
    old[..BS].fill(1);
    let target = write_file(&path, &old);
    let r = sync(vec![0u8; 10 * BS].as_slice(), &target, &Options::default()).expect("sync");
    assert_eq!(r.blocks_skipped_zero, 9);
    assert_eq!(r.blocks_changed, 1);
    assert_eq!(r.bytes_written + r.bytes_punched, 4096);
}

#[test]
fn growth_writes_data_and_leaves_zero_tail_as_hole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t");
    let old = bytes(2, 3 * BS + 100);
    let target = write_file(&path, &old);
    // Grow to 1 MiB + 5: old content kept, one data block at 512 KiB, the rest zeros.
    let mut src = old.clone();
    src.resize((1 << 20) + 5, 0);
    src[128 * BS..129 * BS].copy_from_slice(&bytes(3, BS));
    let r = sync(src.as_slice(), &target, &Options::default()).expect("sync");
    assert_eq!(read_file(&path), src);
    assert_eq!(r.final_size, (1 << 20) + 5);
    assert_eq!(r.initial_size, 3 * 4096 + 100);
    assert_eq!(r.blocks_changed, 1);
    assert_eq!(r.bytes_written, 4096);
    assert_eq!(r.bytes_read_target, 3 * 4096 + 100);
    if fs_punches_holes(dir.path()) {
        assert!(
            is_hole(&target, 8 * 4096, 128 * 4096),
            "{:?}",
            data_extents(&target)
        );
        assert!(
            is_hole(&target, 132 * 4096, 256 * 4096),
            "{:?}",
            data_extents(&target)
        );
    }
}

#[test]
fn shrink_truncates_and_reads_only_what_it_needs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t");
    let old = bytes(4, 100 * BS);
    let target = write_file(&path, &old);
    let src = old[..10 * BS + 7].to_vec();
    let r = sync(src.as_slice(), &target, &Options::default()).expect("sync");
    assert_eq!(read_file(&path), src);
    assert_eq!(r.final_size, 10 * 4096 + 7);
    assert_eq!(r.bytes_written, 0);
    assert_eq!(r.blocks_changed, 0);
}

#[test]
fn shrink_to_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t");
    let target = write_file(&path, &bytes(5, 3 * BS));
    let r = sync(io::empty(), &target, &Options::default()).expect("sync");
    assert_eq!(read_file(&path), Vec::<u8>::new());
    assert_eq!(r.final_size, 0);
}

/// A source that fails after `ok` bytes.
struct Failing {
    ok: usize,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ok == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.ok).min(1000);
        buf[..n].fill(0xab);
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn source_read_error_reports_offset_and_keeps_target_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t");
    let old = bytes(6, 64 * BS);
    let target = write_file(&path, &old);
    let err = sync(Failing { ok: 30_000 }, &target, &Options::default()).expect_err("must fail");
    match err {
        Error::ReadSource { offset, source } => {
            assert_eq!(offset, 30_000);
            assert_eq!(source.to_string(), "disk on fire");
        }
        other => panic!("unexpected error {other}"),
    }
    assert_eq!(
        read_file(&path).len(),
        old.len(),
        "no resize after a failed read"
    );
}

#[test]
fn read_only_target_reports_the_failing_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t");
    drop(write_file(&path, &[1u8; BS]));
    let ro = File::open(&path).expect("open read-only");
    let err = sync([2u8; BS].as_slice(), &ro, &Options::default()).expect_err("must fail");
    assert!(
        matches!(
            err,
            Error::Target {
                op: "pwrite",
                offset: 0,
                ..
            }
        ),
        "got {err}"
    );
}
