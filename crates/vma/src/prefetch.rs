//! [`PrefetchReader`]: a [`VmaReader`] on its own thread, handing whole validated extents to
//! the caller's thread by moving their buffers, never copying them.
//!
//! Why: an ingest has two kinds of work per byte, decompressing the archive and comparing
//! it with yesterday's image. With the reader on the comparing thread, the decompressed bytes
//! crossed threads through a pipe-like buffer and were copied once more into the extent
//! buffer (a fifth of the ingest's CPU time on a 1 GiB profile). Here the decompressor
//! writes straight into the extent buffer the comparing thread then reads from.
//!
//! Every check of [`VmaReader`] runs unchanged, on the reading thread; errors arrive in stream
//! order after the clusters before them, with the same offsets. The end of the stream is an
//! explicit message, so a reading thread that stops without one (a panic) is an error, never
//! a clean end.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::error::VmaError;
use crate::header::Header;
use crate::reader::{Cluster, ClusterSource, Extent, Slot, VmaReader, cluster};

/// Extents read ahead (at most 3.7 MiB each).
const DEPTH: usize = 3;

enum Msg {
    Header(Header, u64),
    Extent(Extent),
    Failed(VmaError),
    End,
}

/// Reads a VMA stream on a background thread; see the module docs.
#[derive(Debug)]
pub struct PrefetchReader {
    header: Header,
    rx: Receiver<Msg>,
    /// Buffers handed back to the thread for reuse.
    free: SyncSender<(Vec<u8>, Vec<Slot>)>,
    current: Extent,
    next_slot: usize,
    position: u64,
    done: bool,
}

fn pump<R: Read>(inner: R, tx: &SyncSender<Msg>, free: &Receiver<(Vec<u8>, Vec<Slot>)>) {
    let mut reader = match VmaReader::new(inner) {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(Msg::Failed(e));
            return;
        }
    };
    let header = reader.header().clone();
    if tx.send(Msg::Header(header, reader.position())).is_err() {
        return; // the caller is gone
    }
    loop {
        let (buf, slots) = free.try_recv().unwrap_or_default();
        let msg = match reader.take_extent(buf, slots) {
            Ok(Some(extent)) => Msg::Extent(extent),
            Ok(None) => Msg::End,
            Err(e) => Msg::Failed(e),
        };
        let last = !matches!(msg, Msg::Extent(_));
        if tx.send(msg).is_err() || last {
            return;
        }
    }
}

fn thread_gone(offset: u64) -> VmaError {
    VmaError::Io {
        offset,
        source: io::Error::other("the VMA reading thread stopped before the end of the stream"),
    }
}

impl PrefetchReader {
    /// Starts the reading thread and waits for the validated header.
    pub fn spawn<R: Read + Send + 'static>(inner: R) -> Result<Self, VmaError> {
        let (tx, rx) = sync_channel(DEPTH);
        let (free, free_rx) = sync_channel(DEPTH + 2);
        // Detached: it ends at the end of the stream, on an error, or at its next send after
        // the reader is dropped (never joined, so a drop cannot wait on a blocked read).
        std::thread::Builder::new()
            .name("zferry-vma-read".into())
            .spawn(move || pump(inner, &tx, &free_rx))
            .map_err(|e| VmaError::Io {
                offset: 0,
                source: e,
            })?;
        match rx.recv() {
            Ok(Msg::Header(header, position)) => Ok(Self {
                header,
                rx,
                free,
                current: Extent::default(),
                next_slot: 0,
                position,
                done: false,
            }),
            Ok(Msg::Failed(e)) => Err(e),
            Ok(Msg::Extent(_) | Msg::End) | Err(_) => Err(thread_gone(0)),
        }
    }

    /// The validated header (uuid, ctime, configs, devices).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Bytes of the VMA stream handed out so far (up to the end of the current extent).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// As [`VmaReader::next_cluster`]: the next cluster, or `None` once the stream has ended
    /// and every cluster of every device has been seen exactly once.
    pub fn next_cluster(&mut self) -> Result<Option<Cluster<'_>>, VmaError> {
        while self.next_slot >= self.current.slots.len() {
            if self.done {
                return Ok(None);
            }
            match self.rx.recv() {
                Ok(Msg::Extent(extent)) => {
                    self.position = extent.end;
                    let old = std::mem::replace(&mut self.current, extent);
                    // Full, or the thread is gone: the buffer is just dropped.
                    let _ = self.free.try_send((old.buf, old.slots));
                    self.next_slot = 0;
                }
                Ok(Msg::End) => self.done = true,
                Ok(Msg::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Ok(Msg::Header(..)) | Err(_) => {
                    self.done = true;
                    return Err(thread_gone(self.position));
                }
            }
        }
        let slot = self.current.slots[self.next_slot];
        self.next_slot += 1;
        Ok(Some(cluster(&slot, &self.current.buf)))
    }
}

impl ClusterSource for PrefetchReader {
    fn header(&self) -> &Header {
        PrefetchReader::header(self)
    }
    fn next_cluster(&mut self) -> Result<Option<Cluster<'_>>, VmaError> {
        PrefetchReader::next_cluster(self)
    }
    fn position(&self) -> u64 {
        PrefetchReader::position(self)
    }
}
