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

use crate::cli::{Cli, MonitorArgs, MonitorCommand};
use crate::output;

const UNKNOWN: u8 = 3;

pub fn run(cli: &Cli, command: &MonitorCommand) -> Result<u8> {
    let result = match command {
        MonitorCommand::Snapshots(args) => snapshots(cli, args),
        MonitorCommand::Health(args) => health(cli, args),
        MonitorCommand::Capacity(args) => capacity(cli, args),
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
