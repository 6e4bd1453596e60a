//! The target side: its kind and size, hole punching with a zero-write fallback, final resize.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt};

use rustix::fs::{FallocateFlags, SeekFrom};

use crate::Error;

/// What kind of target this is and how large it was before the sync.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    pub len: u64,
    pub block_device: bool,
}

impl Geometry {
    pub fn probe(target: &File) -> Result<Self, Error> {
        let meta = target.metadata().map_err(Error::target("fstat", 0))?;
        let block_device = meta.file_type().is_block_device();
        let len = if block_device {
            // st_size is 0 for block devices; the end offset is the device size.
            rustix::fs::seek(target, SeekFrom::End(0))
                .map_err(|e| Error::target("seek to end", 0)(e.into()))?
        } else {
            meta.len()
        };
        hint_sequential(target);
        Ok(Geometry { len, block_device })
    }
}

/// Read `buf.len()` bytes at `offset`, but only what lies below `limit` (the size before the
/// sync); the rest of `buf` reads as zeros. Returns the bytes actually read.
pub(crate) fn read_clipped(
    target: &File,
    offset: u64,
    limit: u64,
    buf: &mut [u8],
) -> Result<u64, Error> {
    let avail = usize::try_from(limit.saturating_sub(offset)).unwrap_or(usize::MAX);
    let want = buf.len().min(avail);
    let mut done = 0;
    while done < want {
        match target.read_at(&mut buf[done..want], offset + done as u64) {
            Ok(0) => break, // shrank underneath us: treat the rest as zeros
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::target("pread", offset + done as u64)(e)),
        }
    }
    buf[done..].fill(0);
    Ok(done as u64)
}

pub(crate) fn write_at(target: &File, offset: u64, data: &[u8]) -> Result<(), Error> {
    target
        .write_all_at(data, offset)
        .map_err(Error::target("pwrite", offset))
}

/// Punch a hole over `[offset, offset+len)` keeping the size. `Ok(false)` means the file system
/// or device does not support it (the caller writes zeros instead).
pub(crate) fn punch_hole(target: &File, offset: u64, len: u64) -> Result<bool, Error> {
    let flags = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
    match rustix::fs::fallocate(target, flags, offset, len) {
        Ok(()) => Ok(true),
        Err(e)
            if e == rustix::io::Errno::OPNOTSUPP
                || e == rustix::io::Errno::NOSYS
                || e == rustix::io::Errno::INVAL =>
        {
            Ok(false)
        }
        Err(e) => Err(Error::target("punch hole", offset)(e.into())),
    }
}

/// Whether the file system holding `file` reports holes (`SEEK_HOLE` finds one before the end
/// of a file that has one). Tests use this to decide whether a hole assertion is meaningful.
pub fn holes_supported(file: &File) -> bool {
    rustix::fs::seek(file, SeekFrom::Hole(0)).is_ok()
}

/// Bring the target to `size` bytes (files only; devices keep their size).
pub(crate) fn resize(target: &File, geo: Geometry, size: u64) -> Result<(), Error> {
    if geo.block_device || size == geo.len {
        return Ok(());
    }
    target.set_len(size).map_err(Error::target("set_len", size))
}

/// Tells the kernel `file` is read front to back (a larger readahead window): the source and
/// the target are read side by side, and each stream needs long reads to keep the disk at its
/// sequential speed. Only a hint; failure changes nothing.
pub fn hint_sequential(file: &File) {
    let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::Sequential);
}
