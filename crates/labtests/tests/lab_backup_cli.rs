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

#[test]
fn prune_keeps_the_newest_per_day_and_explains_each_decision() {
    let pool = TestPool::create("bp", "128M");
    pool.setup("fs backup\n");
    let dir = PathBuf::from(format!("/var/tmp/zferry-test-cfg/{}", pool.name()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = pool.ds("backup");
    let times = [
        "2026_11_19-01_00_00",
        "2026_11_20-01_00_00",
        "2026_11_21-01_00_00",
        "2026_11_21-13_00_00",
    ];
    let files: Vec<String> = times
        .iter()
        .map(|t| {
            let p = dir.join(format!("vzdump-qemu-100-{t}.vma.zst"));
            std::fs::copy(golden("golden.vma.zst"), &p).unwrap();
            p.to_str().unwrap().to_owned()
        })
        .collect();
    let mut args = vec!["backup", "ingest", "--root", &root];
    args.extend(files.iter().map(String::as_str));
    let (code, out, err) = run_zferry(&args);
    assert_eq!(code, 0, "{out}{err}");

    let (code, out, err) = run_zferry(&[
        "backup",
        "prune",
        "--root",
        &root,
        "--keep-daily",
        "2",
        "-n",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("would destroy {root}/100@2026_11_19-01_00_00")),
        "{out}"
    );
    assert!(
        out.contains(&format!("would destroy {root}/100@2026_11_21-01_00_00")),
        "{out}"
    );
    let snaps = |pool: &TestPool| {
        pool.run_ok(
            "zfs",
            &["list", "-H", "-o", "name", "-t", "snapshot", "-r", &root],
        )
        .stdout_lossy()
        .lines()
        .count()
    };
    assert_eq!(snaps(&pool), 4, "dry run destroys nothing");

    let (code, out, err) = run_zferry(&[
        "backup",
        "prune",
        "--root",
        &root,
        "--keep-daily",
        "2",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let kept: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["keep"] == true)
        .map(|x| x["snapshot"].as_str().unwrap())
        .collect();
    assert_eq!(
        kept,
        [
            format!("{root}/100@2026_11_20-01_00_00"),
            format!("{root}/100@2026_11_21-13_00_00")
        ]
    );
    assert_eq!(snaps(&pool), 2);
    let (code, _, err) = run_zferry(&["backup", "prune", "--root", &root]);
    assert_eq!(code, 2, "no counts: refused");
    assert!(err.contains("refusing to prune"), "{err}");
}

/// A 4 MiB disk with an MBR and one Linux partition from 1 MiB to the end, filled with a
/// pattern.
fn partitioned_disk() -> Vec<u8> {
    let mut d = vec![0u8; 4 << 20];
    let entry = &mut d[0x1be..0x1ce];
    entry[4] = 0x83; // Linux
    entry[8..12].copy_from_slice(&2048u32.to_le_bytes()); // first LBA
    entry[12..16].copy_from_slice(&(6144u32).to_le_bytes()); // sectors: 3 MiB
    d[510] = 0x55;
    d[511] = 0xaa;
    for (i, b) in d[1 << 20..].iter_mut().enumerate() {
        *b = i.to_le_bytes()[0] ^ 0x3c;
    }
    d
}

#[test]
fn files_exposes_partitions_read_only_and_cleans_up() {
    let pool = TestPool::create("bl", "128M");
    pool.setup("fs backup\n");
    pool.run("modprobe", &["loop"]);
    let dir = PathBuf::from(format!("/var/tmp/zferry-test-cfg/{}", pool.name()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = pool.ds("backup");
    let disk = partitioned_disk();
    let spec = zferry_vma::HeaderSpec {
        uuid: zferry_vma::Uuid::from_u128(9),
        ctime: 0,
        configs: vec![],
        devices: vec![("drive-scsi0".into(), disk.len() as u64)],
    };
    let mut w = zferry_vma::VmaWriter::new(Vec::new(), &spec).unwrap();
    w.write_device(zferry_vma::DevId::new(1).unwrap(), &disk[..])
        .unwrap();
    let archive = dir.join("vzdump-qemu-100-2026_11_21-10_00_00.vma");
    std::fs::write(&archive, w.finish().unwrap()).unwrap();
    let (code, out, err) = run_zferry(&[
        "backup",
        "ingest",
        "--root",
        &root,
        archive.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");

    let (code, out, err) = run_zferry(&[
        "backup",
        "files",
        "--json",
        "--root",
        &root,
        "100",
        "2026_11_21-10_00_00",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let clone = format!("{root}/100-files-2026_11_21-10_00_00");
    assert_eq!(v["clone"], clone.as_str());
    let part = &v["images"][0]["partitions"][0];
    assert_eq!(part["size"], 3 << 20, "{v}");
    let dev = part["device"].as_str().unwrap();
    let mut head = vec![0u8; 8192];
    std::io::Read::read_exact(&mut std::fs::File::open(dev).unwrap(), &mut head).unwrap();
    assert_eq!(head, disk[1 << 20..(1 << 20) + 8192], "partition content");
    let ro = pool.run_ok("zfs", &["get", "-H", "-o", "value", "readonly", &clone]);
    assert_eq!(ro.stdout_lossy().trim(), "on");
    let loop_dev = v["images"][0]["loop_device"].as_str().unwrap().to_owned();
    let ro_flag = std::fs::read_to_string(format!(
        "/sys/class/block/{}/ro",
        loop_dev.trim_start_matches("/dev/")
    ))
    .unwrap();
    assert_eq!(ro_flag.trim(), "1", "loop device is read-only");

    // Exposing twice is refused with a hint; cleanup detaches and destroys the clone.
    let (code, _, err) = run_zferry(&[
        "backup",
        "files",
        "--root",
        &root,
        "100",
        "2026_11_21-10_00_00",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--cleanup"), "{err}");
    let (code, out, err) = run_zferry(&[
        "backup",
        "files",
        "--cleanup",
        "--root",
        &root,
        "100",
        "2026_11_21-10_00_00",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&loop_dev), "{out}");
    let gone = pool.run("zfs", &["list", &clone]);
    assert!(!gone.status.success(), "clone destroyed");
    assert!(!std::path::Path::new(dev).exists(), "partition device gone");
}
