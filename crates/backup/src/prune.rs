//! Retention of backup snapshots (`@YYYY_MM_DD-HH_MM_SS`), with the snapshot manager's policy
//! model: the per-period counts of [`zferry_config::Retention`] (a `[templates.<name>]` or
//! `--keep-*` options).
//!
//! Why not the snapshot planner's prune rule: it prunes sanoid-style snapshots that carry
//! their period in the name (`autosnap_<time>_daily`) by age against count × period. A backup
//! snapshot has no period — one backup is both "the daily of the 21st" and "the weekly of week
//! 47" — so backups are thinned by calendar buckets instead (the rule of Proxmox Backup Server
//! and restic): for each period with a count N, walking from the newest backup to the oldest,
//! the first backup of each new bucket (hour, day, ISO week, month, year) is kept until N
//! buckets are kept. `frequently` means "keep the N newest backups". A backup kept by any
//! period stays. The newest backup is always kept: the next ingest writes only the blocks that
//! differ from it. Backup times are the PVE node's civil time, used as written.
//!
//! [`plan`] is pure; [`prune`] lists and destroys through the executor.

use std::collections::BTreeSet;

use serde::Serialize;
use zferry_config::{Period, Retention};
use zferry_exec::Executor;
use zferry_zfs::{DatasetName, ObjectName, SnapshotName};

use crate::error::Error;
use crate::name::BackupTime;
use crate::zfs;

/// Keep or destroy one backup, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneItem {
    pub time: BackupTime,
    pub keep: bool,
    pub reasons: Vec<String>,
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of a day count (inverse of [`days_from_civil`], year only).
fn year_of_days(z: i64) -> i64 {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

/// ISO 8601 (week-year, week) of a civil date.
pub fn iso_week(t: BackupTime) -> (i64, i64) {
    let days = days_from_civil(i64::from(t.year), i64::from(t.month), i64::from(t.day));
    let weekday = (days + 3).rem_euclid(7); // Monday = 0; 1970-01-01 was a Thursday
    let thursday = days - weekday + 3;
    let year = year_of_days(thursday);
    (year, (thursday - days_from_civil(year, 1, 1)) / 7 + 1)
}

/// The calendar bucket of `t` for `period`, as a comparable string.
fn bucket(period: Period, t: BackupTime) -> String {
    match period {
        Period::Frequently => t.to_string(),
        Period::Hourly => format!("{:04}-{:02}-{:02} {:02}h", t.year, t.month, t.day, t.hour),
        Period::Daily => format!("{:04}-{:02}-{:02}", t.year, t.month, t.day),
        Period::Weekly => {
            let (y, w) = iso_week(t);
            format!("{y:04}-W{w:02}")
        }
        Period::Monthly => format!("{:04}-{:02}", t.year, t.month),
        Period::Yearly => format!("{:04}", t.year),
    }
}

fn period_name(p: Period) -> &'static str {
    match p {
        Period::Frequently => "last",
        Period::Hourly => "hourly",
        Period::Daily => "daily",
        Period::Weekly => "weekly",
        Period::Monthly => "monthly",
        Period::Yearly => "yearly",
    }
}

/// Refusal: with every count 0 the rule would destroy everything but the newest backup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no retention given (every count is 0): refusing to prune; set at least one --keep-* or a template with counts"
)]
pub struct NoRetention;

/// Decides every backup of one guest (`times` in any order); the result is newest first.
pub fn plan(times: &[BackupTime], r: &Retention) -> Result<Vec<PruneItem>, NoRetention> {
    if Period::ALL.iter().all(|&p| r.get(p) == 0) {
        return Err(NoRetention);
    }
    let mut sorted: Vec<BackupTime> = times.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    let mut items: Vec<PruneItem> = sorted
        .iter()
        .map(|&time| PruneItem {
            time,
            keep: false,
            reasons: Vec::new(),
        })
        .collect();
    if let Some(first) = items.first_mut() {
        first.keep = true;
        first
            .reasons
            .push("newest backup (base of the next ingest)".into());
    }
    for p in Period::ALL {
        let n = r.get(p);
        let mut used = BTreeSet::new();
        for item in &mut items {
            if used.len() >= n as usize {
                break;
            }
            let b = bucket(p, item.time);
            if used.insert(b.clone()) {
                item.keep = true;
                item.reasons
                    .push(format!("{} #{} of {n} ({b})", period_name(p), used.len()));
            }
        }
    }
    for item in &mut items {
        if !item.keep {
            item.reasons.push("in no kept bucket of any period".into());
        }
    }
    Ok(items)
}

/// One backup's decision and, when it was to be destroyed, the outcome.
#[derive(Debug, Clone, Serialize)]
pub struct PruneResult {
    pub snapshot: String,
    #[serde(flatten)]
    pub item: PruneItem,
    /// Set when `zfs destroy` was run and failed (a hold, a clone from `backup files`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Applies [`plan`] to every guest under `root` (or only `vmid`); destroys nothing with
/// `dry_run`. Snapshots whose names are not backup times are never touched.
pub fn prune(
    exec: &dyn Executor,
    root: &DatasetName,
    vmid: Option<u32>,
    r: &Retention,
    dry_run: bool,
) -> Result<Vec<PruneResult>, Error> {
    let base = match vmid {
        Some(v) => root
            .join_child(&v.to_string())
            .map_err(|e| Error::BadOption(e.to_string()))?,
        None => root.clone(),
    };
    let mut per_guest: std::collections::BTreeMap<DatasetName, Vec<BackupTime>> =
        std::collections::BTreeMap::new();
    for o in zfs::list_tree(exec, &base)? {
        let ObjectName::Snapshot(s) = &o.name else {
            continue;
        };
        let ds = s.dataset();
        if ds.parent().as_ref() != Some(root) {
            continue;
        }
        if let Ok(t) = s.snapshot_part().parse::<BackupTime>() {
            per_guest.entry(ds).or_default().push(t);
        }
    }
    let mut out = Vec::new();
    for (ds, times) in per_guest {
        let items = plan(&times, r).map_err(|e| Error::BadOption(e.to_string()))?;
        // Oldest first, so an interrupted prune leaves the newest backups.
        for item in items.into_iter().rev() {
            let snap: SnapshotName = ds
                .snapshot(&item.time.to_string())
                .map_err(|e| Error::BadOption(e.to_string()))?;
            let error = if item.keep || dry_run {
                None
            } else {
                zfs::destroy(exec, &snap).err().map(|e| e.to_string())
            };
            if !item.keep && !dry_run && error.is_none() {
                tracing::info!(%snap, reasons = ?item.reasons, "destroyed backup");
            }
            out.push(PruneResult {
                snapshot: snap.to_string(),
                item,
                error,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> BackupTime {
        s.parse().expect("valid time")
    }

    fn keep(daily: u32, weekly: u32, monthly: u32) -> Retention {
        Retention {
            frequently: 0,
            hourly: 0,
            daily,
            weekly,
            monthly,
            yearly: 0,
        }
    }

    #[test]
    fn iso_weeks_at_year_boundaries() {
        assert_eq!(iso_week(t("2026_11_21-00_00_00")), (2026, 47));
        assert_eq!(iso_week(t("2021_01_03-00_00_00")), (2020, 53)); // a Sunday
        assert_eq!(iso_week(t("2024_12_30-00_00_00")), (2025, 1)); // a Monday
        assert_eq!(iso_week(t("2026_01_01-00_00_00")), (2026, 1)); // a Thursday
        assert_eq!(iso_week(t("2027_01_01-00_00_00")), (2026, 53)); // a Friday
    }

    #[test]
    fn daily_weekly_monthly_thinning_of_sixty_nightly_backups() {
        // One backup every night at 01:00 from 2026-09-23 to 2026-11-21, plus a second one
        // on the last day.
        let mut times: Vec<BackupTime> = (0..60)
            .map(|i| {
                let days = days_from_civil(2026, 9, 23) + i;
                let (y, m, d) = civil(days);
                t(&format!("{y:04}_{m:02}_{d:02}-01_00_00"))
            })
            .collect();
        times.push(t("2026_11_21-13_00_00"));
        let items = plan(&times, &keep(7, 4, 3)).expect("plan");
        let kept: Vec<String> = items
            .iter()
            .filter(|i| i.keep)
            .map(|i| i.time.to_string())
            .collect();
        assert_eq!(
            kept,
            [
                "2026_11_21-13_00_00", // newest; daily, weekly (W47), monthly #1
                "2026_11_20-01_00_00", // daily #2 (the 21st's 01:00 shares the newest's day)
                "2026_11_19-01_00_00",
                "2026_11_18-01_00_00",
                "2026_11_17-01_00_00",
                "2026_11_16-01_00_00",
                "2026_11_15-01_00_00", // daily #7, weekly #2 (W46)
                "2026_11_08-01_00_00", // weekly #3 (W45)
                "2026_11_01-01_00_00", // weekly #4 (W44)
                "2026_10_31-01_00_00", // monthly #2
                "2026_09_30-01_00_00", // monthly #3
            ]
        );
        let newest = &items[0];
        assert!(newest.reasons.iter().any(|r| r.starts_with("newest")));
        assert!(newest.reasons.iter().any(|r| r.starts_with("daily #1")));
        assert!(newest.reasons.iter().any(|r| r.starts_with("weekly #1")));
        assert!(newest.reasons.iter().any(|r| r.starts_with("monthly #1")));
        let gone = items
            .iter()
            .find(|i| i.time == t("2026_11_21-01_00_00"))
            .expect("present");
        assert!(!gone.keep, "same day as the newest: not a second daily");
        assert_eq!(gone.reasons, ["in no kept bucket of any period"]);
    }

    /// Inverse of days_from_civil for the test fixture.
    fn civil(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (yoe + era * 400 + i64::from(m <= 2), m, d)
    }

    #[test]
    fn keep_last_and_the_newest_is_never_destroyed() {
        let times = [
            t("2026_11_19-01_00_00"),
            t("2026_11_21-01_00_00"),
            t("2026_11_20-01_00_00"),
        ];
        let last2 = Retention {
            frequently: 2,
            ..keep(0, 0, 0)
        };
        let items = plan(&times, &last2).expect("plan");
        let kept: Vec<bool> = items.iter().map(|i| i.keep).collect();
        assert_eq!(kept, [true, true, false]);
        assert_eq!(plan(&times, &keep(0, 0, 0)), Err(NoRetention));
        let one = plan(&times[..1], &keep(0, 0, 1)).expect("plan");
        assert!(one[0].keep);
    }
}
