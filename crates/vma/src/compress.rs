//! In-process decompression of vzdump's `.vma.zst`, `.vma.gz` and `.vma.lzo`
//! files. The content's magic bytes decide; the file name is only a
//! cross-check (a `.zst` name on gzip content is refused as a mislabelled
//! file rather than silently accepted).

use crate::error::OpenError;
use crate::lzo::{LZOP_MAGIC, LzopReader};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use zferry_progress::{CountingReader, Meter};

/// How a VMA stream is wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Zstd,
    Gzip,
    Lzo,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "uncompressed VMA",
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
            Self::Lzo => "lzop",
        }
    }

    /// From the file name's last extension (`.zst`, `.gz`, `.lzo`, `.vma`).
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "zst" => Some(Self::Zstd),
            "gz" => Some(Self::Gzip),
            "lzo" => Some(Self::Lzo),
            "vma" => Some(Self::None),
            _ => None,
        }
    }

    /// From the first bytes of the content.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Self::Zstd)
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Some(Self::Gzip)
        } else if head.starts_with(&LZOP_MAGIC) {
            Some(Self::Lzo)
        } else if head.starts_with(b"VMA\0") {
            Some(Self::None)
        } else {
            None
        }
    }
}

/// A decompressed VMA byte stream.
pub type VmaStream = Box<dyn Read + Send>;

/// Wraps `src` in the decoder its magic bytes call for. `by_name` is the
/// compression the file name suggests, if any; when both are known they must
/// agree. Unknown magic passes the bytes through unchanged (the VMA reader
/// then reports the bad magic with its offset).
pub fn decompress<R: BufRead + Send + 'static>(
    mut src: R,
    by_name: Option<Compression>,
) -> Result<(Compression, VmaStream), OpenError> {
    let head = fill_at_least(&mut src, 9).map_err(OpenError::Sniff)?;
    let by_magic = Compression::sniff(&head);
    let kind = match (by_name, by_magic) {
        (Some(n), Some(m)) if n != m => {
            return Err(OpenError::CompressionMismatch {
                by_name: n.name(),
                by_magic: m.name(),
            });
        }
        (_, Some(m)) => m,
        (Some(n), None) => n,
        (None, None) => Compression::None,
    };
    let src = std::io::Cursor::new(head).chain(src);
    let stream: VmaStream = match kind {
        Compression::None => Box::new(src),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(BufReader::new(src)).map_err(|source| {
                OpenError::Decoder {
                    what: "zstd",
                    source,
                }
            })?,
        ),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(BufReader::new(src))),
        Compression::Lzo => {
            Box::new(
                LzopReader::new(BufReader::new(src)).map_err(|source| OpenError::Decoder {
                    what: "lzop",
                    source,
                })?,
            )
        }
    };
    Ok((kind, stream))
}

/// Opens `path` (uncompressed or compressed) for [`crate::VmaReader::new`].
pub fn open_path(path: &Path) -> Result<(Compression, VmaStream), OpenError> {
    open_path_metered(path, None)
}

/// [`open_path`], counting the file's bytes as they are read (before decompression) into
/// `meter`, whose total should be the file size.
pub fn open_path_metered(
    path: &Path,
    meter: Option<Arc<Meter>>,
) -> Result<(Compression, VmaStream), OpenError> {
    let f = File::open(path).map_err(|source| OpenError::Open {
        path: path.to_owned(),
        source,
    })?;
    let by_name = Compression::from_path(path);
    match meter {
        Some(m) => decompress(
            BufReader::with_capacity(1 << 20, CountingReader::new(f, m)),
            by_name,
        ),
        None => decompress(BufReader::with_capacity(1 << 20, f), by_name),
    }
}

/// Reads until at least `n` bytes (or EOF) and returns them; they are
/// re-prepended by the caller.
fn fill_at_least<R: BufRead>(src: &mut R, n: usize) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    while head.len() < n {
        let buf = src.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let take = buf.len().min(n - head.len());
        head.extend_from_slice(&buf[..take]);
        src.consume(take);
    }
    Ok(head)
}
