//! `zferry snap run` on real ZFS: takes what the policy says in one transaction per round,
//! prunes over simulated time (`--now`) exactly what its dry run planned, never prunes a held
//! snapshot, and recognises and prunes snapshots taken by the real sanoid.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use zferry_lab::fixture::TestPool;

fn zferry(config: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<&std::ffi::OsStr> = vec!["--config".as_ref(), config.as_os_str()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    zferry_lab::fixture::run_zferry(&all)
}

fn write_config(pool: &TestPool, body: &str) -> PathBuf {
    let dir = PathBuf::from(format!("/var/tmp/zferry-test-cfg/{}", pool.name()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("zferry.toml");
    std::fs::write(&path, body.replace("{pool}", pool.name())).unwrap();
    path
}

/// (snapshot name, createtxg) of every snapshot under the pool, sorted by name.
fn snapshots(pool: &TestPool) -> Vec<(String, u64)> {
    let out = pool.run_ok(
        "zfs",
        &[
            "list",
            "-H",
            "-p",
            "-o",
            "name,createtxg",
            "-t",
            "snapshot",
            "-r",
            pool.name(),
        ],
    );
    let mut v: Vec<(String, u64)> = out
        .stdout_lossy()
        .lines()
        .map(|l| {
            let (n, t) = l.split_once('\t').unwrap();
            (n.to_owned(), t.parse().unwrap())
        })
        .collect();
    v.sort();
    v
}

fn now_plus(secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t = i64::try_from(now).unwrap() + secs;
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn a_run_takes_every_due_period_one_txg_per_round_and_dry_run_changes_nothing() {
    let pool = TestPool::create("sr", "128M");
    pool.setup("fs data/a\nfs data/b\n");
    let cfg = write_config(
        &pool,
        "[global]\ntimezone = \"utc\"\n[templates.t]\nhourly = 2\ndaily = 1\n[datasets.\"{pool}/data\"]\nuse-template = \"t\"\nrecursive = \"yes\"\n",
    );

    let (code, stdout, stderr) = zferry(&cfg, &["snap", "run", "--dry-run"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("hourly due"),
        "no reasons in the plan: {stdout}"
    );
    assert!(snapshots(&pool).is_empty(), "a dry run created snapshots");

    let (code, stdout, stderr) = zferry(&cfg, &["snap", "run", "--json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let snaps = snapshots(&pool);
    assert_eq!(
        snaps.len(),
        6,
        "hourly + daily on data, data/a, data/b: {snaps:?}"
    );
    for suffix in ["_hourly", "_daily"] {
        let txgs: Vec<u64> = snaps
            .iter()
            .filter(|(n, _)| n.ends_with(suffix))
            .map(|(_, t)| *t)
            .collect();
        assert_eq!(txgs.len(), 3);
        assert!(
            txgs.iter().all(|t| *t == txgs[0]),
            "{suffix} snapshots not in one txg: {snaps:?}"
        );
    }
    // One zfs list for state, then one program per round (hourly, daily): 3 for one pool.
    assert_eq!(report["zfs_processes"], 3, "{stdout}");

    let (code, stdout, _) = zferry(&cfg, &["snap", "run"]);
    assert_eq!(code, 0);
    assert_eq!(
        snapshots(&pool).len(),
        6,
        "a second run right away took more: {stdout}"
    );
}

/// The `zfs` processes a `zferry -v` run started on `pool` (its debug log names each argv).
fn zfs_started_on<'a>(stderr: &'a str, pool: &TestPool) -> Vec<&'a str> {
    let quoted = format!("\"{}\"", pool.name());
    stderr
        .lines()
        .filter(|l| l.contains("local_argv") && l.contains("[\"zfs\"") && l.contains(&quoted))
        .collect()
}

#[test]
fn two_periods_due_with_pruning_cost_at_most_three_zfs_processes_per_pool() {
    let pools = [
        TestPool::create("sq", "128M"),
        TestPool::create("sq", "128M"),
    ];
    let mut body =
        "[global]\ntimezone = \"utc\"\n[templates.t]\nhourly = 1\ndaily = 1\n".to_owned();
    for pool in &pools {
        pool.setup("fs data\nfs data/a\nfs data/b\n");
        writeln!(
            body,
            "[datasets.\"{}/data\"]\nuse-template = \"t\"\nrecursive = \"yes\"",
            pool.name()
        )
        .unwrap();
    }
    let cfg = write_config(&pools[0], &body);
    let (code, out, err) = zferry(&cfg, &["snap", "run", "--now", &now_plus(0)]);
    assert_eq!(code, 0, "{out}{err}");
    let first: Vec<Vec<String>> = pools
        .iter()
        .map(|p| snapshots(p).into_iter().map(|(n, _)| n).collect())
        .collect();
    assert!(first.iter().all(|s| s.len() == 6), "{first:?}");

    // Two days later hourly and daily are both due, and the first run's hourly and daily
    // are past their 1 h / 1 d windows with 2 > 1 of each: take 2, prune 2 per dataset.
    // (Waits until the first run's `snapshots_changed` values are settled, as they are
    // between timer runs: then no snapshot needs listing.)
    std::thread::sleep(std::time::Duration::from_secs(11));
    let (code, stdout, stderr) = zferry(
        &cfg,
        &[
            "-v",
            "snap",
            "run",
            "--json",
            "--now",
            &now_plus(2 * 86_400 + 3_600),
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    for (pool, before) in pools.iter().zip(&first) {
        let started = zfs_started_on(&stderr, pool);
        assert!(
            started.len() <= 3,
            "{} zfs processes on {}:\n{}",
            started.len(),
            pool.name(),
            started.join("\n")
        );
        assert_eq!(
            started.iter().filter(|l| l.contains("\"list\"")).count(),
            1,
            "state must come from one zfs list:\n{}",
            started.join("\n")
        );
        let after: Vec<String> = snapshots(pool).into_iter().map(|(n, _)| n).collect();
        assert_eq!(after.len(), 6, "{after:?}");
        assert!(
            before.iter().all(|n| !after.contains(n)),
            "the old snapshots were not pruned: {after:?}"
        );
        for gone in before {
            assert!(
                stderr
                    .lines()
                    .any(|l| l.contains(gone.as_str()) && l.contains("reason=")),
                "destroy of {gone} not logged with its reason"
            );
        }
    }
    assert_eq!(report["zfs_processes"], 6, "{stdout}");
    // The first run's programs taught the cache every snapshot they made and each dataset's
    // `snapshots_changed` after: the second run listed the datasets alone, no snapshot.
    for read in report["reads"].as_array().unwrap() {
        assert_eq!(read["mode"]["by-dataset"]["relisted"], 0, "{read}");
        assert_eq!(read["mode"]["by-dataset"]["fetched"], 0, "{read}");
        assert_eq!(read["processes"], 1, "{read}");
    }

    a_foreign_snapshot_is_seen_by_listing_its_dataset_alone(&cfg, &pools);
}

/// After [`two_periods_due_with_pruning_cost_at_most_three_zfs_processes_per_pool`]'s runs: a
/// snapshot made by another tool moves its dataset's `snapshots_changed`, so that dataset
/// alone is listed again, and its snapshot is seen (counted by the policy).
fn a_foreign_snapshot_is_seen_by_listing_its_dataset_alone(cfg: &Path, pools: &[TestPool]) {
    let foreign = format!(
        "{}/data/a@autosnap_2000-01-01_00:00:00_hourly",
        pools[0].name()
    );
    pools[0].run_ok("zfs", &["snapshot", &foreign]);
    std::thread::sleep(std::time::Duration::from_secs(11));
    let (code, stdout, stderr) = zferry(
        cfg,
        &[
            "snap",
            "run",
            "--dry-run",
            "--json",
            "--now",
            &now_plus(2 * 86_400 + 3_600 + 60),
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    for (pool, want) in pools.iter().zip([1, 0]) {
        let read = report["reads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["pool"] == pool.name())
            .unwrap();
        assert_eq!(read["mode"]["by-dataset"]["relisted"], want, "{read}");
    }
    // Counted: at the simulated time the hourly is due again on every dataset, and the new
    // one leaves every older hourly past its window: data/a has two (the foreign one among
    // them), data/b one.
    let destroys: Vec<&str> = report["plan"]["destroy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["snapshot"].as_str().unwrap())
        .collect();
    let hourlies_of = |ds: &str| {
        let prefix = format!("{}/data/{ds}@", pools[0].name());
        destroys
            .iter()
            .filter(|d| d.starts_with(&prefix) && d.ends_with("_hourly"))
            .count()
    };
    assert!(destroys.contains(&foreign.as_str()), "{destroys:?}");
    assert_eq!((hourlies_of("a"), hourlies_of("b")), (2, 1), "{destroys:?}");
}

#[test]
fn pruning_over_simulated_time_leaves_exactly_the_planned_set_and_spares_held_snapshots() {
    let pool = TestPool::create("sp", "128M");
    pool.setup("fs data\n");
    let cfg = write_config(
        &pool,
        "[global]\ntimezone = \"utc\"\n[templates.t]\nhourly = 2\n[datasets.\"{pool}/data\"]\nuse-template = \"t\"\n",
    );
    for offset in [0, 3900] {
        let (code, out, err) = zferry(&cfg, &["snap", "run", "--now", &now_plus(offset)]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let before = snapshots(&pool);
    assert_eq!(
        before.len(),
        2,
        "two hourlies over two simulated hours: {before:?}"
    );
    let oldest = before.iter().min_by_key(|(_, t)| *t).unwrap().0.clone();
    pool.run_ok("zfs", &["hold", "keep", &oldest]);

    // A run prunes with the snapshot it takes counted (sanoid 2.1 would not): 3 > 2 hourlies,
    // so the oldest unprotected one older than 2 h goes.
    let later = now_plus(7800);
    let (code, stdout, stderr) = zferry(
        &cfg,
        &["snap", "run", "--dry-run", "--json", "--now", &later],
    );
    assert_eq!(code, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let destroys: Vec<String> = plan["plan"]["destroy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["snapshot"].as_str().unwrap().to_owned())
        .collect();
    let creates: Vec<String> = plan["plan"]["create"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["snapshot"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(destroys.len(), 1, "{stdout}");
    assert_ne!(
        destroys[0], oldest,
        "the held snapshot was planned for destruction"
    );
    let kept = plan["plan"]["kept"].as_array().unwrap();
    assert!(
        kept.iter().any(|k| k["snapshot"] == oldest.as_str()),
        "held snapshot not reported as kept: {stdout}"
    );
    assert_eq!(snapshots(&pool), before, "the dry run changed something");

    let (code, out, err) = zferry(&cfg, &["snap", "run", "--now", &later]);
    assert_eq!(code, 0, "{out}{err}");
    let mut expected: Vec<String> = before
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| !destroys.contains(n))
        .collect();
    expected.extend(creates);
    expected.sort();
    let after: Vec<String> = snapshots(&pool).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        after, expected,
        "the run did not leave exactly the planned set"
    );
    pool.run_ok("zfs", &["release", "keep", &oldest]);
}

#[test]
fn snapshots_taken_by_real_sanoid_are_recognised_and_pruned_by_the_same_rule() {
    let pool = TestPool::create("ss", "128M");
    pool.setup("fs data\n");
    let dir = PathBuf::from(format!("/var/tmp/zferry-test-cfg/{}-sanoid", pool.name()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        "/usr/share/sanoid/sanoid.defaults.conf",
        dir.join("sanoid.defaults.conf"),
    )
    .unwrap();
    std::fs::write(
        dir.join("sanoid.conf"),
        format!("[{}/data]\n\tuse_template = t\n\n[template_t]\n\thourly = 1\n\tdaily = 1\n\tmonthly = 0\n\tyearly = 0\n\tautosnap = yes\n", pool.name()),
    )
    .unwrap();
    let out = pool.run(
        "sanoid",
        &["--configdir", dir.to_str().unwrap(), "--take-snapshots"],
    );
    assert!(out.success(), "sanoid failed: {}", out.stderr);
    let by_sanoid: Vec<String> = snapshots(&pool).into_iter().map(|(n, _)| n).collect();
    let hourly = by_sanoid
        .iter()
        .find(|n| n.ends_with("_hourly"))
        .expect("sanoid took an hourly")
        .clone();
    let daily = by_sanoid
        .iter()
        .find(|n| n.ends_with("_daily"))
        .expect("sanoid took a daily")
        .clone();

    // zferry keeps no hourlies and one daily: sanoid's hourly goes, its daily stays.
    let cfg = write_config(
        &pool,
        "[global]\ntimezone = \"local\"\n[templates.t]\nhourly = 0\ndaily = 1\n[datasets.\"{pool}/data\"]\nuse-template = \"t\"\n",
    );
    let (code, stdout, stderr) = zferry(&cfg, &["snap", "run", "--dry-run", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let destroys: Vec<&str> = plan["plan"]["destroy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["snapshot"].as_str().unwrap())
        .collect();
    assert_eq!(destroys, [hourly.as_str()], "{stdout}");
    assert!(
        plan["plan"]["create"].as_array().unwrap().is_empty(),
        "sanoid's fresh daily not recognised: {stdout}"
    );

    let (code, out, err) = zferry(&cfg, &["snap", "run"]);
    assert_eq!(code, 0, "{out}{err}");
    let after: Vec<String> = snapshots(&pool).into_iter().map(|(n, _)| n).collect();
    assert_eq!(after, [daily]);
}
