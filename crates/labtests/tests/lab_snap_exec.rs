//! The snapshot execution shell on real OpenZFS: one `zfs program` per pool creates every
//! snapshot in one transaction group or none at all; destroys batch the same way; the plain
//! command fallback ends in the same state; running-guest mode follows a guest-state command
//! whose output the test rewrites between runs. Every run counts its `zfs` processes.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use zferry_exec::{CommandSpec, ExecError, Executor, LocalExecutor, Output};
use zferry_lab::fixture::TestPool;
use zferry_snap::execute::{ChannelPrograms, ExecOptions, ExecuteError, Method, execute};
use zferry_snap::guest::{self, GuestContext};
use zferry_snap::model::{Create, Destroy, Plan};
use zferry_snap::state;
use zferry_zfs::{DatasetName, Guid, UserPropName};

/// Counts the processes a run spawns.
#[derive(Debug)]
struct Counting {
    inner: LocalExecutor,
    n: AtomicUsize,
}

impl Counting {
    fn new() -> Self {
        Self {
            inner: LocalExecutor::new(),
            n: AtomicUsize::new(0),
        }
    }
    fn take(&self) -> usize {
        self.n.swap(0, Ordering::SeqCst)
    }
}

impl Executor for Counting {
    fn host(&self) -> &str {
        self.inner.host()
    }
    fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        self.n.fetch_add(1, Ordering::SeqCst);
        self.inner.run(cmd)
    }
}

fn create(s: &str) -> Create {
    Create {
        snapshot: s.parse().unwrap(),
        period: Some(zferry_config::Period::Hourly),
        reason: "hourly due (test)".into(),
    }
}

/// A planned destroy of `s` with the guid it has now (0 when it does not exist).
fn destroy(pool: &TestPool, s: &str) -> Destroy {
    Destroy {
        snapshot: s.parse().unwrap(),
        guid: guid(pool, s),
        period: zferry_config::Period::Hourly,
        reason: "prune (test)".into(),
    }
}

/// `createtxg` of each snapshot, in the order given, read with `zfs get` (independent of
/// zferry's parser; `zfs get` sorts its output, so values are matched by name).
fn createtxg(pool: &TestPool, snaps: &[String]) -> Vec<u64> {
    let mut args = vec!["get", "-H", "-p", "-o", "name,value", "createtxg"];
    args.extend(snaps.iter().map(String::as_str));
    let out = pool.run_ok("zfs", &args).stdout_lossy();
    let by_name: BTreeMap<&str, u64> = out
        .lines()
        .map(|l| {
            let (n, v) = l.split_once('\t').unwrap();
            (n, v.parse().unwrap())
        })
        .collect();
    snaps.iter().map(|s| by_name[s.as_str()]).collect()
}

fn guid(pool: &TestPool, name: &str) -> Guid {
    let out = pool.run("zfs", &["get", "-H", "-p", "-o", "value", "guid", name]);
    if !out.success() {
        return Guid(0);
    }
    Guid(out.stdout_lossy().trim().parse().unwrap())
}

fn exists(pool: &TestPool, name: &str) -> bool {
    pool.run("zfs", &["list", "-H", "-o", "name", name])
        .success()
}

fn snapshots_of(pool: &TestPool, ds: &str) -> Vec<String> {
    pool.run_ok(
        "zfs",
        &[
            "list",
            "-H",
            "-o",
            "name",
            "-t",
            "snapshot",
            "-s",
            "createtxg",
            "-d",
            "1",
            ds,
        ],
    )
    .stdout_lossy()
    .lines()
    .map(|l| l.rsplit_once('@').unwrap().1.to_owned())
    .collect()
}

fn prop(pool: &TestPool, ds: &str, p: &str) -> String {
    pool.run_ok("zfs", &["get", "-H", "-o", "value", p, ds])
        .stdout_lossy()
        .trim()
        .to_owned()
}

fn plan_of(pool: &TestPool, creates: &[&str], destroys: &[&str]) -> Plan {
    Plan {
        create: creates.iter().map(|s| create(&pool.ds(s))).collect(),
        destroy: destroys
            .iter()
            .map(|s| destroy(pool, &pool.ds(s)))
            .collect(),
        ..Plan::default()
    }
}

fn fallback() -> ExecOptions {
    ExecOptions {
        channel_programs: ChannelPrograms::Never,
        ..ExecOptions::default()
    }
}

#[test]
fn one_program_creates_every_snapshot_in_one_txg() {
    let pool = TestPool::create("snx", "128M");
    pool.setup("fs a\nfs a/b\nfs c\nvol v 8M\n");
    let exec = Counting::new();
    let names = ["a@s1", "a/b@s1", "c@s1", "v@s1"];
    let out = execute(&exec, &plan_of(&pool, &names, &[]), &ExecOptions::default());
    assert!(out[0].error.is_none(), "{:?}", out[0].error);
    assert_eq!(out[0].report.method, Method::ChannelProgram);
    assert_eq!(out[0].report.created.len(), 4);
    assert_eq!((exec.take(), out[0].report.processes), (1, 1));
    let full: Vec<String> = names.iter().map(|n| pool.ds(n)).collect();
    let txgs = createtxg(&pool, &full);
    assert_eq!(txgs.len(), 4);
    assert!(
        txgs.iter().all(|t| *t == txgs[0]),
        "createtxg differ: {txgs:?}"
    );

    // Hourly and daily of one dataset cannot share a txg: two rounds, two programs.
    let out = execute(
        &exec,
        &plan_of(&pool, &["a@h", "c@h", "a@d"], &[]),
        &ExecOptions::default(),
    );
    assert!(out[0].error.is_none(), "{:?}", out[0].error);
    assert_eq!((out[0].report.create_rounds, exec.take()), (2, 2));
    let t = createtxg(&pool, &[pool.ds("a@h"), pool.ds("c@h"), pool.ds("a@d")]);
    assert_eq!(t[0], t[1], "{t:?}");
    assert!(t[2] > t[0], "{t:?}");
}

#[test]
fn a_failing_check_creates_nothing_and_names_the_snapshot() {
    let pool = TestPool::create("snx", "128M");
    pool.setup("fs a\nfs b\nfs c\nsnap b@s1\n");
    let exec = Counting::new();
    let plan = plan_of(&pool, &["a@s1", "b@s1", "c@s1", "a@later"], &["b@s1"]);
    let out = execute(&exec, &plan, &ExecOptions::default());
    let err = out[0].error.as_ref().expect("must be refused");
    assert!(matches!(err, ExecuteError::Refused { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "snapshot {}: snapshot already exists",
            pool.ds("b@s1")
        )),
        "{text}"
    );
    for s in ["a@s1", "c@s1", "a@later"] {
        assert!(!exists(&pool, &pool.ds(s)), "{s} was created");
    }
    assert!(
        exists(&pool, &pool.ds("b@s1")),
        "destroys must not run after a refusal"
    );
    assert_eq!(exec.take(), 1);

    // A missing dataset is refused the same way, and the dry run says so without changes.
    let plan = plan_of(&pool, &["a@x", "nope@x"], &[]);
    let dry = ExecOptions {
        dry_run: true,
        ..ExecOptions::default()
    };
    let out = execute(&exec, &plan, &dry);
    let text = out[0].error.as_ref().unwrap().to_string();
    assert!(text.contains("dataset does not exist"), "{text}");
    let out = execute(&exec, &plan_of(&pool, &["a@y"], &[]), &dry);
    assert!(out[0].error.is_none());
    assert!(
        !exists(&pool, &pool.ds("a@y")),
        "dry run created a snapshot"
    );
}

#[test]
fn destroys_batch_in_one_program_keeps_held_snapshots_and_a_clone_refuses_all() {
    let pool = TestPool::create("snx", "128M");
    pool.setup("fs a\nfs b\nsnap a@1\nsnap a@2\nsnap a@3\nsnap b@1\nsnap b@2\nhold keep b@2\n");
    let exec = Counting::new();
    // The plan does not know about the hold (a fast state read): the program finds it in
    // the transaction that destroys, keeps b@2 and destroys the rest.
    let out = execute(
        &exec,
        &plan_of(&pool, &[], &["a@1", "b@1", "b@2", "a@gone"]),
        &ExecOptions::default(),
    );
    assert!(out[0].error.is_none(), "{:?}", out[0].error);
    let report = &out[0].report;
    assert_eq!(report.destroyed.len(), 2, "{report:?}");
    assert_eq!(report.held.len(), 1);
    assert_eq!(report.held[0].name, pool.ds("b@2"));
    assert_eq!(report.held[0].holds, 1);
    assert_eq!(report.missing, [pool.ds("a@gone")]);
    assert_eq!(exec.take(), 1);
    assert_eq!(snapshots_of(&pool, &pool.ds("a")), ["2", "3"]);
    assert_eq!(snapshots_of(&pool, &pool.ds("b")), ["2"]);

    // A snapshot with a dependent clone refuses the whole destroy batch.
    pool.run_ok("zfs", &["clone", &pool.ds("a@2"), &pool.ds("c")]);
    let out = execute(
        &exec,
        &plan_of(&pool, &[], &["a@2", "a@3"]),
        &ExecOptions::default(),
    );
    let text = out[0].error.as_ref().unwrap().to_string();
    assert!(
        text.contains(&format!(
            "destroy {}: snapshot has dependent clones",
            pool.ds("a@2")
        )),
        "{text}"
    );
    assert_eq!(snapshots_of(&pool, &pool.ds("a")), ["2", "3"]);
    assert_eq!(exec.take(), 1);
}

#[test]
fn a_snapshot_recreated_under_a_planned_name_is_kept_by_its_guid() {
    let pool = TestPool::create("snx", "128M");
    pool.setup("fs a\nsnap a@1\nsnap a@2\nsnap a@3\n");
    // The plan was made when a@2 was another snapshot: another tool destroyed it and took a
    // new one under the same name since (the guid tells them apart, the name cannot).
    let mut plan = plan_of(&pool, &[], &["a@1", "a@2"]);
    pool.run_ok("zfs", &["destroy", &pool.ds("a@2")]);
    pool.run_ok("zfs", &["snapshot", &pool.ds("a@2")]);
    let now = guid(&pool, &pool.ds("a@2"));
    assert_ne!(now, plan.destroy[1].guid);
    let exec = Counting::new();
    let dry = ExecOptions {
        dry_run: true,
        ..ExecOptions::default()
    };
    for opts in [dry, ExecOptions::default()] {
        let out = execute(&exec, &plan, &opts);
        assert!(out[0].error.is_none(), "{:?}", out[0].error);
        let report = &out[0].report;
        assert_eq!(report.destroyed, [plan.destroy[0].snapshot.clone()]);
        assert_eq!(report.replaced.len(), 1, "{report:?}");
        assert_eq!(report.replaced[0].name, pool.ds("a@2"));
        assert_eq!(report.replaced[0].guid, now);
        assert_eq!(exec.take(), 1);
    }
    assert_eq!(snapshots_of(&pool, &pool.ds("a")), ["3", "2"]);

    // With the guid it has now, the same name is destroyed.
    plan.destroy = vec![destroy(&pool, &pool.ds("a@2"))];
    let out = execute(&exec, &plan, &ExecOptions::default());
    assert!(out[0].error.is_none(), "{:?}", out[0].error);
    assert!(out[0].report.replaced.is_empty());
    assert_eq!(snapshots_of(&pool, &pool.ds("a")), ["3"]);
}

#[test]
fn the_fallback_reaches_the_same_state() {
    let pool = TestPool::create("snx", "128M");
    pool.setup("fs a\nfs b\nvol v 8M\nsnap a@old1\nsnap a@old2\nsnap b@old1\n");
    let exec = Counting::new();
    let mut plan = plan_of(
        &pool,
        &["a@s1", "b@s1", "v@s1"],
        &["a@old1", "a@old2", "b@old1"],
    );
    plan.set_properties.push(zferry_snap::model::SetProperty {
        dataset: pool.ds("a").parse().unwrap(),
        property: "label:running".into(),
        value: "pveA".into(),
        reason: "test".into(),
    });
    let out = execute(&exec, &plan, &fallback());
    assert!(out[0].error.is_none(), "{:?}", out[0].error);
    assert_eq!(out[0].report.method, Method::Fallback);
    // zfs set, one zfs snapshot for the pool, one zfs get of the doomed snapshots' guids,
    // one zfs destroy per dataset.
    assert_eq!((exec.take(), out[0].report.processes), (5, 5));
    let t = createtxg(&pool, &[pool.ds("a@s1"), pool.ds("b@s1"), pool.ds("v@s1")]);
    assert!(t.iter().all(|x| *x == t[0]), "{t:?}");
    assert_eq!(snapshots_of(&pool, &pool.ds("a")), ["s1"]);
    assert_eq!(snapshots_of(&pool, &pool.ds("b")), ["s1"]);
    assert_eq!(prop(&pool, &pool.ds("a"), "label:running"), "pveA");

    // A snapshot re-created under its name since the plan read it is another snapshot (another
    // guid): the fallback keeps it, as the program does, and one already gone is skipped.
    pool.run_ok("zfs", &["snapshot", &pool.ds("b@r")]);
    pool.run_ok("zfs", &["snapshot", &pool.ds("b@gone")]);
    let plan = plan_of(&pool, &[], &["b@r", "b@gone"]);
    pool.run_ok("zfs", &["destroy", &pool.ds("b@r")]);
    pool.run_ok("zfs", &["destroy", &pool.ds("b@gone")]);
    pool.run_ok("zfs", &["snapshot", &pool.ds("b@r")]);
    let out = execute(&exec, &plan, &fallback());
    assert!(out[0].error.is_none(), "{:?}", out[0].error);
    let r = &out[0].report;
    assert_eq!(r.replaced.len(), 1, "{r:?}");
    assert_eq!(r.replaced[0].name, pool.ds("b@r"));
    assert_eq!(r.missing, [pool.ds("b@gone")]);
    assert!(r.destroyed.is_empty(), "{r:?}");
    assert!(exists(&pool, &pool.ds("b@r")));
    assert_eq!(exec.take(), 1, "one zfs get, no destroy");

    // A conflicting name makes `zfs snapshot` create none either.
    let out = execute(&exec, &plan_of(&pool, &["a@s2", "b@s1"], &[]), &fallback());
    assert!(out[0].error.is_some());
    assert!(!exists(&pool, &pool.ds("a@s2")));
}

/// A dataset's `snapshots_changed` as a number (`-p`; seconds, OpenZFS 2.2+).
fn snapshots_changed(pool: &TestPool, ds: &str) -> u64 {
    pool.run_ok(
        "zfs",
        &["get", "-H", "-p", "-o", "value", "snapshots_changed", ds],
    )
    .stdout_lossy()
    .trim()
    .parse()
    .unwrap()
}

/// The snapshot cache keeps a dataset's remembered list after a run only when the program's
/// "before" value is the value the list was read at (`SnapCache::apply_run`, unit-tested).
/// This checks the facts on real ZFS that the rule relies on: with nothing in between,
/// "before" is the listed value and "after" the value now; after another tool's snapshot in
/// between (a second later: the value has one-second resolution), "before" is not the listed
/// value, so the cache cannot take the run's report as the whole change.
#[test]
fn the_programs_before_value_chains_from_the_listing_only_when_nothing_came_between() {
    let pool = TestPool::create("snc", "128M");
    pool.setup("fs a\nsnap a@s0\n");
    let ds = pool.ds("a");
    let exec = Counting::new();
    // Creates `snap` with one program; the program's report of the dataset's value.
    let create = |snap: &str| {
        let out = execute(
            &exec,
            &plan_of(&pool, &[snap], &[]),
            &ExecOptions::default(),
        );
        assert!(out[0].error.is_none(), "{:?}", out[0].error);
        out[0]
            .report
            .list_changes
            .iter()
            .find(|c| c.dataset == ds)
            .cloned()
            .unwrap()
    };

    // Nothing in between: the report chains from the listed value to the value now.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let listed = snapshots_changed(&pool, &ds);
    let c = create("a@s1");
    let now = snapshots_changed(&pool, &ds);
    assert_eq!((c.before, c.after), (Some(listed), Some(now)));
    assert!(now > listed, "the program's snapshot moved the value");

    // Another tool's snapshot between the listing and the program: the report starts from
    // the value that snapshot left, not from the listed one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let listed = snapshots_changed(&pool, &ds);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    pool.run_ok("zfs", &["snapshot", &pool.ds("a@foreign")]);
    let foreign = snapshots_changed(&pool, &ds);
    let c = create("a@s2");
    assert_eq!(c.before, Some(foreign));
    assert_ne!(
        c.before,
        Some(listed),
        "the foreign snapshot must break the chain"
    );
}

/// A guest-state "command": an executable script printing a JSON file the test rewrites.
struct GuestSource {
    _dir: tempfile::TempDir,
    json: std::path::PathBuf,
    argv: Vec<String>,
}

impl GuestSource {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("resources.json");
        let script = dir.path().join("pvesh");
        std::fs::write(&script, format!("#!/bin/sh\nexec cat {}\n", json.display())).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let argv = vec![script.display().to_string()];
        Self {
            _dir: dir,
            json,
            argv,
        }
    }
    fn set(&self, guests: &[(u32, &str, &str)]) {
        let items: Vec<String> = guests
            .iter()
            .map(|(vmid, node, status)| {
                format!(
                    r#"{{"id":"qemu/{vmid}","type":"qemu","vmid":{vmid},"node":"{node}","status":"{status}","template":0,"name":"g{vmid}"}}"#
                )
            })
            .collect();
        std::fs::write(&self.json, format!("[{}]", items.join(","))).unwrap();
    }
}

/// One guest-mode run: 1 list, decisions, a policy that wants an hourly of every dataset.
fn guest_run(pool: &TestPool, exec: &Counting, src: &GuestSource, stamp: &str) -> Plan {
    let props: Vec<UserPropName> = vec!["label:running".parse().unwrap()];
    let root: DatasetName = pool.name().parse().unwrap();
    let datasets = state::gather(exec, &root, &props).unwrap();
    let guests = guest::fetch_guests(&LocalExecutor::new(), &src.argv).unwrap();
    let map = BTreeMap::new();
    let ctx = GuestContext {
        host: "pveA",
        property: "label:running",
        prefix: "autosnap",
        stamp,
        guests: &guests,
        map: &map,
    };
    let policy = Plan {
        create: datasets
            .iter()
            .filter(|d| d.name.depth() > 0)
            .map(|d| create(&format!("{}@autosnap_{stamp}_hourly", d.name)))
            .collect(),
        ..Plan::default()
    };
    let decisions = guest::decide(&datasets, &ctx);
    let plan = guest::apply(policy, &datasets, &decisions, &ctx);
    let out = execute(exec, &plan, &ExecOptions::default());
    for o in &out {
        assert!(o.error.is_none(), "{:?}", o.error);
    }
    plan
}

#[test]
fn running_and_stopped_guests_follow_label_running() {
    let pool = TestPool::create("snx", "128M");
    pool.setup(
        "fs data\nvol data/vm-100-disk-0 8M\nfs data/subvol-100-disk-1\nvol data/vm-101-disk-0 8M\nprop data/vm-101-disk-0 label:running=pveB\nvol data/base-102-disk-0 8M\n",
    );
    let (vm100, ct100, vm101) = (
        pool.ds("data/vm-100-disk-0"),
        pool.ds("data/subvol-100-disk-1"),
        pool.ds("data/vm-101-disk-0"),
    );
    let src = GuestSource::new();
    let exec = Counting::new();

    // Run 1: 100 runs here, 101 stopped elsewhere with pveB's property.
    src.set(&[(100, "pveA", "running"), (101, "pveB", "stopped")]);
    guest_run(&pool, &exec, &src, "2026-11-21_10:00:00");
    assert_eq!(exec.take(), 2, "1 zfs list + 1 zfs program");
    for ds in [&vm100, &ct100] {
        assert_eq!(
            snapshots_of(&pool, ds),
            ["autosnap_2026-11-21_10:00:00_hourly"]
        );
        assert_eq!(prop(&pool, ds, "label:running"), "pveA");
    }
    assert!(snapshots_of(&pool, &vm101).is_empty());
    assert_eq!(prop(&pool, &vm101, "label:running"), "pveB");
    assert!(snapshots_of(&pool, &pool.ds("data/base-102-disk-0")).is_empty());
    assert_eq!(
        snapshots_of(&pool, &pool.ds("data")),
        ["autosnap_2026-11-21_10:00:00_hourly"],
        "a dataset that is no guest's keeps its policy"
    );

    // Run 2: 100 stopped: property `stopped` and exactly one final snapshot, one txg.
    src.set(&[(100, "pveA", "stopped"), (101, "pveB", "stopped")]);
    guest_run(&pool, &exec, &src, "2026-11-21_11:00:00");
    assert_eq!(exec.take(), 2, "1 zfs list + 1 zfs program");
    for ds in [&vm100, &ct100] {
        assert_eq!(
            snapshots_of(&pool, ds),
            [
                "autosnap_2026-11-21_10:00:00_hourly",
                "autosnap_2026-11-21_11:00:00_stopped"
            ]
        );
        assert_eq!(prop(&pool, ds, "label:running"), "stopped");
    }
    let t = createtxg(
        &pool,
        &[
            format!("{vm100}@autosnap_2026-11-21_11:00:00_stopped"),
            format!("{ct100}@autosnap_2026-11-21_11:00:00_stopped"),
            pool.ds("data@autosnap_2026-11-21_11:00:00_hourly"),
        ],
    );
    assert!(t.iter().all(|x| *x == t[0]), "{t:?}");
    assert_eq!(prop(&pool, &vm101, "label:running"), "pveB");

    // Run 3: still stopped: no second `_stopped` snapshot; only the plain dataset gets one.
    guest_run(&pool, &exec, &src, "2026-11-21_12:00:00");
    assert_eq!(exec.take(), 2);
    assert_eq!(snapshots_of(&pool, &vm100).len(), 2);

    // Run 4: 100 started again on another node: its property is not ours to change.
    src.set(&[(100, "pveB", "running")]);
    guest_run(&pool, &exec, &src, "2026-11-21_13:00:00");
    assert_eq!(exec.take(), 2);
    assert_eq!(snapshots_of(&pool, &vm100).len(), 2);
    assert_eq!(prop(&pool, &vm100, "label:running"), "stopped");

    // Run 5: back here: snapshots again, property pveA.
    src.set(&[(100, "pveA", "running")]);
    guest_run(&pool, &exec, &src, "2026-11-21_14:00:00");
    assert_eq!(exec.take(), 2);
    assert_eq!(snapshots_of(&pool, &vm100).len(), 3);
    assert_eq!(prop(&pool, &vm100, "label:running"), "pveA");
    assert!(snapshots_of(&pool, &vm101).is_empty());
}
