//! LocalExecutor against real processes: exit codes, pipes, limits, timeouts.
//!
//! `/bin/sh` appears here only as the program under test where a process with a
//! particular behaviour (stderr flood, signal death) is needed.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::time::{Duration, Instant};

use zferry_exec::{CommandSpec, ExecError, Executor, LocalExecutor, RetryClass};

fn local() -> LocalExecutor {
    LocalExecutor::with_host("node-a")
}

fn sh(script: &str) -> CommandSpec {
    CommandSpec::new("/bin/sh").args(["-c", script])
}

/// Pids of live processes whose argv is exactly `argv`.
fn pids_with_argv(argv: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want))
        .collect()
}

/// A sleep argument unique to this test run so /proc can find exactly our process.
fn unique_sleep_arg(tag: u32) -> String {
    format!("{}.{:06}{tag}", 29, std::process::id() % 1_000_000)
}

#[test]
fn exit_codes() {
    let ok = local().run(&CommandSpec::new("true")).unwrap();
    assert!(ok.success());
    assert_eq!(ok.status.code, Some(0));
    assert_eq!(ok.host, "node-a");
    assert_eq!(ok.argv, ["true"]);

    let fail = local().run(&CommandSpec::new("false")).unwrap();
    assert!(!fail.success());
    assert_eq!((fail.status.code, fail.status.signal), (Some(1), None));

    let seven = local().run(&sh("echo oops >&2; exit 7")).unwrap();
    assert_eq!(seven.status.code, Some(7));
    let err = seven.check().unwrap_err();
    assert_eq!(
        err.to_string(),
        "`/bin/sh -c 'echo oops >&2; exit 7'` on node-a failed (exit code 7): oops"
    );
    assert_eq!(err.retry_class(), RetryClass::Permanent);
}

#[test]
fn killed_by_signal() {
    let out = local().run(&sh("kill -9 $$")).unwrap();
    assert_eq!((out.status.code, out.status.signal), (None, Some(9)));
    assert!(
        out.check()
            .unwrap_err()
            .to_string()
            .contains("killed by signal 9")
    );
}

#[test]
fn stdout_is_captured_exactly() {
    let out = local()
        .run(&CommandSpec::new("printf").args(["%s|%s\\n", "a b", "$(c)"]))
        .unwrap();
    assert_eq!(out.stdout, b"a b|$(c)\n");
    assert_eq!(out.stderr, "");
}

#[test]
fn large_stdout_does_not_deadlock() {
    let out = local()
        .run(&CommandSpec::new("head").args(["-c", "5000000", "/dev/zero"]))
        .unwrap();
    assert!(out.success());
    assert_eq!(out.stdout.len(), 5_000_000);
}

#[test]
fn stdin_is_fed_to_cat() {
    let input: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let out = local()
        .run(&CommandSpec::new("cat").stdin(input.clone()))
        .unwrap();
    assert!(out.success());
    assert_eq!(out.stdout, input);
}

#[test]
fn no_stdin_means_dev_null() {
    let out = local().run(&CommandSpec::new("cat")).unwrap();
    assert!(out.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn env_additions_reach_the_child() {
    let out = local()
        .run(
            &CommandSpec::new("printenv")
                .arg("ZFERRY_T")
                .env("ZFERRY_T", "v 1"),
        )
        .unwrap();
    assert_eq!(out.stdout, b"v 1\n");
}

#[test]
fn stderr_is_bounded_head_and_tail() {
    let out = local()
        .run(&sh(
            "yes abcdefgh | head -c 1000000 >&2; printf tail >&2; echo done",
        ))
        .unwrap();
    assert!(out.success());
    assert_eq!(out.stdout, b"done\n");
    let kept = 64 * 1024;
    let elided = 1_000_004 - kept;
    let marker = format!("\n[… {elided} bytes elided …]\n");
    assert_eq!(out.stderr.len(), kept + marker.len());
    assert!(out.stderr.starts_with("abcdefgh\nabcdefgh\n"));
    assert!(
        out.stderr.ends_with("abcdefgh\natail"),
        "{}",
        &out.stderr[out.stderr.len() - 40..]
    );
    assert_eq!(out.stderr.find(&marker), Some(kept / 2));
}

#[test]
fn small_stderr_limit_is_respected() {
    let out = local()
        .run(&sh("echo 0123456789 >&2").max_stderr(4))
        .unwrap();
    assert_eq!(out.stderr, "01\n[… 7 bytes elided …]\n9\n");
}

#[test]
fn timeout_kills_the_process() {
    let arg = unique_sleep_arg(1);
    let spec = CommandSpec::new("sleep")
        .arg(arg.as_str())
        .timeout(Duration::from_millis(300))
        .label("tank/slow");
    let started = Instant::now();
    let err = local().run(&spec).unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    match &err {
        ExecError::Timeout { host, argv, after } => {
            assert_eq!(host, "node-a");
            assert_eq!(argv, &["sleep", arg.as_str()]);
            assert_eq!(*after, Duration::from_millis(300));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.retry_class(), RetryClass::Transient);
    assert_eq!(pids_with_argv(&["sleep", &arg]), Vec::<u32>::new());
}

#[test]
fn grandchild_holding_pipes_counts_as_timeout() {
    let spec = sh("sleep 3 & echo started").timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = local().run(&spec).unwrap_err();
    assert!(matches!(err, ExecError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn missing_program_is_a_spawn_error() {
    let err = local()
        .run(&CommandSpec::new("/nonexistent/zferry-no-such-binary"))
        .unwrap_err();
    match &err {
        ExecError::Spawn {
            host,
            program,
            source,
        } => {
            assert_eq!(host, "node-a");
            assert_eq!(program, "/nonexistent/zferry-no-such-binary");
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.retry_class(), RetryClass::Permanent);
}

#[test]
fn duration_is_measured() {
    let out = local().run(&CommandSpec::new("sleep").arg("0.2")).unwrap();
    assert!(
        out.duration >= Duration::from_millis(200),
        "{:?}",
        out.duration
    );
    assert!(out.duration < Duration::from_secs(3), "{:?}", out.duration);
}

#[test]
fn works_as_trait_object() {
    let exec: Box<dyn Executor> = Box::new(local());
    assert_eq!(exec.host(), "node-a");
    let shared = std::sync::Arc::new(local());
    assert_eq!(
        shared.run(&CommandSpec::new("true")).unwrap().host,
        "node-a"
    );
    assert!(!LocalExecutor::new().host().is_empty());
}
