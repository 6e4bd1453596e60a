//! Bring a directory to equal a tar stream (an LXC vzdump archive), touching only what
//! changed — the file-tree counterpart of the block sync used for VM images.
//!
//! One pass over the tar, then one walk of the directory:
//! - **regular files** are compared with the file already there in 4 KiB blocks; only blocks
//!   that differ are written (in place), and the length is fixed. Size and mtime are never
//!   trusted to skip the compare: a same-size, same-mtime file with other content is still
//!   rewritten. A new file's all-zero blocks are not written (they stay holes).
//! - **directories, symlinks, hard links, character/block devices and FIFOs** are created or
//!   replaced when their type, target or device number differs.
//! - **metadata** — permission bits, numeric owner, mtime (whole seconds, as tar stores it)
//!   and the `user.*`/`security.*` extended attributes carried as PAX `SCHILY.xattr.*`
//!   records — is changed only where it differs, so an unchanged file costs nothing in the
//!   next snapshot. Directory metadata is applied after the pass (creating entries changes a
//!   directory's mtime). POSIX ACLs (`SCHILY.acl.access`/`SCHILY.acl.default` records, text)
//!   become the `system.posix_acl_access`/`system.posix_acl_default` xattrs ([`crate::acl`]),
//!   set or removed like the other xattrs (so an ACL a new file inherited from its directory's
//!   default ACL is removed when the archive has none for it); xattrs and ACLs are applied
//!   before the mode, because setting an access ACL also sets the group bits. An ACL that
//!   names a user or group this host does not know cannot be set here (its id is unknown):
//!   its text is kept in a `trusted.zferry.*` xattr instead ([`acl::STASH_ACCESS`]), counted
//!   and logged, and [`write_tar`] writes it back as the archive had it, so the backup is
//!   ingested whole and restores exactly; the permission bits are then the tar header's.
//! - **removed entries**: anything in the directory the archive no longer has is deleted.
//!
//! Hard links: each regular entry owns one inode. An existing file whose inode another entry
//! of this pass already owns, or that is shared (link count > 1) and must change, is replaced
//! by a new file instead of being written in place, so writing one path never changes
//! another; a hard-link entry then points its path at its target's inode.
//!
//! Safety: entry names are normalised (`./` and `/` prefixes dropped) and refused when they
//! contain `..`; every parent directory is checked to be a real directory (an old symlink
//! in the way is replaced, never followed), so nothing is written outside the directory.
//! A name seen twice in one archive is refused.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, CWD, FileType, Mode, Timespec, Timestamps, XattrFlags};
use serde::Serialize;
use tar::EntryType;

use zferry_progress::Meter;

use crate::acl;
use crate::error::{Error, io_err};
use crate::pax;
use crate::tarread::{Entry, TarReader};

const BLOCK: usize = 4096;

/// What bringing the tree up to date did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TreeReport {
    /// Entries in the archive.
    pub entries: u64,
    /// Regular files in the archive and their total size.
    pub files: u64,
    pub file_bytes: u64,
    /// Entries created (new path or replaced because the type changed).
    pub created: u64,
    /// Existing regular files whose content changed.
    pub files_changed: u64,
    /// Bytes of file content written.
    pub bytes_written: u64,
    /// Entries whose metadata (mode, owner, mtime, xattrs) was changed.
    pub metadata_changed: u64,
    /// Paths removed because the archive no longer has them.
    pub removed: u64,
    /// ACLs kept as their archive text because they name a user or group this host does not
    /// know (see the module docs).
    pub acls_kept_as_text: u64,
}

/// Metadata of one tar entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// What kind of entry a seen path is (parents must be directories).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Dir,
    Other,
}

/// State of one pass.
struct Sync<'a> {
    root: &'a Path,
    /// This host's user and group names, for ACL entries that name one.
    names: acl::Names,
    meter: Option<&'a Meter>,
    seen: HashMap<PathBuf, Seen>,
    /// Inodes owned by a regular entry of this pass.
    owned: HashSet<(u64, u64)>,
    dirs: Vec<(PathBuf, Meta)>,
    report: TreeReport,
}

/// Xattr namespaces vzdump's tar carries as `SCHILY.xattr.*` (`--xattrs-include=user.*`,
/// `security.capability`); others are left alone.
fn tar_xattr(name: &[u8]) -> bool {
    name.starts_with(b"user.") || name.starts_with(b"security.")
}

fn acl_xattr(name: &[u8]) -> bool {
    name == acl::XATTR_ACCESS || name == acl::XATTR_DEFAULT
}

fn stash_xattr(name: &[u8]) -> bool {
    name == acl::STASH_ACCESS || name == acl::STASH_DEFAULT
}

/// Xattrs this sync manages: the tar's xattrs and the ACLs (from `SCHILY.acl.*`, as ACLs or
/// as kept text).
fn managed_xattr(name: &[u8]) -> bool {
    tar_xattr(name) || acl_xattr(name) || stash_xattr(name)
}

/// The entry's path relative to the tree root; `None` for the root itself (`./`).
pub fn normalize(raw: &[u8]) -> Result<Option<PathBuf>, Error> {
    let bad = |reason: &'static str| Error::BadTarEntry {
        entry: String::from_utf8_lossy(raw).into_owned(),
        reason,
    };
    let mut out = PathBuf::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => return Err(bad("contains '..'")),
            Component::Prefix(_) => return Err(bad("not a Unix path")),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Makes `root` equal the tar stream `src`; see the module docs. `cancel` is checked between
/// entries.
pub fn sync_tar<R: Read>(
    src: R,
    root: &Path,
    cancel: Option<&AtomicBool>,
) -> Result<TreeReport, Error> {
    sync_tar_metered(src, root, cancel, None)
}

/// [`sync_tar`], counting each regular file's bytes compared and written into `meter` (once
/// per file).
pub fn sync_tar_metered<R: Read>(
    src: R,
    root: &Path,
    cancel: Option<&AtomicBool>,
    meter: Option<&Meter>,
) -> Result<TreeReport, Error> {
    fs::create_dir_all(root).map_err(io_err(root))?;
    let mut s = Sync {
        root,
        names: acl::Names::of_host(),
        meter,
        seen: HashMap::new(),
        owned: HashSet::new(),
        dirs: Vec::new(),
        report: TreeReport::default(),
    };
    let mut ar = TarReader::new(src);
    loop {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(Error::Cancelled);
        }
        let Some(e) = ar.next_entry()? else { break };
        s.report.entries += 1;
        s.entry(&e, &mut ar)?;
    }
    // Removals change their directory's mtime: first remove, then set directory metadata,
    // deepest first, so a parent's mtime is set after its children's changes.
    s.remove_unseen(root, Path::new(""))?;
    let mut dirs = std::mem::take(&mut s.dirs);
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0.components().count()));
    for (rel, meta) in &dirs {
        let abs = root.join(rel);
        s.apply_meta(&abs, meta, false)?;
    }
    Ok(s.report)
}

fn entry_meta(e: &Entry, names: &acl::Names) -> Result<Meta, Error> {
    let path = String::from_utf8_lossy(&e.path).into_owned();
    let bad = |reason| Error::BadTarEntry {
        entry: path.clone(),
        reason,
    };
    let mut meta = Meta {
        mode: e.mode,
        uid: u32::try_from(e.uid).map_err(|_| bad("uid does not fit 32 bits"))?,
        gid: u32::try_from(e.gid).map_err(|_| bad("gid does not fit 32 bits"))?,
        mtime: e.mtime,
        xattrs: Vec::new(),
    };
    for rec in &e.records {
        if let Some(name) = rec.key.strip_prefix("SCHILY.xattr.")
            && tar_xattr(name.as_bytes())
        {
            meta.xattrs
                .push((name.as_bytes().to_vec(), rec.value.clone()));
            continue;
        }
        let (xattr, stash) = match rec.key.as_bytes() {
            k if k == acl::PAX_ACCESS => (acl::XATTR_ACCESS, acl::STASH_ACCESS),
            k if k == acl::PAX_DEFAULT => (acl::XATTR_DEFAULT, acl::STASH_DEFAULT),
            _ => continue,
        };
        let bad_acl = |reason: String| Error::BadAcl {
            entry: path.clone(),
            record: rec.key.clone(),
            reason,
        };
        let text =
            std::str::from_utf8(&rec.value).map_err(|_| bad_acl("not UTF-8 text".to_owned()))?;
        if text.trim().is_empty() {
            continue;
        }
        let parsed = match acl::Acl::parse_text(text, names) {
            Ok(acl) => acl,
            Err(err) if err.unknown_name => {
                tracing::warn!(entry = %path, record = %rec.key, reason = %err,
                    "ACL kept as its archive text: this host cannot map the name to an id; a restore writes it back unchanged");
                meta.xattrs.push((stash.to_vec(), rec.value.clone()));
                continue;
            }
            Err(err) => return Err(bad_acl(format!("{err} (record: {text:?})"))),
        };
        // The access ACL and the permission bits are one: tar sets the ACL after the mode,
        // so the ACL's owner, mask and other entries are the bits the file ends up with.
        if xattr == acl::XATTR_ACCESS {
            meta.mode = (meta.mode & 0o7000) | parsed.mode_bits();
        }
        // Linux keeps no access ACL equal to the mode bits; the mode carries it.
        if xattr == acl::XATTR_DEFAULT || !parsed.is_minimal() {
            meta.xattrs.push((xattr.to_vec(), parsed.to_xattr()));
        }
    }
    meta.xattrs.sort();
    Ok(meta)
}

impl Sync<'_> {
    /// The entry's metadata, counting the ACLs kept as text.
    fn meta_of(&mut self, e: &Entry) -> Result<Meta, Error> {
        let meta = entry_meta(e, &self.names)?;
        let kept = meta.xattrs.iter().filter(|(k, _)| stash_xattr(k)).count();
        self.report.acls_kept_as_text += kept as u64;
        Ok(meta)
    }

    fn entry<R: Read>(&mut self, e: &Entry, ar: &mut TarReader<R>) -> Result<(), Error> {
        let raw = &e.path;
        let kind = e.kind;
        let Some(rel) = normalize(raw)? else {
            // `./`: the root directory itself.
            if kind.is_dir() {
                let meta = self.meta_of(e)?;
                self.dirs.push((PathBuf::new(), meta));
            }
            return Ok(());
        };
        let bad = |reason| Error::BadTarEntry {
            entry: String::from_utf8_lossy(raw).into_owned(),
            reason,
        };
        if self.seen.contains_key(&rel) {
            return Err(bad("appears twice in the archive"));
        }
        self.ensure_parents(&rel)?;
        let abs = self.root.join(&rel);
        let meta = self.meta_of(e)?;
        let old = symlink_meta(&abs)?;
        match kind {
            EntryType::Directory => {
                if !old.as_ref().is_some_and(fs::Metadata::is_dir) {
                    self.replace_with(&abs, old.as_ref(), |p| fs::create_dir(p))?;
                }
                self.seen.insert(rel.clone(), Seen::Dir);
                self.dirs.push((rel, meta));
                return Ok(());
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.file(&mut ar.content(), e.size, &abs, old.as_ref())?;
                self.apply_meta(&abs, &meta, false)?;
            }
            EntryType::Symlink => {
                let target = e
                    .link
                    .as_deref()
                    .ok_or_else(|| bad("symlink without a target"))?;
                let target = PathBuf::from(OsStr::from_bytes(target));
                let same = old.as_ref().is_some_and(|m| m.file_type().is_symlink())
                    && fs::read_link(&abs).map_err(io_err(&abs))? == target;
                if !same {
                    self.replace_with(&abs, old.as_ref(), |p| {
                        std::os::unix::fs::symlink(&target, p)
                    })?;
                }
                self.apply_meta(&abs, &meta, true)?;
            }
            EntryType::Link => {
                let target = e
                    .link
                    .as_deref()
                    .ok_or_else(|| bad("hard link without a target"))?;
                let target = normalize(target)?.ok_or_else(|| bad("hard link to the root"))?;
                if self.seen.get(&target) != Some(&Seen::Other) {
                    return Err(bad("hard link to an entry not seen before"));
                }
                let tabs = self.root.join(&target);
                let tmeta = fs::symlink_metadata(&tabs).map_err(io_err(&tabs))?;
                let same = old
                    .as_ref()
                    .is_some_and(|m| (m.dev(), m.ino()) == (tmeta.dev(), tmeta.ino()));
                if !same {
                    self.replace_with(&abs, old.as_ref(), |p| fs::hard_link(&tabs, p))?;
                }
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                self.node(e, kind, &abs, old.as_ref(), &meta)?;
                self.apply_meta(&abs, &meta, false)?;
            }
            _ => {
                tracing::warn!(entry = %rel.display(), ?kind, "skipping unsupported tar entry type");
                return Ok(());
            }
        }
        self.seen.insert(rel, Seen::Other);
        Ok(())
    }

    /// Every ancestor of `rel` is a real directory (created, or replacing a non-directory).
    fn ensure_parents(&mut self, rel: &Path) -> Result<(), Error> {
        let mut prefix = PathBuf::new();
        let parts: Vec<_> = rel.components().collect();
        for c in &parts[..parts.len().saturating_sub(1)] {
            prefix.push(c);
            match self.seen.get(&prefix) {
                Some(Seen::Dir) => continue,
                Some(Seen::Other) => {
                    return Err(Error::BadTarEntry {
                        entry: rel.display().to_string(),
                        reason: "a parent is not a directory in the archive",
                    });
                }
                None => {}
            }
            let abs = self.root.join(&prefix);
            let old = symlink_meta(&abs)?;
            if !old.as_ref().is_some_and(fs::Metadata::is_dir) {
                self.replace_with(&abs, old.as_ref(), |p| fs::create_dir(p))?;
            }
            self.seen.insert(prefix.clone(), Seen::Dir);
        }
        Ok(())
    }

    /// Removes whatever is at `abs` (if anything) and creates the new entry with `make`.
    fn replace_with(
        &mut self,
        abs: &Path,
        old: Option<&fs::Metadata>,
        make: impl FnOnce(&Path) -> io::Result<()>,
    ) -> Result<(), Error> {
        if let Some(m) = old {
            remove_any(abs, m)?;
        }
        make(abs).map_err(io_err(abs))?;
        self.report.created += 1;
        Ok(())
    }

    /// Regular file content: in place when the inode is this entry's alone, through a new
    /// file when it is shared with other links (kept only if the content differs).
    fn file<R: Read>(
        &mut self,
        e: &mut R,
        size: u64,
        abs: &Path,
        old: Option<&fs::Metadata>,
    ) -> Result<(), Error> {
        self.report.files += 1;
        self.report.file_bytes += size;
        let reuse =
            old.filter(|m| m.file_type().is_file() && !self.owned.contains(&(m.dev(), m.ino())));
        let (written, differs) = match reuse {
            Some(m) if m.nlink() == 1 => {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(abs)
                    .map_err(io_err(abs))?;
                sync_content(e, &f, Some(&f), m.len(), size, abs)?
            }
            Some(m) => {
                let name = abs.file_name().unwrap_or_default().to_string_lossy();
                let tmp = abs.with_file_name(format!(".zferry-tmp.{name}"));
                let oldf = File::open(abs).map_err(io_err(abs))?;
                match sync_shared(e, &oldf, m.len(), size, &tmp) {
                    Ok(Some(n)) => {
                        fs::rename(&tmp, abs).map_err(io_err(abs))?;
                        self.report.created += 1;
                        (n, true)
                    }
                    Ok(None) => (0, false),
                    Err(err) => {
                        let _ = fs::remove_file(&tmp);
                        return Err(err);
                    }
                }
            }
            None => {
                if let Some(m) = old {
                    remove_any(abs, m)?;
                }
                self.report.created += 1;
                let f = File::create_new(abs).map_err(io_err(abs))?;
                let (n, _) = sync_content(e, &f, None, 0, size, abs)?;
                (n, false)
            }
        };
        if differs {
            self.report.files_changed += 1;
        }
        self.report.bytes_written += written;
        if let Some(meter) = self.meter {
            meter.add_compared(size);
            meter.add_written(written);
        }
        let m = fs::symlink_metadata(abs).map_err(io_err(abs))?;
        self.owned.insert((m.dev(), m.ino()));
        Ok(())
    }

    fn node(
        &mut self,
        e: &Entry,
        kind: EntryType,
        abs: &Path,
        old: Option<&fs::Metadata>,
        meta: &Meta,
    ) -> Result<(), Error> {
        let rdev = rustix::fs::makedev(e.dev_major, e.dev_minor);
        let (ft, same_type): (FileType, fn(&fs::FileType) -> bool) = match kind {
            EntryType::Char => (FileType::CharacterDevice, fs::FileType::is_char_device),
            EntryType::Block => (FileType::BlockDevice, fs::FileType::is_block_device),
            _ => (FileType::Fifo, fs::FileType::is_fifo),
        };
        let same = old.is_some_and(|m| same_type(&m.file_type()) && m.rdev() == rdev);
        if !same {
            let mode = Mode::from_raw_mode(meta.mode);
            self.replace_with(abs, old, |p| {
                rustix::fs::mknodat(CWD, p, ft, mode, rdev).map_err(io::Error::from)
            })?;
        }
        Ok(())
    }

    /// Sets owner, mode, xattrs and mtime where they differ (`symlink`: no mode, no xattrs).
    fn apply_meta(&mut self, abs: &Path, want: &Meta, symlink: bool) -> Result<(), Error> {
        let m = fs::symlink_metadata(abs).map_err(io_err(abs))?;
        let mut changed = false;
        if (m.uid(), m.gid()) != (want.uid, want.gid) {
            std::os::unix::fs::lchown(abs, Some(want.uid), Some(want.gid)).map_err(io_err(abs))?;
            changed = true;
        }
        // Xattrs before the mode: setting an access ACL sets the group bits from its mask.
        if !symlink && sync_xattrs(abs, &want.xattrs)? {
            changed = true;
        }
        // After chown (it clears set-id bits) and ACLs: what the mode is now.
        let m = if changed {
            fs::symlink_metadata(abs).map_err(io_err(abs))?
        } else {
            m
        };
        if !symlink && m.mode() & 0o7777 != want.mode {
            fs::set_permissions(abs, fs::Permissions::from_mode(want.mode)).map_err(io_err(abs))?;
            changed = true;
        }
        if (m.mtime(), m.mtime_nsec()) != (want.mtime, 0) {
            let t = Timespec {
                tv_sec: want.mtime,
                tv_nsec: 0,
            };
            let times = Timestamps {
                last_access: t,
                last_modification: t,
            };
            rustix::fs::utimensat(CWD, abs, &times, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| io_err(abs)(e.into()))?;
            changed = true;
        }
        if changed {
            self.report.metadata_changed += 1;
        }
        Ok(())
    }

    /// Deletes everything under `root/rel` that this pass did not see.
    fn remove_unseen(&mut self, root: &Path, rel: &Path) -> Result<(), Error> {
        let dir = root.join(rel);
        let mut names: Vec<_> = fs::read_dir(&dir)
            .map_err(io_err(&dir))?
            .map(|d| d.map(|d| d.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err(&dir))?;
        names.sort();
        for name in names {
            let child = rel.join(&name);
            match self.seen.get(&child) {
                Some(Seen::Dir) => self.remove_unseen(root, &child)?,
                Some(Seen::Other) => {}
                None => {
                    let abs = root.join(&child);
                    let m = fs::symlink_metadata(&abs).map_err(io_err(&abs))?;
                    remove_any(&abs, &m)?;
                    self.report.removed += 1;
                }
            }
        }
        Ok(())
    }
}

fn symlink_meta(p: &Path) -> Result<Option<fs::Metadata>, Error> {
    match fs::symlink_metadata(p) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(p)(e)),
    }
}

fn remove_any(p: &Path, m: &fs::Metadata) -> Result<(), Error> {
    if m.is_dir() {
        fs::remove_dir_all(p)
    } else {
        fs::remove_file(p)
    }
    .map_err(io_err(p))
}

/// Reads exactly `buf.len()` bytes (the tar entry is exactly `size` long).
fn read_full<R: Read>(src: &mut R, buf: &mut [u8], path: &Path) -> Result<(), Error> {
    src.read_exact(buf).map_err(|source| Error::Tar {
        source: io::Error::new(
            source.kind(),
            format!("reading the data for {}: {source}", path.display()),
        ),
    })
}

/// Streams `size` bytes of `src` into `dst`, comparing with `old` (`old_len` bytes) block by
/// block. When `old` is `dst` itself only differing blocks are written; otherwise `dst` is a
/// new file and gets every non-zero block. Fixes `dst`'s length. Returns the bytes written
/// and whether the content differs from `old`.
fn sync_content<R: Read>(
    src: &mut R,
    dst: &File,
    old: Option<&File>,
    old_len: u64,
    size: u64,
    path: &Path,
) -> Result<(u64, bool), Error> {
    let in_place = old.is_some_and(|o| std::ptr::eq(o, dst));
    let mut buf = vec![0u8; 32 * BLOCK];
    let mut prev = vec![0u8; 32 * BLOCK];
    let (mut off, mut written, mut differs) = (0u64, 0u64, old_len != size);
    while off < size {
        let n = usize::try_from((size - off).min(buf.len() as u64)).unwrap_or(buf.len());
        read_full(src, &mut buf[..n], path)?;
        let have = usize::try_from(old_len.saturating_sub(off).min(n as u64)).unwrap_or(0);
        if let Some(o) = old
            && have > 0
        {
            o.read_exact_at(&mut prev[..have], off)
                .map_err(io_err(path))?;
        }
        for (i, blk) in buf[..n].chunks(BLOCK).enumerate() {
            let at = i * BLOCK;
            let end = at + blk.len();
            let same = if end <= have {
                prev[at..end] == *blk
            } else if at >= have {
                is_zero(blk)
            } else {
                prev[at..have] == blk[..have - at] && is_zero(&blk[have - at..])
            };
            differs |= !same;
            let write = if in_place { !same } else { !is_zero(blk) };
            if write {
                dst.write_all_at(blk, off + at as u64)
                    .map_err(io_err(path))?;
                written += blk.len() as u64;
            }
        }
        off += n as u64;
    }
    let len = dst.metadata().map_err(io_err(path))?.len();
    if len != size {
        dst.set_len(size).map_err(io_err(path))?;
    }
    Ok((written, differs))
}

/// For an inode shared with other links: compares `src` with `old` without writing; from
/// the first difference on (or at the end when only the length differs) builds the new
/// content in `tmp` (the equal prefix copied from `old`). `None`: identical, nothing written.
fn sync_shared<R: Read>(
    src: &mut R,
    old: &File,
    old_len: u64,
    size: u64,
    tmp: &Path,
) -> Result<Option<u64>, Error> {
    let mut buf = vec![0u8; 32 * BLOCK];
    let mut prev = vec![0u8; 32 * BLOCK];
    let (mut off, mut written) = (0u64, 0u64);
    let mut out: Option<File> = None;
    while off < size {
        let n = usize::try_from((size - off).min(buf.len() as u64)).unwrap_or(buf.len());
        read_full(src, &mut buf[..n], tmp)?;
        if out.is_none() {
            let have = usize::try_from(old_len.saturating_sub(off).min(n as u64)).unwrap_or(0);
            if have == n {
                old.read_exact_at(&mut prev[..n], off)
                    .map_err(io_err(tmp))?;
                if prev[..n] == buf[..n] {
                    off += n as u64;
                    continue;
                }
            }
            let t = File::create(tmp).map_err(io_err(tmp))?;
            written += copy_prefix(old, &t, off, tmp)?;
            out = Some(t);
        }
        if let Some(t) = &out {
            written += write_nonzero(t, &buf[..n], off, tmp)?;
        }
        off += n as u64;
    }
    let t = match out {
        Some(t) => t,
        None if old_len == size => return Ok(None),
        None => {
            let t = File::create(tmp).map_err(io_err(tmp))?;
            written += copy_prefix(old, &t, size.min(old_len), tmp)?;
            t
        }
    };
    t.set_len(size).map_err(io_err(tmp))?;
    Ok(Some(written))
}

/// Copies the first `len` bytes of `old` into `dst` (zero blocks left as holes).
fn copy_prefix(old: &File, dst: &File, len: u64, path: &Path) -> Result<u64, Error> {
    let mut buf = vec![0u8; 32 * BLOCK];
    let (mut off, mut written) = (0u64, 0u64);
    while off < len {
        let n = usize::try_from((len - off).min(buf.len() as u64)).unwrap_or(buf.len());
        old.read_exact_at(&mut buf[..n], off)
            .map_err(io_err(path))?;
        written += write_nonzero(dst, &buf[..n], off, path)?;
        off += n as u64;
    }
    Ok(written)
}

/// Writes the non-zero 4 KiB blocks of `data` at `off`.
fn write_nonzero(dst: &File, data: &[u8], off: u64, path: &Path) -> Result<u64, Error> {
    let mut written = 0;
    for (i, blk) in data.chunks(BLOCK).enumerate() {
        if !is_zero(blk) {
            dst.write_all_at(blk, off + (i * BLOCK) as u64)
                .map_err(io_err(path))?;
            written += blk.len() as u64;
        }
    }
    Ok(written)
}

fn is_zero(b: &[u8]) -> bool {
    zferry_vma::writer::is_zero(b)
}

/// Makes the managed xattrs of `p` equal `want` (sorted); true if anything changed.
fn sync_xattrs(p: &Path, want: &[(Vec<u8>, Vec<u8>)]) -> Result<bool, Error> {
    let xerr = |e: rustix::io::Errno| io_err(p)(io::Error::from(e));
    let len = rustix::fs::llistxattr_query(p).map_err(xerr)?;
    let mut list = vec![0u8; len];
    let n = rustix::fs::llistxattr(p, &mut list[..]).map_err(xerr)?;
    let mut changed = false;
    for name in list[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if managed_xattr(name) && !want.iter().any(|(k, _)| k == name) {
            rustix::fs::lremovexattr(p, OsStr::from_bytes(name)).map_err(xerr)?;
            changed = true;
        }
    }
    for (k, v) in want {
        let name = OsStr::from_bytes(k);
        let current = match rustix::fs::lgetxattr_query(p, name) {
            Ok(len) => {
                let mut buf = vec![0u8; len];
                let n = rustix::fs::lgetxattr(p, name, &mut buf[..]).map_err(xerr)?;
                buf.truncate(n);
                Some(buf)
            }
            Err(rustix::io::Errno::NODATA) => None,
            Err(e) => return Err(xerr(e)),
        };
        if current.as_deref() != Some(v.as_slice()) {
            match rustix::fs::lsetxattr(p, name, v, XattrFlags::empty()) {
                Err(rustix::io::Errno::NOTSUP) if acl_xattr(k) => {
                    return Err(Error::AclUnsupported { path: p.to_owned() });
                }
                r => r.map_err(xerr)?,
            }
            changed = true;
        }
    }
    Ok(changed)
}

/// What [`write_tar`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TarReport {
    pub entries: u64,
    pub file_bytes: u64,
}

/// Writes the tree at `root` as a tar like vzdump's: numeric owners, GNU headers,
/// `SCHILY.xattr.*` PAX records for `user.*`/`security.*` xattrs and `SCHILY.acl.access`/
/// `SCHILY.acl.default` records (GNU tar's numeric text form) for POSIX ACLs. Names are relative and the
/// root is `./` (the tar crate drops the `./` prefix vzdump puts on the others; tar ignores it
/// on extraction anyway). The inverse of [`sync_tar`], for `pct restore`. Entries are sorted by
/// name; a file with several links is stored once and then as hard links to its first name.
pub fn write_tar<W: io::Write>(root: &Path, out: W) -> Result<(W, TarReport), Error> {
    write_tar_metered(root, out, None)
}

/// [`write_tar`], counting each file's content bytes as read into `meter` (once per file).
pub fn write_tar_metered<W: io::Write>(
    root: &Path,
    out: W,
    meter: Option<&Meter>,
) -> Result<(W, TarReport), Error> {
    let mut b = tar::Builder::new(out);
    let mut report = TarReport::default();
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    append_tree(&mut b, root, Path::new(""), &mut links, &mut report, meter)?;
    let tar_err = |source: io::Error| Error::Tar { source };
    let out = b.into_inner().map_err(tar_err)?;
    Ok((out, report))
}

fn tar_name(rel: &Path, dir: bool) -> PathBuf {
    let mut s = std::ffi::OsString::from("./");
    s.push(rel.as_os_str());
    if dir && !rel.as_os_str().is_empty() {
        s.push("/");
    }
    PathBuf::from(s)
}

fn append_tree<W: io::Write>(
    b: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
    report: &mut TarReport,
    meter: Option<&Meter>,
) -> Result<(), Error> {
    let abs = root.join(rel);
    let m = fs::symlink_metadata(&abs).map_err(io_err(&abs))?;
    let ft = m.file_type();
    let tar_err = |source: io::Error| Error::Tar { source };
    let mut h = tar::Header::new_gnu();
    h.set_mode(m.mode() & 0o7777);
    h.set_uid(u64::from(m.uid()));
    h.set_gid(u64::from(m.gid()));
    h.set_mtime(u64::try_from(m.mtime()).unwrap_or(0));
    h.set_size(0);
    // A second link of a file is a hard-link entry: the first one carries the xattrs.
    let later_link = ft.is_file() && m.nlink() > 1 && links.contains_key(&(m.dev(), m.ino()));
    if !ft.is_symlink() && !later_link {
        append_xattrs(b, &abs)?;
    }
    let name = tar_name(rel, ft.is_dir());
    report.entries += 1;
    if ft.is_dir() {
        h.set_entry_type(EntryType::Directory);
        b.append_data(&mut h, &name, io::empty()).map_err(tar_err)?;
        let mut children: Vec<_> = fs::read_dir(&abs)
            .map_err(io_err(&abs))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err(&abs))?;
        children.sort();
        for c in children {
            append_tree(b, root, &rel.join(c), links, report, meter)?;
        }
    } else if ft.is_symlink() {
        h.set_entry_type(EntryType::Symlink);
        let target = fs::read_link(&abs).map_err(io_err(&abs))?;
        b.append_link(&mut h, &name, &target).map_err(tar_err)?;
    } else if ft.is_file() {
        if m.nlink() > 1 {
            if let Some(first) = links.get(&(m.dev(), m.ino())) {
                h.set_entry_type(EntryType::Link);
                b.append_link(&mut h, &name, tar_name(first, false))
                    .map_err(tar_err)?;
                return Ok(());
            }
            links.insert((m.dev(), m.ino()), rel.to_owned());
        }
        h.set_entry_type(EntryType::Regular);
        h.set_size(m.len());
        report.file_bytes += m.len();
        let f = File::open(&abs).map_err(io_err(&abs))?;
        b.append_data(&mut h, &name, io::BufReader::with_capacity(1 << 20, f))
            .map_err(tar_err)?;
        if let Some(meter) = meter {
            meter.add_read(m.len());
        }
    } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
        h.set_entry_type(if ft.is_char_device() {
            EntryType::Char
        } else if ft.is_block_device() {
            EntryType::Block
        } else {
            EntryType::Fifo
        });
        let rdev = m.rdev();
        h.set_device_major(rustix::fs::major(rdev))
            .map_err(tar_err)?;
        h.set_device_minor(rustix::fs::minor(rdev))
            .map_err(tar_err)?;
        b.append_data(&mut h, &name, io::empty()).map_err(tar_err)?;
    } else {
        tracing::warn!(path = %abs.display(), "skipping a socket or unknown file type");
        report.entries -= 1;
    }
    Ok(())
}

/// A PAX header with the managed xattrs of `p`, if it has any.
fn append_xattrs<W: io::Write>(b: &mut tar::Builder<W>, p: &Path) -> Result<(), Error> {
    let xerr = |e: rustix::io::Errno| io_err(p)(io::Error::from(e));
    let len = match rustix::fs::llistxattr_query(p) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Ok(()),
        Err(e) => return Err(xerr(e)),
    };
    let mut list = vec![0u8; len];
    let n = rustix::fs::llistxattr(p, &mut list[..]).map_err(xerr)?;
    let mut records = Vec::new();
    let mut names: Vec<&[u8]> = list[..n]
        .split(|&c| c == 0)
        .filter(|n| managed_xattr(n))
        .collect();
    names.sort_unstable();
    for name in names {
        let key = OsStr::from_bytes(name);
        let vlen = rustix::fs::lgetxattr_query(p, key).map_err(xerr)?;
        let mut v = vec![0u8; vlen];
        let vn = rustix::fs::lgetxattr(p, key, &mut v[..]).map_err(xerr)?;
        v.truncate(vn);
        if tar_xattr(name) {
            pax::write_record(&mut records, &[&b"SCHILY.xattr."[..], name].concat(), &v);
            continue;
        }
        let record = if name == acl::XATTR_ACCESS || name == acl::STASH_ACCESS {
            acl::PAX_ACCESS
        } else {
            acl::PAX_DEFAULT
        };
        if stash_xattr(name) {
            // The text as the archive had it, names and all (see the module docs).
            pax::write_record(&mut records, record, &v);
            continue;
        }
        let text = acl::Acl::from_xattr(&v)
            .map_err(|err| Error::BadAcl {
                entry: p.display().to_string(),
                record: String::from_utf8_lossy(name).into_owned(),
                reason: err.to_string(),
            })?
            .to_text();
        pax::write_record(&mut records, record, text.as_bytes());
    }
    if records.is_empty() {
        return Ok(());
    }
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(EntryType::XHeader);
    h.set_mode(0o644);
    h.set_size(records.len() as u64);
    b.append_data(&mut h, "././@PaxHeader", &records[..])
        .map_err(|source| Error::Tar { source })
}
