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
