//! Container (LXC) backups on real OpenZFS: `vzdump-lxc-*.tar.zst` archives become a file
//! tree in `<root>/<vmid>/tree`, one snapshot per backup; a day that changes a few files
//! costs about those files; re-ingesting is a no-op; a damaged archive rolls back; POSIX ACLs
//! and xattrs of a real GNU tar archive are on the ZFS tree and come back through restore; an
//! ACL naming a user this host does not know is kept as its archive text and restored unchanged.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(
    clippy::cast_precision_loss,
    reason = "ratios of byte counts for reporting"
)]

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use tar::{Builder, EntryType, Header};
use zferry_backup::{Error, IngestOptions, Outcome, Undo, ingest};
use zferry_exec::LocalExecutor;
use zferry_lab::fixture::TestPool;
use zferry_zfs::DatasetName;

const FILES: usize = 40;
const FILE_SIZE: usize = 64 << 10;
const DB_SIZE: usize = 2 << 20;

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The container's content on one day.
struct Container {
    files: Vec<(String, Vec<u8>)>,
    db: Vec<u8>,
}

impl Container {
    fn day0() -> Self {
        Container {
            files: (0..FILES)
                .map(|i| (format!("./srv/f{i:02}"), noise(i as u64 + 1, FILE_SIZE)))
                .collect(),
            db: noise(999, DB_SIZE),
        }
    }

    fn header(kind: EntryType, mode: u32, size: usize) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(100_000);
        h.set_gid(100_000);
        h.set_mtime(1_767_229_200);
        h.set_size(size as u64);
        h
    }

    fn tar(&self) -> Vec<u8> {
        let mut b = Builder::new(Vec::new());
        let mut add = |kind, mode, path: &str, data: &[u8]| {
            let mut h = Self::header(kind, mode, data.len());
            b.append_data(&mut h, path, data).unwrap();
        };
        add(EntryType::Directory, 0o755, "./", &[]);
        add(EntryType::Directory, 0o755, "./etc/", &[]);
        add(EntryType::Directory, 0o755, "./etc/vzdump/", &[]);
        add(
            EntryType::Regular,
            0o644,
            "./etc/vzdump/pct.conf",
            b"arch: amd64\n",
        );
        add(EntryType::Directory, 0o755, "./srv/", &[]);
        for (p, d) in &self.files {
            add(EntryType::Regular, 0o640, p, d);
        }
        add(EntryType::Regular, 0o600, "./srv/db", &self.db);
        add(EntryType::Directory, 0o755, "./dev/", &[]);
        add(EntryType::Fifo, 0o600, "./dev/initctl", &[]);
        let mut h = Self::header(EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, "./srv/latest", "f00").unwrap();
        let mut h = Self::header(EntryType::Link, 0o777, 0);
        b.append_link(&mut h, "./srv/f00.hard", "./srv/f00")
            .unwrap();
        b.into_inner().unwrap()
    }
}

fn time(day: u32) -> String {
    format!("2026_01_{:02}-01_00_00", day + 1)
}

fn write_archive(dir: &Path, day: u32, tar: &[u8]) -> PathBuf {
    let path = dir.join(format!("vzdump-lxc-105-{}.tar.zst", time(day)));
    let mut enc = zstd::Encoder::new(File::create(&path).unwrap(), 1).unwrap();
    std::io::copy(&mut &tar[..], &mut enc).unwrap();
    enc.finish().unwrap();
    path
}

fn written(pool: &TestPool, obj: &str) -> u64 {
    let out = pool.run_ok("zfs", &["get", "-H", "-p", "-o", "value", "written", obj]);
    out.stdout_lossy().trim().parse().unwrap()
}

fn mountpoint(pool: &TestPool, ds: &str) -> PathBuf {
    let out = pool.run_ok("zfs", &["get", "-H", "-o", "value", "mountpoint", ds]);
    PathBuf::from(out.stdout_lossy().trim())
}

fn snapshots(pool: &TestPool, ds: &str) -> Vec<String> {
    let out = pool.run_ok(
        "zfs",
        &["list", "-H", "-o", "name", "-t", "snapshot", "-d", "1", ds],
    );
    out.stdout_lossy().lines().map(str::to_owned).collect()
}

/// Restores day 1 as .tar.zst: extracting it gives exactly day 1's archive content.
fn check_restore(exec: &LocalExecutor, root: &DatasetName, dir: &Path, tar1: &[u8]) {
    let restored = dir.join("restored.tar.zst");
    let rr = zferry_backup::restore(
        exec,
        root,
        105,
        time(1).parse().unwrap(),
        &restored,
        zferry_backup::RestoreCompression::Zstd(1),
        None,
    )
    .unwrap();
    assert!(rr.devices.is_empty() && rr.bytes > 0);
    let check = dir.join("check");
    let dec = zstd::Decoder::new(File::open(&restored).unwrap()).unwrap();
    zferry_backup::sync_tar(dec, &check, None).unwrap();
    let same = zferry_backup::sync_tar(tar1, &check, None).unwrap();
    assert_eq!(
        (
            same.created,
            same.bytes_written,
            same.metadata_changed,
            same.removed
        ),
        (0, 0, 0, 0),
        "restored tar differs from day 1: {same:?}"
    );
}

#[test]
fn container_backups_cost_about_the_changed_files_and_roll_back_on_failure() {
    let pool = TestPool::create("bx", "128M");
    pool.setup("fs backup");
    let root: DatasetName = pool.ds("backup").parse().unwrap();
    let ds = pool.ds("backup/105");
    let exec = LocalExecutor::new();
    let input = tempfile::tempdir().unwrap();
    let opts = IngestOptions::default();

    let mut ct = Container::day0();
    let day0 = write_archive(input.path(), 0, &ct.tar());
    let r = ingest(&exec, &root, &day0, &opts).unwrap();
    assert_eq!(r.outcome, Outcome::Ingested);
    assert!(r.created_dataset);
    let mp = mountpoint(&pool, &ds);
    let snap0 = mp.join(".zfs/snapshot").join(time(0)).join("tree");
    assert_eq!(std::fs::read(snap0.join("srv/db")).unwrap(), ct.db);
    assert_eq!(
        std::fs::read(snap0.join("etc/vzdump/pct.conf")).unwrap(),
        b"arch: amd64\n"
    );
    let f00 = std::fs::symlink_metadata(snap0.join("srv/f00")).unwrap();
    assert_eq!(
        (f00.uid(), f00.mode() & 0o7777, f00.nlink()),
        (100_000, 0o640, 2)
    );
    assert!(
        std::fs::symlink_metadata(snap0.join("dev/initctl"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    let props = pool.run_ok(
        "zfs",
        &["get", "-H", "-o", "value", "setuid,exec,devices", &ds],
    );
    assert_eq!(
        props.stdout_lossy().split_whitespace().collect::<Vec<_>>(),
        ["off"; 3]
    );

    // Day 1: two files rewritten, one 4 KiB block of the database, one file removed, one new.
    ct.files[3].1 = noise(1003, FILE_SIZE);
    ct.files[7].1 = noise(1007, FILE_SIZE);
    ct.db[DB_SIZE / 2] ^= 0xff;
    ct.files.remove(20);
    ct.files.push(("./srv/new".into(), noise(5, FILE_SIZE)));
    let tar1 = ct.tar();
    let day1 = write_archive(input.path(), 1, &tar1);
    let archive_size = std::fs::metadata(&day1).unwrap().len();
    let r = ingest(&exec, &root, &day1, &opts).unwrap();
    let t = r.tree.clone().unwrap();
    assert_eq!((t.files_changed, t.removed), (3, 1), "{t:?}");
    assert_eq!(t.bytes_written, 3 * FILE_SIZE as u64 + 4096, "{t:?}");
    let w = written(&pool, &format!("{ds}@{}", time(1)));
    eprintln!(
        "day 1: wrote {} B of {} B files; snapshot written {w} B = {:.2} % of the {archive_size} B archive",
        t.bytes_written,
        t.file_bytes,
        100.0 * w as f64 / archive_size as f64
    );
    // The database's changed 4 KiB costs one 128K record; the rest is the three files plus
    // metadata.
    assert!(w < 1 << 20, "written {w}");
    let snap1 = mp.join(".zfs/snapshot").join(time(1)).join("tree");
    assert_eq!(std::fs::read(snap1.join("srv/db")).unwrap(), ct.db);
    assert!(!snap1.join("srv/f20").exists());
    assert!(snap0.join("srv/f20").exists(), "day 0 keeps its file");

    check_restore(&exec, &root, input.path(), &tar1);

    // Re-ingesting is a no-op.
    let again = ingest(&exec, &root, &day1, &opts).unwrap();
    assert_eq!(again.outcome, Outcome::AlreadyIngested);

    // A damaged day-2 archive: rolled back to day 1.
    ct.files[0].1 = noise(2000, FILE_SIZE);
    let good = write_archive(input.path(), 2, &ct.tar());
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&good, &bytes[..bytes.len() * 3 / 5]).unwrap();
    let err = ingest(&exec, &root, &good, &opts).unwrap_err();
    let expected = Undo::RolledBack(format!("{ds}@{}", time(1)).parse().unwrap());
    assert!(
        matches!(&err, Error::IngestFailed { undo, .. } if *undo == expected),
        "{err}"
    );
    eprintln!("damaged archive: {err}");
    assert_eq!(snapshots(&pool, &ds).len(), 2);
    assert_eq!(
        std::fs::read(mp.join("tree/srv/f00")).unwrap(),
        Container::day0().files[0].1,
        "live tree is day 1 again"
    );
}

/// Real GNU tar's container archive with ACLs and xattrs (made with vzdump's flags, see
/// `crates/backup/tests/fixtures/make-lxc-acl-tar.sh`).
const ACL_TAR: &[u8] = include_bytes!("../../backup/tests/fixtures/lxc-acl.tar");
/// `getfacl -R -n -p -E` of the tree that archive was made from.
const ACL_GETFACL: &str = include_str!("../../backup/tests/fixtures/lxc-acl.getfacl");

/// `getfacl -R` output as file → its lines (without the `./` prefix), in any order.
fn acl_sections(text: &str) -> BTreeMap<String, Vec<String>> {
    text.split("\n\n")
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let mut lines = s.lines();
            let file = lines.next().unwrap().trim_start_matches("# file: ");
            let file = file.strip_prefix("./").unwrap_or(file).to_owned();
            (file, lines.map(str::to_owned).collect())
        })
        .collect()
}

fn getfacl(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let out = Command::new("getfacl")
        .args(["-R", "-n", "-p", "-E", "."])
        .current_dir(dir)
        .output()
        .expect("getfacl (apt-get install acl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    acl_sections(&String::from_utf8(out.stdout).unwrap())
}

fn tar(args: &[&str], archive: &Path, dir: Option<&Path>) -> String {
    let mut cmd = Command::new("tar");
    cmd.args(args).arg(archive);
    if let Some(dir) = dir {
        cmd.arg("-C").arg(dir);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "tar {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn gnu_tar_acls_are_on_the_zfs_tree_and_in_the_restored_tar() {
    let pool = TestPool::create("ba", "64M");
    pool.setup("fs backup");
    let root: DatasetName = pool.ds("backup").parse().unwrap();
    let ds = pool.ds("backup/106");
    let exec = LocalExecutor::new();
    let input = tempfile::tempdir().unwrap();
    let archive = input.path().join("vzdump-lxc-106-2026_01_01-01_00_00.tar");
    std::fs::write(&archive, ACL_TAR).unwrap();
    let r = ingest(&exec, &root, &archive, &IngestOptions::default()).unwrap();
    assert_eq!(r.outcome, Outcome::Ingested);
    let acltype = pool.run_ok("zfs", &["get", "-H", "-o", "value", "acltype", &ds]);
    // OpenZFS 2.2 shows `posixacl` as `posix`.
    let acltype = acltype.stdout_lossy();
    assert!(["posix", "posixacl"].contains(&acltype.trim()), "{acltype}");
    let tree = mountpoint(&pool, &ds).join("tree");
    assert_eq!(getfacl(&tree), acl_sections(ACL_GETFACL), "ACLs on ZFS");

    // The same archive over the live tree again: nothing is rewritten.
    let again = zferry_backup::sync_tar(ACL_TAR, &tree, None).unwrap();
    assert_eq!(
        (
            again.created,
            again.files_changed,
            again.metadata_changed,
            again.removed
        ),
        (0, 0, 0, 0),
        "{again:?}"
    );

    // Restored as tar: real tar lists the ACLs and extracts them onto ZFS.
    let restored = input.path().join("restored.tar");
    let t = "2026_01_01-01_00_00".parse().unwrap();
    let none = zferry_backup::RestoreCompression::None;
    zferry_backup::restore(&exec, &root, 106, t, &restored, none, None).unwrap();
    let listing = tar(&["--acls", "-tvvf"], &restored, None);
    assert_eq!(listing.matches("\n  a: ").count(), 3, "{listing}");
    assert!(listing.contains(",default:group:4:r-x,"), "{listing}");
    let x = pool.ds("x");
    pool.run_ok(
        "zfs",
        &["create", "-o", "acltype=posixacl", "-o", "xattr=sa", &x],
    );
    let out = mountpoint(&pool, &x);
    let flags = [
        "--acls",
        "--xattrs",
        "--xattrs-include=user.*",
        "--numeric-owner",
        "-xpf",
    ];
    tar(&flags, &restored, Some(&out));
    assert_eq!(
        getfacl(&out),
        acl_sections(ACL_GETFACL),
        "ACLs extracted by tar"
    );
}

#[test]
fn an_acl_naming_a_user_this_host_does_not_know_is_kept_as_text_and_restored_unchanged() {
    let pool = TestPool::create("bn", "64M");
    pool.setup("fs backup");
    let root: DatasetName = pool.ds("backup").parse().unwrap();
    let exec = LocalExecutor::new();
    // As GNU tar writes it on a Proxmox host that knows the user (the name, not the id).
    let acl = "user::rw-,user:zferry-no-such-user:r--,group::r--,mask::r--,other::---";
    let mut b = Builder::new(Vec::new());
    let mut h = Container::header(EntryType::Directory, 0o755, 0);
    b.append_data(&mut h, "./", &[][..]).unwrap();
    b.append_pax_extensions([("SCHILY.acl.access", acl.as_bytes())])
        .unwrap();
    let mut h = Container::header(EntryType::Regular, 0o640, 5);
    b.append_data(&mut h, "./data", &b"hello"[..]).unwrap();
    let archive_bytes = b.into_inner().unwrap();
    let input = tempfile::tempdir().unwrap();
    let archive = input.path().join("vzdump-lxc-107-2026_01_01-01_00_00.tar");
    std::fs::write(&archive, &archive_bytes).unwrap();

    let r = ingest(&exec, &root, &archive, &IngestOptions::default()).unwrap();
    assert_eq!(r.outcome, Outcome::Ingested);
    assert_eq!(r.tree.as_ref().unwrap().acls_kept_as_text, 1, "{r:?}");
    // No ACL with a guessed id on ZFS: the file has its mode bits only.
    let tree = mountpoint(&pool, &pool.ds("backup/107")).join("tree");
    let on_zfs = getfacl(&tree);
    assert_eq!(
        on_zfs["data"],
        [
            "# owner: 100000",
            "# group: 100000",
            "user::rw-",
            "group::r--",
            "other::---"
        ],
        "{on_zfs:?}"
    );

    // The restore writes the archive's text back, unchanged, for `pct restore` to map.
    let restored = input.path().join("restored.tar");
    let t = "2026_01_01-01_00_00".parse().unwrap();
    let none = zferry_backup::RestoreCompression::None;
    zferry_backup::restore(&exec, &root, 107, t, &restored, none, None).unwrap();
    let listing = tar(&["--acls", "-tvvf"], &restored, None);
    assert!(
        listing.contains("user:zferry-no-such-user:r--"),
        "{listing}"
    );
}
