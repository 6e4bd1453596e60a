//! A container archive made by real GNU tar with vzdump's flags (tests/fixtures/lxc-acl.tar,
//! with ACLs, xattrs, long names, links and a sparse file) ingested into a directory: the
//! ACLs `getfacl` sees equal the original tree's, a second pass changes nothing, and the tree
//! written back as tar extracts with real `tar --acls --xattrs` to the same ACLs and xattrs.
//! Needs `getfacl` (package `acl`) and a file system with ACLs and user xattrs.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use zferry_backup::{sync_tar, write_tar};

const FIXTURE: &[u8] = include_bytes!("fixtures/lxc-acl.tar");
const GETFACL: &str = include_str!("fixtures/lxc-acl.getfacl");

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

fn xattr(p: &Path, name: &str) -> Vec<u8> {
    let mut v = vec![0u8; 256];
    let n = rustix::fs::lgetxattr(p, name, &mut v[..]).unwrap();
    v.truncate(n);
    v
}

fn check_tree(dir: &Path) {
    assert_eq!(
        getfacl(dir),
        acl_sections(GETFACL),
        "ACLs of {}",
        dir.display()
    );
    let x = dir.join("xattr-file");
    assert_eq!(xattr(&x, "user.comment"), b"hello world");
    assert_eq!(xattr(&x, "user.binary"), b"\n\0\xff\nA");
    assert_eq!(std::fs::read(dir.join("n".repeat(120))).unwrap(), b"long\n");
    let sparse = std::fs::read(dir.join("sparse-file")).unwrap();
    assert_eq!(sparse.len(), 6 * 65536 + 4096);
    assert_eq!(&sparse[5 * 65536..5 * 65536 + 8], b"chunk 5\n");
}

#[test]
fn gnu_tar_acls_are_ingested_kept_and_extracted_by_tar() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let r = sync_tar(FIXTURE, &a, None).unwrap();
    assert_eq!(r.entries, 12, "{r:?}");
    check_tree(&a);

    let again = sync_tar(FIXTURE, &a, None).unwrap();
    assert_eq!(
        (
            again.created,
            again.files_changed,
            again.bytes_written,
            again.metadata_changed,
            again.removed
        ),
        (0, 0, 0, 0, 0),
        "a second pass of the same archive changed something: {again:?}"
    );

    let (tar, _) = write_tar(&a, Vec::new()).unwrap();
    let file = tmp.path().join("restored.tar");
    std::fs::write(&file, &tar).unwrap();
    let b = tmp.path().join("b");
    std::fs::create_dir(&b).unwrap();
    let out = Command::new("tar")
        .args([
            "--acls",
            "--xattrs",
            "--xattrs-include=user.*",
            "--numeric-owner",
            "-xpf",
        ])
        .arg(&file)
        .arg("-C")
        .arg(&b)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tar -x: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_tree(&b);
}

/// One file whose access ACL names a user and a group no host has.
const UNKNOWN_NAMES: &str = "user::rw-\nuser:zferry-no-such-user:r--\ngroup::r--\ngroup:zferry-no-such-group:rw-\nmask::rw-\nother::---\n";

fn archive_with_unknown_names() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("SCHILY.acl.access", UNKNOWN_NAMES.as_bytes())])
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o660);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(5);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, "./f", &b"data\n"[..]).unwrap();
    b.into_inner().unwrap()
}

/// An ACL this host cannot map (its names are unknown here) does not fail the ingest: its
/// text is kept in a `trusted.*` xattr, the next pass changes nothing, and the tree written
/// back as tar carries the archive's record unchanged. Needs root (`trusted.*` xattrs).
#[test]
fn an_acl_naming_unknown_users_is_kept_as_text_and_written_back() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("a");
    let tar = archive_with_unknown_names();
    let report = sync_tar(&tar[..], &tree, None).unwrap();
    assert_eq!(report.acls_kept_as_text, 1, "{report:?}");
    let f = tree.join("f");
    assert_eq!(
        xattr(&f, "trusted.zferry.acl_access_text"),
        UNKNOWN_NAMES.as_bytes()
    );
    assert_eq!(
        rustix::fs::lgetxattr(&f, "system.posix_acl_access", &mut [0u8; 64]),
        Err(rustix::io::Errno::NODATA),
        "no ACL is set from names this host cannot map"
    );
    assert_eq!(std::fs::read(&f).unwrap(), b"data\n");

    let again = sync_tar(&tar[..], &tree, None).unwrap();
    assert_eq!((again.metadata_changed, again.acls_kept_as_text), (0, 1));

    // The record as tar writes it: `<length> SCHILY.acl.access=<text>\n`, the length
    // counting itself (the tar crate's reader splits values at newlines, so the bytes are
    // searched for instead).
    let (out, _) = write_tar(&tree, Vec::new()).unwrap();
    let body = format!("SCHILY.acl.access={UNKNOWN_NAMES}\n");
    let record = format!("{} {body}", body.len() + 4);
    assert_eq!(
        record.split(' ').next().unwrap().len(),
        3,
        "a 3-digit length"
    );
    assert!(
        out.windows(record.len()).any(|w| w == record.as_bytes()),
        "the restored tar lacks {record:?}"
    );
}
