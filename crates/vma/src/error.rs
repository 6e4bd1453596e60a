//! Typed errors of the codec. Every reader error carries the byte offset in the
//! (decompressed) VMA stream where the problem was found, so a corrupt archive
//! can be located with `xxd -s OFFSET`.

use std::io;
use std::path::PathBuf;

/// Why an archive was rejected while reading. `offset` is always a byte
/// offset into the uncompressed VMA stream.
#[derive(Debug, thiserror::Error)]
pub enum VmaError {
    #[error("read error at offset {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("truncated at offset {offset}: expected {what} starting at offset {start}")]
    Truncated {
        offset: u64,
        start: u64,
        what: &'static str,
    },
    #[error("offset {offset}: not a VMA archive (magic {found:02x?}, expected \"VMA\\0\")")]
    BadMagic { offset: u64, found: [u8; 4] },
    #[error("offset {offset}: unsupported VMA version {version} (only 1 exists)")]
    UnsupportedVersion { offset: u64, version: u32 },
    #[error("offset {offset}: header size {size} outside {min}..={max}")]
    BadHeaderSize {
        offset: u64,
        size: u32,
        min: usize,
        max: usize,
    },
    #[error("offset {offset}: header MD5 mismatch (stored {stored}, computed {computed})")]
    BadHeaderChecksum {
        offset: u64,
        stored: String,
        computed: String,
    },
    #[error(
        "offset {offset}: blob buffer {start}+{size} does not fit between the fixed header and header_size {header_size}"
    )]
    BlobBufferOutOfBounds {
        offset: u64,
        start: u32,
        size: u32,
        header_size: u32,
    },
    #[error(
        "offset {offset}: blob at buffer position {pos} with length {len} runs past the blob buffer end"
    )]
    BlobOutOfBounds { offset: u64, pos: u32, len: u16 },
    #[error("offset {offset}: {field} points to {ptr}, which is not the start of a blob")]
    BadBlobPointer {
        offset: u64,
        field: &'static str,
        ptr: u32,
    },
    #[error("offset {offset}: {field} is not a valid name: {reason}")]
    BadName {
        offset: u64,
        field: &'static str,
        reason: &'static str,
    },
    #[error("offset {offset}: config slot {index}: {reason}")]
    BadConfig {
        offset: u64,
        index: usize,
        reason: &'static str,
    },
    #[error("offset {offset}: device {dev_id}: {reason}")]
    BadDevice {
        offset: u64,
        dev_id: u8,
        reason: &'static str,
    },
    #[error("offset {offset}: archive declares no devices")]
    NoDevices { offset: u64 },
    #[error("offset {offset}: extent magic {found:02x?}, expected \"VMAE\"")]
    BadExtentMagic { offset: u64, found: [u8; 4] },
    #[error("offset {offset}: extent header MD5 mismatch")]
    BadExtentChecksum { offset: u64 },
    #[error("offset {offset}: extent uuid differs from the archive uuid")]
    ExtentUuidMismatch { offset: u64 },
    #[error("offset {offset}: extent reserved field is {value:#x}, must be 0")]
    ExtentReserved { offset: u64, value: u16 },
    #[error("offset {offset}: extent declares {declared} blocks but its masks add up to {counted}")]
    BadBlockCount {
        offset: u64,
        declared: u16,
        counted: usize,
    },
    #[error("offset {offset}: blockinfo {raw:#018x}: {reason}")]
    BadBlockInfo {
        offset: u64,
        raw: u64,
        reason: &'static str,
    },
    #[error("offset {offset}: blockinfo references undeclared device {dev_id}")]
    UnknownDevice { offset: u64, dev_id: u8 },
    #[error("offset {offset}: device {dev_id} cluster {cluster} lies beyond the device end")]
    ClusterBeyondEnd {
        offset: u64,
        dev_id: u8,
        cluster: u32,
    },
    #[error(
        "offset {offset}: device {dev_id} cluster {cluster} stores block {block}, which lies beyond the device end"
    )]
    BlockBeyondEnd {
        offset: u64,
        dev_id: u8,
        cluster: u32,
        block: usize,
    },
    #[error("offset {offset}: device {dev_id} cluster {cluster} appears twice")]
    DuplicateCluster {
        offset: u64,
        dev_id: u8,
        cluster: u32,
    },
    #[error("offset {offset}: archive ends but device {dev_id} cluster {cluster} never appeared")]
    MissingCluster {
        offset: u64,
        dev_id: u8,
        cluster: u32,
    },
}

impl VmaError {
    /// Byte offset in the uncompressed VMA stream where the problem was found.
    pub fn offset(&self) -> u64 {
        match self {
            Self::Io { offset, .. }
            | Self::Truncated { offset, .. }
            | Self::BadMagic { offset, .. }
            | Self::UnsupportedVersion { offset, .. }
            | Self::BadHeaderSize { offset, .. }
            | Self::BadHeaderChecksum { offset, .. }
            | Self::BlobBufferOutOfBounds { offset, .. }
            | Self::BlobOutOfBounds { offset, .. }
            | Self::BadBlobPointer { offset, .. }
            | Self::BadName { offset, .. }
            | Self::BadConfig { offset, .. }
            | Self::BadDevice { offset, .. }
            | Self::NoDevices { offset }
            | Self::BadExtentMagic { offset, .. }
            | Self::BadExtentChecksum { offset }
            | Self::ExtentUuidMismatch { offset }
            | Self::ExtentReserved { offset, .. }
            | Self::BadBlockCount { offset, .. }
            | Self::BadBlockInfo { offset, .. }
            | Self::UnknownDevice { offset, .. }
            | Self::ClusterBeyondEnd { offset, .. }
            | Self::BlockBeyondEnd { offset, .. }
            | Self::DuplicateCluster { offset, .. }
            | Self::MissingCluster { offset, .. } => *offset,
        }
    }
}

/// Why the writer refused its input.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("write failed: {0}")]
    Io(#[from] io::Error),
    #[error("{what} {name:?} is not a valid name: {reason}")]
    BadName {
        what: &'static str,
        name: String,
        reason: &'static str,
    },
    #[error("config {name:?} has {len} bytes; a blob holds at most 65535")]
    ConfigTooLarge { name: String, len: usize },
    #[error("duplicate {what} name {name:?}")]
    DuplicateName { what: &'static str, name: String },
    #[error("too many configs ({count}, at most 256)")]
    TooManyConfigs { count: usize },
    #[error("need between 1 and 254 devices, got {count}")]
    DeviceCount { count: usize },
    #[error("device {name:?} has size {size}: must be > 0 and all devices together at most 64 TiB")]
    BadDeviceSize { name: String, size: u64 },
    #[error("header would be {size} bytes, more than the 524288 PVE can read back")]
    HeaderTooLarge { size: usize },
    #[error("no device with id {dev_id}")]
    UnknownDevice { dev_id: u8 },
    #[error("device {dev_id} has no cluster {cluster}")]
    ClusterOutOfRange { dev_id: u8, cluster: u64 },
    #[error("device {dev_id} cluster {cluster} written twice")]
    DuplicateCluster { dev_id: u8, cluster: u32 },
    #[error("device {dev_id} cluster {cluster} needs {expected} bytes, got {got}")]
    BadClusterLength {
        dev_id: u8,
        cluster: u32,
        expected: usize,
        got: usize,
    },
    #[error("device {dev_id} cluster {cluster} was never written")]
    Incomplete { dev_id: u8, cluster: u32 },
    #[error("device {dev_id}: source ended after {got} of {size} bytes")]
    ShortSource { dev_id: u8, got: u64, size: u64 },
}

/// Why opening or decompressing an archive failed before VMA parsing began.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read the first bytes: {0}")]
    Sniff(#[source] io::Error),
    #[error("file name says {by_name} but the content starts like {by_magic}")]
    CompressionMismatch {
        by_name: &'static str,
        by_magic: &'static str,
    },
    #[error("cannot start {what} decoder: {source}")]
    Decoder {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Vma(#[from] VmaError),
}

/// Why `extract` failed.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Vma(#[from] VmaError),
    #[error("target {path} already exists")]
    TargetExists { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}
