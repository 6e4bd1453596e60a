//! The resolved snapshot policy of one dataset: template merged with per-dataset overrides,
//! defaults filled in, inherited from a recursive ancestor when the dataset has no entry.
//!
//! Pure: planners call [`Config::effective_policy`] and never look at templates themselves.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use zferry_zfs::DatasetName;

use crate::model::{Config, DatasetConfig, GuestMode, Hook, Monitor, Period, Recursion, Template};
use crate::names::Name;

/// Period of `frequently` snapshots when neither template nor dataset sets one.
pub const DEFAULT_FREQUENT_PERIOD: Duration = Duration::from_mins(15);

/// How many snapshots of each period to keep. Unset counts are 0: nothing is kept for a
/// period unless the template or the dataset asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Retention {
    pub frequently: u32,
    pub hourly: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub yearly: u32,
}

impl Retention {
    pub fn get(&self, period: Period) -> u32 {
        match period {
            Period::Frequently => self.frequently,
            Period::Hourly => self.hourly,
            Period::Daily => self.daily,
            Period::Weekly => self.weekly,
            Period::Monthly => self.monthly,
            Period::Yearly => self.yearly,
        }
    }
}

/// Preferred snapshot times (sanoid's `hourly_min`, `daily_hour`, …), in the civil time of
/// the configured zone. Defaults are sanoid's (`sanoid.defaults.conf`): hourly at :00, daily at
/// 23:59, weekly on Monday 23:30, monthly on the 1st 00:00, yearly on January 1st 00:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub hourly_min: u8,
    pub daily_hour: u8,
    pub daily_min: u8,
    /// 0 = Sunday … 6 = Saturday (sanoid's convention).
    pub weekly_wday: u8,
    pub weekly_hour: u8,
    pub weekly_min: u8,
    /// 1..=31; a month shorter than this uses its last day.
    pub monthly_mday: u8,
    pub monthly_hour: u8,
    pub monthly_min: u8,
    /// 1 = January … 12.
    pub yearly_mon: u8,
    /// 1..=31 (valid for `yearly_mon`); February 29th is the 28th in common years.
    pub yearly_mday: u8,
    pub yearly_hour: u8,
    pub yearly_min: u8,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            hourly_min: 0,
            daily_hour: 23,
            daily_min: 59,
            weekly_wday: 1,
            weekly_hour: 23,
            weekly_min: 30,
            monthly_mday: 1,
            monthly_hour: 0,
            monthly_min: 0,
            yearly_mon: 1,
            yearly_mday: 1,
            yearly_hour: 0,
            yearly_min: 0,
        }
    }
}

/// Freshness thresholds for one period's newest snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Thresholds {
    pub warn: Option<Duration>,
    pub crit: Option<Duration>,
}

/// The policy that applies to one dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "each bool is an independent config switch"
)]
pub struct Policy {
    /// The `[datasets]` entry this comes from: the dataset itself or a recursive ancestor.
    pub defined_at: DatasetName,
    pub template: Option<Name>,
    pub retention: Retention,
    pub frequent_period: Duration,
    /// When each period's snapshot is preferred (sanoid's preferred times).
    pub schedule: Schedule,
    pub autosnap: bool,
    pub autoprune: bool,
    pub recursive: Recursion,
    /// Set on the entry itself only: its descendants are covered, the dataset is not.
    pub process_children_only: bool,
    /// Only periods with at least one threshold are present.
    pub monitor: BTreeMap<Period, Thresholds>,
    /// Monitoring reports warnings as text but with status OK.
    pub monitor_dont_warn: bool,
    /// Monitoring reports criticals as text but with status OK.
    pub monitor_dont_crit: bool,
    pub pre_snapshot: Option<Hook>,
    pub post_snapshot: Option<Hook>,
    pub guests: GuestMode,
}

fn thresholds(blocks: [Option<&Monitor>; 2]) -> BTreeMap<Period, Thresholds> {
    let mut out = BTreeMap::new();
    for period in Period::ALL {
        let pick = |crit: bool| {
            blocks.iter().flatten().find_map(|m| {
                let (w, c) = m.thresholds(period);
                if crit { c } else { w }
            })
        };
        let t = Thresholds {
            warn: pick(false).map(|s| s.get_ref().get()),
            crit: pick(true).map(|s| s.get_ref().get()),
        };
        if t != Thresholds::default() {
            out.insert(period, t);
        }
    }
    out
}

type TimeField<T> = fn(&T) -> Option<&toml::Spanned<u8>>;

fn schedule(ds: &DatasetConfig, tpl: Option<&Template>) -> Schedule {
    let pick = |own: TimeField<DatasetConfig>, t: TimeField<Template>, default: u8| {
        own(ds)
            .or_else(|| tpl.and_then(t))
            .map_or(default, |v| *v.get_ref())
    };
    let d = Schedule::default();
    Schedule {
        hourly_min: pick(
            |x| x.hourly_min.as_ref(),
            |x| x.hourly_min.as_ref(),
            d.hourly_min,
        ),
        daily_hour: pick(
            |x| x.daily_hour.as_ref(),
            |x| x.daily_hour.as_ref(),
            d.daily_hour,
        ),
        daily_min: pick(
            |x| x.daily_min.as_ref(),
            |x| x.daily_min.as_ref(),
            d.daily_min,
        ),
        weekly_wday: pick(
            |x| x.weekly_wday.as_ref(),
            |x| x.weekly_wday.as_ref(),
            d.weekly_wday,
        ),
        weekly_hour: pick(
            |x| x.weekly_hour.as_ref(),
            |x| x.weekly_hour.as_ref(),
            d.weekly_hour,
        ),
        weekly_min: pick(
            |x| x.weekly_min.as_ref(),
            |x| x.weekly_min.as_ref(),
            d.weekly_min,
        ),
        monthly_mday: pick(
            |x| x.monthly_mday.as_ref(),
            |x| x.monthly_mday.as_ref(),
            d.monthly_mday,
        ),
        monthly_hour: pick(
            |x| x.monthly_hour.as_ref(),
            |x| x.monthly_hour.as_ref(),
            d.monthly_hour,
        ),
        monthly_min: pick(
            |x| x.monthly_min.as_ref(),
            |x| x.monthly_min.as_ref(),
            d.monthly_min,
        ),
        yearly_mon: pick(
            |x| x.yearly_mon.as_ref(),
            |x| x.yearly_mon.as_ref(),
            d.yearly_mon,
        ),
        yearly_mday: pick(
            |x| x.yearly_mday.as_ref(),
            |x| x.yearly_mday.as_ref(),
            d.yearly_mday,
        ),
        yearly_hour: pick(
            |x| x.yearly_hour.as_ref(),
            |x| x.yearly_hour.as_ref(),
            d.yearly_hour,
        ),
        yearly_min: pick(
            |x| x.yearly_min.as_ref(),
            |x| x.yearly_min.as_ref(),
            d.yearly_min,
        ),
    }
}

fn merge(defined_at: &DatasetName, ds: &DatasetConfig, tpl: Option<&Template>) -> Policy {
    let tpl_or = |f: fn(&Template) -> Option<u32>| tpl.and_then(f);
    let count =
        |own: Option<u32>, f: fn(&Template) -> Option<u32>| own.or_else(|| tpl_or(f)).unwrap_or(0);
    let flag = |own: Option<bool>, f: fn(&Template) -> Option<bool>| {
        own.or_else(|| tpl.and_then(f)).unwrap_or(true)
    };
    Policy {
        defined_at: defined_at.clone(),
        template: ds.use_template.as_ref().map(|t| t.get_ref().clone()),
        retention: Retention {
            frequently: count(ds.frequently, |t| t.frequently),
            hourly: count(ds.hourly, |t| t.hourly),
            daily: count(ds.daily, |t| t.daily),
            weekly: count(ds.weekly, |t| t.weekly),
            monthly: count(ds.monthly, |t| t.monthly),
            yearly: count(ds.yearly, |t| t.yearly),
        },
        frequent_period: ds
            .frequent_period
            .as_ref()
            .or_else(|| tpl.and_then(|t| t.frequent_period.as_ref()))
            .map_or(DEFAULT_FREQUENT_PERIOD, |p| p.get_ref().get()),
        schedule: schedule(ds, tpl),
        autosnap: flag(ds.autosnap, |t| t.autosnap),
        autoprune: flag(ds.autoprune, |t| t.autoprune),
        recursive: ds.recursive.unwrap_or_default(),
        process_children_only: ds.process_children_only.unwrap_or(false),
        monitor: thresholds([ds.monitor.as_ref(), tpl.and_then(|t| t.monitor.as_ref())]),
        monitor_dont_warn: ds
            .monitor_dont_warn
            .or_else(|| tpl.and_then(|t| t.monitor_dont_warn))
            .unwrap_or(false),
        monitor_dont_crit: ds
            .monitor_dont_crit
            .or_else(|| tpl.and_then(|t| t.monitor_dont_crit))
            .unwrap_or(false),
        pre_snapshot: ds.pre_snapshot.clone(),
        post_snapshot: ds.post_snapshot.clone(),
        guests: ds.guests.unwrap_or_default(),
    }
}

impl Config {
    /// The policy for `dataset`: its own `[datasets]` entry, else the nearest ancestor entry
    /// with `recursive` set; `None` when no entry covers it.
    pub fn effective_policy(&self, dataset: &DatasetName) -> Option<Policy> {
        let template = |ds: &DatasetConfig| {
            ds.use_template
                .as_ref()
                .and_then(|t| self.templates.get(t.get_ref().as_str()))
        };
        if let Some(ds) = self.datasets.get(dataset) {
            return Some(merge(dataset, ds, template(ds)));
        }
        let mut cur = dataset.parent();
        while let Some(anc) = cur {
            if let Some(ds) = self.datasets.get(&anc)
                && ds.recursive.unwrap_or_default() != Recursion::No
            {
                let mut p = merge(&anc, ds, template(ds));
                p.process_children_only = false;
                return Some(p);
            }
            cur = anc.parent();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const TEXT: &str = r#"
[templates.production]
frequently = 4
frequent-period = "5m"
hourly = 36
daily = 30
autoprune = true
[templates.production.monitor]
hourly-warn = "90m"
hourly-crit = "6h"

[datasets."tank/data"]
use-template = "production"
recursive = "atomic"
hourly = 48
autosnap = false
guests = "auto"
[datasets."tank/data".monitor]
hourly-warn = "2h"

[datasets."tank/data/db"]
daily = 7

[datasets."tank/flat"]
recursive = false
"#;

    fn config() -> Config {
        Config::from_str_with_path(TEXT, Path::new("t.toml")).unwrap()
    }

    fn ds(s: &str) -> DatasetName {
        s.parse().unwrap()
    }

    #[test]
    fn dataset_overrides_win_over_template() {
        let p = config().effective_policy(&ds("tank/data")).unwrap();
        assert_eq!(p.defined_at, ds("tank/data"));
        assert_eq!(p.template.as_ref().map(Name::as_str), Some("production"));
        assert_eq!(
            p.retention,
            Retention {
                frequently: 4,
                hourly: 48,
                daily: 30,
                weekly: 0,
                monthly: 0,
                yearly: 0
            }
        );
        assert_eq!(p.frequent_period, Duration::from_mins(5));
        assert!(!p.autosnap);
        assert!(p.autoprune);
        assert_eq!(p.recursive, Recursion::Atomic);
        assert_eq!(p.guests, GuestMode::Auto);
        assert_eq!(
            p.monitor.get(&Period::Hourly),
            Some(&Thresholds {
                warn: Some(Duration::from_hours(2)),
                crit: Some(Duration::from_hours(6))
            })
        );
        assert_eq!(p.monitor.len(), 1);
    }

    #[test]
    fn explicit_child_entry_stands_alone() {
        let p = config().effective_policy(&ds("tank/data/db")).unwrap();
        assert_eq!(p.defined_at, ds("tank/data/db"));
        assert_eq!(p.template, None);
        assert_eq!(
            p.retention,
            Retention {
                daily: 7,
                ..Retention::default()
            }
        );
        assert_eq!(p.frequent_period, DEFAULT_FREQUENT_PERIOD);
        assert!(p.autosnap && p.autoprune);
        assert_eq!(p.recursive, Recursion::No);
        assert!(p.monitor.is_empty());
    }

    #[test]
    fn descendants_inherit_from_recursive_ancestor() {
        let c = config();
        let p = c
            .effective_policy(&ds("tank/data/vm-100-disk-0/x"))
            .unwrap();
        assert_eq!(p.defined_at, ds("tank/data"));
        assert_eq!(p.retention.hourly, 48);
        assert!(!p.process_children_only);
        // Below an explicit child, the child's non-recursive entry does not cover; the
        // recursive grandparent does.
        let q = c.effective_policy(&ds("tank/data/db/logs")).unwrap();
        assert_eq!(q.defined_at, ds("tank/data"));
    }

    #[test]
    fn uncovered_datasets_have_no_policy() {
        let c = config();
        assert_eq!(c.effective_policy(&ds("tank/flat/child")), None);
        assert_eq!(c.effective_policy(&ds("tank")), None);
        assert_eq!(c.effective_policy(&ds("other/data")), None);
        assert!(c.effective_policy(&ds("tank/flat")).is_some());
    }
}
