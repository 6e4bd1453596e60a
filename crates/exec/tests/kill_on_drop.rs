//! KillOnDrop kills and reaps a still-running child when unwinding past it.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::process::{Command, Stdio};

use zferry_exec::KillOnDrop;

fn sleeper() -> std::process::Child {
    Command::new("sleep")
        .arg("30")
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn panic_kills_and_reaps_child() {
    let mut pid = 0;
    let result = catch_unwind(AssertUnwindSafe(|| {
        let guard = KillOnDrop::new(sleeper());
        pid = guard.id();
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        panic!("simulated failure mid-run");
    }));
    assert!(result.is_err());
    assert_ne!(pid, 0);
    // Reaped, not just killed: a zombie would still have a /proc entry.
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn into_inner_disarms() {
    let guard = KillOnDrop::new(sleeper());
    let pid = guard.id();
    let mut child = guard.into_inner();
    assert!(child.try_wait().unwrap().is_none(), "child died on disarm");
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn finished_child_is_left_alone() {
    let mut guard = KillOnDrop::new(Command::new("true").spawn().unwrap());
    let status = guard.child_mut().wait().unwrap();
    assert!(status.success());
    drop(guard);
}
