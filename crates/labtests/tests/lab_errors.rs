//! Every `ZfsErrorKind` provoked on real ZFS: each test makes a throwaway pool, runs the
//! failing command through the adapter path (`ops::run`, or the executor plus
//! `CommandFailure::from_output` when the command needs a stream on stdin) and asserts the
//! classified kind, its retry class and the exit code OpenZFS gave.
//!
//! Streams are captured with `zfs send` into memory and fed to `zfs receive` on stdin, so no
//! shell pipeline is involved.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use zferry_exec::{CommandSpec, Executor, LocalExecutor};
use zferry_lab::fixture::{POOL_DIR, TestPool};
use zferry_zfs::{CommandFailure, RetryClass, ZfsCommand, ZfsError, ZfsErrorKind as K, ops};

use RetryClass::{Permanent, Transient};

fn cmd(program: &'static str, args: &[&str]) -> ZfsCommand {
    ZfsCommand {
        program,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
    }
}

/// Runs `program args…` through `ops::run` and returns its classified failure.
fn fails(program: &'static str, args: &[&str]) -> ZfsError {
    let c = cmd(program, args);
    match ops::run(&LocalExecutor::new(), &c) {
        Err(e @ ZfsError::Command(_)) => e,
        other => panic!("`{c}` should fail with a classified error, got {other:?}"),
    }
}

/// Runs `argv` (any program, e.g. `setpriv … zfs …`) with `stdin` through the executor and
/// classifies its failure.
fn fails_spec(argv: &[&str], stdin: Option<&[u8]>) -> ZfsError {
    let mut spec = CommandSpec::new(argv[0]).args(argv[1..].iter().copied());
    if let Some(bytes) = stdin {
        spec = spec.stdin(bytes.to_vec());
    }
    let out = LocalExecutor::new().run(&spec).expect("command runs");
    let failure = CommandFailure::from_output(&out)
        .unwrap_or_else(|| panic!("`{}` should fail", argv.join(" ")));
    ZfsError::Command(Box::new(failure))
}

/// `zfs receive args…` fed `stream`.
fn recv_fails(args: &[&str], stream: &[u8]) -> ZfsError {
    let full_argv = [&["zfs", "receive"][..], args].concat();
    fails_spec(&full_argv, Some(stream))
}

/// Asserts kind, retry class and exit code; returns the failure for further checks.
fn expect(err: &ZfsError, kind: K, class: RetryClass, code: i32) -> &CommandFailure {
    let ZfsError::Command(f) = err else {
        panic!("not a command failure: {err:?}")
    };
    assert_eq!(err.kind(), Some(kind), "{err}");
    assert_eq!(err.retry_class(), class, "{err}");
    assert_eq!(f.exit_code, Some(code), "{err}");
    f
}

fn send(pool: &TestPool, args: &[&str]) -> Vec<u8> {
    let send_args = [&["send"][..], args].concat();
    pool.run_ok("zfs", &send_args).stdout
}

fn recv_ok(args: &[&str], stream: &[u8]) {
    let spec = CommandSpec::new("zfs")
        .arg("receive")
        .args(args.iter().copied())
        .stdin(stream.to_vec());
    let out = LocalExecutor::new().run(&spec).expect("command runs");
    assert!(out.success(), "zfs receive {args:?}: {}", out.stderr);
}

fn mountpoint(pool: &TestPool, ds: &str) -> PathBuf {
    let out = pool.run_ok("zfs", &["get", "-H", "-o", "value", "mountpoint", ds]);
    PathBuf::from(out.stdout_lossy().trim())
}

fn token(pool: &TestPool, ds: &str) -> String {
    let out = pool.run_ok(
        "zfs",
        &["get", "-H", "-o", "value", "receive_resume_token", ds],
    );
    let tok = out.stdout_lossy().trim().to_owned();
    assert!(tok.starts_with("1-"), "no resume token on {ds}: {tok:?}");
    tok
}

/// A child process that is killed when the guard drops (also on a failed assertion).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A pool with `a@s1` (4 MiB) and `a@s2` (4 MiB more).
fn two_snapshots() -> TestPool {
    let pool = TestPool::create("er", "128M");
    pool.setup("fs a\nwrite a/f 4M\nsnap a@s1\nwrite a/g 4M\nsnap a@s2\n");
    pool
}

#[test]
fn dataset_not_found() {
    let pool = TestPool::create("er", "64M");
    pool.setup("fs a\nsnap a@s1\n");
    for args in [
        vec!["list", "-H", &pool.ds("nope")],
        vec!["get", "name", &pool.ds("a@nope")],
        vec!["send", &pool.ds("a@nope")],
    ] {
        let err = fails("zfs", &args);
        expect(&err, K::DatasetNotFound, Permanent, 1);
    }
    let err = fails("zfs", &["destroy", &pool.ds("a@nope")]);
    expect(&err, K::DatasetNotFound, Permanent, 1);
    let err = fails("zfs", &["create", &pool.ds("x/y")]);
    let f = expect(&err, K::DatasetNotFound, Permanent, 1);
    assert_eq!(f.detail.as_deref(), Some(pool.ds("x/y").as_str()));
    // Usage text follows, and the exit code is 2.
    let err = fails("zfs", &["snapshot", &format!("{}@x", pool.ds("nope"))]);
    expect(&err, K::DatasetNotFound, Permanent, 2);
}

#[test]
fn dataset_exists() {
    let pool = two_snapshots();
    pool.setup("fs b\n");
    let err = fails("zfs", &["create", &pool.ds("a")]);
    let f = expect(&err, K::DatasetExists, Permanent, 1);
    assert_eq!(f.detail.as_deref(), Some(pool.ds("a").as_str()));
    let stream = send(&pool, &[&pool.ds("a@s1")]);
    let err = recv_fails(&[&pool.ds("b")], &stream);
    expect(&err, K::DatasetExists, Permanent, 1);
}

#[test]
fn destination_has_snapshots() {
    let pool = two_snapshots();
    pool.setup("fs b\nsnap b@x\n");
    let stream = send(&pool, &[&pool.ds("a@s1")]);
    let err = recv_fails(&["-F", &pool.ds("b")], &stream);
    expect(&err, K::DestinationHasSnapshots, Permanent, 1);
}

#[test]
fn no_such_pool() {
    let pool = TestPool::create("er", "64M");
    let missing = format!("{}gone", pool.name());
    let err = fails("zpool", &["status", &missing]);
    let f = expect(&err, K::NoSuchPool, Permanent, 1);
    assert_eq!(f.detail.as_deref(), Some(missing.as_str()));
    let err = fails("zfs", &["create", &format!("{missing}/a")]);
    expect(&err, K::NoSuchPool, Permanent, 1);
    // `zfs` itself does not tell a missing pool from a missing dataset.
    let err = fails("zfs", &["list", &missing]);
    expect(&err, K::DatasetNotFound, Permanent, 1);
}

const NOBODY: [&str; 4] = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

#[test]
fn permission_denied() {
    let pool = TestPool::create("er", "64M");
    pool.setup("fs a\n");
    let snap = format!("{}@priv", pool.ds("a"));
    let err = fails_spec(&[&NOBODY[..], &["zfs", "snapshot", &snap]].concat(), None);
    expect(&err, K::PermissionDenied, Permanent, 1);
    let err = fails_spec(
        &[
            &NOBODY[..],
            &["zfs", "set", "compression=lz4", &pool.ds("a")],
        ]
        .concat(),
        None,
    );
    let f = expect(&err, K::PermissionDenied, Permanent, 255);
    assert_eq!(f.detail.as_deref(), Some(pool.ds("a").as_str()));
}

#[test]
fn busy_mounted_filesystem_clears_when_the_user_leaves() {
    let pool = TestPool::create("er", "64M");
    pool.setup("fs a\n");
    let dir = mountpoint(&pool, &pool.ds("a"));
    let sleeper = Running(
        Command::new("sleep")
            .arg("120")
            .current_dir(&dir)
            .spawn()
            .expect("spawn sleep"),
    );
    let err = fails("zfs", &["destroy", &pool.ds("a")]);
    let f = expect(&err, K::Busy, Transient, 1);
    assert_eq!(f.detail.as_deref(), dir.to_str());
    let err = fails("zpool", &["export", pool.name()]);
    expect(&err, K::Busy, Transient, 1);
    drop(sleeper);
    // Transient means it: the same command succeeds once the cause is gone.
    ops::run(
        &LocalExecutor::new(),
        &cmd("zfs", &["destroy", &pool.ds("a")]),
    )
    .expect("destroy after the process left");
}

#[test]
fn busy_open_zvol_clears_when_closed() {
    let pool = TestPool::create("er", "64M");
    pool.setup("vol v 8M\n");
    let dev = PathBuf::from(format!("/dev/zvol/{}", pool.ds("v")));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dev.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            dev.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let open = std::fs::File::open(&dev).expect("open zvol");
    let err = fails("zfs", &["destroy", &pool.ds("v")]);
    let f = expect(&err, K::Busy, Transient, 1);
    assert_eq!(f.detail.as_deref(), Some(pool.ds("v").as_str()));
    drop(open);
    ops::run(
        &LocalExecutor::new(),
        &cmd("zfs", &["destroy", &pool.ds("v")]),
    )
    .expect("destroy after close");
}

#[test]
fn out_of_space() {
    let pool = TestPool::create("er", "64M");
    pool.setup("fs a\nfs q -o quota=1M\n");
    let err = fails(
        "zfs",
        &["create", "-o", "refreservation=1G", &pool.ds("big")],
    );
    expect(&err, K::OutOfSpace, Permanent, 1);
    let err = fails("zfs", &["set", "reservation=1G", &pool.ds("a")]);
    expect(&err, K::OutOfSpace, Permanent, 255);
    pool.setup("write a/f 4M\nsnap a@s1\n");
    let stream = send(&pool, &[&pool.ds("a@s1")]);
    let err = recv_fails(&[&pool.ds("q/r")], &stream);
    let f = expect(&err, K::OutOfSpace, Permanent, 1);
    assert_eq!(f.detail.as_deref(), Some(pool.ds("q/r").as_str()));
}

#[test]
fn out_of_space_when_full() {
    let pool = TestPool::create("er", "64M");
    // Uncompressed, so a repeated byte pattern really takes space.
    pool.setup("fs a -o compression=off\n");
    let file = mountpoint(&pool, &pool.ds("a")).join("fill");
    // Writing stops at ENOSPC; the error is the point.
    let chunk = vec![0x5a_u8; 1 << 20];
    let mut f = std::fs::File::create(&file).expect("create fill file");
    let mut full = false;
    for _ in 0..128 {
        if std::io::Write::write_all(&mut f, &chunk).is_err() {
            full = true;
            break;
        }
    }
    drop(f);
    pool.run_ok("sync", &[] as &[&str]);
    assert!(full, "a 64M pool took 128M");
    let err = fails("zfs", &["snapshot", &format!("{}@x", pool.ds("a"))]);
    expect(&err, K::OutOfSpace, Permanent, 1);
    let err = fails("zfs", &["create", &pool.ds("more")]);
    expect(&err, K::OutOfSpace, Permanent, 1);
}

#[test]
fn snapshot_has_clones() {
    let pool = TestPool::create("er", "64M");
    pool.setup("fs a\nsnap a@s1\n");
    pool.run_ok(
        "zfs",
        &["clone", &format!("{}@s1", pool.ds("a")), &pool.ds("c")],
    );
    let err = fails("zfs", &["destroy", &format!("{}@s1", pool.ds("a"))]);
    expect(&err, K::SnapshotHasClones, Permanent, 1);
}

#[test]
fn snapshot_held() {
    let pool = TestPool::create("er", "64M");
    pool.setup("fs a\nsnap a@s1\nhold keep a@s1\n");
    let snap = format!("{}@s1", pool.ds("a"));
    let err = fails("zfs", &["destroy", &snap]);
    let f = expect(&err, K::SnapshotHeld, Permanent, 1);
    assert_eq!(f.detail.as_deref(), Some(snap.as_str()));
    pool.run_ok("zfs", &["release", "keep", &snap]);
}

#[test]
fn has_children() {
    let pool = TestPool::create("er", "64M");
    pool.setup("fs a/kid\n");
    let err = fails("zfs", &["destroy", &pool.ds("a")]);
    expect(&err, K::HasChildren, Permanent, 1);
    pool.setup("fs b\nsnap b@s1\n");
    let err = fails("zfs", &["destroy", &pool.ds("b")]);
    expect(&err, K::HasChildren, Permanent, 1);
}

#[test]
fn resume_token_corrupt() {
    let _pool = TestPool::create("er", "64M");
    for tok in ["garbage", "1-abc-def-ghi"] {
        let err = fails("zfs", &["send", "-t", tok]);
        expect(&err, K::ResumeTokenCorrupt, Permanent, 255);
    }
}

#[test]
fn resume_token_stale() {
    let pool = two_snapshots();
    let stream = send(&pool, &[&pool.ds("a@s1")]);
    let err = recv_fails(&["-s", &pool.ds("r")], &stream[..1_000_000]);
    expect(&err, K::StreamInterrupted, Transient, 1);
    let tok = token(&pool, &pool.ds("r"));
    let s1 = format!("{}@s1", pool.ds("a"));
    pool.run_ok("zfs", &["destroy", &s1]);
    let err = fails("zfs", &["send", "-t", &tok]);
    let f = expect(&err, K::ResumeTokenStale, Permanent, 255);
    assert_eq!(f.detail.as_deref(), Some(s1.as_str()));
    // Same name, different snapshot.
    pool.run_ok("zfs", &["snapshot", &s1]);
    let err = fails("zfs", &["send", "-t", &tok]);
    expect(&err, K::ResumeTokenStale, Permanent, 255);
}

#[test]
fn resumable_receive_in_progress_until_aborted() {
    let pool = two_snapshots();
    let full = send(&pool, &[&pool.ds("a@s1")]);
    let inc = send(&pool, &["-i", "@s1", &pool.ds("a@s2")]);
    let r = pool.ds("r");
    recv_ok(&[&r], &full);
    let err = recv_fails(&["-s", &r], &inc[..1_000_000]);
    expect(&err, K::StreamInterrupted, Transient, 1);
    for args in [vec![r.as_str()], vec!["-s", r.as_str()]] {
        let err = recv_fails(&args, &inc);
        let f = expect(&err, K::ResumableReceiveInProgress, Permanent, 1);
        assert_eq!(f.detail.as_deref(), Some(r.as_str()));
    }
    // The resolution: abort (or resume); then nothing is left to abort.
    ops::run(&LocalExecutor::new(), &cmd("zfs", &["receive", "-A", &r])).expect("abort");
    let err = fails("zfs", &["receive", "-A", &r]);
    expect(&err, K::NoReceiveStateToAbort, Permanent, 1);
    recv_ok(&[&r], &inc);
}

#[test]
fn partial_new_filesystem_needs_abort_before_overwrite() {
    let pool = two_snapshots();
    let full = send(&pool, &[&pool.ds("a@s1")]);
    let r = pool.ds("r");
    let err = recv_fails(&["-s", &r], &full[..1_000_000]);
    expect(&err, K::StreamInterrupted, Transient, 1);
    let err = recv_fails(&["-F", &r], &full);
    expect(&err, K::ResumableReceiveInProgress, Permanent, 1);
    // Without -F the same situation reads as an existing destination.
    let err = recv_fails(&[&r], &full);
    expect(&err, K::DatasetExists, Permanent, 1);
}

#[test]
fn receive_destination_modified() {
    let pool = two_snapshots();
    let full = send(&pool, &[&pool.ds("a@s1")]);
    let inc = send(&pool, &["-i", "@s1", &pool.ds("a@s2")]);
    let r = pool.ds("r");
    recv_ok(&[&r], &full);
    std::fs::write(mountpoint(&pool, &r).join("new"), b"changed").expect("write");
    pool.run_ok("sync", &[] as &[&str]);
    let err = recv_fails(&[&r], &inc);
    let f = expect(&err, K::ReceiveDestinationModified, Permanent, 1);
    assert_eq!(f.detail.as_deref(), Some(r.as_str()));
}

#[test]
fn incremental_source_mismatch() {
    let pool = two_snapshots();
    pool.setup("fs other\nsnap other@zz\n");
    let inc = send(&pool, &["-i", "@s1", &pool.ds("a@s2")]);
    for args in [vec![], vec!["-F"]] {
        let mut args = args;
        let other = pool.ds("other");
        args.push(other.as_str());
        let err = recv_fails(&args, &inc);
        let f = expect(&err, K::IncrementalSourceMismatch, Permanent, 1);
        assert_eq!(f.detail.as_deref(), Some(other.as_str()));
    }
    let err = recv_fails(&[&pool.ds("never")], &inc);
    expect(&err, K::DatasetNotFound, Permanent, 1);
}

#[test]
fn stream_interrupted_is_retryable() {
    let pool = two_snapshots();
    let full = send(&pool, &[&pool.ds("a@s1")]);
    let r = pool.ds("r");
    for cut in [1_000_000, 100, 0] {
        let err = recv_fails(&[&r], &full[..cut]);
        expect(&err, K::StreamInterrupted, Transient, 1);
    }
    // Without -s nothing is kept, so the unchanged command succeeds with a whole stream.
    recv_ok(&[&r], &full);
}

#[test]
fn invalid_name() {
    let pool = TestPool::create("er", "64M");
    pool.setup("fs a\n");
    for name in [
        pool.ds("bad!name"),
        pool.ds("a//b"),
        format!("{}@b@c", pool.ds("a")),
        format!("/{}", pool.ds("x")),
        pool.ds(&"x".repeat(300)),
    ] {
        let verb = if name.contains('@') {
            "snapshot"
        } else {
            "create"
        };
        let err = fails("zfs", &[verb, &name]);
        expect(&err, K::InvalidName, Permanent, 1);
    }
}

#[test]
fn property_invalid() {
    let pool = TestPool::create("er", "64M");
    pool.setup("fs a\n");
    let a = pool.ds("a");
    for assignment in [
        "compression=bogus",
        "bogusprop=1",
        "used=1",
        "volsize=1M",
        "recordsize=3000",
        "quota=abc",
        "mountpoint=relative",
    ] {
        let err = fails("zfs", &["set", assignment, &a]);
        let f = expect(&err, K::PropertyInvalid, Permanent, 255);
        assert_eq!(f.detail.as_deref(), Some(a.as_str()), "{assignment}");
    }
    let err = fails("zfs", &["create", "-o", "compression=bogus", &pool.ds("b")]);
    expect(&err, K::PropertyInvalid, Permanent, 1);
    let err = fails("zfs", &["get", "bogus", &a]);
    expect(&err, K::PropertyInvalid, Permanent, 2);
}

/// Writes a Lua channel program next to the pool files and returns its path.
fn lua(pool: &TestPool, tag: &str, text: &str) -> String {
    let path = format!("{POOL_DIR}/{}-{tag}.lua", pool.name());
    std::fs::write(&path, text).expect("write channel program");
    path
}

#[test]
fn channel_program_error() {
    let pool = TestPool::create("er", "64M");
    let cases = [
        ("syntax", "return 1 +\n", "unexpected symbol near <eof>"),
        ("runtime", "error(\"boom\")\n", ":1: boom"),
        (
            "nil",
            "return nosuch.fn()\n",
            "attempt to index global 'nosuch'",
        ),
    ];
    for (tag, text, want) in cases {
        let file = lua(&pool, tag, text);
        let err = fails("zfs", &["program", pool.name(), &file]);
        let f = expect(&err, K::ChannelProgramError, Permanent, 1);
        let detail = f.detail.as_deref().unwrap_or_default();
        assert!(detail.contains(want), "{tag}: {detail:?}");
        let _ = std::fs::remove_file(file);
    }
    let file = lua(&pool, "loop", "while true do end\n");
    let err = fails("zfs", &["program", "-t", "1000", pool.name(), &file]);
    let f = expect(&err, K::ChannelProgramError, Permanent, 1);
    assert_eq!(f.detail.as_deref(), Some("Channel program timed out."));
    // Not root: the channel program wrapper reports it, but it is a permission problem.
    let err = fails_spec(
        &[&NOBODY[..], &["zfs", "program", pool.name(), &file]].concat(),
        None,
    );
    expect(&err, K::PermissionDenied, Permanent, 1);
    let _ = std::fs::remove_file(file);
}
