//! A simulated year, stepped hour by hour in virtual time: every plan is applied to an
//! in-memory pool (one txg per run) and the invariants are checked after every step.
//! Run in UTC, Europe/Berlin and America/New_York (both DST changes), with sanoid's default
//! preferred times and with a daily time inside the DST-change hour (02:30).

#![allow(
    clippy::unwrap_used,
    reason = "a test should fail loudly on a bad fixture"
)]

mod planner_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use planner_support::{World, config, ds, ts};
use zferry_config::{Config, Period, Policy};
use zferry_snap::model::{DatasetState, Plan, SnapInfo, Switches};
use zferry_snap::naming::{SnapKind, SnapName};
use zferry_snap::planner::{PlanInput, period_seconds, plan};
use zferry_zfs::{Guid, Txg};

const STEP: i64 = 3600;

fn policy_text(daily_time: &str) -> String {
    format!(
        r#"
[templates.t]
frequently = 4
hourly = 24
daily = 30
weekly = 8
monthly = 12
yearly = 2
{daily_time}
[datasets."tank/a"]
use-template = "t"
recursive = "atomic"
[datasets."tank/p"]
use-template = "t"
[datasets."tank/off"]
use-template = "t"
autoprune = false
frequently = 0
hourly = 0
daily = 1
weekly = 0
monthly = 0
yearly = 0
"#
    )
}

/// Snapshots that must survive: an old held daily and an old hourly named by a cursor.
struct Protected {
    held: String,
    cursor: Guid,
    cursor_name: String,
}

fn world(start: Timestamp) -> (World, Protected) {
    let mut w = World::new(&["tank/a", "tank/a/b", "tank/p", "tank/off"]);
    let old = start.checked_sub(1000.hours()).unwrap();
    let held = "autosnap_2000-01-01_00:00:00_daily".to_owned();
    w.add("tank/p", &held, old, 1);
    let cursor_name = "autosnap_2000-01-01_00:00:00_hourly".to_owned();
    let cursor = w.add("tank/p", &cursor_name, old, 0);
    (
        w,
        Protected {
            held,
            cursor,
            cursor_name,
        },
    )
}

fn input(w: &World, c: &Config, tz: &TimeZone, p: &Protected) -> PlanInput {
    let mut i = w.input(c, Switches::default());
    i.tz = tz.clone();
    i.cursors = BTreeMap::from([(p.cursor, vec!["pve2".to_owned()])]);
    i
}

/// Applies a plan to the input's own datasets (one txg per run), recording each new
/// snapshot's kind so the checks need not parse names again.
fn apply(
    input: &mut PlanInput,
    plan: &Plan,
    now: Timestamp,
    w: &mut World,
    kinds: &mut BTreeMap<Guid, SnapKind>,
) {
    w.txg += 1;
    for state in &mut input.datasets {
        for c in plan
            .create
            .iter()
            .filter(|c| c.snapshot.dataset() == state.name)
        {
            w.guid += 1;
            kinds.insert(Guid(w.guid), SnapKind::Period(c.period.unwrap()));
            state.snapshots.push(SnapInfo {
                name: c.snapshot.clone(),
                guid: Guid(w.guid),
                createtxg: Txg(w.txg),
                creation: Some(now.as_second()),
                holds: Some(0),
            });
        }
        state.snapshots.retain(|s| {
            let keep = !plan.destroy.iter().any(|d| d.snapshot == s.name);
            if !keep {
                kinds.remove(&s.guid);
            }
            keep
        });
    }
}

/// Per-step invariants on one dataset after the plan was applied.
fn check_dataset(
    state: &DatasetState,
    policy: &Policy,
    kinds: &BTreeMap<Guid, SnapKind>,
    now: Timestamp,
) {
    let name = &state.name;
    let mut seen = BTreeSet::new();
    for s in &state.snapshots {
        assert!(
            seen.insert(s.name.snapshot_part()),
            "duplicate {} at {now}",
            s.name
        );
    }
    let kinded: Vec<(&SnapInfo, SnapKind)> = state
        .snapshots
        .iter()
        .map(|s| (s, kinds[&s.guid]))
        .collect();
    for period in Period::ALL {
        let count = i64::from(policy.retention.get(period));
        if count == 0 {
            continue;
        }
        let window = count * period_seconds(period, policy);
        let of: Vec<&SnapInfo> = kinded
            .iter()
            .filter(|(_, k)| *k == SnapKind::Period(period))
            .map(|(s, _)| *s)
            .collect();
        let young = of
            .iter()
            .filter(|s| s.creation.unwrap() >= now.as_second() - window)
            .count();
        let protected = of
            .iter()
            .filter(|s| s.holds.unwrap() > 0 || s.name.snapshot_part().starts_with("autosnap_2000"))
            .count();
        let n = of.len();
        if policy.autoprune {
            let bound = usize::try_from(count).unwrap().max(young) + protected;
            assert!(
                n <= bound,
                "{name} {period}: {n} > max({count}, {young} young) + {protected} at {now}"
            );
        }
        let newest = of.iter().filter_map(|s| s.creation).max().unwrap();
        let age = now.as_second() - newest;
        let length = match period {
            Period::Yearly => 366 * 86_400,
            _ => period_seconds(period, policy),
        };
        assert!(
            age < length + STEP,
            "{name} newest {period} is {age} s old at {now}"
        );
    }
}

/// Steps a year from 2026-01-01T00:00Z; returns the names created in `tank/p` per period.
fn simulate(tz: &TimeZone, daily_time: &str) -> BTreeMap<Period, Vec<SnapName>> {
    let c = config(&policy_text(daily_time));
    let start = ts("2026-01-01T00:00:00Z");
    let (mut w, prot) = world(start);
    let mut input = input(&w, &c, tz, &prot);
    let mut kinds: BTreeMap<Guid, SnapKind> = input
        .datasets
        .iter()
        .flat_map(|d| &d.snapshots)
        .map(|s| {
            (
                s.guid,
                s.name.snapshot_part().parse::<SnapName>().unwrap().kind,
            )
        })
        .collect();
    let (tank_p, tank_off) = (ds("tank/p"), ds("tank/off"));
    let mut created: BTreeMap<Period, Vec<SnapName>> = BTreeMap::new();
    let mut off_destroys = 0;
    for step in 0..(366 * 24) {
        let now = Timestamp::from_second(start.as_second() + step * STEP).unwrap();
        let p: Plan = plan(&input, now);
        off_destroys += p
            .destroy
            .iter()
            .filter(|d| d.snapshot.dataset() == tank_off)
            .count();
        for cr in p.create.iter().filter(|cr| cr.snapshot.dataset() == tank_p) {
            let n: SnapName = cr.snapshot.snapshot_part().parse().unwrap();
            created.entry(cr.period.unwrap()).or_default().push(n);
        }
        // Atomic: the root and its child get exactly the same names in each run.
        let names = |d: &str| -> Vec<&str> {
            p.create
                .iter()
                .filter(|cr| cr.snapshot.dataset().as_str() == d)
                .map(|cr| cr.snapshot.snapshot_part())
                .collect()
        };
        assert_eq!(names("tank/a"), names("tank/a/b"), "atomic at {now}");
        apply(&mut input, &p, now, &mut w, &mut kinds);
        for state in &input.datasets {
            check_dataset(state, &input.policies[&state.name], &kinds, now);
        }
    }
    for state in input.datasets.clone() {
        w.datasets.insert(state.name.clone(), state);
    }
    assert_eq!(off_destroys, 0, "autoprune = false destroyed snapshots");
    let names = w.names("tank/p");
    assert!(names.contains(&prot.held), "held snapshot was pruned");
    assert!(
        names.contains(&prot.cursor_name),
        "cursor snapshot was pruned"
    );
    // tank/off (daily = 1, autoprune off) keeps every daily it ever took.
    let dailies = w
        .names("tank/off")
        .iter()
        .filter(|n| n.ends_with("_daily"))
        .count();
    assert!(dailies >= 366, "{dailies}");
    created
}

/// One daily per civil day, consecutive, no duplicates, across the whole year.
fn assert_daily_every_day(created: &BTreeMap<Period, Vec<SnapName>>) {
    // The first run takes a daily at once (none yet); from the first scheduled one on,
    // there is one per civil day.
    let days: Vec<Date> = created[&Period::Daily][1..]
        .iter()
        .map(|n| n.taken_at.date())
        .collect();
    assert!(days.len() >= 364, "{} dailies", days.len());
    for pair in days.windows(2) {
        assert_eq!(
            pair[1],
            pair[0].tomorrow().unwrap(),
            "daily gap or duplicate: {pair:?}"
        );
    }
}

fn assert_no_duplicate_names(created: &BTreeMap<Period, Vec<SnapName>>) {
    for (period, names) in created {
        let set: BTreeSet<String> = names.iter().map(ToString::to_string).collect();
        assert_eq!(set.len(), names.len(), "duplicate {period} names");
    }
}

fn year(tz: &TimeZone, daily_time: &str) {
    let t = Instant::now();
    let created = simulate(tz, daily_time);
    assert_daily_every_day(&created);
    assert_no_duplicate_names(&created);
    let weeks = created[&Period::Weekly].len();
    assert!((52..=54).contains(&weeks), "{weeks} weeklies");
    // First run + 12 month starts, + one more when the year starts before local midnight.
    let months = created[&Period::Monthly].len();
    assert!((13..=14).contains(&months), "{months} monthlies");
    eprintln!(
        "simulated year in {tz:?} ({daily_time:?}): {:?}",
        t.elapsed()
    );
}

#[test]
fn year_utc() {
    year(&TimeZone::UTC, "");
}

#[test]
fn year_berlin() {
    year(&TimeZone::get("Europe/Berlin").unwrap(), "");
}

#[test]
fn year_new_york() {
    year(&TimeZone::get("America/New_York").unwrap(), "");
}

#[test]
fn year_berlin_daily_inside_the_dst_hour() {
    year(
        &TimeZone::get("Europe/Berlin").unwrap(),
        "daily-hour = 2\ndaily-min = 30",
    );
}

#[test]
fn year_new_york_daily_inside_the_dst_hour() {
    year(
        &TimeZone::get("America/New_York").unwrap(),
        "daily-hour = 1\ndaily-min = 30",
    );
}
