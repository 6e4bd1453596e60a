//! Scenario tests: every `tests/scenarios/<name>.sim` runs in the virtual-time simulator and
//! its decision log must equal `<name>.log`. After a deliberate change, regenerate the logs
//! with `ZFERRY_BLESS=1 cargo test -p zferry-ha --test scenarios` and read the diff.
//! The per-scenario tests below also check the properties each scenario is there to show.

use std::fs;
use std::path::{Path, PathBuf};

use zferry_ha::sim::{scenario_rules, simulate};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")
}

fn run(name: &str) -> String {
    let script = fs::read_to_string(dir().join(format!("{name}.sim"))).expect("scenario exists");
    simulate(&script, scenario_rules()).expect("scenario parses")
}

#[test]
fn every_scenario_matches_its_golden_log() {
    let mut names: Vec<String> = fs::read_dir(dir())
        .expect("scenario dir")
        .filter_map(|e| {
            let path = e.expect("dir entry").path();
            (path.extension()? == "sim").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    assert!(names.len() >= 9, "scenarios found: {names:?}");
    let bless = std::env::var_os("ZFERRY_BLESS").is_some();
    let mut failed = Vec::new();
    for name in &names {
        let got = run(name);
        let golden = dir().join(format!("{name}.log"));
        if bless {
            fs::write(&golden, &got).expect("write golden log");
        } else if fs::read_to_string(&golden).ok().as_deref() != Some(got.as_str()) {
            eprintln!("--- {name}: log differs; got:\n{got}");
            failed.push(name.clone());
        }
    }
    assert!(failed.is_empty(), "scenarios whose log changed: {failed:?}");
}

/// Lines of `log` that mention `what`.
fn lines<'a>(log: &'a str, what: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(what)).collect()
}

#[test]
fn the_new_master_continues_incrementally_after_a_planned_switchover() {
    let log = run("planned_switchover");
    assert_eq!(lines(&log, ": master").len(), 2, "{log}");
    assert!(log.contains("pve2: epoch e2 -> e3"), "{log}");
    assert!(log.contains("send pve2 -> pve1 (e3): incremental"), "{log}");
    assert!(
        log.contains("send pve2 -> offsite (e3): incremental"),
        "{log}"
    );
    assert!(lines(&log, "refused").is_empty(), "{log}");
    assert!(lines(&log, "preserved").is_empty(), "{log}");
}

#[test]
fn a_crash_failover_waits_for_recovery_and_keeps_the_third_site_incremental() {
    let log = run("crash_failover");
    assert!(
        log.contains("pve2: unknown: service is in transition (fence)"),
        "{log}"
    );
    assert!(
        log.contains("send pve2 -> offsite (e3): incremental"),
        "{log}"
    );
    let master_at = lines(&log, "pve2: master");
    assert_eq!(master_at.len(), 1, "{log}");
    assert!(master_at[0].trim_start().starts_with("88s"), "{log}");
}

#[test]
fn a_returning_old_master_is_preserved_then_resynced() {
    let log = run("old_master_returns_with_writes");
    assert!(
        log.contains("pve1: unknown: cluster has no quorum"),
        "{log}"
    );
    let preserved = lines(&log, "preserved");
    assert_eq!(preserved.len(), 1, "{log}");
    assert!(
        preserved[0].contains("send pve2 -> pve1 (e3)")
            && preserved[0].contains("its writes after the common snapshot"),
        "{log}"
    );
}

#[test]
fn no_master_without_quorum_or_while_placement_flaps() {
    let log = run("lost_quorum");
    let cut: Vec<_> = log
        .lines()
        .skip_while(|l| !l.contains("isolate pve2"))
        .take_while(|l| !l.contains("rejoin pve2"))
        .collect();
    assert!(cut.iter().all(|l| !l.contains(": master")), "{log}");
    assert!(
        cut.iter()
            .any(|l| l.contains("pve1: unknown: cluster has no quorum")),
        "{log}"
    );
    let log = run("flapping_placement");
    assert!(lines(&log, "pve2: master").is_empty(), "{log}");
    assert!(lines(&log, "send pve2").is_empty(), "{log}");
}

#[test]
fn two_masters_never_overwrite_each_other() {
    let log = run("both_claim_master");
    assert!(log.contains("refused by pve1: it is master"), "{log}");
    assert!(
        log.contains("refused: target is at e3, newer than this source's e2"),
        "{log}"
    );
    assert!(lines(&log, "preserved").is_empty(), "{log}");
    let log = run("split_brain_same_epoch");
    assert!(log.contains("no side wins"), "{log}");
    assert!(lines(&log, "preserved").is_empty(), "{log}");
}

#[test]
fn clock_jumps_and_source_errors_change_nothing_they_should_not() {
    let log = run("clock_jumps");
    assert_eq!(lines(&log, "pve1: master").len(), 1, "{log}");
    let after_jump: Vec<_> = log.lines().skip_while(|l| !l.contains("jumps")).collect();
    assert_eq!(after_jump.len(), 2, "only the two jumps: {log}");
    let log = run("source_errors");
    assert!(
        log.contains("pve1: unknown: placement source failed"),
        "{log}"
    );
    let after_error: Vec<_> = log.lines().skip_while(|l| !l.contains("fails")).collect();
    assert!(after_error.iter().all(|l| !l.contains("pve2:")), "{log}");
    assert!(
        after_error.iter().any(|l| l.contains("pve1: master")),
        "{log}"
    );
}

#[test]
fn scripts_with_mistakes_are_refused_with_their_line() {
    for (script, want) in [
        ("voters a\nservice-nodes a\nat x place a\n", "line 3"),
        ("voters a\nservice-nodes a\nat 1 dance\n", "unknown event"),
        ("voters a\nservice-nodes b\n", "must be a voter"),
        (
            "voters a\nservice-nodes a\nat 1 power-off z\n",
            "unknown node `z`",
        ),
    ] {
        let err = simulate(script, scenario_rules()).expect_err(script);
        assert!(err.to_string().contains(want), "{err} / {want}");
    }
}
