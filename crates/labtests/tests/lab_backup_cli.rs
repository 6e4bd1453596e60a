//! `zferry backup ingest|report|restore` on real ZFS with the golden VMA archive: ingest
//! creates the VM's dataset and one snapshot, a second ingest is a no-op, the report has the
//! row, and the restored archive verifies and lists the same devices.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::PathBuf;

use zferry_lab::fixture::{TestPool, run_zferry};

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vma/tests/golden")
        .join(name)
}

#[test]
fn ingest_report_restore_round_trip() {
    let pool = TestPool::create("bk", "128M");
    pool.setup("fs backup\n");
    let dir = PathBuf::from(format!("/var/tmp/zferry-test-cfg/{}", pool.name()));
    std::fs::create_dir_all(&dir).unwrap();
    let archive = dir.join("vzdump-qemu-100-2026_11_21-10_00_00.vma.zst");
    std::fs::copy(golden("golden.vma.zst"), &archive).unwrap();
    let root = pool.ds("backup");

    let (code, out, err) = run_zferry(&[
        "backup",
        "ingest",
        "--root",
        &root,
        archive.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ingested"), "{out}");
    let snaps = pool.run_ok(
        "zfs",
        &["list", "-H", "-o", "name", "-t", "snapshot", "-r", &root],
    );
    assert_eq!(
        snaps.stdout_lossy().trim(),
        format!("{root}/100@2026_11_21-10_00_00")
    );

    let (code, out, _) = run_zferry(&[
        "backup",
        "ingest",
        "--root",
        &root,
        archive.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("already ingested"), "{out}");

    let (code, out, err) = run_zferry(&["backup", "report", "--json", "--root", &root]);
    assert_eq!(code, 0, "{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(rows[0]["vmid"], 100);

    let restored = dir.join("restored.vma");
    let (code, out, err) = run_zferry(&[
        "backup",
        "restore",
        "--root",
        &root,
        "100",
        "2026_11_21-10_00_00",
        "-o",
        restored.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run_zferry(&["vma", "verify", restored.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (_, original, _) = run_zferry(&["vma", "verify", golden("golden.vma").to_str().unwrap()]);
    assert_eq!(
        out, original,
        "restored archive holds different devices or blocks"
    );
}
