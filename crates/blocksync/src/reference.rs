//! A deliberately simple sync used as the yardstick for the fast paths: one 4 KiB read from the
//! source, one 4 KiB pread from the target, compare, then one pwrite or one hole punch — per
//! block, no threads, no coalescing. Correct by inspection, slow by design.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::time::Instant;

use crate::target::{self, Geometry};
use crate::{BLOCK_SIZE, BLOCK_SIZE_U64, Error, Options, Report};

/// Same contract and same [`Report`] counters as [`crate::sync`] (only the syscall pattern differs).
pub fn sync_naive<R: Read>(mut source: R, target: &File, opts: &Options) -> Result<Report, Error> {
    let started = Instant::now();
    let geo = Geometry::probe(target)?;
    let mut report = Report {
        initial_size: geo.len,
        dry_run: opts.dry_run,
        changed_blocks: opts.record_changed.then(Vec::new),
        ..Report::default()
    };
    let mut punch_ok = true;
    let mut offset = 0u64;
    loop {
        let mut s = [0u8; BLOCK_SIZE];
        let n = fill(&mut source, &mut s).map_err(|e| Error::ReadSource { offset, source: e })?;
        if n == 0 {
            break;
        }
        report.bytes_read_source += n as u64;
        report.bytes_compared += n as u64;
        if geo.block_device && offset + n as u64 > geo.len {
            return Err(Error::TargetTooSmall {
                device_size: geo.len,
                needed: offset + n as u64,
            });
        }
        let mut t = [0u8; BLOCK_SIZE];
        if offset < geo.len {
            let want = usize::try_from(geo.len - offset).map_or(n, |r| r.min(n));
            let got = target
                .read_at(&mut t[..want], offset)
                .map_err(Error::target("pread", offset))?;
            report.bytes_read_target += got as u64;
        }
        let zero = s[..n].iter().all(|&b| b == 0);
        if s[..n] == t[..n] {
            if zero {
                report.blocks_skipped_zero += 1;
            }
        } else {
            report.blocks_changed += 1;
            if let Some(list) = &mut report.changed_blocks {
                list.push(offset / BLOCK_SIZE_U64);
            }
            let mut punched = false;
            if zero && opts.punch_holes && punch_ok {
                punched = opts.dry_run || target::punch_hole(target, offset, n as u64)?;
                punch_ok = punched;
            }
            if punched {
                report.holes_punched += 1;
                report.bytes_punched += n as u64;
            } else {
                if zero {
                    report.blocks_zeroed += 1;
                }
                if !opts.dry_run {
                    target::write_at(target, offset, &s[..n])?;
                }
                report.bytes_written += n as u64;
            }
        }
        offset += n as u64;
        if n < BLOCK_SIZE {
            break;
        }
    }
    if !opts.dry_run {
        target::resize(target, geo, offset)?;
    }
    if geo.block_device && offset < geo.len {
        report.target_tail_untouched = geo.len - offset;
    }
    report.final_size = offset;
    report.duration = started.elapsed();
    Ok(report)
}

fn fill<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
