//! zferry's monitor against the real `sanoid` 2.1.0 (Debian package) on the same pools:
//! snapshots are taken by sanoid itself, the policy is the same sanoid.conf imported with
//! `import-sanoid`, and the Nagios line and exit code must be identical, byte for byte.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use zferry_config::Config;
use zferry_exec::LocalExecutor;
use zferry_lab::fixture::{POOL_DIR, TestPool};
use zferry_snap::monitor::{
    CapacityLimits, MonitorTarget, monitor_capacity, monitor_health, monitor_snapshots,
};
use zferry_snap::sanoid_import::import;
use zferry_snap::state::gather;
use zferry_zfs::{DatasetName, PoolName, ops};

const DEFAULTS: &str = "/usr/share/sanoid/sanoid.defaults.conf";

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A sanoid config directory of its own (config, cache and lock dirs), so runs never share
/// sanoid's 15-minute snapshot cache.
struct Sanoid {
    dir: tempfile::TempDir,
    conf: String,
}

/// One sanoid run: exit code, stdout, and the wall-clock seconds it spanned.
struct Run {
    code: i32,
    line: String,
    span: (i64, i64),
}

impl Sanoid {
    fn new(conf: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sanoid.conf"), conf).unwrap();
        std::fs::copy(DEFAULTS, dir.path().join("sanoid.defaults.conf")).unwrap();
        Self {
            dir,
            conf: conf.to_owned(),
        }
    }

    fn run(&self, action: &str) -> Run {
        let d = self.dir.path();
        let _ = std::fs::remove_file(d.join("cache/snapshots.txt"));
        let t0 = now();
        let out = Command::new("sanoid")
            .arg(format!("--configdir={}", d.display()))
            .arg(format!("--cache-dir={}", d.join("cache").display()))
            .arg(format!("--run-dir={}", d.join("run").display()))
            .arg(action)
            .output()
            .unwrap();
        let t1 = now();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.code().is_some(),
            "sanoid {action} died: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Run {
            code: out.status.code().unwrap(),
            line: stdout.strip_suffix('\n').unwrap_or(&stdout).to_owned(),
            span: (t0, t1),
        }
    }

    /// The same policy, as zferry config.
    fn zferry_config(&self) -> Config {
        let r = import(&self.conf, &std::fs::read_to_string(DEFAULTS).unwrap()).unwrap();
        assert!(r.unconverted.is_empty(), "{:?}", r.unconverted);
        Config::from_str_with_path(&r.toml, Path::new("imported.toml"))
            .unwrap_or_else(|e| panic!("{e}\n{}", r.toml))
    }
}

/// sanoid `--monitor-snapshots` and zferry's monitor on the same pool: identical line and
/// exit code for some `now` within sanoid's run.
fn compare_snapshots(pool: &TestPool, sanoid: &Sanoid) -> String {
    let run = sanoid.run("--monitor-snapshots");
    let config = sanoid.zferry_config();
    let root: DatasetName = pool.name().parse().unwrap();
    let state = gather(&LocalExecutor::new(), &root, &[]).unwrap();
    let policies: Vec<_> = state
        .iter()
        .filter_map(|d| config.effective_policy(&d.name).map(|p| (d, p)))
        .collect();
    let targets: Vec<MonitorTarget<'_>> = policies
        .iter()
        .map(|(d, p)| MonitorTarget::from_policy(d, p))
        .collect();
    let prefix = "autosnap".parse().unwrap();
    let ours: Vec<_> = (run.span.0..=run.span.1)
        .map(|t| monitor_snapshots(&targets, &prefix, t))
        .collect();
    assert!(
        ours.iter()
            .any(|r| r.line == run.line && r.exit_code == run.code),
        "sanoid ({}): {}\nzferry: {:#?}",
        run.code,
        run.line,
        ours.iter()
            .map(|r| (r.exit_code, &r.line))
            .collect::<Vec<_>>()
    );
    run.line
}

#[test]
fn snapshot_freshness_matches_sanoid() {
    let pool = TestPool::create("zfmon", "128M");
    pool.setup("fs data\nfs data/a\nfs data/b\nfs tree/x\nfs tree/y\nfs flat");
    let p = pool.name();
    let take = Sanoid::new(&format!(
        "[{p}/data]\n\tuse_template = prod\n\trecursive = yes\n\tprocess_children_only = yes\n\n\
         [{p}/tree]\n\tuse_template = prod\n\trecursive = zfs\n\n\
         [{p}/flat]\n\thourly = 2\n\tdaily = 1\n\tmonthly = 1\n\n\
         [template_prod]\n\thourly = 3\n\tdaily = 2\n\tmonthly = 1\n"
    ));
    let taken = take.run("--take-snapshots");
    assert_eq!(taken.code, 0, "{}", taken.line);

    // Fresh: everything just taken.
    let line = compare_snapshots(&pool, &take);
    assert!(line.starts_with("OK: all monitored datasets ("), "{line}");
    assert!(line.contains(&format!("{p}/data/a")) && line.contains(&format!("{p}/tree/x")));
    assert!(
        !line.contains(&format!("{p}/data,")),
        "children only: {line}"
    );

    // Stale: thresholds of seconds (bare numbers are one period down: seconds for frequently,
    // minutes for hourly), ages of a few seconds.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let stale = Sanoid::new(&format!(
        "[{p}/data]\n\tuse_template = prod\n\trecursive = yes\n\n\
         [{p}/data/b]\n\tdaily_warn = 1s\n\tdaily_crit = 2s\n\n\
         [{p}/flat]\n\thourly = 2\n\tdaily = 1\n\tmonthly = 1\n\tmonitor = no\n\n\
         [template_prod]\n\thourly = 3\n\tdaily = 2\n\tmonthly = 1\n\thourly_warn = 2s\n\thourly_crit = 1h\n"
    ));
    let line = compare_snapshots(&pool, &stale);
    assert!(
        line.contains(&format!("CRIT: {p}/data/b newest daily snapshot is")),
        "{line}"
    );
    assert!(
        line.contains(&format!("WARN: {p}/data/a newest hourly snapshot is")),
        "{line}"
    );

    // Missing types: weekly and yearly were never taken.
    let missing = Sanoid::new(&format!(
        "[{p}/flat]\n\tweekly = 2\n\tweekly_warn = 8d\n\tweekly_crit = 9d\n\
         \tyearly = 1\n\tyearly_warn = 0\n\tyearly_crit = 400d\n\n\
         [{p}/tree]\n\tweekly = 1\n\tweekly_warn = 1w\n\tweekly_crit = 0\n\trecursive = yes\n"
    ));
    let line = compare_snapshots(&pool, &missing);
    assert!(
        line.contains(&format!("CRIT: {p}/flat has no weekly snapshots at all!")),
        "{line}"
    );
    assert!(
        line.contains(&format!("CRIT: {p}/flat has no yearly snapshots at all!")),
        "{line}"
    );
}

/// A two-way mirror on two files, destroyed on drop.
struct Mirror {
    name: String,
    files: [PathBuf; 2],
}

impl Mirror {
    fn create() -> Self {
        zferry_lab::fixture::require_zfs();
        let name = format!("zfmir{}", std::process::id());
        let files = [0, 1].map(|i| PathBuf::from(POOL_DIR).join(format!("{name}-{i}.img")));
        std::fs::create_dir_all(POOL_DIR).unwrap();
        for f in &files {
            assert!(
                Command::new("truncate")
                    .args(["-s", "96M"])
                    .arg(f)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let ok = Command::new("zpool")
            .args(["create", "-f", "-O", "mountpoint=none", &name, "mirror"])
            .args(&files)
            .status()
            .unwrap();
        assert!(ok.success());
        Self { name, files }
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = Command::new("zpool")
            .args(["destroy", "-f", &self.name])
            .status();
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// Waits until the pool's free space reads the same twice: a new or just-changed pool keeps
/// syncing metadata for a moment, and the two tools sample `zpool list` at different times.
fn settle(pool: &str) {
    let free = || {
        let out = Command::new("zpool")
            .args(["list", "-Hp", "-o", "free", pool])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let _ = Command::new("zpool").args(["sync", pool]).status();
    let mut last = free();
    for _ in 0..40 {
        std::thread::sleep(std::time::Duration::from_millis(250));
        let now = free();
        if now == last {
            return;
        }
        last = now;
    }
}

/// sanoid's and zferry's health lines for the same pool must be identical. Both sample the
/// pool at slightly different moments, so a settled pool is compared up to three times: a
/// real formatting difference fails every attempt, a moving free-space figure does not.
fn compare_health(pool: &str, sanoid: &Sanoid) -> String {
    let exec = LocalExecutor::new();
    let name: PoolName = pool.parse().unwrap();
    let mut attempts = Vec::new();
    for _ in 0..3 {
        settle(pool);
        let run = sanoid.run("--monitor-health");
        let list = ops::zpool_list(&exec, std::slice::from_ref(&name)).unwrap();
        let status = ops::zpool_status(&exec, std::slice::from_ref(&name)).unwrap();
        let ours = monitor_health(std::slice::from_ref(&name), &list, &status);
        if (ours.exit_code, ours.line.as_str()) == (run.code, run.line.as_str()) {
            return run.line;
        }
        attempts.push(format!(
            "zferry ({}) {:?}\nsanoid ({}) {:?}",
            ours.exit_code, ours.line, run.code, run.line
        ));
    }
    panic!(
        "health lines differ in every attempt:\n{}",
        attempts.join("\n")
    );
}

#[test]
fn pool_health_matches_sanoid_healthy_and_degraded() {
    let m = Mirror::create();
    let sanoid = Sanoid::new(&format!("[{}]\n\tautosnap = no\n", m.name));
    let line = compare_health(&m.name, &sanoid);
    assert!(
        line.starts_with(&format!("OK ZPOOL {} : ONLINE {{Size:", m.name)),
        "{line}"
    );

    let off = Command::new("zpool")
        .args(["offline", &m.name])
        .arg(&m.files[1])
        .status()
        .unwrap();
    assert!(off.success());
    let line = compare_health(&m.name, &sanoid);
    assert!(
        line.starts_with(&format!(
            "*** WARNING *** WARNING ZPOOL {} : DEGRADED",
            m.name
        )),
        "{line}"
    );
    assert!(
        line.ends_with(&format!(
            "<mirror-0:DEGRADED> {}:OFFLINE ",
            m.files[1].display()
        )),
        "{line}"
    );
}

#[test]
fn pool_capacity_matches_sanoid() {
    let pool = TestPool::create("zfcap", "128M");
    pool.setup("fs data\nwrite data/f 12M");
    pool.run_ok("zpool", &["sync", pool.name()]);
    let name: PoolName = pool.name().parse().unwrap();
    let exec = LocalExecutor::new();
    for (warn, crit, expected) in [(80u8, 95u8, 0), (5, 95, 1), (3, 5, 2)] {
        let sanoid = Sanoid::new(&format!(
            "[{0}]\n\tcapacity_warn = {warn}\n\tcapacity_crit = {crit}\n\n[{0}/data]\n\tautosnap = no\n",
            pool.name()
        ));
        let run = sanoid.run("--monitor-capacity");
        let list = ops::zpool_list(&exec, std::slice::from_ref(&name)).unwrap();
        let ours = monitor_capacity(&[(name.clone(), CapacityLimits { warn, crit })], &list);
        assert_eq!(
            (ours.exit_code, ours.line.as_str()),
            (run.code, run.line.as_str()),
            "limits {warn}/{crit}"
        );
        assert_eq!(run.code, expected, "{}", run.line);
    }
}
