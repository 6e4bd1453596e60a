//! `zferry ha run-once` on real OpenZFS: three pools stand for nodes A, B (the service's
//! nodes) and C (a third site), each node with its own config and state, reached through the
//! guest's real sshd on loopback. Each node's placement source is a command printing a file
//! the test writes, so a test can move the service, stop it, or make one node's source lie.
//!
//! Covered: steady replication A -> B, C with the standby taking no snapshots; a planned
//! switchover A -> B with a final sync (a file written after A's last snapshot arrives on
//! B); B continuing incrementally to A and C at a higher epoch; a crash failover back to A
//! (B's pool exported) where C continues incrementally; B returning with diverged writes
//! and a lying placement source, refused as master (a newer epoch exists), then preserved
//! and resynced as a standby, with alerts for each step; an empty replacement pool refused
//! as master.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::PathBuf;

use serde_json::Value;
use zferry_lab::fixture::{TestPool, run_zferry, zferry_binary, zferry_on_remote_path};

struct Lab {
    a: TestPool,
    b: TestPool,
    c: TestPool,
    dir: PathBuf,
}

const CONFIG: &str = r#"
[global]
hostname = "{NODE}"
state-dir = "{DIR}/state-{NODE}"
lock-dir = "{DIR}/lock"

[nodes.a]
address = "localhost"
[nodes.b]
address = "localhost"
[nodes.c]
address = "localhost"

[templates.t]
hourly = 3
daily = 2
autosnap = true
autoprune = true

[datasets."{A}/data"]
use-template = "t"
[datasets."{B}/data"]
use-template = "t"
[datasets."{C}/data"]
use-template = "t"

[jobs.data]
source = { node = "a", dataset = "{A}/data" }
targets = [{ node = "b", dataset = "{B}/data" }, { node = "c", dataset = "{C}/data" }]

[services.nfs]
placement = { kind = "command", argv = ["/bin/cat", "{DIR}/placement-{NODE}"] }
nodes = ["a", "b"]
third-sites = ["c"]
jobs = ["data"]
confirmations = 2
confirmation-interval = "1s"
cooldown = "0s"
alert-command = ["/bin/sh", "{DIR}/alert.sh"]
"#;

impl Lab {
    fn new(tag: &str) -> Self {
        let a = TestPool::create(&format!("{tag}a"), "256M");
        let b = TestPool::create(&format!("{tag}b"), "256M");
        let c = TestPool::create(&format!("{tag}c"), "256M");
        // Reading a file for a checksum must not count as a write on a replica.
        for p in [&a, &b, &c] {
            p.run_ok("zfs", &["set", "atime=off", p.name()]);
        }
        let dir = PathBuf::from(format!("/var/tmp/zferry-test-cfg/{}", a.name()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        zferry_on_remote_path();
        let lab = Self { a, b, c, dir };
        std::fs::write(
            lab.dir.join("alert.sh"),
            "printf '%s %s: %s\\n' \"$ZFERRY_NODE\" \"$ZFERRY_EVENT\" \"$ZFERRY_MESSAGE\" \
             >> \"$(dirname \"$0\")/alerts.log\"\n",
        )
        .unwrap();
        for node in ["a", "b"] {
            let body = CONFIG
                .replace("{NODE}", node)
                .replace("{DIR}", &lab.dir.display().to_string())
                .replace("{A}", lab.a.name())
                .replace("{B}", lab.b.name())
                .replace("{C}", lab.c.name());
            std::fs::write(lab.config(node), body).unwrap();
        }
        lab
    }

    fn config(&self, node: &str) -> PathBuf {
        self.dir.join(format!("zferry-{node}.toml"))
    }

    /// Every node's placement source prints `answer`.
    fn place(&self, answer: &str) {
        for node in ["a", "b"] {
            self.place_for(node, answer);
        }
    }

    /// Only `node`'s placement source prints `answer` (a lying or stale source).
    fn place_for(&self, node: &str, answer: &str) {
        std::fs::write(
            self.dir.join(format!("placement-{node}")),
            format!("{answer}\n"),
        )
        .unwrap();
    }

    /// `zferry ha run-once --json` as `node`: (exit code, the service's report, the whole
    /// report).
    fn run_once(&self, node: &str, extra: &[&str]) -> (i32, Value, Value) {
        let cfg = self.config(node);
        let mut args = vec![
            "--config",
            cfg.to_str().unwrap(),
            "ha",
            "run-once",
            "--json",
        ];
        args.extend(extra);
        let (code, out, err) = run_zferry(&args);
        let report: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {out}\nstderr: {err}"));
        let svc = report["services"][0].clone();
        (code, svc, report)
    }

    fn alerts(&self) -> String {
        std::fs::read_to_string(self.dir.join("alerts.log")).unwrap_or_default()
    }
}

/// Snapshot short names of `ds`, oldest first.
fn snaps(pool: &TestPool, ds: &str) -> Vec<String> {
    let out = pool.run(
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
    );
    out.stdout_lossy()
        .lines()
        .map(|l| l.split_once('@').unwrap().1.to_owned())
        .collect()
}

fn epoch(pool: &TestPool, ds: &str) -> String {
    let out = pool.run_ok(
        "zfs",
        &["get", "-H", "-p", "-o", "value", "zferry:epoch", ds],
    );
    out.stdout_lossy().trim().to_owned()
}

/// The md5 of `file` in `ds`, mounting `ds` first (replicas are received unmounted).
fn file_sum(pool: &TestPool, ds: &str, file: &str) -> String {
    let _ = pool.run("zfs", &["mount", ds]);
    let mnt = pool.run_ok("zfs", &["get", "-H", "-o", "value", "mountpoint", ds]);
    let path = format!("{}/{file}", mnt.stdout_lossy().trim());
    let out = pool.run_ok("md5sum", &[path.as_str()]);
    out.stdout_lossy()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn statuses(svc: &Value) -> Vec<String> {
    svc["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap().to_owned())
        .collect()
}

fn steps(svc: &Value) -> String {
    svc["pairs"].to_string()
}

#[test]
fn replication_follows_the_service_through_switchover_failover_and_return() {
    let lab = Lab::new("hf");
    lab.a.setup("fs data\nwrite data/f 1M");
    lab.place("a");
    steady_state_a_master(&lab);
    planned_switchover_to_b(&lab);
    crash_failover_to_a(&lab);
    old_master_b_returns(&lab);
    status_and_monitor_agree(&lab);
    let alerts = lab.alerts();
    for want in [
        "a role-change: none -> master",
        "a final-sync:",
        "b role-change: standby of a -> master",
        "b refusal: node",
        "a preserved:",
    ] {
        assert!(alerts.contains(want), "no {want:?} in\n{alerts}");
    }
}

/// A is master and replicates; B is its standby.
fn steady_state_a_master(lab: &Lab) {
    let (a, b, c) = (lab.a.ds("data"), lab.b.ds("data"), lab.c.ds("data"));
    // Steady state: A is master, takes epoch 1, snapshots by policy, sends to B and C.
    let (code, svc, report) = lab.run_once("a", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(svc["acting"], "master", "{svc:#}");
    assert_eq!(svc["epoch_change"]["taken"], 1, "{svc:#}");
    assert_eq!(statuses(&svc), ["replicated", "replicated"], "{svc:#}");
    assert!(
        !report["snapshots"]["created"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(snaps(&lab.b, &b), snaps(&lab.a, &a));
    assert_eq!(snaps(&lab.c, &c), snaps(&lab.a, &a));
    assert_eq!(
        (epoch(&lab.a, &a), epoch(&lab.b, &b), epoch(&lab.c, &c)),
        ("1".into(), "1".into(), "1".into())
    );
    // The standby decides standby and takes no snapshots of its replica.
    let before = snaps(&lab.b, &b);
    let (code, svc, report) = lab.run_once("b", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        (svc["acting"].as_str(), svc["master"].as_str()),
        (Some("standby"), Some("a")),
        "{svc:#}"
    );
    assert!(
        report["snapshots"]["created"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{report:#}"
    );
    assert_eq!(snaps(&lab.b, &b), before);
}

/// The service moves from A to B: final sync on A, then B continues at epoch 2.
fn planned_switchover_to_b(lab: &Lab) {
    let (a, b, c) = (lab.a.ds("data"), lab.b.ds("data"), lab.c.ds("data"));
    // Planned switchover: a file written after A's last snapshot, then the service stops on
    // A to move. A's final sync carries the file to B and C.
    lab.a.setup("write data/late 1M");
    lab.place(r#"{"node": null, "quorate": true, "transition": "migrate"}"#);
    let (code, svc, report) = lab.run_once("a", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(svc["acting"], "hold", "{svc:#}");
    let fin = svc["final_sync"].as_str().unwrap().to_owned();
    assert!(fin.ends_with("_stopped"), "{fin}");
    assert_eq!(statuses(&svc), ["replicated", "replicated"], "{svc:#}");
    assert_eq!(file_sum(&lab.b, &b, "late"), file_sum(&lab.a, &a, "late"));
    assert_eq!(snaps(&lab.b, &b).last().unwrap(), &fin);
    // Done once per epoch: the next cycle sends nothing more.
    let (_, svc, _) = lab.run_once("a", &[]);
    assert!(svc["final_sync"].is_null(), "{svc:#}");

    // The service starts on B: B takes epoch 2 and continues incrementally to A and C.
    lab.place("b");
    lab.b.setup("write data/on-b 1M\nsnap data@b1");
    let (code, svc, report) = lab.run_once("b", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(svc["acting"], "master", "{svc:#}");
    assert_eq!(svc["epoch_change"]["taken"], 2, "{svc:#}");
    assert_eq!(statuses(&svc), ["replicated", "replicated"], "{svc:#}");
    assert!(!steps(&svc).contains("full"), "{svc:#}");
    assert_eq!(snaps(&lab.a, &a), snaps(&lab.b, &b));
    assert_eq!(snaps(&lab.c, &c), snaps(&lab.b, &b));
    assert_eq!(
        (epoch(&lab.a, &a), epoch(&lab.c, &c)),
        ("2".into(), "2".into())
    );
    let (_, svc, report) = lab.run_once("a", &[]);
    assert_eq!(
        (svc["acting"].as_str(), svc["master"].as_str()),
        (Some("standby"), Some("b")),
        "{svc:#}"
    );
    assert!(
        report["snapshots"]["created"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{report:#}"
    );
}

/// B crashes; A takes over at epoch 3 and C continues incrementally.
fn crash_failover_to_a(lab: &Lab) {
    let c = lab.c.ds("data");
    // Crash: B writes after its last sent snapshot, then its disks vanish. The service
    // recovers on A, which takes epoch 3 (B unreadable) and continues incrementally to C.
    lab.b.setup("write data/lost-on-b 1M\nsnap data@b2");
    lab.b.export();
    lab.place("a");
    let (code, svc, report) = lab.run_once("a", &[]);
    assert_ne!(code, 0, "B is gone: its pair fails\n{report:#}");
    assert_eq!(svc["acting"], "master", "{svc:#}");
    assert_eq!(svc["epoch_change"]["taken"], 3, "{svc:#}");
    lab.a.setup("write data/after-failover 1M\nsnap data@a2");
    let (_, svc, _) = lab.run_once("a", &[]);
    let to_c = svc["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["target"].as_str().unwrap().starts_with("c:"))
        .unwrap()
        .clone();
    assert_eq!(to_c["status"], "replicated", "{svc:#}");
    assert!(!to_c.to_string().contains("full"), "{to_c:#}");
    assert_eq!(snaps(&lab.c, &c).last().unwrap(), "a2");
}

/// B returns with diverged writes and a stale placement.
fn old_master_b_returns(lab: &Lab) {
    let (a, b, c) = (lab.a.ds("data"), lab.b.ds("data"), lab.c.ds("data"));
    // B returns with its diverged writes, and its placement source still says "b": B
    // refuses to act as master (A and C hold a newer epoch) and sends nothing.
    lab.b.import();
    lab.place_for("b", "b");
    let c_before = snaps(&lab.c, &c);
    let (code, svc, report) = lab.run_once("b", &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(svc["acting"], "hold", "{svc:#}");
    assert!(
        svc["reason"]
            .as_str()
            .unwrap()
            .contains("epoch 3, newer than this node's 2"),
        "{svc:#}"
    );
    assert_eq!(snaps(&lab.c, &c), c_before);
    assert_eq!(epoch(&lab.b, &b), "2");
    // Once B's source agrees, B is A's standby; A preserves B's diverged data and resyncs it.
    lab.place_for("b", "a");
    let (_, svc, _) = lab.run_once("b", &[]);
    assert_eq!(svc["acting"], "standby", "{svc:#}");
    let (_, svc, report) = lab.run_once("a", &[]);
    let to_b = svc["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["target"].as_str().unwrap().starts_with("b:"))
        .unwrap()
        .clone();
    assert_eq!(to_b["status"], "replicated", "{report:#}");
    assert!(
        to_b["message"]
            .as_str()
            .unwrap()
            .contains("kept the diverged target as"),
        "{to_b:#}"
    );
    assert_eq!(snaps(&lab.b, &b), snaps(&lab.a, &a));
    assert_eq!(epoch(&lab.b, &b), "3");
    let aside = lab
        .b
        .run_ok("zfs", &["list", "-H", "-o", "name", "-r", lab.b.name()]);
    let aside = aside
        .stdout_lossy()
        .lines()
        .find(|l| l.contains(".diverged-"))
        .unwrap_or_else(|| panic!("no aside dataset on B"))
        .to_owned();
    assert!(
        snaps(&lab.b, &aside).contains(&"b2".to_owned()),
        "B's own snapshot kept aside"
    );
}

#[test]
fn an_empty_replacement_pool_is_refused_as_master() {
    let lab = Lab::new("hr");
    let (a, b) = (lab.a.ds("data"), lab.b.ds("data"));
    lab.a.setup("fs data\nwrite data/f 1M");
    lab.place("a");
    let (code, _, report) = lab.run_once("a", &[]);
    assert_eq!(code, 0, "{report:#}");
    let (code, _, report) = lab.run_once("b", &[]);
    assert_eq!(code, 0, "B records its pool as a standby\n{report:#}");

    // B's disk is replaced by an empty one; the service is moved to B.
    lab.b.replace_with_empty("256M");
    lab.place("b");
    let a_before = snaps(&lab.a, &a);
    let (code, svc, report) = lab.run_once("b", &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(svc["acting"], "hold", "{svc:#}");
    assert!(
        svc["reason"]
            .as_str()
            .unwrap()
            .contains("not the pool this node held before"),
        "{svc:#}"
    );
    assert!(
        svc["pairs"].as_array().unwrap().is_empty(),
        "nothing sent: {svc:#}"
    );
    assert_eq!(snaps(&lab.a, &a), a_before, "A untouched");
    // Accepting the new pool is the admin's explicit decision; even then B's empty dataset
    // is behind A's epoch, so B still does not take over and sends nothing.
    lab.b.setup("fs data");
    let (code, svc, report) = lab.run_once("b", &["--accept-new-pools"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(svc["acting"], "hold", "{svc:#}");
    assert!(
        svc["reason"]
            .as_str()
            .unwrap()
            .contains("node a holds epoch 1, newer than this node's 0"),
        "{svc:#}"
    );
    assert!(
        svc["pairs"].as_array().unwrap().is_empty(),
        "nothing sent: {svc:#}"
    );
    assert_eq!(snaps(&lab.a, &a), a_before, "A untouched");
    assert!(
        snaps(&lab.b, &b).is_empty(),
        "no snapshots on B's empty dataset"
    );
}

/// After the return: `ha status`, `status` and `monitor replication` on both nodes.
fn status_and_monitor_agree(lab: &Lab) {
    let zferry = |node: &str, args: &[&str]| {
        let cfg = lab.config(node);
        let mut all = vec!["--config", cfg.to_str().unwrap()];
        all.extend(args);
        run_zferry(&all)
    };
    let (code, out, err) = zferry("a", &["ha", "status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let rows: Value = serde_json::from_str(&out).unwrap();
    let nfs = &rows[0];
    assert_eq!(
        (nfs["service"].as_str(), nfs["epoch"].as_u64()),
        (Some("nfs"), Some(3)),
        "{nfs:#}"
    );
    assert_eq!(nfs["acting"]["acting"], "master", "{nfs:#}");
    let sent = nfs["pairs"].as_array().unwrap();
    assert_eq!(sent.len(), 2, "{nfs:#}");
    assert!(
        sent.iter().all(|p| p["rpo_seconds"].as_u64().is_some()),
        "{nfs:#}"
    );
    let (code, out, err) = zferry("b", &["status", "--json", lab.b.name()]);
    assert_eq!(code, 0, "{err}");
    let st: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["services"][0]["acting"]["acting"], "standby", "{st:#}");
    assert!(
        st["services"][0]["last_refusal"][1]
            .as_str()
            .unwrap()
            .contains("newer than"),
        "{st:#}"
    );

    let (code, out, _) = zferry("a", &["monitor", "replication"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK: 2 pairs, worst RPO"), "{out}");
    let (code, out, _) = zferry("b", &["monitor", "replication"]);
    assert_eq!(
        (code, out.trim()),
        (
            0,
            "OK: no pair sent by this node; not the sender of: service nfs (standby of a)"
        )
    );
    let (code, out, _) = zferry(
        "a",
        &["monitor", "replication", "--warn", "1s", "--crit", "1h"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("WARNING: data "), "{out}");
}

/// `zferry serve --stdio` as node `node` for the client command `cmd`: (exit code, stderr).
fn serve(lab: &Lab, node: &str, cmd: &str) -> (Option<i32>, String) {
    let out = std::process::Command::new(zferry_binary())
        .args([
            "--config",
            lab.config(node).to_str().unwrap(),
            "serve",
            "--stdio",
        ])
        .env("SSH_ORIGINAL_COMMAND", cmd)
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_master_receives_no_stream_through_serve() {
    let lab = Lab::new("hs");
    let b = lab.b.ds("data");
    lab.b.setup("fs data\nwrite data/f 1M");
    lab.place("b");
    let (code, svc, report) = lab.run_once("b", &[]);
    assert_eq!(
        (code, svc["acting"].as_str()),
        (0, Some("master")),
        "{report:#}"
    );
    // Even a stream at a higher epoch: a node that believes it is master must not write here.
    let (code, err) = serve(
        &lab,
        "b",
        &format!("zfs receive -s -u -o zferry:epoch=9 {b}"),
    );
    assert_eq!(code, Some(126), "{err}");
    assert!(
        err.contains("this node is the master of service `nfs`"),
        "{err}"
    );
    // As A's standby, B's serve lets the same request through to `zfs receive` (which then
    // fails on the empty stream: not a refusal).
    lab.place("a");
    let (_, svc, _) = lab.run_once("b", &[]);
    assert_eq!(svc["acting"], "standby", "{svc:#}");
    let (code, err) = serve(
        &lab,
        "b",
        &format!("zfs receive -s -u -o zferry:epoch=9 {b}"),
    );
    assert_ne!(code, Some(126), "{err}");
    assert!(!err.contains("refused"), "{err}");
}
