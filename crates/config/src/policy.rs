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

/// Freshness thresholds for one period's newest snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Thresholds {
    pub warn: Option<Duration>,
    pub crit: Option<Duration>,
}

/// The policy that applies to one dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// The `[datasets]` entry this comes from: the dataset itself or a recursive ancestor.
    pub defined_at: DatasetName,
    pub template: Option<Name>,
    pub retention: Retention,
    pub frequent_period: Duration,
    pub autosnap: bool,
    pub autoprune: bool,
    pub recursive: Recursion,
    /// Set on the entry itself only: its descendants are covered, the dataset is not.
    pub process_children_only: bool,
    /// Only periods with at least one threshold are present.
    pub monitor: BTreeMap<Period, Thresholds>,
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
        autosnap: flag(ds.autosnap, |t| t.autosnap),
        autoprune: flag(ds.autoprune, |t| t.autoprune),
        recursive: ds.recursive.unwrap_or_default(),
        process_children_only: ds.process_children_only.unwrap_or(false),
        monitor: thresholds([ds.monitor.as_ref(), tpl.and_then(|t| t.monitor.as_ref())]),
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
