//! Reads a tar stream entry by entry, with its own handling of the extension headers that
//! describe the next entry. The `tar` crate is used only to decode single 512-byte headers:
//! its entry iterator splits PAX records at newlines (so it refuses GNU tar's ACL records)
//! and knows neither PAX sparse files nor, in raw mode, GNU sparse extension headers.
//!
//! What vzdump's `tar --acls --xattrs` writes is POSIX (PAX) format: an `x` header before an
//! entry carries `path`/`linkpath` for long names, `SCHILY.*` records for ACLs and xattrs,
//! `atime`/`ctime`, and for a sparse file the `GNU.sparse.*` 1.0 records (the entry's data
//! then starts with the map of data chunks). Also read: `g` (global) headers, GNU `L`/`K`
//! long names and GNU `S` sparse entries with their extension headers (GNU format). Owners
//! are numeric (`--numeric-owner`): `uname`/`gname` are ignored.
//!
//! Each entry's content is read through [`TarReader::content`], holes of sparse files as
//! zeros; whatever is left unread is skipped before the next header.

use std::io::{self, Read};

use tar::{EntryType, GnuExtSparseHeader, Header};

use crate::error::Error;
use crate::pax::{self, Record};

const BLOCK: u64 = 512;
/// Largest extension header read into memory (ACLs and xattr values are far smaller).
const MAX_EXT: u64 = 16 << 20;

/// One archive member, extension headers applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: Vec<u8>,
    pub link: Option<Vec<u8>>,
    pub kind: EntryType,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Whole seconds.
    pub mtime: i64,
    /// Length of the content (of a sparse file: its apparent size).
    pub size: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// PAX records not consumed here (`SCHILY.xattr.*`, `SCHILY.acl.*`, ...), globals first.
    pub records: Vec<Record>,
    /// Byte offset of the entry's first header (its extension headers included).
    pub offset: u64,
}

/// The current entry's data still in the stream.
#[derive(Debug, Default)]
struct Data {
    /// Bytes stored in the archive not read yet, then the padding to the next header.
    stored_left: u64,
    pad: u64,
    /// Data chunks `(offset, length)` of a sparse file, in order; `None` for a plain file.
    map: Option<Vec<(u64, u64)>>,
    chunk: usize,
    pos: u64,
    size: u64,
}

/// A tar stream read entry by entry.
#[derive(Debug)]
pub struct TarReader<R> {
    src: R,
    offset: u64,
    globals: Vec<Record>,
    data: Data,
}

/// Extension headers collected for the next entry.
#[derive(Default)]
struct Pending {
    long_path: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    records: Vec<Record>,
}

fn fmt_err(entry: &[u8], offset: u64, reason: impl Into<String>) -> Error {
    Error::TarFormat {
        entry: String::from_utf8_lossy(entry).into_owned(),
        offset,
        reason: reason.into(),
    }
}

impl<R: Read> TarReader<R> {
    pub fn new(src: R) -> Self {
        TarReader {
            src,
            offset: 0,
            globals: Vec::new(),
            data: Data::default(),
        }
    }

    /// The next entry, or `None` at the end of the archive (a zero block).
    pub fn next_entry(&mut self) -> Result<Option<Entry>, Error> {
        self.skip_rest()?;
        let start = self.offset;
        let mut pending = Pending::default();
        loop {
            let Some(h) = self.header(start, &pending)? else {
                if pending.long_path.is_some()
                    || pending.long_link.is_some()
                    || !pending.records.is_empty()
                {
                    return Err(fmt_err(
                        b"",
                        start,
                        "extension headers with no entry after them",
                    ));
                }
                return Ok(None);
            };
            let kind = h.entry_type();
            let here = self.offset - BLOCK;
            let name = h.path_bytes().into_owned();
            let bad = |reason: String| fmt_err(&name, here, reason);
            let size = h
                .entry_size()
                .map_err(|e| bad(format!("bad size field: {e}")))?;
            match kind {
                EntryType::XHeader | EntryType::XGlobalHeader => {
                    let data = self.ext_data(size, &name, here)?;
                    let records = pax::parse(&data).map_err(|e| bad(e.to_string()))?;
                    if kind == EntryType::XHeader {
                        pending.records.extend(records);
                    } else {
                        self.globals.extend(records);
                    }
                }
                EntryType::GNULongName | EntryType::GNULongLink => {
                    let mut data = self.ext_data(size, &name, here)?;
                    if let Some(nul) = data.iter().position(|&b| b == 0) {
                        data.truncate(nul);
                    }
                    if kind == EntryType::GNULongName {
                        pending.long_path = Some(data);
                    } else {
                        pending.long_link = Some(data);
                    }
                }
                _ => return self.member(&h, pending, start).map(Some),
            }
        }
    }

    /// Reads one header block; `None` at the end of the archive.
    fn header(&mut self, start: u64, pending: &Pending) -> Result<Option<Header>, Error> {
        let mut h = Header::new_old();
        let buf = h.as_mut_bytes();
        let n =
            read_up_to(&mut self.src, buf).map_err(|e| fmt_err(b"", self.offset, e.to_string()))?;
        self.offset += n as u64;
        let name = pending.long_path.clone().unwrap_or_default();
        // tar ends an archive with zero blocks; a stream cut between two entries must not
        // pass for a complete archive (the ingest would delete what the rest held).
        if n == 0 {
            return Err(fmt_err(
                &name,
                start,
                "the archive ends without its end-of-archive zero blocks (truncated?)",
            ));
        }
        if n < buf.len() {
            return Err(fmt_err(&name, start, "the archive ends inside a header"));
        }
        if buf.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        let sum: u32 = buf
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        if h.cksum().ok() != Some(sum) {
            return Err(fmt_err(
                &h.path_bytes(),
                self.offset - BLOCK,
                "header checksum mismatch (not a tar archive, or damaged)",
            ));
        }
        Ok(Some(h))
    }

    /// The data of an extension header (and its padding).
    fn ext_data(&mut self, size: u64, name: &[u8], at: u64) -> Result<Vec<u8>, Error> {
        if size > MAX_EXT {
            return Err(fmt_err(
                name,
                at,
                format!("an extension header of {size} bytes"),
            ));
        }
        let mut data = vec![0u8; usize::try_from(size).unwrap_or(0)];
        self.src
            .read_exact(&mut data)
            .map_err(|_| fmt_err(name, at, "the archive ends inside an extension header"))?;
        self.offset += size;
        self.skip(pad(size), name, at)?;
        Ok(data)
    }

    fn skip(&mut self, n: u64, name: &[u8], at: u64) -> Result<(), Error> {
        let got = io::copy(&mut (&mut self.src).take(n), &mut io::sink())
            .map_err(|e| fmt_err(name, at, e.to_string()))?;
        self.offset += got;
        if got < n {
            return Err(fmt_err(name, at, "the archive ends inside an entry's data"));
        }
        Ok(())
    }

    /// Skips what is left of the current entry's data.
    fn skip_rest(&mut self) -> Result<(), Error> {
        let n = self.data.stored_left + self.data.pad;
        self.data = Data::default();
        self.skip(n, b"", self.offset)
    }

    /// A file entry: its header with the pending extension headers applied.
    fn member(&mut self, h: &Header, pending: Pending, start: u64) -> Result<Entry, Error> {
        let here = self.offset - BLOCK;
        let mut path = pending
            .long_path
            .unwrap_or_else(|| h.path_bytes().into_owned());
        let bad = |path: &[u8], reason: String| fmt_err(path, here, reason);
        let hdr = |r: io::Result<u64>, what: &str, path: &[u8]| {
            r.map_err(|e| bad(path, format!("bad {what} field: {e}")))
        };
        let mut e = Entry {
            link: pending
                .long_link
                .or_else(|| h.link_name_bytes().map(std::borrow::Cow::into_owned)),
            kind: h.entry_type(),
            mode: h
                .mode()
                .map_err(|e| bad(&path, format!("bad mode field: {e}")))?
                & 0o7777,
            uid: hdr(h.uid(), "uid", &path)?,
            gid: hdr(h.gid(), "gid", &path)?,
            mtime: i64::try_from(hdr(h.mtime(), "mtime", &path)?).unwrap_or(i64::MAX),
            size: hdr(h.entry_size(), "size", &path)?,
            dev_major: h.device_major().ok().flatten().unwrap_or(0),
            dev_minor: h.device_minor().ok().flatten().unwrap_or(0),
            records: Vec::new(),
            offset: start,
            path: Vec::new(),
        };
        let mut sparse = SparsePax::default();
        let records: Vec<Record> = self
            .globals
            .iter()
            .cloned()
            .chain(pending.records)
            .collect();
        for r in records {
            let num = |path: &[u8]| {
                std::str::from_utf8(&r.value)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| {
                        bad(
                            path,
                            format!(
                                "PAX record {}: not a number: {:?}",
                                r.key,
                                String::from_utf8_lossy(&r.value)
                            ),
                        )
                    })
            };
            match r.key.as_str() {
                "path" => path.clone_from(&r.value),
                "linkpath" => e.link = Some(r.value.clone()),
                "size" => e.size = num(&path)?,
                "uid" => e.uid = num(&path)?,
                "gid" => e.gid = num(&path)?,
                "mtime" => {
                    e.mtime = pax_time(&r.value).ok_or_else(|| {
                        bad(
                            &path,
                            format!(
                                "PAX record mtime: not a time: {:?}",
                                String::from_utf8_lossy(&r.value)
                            ),
                        )
                    })?;
                }
                "GNU.sparse.major" => sparse.major = Some(num(&path)?),
                "GNU.sparse.minor" => sparse.minor = Some(num(&path)?),
                "GNU.sparse.realsize" => sparse.realsize = Some(num(&path)?),
                "GNU.sparse.name" => sparse.name = Some(r.value.clone()),
                k if k.starts_with("GNU.sparse.") => sparse.old = true,
                _ => e.records.push(r),
            }
        }
        e.path = path;
        let stored = e.size;
        self.data = Data {
            stored_left: stored,
            pad: pad(stored),
            ..Data::default()
        };
        if e.kind == EntryType::GNUSparse {
            self.gnu_sparse(h, &mut e)?;
        } else if sparse.major.is_some() || sparse.old {
            self.pax_sparse(&sparse, &mut e)?;
        }
        self.data.size = e.size;
        Ok(e)
    }

    /// A GNU `S` entry: the map in the header and its extension blocks.
    fn gnu_sparse(&mut self, h: &Header, e: &mut Entry) -> Result<(), Error> {
        let (here, path) = (e.offset, e.path.clone());
        let bad = |reason: String| fmt_err(&path, here, reason);
        let gnu = h
            .as_gnu()
            .ok_or_else(|| bad("a sparse entry without a GNU header".into()))?;
        let mut map = Vec::new();
        let mut add = |s: &tar::GnuSparseHeader| -> Result<(), Error> {
            if !s.is_empty() {
                let off = s.offset().map_err(|e| bad(format!("sparse map: {e}")))?;
                let len = s.length().map_err(|e| bad(format!("sparse map: {e}")))?;
                map.push((off, len));
            }
            Ok(())
        };
        gnu.sparse.iter().try_for_each(&mut add)?;
        let mut more = gnu.is_extended();
        while more {
            let mut ext = GnuExtSparseHeader::new();
            self.src
                .read_exact(ext.as_mut_bytes())
                .map_err(|_| bad("the archive ends inside a sparse extension header".into()))?;
            self.offset += BLOCK;
            ext.sparse.iter().try_for_each(&mut add)?;
            more = ext.is_extended();
        }
        let real = gnu
            .real_size()
            .map_err(|e| bad(format!("sparse real size: {e}")))?;
        e.kind = EntryType::Regular;
        e.size = real;
        self.data.map = Some(check_map(map, real, self.data.stored_left).map_err(bad)?);
        Ok(())
    }

    /// A PAX sparse file (format 1.0): the map is at the start of the data, decimal numbers
    /// one a line (count, then offset and length per chunk), padded to a block.
    fn pax_sparse(&mut self, s: &SparsePax, e: &mut Entry) -> Result<(), Error> {
        if let Some(name) = &s.name {
            e.path.clone_from(name);
        }
        let (here, path) = (e.offset, e.path.clone());
        let bad = |reason: String| fmt_err(&path, here, reason);
        if (s.major, s.minor) != (Some(1), Some(0)) || s.old {
            return Err(bad(format!(
                "PAX sparse format {:?}.{:?} is not supported (GNU tar writes 1.0)",
                s.major, s.minor
            )));
        }
        let real = s
            .realsize
            .ok_or_else(|| bad("PAX sparse file without GNU.sparse.realsize".into()))?;
        let mut numbers = Vec::new();
        let mut line = Vec::new();
        let mut block = [0u8; 512];
        let mut want = 1;
        while numbers.len() < want {
            if self.data.stored_left < BLOCK {
                return Err(bad("the sparse map runs past the entry's data".into()));
            }
            self.src
                .read_exact(&mut block)
                .map_err(|_| bad("the archive ends inside a sparse map".into()))?;
            self.offset += BLOCK;
            self.data.stored_left -= BLOCK;
            for &b in &block {
                if numbers.len() == want {
                    break;
                }
                if b != b'\n' {
                    line.push(b);
                    continue;
                }
                let n = std::str::from_utf8(&line)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| {
                        bad(format!(
                            "sparse map: {:?} is not a number",
                            String::from_utf8_lossy(&line)
                        ))
                    })?;
                line.clear();
                if numbers.is_empty() {
                    if n > self.data.stored_left / 2 + 1 {
                        return Err(bad(format!("sparse map: {n} chunks do not fit the entry")));
                    }
                    want = 1 + 2 * usize::try_from(n).unwrap_or(usize::MAX / 4);
                }
                numbers.push(n);
            }
            if line.len() > 20 {
                return Err(bad("sparse map: a number too long".into()));
            }
        }
        let map = numbers[1..].chunks(2).map(|c| (c[0], c[1])).collect();
        e.size = real;
        self.data.map = Some(check_map(map, real, self.data.stored_left).map_err(bad)?);
        Ok(())
    }

    /// A reader of the current entry's content (`size` bytes, holes as zeros).
    pub fn content(&mut self) -> Content<'_, R> {
        Content { r: self }
    }
}

/// The `GNU.sparse.*` records of an entry.
#[derive(Default)]
struct SparsePax {
    major: Option<u64>,
    minor: Option<u64>,
    realsize: Option<u64>,
    name: Option<Vec<u8>>,
    /// Records of the 0.x formats (`GNU.sparse.map`, `.offset`, `.numbytes`, `.size`).
    old: bool,
}

/// Checks a sparse map: chunks in order, not overlapping, inside the file, their lengths
/// adding up to the data stored.
fn check_map(map: Vec<(u64, u64)>, real: u64, stored: u64) -> Result<Vec<(u64, u64)>, String> {
    let mut end = 0u64;
    let mut total = 0u64;
    for &(off, len) in &map {
        let chunk_end = off
            .checked_add(len)
            .ok_or("sparse map: a chunk overflows")?;
        if off < end || chunk_end > real {
            return Err(format!(
                "sparse map: chunk at {off} of {len} bytes is out of order or past the size {real}"
            ));
        }
        end = chunk_end;
        total = total
            .checked_add(len)
            .ok_or("sparse map: chunks overflow")?;
    }
    if total != stored {
        return Err(format!(
            "sparse map: chunks of {total} bytes, but {stored} bytes stored"
        ));
    }
    Ok(map)
}

/// A PAX time `<seconds>[.<fraction>]`, as whole seconds (rounded down).
fn pax_time(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = secs.parse().ok()?;
    let below = secs.starts_with('-') && frac.bytes().any(|b| b != b'0');
    Some(if below { whole - 1 } else { whole })
}

fn pad(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

/// Reads until `buf` is full or the stream ends; the number of bytes read.
fn read_up_to<R: Read>(src: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The content of the current entry.
#[derive(Debug)]
pub struct Content<'a, R> {
    r: &'a mut TarReader<R>,
}

impl<R: Read> Read for Content<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let d = &mut self.r.data;
        if d.pos >= d.size || buf.is_empty() {
            return Ok(0);
        }
        // Where the next stored byte belongs: the data up to it is a hole (zeros).
        let (stored_at, stored_len) = match &d.map {
            None => (d.pos, d.size - d.pos),
            Some(map) => {
                while d.chunk < map.len() && map[d.chunk].0 + map[d.chunk].1 <= d.pos {
                    d.chunk += 1;
                }
                match map.get(d.chunk) {
                    Some(&(off, len)) => (off, off + len - d.pos.max(off)),
                    None => (d.size, 0),
                }
            }
        };
        let room = buf.len() as u64;
        if d.pos < stored_at {
            let n = usize::try_from((stored_at - d.pos).min(room)).unwrap_or(buf.len());
            buf[..n].fill(0);
            d.pos += n as u64;
            return Ok(n);
        }
        let want = usize::try_from(stored_len.min(room)).unwrap_or(buf.len());
        let n = self.r.src.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends inside an entry's data",
            ));
        }
        let d = &mut self.r.data;
        d.pos += n as u64;
        d.stored_left -= n as u64;
        self.r.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GNU tar 1.34 with vzdump's flags (see tests/fixtures/make-lxc-acl-tar.sh).
    const FIXTURE: &[u8] = include_bytes!("../tests/fixtures/lxc-acl.tar");
    /// The same sparse file in GNU format: an `S` entry with an extension header.
    const GNU_SPARSE: &[u8] = include_bytes!("../tests/fixtures/gnu-sparse.tar");

    fn read_all(tar: &[u8]) -> Vec<(Entry, Vec<u8>)> {
        let mut r = TarReader::new(tar);
        let mut out = Vec::new();
        while let Some(e) = r.next_entry().expect("valid archive") {
            let mut data = Vec::new();
            r.content().read_to_end(&mut data).expect("content");
            assert_eq!(data.len() as u64, e.size);
            out.push((e, data));
        }
        out
    }

    fn sparse_content() -> Vec<u8> {
        let mut v = vec![0u8; 6 * 65536 + 4096];
        for i in 0..6 {
            let s = format!("chunk {i}\n");
            v[i * 65536..][..s.len()].copy_from_slice(s.as_bytes());
        }
        v
    }

    fn record<'a>(e: &'a Entry, key: &str) -> Option<&'a [u8]> {
        e.records
            .iter()
            .find(|r| r.key == key)
            .map(|r| r.value.as_slice())
    }

    #[test]
    fn gnu_tar_archive_with_acls_xattrs_long_names_and_sparse_file() {
        let all = read_all(FIXTURE);
        assert_eq!(
            all.len(),
            12,
            "{:?}",
            all.iter().map(|e| &e.0.path).collect::<Vec<_>>()
        );
        let find = |p: &str| {
            all.iter()
                .find(|(e, _)| e.path == p.as_bytes())
                .unwrap_or_else(|| panic!("{p} not in the archive"))
        };
        let (e, data) = find("./acl-file");
        assert_eq!(data, b"secret\n");
        assert_eq!(
            (e.kind, e.mode, e.mtime),
            (EntryType::Regular, 0o664, 1_714_564_800)
        );
        assert_eq!(
            record(e, "SCHILY.acl.access"),
            Some(
                &b"user::rw-\nuser:1001:rw-\ngroup::r--\ngroup:1002:r--\nmask::rw-\nother::r--\n"[..]
            )
        );
        let (e, _) = find("./var/log/journal/");
        assert_eq!(e.kind, EntryType::Directory);
        let acl = b"user::rwx\ngroup::r-x\ngroup:adm:r-x\nmask::r-x\nother::r-x\n";
        assert_eq!(record(e, "SCHILY.acl.access"), Some(&acl[..]));
        assert_eq!(record(e, "SCHILY.acl.default"), Some(&acl[..]));
        let (e, data) = find("./xattr-file");
        assert_eq!(
            (e.uid, e.gid, data.as_slice()),
            (1001, 1002, &b"tagged\n"[..])
        );
        assert_eq!(
            record(e, "SCHILY.xattr.user.binary"),
            Some(&b"\n\0\xff\nA"[..])
        );
        assert_eq!(
            record(e, "SCHILY.xattr.user.comment"),
            Some(&b"hello world"[..])
        );
        let long = "n".repeat(120);
        let (e, data) = find(&format!("./{long}"));
        assert_eq!(
            (e.kind, data.as_slice()),
            (EntryType::Regular, &b"long\n"[..])
        );
        let (e, _) = find("./long-link");
        assert_eq!(
            (e.kind, e.link.as_deref()),
            (EntryType::Symlink, Some(long.as_bytes()))
        );
        let (e, _) = find("./hard-link");
        assert_eq!(
            (e.kind, e.link.as_deref()),
            (EntryType::Link, Some(&b"./acl-file"[..]))
        );
        // PAX sparse 1.0: the real name and size, holes as zeros, the map not in the data.
        let (e, data) = find("./sparse-file");
        assert_eq!((e.kind, e.size), (EntryType::Regular, 6 * 65536 + 4096));
        assert!(*data == sparse_content(), "sparse content differs");
        assert!(e.records.iter().all(|r| !r.key.starts_with("GNU.sparse")));
    }

    #[test]
    fn gnu_format_sparse_entry_with_an_extension_header() {
        let all = read_all(GNU_SPARSE);
        assert_eq!(all.len(), 1);
        let (e, data) = &all[0];
        assert_eq!(
            (e.path.as_slice(), e.kind),
            (&b"./sparse-file"[..], EntryType::Regular)
        );
        assert!(*data == sparse_content(), "sparse content differs");
    }

    #[test]
    fn unread_content_is_skipped_and_partly_read_content_too() {
        let mut r = TarReader::new(FIXTURE);
        let mut n = 0;
        let mut last = None;
        while let Some(e) = r.next_entry().expect("valid") {
            assert!(last < Some(e.offset));
            last = Some(e.offset);
            let mut three = [0u8; 3];
            if e.size >= 3 && n % 2 == 0 {
                r.content().read_exact(&mut three).expect("3 bytes");
            }
            n += 1;
        }
        assert_eq!(n, 12);
    }

    fn err_of(tar: &[u8]) -> (String, u64, String) {
        let mut r = TarReader::new(tar);
        loop {
            match r.next_entry() {
                Ok(Some(_)) => {
                    let mut sink = Vec::new();
                    if let Err(e) = r.content().read_to_end(&mut sink) {
                        return (String::new(), 0, e.to_string());
                    }
                }
                Ok(None) => panic!("no error"),
                Err(Error::TarFormat {
                    entry,
                    offset,
                    reason,
                }) => return (entry, offset, reason),
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn at(needle: &[u8]) -> usize {
        FIXTURE
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("in the fixture")
    }

    #[test]
    fn damaged_archives_are_errors_naming_the_entry_and_offset() {
        let x = at(b"./PaxHeaders/acl-file\0");
        let (entry, offset, why) = err_of(&FIXTURE[..x + 600]);
        assert_eq!(
            (entry.as_str(), offset),
            ("./PaxHeaders/acl-file", x as u64),
            "{why}"
        );
        assert!(why.contains("ends inside an extension header"), "{why}");

        // The ACL record's length one too large: the value's newlines do not matter, the
        // length does.
        let rec = at(b"93 SCHILY.acl.access=");
        let mut bad = FIXTURE.to_vec();
        bad[rec + 1] = b'4';
        let (entry, offset, why) = err_of(&bad);
        assert_eq!(
            (entry.as_str(), offset),
            ("./PaxHeaders/acl-file", x as u64)
        );
        assert!(
            why.contains(&format!("at byte {} of the extended header", rec - x - 512)),
            "{why}"
        );

        let member = at(b"./acl-file\0");
        let mut bad = FIXTURE.to_vec();
        bad[member + 3] ^= 1;
        let (_, offset, why) = err_of(&bad);
        assert_eq!(offset, member as u64);
        assert!(why.contains("checksum mismatch"), "{why}");

        let (_, _, why) = err_of(&FIXTURE[..member + 512 + 3]);
        assert!(why.contains("ends inside an entry's data"), "{why}");

        let (_, _, why) = err_of(&FIXTURE[..member + 100]);
        assert!(why.contains("ends inside a header"), "{why}");

        // Cut between two entries: not the end of the archive.
        let (_, offset, why) = err_of(&FIXTURE[..x]);
        assert_eq!(offset, x as u64);
        assert!(
            why.contains("without its end-of-archive zero blocks"),
            "{why}"
        );
    }

    #[test]
    fn pax_times_round_down_to_whole_seconds() {
        for (v, want) in [
            ("1714564800", Some(1_714_564_800)),
            ("1714564800.999999999", Some(1_714_564_800)),
            ("-1.5", Some(-2)),
            ("-1.000", Some(-1)),
            ("1.x", None),
            ("", None),
            ("x", None),
        ] {
            assert_eq!(pax_time(v.as_bytes()), want, "{v}");
        }
    }
}
