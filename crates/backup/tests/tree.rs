//! `sync_tar` into a temporary directory (no ZFS): a container archive becomes a file tree
//! with types, links, owners, modes, mtimes and xattrs; a second identical archive writes
//! nothing; changes rewrite only changed blocks and files; removed entries disappear; names
//! that would escape the directory are refused.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::{Builder, EntryType, Header};
use zferry_backup::{Error, sync_tar};

/// A valid `security.capability` value (VFS_CAP_REVISION_2, effective, cap_net_raw):
/// the kernel refuses malformed ones.
const CAP_NET_RAW: &[u8] = &[
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// A tar under construction, entries named `./…` as vzdump writes them.
struct Tar(Builder<Vec<u8>>);

impl Tar {
    fn new() -> Self {
        Tar(Builder::new(Vec::new()))
    }
    fn header(kind: EntryType, mode: u32, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(1000);
        h.set_gid(1001);
        h.set_mtime(1_700_000_000);
        h.set_size(size);
        h
    }
    fn pax(&mut self, records: &[(&str, &[u8])]) {
        let mut data = Vec::new();
        for (k, v) in records {
            // "<len> <key>=<value>\n", len counting itself.
            let body = k.len() + v.len() + 3;
            let mut len = body + body.to_string().len();
            if len.to_string().len() != body.to_string().len() {
                len += 1;
            }
            write!(data, "{len} {k}=").unwrap();
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        let mut h = Header::new_ustar();
        h.set_entry_type(EntryType::XHeader);
        h.set_size(data.len() as u64);
        self.0
            .append_data(&mut h, "./PaxHeaders/x", &data[..])
            .unwrap();
    }
    fn dir(&mut self, path: &str) {
        let mut h = Self::header(EntryType::Directory, 0o755, 0);
        self.0.append_data(&mut h, path, &[][..]).unwrap();
    }
    fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        let mut h = Self::header(EntryType::Regular, mode, data.len() as u64);
        self.0.append_data(&mut h, path, data).unwrap();
    }
    fn link(&mut self, kind: EntryType, path: &str, target: &str) {
        let mut h = Self::header(kind, 0o777, 0);
        self.0.append_link(&mut h, path, target).unwrap();
    }
    fn node(&mut self, kind: EntryType, path: &str, major: u32, minor: u32) {
        let mut h = Self::header(kind, 0o640, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.0.append_data(&mut h, path, &[][..]).unwrap();
    }
    fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

fn big(seed: u8) -> Vec<u8> {
    (0..256 * 4096u32)
        .map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

/// Day 1: a small container root.
fn day1() -> Vec<u8> {
    let mut t = Tar::new();
    t.dir("./");
    t.dir("./etc/");
    t.dir("./etc/vzdump/");
    t.file(
        "./etc/vzdump/pct.conf",
        0o644,
        b"arch: amd64\nhostname: ct\n",
    );
    t.file("./etc/hostname", 0o644, b"ct\n");
    t.dir("./usr/");
    t.dir("./usr/bin/");
    t.pax(&[
        ("SCHILY.xattr.security.capability", CAP_NET_RAW),
        ("SCHILY.xattr.user.note", b"hello"),
    ]);
    t.file("./usr/bin/ping", 0o4755, b"ELF ping");
    t.link(EntryType::Link, "./usr/bin/ping6", "./usr/bin/ping");
    t.link(EntryType::Symlink, "./usr/bin/sh", "dash");
    t.file("./usr/bin/dash", 0o755, b"ELF dash");
    t.dir("./dev/");
    t.node(EntryType::Char, "./dev/null", 1, 3);
    t.node(EntryType::Fifo, "./dev/initctl", 0, 0);
    t.dir("./var/");
    t.file("./var/big.db", 0o600, &big(0));
    t.file("./var/gone", 0o600, b"removed tomorrow");
    t.dir("./var/olddir/");
    t.file("./var/olddir/x", 0o600, b"x");
    t.finish()
}

#[test]
fn a_container_archive_becomes_a_tree_with_its_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tree");
    let r = sync_tar(&day1()[..], &root, None).unwrap();
    assert_eq!((r.files, r.entries), (7, 19), "{r:?}");
    assert_eq!(r.removed, 0);

    assert_eq!(
        fs::read(root.join("etc/vzdump/pct.conf")).unwrap(),
        b"arch: amd64\nhostname: ct\n"
    );
    let ping = fs::symlink_metadata(root.join("usr/bin/ping")).unwrap();
    assert_eq!(ping.mode() & 0o7777, 0o4755);
    assert_eq!((ping.uid(), ping.gid()), (1000, 1001));
    assert_eq!(ping.mtime(), 1_700_000_000);
    assert_eq!(ping.nlink(), 2);
    let ping6 = fs::symlink_metadata(root.join("usr/bin/ping6")).unwrap();
    assert_eq!(ping6.ino(), ping.ino(), "hard link");
    let xattr = rustix::fs::lgetxattr_query(root.join("usr/bin/ping"), "user.note");
    if let Ok(n) = xattr {
        let mut v = vec![0u8; n];
        rustix::fs::lgetxattr(root.join("usr/bin/ping"), "user.note", &mut v[..]).unwrap();
        assert_eq!(v, b"hello");
    } else {
        // tmpfs without user xattrs (old kernels): the rest still holds.
        eprintln!("no user xattrs on this filesystem: {xattr:?}");
    }
    assert_eq!(
        fs::read_link(root.join("usr/bin/sh")).unwrap(),
        Path::new("dash")
    );
    let null = fs::symlink_metadata(root.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert!(
        fs::symlink_metadata(root.join("dev/initctl"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(fs::read(root.join("var/big.db")).unwrap(), big(0));
    assert_eq!(
        fs::symlink_metadata(root.join("etc")).unwrap().mtime(),
        1_700_000_000,
        "directory mtimes are set after their children"
    );

    // The same archive again: nothing to do.
    let again = sync_tar(&day1()[..], &root, None).unwrap();
    assert_eq!(
        (
            again.created,
            again.files_changed,
            again.bytes_written,
            again.metadata_changed,
            again.removed
        ),
        (0, 0, 0, 0, 0),
        "{again:?}"
    );
}

#[test]
fn only_changed_blocks_and_files_are_written_and_removed_entries_go() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tree");
    sync_tar(&day1()[..], &root, None).unwrap();
    let ping_ino = fs::symlink_metadata(root.join("usr/bin/ping"))
        .unwrap()
        .ino();

    let mut db = big(0);
    db[100 * 4096 + 5] ^= 0xff; // one block changed
    db.extend_from_slice(&[0u8; 8192]); // grown by two zero blocks
    let mut t = Tar::new();
    t.dir("./");
    t.dir("./etc/");
    t.dir("./etc/vzdump/");
    t.file(
        "./etc/vzdump/pct.conf",
        0o644,
        b"arch: amd64\nhostname: ct\n",
    );
    t.file("./etc/hostname", 0o640, b"ct\n"); // mode only
    t.dir("./usr/");
    t.dir("./usr/bin/");
    t.pax(&[
        ("SCHILY.xattr.security.capability", CAP_NET_RAW),
        ("SCHILY.xattr.user.note", b"hello"),
    ]);
    t.file("./usr/bin/ping", 0o4755, b"ELF ping");
    t.file("./usr/bin/ping6", 0o755, b"ELF ping6"); // no longer a hard link
    t.link(EntryType::Symlink, "./usr/bin/sh", "bash"); // retargeted
    t.file("./usr/bin/dash", 0o755, b"ELF dash");
    t.dir("./dev/");
    t.node(EntryType::Char, "./dev/null", 1, 3);
    t.node(EntryType::Fifo, "./dev/initctl", 0, 0);
    t.dir("./var/");
    t.file("./var/big.db", 0o600, &db);
    t.file("./var/olddir", 0o600, b"now a file"); // dir replaced by a file
    t.file("./var/new", 0o600, b"new today");
    let r = sync_tar(&t.finish()[..], &root, None).unwrap();

    assert_eq!(fs::read(root.join("var/big.db")).unwrap(), db);
    assert_eq!(fs::read(root.join("usr/bin/ping")).unwrap(), b"ELF ping");
    assert_eq!(fs::read(root.join("usr/bin/ping6")).unwrap(), b"ELF ping6");
    let ping = fs::symlink_metadata(root.join("usr/bin/ping")).unwrap();
    assert_eq!(
        (ping.ino(), ping.nlink()),
        (ping_ino, 1),
        "unchanged file kept"
    );
    assert_eq!(
        fs::read_link(root.join("usr/bin/sh")).unwrap(),
        Path::new("bash")
    );
    assert_eq!(fs::read(root.join("var/olddir")).unwrap(), b"now a file");
    assert!(!root.join("var/gone").exists());
    assert_eq!(
        fs::symlink_metadata(root.join("etc/hostname"))
            .unwrap()
            .mode()
            & 0o7777,
        0o640
    );
    assert_eq!(
        fs::symlink_metadata(root.join("var")).unwrap().mtime(),
        1_700_000_000,
        "a directory's mtime is the archive's even after removals in it"
    );
    // One 4 KiB block of big.db, ping6 (9), olddir (10), new (9); nothing else.
    assert_eq!(r.bytes_written, 4096 + 9 + 10 + 9, "{r:?}");
    assert_eq!(r.removed, 1, "var/gone (olddir was replaced in the pass)");
    assert_eq!(
        r.files_changed, 1,
        "big.db (ping6 was split off as a new file): {r:?}"
    );
}

#[test]
fn names_escaping_the_tree_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tree");
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();

    let mut t = Tar::new();
    t.dir("./");
    let mut h = Tar::header(EntryType::Regular, 0o644, 1);
    // Builder refuses `..` in append_data, so set the name bytes directly.
    h.as_old_mut().name[..9].copy_from_slice(b"../escape");
    h.set_cksum();
    t.0.append(&h, &b"x"[..]).unwrap();
    let err = sync_tar(&t.finish()[..], &root, None).unwrap_err();
    assert!(
        matches!(err, Error::BadTarEntry { reason, .. } if reason.contains("..")),
        "{err}"
    );

    // A symlink to outside followed by an entry under it.
    let mut t = Tar::new();
    t.dir("./");
    t.link(EntryType::Symlink, "./a", outside.to_str().unwrap());
    t.file("./a/planted", 0o644, b"x");
    let err = sync_tar(&t.finish()[..], &root, None).unwrap_err();
    assert!(matches!(err, Error::BadTarEntry { .. }), "{err}");
    assert!(!outside.join("planted").exists());
}

#[test]
fn a_truncated_archive_is_an_error_and_cancel_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = day1();
    let cut = &tar[..tar.len() / 2];
    let err = sync_tar(cut, &tmp.path().join("a"), None).unwrap_err();
    assert!(matches!(err, Error::Tar { .. }), "{err}");

    let cancel = std::sync::atomic::AtomicBool::new(true);
    let err = sync_tar(&tar[..], &tmp.path().join("b"), Some(&cancel)).unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
}

#[test]
fn writing_one_hard_linked_path_never_changes_another() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tree");
    let mut t = Tar::new();
    t.file("./a", 0o644, b"old content");
    t.link(EntryType::Link, "./b", "./a");
    sync_tar(&t.finish()[..], &root, None).unwrap();
    assert_eq!(fs::metadata(root.join("b")).unwrap().nlink(), 2);

    // Next day `a` changed and `b` is a separate file that kept the old content.
    let mut t = Tar::new();
    t.file("./a", 0o644, b"new content!");
    t.file("./b", 0o644, b"old content");
    let r = sync_tar(&t.finish()[..], &root, None).unwrap();
    assert_eq!(fs::read(root.join("a")).unwrap(), b"new content!");
    assert_eq!(fs::read(root.join("b")).unwrap(), b"old content");
    assert_eq!(fs::metadata(root.join("a")).unwrap().nlink(), 1);
    assert_eq!(r.bytes_written, 12, "{r:?}");
}

#[test]
fn a_tree_written_back_as_tar_restores_the_same_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    sync_tar(&day1()[..], &a, None).unwrap();
    let (tar, written) = zferry_backup::write_tar(&a, Vec::new()).unwrap();
    assert_eq!(written.entries, 19, "{written:?}");
    assert_eq!(
        written.file_bytes, 1_048_637,
        "ping6 is a hard link: its data is stored once"
    );

    // Into an empty directory: the same tree; into the original: nothing to change.
    let b = tmp.path().join("b");
    sync_tar(&tar[..], &b, None).unwrap();
    let again = sync_tar(&tar[..], &a, None).unwrap();
    assert_eq!(
        (
            again.created,
            again.bytes_written,
            again.metadata_changed,
            again.removed
        ),
        (0, 0, 0, 0),
        "{again:?}"
    );
    let back = sync_tar(&day1()[..], &b, None).unwrap();
    assert_eq!(
        (
            back.created,
            back.bytes_written,
            back.metadata_changed,
            back.removed
        ),
        (0, 0, 0, 0),
        "the restored tree equals the original archive's: {back:?}"
    );
    let names = |t: &[u8]| -> Vec<String> {
        tar::Archive::new(t)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    };
    let got = names(&tar);
    assert_eq!(got[0], "./");
    assert!(got.contains(&"etc/vzdump/pct.conf".to_owned()), "{got:?}");
}

const ACL_FILE: &str = "user::rw-\nuser:2000:r--\ngroup::r--\nmask::r--\nother::---";
const ACL_DIR_DEFAULT: &str = "user::rwx,user:2000:rwx:2000,group::r-x,mask::rwx,other::---";

/// A container root with an access ACL on a file and access + default ACLs on a directory
/// (as GNU tar `--acls --numeric-owner` and bsdtar write them).
fn with_acls() -> Vec<u8> {
    let mut t = Tar::new();
    t.dir("./");
    t.pax(&[
        (
            "SCHILY.acl.access",
            b"user::rwx\ngroup::r-x\ngroup:33:rwx\nmask::rwx\nother::r-x",
        ),
        ("SCHILY.acl.default", ACL_DIR_DEFAULT.as_bytes()),
    ]);
    t.dir("./shared/");
    t.pax(&[("SCHILY.acl.access", ACL_FILE.as_bytes())]);
    t.file("./shared/secret", 0o640, b"s");
    // Created in a directory with a default ACL, but the archive says: no ACL.
    t.file("./shared/plain", 0o644, b"p");
    t.finish()
}

fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    match rustix::fs::lgetxattr_query(p, name) {
        Ok(len) => {
            let mut v = vec![0u8; len];
            let n = rustix::fs::lgetxattr(p, name, &mut v[..]).unwrap();
            v.truncate(n);
            Some(v)
        }
        Err(rustix::io::Errno::NODATA) => None,
        Err(e) => panic!("{}: {name}: {e}", p.display()),
    }
}

fn acl_text(p: &Path, name: &str) -> Option<String> {
    xattr(p, name).map(|v| zferry_backup::acl::Acl::from_xattr(&v).unwrap().to_text())
}

#[test]
fn posix_acls_are_applied_kept_and_written_back() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    sync_tar(&with_acls()[..], &a, None).unwrap();
    let dir = a.join("shared");
    let secret = dir.join("secret");
    assert_eq!(
        acl_text(&secret, "system.posix_acl_access").as_deref(),
        Some(ACL_FILE)
    );
    assert_eq!(
        acl_text(&dir, "system.posix_acl_default").as_deref(),
        Some("user::rwx\nuser:2000:rwx\ngroup::r-x\nmask::rwx\nother::---")
    );
    assert_eq!(
        fs::symlink_metadata(&secret).unwrap().mode() & 0o7777,
        0o640
    );
    assert_eq!(fs::symlink_metadata(&dir).unwrap().mode() & 0o7777, 0o775);

    // Again: nothing changes. A second pass also sees `plain`, which the directory's default
    // ACL now gives an inherited ACL when it is recreated: removed, as the archive says.
    let again = sync_tar(&with_acls()[..], &a, None).unwrap();
    assert_eq!((again.metadata_changed, again.created), (0, 0), "{again:?}");
    fs::remove_file(dir.join("plain")).unwrap();
    let re = sync_tar(&with_acls()[..], &a, None).unwrap();
    assert_eq!(re.created, 1, "{re:?}");
    assert_eq!(xattr(&dir.join("plain"), "system.posix_acl_access"), None);
    assert_eq!(
        fs::symlink_metadata(dir.join("plain")).unwrap().mode() & 0o7777,
        0o644
    );

    // Written back as tar: the records are there, and the tar rebuilds the same tree.
    let (tar, _) = zferry_backup::write_tar(&a, Vec::new()).unwrap();
    let mut records = Vec::new();
    // (Read with this crate's reader: the tar crate refuses ACL records, see `pax`.)
    let mut reader = zferry_backup::tarread::TarReader::new(&tar[..]);
    while let Some(e) = reader.next_entry().unwrap() {
        let path = String::from_utf8_lossy(&e.path).into_owned();
        for r in e.records {
            records.push((path.clone(), r.key));
        }
    }
    for want in [
        ("shared/secret", "SCHILY.acl.access"),
        ("shared/", "SCHILY.acl.access"),
        ("shared/", "SCHILY.acl.default"),
    ] {
        let want = (want.0.to_owned(), want.1.to_owned());
        assert!(records.contains(&want), "{want:?} in {records:?}");
    }
    let b = tmp.path().join("b");
    sync_tar(&tar[..], &b, None).unwrap();
    for (p, name) in [
        ("shared/secret", "system.posix_acl_access"),
        ("shared", "system.posix_acl_access"),
        ("shared", "system.posix_acl_default"),
        ("shared/plain", "system.posix_acl_access"),
    ] {
        assert_eq!(
            xattr(&a.join(p), name),
            xattr(&b.join(p), name),
            "{p} {name}"
        );
    }
    let same = sync_tar(&tar[..], &a, None).unwrap();
    assert_eq!(same.metadata_changed, 0, "{same:?}");
}

#[test]
fn a_malformed_acl_record_names_the_entry_and_the_record() {
    let mut t = Tar::new();
    t.dir("./");
    t.pax(&[(
        "SCHILY.acl.access",
        b"user::rwx,user:1000:r-x,group::r-x,other::r-x",
    )]);
    t.file("./f", 0o644, b"f");
    let tmp = tempfile::tempdir().unwrap();
    let e = sync_tar(&t.finish()[..], &tmp.path().join("a"), None).unwrap_err();
    assert!(matches!(e, Error::BadAcl { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("f: ") && msg.contains("SCHILY.acl.access") && msg.contains("mask"),
        "{msg}"
    );
}
