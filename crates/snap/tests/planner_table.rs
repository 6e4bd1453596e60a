//! Named table tests of the planner: each due / not-due case per period, each prune
//! decision, protections, switches, recursion modes, `_stopped`, names that are not ours.

#![allow(
    clippy::unwrap_used,
    reason = "a test should fail loudly on a bad fixture"
)]

mod planner_support;

use std::collections::BTreeMap;

use planner_support::{World, config, ts};
use zferry_config::Period;
use zferry_snap::model::{Plan, Protection, SwitchOverride, Switches};
use zferry_snap::planner::plan;
use zferry_zfs::Guid;

const ALL: &str = r#"
[templates.t]
frequently = 4
hourly = 24
daily = 7
weekly = 4
monthly = 3
yearly = 2
[datasets."tank/a"]
use-template = "t"
"#;

fn run(text: &str, world: &World, now: &str) -> Plan {
    plan(&world.input(&config(text), Switches::default()), ts(now))
}

fn created(p: &Plan) -> Vec<String> {
    p.create.iter().map(|c| c.snapshot.to_string()).collect()
}

fn destroyed(p: &Plan) -> Vec<String> {
    p.destroy.iter().map(|c| c.snapshot.to_string()).collect()
}

/// A world where `tank/a` has one fresh snapshot of every period, taken at `at`.
fn fresh(at: &str) -> World {
    let mut w = World::new(&["tank/a"]);
    for p in Period::ALL {
        w.add(
            "tank/a",
            &format!("autosnap_2026-01-01_00:00:00_{p}"),
            ts(at),
            0,
        );
    }
    w
}

#[test]
fn first_run_takes_every_period_with_one_timestamp() {
    let w = World::new(&["tank/a"]);
    let p = run(ALL, &w, "2026-03-04T14:07:30Z");
    let stamp = "tank/a@autosnap_2026-03-04_14:07:30_";
    let want: Vec<String> = Period::ALL.iter().map(|p| format!("{stamp}{p}")).collect();
    assert_eq!(created(&p), want);
    assert_eq!(p.create[1].reason, "hourly due: no hourly snapshot yet");
    assert_eq!(p.create[1].period, Some(Period::Hourly));
    assert!(p.destroy.is_empty() && p.kept.is_empty());
}

#[test]
fn due_and_not_due_per_period() {
    // (name, now, newest snapshot of every period created at, which periods are due)
    let table: [(&str, &str, &str, &[Period]); 8] = [
        (
            "hourly: 61 min old, 14:00 passed",
            "2026-03-04T14:00:00Z",
            "2026-03-04T12:59:00Z",
            &[Period::Frequently, Period::Hourly],
        ),
        (
            "hourly: taken at 14:00, now 14:59",
            "2026-03-04T14:59:00Z",
            "2026-03-04T14:00:00Z",
            &[Period::Frequently],
        ),
        (
            "frequently: 14:15 passed",
            "2026-03-04T14:15:00Z",
            "2026-03-04T14:00:00Z",
            &[Period::Frequently],
        ),
        (
            "nothing: all taken this very second",
            "2026-03-04T14:00:00Z",
            "2026-03-04T14:00:00Z",
            &[],
        ),
        (
            "daily: 23:59 passed",
            "2026-03-04T23:59:00Z",
            "2026-03-04T23:00:00Z",
            &[Period::Frequently, Period::Daily],
        ),
        (
            "weekly: Monday 23:30 passed",
            "2026-03-02T23:30:00Z",
            "2026-03-02T23:15:00Z",
            &[Period::Frequently, Period::Weekly],
        ),
        (
            "monthly: 1st 00:00 passed",
            "2026-04-01T00:00:00Z",
            "2026-03-31T23:59:30Z",
            &[Period::Frequently, Period::Hourly, Period::Monthly],
        ),
        (
            "yearly: Jan 1st 00:00 passed",
            "2027-01-01T00:00:00Z",
            "2026-12-31T23:59:30Z",
            &[
                Period::Frequently,
                Period::Hourly,
                Period::Monthly,
                Period::Yearly,
            ],
        ),
    ];
    for (name, now, at, due) in table {
        let p = run(ALL, &fresh(at), now);
        let got: Vec<Period> = p.create.iter().map(|c| c.period.unwrap()).collect();
        assert_eq!(got, due, "{name}: {:#?}", p.create);
    }
}

#[test]
fn due_reason_tells_age_and_preferred_time() {
    let p = run(ALL, &fresh("2026-03-04T12:59:00Z"), "2026-03-04T14:00:00Z");
    assert_eq!(
        p.create[1].reason,
        "hourly due: newest hourly is 61 min old, preferred time 14:00 passed"
    );
    let p = run(ALL, &fresh("2026-03-01T23:00:00Z"), "2026-03-02T23:30:00Z");
    let weekly = p
        .create
        .iter()
        .find(|c| c.period == Some(Period::Weekly))
        .unwrap();
    assert_eq!(
        weekly.reason,
        "weekly due: newest weekly is 24 h old, preferred time 23:30 passed"
    );
    let p = run(ALL, &fresh("2026-02-20T00:00:00Z"), "2026-03-04T14:00:00Z");
    let monthly = p
        .create
        .iter()
        .find(|c| c.period == Some(Period::Monthly))
        .unwrap();
    assert_eq!(
        monthly.reason,
        "monthly due: newest monthly is 12 d old, preferred time 2026-03-01 00:00 passed"
    );
}

const DAILY7: &str = r#"
[templates.t]
daily = 7
[datasets."tank/a"]
use-template = "t"
"#;

/// `tank/a` with one daily per day at 00:00 from 2026-03-01 for `days` days.
fn dailies(days: i8) -> World {
    let mut w = World::new(&["tank/a"]);
    for d in 1..=days {
        let at = ts(&format!("2026-03-{d:02}T00:00:00Z"));
        w.add(
            "tank/a",
            &format!("autosnap_2026-03-{d:02}_00:00:00_daily"),
            at,
            0,
        );
    }
    w
}

#[test]
fn prune_oldest_beyond_count_and_window() {
    let p = run(DAILY7, &dailies(9), "2026-03-09T12:00:00Z");
    assert_eq!(
        destroyed(&p),
        [
            "tank/a@autosnap_2026-03-01_00:00:00_daily",
            "tank/a@autosnap_2026-03-02_00:00:00_daily"
        ]
    );
    assert_eq!(p.destroy[0].period, Period::Daily);
    assert_eq!(
        p.destroy[0].reason,
        "prune daily autosnap_2026-03-01_00:00:00_daily: 9 > 7 kept and older than 7 d"
    );
    assert_eq!(
        p.destroy[1].reason,
        "prune daily autosnap_2026-03-02_00:00:00_daily: 8 > 7 kept and older than 7 d"
    );
}

#[test]
fn no_prune_within_window_or_count() {
    // 9 dailies but the oldest is only 7 days - 1 s old: sanoid keeps them all.
    let p = run(DAILY7, &dailies(9), "2026-03-07T23:59:59Z");
    assert!(p.destroy.is_empty(), "{:#?}", p.destroy);
    // 7 ancient dailies on a standby (nothing taken): old, but not more than 7.
    let standby = Switches {
        autosnap: Some(false),
        autoprune: None,
    };
    let now = ts("2027-01-01T00:00:00Z");
    let p = plan(&dailies(7).input(&config(DAILY7), standby), now);
    assert!(p.destroy.is_empty(), "{:#?}", p.destroy);
    // On the master the daily taken now makes 8 > 7: the oldest goes in the same run.
    let p = run(DAILY7, &dailies(7), "2027-01-01T00:00:00Z");
    assert_eq!(created(&p), ["tank/a@autosnap_2027-01-01_00:00:00_daily"]);
    assert_eq!(destroyed(&p), ["tank/a@autosnap_2026-03-01_00:00:00_daily"]);
}

#[test]
fn count_zero_prunes_that_period_at_once_like_sanoid() {
    let mut w = dailies(1);
    w.add(
        "tank/a",
        "autosnap_2026-03-01_00:00:00_hourly",
        ts("2026-03-01T00:00:00Z"),
        0,
    );
    let p = run(DAILY7, &w, "2026-03-01T00:00:01Z");
    assert_eq!(
        destroyed(&p),
        ["tank/a@autosnap_2026-03-01_00:00:00_hourly"]
    );
    assert_eq!(
        p.destroy[0].reason.as_str(),
        "prune hourly autosnap_2026-03-01_00:00:00_hourly: 1 > 0 kept and older than 0 s"
    );
}

#[test]
fn held_and_cursor_snapshots_are_kept_and_still_count() {
    let mut w = World::new(&["tank/a"]);
    let mut cursor = Guid(0);
    for d in 1..=10i8 {
        let at = ts(&format!("2026-03-{d:02}T00:00:00Z"));
        let holds = u64::from(d == 1);
        let g = w.add(
            "tank/a",
            &format!("autosnap_2026-03-{d:02}_00:00:00_daily"),
            at,
            holds,
        );
        if d == 2 {
            cursor = g;
        }
    }
    let mut input = w.input(&config(DAILY7), Switches::default());
    input.cursors = BTreeMap::from([(cursor, vec!["pve2:zpool1/data".to_owned()])]);
    // 10 old dailies + the one taken now: 11 > 7, two of the four oldest are protected.
    let p = plan(&input, ts("2026-03-20T00:00:00Z"));
    assert_eq!(created(&p), ["tank/a@autosnap_2026-03-20_00:00:00_daily"]);
    assert_eq!(
        destroyed(&p),
        [
            "tank/a@autosnap_2026-03-03_00:00:00_daily",
            "tank/a@autosnap_2026-03-04_00:00:00_daily",
            "tank/a@autosnap_2026-03-05_00:00:00_daily",
            "tank/a@autosnap_2026-03-06_00:00:00_daily"
        ]
    );
    let kept: Vec<(&str, &Protection, &str)> = p
        .kept
        .iter()
        .map(|k| (k.snapshot.snapshot_part(), &k.protection, k.reason.as_str()))
        .collect();
    assert_eq!(
        kept,
        [
            (
                "autosnap_2026-03-01_00:00:00_daily",
                &Protection::Held { holds: 1 },
                "protected: 1 hold"
            ),
            (
                "autosnap_2026-03-02_00:00:00_daily",
                &Protection::ReplicationBase {
                    target: "pve2:zpool1/data".to_owned()
                },
                "protected: replication base for target pve2:zpool1/data"
            ),
        ]
    );
}

#[test]
fn autoprune_off_never_destroys_and_switches_override_config() {
    let off = format!("{DAILY7}autoprune = false\nautosnap = false\n");
    let w = dailies(10);
    let now = ts("2026-04-01T00:00:00Z");
    let p = plan(&w.input(&config(&off), Switches::default()), now);
    assert!(p.destroy.is_empty() && p.create.is_empty(), "{p:#?}");
    let on = Switches {
        autosnap: Some(true),
        autoprune: Some(true),
    };
    let p = plan(&w.input(&config(&off), on), now);
    // 10 dailies + 1 taken now = 11 > 7: the 4 oldest go (sanoid prunes after taking).
    assert_eq!((p.create.len(), p.destroy.len()), (1, 4));
    let standby = Switches {
        autosnap: Some(false),
        autoprune: None,
    };
    let p = plan(&w.input(&config(DAILY7), standby), now);
    assert_eq!((p.create.len(), p.destroy.len()), (0, 3));
    let frozen = Switches {
        autosnap: None,
        autoprune: Some(false),
    };
    let p = plan(&w.input(&config(DAILY7), frozen), now);
    assert_eq!((p.create.len(), p.destroy.len()), (1, 0));
}

#[test]
fn overrides_switch_a_subtree_with_the_deepest_root_winning_and_say_why() {
    let two = format!("{DAILY7}[datasets.\"tank/b\"]\nuse-template = \"t\"\n");
    let mut w = World::new(&["tank/a", "tank/a/child", "tank/b"]);
    w.add("tank/b", "manual", ts("2026-01-01T00:00:00Z"), 0);
    let cfg = config(&format!(
        "{two}[datasets.\"tank/a/child\"]\nuse-template = \"t\"\n"
    ));
    let standby = |root: &str, why: &str| SwitchOverride {
        root: planner_support::ds(root),
        switches: Switches {
            autosnap: Some(false),
            autoprune: None,
        },
        reason: why.to_owned(),
    };
    let mut input = w.input(&cfg, Switches::default());
    input.overrides = vec![
        standby("tank/a", "service nfs: standby of pve2"),
        SwitchOverride {
            root: planner_support::ds("tank/a/child"),
            switches: Switches::default(),
            reason: "master".to_owned(),
        },
    ];
    let p = plan(&input, ts("2026-03-01T00:00:00Z"));
    // tank/a is a standby; its child's deeper override restores the policy; tank/b untouched.
    assert_eq!(
        created(&p),
        [
            "tank/a/child@autosnap_2026-03-01_00:00:00_daily",
            "tank/b@autosnap_2026-03-01_00:00:00_daily"
        ]
    );
    let notes: Vec<String> = p.notes.iter().map(|n| n.message.clone()).collect();
    assert_eq!(notes, ["no snapshots: service nfs: standby of pve2"]);
    // An explicit --no-autosnap of the run beats an override that turns snapshots on.
    let mut input = w.input(
        &cfg,
        Switches {
            autosnap: Some(false),
            autoprune: None,
        },
    );
    input.overrides = vec![SwitchOverride {
        root: planner_support::ds("tank"),
        switches: Switches {
            autosnap: Some(true),
            autoprune: None,
        },
        reason: "master".to_owned(),
    }];
    let p = plan(&input, ts("2026-03-01T00:00:00Z"));
    assert!(p.create.is_empty() && p.notes.is_empty(), "{p:#?}");
}

#[test]
fn names_that_are_not_ours_are_never_touched() {
    let mut w = World::new(&["tank/a"]);
    let old = ts("2020-01-01T00:00:00Z");
    for name in [
        "manual-before-upgrade",
        "zferry_2020-01-01_00:00:00_daily",
        "autosnap_2020-01-01_00:00_daily",
        "syncoid_pve1_2020-01-01:00:00:00-GMT00:00",
        "autosnap_2020-01-01_00:00:00_daily.bak",
    ] {
        w.add("tank/a", name, old, 0);
    }
    let p = run(DAILY7, &w, "2026-03-01T00:00:00Z");
    assert!(p.destroy.is_empty(), "{:#?}", p.destroy);
    // And they do not satisfy a due period either.
    assert_eq!(created(&p), ["tank/a@autosnap_2026-03-01_00:00:00_daily"]);
}

#[test]
fn stopped_snapshot_kept_while_newest_then_pruned_after_longest_window() {
    let mut w = dailies(3);
    w.add(
        "tank/a",
        "autosnap_2026-03-03_12:00:00_stopped",
        ts("2026-03-03T12:00:00Z"),
        0,
    );
    // Newest snapshot of the dataset (guest stopped, nothing taken): kept however old.
    let stopped = Switches {
        autosnap: Some(false),
        autoprune: None,
    };
    let p = plan(
        &w.input(&config(DAILY7), stopped),
        ts("2027-03-01T00:00:00Z"),
    );
    assert!(p.destroy.is_empty(), "{:#?}", p.destroy);
    // A snapshot taken in this run supersedes it: it goes with the run, being old enough.
    let p = run(DAILY7, &w, "2027-03-01T00:00:00Z");
    assert_eq!(
        destroyed(&p),
        ["tank/a@autosnap_2026-03-03_12:00:00_stopped"]
    );
    // Guest running again: a newer daily exists; the stopped one goes after 7 days.
    w.add(
        "tank/a",
        "autosnap_2026-03-05_00:00:00_daily",
        ts("2026-03-05T00:00:00Z"),
        0,
    );
    assert!(run(DAILY7, &w, "2026-03-10T11:59:59Z").destroy.is_empty());
    let p = run(DAILY7, &w, "2026-03-10T12:00:01Z");
    assert_eq!(
        destroyed(&p),
        ["tank/a@autosnap_2026-03-03_12:00:00_stopped"]
    );
    assert_eq!(p.destroy[0].period, Period::Daily);
    assert!(
        p.destroy[0]
            .reason
            .starts_with("prune stopped autosnap_2026-03-03_12:00:00_stopped:")
    );
    // An older stopped snapshot behind a newer stopped one goes too.
    let mut w = dailies(1);
    w.add(
        "tank/a",
        "autosnap_2026-03-01_06:00:00_stopped",
        ts("2026-03-01T06:00:00Z"),
        0,
    );
    w.add(
        "tank/a",
        "autosnap_2026-03-02_06:00:00_stopped",
        ts("2026-03-02T06:00:00Z"),
        0,
    );
    let p = plan(
        &w.input(&config(DAILY7), stopped),
        ts("2026-03-20T00:00:00Z"),
    );
    assert_eq!(
        destroyed(&p),
        ["tank/a@autosnap_2026-03-01_06:00:00_stopped"]
    );
}

#[test]
fn recursion_modes() {
    let text = |mode: &str, pco: bool| {
        format!(
            "[datasets.\"tank/a\"]\nhourly = 2\nrecursive = \"{mode}\"\nprocess-children-only = {pco}\n"
        )
    };
    let mut w = World::new(&["tank/a", "tank/a/b", "tank/a/b/c", "tank/z"]);
    // The root is fresh; the children have nothing.
    w.add(
        "tank/a",
        "autosnap_2026-03-04_14:00:00_hourly",
        ts("2026-03-04T14:00:00Z"),
        0,
    );
    let now = "2026-03-04T14:30:00Z";
    let stamp = "autosnap_2026-03-04_14:30:00_hourly";
    // no: only the root, which is fresh.
    assert!(run(&text("no", false), &w, now).create.is_empty());
    // yes: each child on its own: both are due, the root is not.
    let p = run(&text("yes", false), &w, now);
    assert_eq!(
        created(&p),
        [format!("tank/a/b@{stamp}"), format!("tank/a/b/c@{stamp}")]
    );
    // atomic: decided on the root, which is fresh: nothing anywhere.
    assert!(run(&text("atomic", false), &w, now).create.is_empty());
    let p = run(&text("atomic", false), &w, "2026-03-04T15:00:00Z");
    let s15 = "autosnap_2026-03-04_15:00:00_hourly";
    assert_eq!(
        created(&p),
        [
            format!("tank/a@{s15}"),
            format!("tank/a/b@{s15}"),
            format!("tank/a/b/c@{s15}")
        ]
    );
    assert!(
        p.create[1]
            .reason
            .ends_with("(decided on atomic root tank/a)"),
        "{}",
        p.create[1].reason
    );
    // process-children-only: the root itself is neither taken nor pruned; atomic decides on
    // the shallowest child.
    let p = run(&text("atomic", true), &w, now);
    assert_eq!(
        created(&p),
        [format!("tank/a/b@{stamp}"), format!("tank/a/b/c@{stamp}")]
    );
    let p = run(&text("yes", true), &w, "2027-01-01T00:00:00Z");
    assert!(p.destroy.is_empty());
    assert!(
        p.create
            .iter()
            .all(|c| c.snapshot.dataset().as_str() != "tank/a")
    );
}

#[test]
fn existing_name_is_not_taken_twice() {
    let mut w = World::new(&["tank/a"]);
    w.add(
        "tank/a",
        "autosnap_2026-03-04_14:00:00_daily",
        ts("2026-03-01T00:00:00Z"),
        0,
    );
    let p = run(DAILY7, &w, "2026-03-04T14:00:00Z");
    assert!(p.create.is_empty());
    assert_eq!(p.notes.len(), 1);
    assert!(
        p.notes[0].message.contains("already exists"),
        "{:?}",
        p.notes
    );
}

#[test]
fn local_timezone_names_use_the_zone() {
    let w = World::new(&["tank/a"]);
    let mut input = w.input(&config(DAILY7), Switches::default());
    input.tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
    let p = plan(&input, ts("2026-07-01T10:00:00Z"));
    assert_eq!(created(&p), ["tank/a@autosnap_2026-07-01_12:00:00_daily"]);
}
