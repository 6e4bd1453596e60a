//! The compare-and-apply core shared by [`crate::sync`] and [`crate::BlockSink`]: given a source
//! range and the target's current bytes for it, find the differing 4 KiB blocks and apply them
//! with as few syscalls as possible (adjacent changed blocks coalesce into one write or punch).

use std::fs::File;

use zferry_progress::Meter;

use crate::punch::Puncher;
use crate::target::{self, Geometry};
use crate::{BLOCK_SIZE, Error, Options, Report};

static ZERO_BLOCK: [u8; BLOCK_SIZE] = [0; BLOCK_SIZE];

fn is_zero(block: &[u8]) -> bool {
    block == &ZERO_BLOCK[..block.len()]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Data,
    Zero,
}

/// Applies changed ranges to one target and keeps the counters.
#[derive(Debug)]
pub(crate) struct Applier<'a> {
    target: &'a File,
    pub geo: Geometry,
    punch_holes: bool,
    dry_run: bool,
    /// Takes the zero runs when punching (not in a dry run).
    puncher: Option<Puncher>,
    pub report: Report,
    /// Where compared and written bytes are also counted (per applied range).
    pub meter: Option<&'a Meter>,
}

impl<'a> Applier<'a> {
    pub fn new(target: &'a File, opts: &Options) -> Result<Self, Error> {
        let geo = Geometry::probe(target)?;
        let puncher = if opts.punch_holes && !opts.dry_run {
            Some(Puncher::spawn(target)?)
        } else {
            None
        };
        Ok(Applier {
            target,
            geo,
            punch_holes: opts.punch_holes,
            dry_run: opts.dry_run,
            puncher,
            report: Report {
                initial_size: geo.len,
                dry_run: opts.dry_run,
                changed_blocks: opts.record_changed.then(Vec::new),
                ..Report::default()
            },
            meter: None,
        })
    }

    /// Read the target's current bytes for `[offset, offset+buf.len())` into `buf`.
    pub fn read_target(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        if let Some(p) = &mut self.puncher {
            p.settle_before_read(offset, buf.len() as u64)?;
        }
        self.report.bytes_read_target +=
            target::read_clipped(self.target, offset, self.geo.len, buf)?;
        Ok(())
    }

    /// Check a source range against the device size (files grow, devices cannot).
    pub fn check_fits(&self, end: u64) -> Result<(), Error> {
        if self.geo.block_device && end > self.geo.len {
            return Err(Error::TargetTooSmall {
                device_size: self.geo.len,
                needed: end,
            });
        }
        Ok(())
    }

    /// Compare `src` with `tgt` (same length, `offset` block-aligned) and apply the differences.
    pub fn apply(&mut self, offset: u64, src: &[u8], tgt: &[u8]) -> Result<(), Error> {
        debug_assert_eq!(src.len(), tgt.len());
        debug_assert!(offset.is_multiple_of(crate::BLOCK_SIZE_U64));
        self.report.bytes_compared += src.len() as u64;
        if let Some(m) = self.meter {
            m.add_compared(src.len() as u64);
        }
        let first_block = offset / crate::BLOCK_SIZE_U64;
        // The open run of changed blocks: (kind, start byte, end byte) within `src`.
        let mut run: Option<(Kind, usize, usize)> = None;
        for (i, (s, t)) in src
            .chunks(BLOCK_SIZE)
            .zip(tgt.chunks(BLOCK_SIZE))
            .enumerate()
        {
            let at = i * BLOCK_SIZE;
            if s == t {
                if is_zero(s) {
                    self.report.blocks_skipped_zero += 1;
                }
                if let Some(r) = run.take() {
                    self.flush(offset, src, r)?;
                }
                continue;
            }
            self.report.blocks_changed += 1;
            if let Some(list) = &mut self.report.changed_blocks {
                list.push(first_block + i as u64);
            }
            let kind = if is_zero(s) { Kind::Zero } else { Kind::Data };
            run = match run {
                Some((k, start, end)) if k == kind && end == at => Some((k, start, at + s.len())),
                Some(r) => {
                    self.flush(offset, src, r)?;
                    Some((kind, at, at + s.len()))
                }
                None => Some((kind, at, at + s.len())),
            };
        }
        if let Some(r) = run {
            self.flush(offset, src, r)?;
        }
        Ok(())
    }

    fn flush(
        &mut self,
        base: u64,
        src: &[u8],
        (kind, start, end): (Kind, usize, usize),
    ) -> Result<(), Error> {
        let offset = base + start as u64;
        let len = (end - start) as u64;
        let blocks = len.div_ceil(crate::BLOCK_SIZE_U64);
        if kind == Kind::Zero && self.punch_holes {
            // Counted when the worker reports (it may have to write zeros instead).
            if let Some(p) = &mut self.puncher {
                return p.punch(offset, len);
            }
            self.report.holes_punched += blocks;
            self.report.bytes_punched += len;
            return Ok(());
        }
        if kind == Kind::Zero {
            self.report.blocks_zeroed += blocks;
        }
        if !self.dry_run {
            // Without hole punching a zero run is written as the zeros it is.
            target::write_at(self.target, offset, &src[start..end])?;
        }
        self.report.bytes_written += len;
        if let Some(m) = self.meter {
            m.add_written(len);
        }
        Ok(())
    }

    /// Resize the target to `size` and close the report.
    pub fn finish(mut self, size: u64, started: std::time::Instant) -> Result<Report, Error> {
        if let Some(p) = self.puncher.take() {
            let done = p.finish()?;
            self.report.holes_punched += done.holes_punched;
            self.report.bytes_punched += done.bytes_punched;
            self.report.blocks_zeroed += done.blocks_zeroed;
            self.report.bytes_written += done.bytes_zero_written;
            if let Some(m) = self.meter {
                m.add_written(done.bytes_zero_written);
            }
        }
        if !self.dry_run {
            target::resize(self.target, self.geo, size)?;
        }
        if self.geo.block_device && size < self.geo.len {
            self.report.target_tail_untouched = self.geo.len - size;
            tracing::warn!(
                untouched = self.report.target_tail_untouched,
                "source is smaller than the target device; the device tail is left as it was"
            );
        }
        self.report.final_size = size;
        self.report.duration = started.elapsed();
        Ok(self.report)
    }
}
