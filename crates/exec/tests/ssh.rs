//! SshExecutor with the real OpenSSH client but no server: failures map to Transport.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::time::{Duration, Instant};

use zferry_exec::{CommandSpec, ExecError, Executor, RetryClass, SshExecutor, SshName};

fn have_ssh() -> bool {
    ["/usr/bin/ssh", "/bin/ssh"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
}

#[test]
fn refused_connection_is_a_transient_transport_error() {
    if !have_ssh() {
        eprintln!("skipping: no ssh client installed");
        return;
    }
    // Port 1 on loopback: nothing listens there, so ssh fails fast with exit 255.
    let ssh = SshExecutor::new("127.0.0.1".parse::<SshName>().unwrap())
        .port(1)
        .option("StrictHostKeyChecking", "no")
        .unwrap()
        .option("UserKnownHostsFile", "/dev/null")
        .unwrap();
    let cmd = CommandSpec::new("zfs")
        .args(["list", "tank/a b"])
        .timeout(Duration::from_secs(20));
    let started = Instant::now();
    let err = ssh.run(&cmd).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(err.retry_class(), RetryClass::Transient);
    match &err {
        ExecError::Transport { host, argv, stderr } => {
            assert_eq!(host, "127.0.0.1");
            assert_eq!(argv, &["zfs", "list", "tank/a b"]);
            assert!(stderr.contains("refused"), "stderr: {stderr}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("ssh to 127.0.0.1 failed before or while running `zfs list 'tank/a b'`: "),
        "{err}"
    );
}
