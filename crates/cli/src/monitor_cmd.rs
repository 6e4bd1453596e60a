//! `zferry monitor snapshots|health|capacity`: Nagios/Icinga checks with the exact lines and
//! exit codes of `sanoid --monitor-*` (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), so existing
//! checks keep working. A check that cannot run prints `UNKNOWN: …` and exits 3.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use jiff::Timestamp;
use zferry_config::Config;
use zferry_exec::{CommandSpec, Executor, LocalExecutor};
use zferry_snap::monitor::{
    CapacityLimits, MonitorTarget, monitor_capacity, monitor_health, monitor_snapshots,
};
use zferry_snap::state;
use zferry_zfs::{DatasetName, PoolName, ops, parse_zpool_status};

use crate::cli::{Cli, MonitorArgs, MonitorCommand, MonitorReplicationArgs};
use crate::output;

const UNKNOWN: u8 = 3;

pub fn run(cli: &Cli, command: &MonitorCommand) -> Result<u8> {
    let result = match command {
        MonitorCommand::Snapshots(args) => snapshots(cli, args),
        MonitorCommand::Health(args) => health(cli, args),
        MonitorCommand::Capacity(args) => capacity(cli, args),
        MonitorCommand::Replication(args) => replication(cli, args),
    };
    match result {
        Ok(code) => Ok(code),
        Err(e) => {
            output::line(&format!("UNKNOWN: {e:#}"))?;
            Ok(UNKNOWN)
        }
    }
}

fn emit<T: serde::Serialize>(json: bool, report: &T, line: &str, exit_code: i32) -> Result<u8> {
    if json {
        output::json(report)?;
    } else {
        output::line(line)?;
    }
    Ok(u8::try_from(exit_code).unwrap_or(UNKNOWN))
}

fn snapshots(cli: &Cli, args: &MonitorArgs) -> Result<u8> {
    let config = Config::load(&cli.config)?;
    let exec = LocalExecutor::new();
    let pools: BTreeSet<PoolName> = config.datasets.keys().map(DatasetName::pool).collect();
    let mut states = Vec::new();
    for pool in &pools {
        states.extend(state::gather(&exec, &pool.root_dataset(), &[])?);
    }
    let policies: Vec<_> = states
        .iter()
        .filter_map(|s| Some((s, config.effective_policy(&s.name)?)))
        .collect();
    let targets: Vec<MonitorTarget<'_>> = policies
        .iter()
        .map(|(s, p)| MonitorTarget::from_policy(s, p))
        .collect();
    let report = monitor_snapshots(
        &targets,
        &config.global.snapshot_prefix,
        Timestamp::now().as_second(),
    );
    emit(args.json, &report, &report.line, report.exit_code)
}

/// The pools to check: those named, else those of the configured datasets, else all.
fn pools_to_check(cli: &Cli, args: &MonitorArgs, exec: &dyn Executor) -> Result<Vec<PoolName>> {
    if !args.pools.is_empty() {
        return args
            .pools
            .iter()
            .map(|p| {
                p.parse()
                    .with_context(|| format!("invalid pool name {p:?}"))
            })
            .collect();
    }
    if let Ok(config) = Config::load(&cli.config) {
        let pools: BTreeSet<PoolName> = config.datasets.keys().map(DatasetName::pool).collect();
        if !pools.is_empty() {
            return Ok(pools.into_iter().collect());
        }
    }
    Ok(ops::zpool_list(exec, &[])?
        .into_iter()
        .map(|p| p.name)
        .collect())
}

fn health(cli: &Cli, args: &MonitorArgs) -> Result<u8> {
    let exec = LocalExecutor::new();
    let pools = pools_to_check(cli, args, &exec)?;
    let list = ops::zpool_list(&exec, &[])?;
    // Without -P, as sanoid prints device names.
    let out = exec
        .run(&CommandSpec::new("zpool").args(["status", "-p"]))?
        .check()?;
    let status = parse_zpool_status(&out.stdout_lossy()).context("parsing `zpool status`")?;
    let report = monitor_health(&pools, &list, &status);
    emit(args.json, &report, &report.line, report.exit_code)
}

fn capacity(cli: &Cli, args: &MonitorArgs) -> Result<u8> {
    let exec = LocalExecutor::new();
    let limits = Config::load(&cli.config).map_or_else(
        |_| CapacityLimits::default(),
        |c| CapacityLimits {
            warn: *c.global.capacity_warn.get_ref(),
            crit: *c.global.capacity_crit.get_ref(),
        },
    );
    let pools: Vec<(PoolName, CapacityLimits)> = pools_to_check(cli, args, &exec)?
        .into_iter()
        .map(|p| (p, limits))
        .collect();
    let list = ops::zpool_list(&exec, &[])?;
    let report = monitor_capacity(&pools, &list);
    emit(args.json, &report, &report.line, report.exit_code)
}

fn replication(cli: &Cli, args: &MonitorReplicationArgs) -> Result<u8> {
    let config = Config::load(&cli.config)?;
    let local = args
        .node
        .clone()
        .unwrap_or_else(|| zferry_repl_run::hosts::local_node(&config));
    let secs = |flag: &str, v: &str| -> Result<u64> {
        let d: zferry_config::DurationSpec = v
            .parse()
            .map_err(|e| anyhow::anyhow!("--{flag} {v:?}: {e}"))?;
        Ok(d.get().as_secs())
    };
    let (warn, crit) = (secs("warn", &args.warn)?, secs("crit", &args.crit)?);
    let (actings, unreadable) = zferry_ha_run::state::recorded_actings(&config);
    if let Some(e) = unreadable.first() {
        anyhow::bail!("{e}");
    }
    // A service's jobs are checked on its master only (this node's records are the pairs
    // it sent).
    let mut service_jobs: BTreeSet<&str> = BTreeSet::new();
    let mut mastered: BTreeSet<&str> = BTreeSet::new();
    let mut skipped = Vec::new();
    for (name, svc) in &config.services {
        let acting = actings.get(name.as_str());
        let master = acting == Some(&zferry_ha_run::service::Acting::Master);
        for j in &svc.jobs {
            service_jobs.insert(j.get_ref().as_str());
            if master {
                mastered.insert(j.get_ref().as_str());
            }
        }
        if !master && zferry_ha_run::service::involves(svc, &local) {
            skipped.push(format!(
                "service {name} ({})",
                acting.map_or_else(
                    || "no role yet".to_owned(),
                    zferry_ha_run::cycle::acting_text
                )
            ));
        }
    }
    let own: BTreeSet<String> = zferry_repl_run::job::resolve_jobs(
        &config,
        &local,
        &[],
        zferry_repl::Destructive::AppendOnly,
    )?
    .into_iter()
    .map(|j| j.name)
    .collect();
    let now = Timestamp::now().as_second().unsigned_abs();
    let mut pairs = Vec::new();
    for name in config.jobs.keys() {
        let job = name.as_str();
        let checked = if service_jobs.contains(job) {
            mastered.contains(job)
        } else {
            own.contains(job)
        };
        if !checked {
            continue;
        }
        let path = zferry_repl_run::state::state_path(config.global.state_dir.as_path(), job);
        let st = zferry_repl_run::state::load(&path)?;
        let before = pairs.len();
        for (pair, s) in st.pairs {
            pairs.push(zferry_ha_run::rpo::PairAge {
                job: job.to_owned(),
                pair,
                rpo_seconds: s.common_creation.map(|c| now.saturating_sub(c)),
                last_error: s.last_error.map(|(_, e)| e),
            });
        }
        if pairs.len() == before {
            pairs.push(zferry_ha_run::rpo::PairAge {
                job: job.to_owned(),
                pair: "(no run recorded on this node)".to_owned(),
                rpo_seconds: None,
                last_error: None,
            });
        }
    }
    let report = zferry_ha_run::rpo::check(pairs, warn, crit, &skipped);
    emit(args.json, &report, &report.line, report.exit_code)
}
