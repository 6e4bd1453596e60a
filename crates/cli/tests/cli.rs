//! The `zferry` binary's behaviour that needs no ZFS: version, `config check` results and
//! exit codes, and stdout closed by the reader.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::Path;
use std::process::{Command, Stdio};

fn zferry(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zferry"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .env_remove("ZFERRY_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn version_names_the_program() {
    let out = zferry(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("zferry {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn valid_config_checks_ok_with_counts() {
    let out = zferry(&[
        "config",
        "check",
        "--config",
        "samples/seed000-two-node-nfs.toml",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert!(v["nodes"].as_u64().unwrap() >= 2, "{v}");
    assert_eq!(v["services"], 1);
}

#[test]
fn invalid_config_exits_1_with_line_column_and_hint() {
    let out = zferry(&[
        "config",
        "check",
        "--config",
        "samples/invalid/unknown-field.toml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("samples/invalid/unknown-field.toml:"),
        "{err}"
    );
    assert!(err.contains("hint: did you mean"), "{err}");

    let out = zferry(&[
        "config",
        "check",
        "--config",
        "samples/invalid/unknown-field.toml",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let problem = &v["problems"][0];
    assert!(
        problem["line"].as_u64().unwrap() > 0 && problem["column"].as_u64().unwrap() > 0,
        "{v}"
    );
}

#[test]
fn missing_config_exits_2_and_names_the_path() {
    let out = zferry(&["config", "check", "--config", "/nonexistent/zferry.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("/nonexistent/zferry.toml") && err.contains("--config"),
        "{err}"
    );
}

#[test]
fn a_reader_closing_stdout_early_is_not_a_crash() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zferry"))
        .args(["config", "check", "--config", "samples/full.toml", "--json"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before zferry writes
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

const GOLDEN: &str = "crates/vma/tests/golden";

#[test]
fn vma_list_reads_every_compression_the_same() {
    let plain = zferry(&["vma", "list", &format!("{GOLDEN}/golden.vma")]);
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let text = String::from_utf8(plain.stdout).unwrap();
    assert!(
        text.contains("DEV: dev_id=1 size: 204800 devname: drive-scsi0"),
        "{text}"
    );
    for ext in ["zst", "gz", "lzo"] {
        let out = zferry(&["vma", "list", &format!("{GOLDEN}/golden.vma.{ext}")]);
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            text,
            ".{ext} lists differently"
        );
    }
}

#[test]
fn vma_verify_reports_damage_with_exit_1_and_the_offset() {
    let good = zferry(&[
        "vma",
        "verify",
        "--json",
        &format!("{GOLDEN}/golden.vma.zst"),
    ]);
    assert_eq!(good.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&good.stdout).unwrap();
    assert_eq!(v["devices"][1]["zero_blocks"], 1022);

    let mut bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(GOLDEN)
            .join("golden.vma"),
    )
    .unwrap();
    let mid = bytes.len() / 2;
    bytes.truncate(mid);
    let dir = std::env::temp_dir().join(format!("zferry-vma-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let damaged = dir.join("cut.vma");
    std::fs::write(&damaged, &bytes).unwrap();
    let out = zferry(&["vma", "verify", damaged.to_str().unwrap()]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("damaged") && err.contains("offset"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn blocksync_writes_only_changed_blocks_and_a_second_run_writes_nothing() {
    let dir = std::env::temp_dir().join(format!("zferry-bs-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, dst) = (dir.join("src.img"), dir.join("dst.img"));
    let mut data: Vec<u8> = (0..64 * 4096u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&dst, &data).unwrap();
    data[5 * 4096 + 7] ^= 0xff; // one changed block
    data[40 * 4096..41 * 4096].fill(0); // one block zeroed
    std::fs::write(&src, &data).unwrap();
    let run = || {
        let out = zferry(&[
            "blocksync",
            "--json",
            src.to_str().unwrap(),
            dst.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = run();
    assert_eq!(first["blocks_changed"], 2, "{first}");
    assert_eq!(
        first["bytes_written"].as_u64().unwrap() + first["bytes_punched"].as_u64().unwrap(),
        2 * 4096
    );
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    let second = run();
    assert_eq!(
        (
            second["blocks_changed"].as_u64(),
            second["bytes_written"].as_u64()
        ),
        (Some(0), Some(0))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn vma_create_verify_extract_round_trip() {
    let dir = std::env::temp_dir().join(format!("zferry-vma-create-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // An odd-sized disk with data, zero blocks and a partial last block; a small second disk.
    let mut disk0: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    disk0[65_536..2 * 65_536].fill(0);
    let disk1 = vec![0x5au8; 4096];
    let conf = "name: vm100\n#qmdump#map:scsi0:drive-scsi0:local:raw:\n";
    std::fs::write(dir.join("d0.raw"), &disk0).unwrap();
    std::fs::write(dir.join("d1.raw"), &disk1).unwrap();
    std::fs::write(dir.join("qemu-server.conf"), conf).unwrap();
    for ext in ["vma", "vma.zst", "vma.gz"] {
        let archive = dir.join(format!("out.{ext}"));
        let out = zferry(&[
            "vma",
            "create",
            "--json",
            archive.to_str().unwrap(),
            "-c",
            dir.join("qemu-server.conf").to_str().unwrap(),
            &format!("drive-scsi0={}", dir.join("d0.raw").display()),
            &format!("drive-scsi1={}", dir.join("d1.raw").display()),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["devices"][0][1], 300_000, "{v}");
        assert!(!dir.join(format!("out.{ext}.part")).exists());

        let verify = zferry(&["vma", "verify", archive.to_str().unwrap()]);
        assert_eq!(verify.status.code(), Some(0), "{ext}");
        let target = dir.join(format!("x-{ext}"));
        let out = zferry(&[
            "vma",
            "extract",
            archive.to_str().unwrap(),
            target.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{ext}");
        assert_eq!(
            std::fs::read(target.join("disk-drive-scsi0.raw")).unwrap(),
            disk0
        );
        assert_eq!(
            std::fs::read(target.join("disk-drive-scsi1.raw")).unwrap(),
            disk1
        );
        assert_eq!(
            std::fs::read_to_string(target.join("qemu-server.conf")).unwrap(),
            conf
        );
    }
    // An existing output is never overwritten; lzop output is refused with advice.
    let again = zferry(&[
        "vma",
        "create",
        dir.join("out.vma").to_str().unwrap(),
        &format!("drive-scsi0={}", dir.join("d0.raw").display()),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let lzo = zferry(&[
        "vma",
        "create",
        dir.join("out.vma.lzo").to_str().unwrap(),
        &format!("drive-scsi0={}", dir.join("d0.raw").display()),
    ]);
    assert!(String::from_utf8_lossy(&lzo.stderr).contains("use .vma.zst"));
    std::fs::remove_dir_all(&dir).unwrap();
}
