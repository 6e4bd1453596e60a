//! The archive header: parsing (with every structural check) and encoding.
//! Both directions live here so the blob-buffer rules are written once.

use crate::error::{VmaError, WriteError};
use crate::format::{
    CONFIG_DATA_OFFSET, CONFIG_NAMES_OFFSET, DEV_INFO_OFFSET, FIXED_HEADER_SIZE, HEADER_MD5_OFFSET,
    MAX_BLOB_LEN, MAX_CONFIGS, MAX_HEADER_SIZE, MAX_TOTAL_DEVICE_SIZE, MAX_WRITER_DEVICES,
    RawDeviceInfo, RawHeader, VMA_MAGIC, VMA_VERSION, clusters_for, md5_with_zeroed_field,
};
use core::mem::offset_of;
use std::fmt;
use zerocopy::{FromBytes, FromZeros, IntoBytes};

/// A device id as used in blockinfo words: 1..=255 (0 marks an unused slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DevId(u8);

impl DevId {
    /// `None` for 0, which the format reserves.
    pub fn new(id: u8) -> Option<Self> {
        (id != 0).then_some(Self(id))
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for DevId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One disk image stored in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: DevId,
    /// e.g. `drive-scsi0`; safe to use in a file name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

impl Device {
    /// Number of 64 KiB clusters (the last one may be partial).
    pub fn clusters(&self) -> u64 {
        clusters_for(self.size)
    }
}

/// One config file stored in the header (e.g. `qemu-server.conf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigBlob {
    /// Base file name; safe to use as a file name.
    pub name: String,
    /// Contents, byte for byte (including `#qmdump#map` lines).
    pub data: Vec<u8>,
}

/// The parsed, validated archive header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub uuid: uuid::Uuid,
    /// Backup time, seconds since the epoch.
    pub ctime: i64,
    pub configs: Vec<ConfigBlob>,
    /// Ordered by id.
    pub devices: Vec<Device>,
    /// Where the first extent starts.
    pub header_size: u32,
}

impl Header {
    /// The config blob named `name`.
    pub fn config(&self, name: &str) -> Option<&ConfigBlob> {
        self.configs.iter().find(|c| c.name == name)
    }
    /// The device with id `id`.
    pub fn device(&self, id: DevId) -> Option<&Device> {
        self.devices.iter().find(|d| d.id == id)
    }
}

/// Checks a device or config name for use as (part of) a file name.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name == "." || name == ".." {
        return Err("is . or ..");
    }
    if name.contains('/') {
        return Err("contains '/'");
    }
    if name.contains('\0') {
        return Err("contains NUL");
    }
    Ok(())
}

/// The blob buffer as a map from position to payload.
struct Blobs<'a> {
    /// (position, payload), ascending by position.
    entries: Vec<(u32, &'a [u8])>,
}

impl<'a> Blobs<'a> {
    /// Walks the blob buffer from position 1 (position 0 is a reserved byte)
    /// to its end; every blob must fit exactly.
    fn parse(buf: &'a [u8], buf_offset: u64) -> Result<Self, VmaError> {
        let mut entries = Vec::new();
        let mut pos = 1usize;
        while pos < buf.len() {
            let at = buf_offset + pos as u64;
            let Some(len_bytes) = buf.get(pos..pos + 2) else {
                return Err(VmaError::BlobOutOfBounds {
                    offset: at,
                    pos: pos as u32,
                    len: 0,
                });
            };
            let len = u16::from_le_bytes([len_bytes[0], len_bytes[1]]);
            let end = pos + 2 + usize::from(len);
            let Some(data) = buf.get(pos + 2..end) else {
                return Err(VmaError::BlobOutOfBounds {
                    offset: at,
                    pos: pos as u32,
                    len,
                });
            };
            entries.push((pos as u32, data));
            pos = end;
        }
        Ok(Self { entries })
    }

    fn get(&self, ptr: u32) -> Option<&'a [u8]> {
        self.entries
            .binary_search_by_key(&ptr, |e| e.0)
            .ok()
            .map(|i| self.entries[i].1)
    }

    /// A NUL-terminated UTF-8 name that is safe as a file name.
    fn name(&self, ptr: u32, field_offset: u64, field: &'static str) -> Result<String, VmaError> {
        let blob = self.get(ptr).ok_or(VmaError::BadBlobPointer {
            offset: field_offset,
            field,
            ptr,
        })?;
        let bad = |reason| VmaError::BadName {
            offset: field_offset,
            field,
            reason,
        };
        let (last, body) = blob.split_last().ok_or(bad("empty blob"))?;
        if *last != 0 {
            return Err(bad("not NUL-terminated"));
        }
        let s = std::str::from_utf8(body).map_err(|_| bad("not UTF-8"))?;
        check_name(s).map_err(bad)?;
        Ok(s.to_owned())
    }
}

/// Reads the three fields needed to know how long the header is. `fixed` must
/// hold at least the first 60 bytes.
pub(crate) fn header_size_of(fixed: &[u8]) -> Result<usize, VmaError> {
    let magic: [u8; 4] = fixed[0..4].try_into().unwrap_or_default();
    if magic != VMA_MAGIC {
        return Err(VmaError::BadMagic {
            offset: 0,
            found: magic,
        });
    }
    let version = be32(fixed, offset_of!(RawHeader, version));
    if version != VMA_VERSION {
        return Err(VmaError::UnsupportedVersion {
            offset: offset_of!(RawHeader, version) as u64,
            version,
        });
    }
    let size = be32(fixed, offset_of!(RawHeader, header_size));
    let s = size as usize;
    if s <= FIXED_HEADER_SIZE || s > MAX_HEADER_SIZE {
        return Err(VmaError::BadHeaderSize {
            offset: offset_of!(RawHeader, header_size) as u64,
            size,
            min: FIXED_HEADER_SIZE + 1,
            max: MAX_HEADER_SIZE,
        });
    }
    Ok(s)
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn hex(b: &[u8]) -> String {
    use fmt::Write;
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// Parses and validates a complete header (`bytes.len() == header_size`).
pub(crate) fn parse_header(bytes: &[u8]) -> Result<Header, VmaError> {
    let header_size = header_size_of(bytes)?;
    debug_assert_eq!(bytes.len(), header_size);
    let (raw, _) = RawHeader::ref_from_prefix(bytes).map_err(|_| VmaError::Truncated {
        offset: bytes.len() as u64,
        start: 0,
        what: "fixed header",
    })?;

    let computed = md5_with_zeroed_field(bytes, HEADER_MD5_OFFSET);
    if computed != raw.md5sum {
        return Err(VmaError::BadHeaderChecksum {
            offset: HEADER_MD5_OFFSET as u64,
            stored: hex(&raw.md5sum),
            computed: hex(&computed),
        });
    }

    let start = raw.blob_buffer_offset.get();
    let size = raw.blob_buffer_size.get();
    let end = u64::from(start) + u64::from(size);
    if (start as usize) < FIXED_HEADER_SIZE || end > header_size as u64 {
        return Err(VmaError::BlobBufferOutOfBounds {
            offset: offset_of!(RawHeader, blob_buffer_offset) as u64,
            start,
            size,
            header_size: header_size as u32,
        });
    }
    let blobs = Blobs::parse(&bytes[start as usize..end as usize], u64::from(start))?;

    let configs = parse_configs(raw, &blobs)?;
    let devices = parse_devices(raw, &blobs)?;
    if devices.is_empty() {
        return Err(VmaError::NoDevices {
            offset: DEV_INFO_OFFSET as u64,
        });
    }

    Ok(Header {
        uuid: uuid::Uuid::from_bytes(raw.uuid),
        ctime: raw.ctime.get(),
        configs,
        devices,
        header_size: header_size as u32,
    })
}

fn parse_configs(raw: &RawHeader, blobs: &Blobs<'_>) -> Result<Vec<ConfigBlob>, VmaError> {
    let mut configs: Vec<ConfigBlob> = Vec::new();
    for i in 0..MAX_CONFIGS {
        let name_at = (CONFIG_NAMES_OFFSET + 4 * i) as u64;
        let data_at = (CONFIG_DATA_OFFSET + 4 * i) as u64;
        let (name_ptr, data_ptr) = (raw.config_names[i].get(), raw.config_data[i].get());
        match (name_ptr, data_ptr) {
            (0, 0) => continue,
            (0, _) | (_, 0) => {
                return Err(VmaError::BadConfig {
                    offset: if name_ptr == 0 { name_at } else { data_at },
                    index: i,
                    reason: "only one of name and data is set",
                });
            }
            _ => {}
        }
        let name = blobs.name(name_ptr, name_at, "config name")?;
        let data = blobs.get(data_ptr).ok_or(VmaError::BadBlobPointer {
            offset: data_at,
            field: "config data",
            ptr: data_ptr,
        })?;
        if configs.iter().any(|c| c.name == name) {
            return Err(VmaError::BadConfig {
                offset: name_at,
                index: i,
                reason: "duplicate config name",
            });
        }
        configs.push(ConfigBlob {
            name,
            data: data.to_vec(),
        });
    }

    Ok(configs)
}

fn parse_devices(raw: &RawHeader, blobs: &Blobs<'_>) -> Result<Vec<Device>, VmaError> {
    let mut devices: Vec<Device> = Vec::new();
    let mut total: u64 = 0;
    for (i, di) in raw.dev_info.iter().enumerate() {
        let at = (DEV_INFO_OFFSET + 32 * i) as u64;
        let (ptr, size) = (di.devname_ptr.get(), di.size.get());
        let dev_id = i as u8;
        let bad = |reason| VmaError::BadDevice {
            offset: at,
            dev_id,
            reason,
        };
        if ptr == 0 && size == 0 {
            continue;
        }
        let Some(id) = DevId::new(dev_id) else {
            return Err(bad("slot 0 is reserved and must be empty"));
        };
        if ptr == 0 {
            return Err(bad("size set but no name"));
        }
        if size == 0 {
            return Err(bad("name set but size is 0"));
        }
        let name = blobs.name(ptr, at, "device name")?;
        if name == "vmstate" {
            return Err(bad("vmstate (VM RAM) streams are not supported"));
        }
        if devices.iter().any(|d| d.name == name) {
            return Err(bad("duplicate device name"));
        }
        total = total.saturating_add(size);
        if total > MAX_TOTAL_DEVICE_SIZE || clusters_for(size) > 1 << 32 {
            return Err(bad(
                "device too large (all devices together at most 64 TiB)",
            ));
        }
        devices.push(Device { id, name, size });
    }
    Ok(devices)
}

/// What the writer puts into a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSpec {
    pub uuid: uuid::Uuid,
    pub ctime: i64,
    pub configs: Vec<ConfigBlob>,
    /// (name, size); ids are assigned 1, 2, … in this order.
    pub devices: Vec<(String, u64)>,
}

/// Encodes a header the way PVE's writer lays it out: blob buffer right after
/// the fixed part, position 0 reserved, config names and data first (in
/// order), then device names; `header_size` rounded up to 512.
pub(crate) fn encode_header(spec: &HeaderSpec) -> Result<Vec<u8>, WriteError> {
    if spec.configs.len() > MAX_CONFIGS {
        return Err(WriteError::TooManyConfigs {
            count: spec.configs.len(),
        });
    }
    if spec.devices.is_empty() || spec.devices.len() > MAX_WRITER_DEVICES {
        return Err(WriteError::DeviceCount {
            count: spec.devices.len(),
        });
    }
    let mut blob = vec![0u8]; // position 0 is reserved
    let mut add = |data: &[u8]| -> u32 {
        let pos = blob.len() as u32;
        blob.extend_from_slice(&(data.len() as u16).to_le_bytes());
        blob.extend_from_slice(data);
        pos
    };
    let mut raw = RawHeader::new_zeroed();
    for (i, c) in spec.configs.iter().enumerate() {
        check_name(&c.name).map_err(|reason| WriteError::BadName {
            what: "config",
            name: c.name.clone(),
            reason,
        })?;
        if spec.configs[..i].iter().any(|o| o.name == c.name) {
            return Err(WriteError::DuplicateName {
                what: "config",
                name: c.name.clone(),
            });
        }
        if c.name.len() + 1 > MAX_BLOB_LEN || c.data.len() > MAX_BLOB_LEN {
            return Err(WriteError::ConfigTooLarge {
                name: c.name.clone(),
                len: c.data.len(),
            });
        }
        let mut name = c.name.as_bytes().to_vec();
        name.push(0);
        raw.config_names[i] = add(&name).into();
        raw.config_data[i] = add(&c.data).into();
    }
    let mut total: u64 = 0;
    for (i, (name, size)) in spec.devices.iter().enumerate() {
        let bad_name = |reason| WriteError::BadName {
            what: "device",
            name: name.clone(),
            reason,
        };
        check_name(name).map_err(bad_name)?;
        if name == "vmstate" {
            return Err(bad_name("vmstate is reserved for VM RAM"));
        }
        if name.len() + 1 > MAX_BLOB_LEN {
            return Err(bad_name("too long"));
        }
        if spec.devices[..i].iter().any(|(o, _)| o == name) {
            return Err(WriteError::DuplicateName {
                what: "device",
                name: name.clone(),
            });
        }
        total = total.saturating_add(*size);
        if *size == 0 || total > MAX_TOTAL_DEVICE_SIZE {
            return Err(WriteError::BadDeviceSize {
                name: name.clone(),
                size: *size,
            });
        }
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        let ptr = add(&n);
        raw.dev_info[i + 1] = RawDeviceInfo {
            devname_ptr: ptr.into(),
            reserved0: [0; 4],
            size: (*size).into(),
            reserved1: [0; 16],
        };
    }
    let blob_size = blob.len();
    let header_size = FIXED_HEADER_SIZE + blob_size.div_ceil(512) * 512;
    if header_size > MAX_HEADER_SIZE {
        return Err(WriteError::HeaderTooLarge { size: header_size });
    }
    raw.magic = VMA_MAGIC;
    raw.version = VMA_VERSION.into();
    raw.uuid = *spec.uuid.as_bytes();
    raw.ctime = spec.ctime.into();
    raw.blob_buffer_offset = (FIXED_HEADER_SIZE as u32).into();
    raw.blob_buffer_size = (blob_size as u32).into();
    raw.header_size = (header_size as u32).into();

    let mut out = Vec::with_capacity(header_size);
    out.extend_from_slice(raw.as_bytes());
    out.extend_from_slice(&blob);
    out.resize(header_size, 0);
    let md5 = md5_with_zeroed_field(&out, HEADER_MD5_OFFSET);
    out[HEADER_MD5_OFFSET..HEADER_MD5_OFFSET + 16].copy_from_slice(&md5);
    Ok(out)
}
