//! Block-at-a-time input for producers that deliver blocks out of order (the VMA ingest streams
//! clusters by device and cluster number). Contiguous puts are gathered into a run and applied
//! with one target read and coalesced writes, so the per-block API costs no per-block syscalls.

use std::fs::File;
use std::time::Instant;

use zferry_progress::Meter;

use crate::apply::Applier;
use crate::{BLOCK_SIZE, BLOCK_SIZE_U64, Error, Options, Report};

/// Receives 4 KiB blocks by index for a target of a declared size; see [`BlockSink::put`].
#[derive(Debug)]
pub struct BlockSink<'a> {
    applier: Applier<'a>,
    size: u64,
    max_run: usize,
    /// First block index of the pending run, and its source bytes (zero blocks as zeros).
    run_start: u64,
    run: Vec<u8>,
    tgt: Vec<u8>,
    started: Instant,
}

impl<'a> BlockSink<'a> {
    /// A sink that makes `target` equal an image of `size` bytes. The target is resized to
    /// `size` by [`BlockSink::finish`]; blocks never put keep their current content.
    pub fn new(target: &'a File, size: u64, opts: &Options) -> Result<Self, Error> {
        let applier = Applier::new(target, opts)?;
        applier.check_fits(size)?;
        let max_run = opts.chunk_size.get().min(1 << 20);
        Ok(BlockSink {
            applier,
            size,
            max_run,
            run_start: 0,
            run: Vec::with_capacity(max_run),
            tgt: vec![0; max_run],
            started: Instant::now(),
        })
    }

    /// Also counts compared and written bytes into `meter` (once per applied run).
    #[must_use]
    pub fn with_meter(mut self, meter: &'a Meter) -> Self {
        self.applier.meter = Some(meter);
        self
    }

    /// The block at `block_index` (byte offset `block_index × 4096`) must hold `data`, or zeros
    /// when `data` is `None`. `data` is 4096 bytes, or exactly the remainder for the last block
    /// of a size that is not a multiple of 4096. Blocks may come in any order; a block put twice
    /// ends with the later content.
    pub fn put(&mut self, block_index: u64, data: Option<&[u8]>) -> Result<(), Error> {
        let offset = block_index
            .checked_mul(BLOCK_SIZE_U64)
            .filter(|&o| o < self.size)
            .ok_or(Error::BlockBeyondSize {
                block_index,
                size: self.size,
            })?;
        let expected =
            usize::try_from(self.size - offset).map_or(BLOCK_SIZE, |r| r.min(BLOCK_SIZE));
        if let Some(d) = data
            && d.len() != expected
        {
            return Err(Error::BadBlockLength {
                block_index,
                got: d.len(),
                expected,
            });
        }
        let next = self.run_start + (self.run.len() / BLOCK_SIZE) as u64;
        let contiguous = !self.run.is_empty() && block_index == next;
        if !contiguous || self.run.len() + expected > self.max_run {
            self.flush()?;
            self.run_start = block_index;
        }
        match data {
            Some(d) => self.run.extend_from_slice(d),
            None => self.run.resize(self.run.len() + expected, 0),
        }
        self.applier.report.bytes_read_source += expected as u64;
        Ok(())
    }

    /// [`BlockSink::put`] for `data.len() / 4096` consecutive blocks from `first_block`,
    /// compared straight from `data` instead of being copied into the pending run (a whole
    /// VMA cluster: one copy of the disk's bytes less per ingest). `data` is a whole number of
    /// blocks, or ends exactly at the declared size.
    pub fn put_blocks(&mut self, first_block: u64, data: &[u8]) -> Result<(), Error> {
        let offset = first_block
            .checked_mul(BLOCK_SIZE_U64)
            .filter(|&o| o < self.size)
            .ok_or(Error::BlockBeyondSize {
                block_index: first_block,
                size: self.size,
            })?;
        let end = offset + data.len() as u64;
        let whole_blocks = data.len().is_multiple_of(BLOCK_SIZE) || end == self.size;
        if data.len() > self.tgt.len() || end > self.size || !whole_blocks {
            // Longer than a run, or a shape `put` checks block by block.
            for (i, block) in data.chunks(BLOCK_SIZE).enumerate() {
                self.put(first_block + i as u64, Some(block))?;
            }
            return Ok(());
        }
        // Later puts win: what is pending goes first.
        self.flush()?;
        let tgt = &mut self.tgt[..data.len()];
        self.applier.read_target(offset, tgt)?;
        self.applier.apply(offset, data, tgt)?;
        self.applier.report.bytes_read_source += data.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        if self.run.is_empty() {
            return Ok(());
        }
        let offset = self.run_start * BLOCK_SIZE_U64;
        let tgt = &mut self.tgt[..self.run.len()];
        self.applier.read_target(offset, tgt)?;
        self.applier.apply(offset, &self.run, tgt)?;
        self.run.clear();
        Ok(())
    }

    /// Apply what is pending, resize the target to the declared size, and report.
    pub fn finish(mut self) -> Result<Report, Error> {
        self.flush()?;
        self.applier.finish(self.size, self.started)
    }
}
