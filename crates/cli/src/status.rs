//! `zferry status`: pools with health and capacity, datasets with snapshot counts and the
//! age of their newest snapshot — from exactly one `zpool list` and one `zfs list`.
//!
//! Gathering runs the two commands; [`summarize`] is pure and turns their parsed output
//! into the report that both the table and the JSON renderings print.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;
use zferry_exec::{Executor, LocalExecutor};
use zferry_zfs::{DatasetName, ObjectName, ObjectType, PoolInfo, PoolName, ZfsObject, ops};

use crate::cli::{Cli, StatusArgs};
use crate::{exit, human, output};

/// What `zferry status --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    pub host: String,
    /// Seconds since the Unix epoch when the state was read.
    pub now: u64,
    pub pools: Vec<PoolStatus>,
    pub datasets: Vec<DatasetStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolStatus {
    pub name: String,
    pub health: String,
    pub size: u64,
    pub allocated: u64,
    pub free: u64,
    /// Percent of `size` allocated, as `zpool list` reports it.
    pub capacity_percent: u64,
    pub fragmentation_percent: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetStatus {
    pub name: String,
    /// `filesystem` or `volume`.
    #[serde(rename = "type")]
    pub kind: String,
    pub used: Option<u64>,
    pub referenced: Option<u64>,
    pub snapshots: usize,
    pub newest_snapshot: Option<NewestSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewestSnapshot {
    pub name: String,
    /// Creation time, seconds since the Unix epoch.
    pub creation: u64,
    /// `now - creation`; 0 for a snapshot dated in the future.
    pub age_seconds: u64,
}

/// Builds the report from one pool listing and one dataset+snapshot listing.
/// The newest snapshot is the one with the highest `createtxg` (creation seconds can tie).
pub fn summarize(host: &str, pools: &[PoolInfo], objects: &[ZfsObject], now: u64) -> StatusReport {
    let mut datasets: BTreeMap<&str, DatasetStatus> = BTreeMap::new();
    let mut snapshots: BTreeMap<String, (usize, &ZfsObject)> = BTreeMap::new();
    for obj in objects {
        match &obj.name {
            ObjectName::Dataset(ds) => {
                datasets.insert(
                    ds.as_str(),
                    DatasetStatus {
                        name: ds.to_string(),
                        kind: obj.kind.as_str().to_owned(),
                        used: obj.used,
                        referenced: obj.referenced,
                        snapshots: 0,
                        newest_snapshot: None,
                    },
                );
            }
            ObjectName::Snapshot(snap) => {
                let (count, newest) = snapshots
                    .entry(snap.dataset().to_string())
                    .or_insert((0, obj));
                *count += 1;
                if obj.createtxg > newest.createtxg {
                    *newest = obj;
                }
            }
            ObjectName::Bookmark(_) => {}
        }
    }
    for (ds, (count, snap)) in snapshots {
        if let Some(entry) = datasets.get_mut(ds.as_str()) {
            entry.snapshots = count;
            entry.newest_snapshot = Some(NewestSnapshot {
                name: snap.name.as_str().to_owned(),
                creation: snap.creation,
                age_seconds: now.saturating_sub(snap.creation),
            });
        }
    }
    StatusReport {
        host: host.to_owned(),
        now,
        pools: pools
            .iter()
            .map(|p| PoolStatus {
                name: p.name.to_string(),
                health: p.health.to_string(),
                size: p.size,
                allocated: p.allocated,
                free: p.free,
                capacity_percent: p.capacity,
                fragmentation_percent: p.fragmentation,
            })
            .collect(),
        datasets: datasets.into_values().collect(),
    }
}

pub fn run(cli: &Cli, args: &StatusArgs) -> Result<u8> {
    let exec = LocalExecutor::new();
    let pools: Vec<PoolName> = args
        .pools
        .iter()
        .map(|p| {
            p.parse()
                .with_context(|| format!("invalid pool name {p:?}"))
        })
        .collect::<Result<_>>()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let pool_infos = ops::zpool_list(&exec, &pools)?;
    let roots: Vec<DatasetName> = pools.iter().map(PoolName::root_dataset).collect();
    let objects = if pool_infos.is_empty() {
        Vec::new()
    } else {
        let types = [
            ObjectType::Filesystem,
            ObjectType::Volume,
            ObjectType::Snapshot,
        ];
        ops::list(&exec, &types, &roots, !roots.is_empty(), &[])?
    };
    let report = summarize(exec.host(), &pool_infos, &objects, now);
    let services = services(cli, now);
    if args.json {
        output::json(&WithServices {
            report: &report,
            services: &services,
        })?;
    } else {
        let mut text = render_table(&report);
        if !services.is_empty() {
            text.push('\n');
            text.push_str(&crate::ha_cmd::render_rows(&services, now));
        }
        output::text(&text)?;
    }
    Ok(exit::OK)
}

/// `zferry status --json`: the pools and datasets, and each HA service's recorded state.
#[derive(Serialize)]
struct WithServices<'a> {
    #[serde(flatten)]
    report: &'a StatusReport,
    services: &'a [crate::ha_cmd::StatusRow],
}

/// The HA services of the configuration, when there is one: a host without a configuration
/// (or with one that does not parse) still gets its pools and datasets.
fn services(cli: &Cli, now: u64) -> Vec<crate::ha_cmd::StatusRow> {
    if !cli.config.exists() {
        return Vec::new();
    }
    let rows = zferry_config::Config::load(&cli.config)
        .map_err(anyhow::Error::from)
        .and_then(|c| crate::ha_cmd::service_rows(&c, &[], now));
    rows.unwrap_or_else(|e| {
        tracing::warn!("services not shown: {e:#}");
        Vec::new()
    })
}

/// The two tables `zferry status` prints.
pub fn render_table(r: &StatusReport) -> String {
    let mut rows = vec![vec![
        "POOL".to_owned(),
        "HEALTH".to_owned(),
        "SIZE".to_owned(),
        "ALLOC".to_owned(),
        "FREE".to_owned(),
        "CAP".to_owned(),
        "FRAG".to_owned(),
    ]];
    for p in &r.pools {
        rows.push(vec![
            p.name.clone(),
            p.health.clone(),
            human::bytes(p.size),
            human::bytes(p.allocated),
            human::bytes(p.free),
            format!("{}%", p.capacity_percent),
            p.fragmentation_percent
                .map_or_else(|| "-".to_owned(), |f| format!("{f}%")),
        ]);
    }
    let mut out = if r.pools.is_empty() {
        "no pools imported\n".to_owned()
    } else {
        human::table(&rows)
    };
    if !r.datasets.is_empty() {
        let mut rows = vec![
            [
                "DATASET",
                "TYPE",
                "USED",
                "REFER",
                "SNAPS",
                "NEWEST SNAPSHOT",
                "AGE",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for d in &r.datasets {
            let (snap, age) =
                d.newest_snapshot
                    .as_ref()
                    .map_or(("-".to_owned(), "-".to_owned()), |s| {
                        let short = s.name.split_once('@').map_or(s.name.as_str(), |(_, n)| n);
                        (format!("@{short}"), human::age(s.age_seconds))
                    });
            rows.push(vec![
                d.name.clone(),
                if d.kind == "volume" {
                    "vol".to_owned()
                } else {
                    "fs".to_owned()
                },
                d.used.map_or_else(|| "-".to_owned(), human::bytes),
                d.referenced.map_or_else(|| "-".to_owned(), human::bytes),
                d.snapshots.to_string(),
                snap,
                age,
            ]);
        }
        out.push('\n');
        out.push_str(&human::table(&rows));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use zferry_zfs::{parse_list, parse_zpool_list};

    fn objects(text: &str) -> Vec<ZfsObject> {
        parse_list(text, &[]).unwrap()
    }

    const LIST: &str = "tank\tfilesystem\t11\t1\t1700000000\t3000\t100\t100\n\
tank/a\tfilesystem\t12\t5\t1700000100\t2000\t1000\t1000\n\
tank/a@old\tsnapshot\t13\t6\t1700000200\t0\t1000\t1000\n\
tank/a@new\tsnapshot\t14\t9\t1700000200\t0\t1000\t0\n\
tank/v\tvolume\t15\t7\t1700000300\t500\t400\t400\n";

    fn pools() -> Vec<PoolInfo> {
        parse_zpool_list("tank\t1073741824\t3000\t1073738824\t1\t0\tONLINE\t42\n").unwrap()
    }

    #[test]
    fn counts_snapshots_and_picks_newest_by_txg_not_creation() {
        let r = summarize("h", &pools(), &objects(LIST), 1_700_000_260);
        let a = r.datasets.iter().find(|d| d.name == "tank/a").unwrap();
        assert_eq!(a.snapshots, 2);
        let newest = a.newest_snapshot.as_ref().unwrap();
        assert_eq!(newest.name, "tank/a@new");
        assert_eq!(newest.age_seconds, 60);
        let root = r.datasets.iter().find(|d| d.name == "tank").unwrap();
        assert_eq!((root.snapshots, root.newest_snapshot.is_none()), (0, true));
        assert_eq!(
            r.datasets.iter().find(|d| d.name == "tank/v").unwrap().kind,
            "volume"
        );
        assert_eq!(r.pools[0].health, "ONLINE");
    }

    #[test]
    fn future_snapshots_have_age_zero() {
        let r = summarize("h", &pools(), &objects(LIST), 1_600_000_000);
        let a = r.datasets.iter().find(|d| d.name == "tank/a").unwrap();
        assert_eq!(a.newest_snapshot.as_ref().unwrap().age_seconds, 0);
    }

    #[test]
    fn table_aligns_columns_and_shortens_snapshot_names() {
        let r = summarize("h", &pools(), &objects(LIST), 1_700_000_260);
        let text = render_table(&r);
        assert!(text.starts_with("POOL  HEALTH  SIZE"), "{text}");
        let line = text.lines().find(|l| l.starts_with("tank/a ")).unwrap();
        assert!(line.contains("@new") && line.ends_with("1m"), "{line}");
    }

    #[test]
    fn json_uses_raw_numbers() {
        let r = summarize("h", &pools(), &objects(LIST), 1_700_000_260);
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["pools"][0]["size"], 1_073_741_824u64);
        assert_eq!(v["datasets"][1]["type"], "filesystem");
        assert_eq!(v["datasets"][1]["newest_snapshot"]["age_seconds"], 60);
    }
}
