//! Streaming VMA reader: validates the header on construction, then hands out
//! one cluster at a time, borrowed from a single reusable extent buffer
//! (at most `MAX_EXTENT_SIZE` bytes), so whole images are never buffered.
//!
//! An extent is checked completely (magic, MD5, uuid, block count, every
//! blockinfo: device, range, duplicates) before any of its clusters is
//! returned; at end of stream every cluster of every device must have been
//! seen exactly once.

use crate::clusters::ClusterSet;
use crate::error::VmaError;
use crate::format::{
    BLOCK_SIZE, BLOCKINFO_OFFSET, BLOCKS_PER_CLUSTER, BlockInfo, CLUSTER_SIZE, CLUSTERS_PER_EXTENT,
    EXTENT_HEADER_SIZE, EXTENT_MAGIC, EXTENT_MD5_OFFSET, FIXED_HEADER_SIZE, MAX_EXTENT_BLOCKS,
    MAX_EXTENT_SIZE, RawExtentHeader, md5_with_zeroed_field,
};
use crate::header::{DevId, Header, header_size_of, parse_header};
use std::io::{ErrorKind, Read};
use zerocopy::FromBytes;

/// One cluster of one device, as stored in the archive.
#[derive(Debug, Clone, Copy)]
pub struct Cluster<'a> {
    pub dev_id: DevId,
    pub cluster_num: u32,
    /// Bit `i` set: block `i` is stored in `data`; clear: block `i` is zero.
    pub mask: u16,
    /// The stored blocks, `popcount(mask) × 4096` bytes, in block order.
    data: &'a [u8],
    /// Bytes of the device this cluster covers (64 KiB except for the last).
    len: usize,
    /// Offset in the VMA stream of this cluster's blockinfo word.
    pub offset: u64,
}

impl<'a> Cluster<'a> {
    /// Byte offset of this cluster in its device.
    pub fn device_offset(&self) -> u64 {
        u64::from(self.cluster_num) * CLUSTER_SIZE as u64
    }

    /// Bytes of the device covered: 65536, or less for a device's last cluster.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: a cluster always covers at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of 4 KiB blocks (the last may be partial) inside the device.
    pub fn block_count(&self) -> usize {
        self.len.div_ceil(BLOCK_SIZE)
    }

    /// Block `i`: `Some(bytes)` if stored (cut to the device end), `None` if
    /// it is a zero block. Panics if `i >= block_count()`.
    pub fn block(&self, i: usize) -> Option<&'a [u8]> {
        assert!(i < self.block_count(), "block {i} outside cluster");
        if self.mask & (1 << i) == 0 {
            return None;
        }
        let idx = (self.mask & ((1u16 << i) - 1)).count_ones() as usize;
        let start = idx * BLOCK_SIZE;
        let want = (self.len - i * BLOCK_SIZE).min(BLOCK_SIZE);
        Some(&self.data[start..start + want])
    }

    /// The cluster's bytes as one slice when every block is stored and the cluster is whole
    /// (64 KiB), the common case for a used disk; `None` otherwise (then use [`Self::block`]).
    /// Lets a consumer compare the data where the reader holds it, without a copy.
    pub fn whole(&self) -> Option<&'a [u8]> {
        (self.mask == u16::MAX && self.len == CLUSTER_SIZE).then_some(self.data)
    }

    /// All blocks inside the device, in order, with their byte offset within
    /// the device.
    pub fn blocks(&self) -> impl Iterator<Item = (u64, Option<&'a [u8]>)> + '_ {
        let base = self.device_offset();
        (0..self.block_count()).map(move |i| (base + (i * BLOCK_SIZE) as u64, self.block(i)))
    }

    /// True if every block is zero.
    pub fn is_zero(&self) -> bool {
        self.mask == 0
    }
}

/// Validated blockinfo of the current extent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    dev_id: DevId,
    cluster_num: u32,
    mask: u16,
    len: usize,
    data_start: usize,
    offset: u64,
}

/// Streaming reader over an uncompressed VMA stream.
#[derive(Debug)]
pub struct VmaReader<R> {
    inner: R,
    offset: u64,
    header: Header,
    /// Indexed by dev id; `None` for undeclared ids.
    seen: Vec<Option<ClusterSet>>,
    sizes: [u64; 256],
    buf: Vec<u8>,
    slots: Vec<Slot>,
    next_slot: usize,
    finished: bool,
}

impl<R: Read> VmaReader<R> {
    /// Reads and validates the header. Nothing beyond the header is read.
    pub fn new(mut inner: R) -> Result<Self, VmaError> {
        let mut fixed = vec![0u8; FIXED_HEADER_SIZE];
        let got = read_full(&mut inner, &mut fixed, 0)?;
        if got < 60 {
            // Not enough for the size fields: report magic first if we can.
            if got >= 4 && fixed[..4] != crate::format::VMA_MAGIC {
                header_size_of(&fixed)?;
            }
            return Err(VmaError::Truncated {
                offset: got as u64,
                start: 0,
                what: "VMA header",
            });
        }
        let header_size = header_size_of(&fixed)?;
        if got < FIXED_HEADER_SIZE {
            return Err(VmaError::Truncated {
                offset: got as u64,
                start: 0,
                what: "VMA header",
            });
        }
        fixed.resize(header_size, 0);
        let got = read_full(
            &mut inner,
            &mut fixed[FIXED_HEADER_SIZE..],
            FIXED_HEADER_SIZE as u64,
        )?;
        if FIXED_HEADER_SIZE + got < header_size {
            return Err(VmaError::Truncated {
                offset: (FIXED_HEADER_SIZE + got) as u64,
                start: 0,
                what: "VMA header (blob buffer)",
            });
        }
        let header = parse_header(&fixed)?;
        let mut seen: Vec<Option<ClusterSet>> = std::iter::repeat_with(|| None).take(256).collect();
        let mut sizes = [0u64; 256];
        for d in &header.devices {
            seen[usize::from(d.id.get())] = Some(ClusterSet::new(d.clusters()));
            sizes[usize::from(d.id.get())] = d.size;
        }
        tracing::debug!(uuid = %header.uuid, devices = header.devices.len(), configs = header.configs.len(), "VMA header ok");
        Ok(Self {
            inner,
            offset: header_size as u64,
            header,
            seen,
            sizes,
            buf: Vec::new(),
            slots: Vec::with_capacity(CLUSTERS_PER_EXTENT),
            next_slot: 0,
            finished: false,
        })
    }

    /// The validated header (uuid, ctime, configs, devices).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Bytes of the VMA stream consumed so far.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// The next cluster, or `None` once the stream has ended and every
    /// cluster of every device has been seen exactly once.
    pub fn next_cluster(&mut self) -> Result<Option<Cluster<'_>>, VmaError> {
        while self.next_slot >= self.slots.len() {
            if self.finished {
                return Ok(None);
            }
            if !self.load_extent()? {
                self.finished = true;
                self.check_complete()?;
                return Ok(None);
            }
        }
        let s = self.slots[self.next_slot];
        self.next_slot += 1;
        Ok(Some(cluster(&s, &self.buf)))
    }

    /// The next extent, validated, moved out of the reader with its buffer; `None` once the
    /// stream has ended complete. `buf` and `slots` are recycled from an earlier extent: a
    /// buffer's length only grows, so a reused one is never zero-filled again.
    pub(crate) fn take_extent(
        &mut self,
        buf: Vec<u8>,
        slots: Vec<Slot>,
    ) -> Result<Option<Extent>, VmaError> {
        self.buf = buf;
        self.slots = slots;
        if self.finished || !self.load_extent()? {
            self.finished = true;
            self.check_complete()?;
            return Ok(None);
        }
        Ok(Some(Extent {
            buf: std::mem::take(&mut self.buf),
            slots: std::mem::take(&mut self.slots),
            end: self.offset,
        }))
    }

    /// Reads everything, running all checks; returns the inner reader.
    pub fn verify_to_end(mut self) -> Result<R, VmaError> {
        while self.next_cluster()?.is_some() {}
        Ok(self.inner)
    }

    fn check_complete(&self) -> Result<(), VmaError> {
        for d in &self.header.devices {
            if let Some(Some(set)) = self.seen.get(usize::from(d.id.get()))
                && let Some(c) = set.first_missing()
            {
                return Err(VmaError::MissingCluster {
                    offset: self.offset,
                    dev_id: d.id.get(),
                    cluster: c as u32,
                });
            }
        }
        Ok(())
    }

    /// Reads and validates one extent; false at a clean end of stream.
    fn load_extent(&mut self) -> Result<bool, VmaError> {
        let start = self.offset;
        self.slots.clear();
        self.next_slot = 0;
        // The buffer only grows (to at most one extent): shrinking and regrowing it would
        // zero-fill every extent's data, one extra memory pass over the whole archive.
        if self.buf.len() < EXTENT_HEADER_SIZE {
            self.buf.resize(EXTENT_HEADER_SIZE, 0);
        }
        let got = read_full(&mut self.inner, &mut self.buf[..EXTENT_HEADER_SIZE], start)?;
        if got == 0 {
            return Ok(false);
        }
        if got < EXTENT_HEADER_SIZE {
            return Err(VmaError::Truncated {
                offset: start + got as u64,
                start,
                what: "extent header",
            });
        }
        self.offset += EXTENT_HEADER_SIZE as u64;
        let (h, _) =
            RawExtentHeader::ref_from_prefix(&self.buf[..]).map_err(|_| VmaError::Truncated {
                offset: start,
                start,
                what: "extent header",
            })?;
        if h.magic != EXTENT_MAGIC {
            return Err(VmaError::BadExtentMagic {
                offset: start,
                found: h.magic,
            });
        }
        if md5_with_zeroed_field(&self.buf[..EXTENT_HEADER_SIZE], EXTENT_MD5_OFFSET) != h.md5sum {
            return Err(VmaError::BadExtentChecksum {
                offset: start + EXTENT_MD5_OFFSET as u64,
            });
        }
        if h.uuid != *self.header.uuid.as_bytes() {
            return Err(VmaError::ExtentUuidMismatch { offset: start + 8 });
        }
        if h.reserved1.get() != 0 {
            return Err(VmaError::ExtentReserved {
                offset: start + 4,
                value: h.reserved1.get(),
            });
        }
        let declared = h.block_count.get();
        let mut counted = 0usize;
        let mut slots = std::mem::take(&mut self.slots);
        for (i, raw) in h.blockinfo.iter().enumerate() {
            let at = start + (BLOCKINFO_OFFSET + 8 * i) as u64;
            if let Some(slot) =
                check_blockinfo(&mut self.seen, &self.sizes, raw.get(), at, counted)?
            {
                counted += slot.mask.count_ones() as usize;
                slots.push(slot);
            }
        }
        self.slots = slots;
        if usize::from(declared) != counted || counted > MAX_EXTENT_BLOCKS {
            return Err(VmaError::BadBlockCount {
                offset: start + 6,
                declared,
                counted,
            });
        }
        let total = EXTENT_HEADER_SIZE + counted * BLOCK_SIZE;
        debug_assert!(total <= MAX_EXTENT_SIZE);
        if self.buf.len() < total {
            self.buf.resize(total, 0);
        }
        let data_start = self.offset;
        let got = read_full(
            &mut self.inner,
            &mut self.buf[EXTENT_HEADER_SIZE..total],
            data_start,
        )?;
        if got < total - EXTENT_HEADER_SIZE {
            return Err(VmaError::Truncated {
                offset: data_start + got as u64,
                start: data_start,
                what: "extent block data",
            });
        }
        self.offset += (total - EXTENT_HEADER_SIZE) as u64;
        Ok(true)
    }
}

/// A validated extent owned by whoever reads its clusters (see [`crate::prefetch`]).
#[derive(Debug, Default)]
pub(crate) struct Extent {
    pub buf: Vec<u8>,
    pub slots: Vec<Slot>,
    /// Stream offset just after the extent.
    pub end: u64,
}

/// The cluster a slot describes, borrowed from its extent's buffer.
pub(crate) fn cluster<'a>(s: &Slot, buf: &'a [u8]) -> Cluster<'a> {
    let n = s.mask.count_ones() as usize * BLOCK_SIZE;
    Cluster {
        dev_id: s.dev_id,
        cluster_num: s.cluster_num,
        mask: s.mask,
        data: &buf[s.data_start..s.data_start + n],
        len: s.len,
        offset: s.offset,
    }
}

/// Anything that hands out validated clusters after a validated header: [`VmaReader`] on the
/// caller's thread, [`crate::PrefetchReader`] from its own.
pub trait ClusterSource {
    /// The validated header (uuid, ctime, configs, devices).
    fn header(&self) -> &Header;
    /// The next cluster, or `None` once the stream has ended and every cluster of every
    /// device has been seen exactly once.
    fn next_cluster(&mut self) -> Result<Option<Cluster<'_>>, VmaError>;
    /// Bytes of the VMA stream consumed so far.
    fn position(&self) -> u64;
}

impl<R: Read> ClusterSource for VmaReader<R> {
    fn header(&self) -> &Header {
        VmaReader::header(self)
    }
    fn next_cluster(&mut self) -> Result<Option<Cluster<'_>>, VmaError> {
        VmaReader::next_cluster(self)
    }
    fn position(&self) -> u64 {
        VmaReader::position(self)
    }
}

/// Validates one blockinfo word at stream offset `at` and records its
/// cluster as seen. `None` for an unused slot; `blocks_before` is the number
/// of data blocks earlier in the extent.
fn check_blockinfo(
    seen: &mut [Option<ClusterSet>],
    sizes: &[u64; 256],
    raw: u64,
    at: u64,
    blocks_before: usize,
) -> Result<Option<Slot>, VmaError> {
    let bi = BlockInfo::from_u64(raw);
    let Some(dev_id) = DevId::new(bi.dev_id) else {
        if raw != 0 {
            return Err(VmaError::BadBlockInfo {
                offset: at,
                raw,
                reason: "unused slot (dev id 0) is not all zero",
            });
        }
        return Ok(None);
    };
    if bi.reserved != 0 {
        return Err(VmaError::BadBlockInfo {
            offset: at,
            raw,
            reason: "reserved byte is not zero",
        });
    }
    let idx = usize::from(bi.dev_id);
    let Some(set) = seen[idx].as_mut() else {
        return Err(VmaError::UnknownDevice {
            offset: at,
            dev_id: bi.dev_id,
        });
    };
    let size = sizes[idx];
    let dev_off = u64::from(bi.cluster_num) * CLUSTER_SIZE as u64;
    if dev_off >= size {
        return Err(VmaError::ClusterBeyondEnd {
            offset: at,
            dev_id: bi.dev_id,
            cluster: bi.cluster_num,
        });
    }
    let len = (size - dev_off).min(CLUSTER_SIZE as u64) as usize;
    let blocks_inside = len.div_ceil(BLOCK_SIZE);
    if blocks_inside < BLOCKS_PER_CLUSTER && bi.mask >> blocks_inside != 0 {
        return Err(VmaError::BlockBeyondEnd {
            offset: at,
            dev_id: bi.dev_id,
            cluster: bi.cluster_num,
            block: 15 - bi.mask.leading_zeros() as usize,
        });
    }
    if !set.insert(u64::from(bi.cluster_num)) {
        return Err(VmaError::DuplicateCluster {
            offset: at,
            dev_id: bi.dev_id,
            cluster: bi.cluster_num,
        });
    }
    Ok(Some(Slot {
        dev_id,
        cluster_num: bi.cluster_num,
        mask: bi.mask,
        len,
        data_start: EXTENT_HEADER_SIZE + blocks_before * BLOCK_SIZE,
        offset: at,
    }))
}

/// Fills `buf` as far as the stream allows; returns the bytes read (less than
/// `buf.len()` only at end of stream).
fn read_full<R: Read>(r: &mut R, buf: &mut [u8], at: u64) -> Result<usize, VmaError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(VmaError::Io {
                    offset: at + got as u64,
                    source: e,
                });
            }
        }
    }
    Ok(got)
}
