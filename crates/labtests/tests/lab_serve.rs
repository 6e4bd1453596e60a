//! `zferry serve --stdio` as the forced command of an ssh key, against the guest's real sshd
//! on loopback: allowed commands run (and stream), everything else is refused with exit 126
//! and changes nothing.
//!
//! Each test makes its own key and appends it to root's `authorized_keys` (tmpfs in the
//! guest) as `command="<zferry> serve --stdio --config <its config>",restrict`; the config
//! says this node (`lab`) is the target of a recursive job for `<pool>/data`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use tempfile::TempDir;
use zferry_exec::{CommandSpec, Executor, Output, SshExecutor, shell_join};
use zferry_lab::fixture::{TestPool, zferry_binary};

/// A key pinned to `zferry serve --stdio` with a config granting `<pool>/data` (recursive).
struct ServeKey {
    dir: TempDir,
}

impl ServeKey {
    fn new(pool: &TestPool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("zferry.toml");
        std::fs::write(
            &config,
            format!(
                r#"[global]
hostname = "lab"
[nodes.lab]
address = "127.0.0.1"
[nodes.peer]
address = "192.0.2.1"
[jobs.data]
source = {{ node = "peer", dataset = "tank/data" }}
targets = [{{ node = "lab", dataset = "{}" }}]
recursive = true
"#,
                pool.ds("data")
            ),
        )
        .unwrap();
        let key = dir.path().join("key");
        let out = Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "zferry-serve-test",
                "-f",
            ])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let forced = shell_join(&[
            zferry_binary().to_str().unwrap(),
            "serve",
            "--stdio",
            "--config",
            config.to_str().unwrap(),
        ])
        .unwrap();
        assert!(!forced.contains('"'), "{forced}");
        let line = format!("command=\"{forced}\",restrict {}", public.trim());
        let mut keys = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open("/root/.ssh/authorized_keys")
            .unwrap();
        writeln!(keys, "{line}").unwrap();
        Self { dir }
    }

    fn ssh(&self) -> SshExecutor {
        SshExecutor::new("localhost".parse().unwrap())
            .user("root".parse().unwrap())
            .identity(self.dir.path().join("key"))
            .option("IdentitiesOnly", "yes")
            .unwrap()
            .control_path(self.dir.path().join("ctl"))
    }

    fn run(&self, argv: &[&str]) -> Output {
        self.ssh().run(&spec(argv)).unwrap()
    }

    /// The local `ssh …` argv that sends `line` verbatim as the remote command.
    fn raw_ssh_argv(&self, line: &str) -> Vec<String> {
        let mut argv = self.ssh().ssh_argv(&CommandSpec::new("true")).unwrap();
        line.clone_into(argv.last_mut().unwrap());
        argv
    }

    /// Streams a local `zfs send <local_send…>` into the remote command; returns the
    /// remote side's exit code and stderr.
    fn pipe_from_local_send(&self, local_send: &[&str], remote: &[&str]) -> (Option<i32>, String) {
        let mut send = Command::new("zfs")
            .arg("send")
            .args(local_send)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let argv = self.ssh().ssh_argv(&spec(remote)).unwrap();
        let recv = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(send.stdout.take().unwrap())
            .output()
            .unwrap();
        let _ = send.wait();
        (
            recv.status.code(),
            String::from_utf8_lossy(&recv.stderr).into_owned(),
        )
    }

    /// Streams the remote command's stdout into a local `zfs receive -s <target>`; both
    /// must succeed.
    fn pipe_to_local_recv(&self, remote: &[&str], target: &str) {
        let argv = self.ssh().ssh_argv(&spec(remote)).unwrap();
        let mut send = Command::new(&argv[0])
            .args(&argv[1..])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let recv = Command::new("zfs")
            .args(["receive", "-s", target])
            .stdin(send.stdout.take().unwrap())
            .output()
            .unwrap();
        let send_out = send.wait_with_output().unwrap();
        assert!(
            send_out.status.success(),
            "remote send failed: {}",
            String::from_utf8_lossy(&send_out.stderr)
        );
        assert!(
            recv.status.success(),
            "local receive failed: {}",
            String::from_utf8_lossy(&recv.stderr)
        );
    }
}

/// `argv[0]` with the rest as arguments.
fn spec(argv: &[&str]) -> CommandSpec {
    CommandSpec::new(argv[0]).args(argv[1..].iter().copied())
}

fn exists(pool: &TestPool, name: &str) -> bool {
    pool.run("zfs", &["list", "-H", "-o", "name", "-t", "all", name])
        .success()
}

fn assert_refused(out: &Output, why: &str) {
    assert_eq!(out.status.code, Some(126), "not refused: {out:?}");
    assert!(
        out.stderr.contains("zferry serve: refused:") && out.stderr.contains(why),
        "refusal lacks {why:?}: {}",
        out.stderr
    );
}

#[test]
fn allowed_list_runs_version_answers_and_outside_is_refused() {
    let pool = TestPool::create("sv", "128M");
    pool.setup("fs data/child\nsnap data@s1\nfs other\n");
    let key = ServeKey::new(&pool);
    let data = pool.ds("data");

    let out = key.run(&[
        "zfs",
        "list",
        "-H",
        "-p",
        "-o",
        "name,guid,createtxg",
        "-t",
        "filesystem,snapshot",
        "-r",
        &data,
    ]);
    assert!(out.success(), "{out:?}");
    let names: Vec<String> = out
        .stdout_lossy()
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [data.clone(), format!("{data}@s1"), pool.ds("data/child")]
    );

    let version = key.run(&["zferry", "--version"]);
    assert!(version.success(), "{version:?}");
    assert_eq!(
        version.stdout_lossy().trim(),
        format!("zferry {}", env!("CARGO_PKG_VERSION"))
    );

    let outside = key.run(&[
        "zfs",
        "list",
        "-H",
        "-p",
        "-o",
        "name",
        "-t",
        "filesystem",
        &pool.ds("other"),
    ]);
    assert_refused(&outside, "is outside the datasets node lab serves");
    assert!(outside.stdout.is_empty());

    // A config that does not load serves nothing (but the version probe).
    std::fs::write(key.dir.path().join("zferry.toml"), "[global]\nbogus = 1\n").unwrap();
    let broken = key.run(&[
        "zfs",
        "list",
        "-H",
        "-p",
        "-o",
        "name",
        "-t",
        "filesystem",
        &data,
    ]);
    assert_refused(&broken, "config unusable");
}

#[test]
fn destroy_and_injection_are_refused_and_change_nothing() {
    let pool = TestPool::create("sd", "128M");
    pool.setup("fs data\nsnap data@s1\n");
    let key = ServeKey::new(&pool);
    let data = pool.ds("data");

    let out = key.run(&["zfs", "destroy", &data]);
    assert_refused(&out, "only zferry's own bookmarks");
    let out = key.run(&["zfs", "destroy", &format!("{data}@s1")]);
    assert_refused(&out, "only zferry's own bookmarks");
    assert!(exists(&pool, &data) && exists(&pool, &format!("{data}@s1")));

    let marker = key.dir.path().join("injected");
    let marker_str = marker.to_str().unwrap();
    // Each case costs a serve start in the emulated guest; the unit tables cover the rest.
    for line in [
        format!("zfs list -H -p -o name -t filesystem {data}; touch {marker_str}"),
        format!("zfs list -H -p -o name -t filesystem $(touch {marker_str})"),
        format!("zfs list -H -p -o name -t filesystem {data}\ntouch {marker_str}"),
    ] {
        let argv = key.raw_ssh_argv(&line);
        let out = Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(126), "{line:?}: {stderr}");
        assert!(
            stderr.contains("zferry serve: refused:"),
            "{line:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{line:?} printed output");
        assert!(!marker.exists(), "{line:?} ran a shell command");
    }
    // A quoted `;` is just a character of a (here invalid) dataset name.
    let out = key.run(&[
        "zfs",
        "list",
        "-H",
        "-p",
        "-o",
        "name",
        "-t",
        "filesystem",
        &format!("{data}; touch {marker_str}"),
    ]);
    assert_refused(&out, "not a valid dataset name");
    assert!(!marker.exists());
    assert!(exists(&pool, &data));
}

#[test]
fn send_streams_through_serve_into_a_local_receive() {
    let pool = TestPool::create("ss", "256M");
    pool.setup("fs data\nwrite data/f 2M\nsnap data@s1\nwrite data/g 1M\nsnap data@s2\nfs other\nsnap other@s1\n");
    let key = ServeKey::new(&pool);
    let data = pool.ds("data");
    let copy = pool.ds("copy");

    key.pipe_to_local_recv(&["zfs", "send", &format!("{data}@s1")], &copy);
    key.pipe_to_local_recv(&["zfs", "send", "-i", "@s1", &format!("{data}@s2")], &copy);
    let guid = |name: &str| {
        pool.run_ok("zfs", &["get", "-H", "-p", "-o", "value", "guid", name])
            .stdout_lossy()
    };
    assert_eq!(guid(&format!("{data}@s2")), guid(&format!("{copy}@s2")));

    let out = key.run(&["zfs", "send", &pool.ds("other@s1")]);
    assert_refused(&out, "is outside the datasets");
    assert!(out.stdout.is_empty(), "refused send wrote a stream");

    // A stream carrying properties (`send -p`, which zferry never sends) cannot point a
    // dataset received by root at a system path: serve receives with `-x mountpoint …`.
    let evil_mount = format!("/var/tmp/zferry-serve-evil-{}", pool.name());
    pool.run_ok(
        "zfs",
        &[
            "set",
            &format!("mountpoint={evil_mount}"),
            &pool.ds("other"),
        ],
    );
    pool.run_ok("zfs", &["snapshot", &pool.ds("other@props")]);
    let received = pool.ds("data/withprops");
    let (code, stderr) = key.pipe_from_local_send(
        &["-p", &pool.ds("other@props")],
        &["zfs", "recv", "-s", "-u", &received],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let mountpoint = pool
        .run_ok(
            "zfs",
            &["get", "-H", "-o", "value,source", "mountpoint", &received],
        )
        .stdout_lossy();
    assert!(
        !mountpoint.contains(&evil_mount) && !mountpoint.contains("received"),
        "the stream's mountpoint was applied: {mountpoint}"
    );
}

#[test]
fn a_fenced_dataset_receives_only_streams_at_least_as_new_that_name_their_epoch() {
    let pool = TestPool::create("se", "256M");
    pool.setup("fs data\nfs data/src\nwrite data/src/f 1M\nsnap data/src@s1\nwrite data/src/g 1M\nsnap data/src@s2\n");
    let key = ServeKey::new(&pool);
    let (src, dst) = (pool.ds("data/src"), pool.ds("data/dst"));
    let (s1, s2) = (format!("{src}@s1"), format!("{src}@s2"));
    pool.run_ok(
        "sh",
        &["-c", &format!("zfs send {s1} | zfs receive -u {dst}")],
    );
    pool.run_ok("zfs", &["set", "zferry:epoch=2", &dst]);
    let epoch = |ds: &str| {
        pool.run_ok(
            "zfs",
            &["get", "-H", "-o", "value,source", "zferry:epoch", ds],
        )
        .stdout_lossy()
        .trim()
        .to_owned()
    };
    let snapshots = || {
        pool.run_ok(
            "zfs",
            &[
                "list", "-H", "-o", "name", "-t", "snapshot", "-d", "1", &dst,
            ],
        )
        .stdout_lossy()
    };

    // An old master's stream (epoch 1) into the dataset fenced at 2: refused, unchanged.
    let (code, stderr) = key.pipe_from_local_send(
        &["-i", &s1, &s2],
        &["zfs", "recv", "-s", "-u", "-o", "zferry:epoch=1", &dst],
    );
    assert_eq!(code, Some(126), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{dst} is at fencing epoch 2, the stream at epoch 1"
        )),
        "{stderr}"
    );
    // A sender that names no epoch (not fencing-aware): refused too.
    let (code, stderr) =
        key.pipe_from_local_send(&["-i", &s1, &s2], &["zfs", "recv", "-s", "-u", &dst]);
    assert_eq!(code, Some(126), "{stderr}");
    assert!(stderr.contains("carries no epoch"), "{stderr}");
    assert_eq!(snapshots().trim(), format!("{dst}@s1"));
    assert_eq!(epoch(&dst), "2\tlocal");

    // The master's stream at the same epoch is received; a new dataset takes the stream's.
    let (code, stderr) = key.pipe_from_local_send(
        &["-i", &s1, &s2],
        &["zfs", "recv", "-s", "-u", "-o", "zferry:epoch=2", &dst],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(snapshots().contains(&format!("{dst}@s2")));
    let fresh = pool.ds("data/fresh");
    let (code, stderr) = key.pipe_from_local_send(
        &[&s1],
        &["zfs", "recv", "-s", "-u", "-o", "zferry:epoch=3", &fresh],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(epoch(&fresh), "3\tlocal");
}

/// Starts a resumable receive of `snapshot` into `target` and cuts it after `bytes`.
fn partial_receive(snapshot: &str, target: &str, bytes: usize) -> String {
    let mut send = Command::new("zfs")
        .args(["send", snapshot])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut recv = Command::new("zfs")
        .args(["receive", "-s", target])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = vec![0; bytes];
    send.stdout.as_mut().unwrap().read_exact(&mut buf).unwrap();
    recv.stdin.take().unwrap().write_all(&buf).unwrap();
    let _ = send.kill();
    let _ = send.wait();
    assert!(!recv.wait().unwrap().success(), "the cut receive completed");
    let out = Command::new("zfs")
        .args(["get", "-H", "-o", "value", "receive_resume_token", target])
        .output()
        .unwrap();
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.len() > 10, "no resume token on {target}: {token:?}");
    token
}

#[test]
fn resume_tokens_are_authorized_by_the_snapshot_they_name() {
    let pool = TestPool::create("sr", "256M");
    pool.setup(
        "fs data\nwrite data/f 4M\nsnap data@s1\nfs other\nwrite other/f 4M\nsnap other@s1\n",
    );
    let key = ServeKey::new(&pool);
    let copy = pool.ds("copy");

    let token = partial_receive(&pool.ds("data@s1"), &copy, 512 * 1024);
    key.pipe_to_local_recv(&["zfs", "send", "-t", &token], &copy);
    assert!(exists(&pool, &format!("{copy}@s1")));

    let other_copy = pool.ds("othercopy");
    let token = partial_receive(&pool.ds("other@s1"), &other_copy, 512 * 1024);
    let out = key.run(&["zfs", "send", "-t", &token]);
    assert_refused(&out, &format!("{} is outside", pool.ds("other@s1")));
    assert!(out.stdout.is_empty());
}
