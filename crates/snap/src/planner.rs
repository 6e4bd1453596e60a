//! The pure snapshot planner: observed datasets + policies + `now` in, a [`Plan`] out, every
//! item with its reason. No IO; `now` is injected so runs can be simulated (`--now`).
//!
//! Taking (sanoid's rule): a period with a count above 0 is due when its newest snapshot
//! (by `createtxg`, recognised by name) was created before the period's most recent preferred
//! time ([`schedule::last_preferred`]). All snapshots of one run share one timestamp in their
//! names (`autosnap_<now>_hourly`, `autosnap_<now>_daily`, …).
//!
//! Pruning (sanoid's rule): per period, oldest first, a snapshot goes while it is older than
//! count × period and more than count of that period remain (frequently = frequent-period,
//! hourly 1 h, daily 1 d, weekly 7 d, monthly 31 d, yearly 365.25 d). A count of 0 prunes the
//! period's snapshots at once, as in sanoid. Differences from sanoid:
//! - the snapshot a run takes counts toward its period's count (sanoid 2.1 counts only what
//!   existed before the run, so it can keep count + 1 until its next run);
//! - protected snapshots (user holds, or named by a replication cursor) are never destroyed;
//!   they are listed in `kept` with the reason and still count as remaining;
//! - `_stopped` snapshots (M15): the newest one is kept while it is the dataset's newest
//!   snapshot; any other is pruned once older than the policy's longest window (the maximum
//!   of count × period over the periods; 0 when no period is kept). Its `Destroy::period` is
//!   the period defining that window.
//! - snapshots whose names are not ours (other prefix, other shape) are never touched.
//!
//! Recursion: `no` covers the entry's dataset; `yes` makes every descendant its own case with
//! the inherited policy; `atomic` decides on the entry's dataset (or, with
//! process-children-only, on its shallowest managed descendant) and creates the same names
//! on every member of the subtree; pruning is always per dataset. `process-children-only`
//! skips the entry's dataset itself, for taking and pruning (like sanoid).

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use zferry_config::{Config, Period, Policy, Recursion, SnapshotPrefix};
use zferry_zfs::{DatasetName, Guid};

use crate::model::{
    Create, DatasetState, Destroy, Kept, Note, Plan, Protection, SnapInfo, SwitchOverride,
    Switches, covering_override, switches_for,
};
use crate::naming::{self, SnapKind, SnapName};
use crate::schedule;

/// Everything the planner looks at.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// Observed datasets, each with its snapshots sorted by `createtxg`.
    pub datasets: Vec<DatasetState>,
    /// Effective policy per dataset ([`Config::effective_policy`]); others are not managed.
    pub policies: BTreeMap<DatasetName, Policy>,
    /// Runtime overrides of `autosnap` / `autoprune` (the HA controller's role switch).
    pub switches: Switches,
    /// Per-subtree switches (the HA role of each service's datasets), see [`switches_for`].
    pub overrides: Vec<SwitchOverride>,
    /// Snapshot guid → replication targets whose cursor names it as their base.
    pub cursors: BTreeMap<Guid, Vec<String>>,
    pub prefix: SnapshotPrefix,
    /// Zone of snapshot names and preferred times (`global.timezone`).
    pub tz: TimeZone,
}

impl PlanInput {
    /// Builds the input from the config: one effective policy per observed dataset.
    pub fn from_config(
        config: &Config,
        datasets: Vec<DatasetState>,
        switches: Switches,
        cursors: BTreeMap<Guid, Vec<String>>,
    ) -> Self {
        let policies = datasets
            .iter()
            .filter_map(|d| Some((d.name.clone(), config.effective_policy(&d.name)?)))
            .collect();
        PlanInput {
            datasets,
            policies,
            switches,
            overrides: Vec::new(),
            cursors,
            prefix: config.global.snapshot_prefix.clone(),
            tz: naming::zone(config.global.timezone),
        }
    }
}

impl PlanInput {
    /// The switches in force for `dataset` (run switches and overrides combined).
    pub fn switches_for(&self, dataset: &DatasetName) -> Switches {
        switches_for(self.switches, &self.overrides, dataset)
    }
}

/// Plans one run at `now`.
pub fn plan(input: &PlanInput, now: Timestamp) -> Plan {
    let mut out = Plan::default();
    let parsed: Parsed<'_> = input
        .datasets
        .iter()
        .filter(|d| input.policies.contains_key(&d.name))
        .map(|d| (&d.name, recognised(d, &input.prefix)))
        .collect();
    for ds in &input.datasets {
        let Some(policy) = input.policies.get(&ds.name) else {
            continue;
        };
        if policy.process_children_only && policy.defined_at == ds.name {
            continue;
        }
        let before = out.create.len();
        plan_creates(input, (ds, &parsed), policy, now, &mut out);
        let new: Vec<Option<Period>> = out.create[before..].iter().map(|c| c.period).collect();
        if input
            .switches_for(&ds.name)
            .autoprune
            .unwrap_or(policy.autoprune)
        {
            let ours = &parsed[&ds.name];
            for period in Period::ALL {
                let taking = new.contains(&Some(period));
                prune_period(input, policy, ours, (period, taking), now, &mut out);
            }
            prune_stopped(input, ds, policy, (ours, !new.is_empty()), now, &mut out);
        }
    }
    out
}

/// The dataset's policy snapshots (our prefix, a name we can parse), in `createtxg` order.
/// The state reader learns the creation time of every such snapshot; one without it would be
/// left alone (not counted, never pruned) rather than guessed.
fn recognised<'a>(ds: &'a DatasetState, prefix: &SnapshotPrefix) -> Vec<(&'a SnapInfo, SnapName)> {
    ds.snapshots
        .iter()
        .filter(|s| s.creation.is_some())
        .filter_map(|s| {
            Some((
                s,
                SnapName::parse_with_prefix(s.name.snapshot_part(), prefix)?,
            ))
        })
        .collect()
}

/// Creation time of a recognised snapshot (always known, see [`recognised`]).
fn created(snap: &SnapInfo) -> i64 {
    snap.creation.unwrap_or(i64::MAX)
}

/// Each managed dataset's policy snapshots, parsed once per run.
type Parsed<'a> = BTreeMap<&'a DatasetName, Vec<(&'a SnapInfo, SnapName)>>;

/// Adds one create per due period of `ds` (decided on the atomic leader when atomic).
fn plan_creates(
    input: &PlanInput,
    (ds, parsed): (&DatasetState, &Parsed<'_>),
    policy: &Policy,
    now: Timestamp,
    out: &mut Plan,
) {
    if !input
        .switches_for(&ds.name)
        .autosnap
        .unwrap_or(policy.autosnap)
    {
        if policy.autosnap
            && input.switches.autosnap != Some(false)
            && let Some(o) = covering_override(&input.overrides, &ds.name)
        {
            out.notes.push(Note {
                dataset: Some(ds.name.clone()),
                message: format!("no snapshots: {}", o.reason),
            });
        }
        return;
    }
    let leader = match policy.recursive {
        Recursion::Atomic => atomic_leader(input, &policy.defined_at),
        Recursion::No | Recursion::Yes => Some(ds),
    };
    let Some(leader) = leader else {
        out.notes.push(Note {
            dataset: Some(ds.name.clone()),
            message: format!("atomic root {} not found; nothing taken", policy.defined_at),
        });
        return;
    };
    for (period, why) in due_periods(input, policy, &parsed[&leader.name], now) {
        let name = SnapName::at(&input.prefix, now, &input.tz, SnapKind::Period(period));
        let text = name.to_string();
        if ds.snapshots.iter().any(|s| s.name.snapshot_part() == text) {
            out.notes.push(Note {
                dataset: Some(ds.name.clone()),
                message: format!(
                    "{period} due but {}@{text} already exists; not taken",
                    ds.name
                ),
            });
            continue;
        }
        let reason = if leader.name == ds.name {
            why
        } else {
            format!("{why} (decided on atomic root {})", leader.name)
        };
        out.create.push(Create {
            snapshot: ds
                .name
                .snapshot(&text)
                .expect("policy snapshot names are valid ZFS names"),
            period: Some(period),
            reason,
        });
    }
}

/// The dataset an atomic subtree decides on: its root, or with process-children-only the
/// shallowest managed member (ties by name).
fn atomic_leader<'a>(input: &'a PlanInput, root: &DatasetName) -> Option<&'a DatasetState> {
    let member = |d: &&DatasetState| {
        input
            .policies
            .get(&d.name)
            .is_some_and(|p| &p.defined_at == root && !(p.process_children_only && &d.name == root))
    };
    input
        .datasets
        .iter()
        .filter(member)
        .min_by(|a, b| (a.name.depth(), &a.name).cmp(&(b.name.depth(), &b.name)))
}

/// Periods whose newest snapshot predates their last preferred time, with the reason.
fn due_periods(
    input: &PlanInput,
    policy: &Policy,
    ours: &[(&SnapInfo, SnapName)],
    now: Timestamp,
) -> Vec<(Period, String)> {
    let mut due = Vec::new();
    for period in Period::ALL {
        if policy.retention.get(period) == 0 {
            continue;
        }
        let preferred = schedule::last_preferred(
            period,
            &policy.schedule,
            policy.frequent_period,
            now,
            &input.tz,
        );
        let newest = ours
            .iter()
            .rev()
            .find(|(_, n)| n.kind == SnapKind::Period(period))
            .map(|(s, _)| created(s));
        let when = preferred_text(preferred, now, &input.tz);
        match newest {
            None => due.push((period, format!("{period} due: no {period} snapshot yet"))),
            Some(created) if created < preferred.as_second() => due.push((
                period,
                format!(
                    "{period} due: newest {period} is {} old, preferred time {when} passed",
                    human(now.as_second() - created)
                ),
            )),
            Some(_) => {}
        }
    }
    due
}

/// `HH:MM` when the preferred time is today (in `tz`), else `YYYY-MM-DD HH:MM`.
fn preferred_text(preferred: Timestamp, now: Timestamp, tz: &TimeZone) -> String {
    let p = tz.to_datetime(preferred);
    let today = tz.to_datetime(now).date() == p.date();
    let time = format!("{:02}:{:02}", p.hour(), p.minute());
    if today {
        time
    } else {
        format!("{} {time}", p.date())
    }
}

/// A duration in seconds for humans: "45 s", "61 min", "36 h", "8 d".
pub fn human(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

/// sanoid's period lengths for pruning, in seconds.
pub fn period_seconds(period: Period, policy: &Policy) -> i64 {
    match period {
        Period::Frequently => i64::try_from(policy.frequent_period.as_secs()).unwrap_or(i64::MAX),
        Period::Hourly => 3600,
        Period::Daily => 86_400,
        Period::Weekly => 7 * 86_400,
        Period::Monthly => 31 * 86_400,
        Period::Yearly => 31_557_600, // 365.25 days
    }
}

/// Why `snap` must survive, if it must.
fn protection(input: &PlanInput, snap: &SnapInfo) -> Option<(Protection, String)> {
    if let Some(target) = input.cursors.get(&snap.guid).and_then(|t| t.first()) {
        let why = format!("protected: replication base for target {target}");
        return Some((
            Protection::ReplicationBase {
                target: target.clone(),
            },
            why,
        ));
    }
    let holds = snap.holds.filter(|&h| h > 0)?;
    Some(held(holds))
}

/// The protection of a snapshot with `holds` user holds, and its reason.
pub fn held(holds: u64) -> (Protection, String) {
    let s = if holds == 1 { "" } else { "s" };
    (
        Protection::Held { holds },
        format!("protected: {holds} hold{s}"),
    )
}

/// sanoid's prune walk for one period, skipping protected snapshots. A snapshot of this
/// period taken in this run (`taking`) counts as remaining, so a period never holds more
/// than its count after a run. sanoid 2.1 (Debian's) differs here: `--cron` prunes from the
/// list it read before taking, so right after its run a period can hold count + 1 (read in
/// /usr/sbin/sanoid: `prune_snapshots` uses `%snapsbytype` computed before
/// `take_snapshots`).
fn prune_period(
    input: &PlanInput,
    policy: &Policy,
    ours: &[(&SnapInfo, SnapName)],
    (period, taking): (Period, bool),
    now: Timestamp,
    out: &mut Plan,
) {
    let count = i64::from(policy.retention.get(period));
    let window = count.saturating_mul(period_seconds(period, policy));
    let max_created = now.as_second().saturating_sub(window);
    let of_period: Vec<&SnapInfo> = ours
        .iter()
        .filter(|(_, n)| n.kind == SnapKind::Period(period))
        .map(|(s, _)| *s)
        .collect();
    let mut remaining = i64::try_from(of_period.len()).unwrap_or(i64::MAX) + i64::from(taking);
    for snap in of_period {
        if created(snap) >= max_created || remaining <= count {
            continue;
        }
        let reason = format!(
            "prune {period} {}: {remaining} > {count} kept and older than {}",
            snap.name.snapshot_part(),
            human(window)
        );
        if destroy_unless_protected(input, snap, period, reason, out) {
            remaining -= 1;
        }
    }
}

/// Plans `snap`'s destruction for `reason`, unless it is protected (held, or a replication
/// base): then it is listed as kept with the protection's reason. Returns whether it goes.
fn destroy_unless_protected(
    input: &PlanInput,
    snap: &SnapInfo,
    period: Period,
    reason: String,
    out: &mut Plan,
) -> bool {
    if let Some((protection, why)) = protection(input, snap) {
        out.kept.push(Kept {
            snapshot: snap.name.clone(),
            protection,
            reason: why,
        });
        return false;
    }
    out.destroy.push(Destroy {
        snapshot: snap.name.clone(),
        guid: snap.guid,
        period,
        reason,
    });
    true
}

/// `_stopped` snapshots: keep the newest while it is the dataset's newest snapshot (no
/// snapshot taken after it, in this run either); prune the others once older than the
/// policy's longest window.
fn prune_stopped(
    input: &PlanInput,
    ds: &DatasetState,
    policy: &Policy,
    (ours, taking): (&[(&SnapInfo, SnapName)], bool),
    now: Timestamp,
    out: &mut Plan,
) {
    let (window, period) = Period::ALL
        .into_iter()
        .map(|p| {
            (
                i64::from(policy.retention.get(p)).saturating_mul(period_seconds(p, policy)),
                p,
            )
        })
        .max()
        .expect("six periods");
    let newest_overall = ds.snapshots.last().map(|s| s.guid);
    for (snap, _) in ours.iter().filter(|(_, n)| n.kind == SnapKind::Stopped) {
        let current = !taking && Some(snap.guid) == newest_overall;
        if current || created(snap) >= now.as_second().saturating_sub(window) {
            continue;
        }
        let reason = format!(
            "prune stopped {}: newer snapshots exist and it is older than the longest window ({})",
            snap.name.snapshot_part(),
            human(window)
        );
        destroy_unless_protected(input, snap, period, reason, out);
    }
}
