//! The ssh executor against the guest's real sshd on loopback: commands run remotely with
//! their arguments intact, hostile dataset names cannot inject shell code, and a refused
//! connection is a transient transport error.

use std::path::Path;

use zferry_exec::{CommandSpec, ExecError, Executor, RetryClass, SshExecutor};
use zferry_lab::fixture::TestPool;

/// One multiplexed connection per test process: a key exchange under TCG takes seconds.
fn ssh() -> SshExecutor {
    SshExecutor::new("localhost".parse().expect("valid host"))
        .user("root".parse().expect("valid user"))
        .control_path(format!("/tmp/zferry-test-ssh-{}", std::process::id()))
}

#[test]
fn zfs_runs_over_ssh_and_reports_remote_exit_codes() {
    let pool = TestPool::create("ss", "64M");
    let exec = ssh();
    let out = exec
        .run(&CommandSpec::new("zpool").args(["list", "-H", "-o", "name", pool.name()]))
        .unwrap();
    assert!(out.success(), "{}", out.stderr);
    assert_eq!(out.stdout_lossy().trim(), pool.name());
    assert_eq!(out.host, "localhost");

    let missing = exec
        .run(&CommandSpec::new("zfs").args(["list", &pool.ds("nope")]))
        .unwrap();
    assert_eq!(missing.status.code, Some(1));
    assert!(
        missing.stderr.contains("dataset does not exist"),
        "{}",
        missing.stderr
    );
}

#[test]
fn hostile_dataset_names_reach_zfs_verbatim_over_ssh() {
    let pool = TestPool::create("si", "64M");
    let marker = "/tmp/zferry-injected";
    let _ = std::fs::remove_file(marker);
    let exec = ssh();
    for hostile in [
        "a b",
        "it's",
        "x$(touch /tmp/zferry-injected)",
        "y;touch /tmp/zferry-injected",
        "z`touch /tmp/zferry-injected`",
        "q\"uote",
        "-dash",
    ] {
        let name = pool.ds(hostile);
        let out = exec
            .run(&CommandSpec::new("zfs").args(["create", name.as_str()]))
            .unwrap();
        // ZFS itself rejects some of these characters: what matters is that it received
        // exactly this name, and that no shell ever interpreted it.
        let listed = pool.run("zfs", &["list", "-H", "-o", "name", name.as_str()]);
        if out.success() {
            assert_eq!(
                listed.stdout_lossy().trim_end_matches('\n'),
                name,
                "created under another name"
            );
        } else {
            assert!(
                out.stderr.contains(&name) || out.stderr.contains("invalid character"),
                "zfs did not see the name verbatim: {}",
                out.stderr
            );
        }
        assert!(
            !Path::new(marker).exists(),
            "shell injection through {hostile:?}"
        );
    }
}

#[test]
fn refused_connection_is_a_transient_transport_error() {
    let exec = ssh().port(1);
    let err = exec.run(&CommandSpec::new("true")).unwrap_err();
    assert!(matches!(err, ExecError::Transport { .. }), "{err}");
    assert_eq!(err.retry_class(), RetryClass::Transient);
}
