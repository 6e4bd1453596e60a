//! The `zferry` binary on real ZFS: `status --json` must agree with what `zfs` and `zpool`
//! report, and must read the state with one `zpool list` and one `zfs list`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::fmt::Write as _;

use serde_json::Value;
use zferry_lab::fixture::TestPool;

fn zferry(args: &[&str]) -> (i32, String, String) {
    zferry_lab::fixture::run_zferry(args)
}

fn value(pool: &TestPool, program: &str, args: &[&str]) -> String {
    pool.run_ok(program, args).stdout_lossy().trim().to_owned()
}

#[test]
fn status_json_agrees_with_zfs_and_zpool() {
    let pool = TestPool::create("st", "256M");
    pool.setup("fs a/b\nvol v 16M\nsnap a@s1\nwrite a/f 1M\nsnap a@s2\nsnap a/b@x\n");
    pool.run_ok("zpool", &["sync", pool.name()]);

    let (code, stdout, stderr) = zferry(&["status", "--json", pool.name()]);
    assert_eq!(code, 0, "zferry status failed: {stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("status --json is JSON");

    let pools = report["pools"].as_array().expect("pools array");
    assert_eq!(pools.len(), 1, "{stdout}");
    let p = &pools[0];
    assert_eq!(p["name"], pool.name());
    let zpool_get = |prop: &str| {
        value(
            &pool,
            "zpool",
            &["get", "-H", "-p", "-o", "value", prop, pool.name()],
        )
    };
    assert_eq!(p["health"], zpool_get("health"));
    assert_eq!(p["size"].as_u64().unwrap().to_string(), zpool_get("size"));
    assert_eq!(
        p["capacity_percent"].as_u64().unwrap().to_string(),
        zpool_get("capacity")
    );

    let datasets = report["datasets"].as_array().expect("datasets array");
    let names: Vec<&str> = datasets
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    let listed = value(
        &pool,
        "zfs",
        &[
            "list",
            "-H",
            "-o",
            "name",
            "-t",
            "filesystem,volume",
            "-r",
            pool.name(),
        ],
    );
    assert_eq!(names, listed.lines().collect::<Vec<_>>());

    for d in datasets {
        check_dataset(&pool, d);
    }
    assert_eq!(
        datasets.iter().find(|d| d["name"] == pool.ds("a")).unwrap()["newest_snapshot"]["name"],
        pool.ds("a@s2")
    );
}

#[test]
fn status_reads_state_with_one_zpool_list_and_one_zfs_list() {
    let pool = TestPool::create("sc", "128M");
    let mut setup = String::new();
    for i in 0..12 {
        writeln!(
            setup,
            "fs d{i}
snap d{i}@a
snap d{i}@b"
        )
        .unwrap();
    }
    pool.setup(&setup);
    let (code, _, stderr) = zferry(&["-v", "status", pool.name()]);
    assert_eq!(code, 0, "{stderr}");
    let started: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("local_argv"))
        .collect();
    let zfs = started.iter().filter(|l| l.contains("\"zfs\"")).count();
    let zpool = started.iter().filter(|l| l.contains("\"zpool\"")).count();
    assert_eq!(
        (zpool, zfs),
        (1, 1),
        "commands started:\n{}",
        started.join("\n")
    );
}

#[test]
fn status_table_lists_every_dataset() {
    let pool = TestPool::create("sh", "128M");
    pool.setup("fs data\nsnap data@autosnap_2026-11-21_12:00:00_hourly\n");
    let (code, stdout, stderr) = zferry(&["status", pool.name()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("POOL"), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&pool.ds("data")))
        .expect("dataset row");
    assert!(
        line.contains("@autosnap_2026-11-21_12:00:00_hourly"),
        "{line}"
    );
}

#[test]
fn status_on_a_missing_pool_fails_with_the_zpool_error() {
    let _pool = TestPool::create("sm", "64M");
    let (code, stdout, stderr) = zferry(&["status", "nosuchpool"]);
    assert_eq!(code, 2, "stdout: {stdout}");
    assert!(
        stderr.contains("nosuchpool") && stderr.contains("no such pool"),
        "{stderr}"
    );
}

/// One dataset of the report against `zfs list`/`zfs get` for the same dataset.
fn check_dataset(pool: &TestPool, d: &Value) {
    let name = d["name"].as_str().unwrap();
    let snaps = value(
        pool,
        "zfs",
        &[
            "list",
            "-H",
            "-o",
            "name",
            "-t",
            "snapshot",
            "-d",
            "1",
            "-s",
            "createtxg",
            name,
        ],
    );
    let snaps: Vec<&str> = snaps.lines().collect();
    assert_eq!(
        d["snapshots"].as_u64(),
        Some(u64::try_from(snaps.len()).unwrap()),
        "snapshot count of {name}"
    );
    match snaps.last() {
        None => assert!(d["newest_snapshot"].is_null(), "{name}"),
        Some(newest) => {
            assert_eq!(d["newest_snapshot"]["name"], *newest);
            let creation = value(
                pool,
                "zfs",
                &["get", "-H", "-p", "-o", "value", "creation", newest],
            );
            assert_eq!(
                d["newest_snapshot"]["creation"]
                    .as_u64()
                    .unwrap()
                    .to_string(),
                creation
            );
        }
    }
    let referenced = value(
        pool,
        "zfs",
        &["get", "-H", "-p", "-o", "value", "referenced", name],
    );
    assert_eq!(
        d["referenced"].as_u64().unwrap().to_string(),
        referenced,
        "referenced of {name}"
    );
    let kind = value(pool, "zfs", &["get", "-H", "-o", "value", "type", name]);
    assert_eq!(d["type"], kind);
}
