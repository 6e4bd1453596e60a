//! The pipelined stream sync: one thread reads the source ahead in chunks, the calling thread
//! reads the matching target range with one pread per chunk (or takes it from `parallelism − 1`
//! prefetch threads), compares per 4 KiB block and applies. Buffers circulate through bounded
//! channels, so memory stays at `parallelism × DEPTH × chunk_size` and the source read never
//! waits for the compare or the target read.

use std::fs::File;
use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use zferry_progress::Meter;

use crate::apply::Applier;
use crate::{Error, Options, Report};

/// Chunks in flight per stream (source and each target reader): slack for a reader or comparer
/// that the scheduler holds back on a busy host; 8 × 256 KiB = 2 MiB.
const DEPTH: usize = 8;

/// A filled buffer and how many of its bytes are valid.
type Filled = Result<(Vec<u8>, usize), Error>;

/// Bring `target` to equal the bytes of `source`, writing only the 4 KiB blocks that differ.
///
/// The target is a regular file (grown or truncated to the source size at the end) or a block
/// device (must be at least the source size; a longer device keeps its tail). The source is read
/// to its end exactly once.
///
/// Not atomic: after an error the target holds a mix of old and new blocks and keeps its old
/// size. Callers that need all-or-nothing wrap the sync in a snapshot and roll back (the ingest
/// does, on ZFS).
pub fn sync<R: Read + Send>(source: R, target: &File, opts: &Options) -> Result<Report, Error> {
    sync_metered(source, target, opts, None)
}

/// [`sync`], also counting compared and written bytes into `meter` (once per chunk). To count
/// the source bytes read, wrap `source` in a [`zferry_progress::CountingReader`].
pub fn sync_metered<R: Read + Send>(
    source: R,
    target: &File,
    opts: &Options,
    meter: Option<&Meter>,
) -> Result<Report, Error> {
    let started = Instant::now();
    let mut applier = Applier::new(target, opts)?;
    applier.meter = meter;
    let chunk = opts.chunk_size.get();
    // One I/O thread reads the source; the others prefetch the target. With none left over, the
    // comparer reads the target itself, right before comparing (best when data is cached).
    let readers = opts.parallelism.get() - 1;
    let target_len = applier.geo.len;
    let target_chunks = target_len.div_ceil(chunk as u64);

    std::thread::scope(|scope| {
        let (src_free_tx, src_free_rx) = sync_channel::<Vec<u8>>(DEPTH);
        let (src_full_tx, src_full_rx) = sync_channel::<Filled>(DEPTH);
        prime(&src_free_tx, chunk);
        scope.spawn(move || read_source(source, &src_free_rx, &src_full_tx));

        let mut tgt = Vec::with_capacity(readers);
        for first in 0..readers {
            let (free_tx, free_rx) = sync_channel::<Vec<u8>>(DEPTH);
            let (full_tx, full_rx) = sync_channel::<Filled>(DEPTH);
            prime(&free_tx, chunk);
            let stride = readers as u64;
            scope.spawn(move || {
                let mut index = first as u64;
                while index < target_chunks {
                    let Ok(mut buf) = free_rx.recv() else { return };
                    let offset = index * chunk as u64;
                    let read = crate::target::read_clipped(target, offset, target_len, &mut buf)
                        .map(|n| (buf, usize::try_from(n).unwrap_or(usize::MAX)));
                    if full_tx.send(read).is_err() {
                        return;
                    }
                    index += stride;
                }
            });
            tgt.push((free_tx, full_rx));
        }

        let result = compare_loop(
            &mut applier,
            chunk,
            target_chunks,
            &src_free_tx,
            &src_full_rx,
            &tgt,
        );
        // Dropping our channel ends releases every worker blocked on send or recv.
        drop(tgt);
        drop(src_full_rx);
        drop(src_free_tx);
        result
    })
    .and_then(|size| applier.finish(size, started))
}

fn prime(free: &SyncSender<Vec<u8>>, chunk: usize) {
    for _ in 0..DEPTH {
        // Cannot fail: the channel holds DEPTH and the receiver is still ours.
        let _ = free.send(vec![0; chunk]);
    }
}

type TargetStream = (SyncSender<Vec<u8>>, Receiver<Filled>);

/// Pair each source chunk with its target chunk, apply, recycle both buffers. Returns the size.
fn compare_loop(
    applier: &mut Applier<'_>,
    chunk: usize,
    target_chunks: u64,
    src_free: &SyncSender<Vec<u8>>,
    src_full: &Receiver<Filled>,
    tgt: &[TargetStream],
) -> Result<u64, Error> {
    let mut zeros: Vec<u8> = Vec::new();
    let mut inline: Vec<u8> = Vec::new();
    let mut offset = 0u64;
    let mut index = 0u64;
    loop {
        let Ok(filled) = src_full.recv() else {
            return Err(Error::WorkerPanicked);
        };
        let (src, len) = filled?;
        applier.report.bytes_read_source += len as u64;
        if len > 0 {
            applier.check_fits(offset + len as u64)?;
            if index < target_chunks && tgt.is_empty() {
                if inline.len() < chunk {
                    inline = vec![0; chunk];
                }
                applier.read_target(offset, &mut inline[..len])?;
                applier.apply(offset, &src[..len], &inline[..len])?;
            } else if index < target_chunks {
                let (free, full) = &tgt[usize::try_from(index % tgt.len() as u64).unwrap_or(0)];
                let Ok(filled) = full.recv() else {
                    return Err(Error::WorkerPanicked);
                };
                let (t, read) = filled?;
                applier.report.bytes_read_target += read as u64;
                applier.apply(offset, &src[..len], &t[..len])?;
                let _ = free.send(t);
            } else {
                // Past the old end: the target reads as zeros there (holes after the resize).
                if zeros.len() < len {
                    zeros = vec![0; chunk];
                }
                applier.apply(offset, &src[..len], &zeros[..len])?;
            }
        }
        offset += len as u64;
        index += 1;
        let short = len < chunk;
        let _ = src_free.send(src);
        if short {
            return Ok(offset);
        }
    }
}

/// The source reader thread: fill each free buffer completely (or to end of stream) and pass it on.
fn read_source<R: Read>(mut source: R, free: &Receiver<Vec<u8>>, full: &SyncSender<Filled>) {
    let mut offset = 0u64;
    while let Ok(mut buf) = free.recv() {
        let mut len = 0;
        let mut failed = None;
        while len < buf.len() {
            match source.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(Error::ReadSource {
                        offset: offset + len as u64,
                        source: e,
                    });
                    break;
                }
            }
        }
        offset += len as u64;
        let eof = len < buf.len();
        let msg = match failed {
            Some(e) => Err(e),
            None => Ok((buf, len)),
        };
        let stop = msg.is_err() || eof;
        if full.send(msg).is_err() || stop {
            return;
        }
    }
}
