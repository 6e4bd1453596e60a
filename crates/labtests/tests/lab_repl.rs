//! `zferry repl run` on real OpenZFS with three pools standing for nodes A, B and C; B and C
//! are reached through the guest's real sshd on loopback, A is local.
//!
//! Covered: initial + incremental; a pull job run on the target node, reading the source
//! over ssh, with its cursor bookmark on the source; `--json` as one event per line with
//! the summary last; B <- A -> C fan-out, then failover B -> A -> C where C continues
//! incrementally; the source prunes the last common snapshot and the next send is
//! incremental from the cursor bookmark; `kill -9` mid-stream then resume with matching
//! data; a stale resume token recovered once; diverged target refused with nothing
//! destroyed; `on-divergence = "preserve"` keeping a diverged target (snapshots and
//! writes, or writes only) aside and continuing incrementally; empty replacement source
//! refused even with --force-full; names with spaces over ssh and hostile names refused by
//! the config; a held pool lock refuses a second run; fencing epochs: the target takes the
//! source's, an old master is refused, a diverged target at an older epoch is kept aside
//! whatever the job says, equal epochs have no winner.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use zferry_lab::fixture::{TestPool, run_zferry, zferry_binary, zferry_on_remote_path};

struct Lab {
    a: TestPool,
    b: TestPool,
    c: TestPool,
    dir: PathBuf,
}

impl Lab {
    fn new(tag: &str) -> Self {
        let a = TestPool::create(&format!("{tag}a"), "256M");
        let b = TestPool::create(&format!("{tag}b"), "256M");
        let c = TestPool::create(&format!("{tag}c"), "256M");
        let dir = PathBuf::from(format!("/var/tmp/zferry-test-cfg/{}", a.name()));
        std::fs::create_dir_all(&dir).unwrap();
        // Jobs compress by default: B and C run `zferry wire` through ssh.
        zferry_on_remote_path();
        Self { a, b, c, dir }
    }

    /// Writes a config whose jobs replicate between nodes a (this one), b and c, all
    /// reached over ssh to localhost.
    fn config(&self, jobs: &str) -> PathBuf {
        self.config_with_nodes(DEFAULT_NODES, jobs, "zferry.toml")
    }

    /// Writes `file` in the test's directory: this node is "a", then `nodes` and `jobs`,
    /// with `{A}`, `{B}`, `{C}` standing for the pools and `{DIR}` for the directory.
    fn config_with_nodes(&self, nodes: &str, jobs: &str, file: &str) -> PathBuf {
        let body = format!(
            r#"
[global]
hostname = "a"
state-dir = "{{DIR}}/state"
lock-dir = "{{DIR}}/lock"
{nodes}
{jobs}
"#
        )
        .replace("{DIR}", &self.dir.display().to_string())
        .replace("{A}", self.a.name())
        .replace("{B}", self.b.name())
        .replace("{C}", self.c.name());
        let path = self.dir.join(file);
        std::fs::write(&path, body).unwrap();
        path
    }

    /// `repl run --json`: (exit code, the summary, stderr); every line must be an event.
    fn repl(&self, config: &Path, args: &[&str]) -> (i32, Value, String) {
        let (code, mut events, err) = self.repl_events(config, args);
        let summary = events.pop().unwrap();
        (code, summary, err)
    }

    /// `repl run --json`: every stdout line parsed as one JSON event, the summary last.
    #[allow(clippy::unused_self, reason = "reads as lab.repl_events(...)")]
    fn repl_events(&self, config: &Path, args: &[&str]) -> (i32, Vec<Value>, String) {
        let mut all: Vec<&std::ffi::OsStr> = vec![
            "--config".as_ref(),
            config.as_os_str(),
            "repl".as_ref(),
            "run".as_ref(),
            "--json".as_ref(),
        ];
        all.extend(args.iter().map(std::ffi::OsStr::new));
        let (code, out, err) = run_zferry(&all);
        let events: Vec<Value> = out
            .lines()
            .map(|line| {
                let v: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}\nstderr: {err}"));
                assert!(v["event"].is_string(), "no event tag: {line}");
                v
            })
            .collect();
        let last = events
            .last()
            .unwrap_or_else(|| panic!("no output\nstderr: {err}"));
        assert_eq!(last["event"], "summary", "the summary is not last: {out}");
        (code, events, err)
    }
}

fn pairs(json: &Value) -> &Vec<Value> {
    json["pairs"].as_array().unwrap()
}

fn statuses(json: &Value) -> Vec<String> {
    pairs(json)
        .iter()
        .map(|p| p["status"].as_str().unwrap().to_owned())
        .collect()
}

/// `name -> guid` of every snapshot of `ds`.
fn snaps(pool: &TestPool, ds: &str) -> Vec<(String, String)> {
    let out = pool.run(
        "zfs",
        &[
            "list",
            "-H",
            "-o",
            "name,guid",
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
        .map(|l| {
            let (n, g) = l.split_once('\t').unwrap();
            (n.split_once('@').unwrap().1.to_owned(), g.to_owned())
        })
        .collect()
}

/// Snapshot names of `ds`, oldest first.
fn snap_names(pool: &TestPool, ds: &str) -> Vec<String> {
    snaps(pool, ds).into_iter().map(|s| s.0).collect()
}

fn bookmarks(pool: &TestPool, ds: &str) -> Vec<String> {
    let out = pool.run(
        "zfs",
        &["list", "-H", "-o", "name", "-t", "bookmark", "-d", "1", ds],
    );
    out.stdout_lossy()
        .lines()
        .map(|l| l.split_once('#').unwrap().1.to_owned())
        .collect()
}

fn holds(pool: &TestPool, snapshot: &str) -> Vec<String> {
    let out = pool.run_ok("zfs", &["holds", "-H", snapshot]);
    out.stdout_lossy()
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap().to_owned())
        .collect()
}

/// Job `j`: A's `data` to B.
const DEFAULT_NODES: &str = r#"
[nodes.a]
address = "localhost"
[nodes.b]
address = "localhost"
[nodes.c]
address = "localhost"
"#;

const PUSH_AB: &str = r#"
[jobs.j]
source = { node = "a", dataset = "{A}/data" }
targets = [{ node = "b", dataset = "{B}/data" }]
"#;

const PUSH_AB_AC: &str = r#"
[jobs.nfs]
source = { node = "a", dataset = "{A}/data" }
targets = [{ node = "b", dataset = "{B}/data" }, { node = "c", dataset = "{C}/data" }]
"#;

#[test]
fn fan_out_then_failover_stays_incremental_everywhere() {
    let lab = Lab::new("rf");
    lab.a
        .setup("fs data\nwrite data/f 2M\nsnap data@s1\nwrite data/g 1M\nsnap data@s2");
    let cfg = lab.config(PUSH_AB_AC);

    // Initial: full of the oldest, then incremental to the newest, on both targets.
    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    assert_eq!(statuses(&json), ["replicated", "replicated"], "{json:#}");
    let steps = pairs(&json)[0]["steps"].to_string();
    assert!(
        steps.contains("full @s1") && steps.contains("@s2"),
        "{steps}"
    );
    let a_snaps = snaps(&lab.a, &lab.a.ds("data"));
    assert_eq!(snaps(&lab.b, &lab.b.ds("data")), a_snaps);
    assert_eq!(snaps(&lab.c, &lab.c.ds("data")), a_snaps);
    // Cursors: one bookmark per target on the source, a hold on each target's newest.
    let mut marks = bookmarks(&lab.a, &lab.a.ds("data"));
    marks.sort();
    assert_eq!(marks.len(), 2, "{marks:?}");
    assert!(marks[0].starts_with("zferry_v1_b_") && marks[1].starts_with("zferry_v1_c_"));
    assert_eq!(
        holds(&lab.b, &format!("{}@s2", lab.b.ds("data"))),
        ["zferry:b"]
    );

    // Incremental: new snapshots go as one -I range; old cursors and holds move.
    lab.a.setup("write data/h 1M\nsnap data@s3\nsnap data@s4");
    let (code, json, _) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}");
    let steps = pairs(&json)[1]["steps"].to_string();
    assert!(steps.contains("-I @s2 @s4"), "{steps}");
    assert_eq!(
        snaps(&lab.c, &lab.c.ds("data")),
        snaps(&lab.a, &lab.a.ds("data"))
    );
    assert_eq!(
        bookmarks(&lab.a, &lab.a.ds("data")).len(),
        2,
        "old cursors released"
    );
    assert!(holds(&lab.b, &format!("{}@s2", lab.b.ds("data"))).is_empty());
    assert_eq!(
        holds(&lab.b, &format!("{}@s4", lab.b.ds("data"))),
        ["zferry:b"]
    );

    // Nothing new: up to date, then (snapshots_changed unchanged) not even listed. The
    // values are trusted once settled (10 s old when listed): the receive above is fresher.
    std::thread::sleep(std::time::Duration::from_secs(11));
    let (code, json, _) = lab.repl(&cfg, &[]);
    assert_eq!(
        (code, statuses(&json)),
        (0, vec!["up-to-date".into(), "up-to-date".into()])
    );
    let (_, json, _) = lab.repl(&cfg, &[]);
    assert_eq!(statuses(&json), ["unchanged", "unchanged"], "{json:#}");
    // Status: the common snapshot and its age per pair, from the recorded state.
    let (code, out, err) = run_zferry(&[
        "--config",
        cfg.to_str().unwrap(),
        "repl",
        "status",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let rows: Value = serde_json::from_str(&out).unwrap();
    for row in rows.as_array().unwrap() {
        assert_eq!(row["common"], "s4", "{row:#}");
        assert!(
            row["rpo_seconds"].as_u64().is_some() && row["last_error"].is_null(),
            "{row:#}"
        );
    }

    // Failover: the service now runs on B. A stops writing (unmounted), B writes and
    // snapshots, and B becomes the source for A and C.
    lab.a.run_ok("zfs", &["unmount", &lab.a.ds("data")]);
    lab.b.run_ok("zfs", &["mount", &lab.b.ds("data")]);
    lab.b.setup("write data/after-failover 1M\nsnap data@s5");
    let failover = lab.config(
        r#"
[jobs.nfs]
source = { node = "b", dataset = "{B}/data" }
targets = [{ node = "a", dataset = "{A}/data" }, { node = "c", dataset = "{C}/data" }]
"#,
    );
    let (code, json, err) = lab.repl(&failover, &["--node", "b"]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    for p in pairs(&json) {
        let steps = p["steps"].to_string();
        assert!(
            steps.contains("@s4 @s5") && !steps.contains("full"),
            "{p:#}"
        );
    }
    let b_snaps = snaps(&lab.b, &lab.b.ds("data"));
    assert_eq!(snaps(&lab.a, &lab.a.ds("data")), b_snaps);
    assert_eq!(snaps(&lab.c, &lab.c.ds("data")), b_snaps);
}

#[test]
fn pull_mode_runs_on_the_target_and_reads_the_source_over_ssh() {
    let lab = Lab::new("ru");
    lab.b
        .setup("fs data\nwrite data/f 2M\nsnap data@s1\nwrite data/g 1M\nsnap data@s2");
    // This node (a) is the target and initiates; the source is node b, reached over ssh.
    let cfg = lab.config(
        r#"
[jobs.pull]
mode = "pull"
source = { node = "b", dataset = "{B}/data" }
targets = [{ node = "a", dataset = "{A}/data" }]
"#,
    );
    // The source node initiates nothing in a pull job.
    let (code, json, _) = lab.repl(&cfg, &["--node", "b"]);
    assert_eq!(code, 0, "{json:#}");
    assert!(pairs(&json).is_empty(), "{json:#}");

    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    assert_eq!(statuses(&json), ["replicated"], "{json:#}");
    let p = &pairs(&json)[0];
    assert!(
        p["source"].as_str().unwrap().starts_with("b:")
            && p["target"].as_str().unwrap().starts_with("a:"),
        "{p:#}"
    );
    let steps = p["steps"].to_string();
    assert!(
        steps.contains("full @s1") && steps.contains("@s2"),
        "{steps}"
    );
    let (src, tgt) = (lab.b.ds("data"), lab.a.ds("data"));
    assert_eq!(snaps(&lab.a, &tgt), snaps(&lab.b, &src));
    let marks = bookmarks(&lab.b, &src);
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert!(marks[0].starts_with("zferry_v1_a_"), "{marks:?}");
    assert_eq!(holds(&lab.a, &format!("{tgt}@s2")), ["zferry:a"]);

    // Incremental: one -I range from the common snapshot; the cursor moves with it.
    lab.b.setup("write data/h 1M\nsnap data@s3\nsnap data@s4");
    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    let steps = pairs(&json)[0]["steps"].to_string();
    assert!(
        steps.contains("-I @s2 @s4") && !steps.contains("full"),
        "{steps}"
    );
    assert_eq!(snaps(&lab.a, &tgt), snaps(&lab.b, &src));
    let marks = bookmarks(&lab.b, &src);
    let s4_guid = &snaps(&lab.b, &src)[3].1;
    let s4_hex = format!("{:016x}", s4_guid.parse::<u64>().unwrap());
    assert_eq!(marks, [format!("zferry_v1_a_{s4_hex}")]);
}

#[test]
fn json_is_one_event_per_line_with_the_summary_last() {
    let lab = Lab::new("rj");
    lab.a
        .setup("fs data\nwrite data/f 1M\nsnap data@s1\nsnap data@s2");
    // Local to local (no ssh): the events, not the transport, are under test.
    let cfg = lab.config(
        r#"
[jobs.j]
source = { node = "a", dataset = "{A}/data" }
targets = [{ node = "a", dataset = "{B}/data" }]
"#,
    );
    let (code, events, err) = lab.repl_events(&cfg, &[]);
    assert_eq!(code, 0, "{events:#?}\n{err}");
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| !matches!(**k, "progress"))
            .copied()
            .collect::<Vec<_>>(),
        [
            "plan",
            "transfer-start",
            "transfer-end",
            "transfer-start",
            "transfer-end",
            "pair",
            "summary"
        ],
        "{events:#?}"
    );
    assert_eq!(events[1]["step"], "full @s1");
    assert_eq!(events[1]["target"], format!("a:{}", lab.b.ds("data")));
    let pair = &events[events.len() - 2];
    assert_eq!(pair["status"], "replicated");
    assert_eq!(events.last().unwrap()["pairs"][0], {
        let mut p = pair.clone();
        p.as_object_mut().unwrap().remove("event");
        p
    });

    // A diverged target: the pair's result is an `error` event with the evidence.
    lab.a.setup("snap data@s3");
    lab.b.setup("snap data@x");
    let (code, events, _) = lab.repl_events(&cfg, &[]);
    assert_eq!(code, 1, "{events:#?}");
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["plan", "error", "summary"], "{events:#?}");
    assert_eq!(events[1]["status"], "needs-admin");
    assert!(events[1]["message"].as_str().unwrap().contains("@x"));
}

#[test]
fn a_snapshot_filter_sends_only_matching_snapshots_with_per_snapshot_steps() {
    let lab = Lab::new("rs");
    lab.a.setup(
        "fs data\nwrite data/f 1M\nsnap data@d1_daily\nwrite data/g 256K\nsnap data@h1_hourly\n\
         write data/h 256K\nsnap data@d2_daily\nwrite data/i 256K\nsnap data@h2_hourly\n\
         write data/j 256K\nsnap data@d3_daily",
    );
    let cfg = lab.config(&PUSH_AB.replace("targets = [", "snapshots = [\"*_daily\"]\ntargets = ["));
    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    let steps = pairs(&json)[0]["steps"].to_string();
    assert!(!steps.contains("hourly"), "an hourly was sent: {steps}");
    assert!(
        !steps.contains("-I"),
        "a range would carry the hourlies: {steps}"
    );
    assert_eq!(
        snap_names(&lab.b, &lab.b.ds("data")),
        ["d1_daily", "d2_daily", "d3_daily"]
    );
    // The data of the last daily is all there (the skipped hourlies' writes included).
    assert_eq!(
        file_sum(&lab.a, &lab.a.ds("data"), "i"),
        file_sum(&lab.b, &lab.b.ds("data"), "i")
    );
    let (code, json, _) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0);
    assert_eq!(statuses(&json), ["up-to-date"], "{json:#}");
}

#[test]
fn pruned_common_snapshot_is_bridged_by_the_cursor_bookmark() {
    let lab = Lab::new("rp");
    lab.a.setup("fs data\nwrite data/f 1M\nsnap data@s1");
    let cfg = lab.config(PUSH_AB);
    assert_eq!(lab.repl(&cfg, &[]).0, 0);
    // The source's pruning removes the only common snapshot.
    lab.a.setup("write data/g 1M\nsnap data@s2");
    lab.a
        .run_ok("zfs", &["destroy", &format!("{}@s1", lab.a.ds("data"))]);
    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    let steps = pairs(&json)[0]["steps"].to_string();
    assert!(
        steps.contains("-i #zferry_v1_b_") && steps.contains("@s2"),
        "{steps}"
    );
    let names = snap_names(&lab.b, &lab.b.ds("data"));
    assert_eq!(names, ["s1", "s2"]);
}

#[test]
fn kill_9_mid_stream_then_resume_gives_identical_data() {
    let lab = Lab::new("rk");
    lab.a.setup("fs data\nwrite data/big 48M\nsnap data@s1");
    let cfg = lab.config(PUSH_AB);
    let mut child = Command::new(zferry_binary())
        .args(["--config", cfg.to_str().unwrap(), "repl", "run"])
        .spawn()
        .unwrap();
    // Kill once the receive has started writing (the target exists, partially).
    let target = lab.b.ds("data");
    let start = Instant::now();
    while !lab.b.run("zfs", &["list", &target]).success() {
        assert!(
            start.elapsed() < Duration::from_mins(2),
            "receive never started"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The receive ends once its ssh session is gone; wait for the token.
    let start = Instant::now();
    let token = loop {
        let out = lab.b.run(
            "zfs",
            &["get", "-H", "-o", "value", "receive_resume_token", &target],
        );
        let t = out.stdout_lossy().trim().to_owned();
        if !t.is_empty() && t != "-" {
            break t;
        }
        assert!(
            start.elapsed() < Duration::from_mins(1),
            "no resume token: {}",
            out.stderr
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(token.starts_with("1-"), "{token}");

    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    let msg = pairs(&json)[0]["message"].as_str().unwrap();
    assert!(msg.contains("resumed an interrupted receive"), "{msg}");
    assert_eq!(snaps(&lab.b, &target), snaps(&lab.a, &lab.a.ds("data")));
    lab.b.run_ok("zfs", &["mount", &target]);
    let sum = |pool: &TestPool, ds: &str| {
        let mnt = pool.run_ok("zfs", &["get", "-H", "-o", "value", "mountpoint", ds]);
        let file = format!("{}/big", mnt.stdout_lossy().trim());
        pool.run_ok("sha256sum", &[file.as_str()]).stdout_lossy()[..64].to_owned()
    };
    assert_eq!(sum(&lab.b, &target), sum(&lab.a, &lab.a.ds("data")));
}

#[test]
fn stale_resume_token_is_discarded_once_and_replication_recovers() {
    let lab = Lab::new("rs");
    lab.a
        .setup("fs data\nwrite data/f 4M\nsnap data@s1\nwrite data/g 1M\nsnap data@s2");
    // A partial receive of @s1, then @s1 is pruned on the source: the token is stale.
    let script = format!(
        "zfs send {a}@s1 | head -c 1500000 | zfs recv -s -u {b}; zfs destroy {a}@s1",
        a = lab.a.ds("data"),
        b = lab.b.ds("data")
    );
    lab.a.run("sh", &["-c", &script]);
    let cfg = lab.config(PUSH_AB);
    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    let msg = pairs(&json)[0]["message"].as_str().unwrap();
    assert!(msg.contains("discarded a stale partial receive"), "{msg}");
    let names = snap_names(&lab.b, &lab.b.ds("data"));
    assert_eq!(names, ["s2"]);
}

#[test]
fn diverged_target_is_refused_and_nothing_is_destroyed() {
    let lab = Lab::new("rd");
    lab.a.setup("fs data\nwrite data/f 1M\nsnap data@s1");
    let cfg = lab.config(PUSH_AB);
    assert_eq!(lab.repl(&cfg, &[]).0, 0);
    lab.a.setup("snap data@s2");
    lab.b.setup("snap data@only-on-b");
    let (code, json, _) = lab.repl(&cfg, &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(statuses(&json), ["needs-admin"]);
    let msg = pairs(&json)[0]["message"].as_str().unwrap();
    assert!(msg.contains("only-on-b") && msg.contains("s2"), "{msg}");
    let names = snap_names(&lab.b, &lab.b.ds("data"));
    assert_eq!(names, ["s1", "only-on-b"]);
}

/// `zfs get -H -o value <prop> <ds>`.
/// The dataset a replicated pair kept its diverged target as, from the pair's message.
fn aside_of(pair: &Value) -> String {
    assert_eq!(pair["status"], "replicated", "{pair:#}");
    let msg = pair["message"].as_str().unwrap();
    let (_, rest) = msg
        .split_once("kept the diverged target as ")
        .unwrap_or_else(|| panic!("{msg}"));
    rest.split(';').next().unwrap().trim().to_owned()
}

fn prop(pool: &TestPool, ds: &str, name: &str) -> String {
    let out = pool.run_ok("zfs", &["get", "-H", "-o", "value", name, ds]);
    out.stdout_lossy().trim().to_owned()
}

#[test]
fn diverged_target_with_preserve_is_kept_aside_and_continued_incrementally() {
    let lab = Lab::new("rv");
    lab.a.setup("fs data\nwrite data/f 1M\nsnap data@s1");
    let cfg = lab.config(&format!("{PUSH_AB}on-divergence = \"preserve\"\n"));
    assert_eq!(lab.repl(&cfg, &[]).0, 0);
    let target = lab.b.ds("data");
    let s1_guid = snaps(&lab.b, &target)[0].1.clone();
    // Both sides move on: the source takes two snapshots, the target (mounted by someone)
    // gets a file, a snapshot, and another file after it.
    lab.a.setup("write data/g 1M\nsnap data@s2\nsnap data@s3");
    lab.b.run_ok("zfs", &["mount", &target]);
    lab.b
        .setup("write data/only-b 64K\nsnap data@only-on-b\nwrite data/after-snap 64K");

    // The dry run lists exactly what is renamed, cloned and promoted, and changes nothing.
    let (code, json, err) = lab.repl(&cfg, &["--dry-run"]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    let steps = pairs(&json)[0]["steps"].to_string();
    for part in [
        "zfs rename",
        ".diverged-",
        "zfs clone -o canmount=noauto",
        "zfs promote",
        "-I @s1 @s3",
    ] {
        assert!(steps.contains(part), "{part:?} missing in {steps}");
    }
    assert_eq!(snap_names(&lab.b, &target), ["s1", "only-on-b"]);

    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    assert_eq!(statuses(&json), ["replicated"], "{json:#}");
    let p = &pairs(&json)[0];
    assert!(!p["steps"].to_string().contains("full"), "{p:#}");
    let aside = aside_of(p);
    assert!(
        aside.starts_with(&format!("{target}.diverged-20")) && aside.ends_with('Z'),
        "{aside}"
    );

    // The diverged state is kept: its snapshot, its files (also the unsnapshotted one).
    assert_eq!(snap_names(&lab.b, &aside), ["only-on-b"]);
    assert_eq!(prop(&lab.b, &aside, "origin"), format!("{target}@s1"));
    if prop(&lab.b, &aside, "mounted") != "yes" {
        lab.b.run_ok("zfs", &["mount", &aside]);
    }
    let mnt = prop(&lab.b, &aside, "mountpoint");
    for f in ["f", "only-b", "after-snap"] {
        assert!(
            lab.b.run("test", &["-f", &format!("{mnt}/{f}")]).success(),
            "{f} missing in {aside}"
        );
    }
    // The target equals the source, snapshot GUIDs included: @s1 is the very snapshot it had
    // (not re-sent), @s2 and @s3 arrived incrementally; the hold moved to @s3.
    assert_eq!(snaps(&lab.b, &target), snaps(&lab.a, &lab.a.ds("data")));
    assert_eq!(snaps(&lab.b, &target)[0].1, s1_guid);
    assert_eq!(prop(&lab.b, &target, "origin"), "-");
    assert_eq!(holds(&lab.b, &format!("{target}@s3")), ["zferry:b"]);
    assert!(holds(&lab.b, &format!("{target}@s1")).is_empty());

    // A second run has nothing to do.
    let (code, json, _) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}");
    let st = statuses(&json);
    assert!(st == ["up-to-date"] || st == ["unchanged"], "{json:#}");
    assert_eq!(snap_names(&lab.b, &aside), ["only-on-b"]);
}

#[test]
fn target_written_after_its_newest_snapshot_is_preserved_too() {
    let lab = Lab::new("rw");
    lab.a.setup("fs data\nwrite data/f 1M\nsnap data@s1");
    let cfg = lab.config(&format!("{PUSH_AB}on-divergence = \"preserve\"\n"));
    assert_eq!(lab.repl(&cfg, &[]).0, 0);
    let target = lab.b.ds("data");
    lab.a.setup("snap data@s2");
    // No snapshot on the target, only a write: the receive refuses it as modified.
    lab.b.run_ok("zfs", &["mount", &target]);
    lab.b.setup("write data/stray 64K");
    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    let aside = aside_of(&pairs(&json)[0]);
    assert!(snap_names(&lab.b, &aside).is_empty());
    let mnt = prop(&lab.b, &aside, "mountpoint");
    assert!(
        lab.b
            .run("test", &["-f", &format!("{mnt}/stray")])
            .success()
    );
    assert_eq!(snaps(&lab.b, &target), snaps(&lab.a, &lab.a.ds("data")));
}

/// `zferry:epoch` of `ds` and where its value comes from (`2\tlocal`).
fn epoch(pool: &TestPool, ds: &str) -> String {
    let out = pool.run_ok(
        "zfs",
        &["get", "-H", "-o", "value,source", "zferry:epoch", ds],
    );
    out.stdout_lossy().trim().to_owned()
}

/// Runs the job's one pair, which must need an admin; returns its message.
fn needs_admin(lab: &Lab, cfg: &Path) -> String {
    let (code, json, _) = lab.repl(cfg, &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(statuses(&json), ["needs-admin"]);
    pairs(&json)[0]["message"].as_str().unwrap().to_owned()
}

fn set_epoch(pool: &TestPool, ds: &str, epoch: u64) {
    pool.run_ok("zfs", &["set", &format!("zferry:epoch={epoch}"), ds]);
}

#[test]
fn the_target_takes_the_sources_epoch_with_each_stream() {
    let lab = Lab::new("ea");
    lab.a.setup("fs data\nwrite data/f 1M\nsnap data@s1");
    let (source, target) = (lab.a.ds("data"), lab.b.ds("data"));
    set_epoch(&lab.a, &source, 2);
    let cfg = lab.config(PUSH_AB);
    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    assert_eq!(epoch(&lab.b, &target), "2\tlocal");

    // The source becomes master again at 3: the next increment brings the target along.
    set_epoch(&lab.a, &source, 3);
    lab.a.setup("write data/g 64K\nsnap data@s2");
    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    assert!(
        pairs(&json)[0]["steps"].to_string().contains("@s2"),
        "{json:#}"
    );
    assert_eq!(epoch(&lab.b, &target), "3\tlocal");
}

#[test]
fn an_old_master_is_refused_by_the_sender_and_nothing_changes() {
    let lab = Lab::new("eo");
    lab.a.setup("fs data\nwrite data/f 1M\nsnap data@s1");
    let (source, target) = (lab.a.ds("data"), lab.b.ds("data"));
    let cfg = lab.config(PUSH_AB);
    assert_eq!(lab.repl(&cfg, &[]).0, 0);
    // The target's node became master at 2 while this one is still at 1.
    set_epoch(&lab.a, &source, 1);
    set_epoch(&lab.b, &target, 2);
    lab.a.setup("snap data@s2");
    let msg = needs_admin(&lab, &cfg);
    assert!(
        msg.contains(&format!(
            "target b:{target} is at epoch 2, the source a:{source} at 1"
        )) && msg.contains("old master"),
        "{msg}"
    );
    assert_eq!(snap_names(&lab.b, &target), ["s1"]);
    assert_eq!(epoch(&lab.b, &target), "2\tlocal");
}

/// A's `data@s1` replicated to B at `at` by a job with `on_divergence`, then a snapshot of
/// B's own (it was master at that epoch for a while): (lab, config, source, target).
fn diverged_at(tag: &str, at: u64, on_divergence: &str) -> (Lab, PathBuf, String, String) {
    let lab = Lab::new(tag);
    lab.a.setup("fs data\nwrite data/f 1M\nsnap data@s1");
    let (source, target) = (lab.a.ds("data"), lab.b.ds("data"));
    set_epoch(&lab.a, &source, at);
    let cfg = lab.config(&format!("{PUSH_AB}on-divergence = \"{on_divergence}\"\n"));
    assert_eq!(lab.repl(&cfg, &[]).0, 0);
    assert_eq!(epoch(&lab.b, &target), format!("{at}\tlocal"));
    lab.b.setup("snap data@only-on-b");
    (lab, cfg, source, target)
}

#[test]
fn a_diverged_target_at_an_older_epoch_is_kept_aside_though_the_job_refuses() {
    let (lab, cfg, source, target) = diverged_at("ev", 1, "refuse");
    // A took over at 2.
    set_epoch(&lab.a, &source, 2);
    lab.a.setup("write data/g 64K\nsnap data@s2");
    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    let p = &pairs(&json)[0];
    assert!(!p["steps"].to_string().contains("full"), "{p:#}");
    assert!(
        p["message"]
            .as_str()
            .unwrap()
            .contains("fencing epoch decided"),
        "{p:#}"
    );
    let aside = aside_of(p);
    assert!(
        aside.starts_with(&format!("{target}.diverged-e1-20")),
        "{aside}"
    );
    assert_eq!(snap_names(&lab.b, &aside), ["only-on-b"]);
    assert_eq!(snaps(&lab.b, &target), snaps(&lab.a, &source));
    assert_eq!(epoch(&lab.b, &target), "2\tlocal");
}

#[test]
fn a_diverged_target_at_the_same_epoch_has_no_winner_and_nothing_is_destroyed() {
    // Even a job that keeps diverged targets aside has no side to keep here.
    let (lab, cfg, _, target) = diverged_at("en", 2, "preserve");
    lab.a.setup("snap data@s2");
    let msg = needs_admin(&lab, &cfg);
    assert!(
        msg.contains("both sides are at epoch 2") && msg.contains("only-on-b"),
        "{msg}"
    );
    assert_eq!(snap_names(&lab.b, &target), ["s1", "only-on-b"]);
    let all = lab
        .b
        .run_ok("zfs", &["list", "-H", "-o", "name", "-r", lab.b.name()]);
    assert!(
        !all.stdout_lossy().contains(".diverged-"),
        "{}",
        all.stdout_lossy()
    );
    assert_eq!(epoch(&lab.b, &target), "2\tlocal");
}

#[test]
fn empty_replacement_source_is_refused_even_with_force_full() {
    let lab = Lab::new("re");
    lab.a.setup("fs data\nwrite data/f 16M\nsnap data@s1");
    let cfg = lab.config(PUSH_AB);
    assert_eq!(lab.repl(&cfg, &[]).0, 0);
    // The disk was replaced: the source is a fresh, empty dataset with its own snapshot.
    lab.a.run_ok("zfs", &["destroy", "-r", &lab.a.ds("data")]);
    lab.a.setup("fs data\nsnap data@fresh");
    let (code, json, _) = lab.repl(&cfg, &["--force-full"]);
    assert_eq!(code, 1, "{json:#}");
    let msg = pairs(&json)[0]["message"].as_str().unwrap();
    assert!(msg.contains("empty-source guard"), "{msg}");
    let names = snap_names(&lab.b, &lab.b.ds("data"));
    assert_eq!(names, ["s1"], "the target keeps its data");
}

#[test]
fn names_with_spaces_cross_ssh_intact_and_hostile_names_are_refused() {
    let lab = Lab::new("rn");
    // The setup language splits on spaces; create the dataset directly.
    lab.a.run_ok("zfs", &["create", &lab.a.ds("with space")]);
    lab.a.run_ok(
        "zfs",
        &["snapshot", &format!("{}@s 1", lab.a.ds("with space"))],
    );
    let cfg = lab.config(
        r#"
[jobs.j]
source = { node = "a", dataset = "{A}/with space" }
targets = [{ node = "b", dataset = "{B}/with space" }]
"#,
    );
    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    assert_eq!(snaps(&lab.b, &lab.b.ds("with space"))[0].0, "s 1");

    let marker = lab.dir.join("pwned");
    for hostile in [
        "x;touch PWN",
        "x$(touch PWN)",
        "x`touch PWN`",
        "x'y",
        "x\\ny",
    ] {
        let name = hostile.replace("PWN", marker.to_str().unwrap());
        let cfg = lab.config(&format!(
            "[jobs.j]\nsource = {{ node = \"a\", dataset = \"{{A}}/{name}\" }}\n\
             targets = [{{ node = \"b\", dataset = \"{{B}}/d\" }}]\n"
        ));
        let (code, _, err) = run_zferry(&["--config", cfg.to_str().unwrap(), "repl", "run"]);
        assert_eq!(code, 2, "{hostile}: {err}");
        assert!(!marker.exists(), "{hostile} was executed");
    }
}

#[test]
fn a_second_run_on_a_locked_pool_is_refused_as_transient() {
    let lab = Lab::new("rl");
    lab.a.setup("fs data\nsnap data@s1");
    let cfg = lab.config(PUSH_AB);
    // Hold A's pool lock as a concurrent run would.
    let path = lab
        .dir
        .join("lock")
        .join(format!("repl-a-{}.lock", lab.a.name()));
    let held = zferry_repl_run::lock::acquire(&path, Duration::ZERO).unwrap();
    let (code, json, _) = lab.repl(&cfg, &["--lock-wait", "1"]);
    assert_eq!(code, 75, "{json:#}");
    let msg = pairs(&json)[0]["message"].as_str().unwrap();
    assert!(msg.contains("another zferry replication run"), "{msg}");
    assert!(snaps(&lab.b, &lab.b.ds("data")).is_empty());
    drop(held);
    assert_eq!(lab.repl(&cfg, &[]).0, 0);
}

/// `sha256sum` of a file in a dataset. A target arrives unmounted: it is mounted read-only
/// for the sum and unmounted again, so the next receive finds it unmodified.
fn file_sum(pool: &TestPool, ds: &str, file: &str) -> String {
    let mounted = pool.run_ok("zfs", &["get", "-H", "-o", "value", "mounted", ds]);
    let was_mounted = mounted.stdout_lossy().trim() == "yes";
    if !was_mounted {
        pool.run_ok("zfs", &["mount", "-o", "ro", ds]);
    }
    let mountpoint = pool.run_ok("zfs", &["get", "-H", "-o", "value", "mountpoint", ds]);
    let path = format!("{}/{file}", mountpoint.stdout_lossy().trim());
    let out = pool.run_ok("sha256sum", &[path.as_str()]);
    if !was_mounted {
        pool.run_ok("zfs", &["unmount", ds]);
    }
    out.stdout_lossy()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// `(stream bytes, wire bytes)` of a replicated pair, from its report.
fn stream_and_wire(pair: &Value) -> (u64, u64) {
    let stream = pair["bytes"].as_u64().unwrap();
    let steps = pair["steps"].as_array().unwrap();
    let line = steps
        .iter()
        .filter_map(Value::as_str)
        .find(|s| s.starts_with("wire:"))
        .unwrap_or_else(|| panic!("no wire line: {pair:#}"));
    let wire = line
        .rsplit(": ")
        .next()
        .and_then(|t| t.strip_suffix(" bytes on the wire"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no wire bytes in {line:?}"));
    (stream, wire)
}

#[test]
fn zstd_push_with_a_bandwidth_limit_arrives_intact_at_the_limit() {
    let lab = Lab::new("rz");
    lab.a.setup("fs data\nwrite data/noise 8M\nsnap data@s1");
    let cfg = lab.config(
        r#"
[jobs.j]
source = { node = "a", dataset = "{A}/data" }
targets = [{ node = "b", dataset = "{B}/data" }]
compress = "zstd"
bandwidth-limit = "2M"
"#,
    );
    // The plan says how the stream will travel.
    let (code, json, err) = lab.repl(&cfg, &["--dry-run"]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    let plan = pairs(&json)[0]["steps"].to_string();
    assert!(
        plan.contains("wire: zstd level 3 over ssh, limited to 2M/s"),
        "{plan}"
    );

    let started = Instant::now();
    let (code, json, err) = lab.repl(&cfg, &[]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{json:#}\n{err}");
    assert_eq!(statuses(&json), ["replicated"], "{json:#}");
    let (stream, wire) = stream_and_wire(&pairs(&json)[0]);
    eprintln!("push 8M noise, zstd + 2M/s: stream {stream} B, wire {wire} B, {took:?}");
    // Pseudo-random data does not shrink: ≥ 8 MiB at 2 MiB/s is ≥ 4 s less the allowance.
    assert!(wire >= 8 << 20, "{wire}");
    assert!(
        took >= Duration::from_secs(3),
        "{took:?}: the limit was not applied"
    );
    assert_eq!(
        snaps(&lab.b, &lab.b.ds("data")),
        snaps(&lab.a, &lab.a.ds("data"))
    );
    assert_eq!(
        file_sum(&lab.b, &lab.b.ds("data"), "noise"),
        file_sum(&lab.a, &lab.a.ds("data"), "noise")
    );
}

#[test]
fn zstd_pull_compresses_on_the_far_node_and_resumes_incrementally() {
    let lab = Lab::new("ry");
    lab.b.setup("fs data");
    // Compressible: log-like text.
    let mountpoint = format!("/var/tmp/zferry-test-mnt/{}/data", lab.b.name());
    let mut text = String::new();
    for i in 0..200_000 {
        writeln!(
            text,
            "2026-11-21T12:{:02}:{:02} nfsd[{}]: request ok",
            i % 60,
            i % 61,
            i % 97
        )
        .unwrap();
    }
    std::fs::write(format!("{mountpoint}/log"), &text).unwrap();
    lab.b.setup("snap data@s1");
    let cfg = lab.config(
        r#"
[jobs.pull]
mode = "pull"
source = { node = "b", dataset = "{B}/data" }
targets = [{ node = "a", dataset = "{A}/data" }]
"#,
    );
    let started = Instant::now();
    let (code, json, err) = lab.repl(&cfg, &["--node", "a"]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{json:#}\n{err}");
    let (stream, wire) = stream_and_wire(&pairs(&json)[0]);
    eprintln!(
        "pull {} B of text, zstd (default): stream {stream} B, wire {wire} B (ratio {}), {took:?}",
        text.len(),
        stream / wire.max(1)
    );
    assert!(
        wire * 5 < stream,
        "zstd did not shrink text: {stream} -> {wire}"
    );
    assert_eq!(
        file_sum(&lab.a, &lab.a.ds("data"), "log"),
        file_sum(&lab.b, &lab.b.ds("data"), "log")
    );
    // An increment over the same compressed path.
    lab.b.setup("write data/more 1M\nsnap data@s2");
    let (code, json, err) = lab.repl(&cfg, &["--node", "a"]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    assert!(
        pairs(&json)[0]["steps"].to_string().contains("@s1 @s2"),
        "{json:#}"
    );
    assert_eq!(
        snaps(&lab.a, &lab.a.ds("data")),
        snaps(&lab.b, &lab.b.ds("data"))
    );
}

/// Appends a new key to root's `authorized_keys` pinned to `zferry serve --stdio --config
/// <serve_config>` with `restrict` (the line the README documents); returns the private key.
fn pinned_serve_key(dir: &Path, serve_config: &Path) -> PathBuf {
    let key = dir.join("pinned-key");
    let _ = std::fs::remove_file(&key);
    let _ = std::fs::remove_file(key.with_extension("pub"));
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "zferry-pinned", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let forced = zferry_exec::shell_join(&[
        zferry_binary().to_str().unwrap(),
        "serve",
        "--stdio",
        "--config",
        serve_config.to_str().unwrap(),
    ])
    .unwrap();
    let mut keys = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open("/root/.ssh/authorized_keys")
        .unwrap();
    std::io::Write::write_all(
        &mut keys,
        format!("command=\"{forced}\",restrict {}\n", public.trim()).as_bytes(),
    )
    .unwrap();
    key
}

/// Node b reachable only through a key pinned to `zferry serve`: a compressed push, an
/// increment, then a diverged target kept aside — every remote step (listing, receive, the
/// wire decompressor, hold, rename, clone, promote) passes serve's checks against b's own
/// config, and a job b's config does not know is refused there.
#[test]
fn push_through_a_key_pinned_to_serve_compresses_and_preserves() {
    let lab = Lab::new("rk");
    lab.a.setup("fs data");
    let mut text = String::new();
    for i in 0..60_000 {
        writeln!(
            text,
            "2026-11-22T01:{:02}:{:02} pvedaemon[{}]: ok",
            i % 60,
            i % 59,
            i % 89
        )
        .unwrap();
    }
    let mountpoint = format!("/var/tmp/zferry-test-mnt/{}/data", lab.a.name());
    std::fs::write(format!("{mountpoint}/log"), &text).unwrap();
    lab.a.setup("snap data@s1");
    let job = r#"
[jobs.k]
source = { node = "a", dataset = "{A}/data" }
targets = [{ node = "b", dataset = "{B}/data" }]
compress = "zstd"
on-divergence = "preserve"
"#;
    // What node b itself allows: the same job, b being this node.
    let serve_cfg = lab.dir.join("serve-b.toml");
    std::fs::write(
        &serve_cfg,
        format!("[global]\nhostname = \"b\"\n[nodes.a]\naddress = \"localhost\"\n[nodes.b]\n{job}")
            .replace("{A}", lab.a.name())
            .replace("{B}", lab.b.name()),
    )
    .unwrap();
    let key = pinned_serve_key(&lab.dir, &serve_cfg);
    let nodes = format!(
        "[nodes.a]\n[nodes.b]\naddress = \"localhost\"\nssh-identity = \"{}\"\n",
        key.display()
    );
    let cfg = lab.config_with_nodes(&nodes, job, "zferry.toml");

    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    assert_eq!(statuses(&json), ["replicated"], "{json:#}");
    let (stream, wire) = stream_and_wire(&pairs(&json)[0]);
    assert!(wire * 5 < stream, "not compressed: {stream} -> {wire}");
    let target = lab.b.ds("data");
    assert_eq!(holds(&lab.b, &format!("{target}@s1")), ["zferry:b"]);

    // Diverge: the source moves on, the target gets a snapshot of its own.
    lab.a.setup("write data/g 256K\nsnap data@s2");
    lab.b.run_ok("zfs", &["mount", &target]);
    lab.b.setup("write data/only-b 64K\nsnap data@only-on-b");
    let (code, json, err) = lab.repl(&cfg, &[]);
    assert_eq!(code, 0, "{json:#}\n{err}");
    let aside = aside_of(&pairs(&json)[0]);
    assert_eq!(snap_names(&lab.b, &aside), ["only-on-b"]);
    assert_eq!(snaps(&lab.b, &target), snaps(&lab.a, &lab.a.ds("data")));
    assert_eq!(
        file_sum(&lab.b, &target, "log"),
        file_sum(&lab.a, &lab.a.ds("data"), "log")
    );

    // A job b's config does not know (another target dataset) is refused by serve on b,
    // and nothing is created there.
    let rogue = lab.config_with_nodes(
        &nodes,
        r#"
[jobs.rogue]
source = { node = "a", dataset = "{A}/data" }
targets = [{ node = "b", dataset = "{B}/elsewhere" }]
"#,
        "rogue.toml",
    );
    let (code, json, err) = lab.repl(&rogue, &[]);
    assert_ne!(code, 0, "{json:#}\n{err}");
    assert!(
        !lab.b
            .run("zfs", &["list", &lab.b.ds("elsewhere")])
            .success(),
        "serve let an unknown target be created"
    );
}
