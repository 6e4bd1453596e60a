//! `zferry backup ingest` as a process on real ZFS: SIGINT in the middle of an ingest rolls
//! the dataset back to the previous backup and exits 130 with a clear message (the archive
//! arrives through a FIFO, so the signal lands deterministically mid-stream); `--watch`
//! ingests a complete archive dropped into the directory and stops cleanly on SIGTERM.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zferry_lab::fixture::{TestPool, run_zferry, zferry_binary};
use zferry_vma::{DevId, HeaderSpec, Uuid, VmaWriter};

const SIZE: usize = 8 << 20;

fn disk(seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(SIZE);
    while out.len() < SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

fn vma(data: &[u8]) -> Vec<u8> {
    let spec = HeaderSpec {
        uuid: Uuid::from_u128(7),
        ctime: 0,
        configs: vec![],
        devices: vec![("drive-scsi0".into(), data.len() as u64)],
    };
    let mut w = VmaWriter::new(Vec::new(), &spec).unwrap();
    w.write_device(DevId::new(1).unwrap(), data).unwrap();
    w.finish().unwrap()
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

fn snapshots(pool: &TestPool, ds: &str) -> Vec<String> {
    let out = pool.run(
        "zfs",
        &["list", "-H", "-o", "name", "-t", "snapshot", "-d", "1", ds],
    );
    out.stdout_lossy().lines().map(str::to_owned).collect()
}

#[test]
fn sigint_mid_ingest_rolls_back_and_a_rerun_succeeds() {
    let pool = TestPool::create("bs", "128M");
    pool.setup("fs backup");
    let root = pool.ds("backup");
    let ds = pool.ds("backup/100");
    let input = tempfile::tempdir().unwrap();
    let d0 = disk(1);
    let day0 = input.path().join("vzdump-qemu-100-2026_01_01-01_00_00.vma");
    std::fs::write(&day0, vma(&d0)).unwrap();
    let (code, out, err) =
        run_zferry(&["backup", "ingest", "--root", &root, day0.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");

    // Day 1 arrives through a FIFO: half of it, then SIGINT, then the rest.
    let d1 = disk(2);
    let bytes = vma(&d1);
    let fifo = input.path().join("vzdump-qemu-100-2026_01_02-01_00_00.vma");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let child = Command::new(zferry_binary())
        .args(["backup", "ingest", "--root", &root, fifo.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    w.write_all(&bytes[..bytes.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    signal(child.id(), "-INT");
    std::thread::sleep(Duration::from_millis(300));
    let _ = w.write_all(&bytes[bytes.len() / 2..]); // the reader may be gone: EPIPE is fine
    drop(w);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!("{err}");
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted") && err.contains("cancelled"),
        "{err}"
    );
    assert!(
        err.contains(&format!("rolled back to {ds}@2026_01_01-01_00_00")),
        "{err}"
    );
    assert_eq!(snapshots(&pool, &ds), [format!("{ds}@2026_01_01-01_00_00")]);
    let mp = pool.run_ok("zfs", &["get", "-H", "-o", "value", "mountpoint", &ds]);
    let mp = Path::new(mp.stdout_lossy().trim()).to_owned();
    assert!(
        std::fs::read(mp.join("disk-drive-scsi0.raw")).unwrap() == d0,
        "live image is day 0 again"
    );

    // The re-run (a regular file now) ingests day 1.
    std::fs::remove_file(&fifo).unwrap();
    std::fs::write(&fifo, &bytes).unwrap();
    let (code, out, err) =
        run_zferry(&["backup", "ingest", "--root", &root, fifo.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(snapshots(&pool, &ds).len(), 2);
}

#[test]
fn watch_ingests_complete_archives_and_stops_on_sigterm() {
    let pool = TestPool::create("bw", "128M");
    pool.setup("fs backup");
    let root = pool.ds("backup");
    let ds = pool.ds("backup/101");
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(zferry_binary())
        .args([
            "backup",
            "ingest",
            "--json",
            "--root",
            &root,
            "--watch",
            dir.path().to_str().unwrap(),
            "--interval",
            "1",
            "--settle",
            "3600",
        ])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // In flight (.dat) first; then renamed, with its log saying finished (as vzdump does).
    let name = "vzdump-qemu-101-2026_01_01-01_00_00";
    let dat = dir.path().join(format!("{name}.vma.dat"));
    std::fs::write(&dat, vma(&disk(3))).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        snapshots(&pool, &ds).is_empty(),
        "a .dat file is never ingested"
    );
    std::fs::rename(&dat, dir.path().join(format!("{name}.vma"))).unwrap();
    std::fs::write(
        dir.path().join(format!("{name}.log")),
        "INFO: Finished Backup of VM 101 (00:00:02)\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_mins(2);
    while snapshots(&pool, &ds).is_empty() {
        assert!(Instant::now() < deadline, "no snapshot after 120 s");
        std::thread::sleep(Duration::from_millis(500));
    }
    signal(child.id(), "-TERM");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(report["outcome"], "ingested");
    assert_eq!(snapshots(&pool, &ds), [format!("{ds}@2026_01_01-01_00_00")]);
}
