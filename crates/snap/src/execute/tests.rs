//! Execution against a scripted executor fed with outputs captured in the lab.

use std::fmt::Write as _;
use std::sync::Mutex;

use super::*;
use crate::model::{Create, SetProperty};
use crate::test_support::{Scripted, fixture};
use zferry_zfs::Guid;

fn create(s: &str) -> Create {
    Create {
        snapshot: s.parse().unwrap(),
        period: None,
        reason: "test".into(),
    }
}

/// A stand-in guid per name (the scripted outputs answer whatever guids were passed).
fn guid_of(s: &str) -> Guid {
    Guid(s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }))
}

fn destroy(s: &str) -> Destroy {
    Destroy {
        snapshot: s.parse().unwrap(),
        guid: guid_of(s),
        period: zferry_config::Period::Hourly,
        reason: "prune: test".into(),
    }
}

fn plan() -> Plan {
    Plan {
        create: vec![
            create("snapexp/a@c5"),
            create("snapexp/b@c5"),
            create("snapexp/a@c6"),
        ],
        destroy: vec![destroy("snapexp/b@d1")],
        set_properties: vec![SetProperty {
            dataset: "snapexp/b".parse().unwrap(),
            property: "label:running".into(),
            value: "zferry-lab".into(),
            reason: "guest runs here".into(),
        }],
        ..Plan::default()
    }
}

#[test]
fn rounds_hold_one_snapshot_per_dataset() {
    let work = split_by_pool(&plan());
    let w = &work[&"snapexp".parse::<PoolName>().unwrap()];
    let rounds: Vec<Vec<&str>> = w
        .rounds
        .iter()
        .map(|r| r.iter().map(SnapshotName::as_str).collect())
        .collect();
    assert_eq!(
        rounds,
        [vec!["snapexp/a@c5", "snapexp/b@c5"], vec!["snapexp/a@c6"]]
    );
    assert_eq!(w.props.len(), 1);
    assert_eq!(w.destroys.len(), 1);
}

#[test]
fn two_rounds_take_two_programs_and_the_last_one_destroys() {
    let ok = fixture(include_str!("../../tests/fixtures/program_create_ok.txt"));
    let last = fixture(include_str!("../../tests/fixtures/program_run_ok.txt"));
    let exec = Scripted::new(&[(0, &ok, ""), (0, &last, "")]);
    let mut plan = plan();
    plan.destroy.push(destroy("snapexp/b@gone"));
    let out = execute(&exec, &plan, &ExecOptions::default());
    assert_eq!(out.len(), 1);
    assert!(out[0].error.is_none(), "{:?}", out[0].error);
    let r = &out[0].report;
    assert_eq!(r.method, Method::ChannelProgram);
    assert_eq!(r.processes, 2);
    assert_eq!(r.create_rounds, 2);
    assert_eq!(r.created.len(), 3);
    assert_eq!(
        r.destroyed,
        ["snapexp/b@d1".parse::<SnapshotName>().unwrap()]
    );
    assert_eq!(r.missing, ["snapexp/b@gone"]);
    assert_eq!(r.properties_set, 1);
    let seen = exec.seen.lock().unwrap();
    assert_eq!(
        seen[0].0[..11],
        [
            "zfs", "program", "-j", "-t", "10000000", "-m", "10485760", "snapexp", "-", "--",
            "apply"
        ]
    );
    assert_eq!(
        seen[0].0[11..],
        [
            "2",
            "snapexp/a@c5",
            "snapexp/b@c5",
            "1",
            "snapexp/b",
            "label:running",
            "zferry-lab",
            "1",
            "snapexp/a@c6",
            "0"
        ]
    );
    let guid = |s: &str| guid_of(s).0.cast_signed().to_string();
    assert_eq!(
        seen[1].0[10..],
        [
            "apply".to_owned(),
            "1".into(),
            "snapexp/a@c6".into(),
            "0".into(),
            "0".into(),
            "2".into(),
            "snapexp/b@d1".into(),
            guid("snapexp/b@d1"),
            "snapexp/b@gone".into(),
            guid("snapexp/b@gone")
        ]
    );
    for (_, stdin) in seen.iter() {
        assert_eq!(stdin.as_deref(), Some(lua::RUN_PROGRAM.as_bytes()));
    }
}

#[test]
fn one_round_creates_and_destroys_in_one_program() {
    let last = fixture(include_str!("../../tests/fixtures/program_run_ok.txt"));
    let exec = Scripted::new(&[(0, &last, "")]);
    let plan = Plan {
        create: vec![create("snapexp/a@c6")],
        destroy: vec![destroy("snapexp/b@d1"), destroy("snapexp/b@gone")],
        ..Plan::default()
    };
    let out = execute(&exec, &plan, &ExecOptions::default());
    assert!(out[0].error.is_none(), "{:?}", out[0].error);
    let r = &out[0].report;
    assert_eq!((r.processes, r.create_rounds), (1, 1));
    assert_eq!(r.created.len(), 1);
    assert_eq!(r.destroyed.len(), 1);
}

#[test]
fn refused_creates_name_the_snapshot_and_skip_destroys() {
    let refused = fixture(include_str!(
        "../../tests/fixtures/program_create_refused.txt"
    ));
    let exec = Scripted::new(&[(0, &refused, "")]);
    let out = execute(&exec, &plan(), &ExecOptions::default());
    let err = out[0].error.as_ref().unwrap();
    assert!(matches!(err, ExecuteError::Refused { .. }));
    assert_eq!(
        err.to_string(),
        "pool snapexp: snapshot creation refused, nothing changed: snapshot snapexp/b@c5: \
         snapshot already exists (errno 17)"
    );
    assert!(out[0].report.created.is_empty());
    assert_eq!(out[0].report.processes, 1);
    assert_eq!(exec.argvs().len(), 1);
    assert_eq!(
        out[0].report.notes,
        ["1 destroys skipped because the creates failed"]
    );
}

#[test]
fn a_snapshot_with_a_clone_refuses_the_destroy_batch() {
    let refused = fixture(include_str!(
        "../../tests/fixtures/program_destroy_refused.txt"
    ));
    let plan = Plan {
        destroy: vec![destroy("snapexp/b@d2"), destroy("snapexp/b@d4")],
        ..Plan::default()
    };
    let exec = Scripted::new(&[(0, &refused, "")]);
    let out = execute(&exec, &plan, &ExecOptions::default());
    let err = out[0].error.as_ref().unwrap();
    assert!(matches!(
        err,
        ExecuteError::Refused {
            stage: "destroy",
            ..
        }
    ));
    assert!(
        err.to_string()
            .contains("destroy snapexp/b@d4: snapshot has dependent clones"),
        "{err}"
    );
    assert!(out[0].report.destroyed.is_empty());
    assert_eq!(out[0].report.processes, 1);
    assert!(
        out[0].report.notes.is_empty(),
        "not skipped, refused: {:?}",
        out[0].report.notes
    );
}

#[test]
fn a_held_snapshot_is_kept_and_the_rest_of_the_batch_destroyed() {
    let held = fixture(include_str!(
        "../../tests/fixtures/program_destroy_held.txt"
    ));
    let plan = Plan {
        destroy: vec![destroy("snapexp/b@d2"), destroy("snapexp/b@h1")],
        ..Plan::default()
    };
    let exec = Scripted::new(&[(0, &held, "")]);
    let out = execute(&exec, &plan, &ExecOptions::default());
    assert!(out[0].error.is_none(), "{:?}", out[0].error);
    let destroyed: Vec<&str> = out[0]
        .report
        .destroyed
        .iter()
        .map(SnapshotName::as_str)
        .collect();
    assert_eq!(destroyed, ["snapexp/b@d2"]);
    assert_eq!(
        out[0].report.held,
        [lua::Held {
            name: "snapexp/b@h1".into(),
            holds: 1
        }]
    );
    assert!(out[0].report.summary().contains("1 kept (held)"));
}

#[test]
fn a_snapshot_recreated_under_the_planned_name_is_kept_and_the_rest_destroyed() {
    let out = fixture(include_str!(
        "../../tests/fixtures/program_destroy_replaced.txt"
    ));
    let plan = Plan {
        destroy: vec![destroy("snapexp/b@d2"), destroy("snapexp/b@d5")],
        ..Plan::default()
    };
    let exec = Scripted::new(&[(0, &out, "")]);
    let got = execute(&exec, &plan, &ExecOptions::default());
    assert!(got[0].error.is_none(), "{:?}", got[0].error);
    let r = &got[0].report;
    let destroyed: Vec<&str> = r.destroyed.iter().map(SnapshotName::as_str).collect();
    assert_eq!(destroyed, ["snapexp/b@d5"]);
    // The guid it has now, printed as -5288885351640410534.
    assert_eq!(
        r.replaced,
        [lua::Replaced {
            name: "snapexp/b@d2".into(),
            guid: Guid(13_157_858_722_069_141_082)
        }]
    );
    assert!(r.summary().contains("1 kept (re-created since listed)"));
    // Each destroy went to the program with the guid the plan saw, after a `--`.
    let argv = &exec.argvs()[0];
    let at = argv.iter().position(|a| a == "--").unwrap();
    let d2 = guid_of("snapexp/b@d2").0.cast_signed().to_string();
    assert_eq!(
        argv[at + 5..at + 8],
        ["2".to_owned(), "snapexp/b@d2".to_owned(), d2]
    );
}

#[test]
fn created_snapshots_report_their_guid_txg_and_creation_even_above_i64_max() {
    let ok = fixture(include_str!("../../tests/fixtures/program_create_ok.txt"));
    let r = lua::parse_result(&ok).unwrap();
    let got: Vec<(&str, u64, u64, i64)> = r
        .created
        .iter()
        .map(|c| (c.name.as_str(), c.guid.0, c.createtxg.0, c.creation))
        .collect();
    // Both guids were printed negative (Lua integers are signed): -5772943756525248927 and
    // -1143945721308300245.
    assert_eq!(
        got,
        [
            (
                "snapexp/a@c5",
                12_673_800_317_184_302_689,
                19,
                1_795_334_118
            ),
            (
                "snapexp/b@c5",
                17_302_798_352_401_251_371,
                19,
                1_795_334_118
            )
        ]
    );
    // Both datasets' snapshot lists changed, read before and after in the transaction.
    assert_eq!(
        changes(&r),
        [
            ("snapexp/a", Some(1_795_334_115), Some(1_795_334_118)),
            ("snapexp/b", Some(1_795_334_115), Some(1_795_334_118))
        ]
    );
}

/// (dataset, before, after) of each `snapshots_changed` report.
fn changes(r: &lua::ProgramResult) -> Vec<(&str, Option<u64>, Option<u64>)> {
    r.changed
        .iter()
        .map(|c| (c.dataset.as_str(), c.before, c.after))
        .collect()
}

#[test]
fn a_program_that_only_destroys_reports_the_changed_lists_too() {
    let ok = fixture(include_str!("../../tests/fixtures/program_destroy_ok.txt"));
    let r = lua::parse_result(&ok).unwrap();
    assert!(r.created.is_empty());
    assert_eq!(
        changes(&r),
        [
            ("snapexp/a", Some(1_795_334_119), Some(1_795_334_123)),
            ("snapexp/b", Some(1_795_334_122), Some(1_795_334_123))
        ]
    );
    // A dataset that never had a snapshot reads 0 in a program: no value.
    let never = r#"{"return":{"ok":true,"phase":"apply","failures":{},"changed":{"1":{"dataset":"p/a","before":0,"after":7}}}}"#;
    let r = lua::parse_result(never).unwrap();
    assert_eq!(r.changed[0].before, None);
    assert_eq!(r.changed[0].after, Some(7));
}

#[test]
fn missing_snapshots_are_not_counted_as_destroyed() {
    let ok = fixture(include_str!("../../tests/fixtures/program_destroy_ok.txt"));
    let plan = Plan {
        destroy: vec![
            destroy("snapexp/a@x"),
            destroy("snapexp/b@d3"),
            destroy("snapexp/b@gone"),
        ],
        ..Plan::default()
    };
    let exec = Scripted::new(&[(0, &ok, "")]);
    let out = execute(&exec, &plan, &ExecOptions::default());
    assert!(out[0].error.is_none());
    let r = &out[0].report;
    assert_eq!(r.destroyed.len(), 2);
    assert_eq!(r.missing, ["snapexp/b@gone"]);
}

#[test]
fn lua_errors_are_channel_program_errors_not_fallbacks() {
    let text = include_str!("../../tests/fixtures/program_lua_error.txt");
    let stderr = fixture(text);
    let exec = Scripted::new(&[(1, "", &stderr)]);
    let out = execute(&exec, &plan(), &ExecOptions::default());
    let err = out[0].error.as_ref().unwrap();
    assert!(
        matches!(err, ExecuteError::Zfs { source, .. } if source.kind() == Some(ZfsErrorKind::ChannelProgramError)),
        "{err}"
    );
    assert_eq!(out[0].report.method, Method::ChannelProgram);
}

#[test]
fn non_root_falls_back_to_plain_commands() {
    let guids = guid_lines(&["snapexp/b@d1"]);
    let exec = Scripted::new(&[
        (1, "", "Channel programs must be run as root\n"),
        (0, "", ""),
        (0, "", ""),
        (0, "", ""),
        (0, &guids, ""),
        (0, "", ""),
    ]);
    let out = execute(&exec, &plan(), &ExecOptions::default());
    assert!(out[0].error.is_none(), "{:?}", out[0].error);
    assert_eq!(out[0].report.method, Method::Fallback);
    let argvs = exec.argvs();
    assert_eq!(
        argvs[1],
        ["zfs", "set", "label:running=zferry-lab", "snapexp/b"]
    );
    assert_eq!(
        argvs[2],
        ["zfs", "snapshot", "snapexp/a@c5", "snapexp/b@c5"]
    );
    assert_eq!(argvs[3], ["zfs", "snapshot", "snapexp/a@c6"]);
    assert_eq!(
        argvs[4],
        [
            "zfs",
            "get",
            "-H",
            "-p",
            "-o",
            "name,value",
            "guid",
            "snapexp/b@d1"
        ]
    );
    assert_eq!(argvs[5], ["zfs", "destroy", "snapexp/b@d1"]);
    assert_eq!(out[0].report.processes, 6);
}

#[test]
fn fallback_destroys_use_one_comma_list_per_dataset() {
    let plan = Plan {
        destroy: vec![destroy("p/a@1"), destroy("p/b@1"), destroy("p/a@2")],
        ..Plan::default()
    };
    let guids = guid_lines(&["p/a@1", "p/b@1", "p/a@2"]);
    let exec = Scripted::new(&[
        (0, &guids, ""),
        (0, "", ""),
        (1, "", "cannot destroy snapshot p/b@1: dataset is busy\n"),
    ]);
    let opts = ExecOptions {
        channel_programs: ChannelPrograms::Never,
        ..ExecOptions::default()
    };
    let out = execute(&exec, &plan, &opts);
    let argvs = exec.argvs();
    assert_eq!(
        argvs[0][..7],
        ["zfs", "get", "-H", "-p", "-o", "name,value", "guid"]
    );
    assert_eq!(
        argvs[1..],
        [
            vec!["zfs", "destroy", "p/a@1,2"],
            vec!["zfs", "destroy", "p/b@1"]
        ]
    );
    let err = out[0].error.as_ref().unwrap();
    assert!(
        matches!(err, ExecuteError::Zfs { source, .. } if source.kind() == Some(ZfsErrorKind::Busy))
    );
    assert_eq!(out[0].report.destroyed.len(), 2);
}

/// `zfs get -H -p -o name,value guid` output for `names`, each with the guid the plan saw.
fn guid_lines(names: &[&str]) -> String {
    let mut out = String::new();
    for n in names {
        let _ = writeln!(out, "{n}\t{}", guid_of(n).0);
    }
    out
}

#[test]
fn the_fallback_keeps_a_snapshot_recreated_since_the_plan_and_skips_one_gone() {
    let plan = Plan {
        destroy: vec![destroy("p/a@1"), destroy("p/a@2"), destroy("p/a@3")],
        ..Plan::default()
    };
    // p/a@2 now has another guid (re-created under its name); p/a@3 is gone.
    let listing = format!("{}p/a@2\t12345\n", guid_lines(&["p/a@1"]));
    let exec = Scripted::new(&[
        (1, &listing, "cannot open 'p/a@3': dataset does not exist\n"),
        (0, "", ""),
    ]);
    let opts = ExecOptions {
        channel_programs: ChannelPrograms::Never,
        ..ExecOptions::default()
    };
    let out = execute(&exec, &plan, &opts);
    assert!(out[0].error.is_none(), "{:?}", out[0].error);
    assert_eq!(exec.argvs()[1], ["zfs", "destroy", "p/a@1"]);
    let r = &out[0].report;
    assert_eq!(r.destroyed.len(), 1);
    assert_eq!(r.replaced.len(), 1);
    assert_eq!(r.replaced[0].name, "p/a@2");
    assert_eq!(r.replaced[0].guid, Guid(12345));
    assert_eq!(r.missing, ["p/a@3"]);
}

#[test]
fn the_fallback_destroys_nothing_when_the_guid_read_fails_otherwise() {
    let plan = Plan {
        destroy: vec![destroy("p/a@1")],
        ..Plan::default()
    };
    let exec = Scripted::new(&[(1, "", "cannot open 'p': permission denied\n")]);
    let opts = ExecOptions {
        channel_programs: ChannelPrograms::Never,
        ..ExecOptions::default()
    };
    let out = execute(&exec, &plan, &opts);
    assert!(out[0].error.is_some());
    assert_eq!(exec.argvs().len(), 1, "no destroy after a failed read");
    assert!(out[0].report.destroyed.is_empty());
}

#[test]
fn dry_run_checks_every_round_and_destroy_in_one_read_only_program() {
    let check = fixture(include_str!("../../tests/fixtures/program_check_ok.txt"));
    let exec = Scripted::new(&[(0, &check, "")]);
    let opts = ExecOptions {
        dry_run: true,
        ..ExecOptions::default()
    };
    let mut plan = plan();
    plan.destroy.push(destroy("snapexp/b@gone"));
    let out = execute(&exec, &plan, &opts);
    assert!(out[0].error.is_none(), "{:?}", out[0].error);
    let argvs = exec.argvs();
    assert_eq!(argvs.len(), 1);
    assert_eq!(argvs[0][..4], ["zfs", "program", "-j", "-n"]);
    assert_eq!(argvs[0][10], "--");
    let guid = |s: &str| guid_of(s).0.cast_signed().to_string();
    assert_eq!(
        argvs[0][11..],
        [
            "check".to_owned(),
            "2".into(),
            "snapexp/a@c5".into(),
            "snapexp/b@c5".into(),
            "1".into(),
            "snapexp/b".into(),
            "label:running".into(),
            "zferry-lab".into(),
            "1".into(),
            "snapexp/a@c6".into(),
            "2".into(),
            "snapexp/b@d1".into(),
            guid("snapexp/b@d1"),
            "snapexp/b@gone".into(),
            guid("snapexp/b@gone")
        ]
    );
    let r = &out[0].report;
    assert_eq!(r.created.len(), 3);
    assert_eq!(r.destroyed.len(), 1);
    assert_eq!(r.missing, ["snapexp/b@gone"]);
    assert!(r.dry_run);
}

#[test]
fn plan_lines_carry_reasons() {
    let lines = plan_lines(&plan());
    assert_eq!(
        lines[0],
        "set label:running=zferry-lab on snapexp/b: guest runs here"
    );
    assert_eq!(lines[1], "create snapexp/a@c5: test");
    assert_eq!(lines[4], "destroy snapexp/b@d1: prune: test");
}

/// Records what a run reports.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<String>>);

impl Progress for Recorder {
    fn step(&self, pool: &PoolName, step: &Step) {
        self.0.lock().unwrap().push(format!("{pool}: {step}"));
    }
    fn done(&self, pool: &PoolName, ok: bool, summary: &str) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{pool} done {ok}: {summary}"));
    }
}

#[test]
fn progress_names_each_program_then_the_outcome() {
    let ok = fixture(include_str!("../../tests/fixtures/program_create_ok.txt"));
    let last = fixture(include_str!("../../tests/fixtures/program_run_ok.txt"));
    let exec = Scripted::new(&[(0, &ok, ""), (0, &last, "")]);
    let rec = Recorder::default();
    let out = execute_with(&exec, &plan(), &ExecOptions::default(), &rec);
    assert!(out[0].error.is_none());
    let seen = rec.0.lock().unwrap();
    assert_eq!(
        seen[..2],
        [
            "snapexp: creating 2 snapshots (channel program 1/2)",
            "snapexp: creating 1 snapshots, pruning 1 snapshots (channel program 2/2)"
        ]
    );
    assert!(
        seen[2].starts_with(
            "snapexp done true: 3 snapshots created, 1 destroyed, 2 zfs processes after the listing"
        ),
        "{}",
        seen[2]
    );
}
