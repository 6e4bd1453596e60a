//! On-disk layout of a VMA archive: constants, the raw header structs and their
//! compile-time size/offset checks. Everything else in the crate derives its
//! offsets from here, so this file is the single definition of the format.
//!
//! All multi-byte integers are big-endian, with one exception: blob lengths
//! inside the blob buffer are little-endian `u16` (see `FORMAT.md`, where every
//! place in which PVE's `vma_spec.txt` and its C code disagree is listed).

use core::mem::{offset_of, size_of};
use zerocopy::big_endian::{I64, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Archive magic, bytes 0..4: `"VMA\0"`.
pub const VMA_MAGIC: [u8; 4] = *b"VMA\0";
/// Extent magic, bytes 0..4 of every extent header: `"VMAE"`.
pub const EXTENT_MAGIC: [u8; 4] = *b"VMAE";
/// The only format version that exists.
pub const VMA_VERSION: u32 = 1;

/// A block is the unit of zero-suppression: 4 KiB.
pub const BLOCK_SIZE: usize = 4096;
/// Blocks per cluster; one bit each in a blockinfo's 16-bit mask.
pub const BLOCKS_PER_CLUSTER: usize = 16;
/// A cluster is the unit of addressing: 64 KiB.
pub const CLUSTER_SIZE: usize = BLOCK_SIZE * BLOCKS_PER_CLUSTER;
/// Blockinfo slots (clusters) per extent. `vma_spec.txt` says "up to 64
/// clusters"; the code (`VMA_BLOCKS_PER_EXTENT`) says 59, which is what fits in
/// the 512-byte extent header (40 bytes fixed + 59 × 8).
pub const CLUSTERS_PER_EXTENT: usize = 59;
/// Size of an extent header.
pub const EXTENT_HEADER_SIZE: usize = 512;
/// Largest possible extent: header plus 59 full clusters (3 867 136 bytes,
/// `VMA_MAX_EXTENT_SIZE` in PVE).
pub const MAX_EXTENT_SIZE: usize = EXTENT_HEADER_SIZE + CLUSTER_SIZE * CLUSTERS_PER_EXTENT;
/// Largest `block_count` an extent can declare (59 clusters × 16 blocks).
pub const MAX_EXTENT_BLOCKS: usize = CLUSTERS_PER_EXTENT * BLOCKS_PER_CLUSTER;

/// Config slots in the header (`VMA_MAX_CONFIGS`).
pub const MAX_CONFIGS: usize = 256;
/// Device-info slots in the header; slot 0 is never used (dev id 0 marks an
/// unused blockinfo), so ids are 1..=255.
pub const DEVICE_SLOTS: usize = 256;
/// PVE's writer hands out dev ids 1..=254 ("255 reserved for safety"); its
/// reader accepts 1..=255. We write at most this many devices.
pub const MAX_WRITER_DEVICES: usize = 254;

/// Size of the fixed part of the header (`sizeof(VmaHeader)`); the blob buffer
/// follows it.
pub const FIXED_HEADER_SIZE: usize = 12288;
/// Upper bound on `header_size` we accept. Not in the spec: PVE's writer builds
/// the header in a 8 × 64 KiB stack buffer and refuses anything larger, so no
/// PVE-written archive exceeds it. Bounds what we allocate from an untrusted
/// length field.
pub const MAX_HEADER_SIZE: usize = 8 * CLUSTER_SIZE;
/// Largest blob payload: the length prefix is a `u16`.
pub const MAX_BLOB_LEN: usize = u16::MAX as usize;
/// Upper bound on the sum of all device sizes we accept (64 TiB). Not in the
/// format; it bounds the per-device cluster bitmaps (at most 128 MiB, and only
/// allocated in 32 KiB chunks as clusters arrive).
pub const MAX_TOTAL_DEVICE_SIZE: u64 = 64 << 40;

/// Per-device entry of the header (`VmaDeviceInfoHeader`), 32 bytes.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub struct RawDeviceInfo {
    /// Offset of the device name blob in the blob buffer (0 = no device).
    pub devname_ptr: U32,
    pub reserved0: [u8; 4],
    /// Device size in bytes.
    pub size: U64,
    pub reserved1: [u8; 16],
}

/// The fixed 12 288-byte header (`VmaHeader`). The blob buffer follows.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct RawHeader {
    pub magic: [u8; 4],
    pub version: U32,
    pub uuid: [u8; 16],
    /// Backup time, seconds since the epoch (`int64_t` in the code).
    pub ctime: I64,
    /// MD5 over bytes `0..header_size` with this field zeroed.
    pub md5sum: [u8; 16],
    /// Start of the blob buffer, counted from byte 0 of the archive.
    pub blob_buffer_offset: U32,
    /// Used length of the blob buffer (the spec says "multiple of 512"; PVE's
    /// writer stores the exact used length).
    pub blob_buffer_size: U32,
    /// Total header length including the blob buffer; extents start here.
    pub header_size: U32,
    pub reserved: [u8; 1984],
    /// Blob-buffer offsets of config names (NUL-terminated strings).
    pub config_names: [U32; MAX_CONFIGS],
    /// Blob-buffer offsets of config contents (raw bytes).
    pub config_data: [U32; MAX_CONFIGS],
    /// Alignment padding in C (the u64 in `VmaDeviceInfoHeader` aligns the
    /// array to 4096); the spec lists it as "reserved".
    pub reserved2: [u8; 4],
    pub dev_info: [RawDeviceInfo; DEVICE_SLOTS],
}

/// Extent header (`VmaExtentHeader`), 512 bytes, followed by
/// `block_count × 4096` bytes of block data in blockinfo order.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct RawExtentHeader {
    pub magic: [u8; 4],
    /// Must be zero (PVE's reader rejects anything else as "wrong magic").
    pub reserved1: U16,
    /// Number of 4 KiB blocks of data following this header.
    pub block_count: U16,
    /// Must equal the archive header's uuid.
    pub uuid: [u8; 16],
    /// MD5 over the 512-byte header with this field zeroed.
    pub md5sum: [u8; 16],
    /// One entry per cluster, see [`BlockInfo`]. Unused slots are zero.
    pub blockinfo: [U64; CLUSTERS_PER_EXTENT],
}

// Compile-time checks: the structs are the format, so their sizes and the
// offsets named in vma_spec.txt must hold exactly.
const _: () = assert!(size_of::<RawDeviceInfo>() == 32);
const _: () = assert!(size_of::<RawHeader>() == FIXED_HEADER_SIZE);
const _: () = assert!(offset_of!(RawHeader, version) == 4);
const _: () = assert!(offset_of!(RawHeader, uuid) == 8);
const _: () = assert!(offset_of!(RawHeader, ctime) == 24);
const _: () = assert!(offset_of!(RawHeader, md5sum) == 32);
const _: () = assert!(offset_of!(RawHeader, blob_buffer_offset) == 48);
const _: () = assert!(offset_of!(RawHeader, blob_buffer_size) == 52);
const _: () = assert!(offset_of!(RawHeader, header_size) == 56);
const _: () = assert!(offset_of!(RawHeader, config_names) == 2044);
const _: () = assert!(offset_of!(RawHeader, config_data) == 3068);
const _: () = assert!(offset_of!(RawHeader, dev_info) == 4096);
const _: () = assert!(size_of::<RawExtentHeader>() == EXTENT_HEADER_SIZE);
const _: () = assert!(offset_of!(RawExtentHeader, block_count) == 6);
const _: () = assert!(offset_of!(RawExtentHeader, uuid) == 8);
const _: () = assert!(offset_of!(RawExtentHeader, md5sum) == 24);
const _: () = assert!(offset_of!(RawExtentHeader, blockinfo) == 40);
const _: () = assert!(MAX_EXTENT_SIZE == 3_867_136);
const _: () = assert!(CLUSTER_SIZE == 65536);

/// Byte offset of the header md5 field.
pub const HEADER_MD5_OFFSET: usize = offset_of!(RawHeader, md5sum);
/// Byte offset of the extent md5 field.
pub const EXTENT_MD5_OFFSET: usize = offset_of!(RawExtentHeader, md5sum);
/// Byte offset of `config_names[0]`.
pub const CONFIG_NAMES_OFFSET: usize = offset_of!(RawHeader, config_names);
/// Byte offset of `config_data[0]`.
pub const CONFIG_DATA_OFFSET: usize = offset_of!(RawHeader, config_data);
/// Byte offset of `dev_info[0]`.
pub const DEV_INFO_OFFSET: usize = offset_of!(RawHeader, dev_info);
/// Byte offset of `blockinfo[0]` inside an extent header.
pub const BLOCKINFO_OFFSET: usize = offset_of!(RawExtentHeader, blockinfo);

/// One decoded 64-bit blockinfo word.
///
/// Bit layout (big-endian u64, as the C code builds it):
/// `mask` bits 48..64, reserved bits 40..48, `dev_id` bits 32..40,
/// `cluster_num` bits 0..32. On disk that is bytes: mask(2) reserved(1)
/// dev_id(1) cluster(4) — the spec's prose lists dev_id first, which is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    /// Bit `i` set: block `i` (4 KiB) of the cluster is stored; clear: zero.
    pub mask: u16,
    pub reserved: u8,
    /// 0 marks an unused slot.
    pub dev_id: u8,
    pub cluster_num: u32,
}

impl BlockInfo {
    /// Decodes the host-order value of a blockinfo word.
    pub fn from_u64(v: u64) -> Self {
        Self {
            mask: (v >> 48) as u16,
            reserved: (v >> 40) as u8,
            dev_id: (v >> 32) as u8,
            cluster_num: v as u32,
        }
    }

    /// Encodes into the host-order value of a blockinfo word.
    pub fn to_u64(self) -> u64 {
        (u64::from(self.mask) << 48)
            | (u64::from(self.reserved) << 40)
            | (u64::from(self.dev_id) << 32)
            | u64::from(self.cluster_num)
    }
}

/// MD5 of `bytes` with the 16 bytes at `md5_at` treated as zero.
pub fn md5_with_zeroed_field(bytes: &[u8], md5_at: usize) -> [u8; 16] {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    h.update(&bytes[..md5_at]);
    h.update([0u8; 16]);
    h.update(&bytes[md5_at + 16..]);
    h.finalize().into()
}

/// Number of clusters a device of `size` bytes occupies (last one may be partial).
pub fn clusters_for(size: u64) -> u64 {
    size.div_ceil(CLUSTER_SIZE as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blockinfo_layout_matches_byte_order() {
        let bi = BlockInfo {
            mask: 0xA55A,
            reserved: 0,
            dev_id: 3,
            cluster_num: 0x0102_0304,
        };
        assert_eq!(
            bi.to_u64().to_be_bytes(),
            [0xA5, 0x5A, 0x00, 0x03, 0x01, 0x02, 0x03, 0x04]
        );
        assert_eq!(BlockInfo::from_u64(bi.to_u64()), bi);
    }

    #[test]
    fn clusters_for_rounds_up() {
        assert_eq!(clusters_for(1), 1);
        assert_eq!(clusters_for(65536), 1);
        assert_eq!(clusters_for(65537), 2);
    }
}
