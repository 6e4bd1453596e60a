//! Nagios-style checks (mission M7): snapshot freshness, pool health and pool capacity.
//!
//! Pure functions from observed state (and `now`) to one report: the Nagios line, its exit code
//! and the per-item details for `--json`. The line and the code are byte-for-byte those of
//! `sanoid --monitor-snapshots`, `--monitor-health` and `--monitor-capacity` (2.1.0), so existing
//! Nagios/Icinga checks keep working; where sanoid lists pools in hash order, zferry sorts them.
//!
//! zferry additions, both only visible when they apply:
//! - a dataset whose newest policy snapshot is a final `_stopped` snapshot (a stopped guest,
//!   mission M15) is fresh whatever its age;
//! - a newest snapshot created more than [`FUTURE_SKEW_SECS`] after `now` is a WARNING
//!   (`WARN: <ds> newest <type> snapshot is dated <age> in the future`).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::Serialize;
use zferry_config::{Period, Policy, Retention, SnapshotPrefix, Thresholds};
use zferry_zfs::{Health, PoolInfo, PoolName, PoolStatus, SnapshotName, VdevNode};

use crate::model::DatasetState;
use crate::naming::{SnapKind, SnapName};

/// Clock difference tolerated before a snapshot counts as dated in the future.
pub const FUTURE_SKEW_SECS: i64 = 60;

/// Default pool capacity limits in percent (as sanoid's defaults).
pub const DEFAULT_CAPACITY_WARN: u8 = 80;
pub const DEFAULT_CAPACITY_CRIT: u8 = 95;

/// Nagios plugin status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    /// The plugin exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Seconds as sanoid prints them: `4s`, `3m 4s`, `2h 0m 4s`, `1d 2h 3m 4s`.
pub fn display_time(secs: i64) -> String {
    let days = secs / 86_400;
    let hours = secs % 86_400 / 3600;
    let minutes = secs % 3600 / 60;
    let seconds = secs % 60;
    let mut out = String::new();
    if days != 0 {
        let _ = write!(out, "{days}d ");
    }
    if hours != 0 || days != 0 {
        let _ = write!(out, "{hours}h ");
    }
    if minutes != 0 || hours != 0 || days != 0 {
        let _ = write!(out, "{minutes}m ");
    }
    let _ = write!(out, "{seconds}s");
    out
}

/// Case-insensitive order as Perl's `sort { lc($a) cmp lc($b) }`, ties broken bytewise.
fn lc_cmp(a: &str, b: &str) -> Ordering {
    a.to_lowercase()
        .cmp(&b.to_lowercase())
        .then_with(|| a.cmp(b))
}

// ---------------------------------------------------------------------------------------------
// Snapshot freshness
// ---------------------------------------------------------------------------------------------

/// One dataset to check, with what its effective policy says about monitoring.
#[derive(Debug, Clone)]
pub struct MonitorTarget<'a> {
    pub state: &'a DatasetState,
    pub retention: Retention,
    /// Periods without an entry are not monitored; a zero threshold means unset.
    pub thresholds: BTreeMap<Period, Thresholds>,
    /// Report warnings in the line but keep the status OK (sanoid `monitor_dont_warn`).
    pub dont_warn: bool,
    /// Report criticals in the line but keep the status OK (sanoid `monitor_dont_crit`).
    pub dont_crit: bool,
    /// The entry covers the descendants only: the dataset itself is not checked.
    pub skip: bool,
}

impl<'a> MonitorTarget<'a> {
    /// The target for `state` under its effective `policy`.
    pub fn from_policy(state: &'a DatasetState, policy: &Policy) -> Self {
        Self {
            state,
            retention: policy.retention,
            thresholds: policy.monitor.clone(),
            dont_warn: policy.monitor_dont_warn,
            dont_crit: policy.monitor_dont_crit,
            skip: policy.process_children_only && policy.defined_at == state.name,
        }
    }
}

/// The check of one period of one dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodCheck {
    pub period: Period,
    pub newest: Option<SnapshotName>,
    /// `now - creation` of the newest snapshot of this period.
    pub age_secs: Option<i64>,
    pub warn_secs: Option<u64>,
    pub crit_secs: Option<u64>,
    pub status: Status,
    pub message: Option<String>,
}

/// The checks of one dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetCheck {
    pub dataset: String,
    /// Its newest policy snapshot is a final `_stopped` snapshot: fresh by definition.
    pub stopped: bool,
    pub periods: Vec<PeriodCheck>,
}

/// Result of `monitor snapshots`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotReport {
    pub status: Status,
    pub exit_code: i32,
    /// The Nagios line, without a trailing newline.
    pub line: String,
    pub datasets: Vec<DatasetCheck>,
}

fn secs(t: Option<std::time::Duration>) -> Option<u64> {
    t.map(|d| d.as_secs()).filter(|s| *s > 0)
}

fn check_period(
    t: &MonitorTarget<'_>,
    period: Period,
    newest: Option<(&SnapshotName, i64)>,
    now: i64,
    status: &mut Status,
) -> PeriodCheck {
    let th = t.thresholds.get(&period).copied().unwrap_or_default();
    let (warn, crit) = (secs(th.warn), secs(th.crit));
    let ds = t.state.name.as_str();
    let age = newest.map(|(_, c)| now - c);
    let mut level = Status::Ok;
    let mut message = None;
    let mut raise = |to: Status, msg: String| {
        level = to;
        message = Some(msg);
    };
    let over = |limit: Option<u64>| {
        limit.filter(|l| age.is_some_and(|a| a > i64::try_from(*l).unwrap_or(i64::MAX)))
    };
    let monitored = warn.is_some() || crit.is_some();
    match age {
        _ if !monitored => {}
        None => {
            let to = if crit.is_some() {
                (Status::Critical, "CRIT")
            } else {
                (Status::Warning, "WARN")
            };
            raise(
                to.0,
                format!("{}: {ds} has no {period} snapshots at all!", to.1),
            );
        }
        Some(a) if a < -FUTURE_SKEW_SECS => raise(
            Status::Warning,
            format!(
                "WARN: {ds} newest {period} snapshot is dated {} in the future",
                display_time(-a)
            ),
        ),
        Some(a) => {
            if let Some(c) = over(crit) {
                raise(
                    Status::Critical,
                    format!(
                        "CRIT: {ds} newest {period} snapshot is {} old (should be < {})",
                        display_time(a),
                        display_time(i64::try_from(c).unwrap_or(i64::MAX))
                    ),
                );
            } else if let Some(w) = over(warn) {
                raise(
                    Status::Warning,
                    format!(
                        "WARN: {ds} newest {period} snapshot is {} old (should be < {})",
                        display_time(a),
                        display_time(i64::try_from(w).unwrap_or(i64::MAX))
                    ),
                );
            }
        }
    }
    let counts = match level {
        Status::Critical => !t.dont_crit,
        Status::Warning => !t.dont_warn,
        _ => false,
    };
    if counts {
        *status = (*status).max(level);
    }
    PeriodCheck {
        period,
        newest: newest.map(|(n, _)| n.clone()),
        age_secs: age,
        warn_secs: warn,
        crit_secs: crit,
        status: level,
        message,
    }
}

/// Checks that every monitored period of every target has a fresh newest snapshot.
///
/// `prefix` is the snapshot name prefix (`autosnap` for sanoid's names); `now` is seconds since
/// the Unix epoch. Periods whose count is 0 are not checked (nothing is taken for them).
pub fn monitor_snapshots(
    targets: &[MonitorTarget<'_>],
    prefix: &SnapshotPrefix,
    now: i64,
) -> SnapshotReport {
    let mut status = Status::Ok;
    let mut msgs: Vec<String> = Vec::new();
    let mut paths: Vec<&str> = Vec::new();
    let mut datasets = Vec::new();
    for t in targets.iter().filter(|t| !t.skip) {
        paths.push(t.state.name.as_str());
        let mut newest: BTreeMap<Period, (&SnapshotName, i64)> = BTreeMap::new();
        let mut latest: Option<(SnapKind, i64)> = None;
        for s in &t.state.snapshots {
            // The monitor reads the full listing, which always carries `creation`.
            let (Some(SnapName { kind, .. }), Some(created)) = (
                SnapName::parse_with_prefix(s.name.snapshot_part(), prefix),
                s.creation,
            ) else {
                continue;
            };
            if latest.is_none_or(|(_, c)| created >= c) {
                latest = Some((kind, created));
            }
            if let SnapKind::Period(p) = kind {
                let slot = newest.entry(p).or_insert((&s.name, created));
                if created >= slot.1 {
                    *slot = (&s.name, created);
                }
            }
        }
        let stopped = matches!(latest, Some((SnapKind::Stopped, _)));
        let periods: Vec<PeriodCheck> = Period::ALL
            .into_iter()
            .rev()
            .filter(|p| t.retention.get(*p) != 0)
            .map(|p| {
                if stopped {
                    let mut quiet = Status::Ok;
                    let mut c = check_period(t, p, newest.get(&p).copied(), now, &mut quiet);
                    c.status = Status::Ok;
                    c.message = None;
                    c
                } else {
                    check_period(t, p, newest.get(&p).copied(), now, &mut status)
                }
            })
            .collect();
        msgs.extend(periods.iter().filter_map(|c| c.message.clone()));
        datasets.push(DatasetCheck {
            dataset: t.state.name.to_string(),
            stopped,
            periods,
        });
    }
    msgs.sort_by(|a, b| lc_cmp(a, b));
    paths.sort_by(|a, b| lc_cmp(a, b));
    let line = if msgs.is_empty() {
        format!(
            "OK: all monitored datasets ({}) have fresh snapshots",
            paths.join(", ")
        )
    } else {
        msgs.join(", ")
    };
    SnapshotReport {
        status,
        exit_code: status.exit_code(),
        line,
        datasets,
    }
}

// ---------------------------------------------------------------------------------------------
// Pool health and capacity
// ---------------------------------------------------------------------------------------------

/// A byte count as `zpool list` prints it without `-p` (OpenZFS `zfs_nicebytes`).
pub fn nice_bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "K", "M", "G", "T", "P", "E"];
    let mut index = 0;
    #[allow(clippy::cast_precision_loss, reason = "display rounding, as zfs does")]
    let mut val = n as f64;
    while val >= 1024.0 && index < 6 {
        val /= 1024.0;
        index += 1;
    }
    let unit = 1u128 << (10 * index);
    if index == 0 || u128::from(n) % unit == 0 {
        return format!("{}{}", u128::from(n) / unit, UNITS[index]);
    }
    #[allow(clippy::cast_precision_loss, reason = "display rounding, as zfs does")]
    let exact = n as f64 / unit as f64;
    for precision in [2, 1, 0] {
        let s = format!("{exact:.precision$}{}", UNITS[index]);
        if s.len() <= 5 || precision == 0 {
            return s;
        }
    }
    unreachable!("precision 0 always returns")
}

/// One pool's health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolHealth {
    pub pool: String,
    pub health: Option<String>,
    pub status: Status,
    /// Devices that are not ONLINE, or have I/O errors, as sanoid lists them.
    pub devices: String,
    pub message: String,
}

/// Result of `monitor health` or `monitor capacity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolReport<T> {
    pub status: Status,
    pub exit_code: i32,
    pub line: String,
    pub pools: Vec<T>,
}

/// The device part of sanoid's health message (its `check_zpool` at verbose level 2),
/// walking the pool's `zpool status` config tree; may turn an OK pool into a WARNING.
fn device_summary(status: &PoolStatus, state: &mut Status) -> String {
    fn walk(node: &VdevNode, state: &mut Status, out: &mut String) {
        let legacy_group = node.depth == 2 && matches!(node.name.as_str(), "spare" | "replacing");
        if let (Some(sta), Some(c), false) = (&node.state, node.counters, legacy_group) {
            if *state == Status::Ok && *sta == Health::Unavail {
                *state = Status::Warning;
            }
            let working = *state == Status::Ok
                || sta.is_online()
                || matches!(sta, Health::Other(s) if s == "AVAIL" || s == "INUSE");
            if working {
                let errs: Vec<&str> = [(c.read, "read"), (c.write, "write"), (c.cksum, "cksum")]
                    .into_iter()
                    .filter(|(n, _)| *n != 0)
                    .map(|(_, what)| what)
                    .collect();
                if !errs.is_empty() {
                    let _ = write!(out, "({}:{} errors) ", node.name, errs.join(", "));
                    if *state == Status::Ok {
                        *state = Status::Warning;
                    }
                }
            } else {
                let _ = match node.depth {
                    1 => write!(out, "<{}:{sta}> ", node.name),
                    3 => write!(out, "({}:{sta}) ", node.name),
                    _ => write!(out, "{}:{sta} ", node.name),
                };
            }
        }
        for c in &node.children {
            walk(c, state, out);
        }
    }
    let mut out = String::new();
    for (i, top) in status.config.iter().enumerate() {
        // The pool's own line (the first entry) is not a device; sections and their devices are.
        if i == 0 && top.name == status.name.as_str() {
            for c in &top.children {
                walk(c, state, &mut out);
            }
        } else {
            walk(top, state, &mut out);
        }
    }
    out
}

fn prefixed(status: Status, messages: &[String]) -> String {
    let prefix = match status {
        Status::Ok => "",
        Status::Warning => "*** WARNING *** ",
        Status::Critical => "*** CRITICAL *** ",
        Status::Unknown => "*** UNKNOWN *** ",
    };
    format!("{prefix}{}", messages.join(", "))
}

fn missing_pool(pool: &PoolName) -> String {
    format!("CRITICAL ZPOOL {{{pool}}} does not exist and/or is not responding!")
}

/// Health of each of `pools` from one `zpool list` and one `zpool status` (sanoid
/// `--monitor-health`). Use `zpool status` without `-P` to print device names as sanoid does.
/// A pool absent from `list` makes the whole line the "does not exist" CRITICAL, as in sanoid.
pub fn monitor_health(
    pools: &[PoolName],
    list: &[PoolInfo],
    status: &[PoolStatus],
) -> PoolReport<PoolHealth> {
    let mut sorted: Vec<&PoolName> = pools.iter().collect();
    sorted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    sorted.dedup();
    let mut overall = Status::Ok;
    let mut out = Vec::new();
    for pool in sorted {
        let Some(info) = list.iter().find(|p| p.name == *pool) else {
            let line = missing_pool(pool);
            out.push(PoolHealth {
                pool: pool.to_string(),
                health: None,
                status: Status::Critical,
                devices: String::new(),
                message: line.clone(),
            });
            return PoolReport {
                status: Status::Critical,
                exit_code: Status::Critical.exit_code(),
                line,
                pools: out,
            };
        };
        let mut state = match info.health {
            Health::Online => Status::Ok,
            Health::Degraded => Status::Warning,
            _ => Status::Critical,
        };
        let devices = status
            .iter()
            .find(|s| s.name == *pool)
            .map(|s| device_summary(s, &mut state))
            .unwrap_or_default();
        let message = format!(
            "{state} ZPOOL {pool} : {} {{Size:{} Free:{} Cap:{}%}} {devices}",
            info.health,
            nice_bytes(info.size),
            nice_bytes(info.free),
            info.capacity
        );
        overall = overall.max(state);
        out.push(PoolHealth {
            pool: pool.to_string(),
            health: Some(info.health.to_string()),
            status: state,
            devices,
            message,
        });
    }
    let messages: Vec<String> = out.iter().map(|p| p.message.clone()).collect();
    PoolReport {
        status: overall,
        exit_code: overall.exit_code(),
        line: prefixed(overall, &messages),
        pools: out,
    }
}

/// Capacity limits in percent; 0 disables a limit (as in sanoid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CapacityLimits {
    pub warn: u8,
    pub crit: u8,
}

impl Default for CapacityLimits {
    fn default() -> Self {
        Self {
            warn: DEFAULT_CAPACITY_WARN,
            crit: DEFAULT_CAPACITY_CRIT,
        }
    }
}

/// One pool's capacity check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolCapacity {
    pub pool: String,
    pub capacity: Option<u64>,
    pub limits: CapacityLimits,
    pub status: Status,
    pub message: String,
}

/// Capacity of each of `pools` from one `zpool list` (sanoid `--monitor-capacity`). Pools
/// whose limits are both 0 are not checked. A pool absent from `list` makes the whole line
/// the "does not exist" CRITICAL, as in sanoid.
pub fn monitor_capacity(
    pools: &[(PoolName, CapacityLimits)],
    list: &[PoolInfo],
) -> PoolReport<PoolCapacity> {
    let mut sorted: Vec<&(PoolName, CapacityLimits)> = pools
        .iter()
        .filter(|(_, l)| l.warn != 0 || l.crit != 0)
        .collect();
    sorted.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    sorted.dedup_by(|a, b| a.0 == b.0);
    let mut overall = Status::Ok;
    let mut out = Vec::new();
    for (pool, limits) in sorted {
        let Some(info) = list.iter().find(|p| p.name == *pool) else {
            let line = missing_pool(pool);
            out.push(PoolCapacity {
                pool: pool.to_string(),
                capacity: None,
                limits: *limits,
                status: Status::Critical,
                message: line.clone(),
            });
            return PoolReport {
                status: Status::Critical,
                exit_code: Status::Critical.exit_code(),
                line,
                pools: out,
            };
        };
        let cap = info.capacity;
        let mut state = Status::Ok;
        if limits.warn != 0 && cap >= u64::from(limits.warn) {
            state = Status::Warning;
        }
        if limits.crit != 0 && cap >= u64::from(limits.crit) {
            state = Status::Critical;
        }
        overall = overall.max(state);
        out.push(PoolCapacity {
            pool: pool.to_string(),
            capacity: Some(cap),
            limits: *limits,
            status: state,
            message: format!("{state} ZPOOL {pool} : {cap}%"),
        });
    }
    let messages: Vec<String> = out.iter().map(|p| p.message.clone()).collect();
    PoolReport {
        status: overall,
        exit_code: overall.exit_code(),
        line: prefixed(overall, &messages),
        pools: out,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use zferry_zfs::{Guid, Txg, parse_zpool_list, parse_zpool_status};

    use super::*;
    use crate::model::SnapInfo;

    const NOW: i64 = 1_800_000_000;

    fn state(name: &str, snaps: &[(&str, i64)]) -> DatasetState {
        DatasetState {
            name: name.parse().unwrap(),
            snapshots: snaps
                .iter()
                .zip(1..)
                .map(|((s, age), n)| SnapInfo {
                    name: format!("{name}@{s}").parse().unwrap(),
                    guid: Guid(n),
                    createtxg: Txg(n),
                    creation: Some(NOW - age),
                    holds: Some(0),
                })
                .collect(),
            user_props: BTreeMap::new(),
        }
    }

    fn autosnap() -> SnapshotPrefix {
        "autosnap".parse().unwrap()
    }

    fn th(warn: u64, crit: u64) -> Thresholds {
        Thresholds {
            warn: Some(Duration::from_secs(warn)),
            crit: Some(Duration::from_secs(crit)),
        }
    }

    /// sanoid's defaults: hourly 48 (90m/360m), daily 90 (28h/32h), monthly 6 (32d/40d).
    fn sanoid_default(state: &DatasetState) -> MonitorTarget<'_> {
        MonitorTarget {
            state,
            retention: Retention {
                hourly: 48,
                daily: 90,
                monthly: 6,
                ..Retention::default()
            },
            thresholds: BTreeMap::from([
                (Period::Hourly, th(90 * 60, 360 * 60)),
                (Period::Daily, th(28 * 3600, 32 * 3600)),
                (Period::Monthly, th(32 * 86_400, 40 * 86_400)),
            ]),
            dont_warn: false,
            dont_crit: false,
            skip: false,
        }
    }

    const FRESH: [(&str, i64); 3] = [
        ("autosnap_2027-01-15_08:00:00_monthly", 86_400),
        ("autosnap_2027-01-15_08:00:00_daily", 3600),
        ("autosnap_2027-01-15_08:00:00_hourly", 60),
    ];

    #[test]
    fn display_time_matches_sanoid() {
        assert_eq!(display_time(0), "0s");
        assert_eq!(display_time(59), "59s");
        assert_eq!(display_time(60), "1m 0s");
        assert_eq!(display_time(3600), "1h 0m 0s");
        assert_eq!(display_time(86_400), "1d 0h 0m 0s");
        assert_eq!(display_time(93_784), "1d 2h 3m 4s");
        assert_eq!(display_time(21_600), "6h 0m 0s");
    }

    #[test]
    fn all_fresh_lists_datasets_case_insensitively() {
        let (a, b, c) = (
            state("tank/b", &FRESH),
            state("tank/A", &FRESH),
            state("Zed/x", &FRESH),
        );
        let targets = [sanoid_default(&a), sanoid_default(&b), sanoid_default(&c)];
        let r = monitor_snapshots(&targets, &autosnap(), NOW);
        assert_eq!(
            r.line,
            "OK: all monitored datasets (tank/A, tank/b, Zed/x) have fresh snapshots"
        );
        assert_eq!((r.status, r.exit_code), (Status::Ok, 0));
    }

    #[test]
    fn stale_and_missing_are_reported_crit_first() {
        let a = state(
            "tank/a",
            &[
                ("autosnap_2027-01-15_08:00:00_monthly", 86_400),
                ("autosnap_2027-01-14_08:00:00_daily", 30 * 3600),
                ("autosnap_2027-01-15_01:00:00_hourly", 7 * 3600 + 1),
                ("autosnap_2027-01-15_08:00:00_hourly", 2 * 3600 + 5),
                ("manual", 0),
            ],
        );
        let b = state("tank/b", &[("autosnap_2027-01-15_08:00:00_daily", 60)]);
        let targets = [sanoid_default(&a), sanoid_default(&b)];
        let r = monitor_snapshots(&targets, &autosnap(), NOW);
        assert_eq!(
            r.line,
            "CRIT: tank/b has no hourly snapshots at all!, \
             CRIT: tank/b has no monthly snapshots at all!, \
             WARN: tank/a newest daily snapshot is 1d 6h 0m 0s old (should be < 1d 4h 0m 0s), \
             WARN: tank/a newest hourly snapshot is 2h 0m 5s old (should be < 1h 30m 0s)"
        );
        assert_eq!((r.status, r.exit_code), (Status::Critical, 2));
        let hourly = &r.datasets[0].periods[2];
        assert_eq!(hourly.period, Period::Hourly);
        assert_eq!(hourly.age_secs, Some(2 * 3600 + 5));
        assert_eq!(
            hourly.newest.as_ref().unwrap().as_str(),
            "tank/a@autosnap_2027-01-15_08:00:00_hourly"
        );
    }

    #[test]
    fn crit_age_message_and_dont_flags() {
        let a = state(
            "tank/a",
            &[("autosnap_2027-01-15_08:00:00_hourly", 6 * 3600 + 1)],
        );
        let mut t = sanoid_default(&a);
        t.retention.daily = 0;
        t.retention.monthly = 0;
        let r = monitor_snapshots(std::slice::from_ref(&t), &autosnap(), NOW);
        assert_eq!(
            r.line,
            "CRIT: tank/a newest hourly snapshot is 6h 0m 1s old (should be < 6h 0m 0s)"
        );
        assert_eq!(r.exit_code, 2);
        t.dont_crit = true;
        let r = monitor_snapshots(std::slice::from_ref(&t), &autosnap(), NOW);
        assert_eq!(r.exit_code, 0, "message kept, status OK");
        assert!(r.line.starts_with("CRIT: tank/a"));
    }

    #[test]
    fn warn_only_when_age_is_strictly_greater() {
        let a = state(
            "tank/a",
            &[("autosnap_2027-01-15_08:00:00_hourly", 90 * 60)],
        );
        let mut t = sanoid_default(&a);
        t.retention = Retention {
            hourly: 1,
            ..Retention::default()
        };
        let r = monitor_snapshots(std::slice::from_ref(&t), &autosnap(), NOW);
        assert_eq!(r.exit_code, 0, "{}", r.line);
        let a = state(
            "tank/a",
            &[("autosnap_2027-01-15_08:00:00_hourly", 90 * 60 + 1)],
        );
        t.state = &a;
        let r = monitor_snapshots(std::slice::from_ref(&t), &autosnap(), NOW);
        assert_eq!(r.exit_code, 1);
        t.dont_warn = true;
        assert_eq!(
            monitor_snapshots(std::slice::from_ref(&t), &autosnap(), NOW).exit_code,
            0
        );
    }

    #[test]
    fn stopped_guest_is_fresh_whatever_its_age() {
        let a = state(
            "tank/vm-100-disk-0",
            &[
                ("autosnap_2026-01-15_08:00:00_hourly", 400 * 86_400),
                ("autosnap_2026-01-15_09:00:00_stopped", 399 * 86_400),
            ],
        );
        let r = monitor_snapshots(&[sanoid_default(&a)], &autosnap(), NOW);
        assert_eq!(
            r.line,
            "OK: all monitored datasets (tank/vm-100-disk-0) have fresh snapshots"
        );
        assert!(r.datasets[0].stopped);
        assert_eq!(r.exit_code, 0);
        // A newer periodic snapshot after the stop (guest started again) makes it checked.
        let b = state(
            "tank/vm-100-disk-0",
            &[
                ("autosnap_2026-01-15_09:00:00_stopped", 399 * 86_400),
                ("autosnap_2026-01-16_08:00:00_hourly", 398 * 86_400),
            ],
        );
        let r = monitor_snapshots(&[sanoid_default(&b)], &autosnap(), NOW);
        assert!(!r.datasets[0].stopped);
        assert_eq!(r.exit_code, 2);
    }

    #[test]
    fn future_snapshot_is_a_warning() {
        let a = state(
            "tank/a",
            &[
                ("autosnap_2027-01-15_08:00:00_monthly", 60),
                ("autosnap_2027-01-15_08:00:00_daily", 60),
                ("autosnap_2027-01-15_08:00:00_hourly", -(3600 + 5)),
            ],
        );
        let r = monitor_snapshots(&[sanoid_default(&a)], &autosnap(), NOW);
        assert_eq!(
            r.line,
            "WARN: tank/a newest hourly snapshot is dated 1h 0m 5s in the future"
        );
        assert_eq!(r.exit_code, 1);
        // Within the skew: fine.
        let b = state(
            "tank/a",
            &[
                ("autosnap_2027-01-15_08:00:00_monthly", 60),
                ("autosnap_2027-01-15_08:00:00_daily", 60),
                ("autosnap_2027-01-15_08:00:00_hourly", -FUTURE_SKEW_SECS),
            ],
        );
        assert_eq!(
            monitor_snapshots(&[sanoid_default(&b)], &autosnap(), NOW).exit_code,
            0
        );
    }

    #[test]
    fn other_prefixes_and_foreign_names_are_ignored() {
        let a = state(
            "tank/a",
            &[
                ("autosnap_2027-01-15_08:00:00_monthly", 60),
                ("autosnap_2027-01-15_08:00:00_daily", 60),
                ("autosnap_2027-01-15_08:00:00_hourly", 60),
                ("zf_2027-01-15_08:00:00_hourly", 10 * 86_400),
                ("autosnap_2027-01-15_08:00:00_hourlyx", 0),
                ("syncoid_host_2027-01-15:08:00:00", 0),
            ],
        );
        let r = monitor_snapshots(&[sanoid_default(&a)], &autosnap(), NOW);
        assert_eq!(r.exit_code, 0, "{}", r.line);
        let r = monitor_snapshots(&[sanoid_default(&a)], &"zf".parse().unwrap(), NOW);
        assert_eq!(
            r.line,
            "CRIT: tank/a has no daily snapshots at all!, \
             CRIT: tank/a has no monthly snapshots at all!, \
             CRIT: tank/a newest hourly snapshot is 10d 0h 0m 0s old (should be < 6h 0m 0s)"
        );
    }

    #[test]
    fn children_only_entry_is_not_checked_itself() {
        let a = state("tank/parent", &[]);
        let mut t = sanoid_default(&a);
        t.skip = true;
        let b = state("tank/parent/child", &FRESH);
        let r = monitor_snapshots(&[t, sanoid_default(&b)], &autosnap(), NOW);
        assert_eq!(
            r.line,
            "OK: all monitored datasets (tank/parent/child) have fresh snapshots"
        );
    }

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../zfs/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("# "))
            .flat_map(|l| [l, "\n"])
            .collect()
    }

    #[test]
    fn nice_bytes_matches_zpool_list() {
        assert_eq!(nice_bytes(251_658_240), "240M");
        assert_eq!(nice_bytes(182_025_728), "174M");
        assert_eq!(nice_bytes(3_642_880), "3.47M");
        assert_eq!(nice_bytes(10_239), "10.0K");
        assert_eq!(nice_bytes(1023), "1023B");
        assert_eq!(nice_bytes(0), "0B");
        assert_eq!(nice_bytes(1 << 40), "1T");
    }

    #[test]
    fn health_of_a_degraded_mirror_as_sanoid_prints_it() {
        let list = parse_zpool_list(&fixture("zpool_list.txt")).unwrap();
        let status = parse_zpool_status(&fixture("zpool_status_degraded.txt")).unwrap();
        let pools: Vec<PoolName> = vec!["fxm".parse().unwrap(), "fxa".parse().unwrap()];
        let r = monitor_health(&pools, &list, &status);
        assert_eq!(
            r.line,
            "*** WARNING *** OK ZPOOL fxa : ONLINE {Size:240M Free:237M Cap:1%} , \
             WARNING ZPOOL fxm : DEGRADED {Size:176M Free:174M Cap:1%} \
             <mirror-0:DEGRADED> /var/tmp/fxm1.img:OFFLINE "
        );
        assert_eq!(r.exit_code, 1);
        assert_eq!(
            r.pools[1].devices,
            "<mirror-0:DEGRADED> /var/tmp/fxm1.img:OFFLINE "
        );

        let r = monitor_health(&["nope".parse().unwrap()], &list, &status);
        assert_eq!(
            r.line,
            "CRITICAL ZPOOL {nope} does not exist and/or is not responding!"
        );
        assert_eq!(r.exit_code, 2);
    }

    #[test]
    fn io_errors_on_an_online_pool_warn() {
        let mut list = parse_zpool_list(&fixture("zpool_list.txt")).unwrap();
        let status = parse_zpool_status(&fixture("zpool_status_data_errors.txt")).unwrap();
        let fxc: PoolName = "fxc".parse().unwrap();
        list[0].name = fxc.clone();
        let r = monitor_health(&[fxc], &list, &status);
        assert_eq!(
            r.line,
            "*** WARNING *** WARNING ZPOOL fxc : ONLINE {Size:240M Free:237M Cap:1%} \
             (/var/tmp/fxc.img:cksum errors) "
        );
        assert_eq!(r.exit_code, 1);
    }

    #[test]
    fn healthy_pool_with_sections_lists_no_device() {
        let mut list = parse_zpool_list(&fixture("zpool_list.txt")).unwrap();
        let status = parse_zpool_status(&fixture("zpool_status_sections.txt")).unwrap();
        list[1].health = Health::Online;
        let r = monitor_health(&["fxm".parse().unwrap()], &list, &status);
        assert_eq!(
            r.line,
            "OK ZPOOL fxm : ONLINE {Size:176M Free:174M Cap:1%} "
        );
        assert_eq!(r.exit_code, 0);
    }

    #[test]
    fn capacity_limits_are_inclusive_and_zero_disables() {
        let mut list = parse_zpool_list(&fixture("zpool_list.txt")).unwrap();
        let (fxa, fxm): (PoolName, PoolName) = ("fxa".parse().unwrap(), "fxm".parse().unwrap());
        let r = monitor_capacity(
            &[
                (fxm.clone(), CapacityLimits::default()),
                (fxa.clone(), CapacityLimits::default()),
            ],
            &list,
        );
        assert_eq!(r.line, "OK ZPOOL fxa : 1%, OK ZPOOL fxm : 1%");
        assert_eq!(r.exit_code, 0);
        list[0].capacity = 80;
        list[1].capacity = 95;
        let r = monitor_capacity(
            &[
                (fxa.clone(), CapacityLimits::default()),
                (fxm.clone(), CapacityLimits::default()),
            ],
            &list,
        );
        assert_eq!(
            r.line,
            "*** CRITICAL *** WARNING ZPOOL fxa : 80%, CRITICAL ZPOOL fxm : 95%"
        );
        assert_eq!(r.exit_code, 2);
        let off = CapacityLimits { warn: 0, crit: 0 };
        let r = monitor_capacity(
            &[(fxa, CapacityLimits { warn: 81, crit: 0 }), (fxm, off)],
            &list,
        );
        assert_eq!(r.line, "OK ZPOOL fxa : 80%");
    }
}
