//! `zferry snap run`: take and prune policy snapshots once (cron/timer mode), and
//! `zferry snap import-sanoid`.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result};
use jiff::Timestamp;
use zferry_config::Config;
use zferry_exec::LocalExecutor;
use zferry_snap::execute::{ChannelPrograms, plan_lines};
use zferry_snap::model::Switches;
use zferry_snap::progress::LogProgress;
use zferry_snap::run::{RunOptions, RunReport, run_with};

use crate::cli::{Cli, ImportSanoidArgs, SnapRunArgs};
use crate::snap_progress::TtyProgress;
use crate::{exit, output};

pub fn snap_run(cli: &Cli, args: &SnapRunArgs) -> Result<u8> {
    let config = Config::load(&cli.config)?;
    let now = match &args.now {
        Some(t) => t.parse::<Timestamp>().with_context(|| {
            format!("--now {t:?}: expected an RFC 3339 time like 2026-11-21T14:00:00Z")
        })?,
        None => Timestamp::now(),
    };
    let host = local_host(&config);
    // A service's datasets follow this node's recorded HA role: a standby's replica is never
    // snapshotted by a timer-driven run (it would diverge from the master).
    let (actings, unreadable) = zferry_ha_run::state::recorded_actings(&config);
    for e in &unreadable {
        tracing::error!("{e}");
    }
    let opts = RunOptions {
        now,
        dry_run: args.dry_run,
        channel_programs: if args.no_channel_programs {
            ChannelPrograms::Never
        } else {
            ChannelPrograms::Auto
        },
        switches: Switches {
            autosnap: args.no_autosnap.then_some(false),
            autoprune: args.no_autoprune.then_some(false),
        },
        overrides: zferry_ha_run::service::switch_overrides(&config, &host, &actings),
        host,
    };
    // Spinners only for a person watching: a terminal, no --json, no -v log lines to mix in.
    let tty = !args.json && cli.log.verbose == 0 && std::io::stderr().is_terminal();
    let report = if tty {
        run_with(
            &LocalExecutor::new(),
            &config,
            &opts,
            &TtyProgress::default(),
        )
    } else {
        run_with(&LocalExecutor::new(), &config, &opts, &LogProgress)
    };
    if args.json {
        output::json(&report)?;
    } else {
        output::text(&render(&report))?;
    }
    Ok(if report.errors.is_empty() {
        exit::OK
    } else {
        exit::PROBLEM
    })
}

/// This node's name (the rule every command shares: [`Config::this_node`]).
fn local_host(config: &Config) -> String {
    config.this_node(zferry_exec::system_hostname)
}

fn render(r: &RunReport) -> String {
    let mut out = String::new();
    for line in plan_lines(&r.plan) {
        let _ = writeln!(out, "{line}");
    }
    for g in &r.guests {
        let _ = writeln!(
            out,
            "guest {} ({}): {:?}: {}",
            g.vmid, g.dataset, g.decision, g.reason
        );
    }
    for e in &r.errors {
        let _ = writeln!(out, "ERROR: {e}");
    }
    let created: usize = r.pools.iter().map(|p| p.created.len()).sum();
    let destroyed: usize = r.pools.iter().map(|p| p.destroyed.len()).sum();
    let secs: f64 = r.pools.iter().map(|p| p.duration.as_secs_f64()).sum();
    let (made, gone) = if r.dry_run {
        ("to create", "to destroy")
    } else {
        ("created", "destroyed")
    };
    let errors = if r.errors.is_empty() {
        String::new()
    } else {
        format!(", {} errors", r.errors.len())
    };
    let _ = writeln!(
        out,
        "{}: {created} snapshots {made}, {destroyed} {gone}, {} pools, {} zfs processes, {secs:.2}s{errors}",
        r.now,
        r.pools.len(),
        r.zfs_processes,
    );
    out
}

pub fn import_sanoid(args: &ImportSanoidArgs) -> Result<u8> {
    let conf = std::fs::read_to_string(&args.sanoid_conf)
        .with_context(|| format!("reading {}", args.sanoid_conf))?;
    let defaults_path = args.defaults.clone().unwrap_or_else(|| {
        let beside = Path::new(&args.sanoid_conf).with_file_name("sanoid.defaults.conf");
        if beside.exists() {
            beside.display().to_string()
        } else {
            "/usr/share/sanoid/sanoid.defaults.conf".to_owned()
        }
    });
    let defaults = std::fs::read_to_string(&defaults_path)
        .with_context(|| format!("reading sanoid defaults {defaults_path} (use --defaults)"))?;
    let result = zferry_snap::sanoid_import::import(&conf, &defaults)?;
    if args.json {
        output::json(&result)?;
    } else {
        output::text(&result.toml)?;
        for u in &result.unconverted {
            eprintln!(
                "not converted: line {} [{}] {} = {}: {}",
                u.line.map_or_else(|| "-".to_owned(), |l| l.to_string()),
                u.section,
                u.key,
                u.value,
                u.reason
            );
        }
        for n in &result.notes {
            eprintln!(
                "note: [{}] {} = {}: {}",
                n.section, n.key, n.value, n.reason
            );
        }
    }
    Ok(if result.unconverted.is_empty() {
        exit::OK
    } else {
        exit::PROBLEM
    })
}
