//! PR_SET_PDEATHSIG: children started by zferry die when zferry itself is SIGKILLed.
//!
//! The test re-runs this test binary as a helper process that starts a long `sleep`
//! through LocalExecutor, SIGKILLs the helper, and checks the `sleep` is gone too.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use zferry_exec::{CommandSpec, Executor, LocalExecutor};

const HELPER_ENV: &str = "ZFERRY_EXEC_PDEATH_SLEEP_ARG";

fn pids_with_argv(argv: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want))
        .collect()
}

fn poll(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        sleep(Duration::from_millis(20));
    }
    done()
}

/// Only does something when started by `child_dies_with_parent`.
#[test]
#[ignore = "helper process for child_dies_with_parent"]
fn helper_runs_long_sleep() {
    if let Ok(arg) = std::env::var(HELPER_ENV) {
        let spec = CommandSpec::new("sleep")
            .arg(arg)
            .timeout(Duration::from_mins(1));
        let _ = LocalExecutor::with_host("helper").run(&spec);
    }
}

#[test]
fn child_dies_with_parent() {
    let arg = format!("28.{:06}", std::process::id() % 1_000_000);
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_runs_long_sleep",
            "--ignored",
            "--nocapture",
        ])
        .env(HELPER_ENV, &arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = poll(Duration::from_secs(10), || {
        !pids_with_argv(&["sleep", &arg]).is_empty()
    });
    helper.kill().unwrap();
    helper.wait().unwrap();
    assert!(started, "helper never started the sleep");
    let gone = poll(Duration::from_secs(3), || {
        pids_with_argv(&["sleep", &arg]).is_empty()
    });
    assert!(gone, "sleep {arg} survived its parent");
}
