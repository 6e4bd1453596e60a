//! `zferry ha run-once` and `zferry ha status`.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow};
use serde::Serialize;
use zferry_config::Config;
use zferry_exec::LocalExecutor;
use zferry_ha_run::cycle::{CycleOptions, CycleReport, acting_text, observe_burst, run_cycle};
use zferry_ha_run::service::{self, Acting};
use zferry_ha_run::state::{self, ServiceState};
use zferry_repl_run::hosts::local_node;

use crate::cli::{Cli, HaRunOnceArgs, HaStatusArgs};
use crate::{human, output};

pub fn run_once(cli: &Cli, args: &HaRunOnceArgs) -> Result<u8> {
    let config = Config::load(&cli.config)?;
    let local = args.node.clone().unwrap_or_else(|| local_node(&config));
    let services = service::services_of(&config, &local, &args.services).map_err(|e| anyhow!(e))?;
    if services.is_empty() {
        tracing::warn!(node = local, "this node takes part in no [services.*]");
    }
    let observed: Vec<(&str, &zferry_config::Service)> =
        services.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let evidence = observe_burst(
        &LocalExecutor::with_host(local.clone()),
        &observed,
        &local,
        &zferry_snap::guest::guest_command(&config.global),
    );
    let opts = CycleOptions {
        local,
        services: args.services.clone(),
        dry_run: args.dry_run,
        accept_new_pools: args.accept_new_pools,
        now: jiff::Timestamp::now(),
        lock_wait: Duration::from_secs(args.lock_wait),
    };
    let report = run_cycle(&config, &opts, &evidence).map_err(|e| anyhow!(e))?;
    if args.json {
        output::json(&report)?;
    } else {
        output::text(&render(&report))?;
    }
    Ok(report.exit_code)
}

/// Each service's recorded HA state with its pairs' RPO (`only` restricts; empty = all).
pub fn service_rows(config: &Config, only: &[String], now: u64) -> Result<Vec<StatusRow>> {
    let dir = config.global.state_dir.as_path();
    let mut rows = Vec::new();
    for (name, svc) in &config.services {
        if !only.is_empty() && !only.iter().any(|s| s == name.as_str()) {
            continue;
        }
        let record = state::load(dir, name.as_str())?;
        let mut pairs = Vec::new();
        for job in &svc.jobs {
            let job = job.get_ref().as_str();
            let st = zferry_repl_run::state::load(&zferry_repl_run::state::state_path(dir, job))?;
            for (pair, p) in st.pairs {
                pairs.push(PairRpo {
                    job: job.to_owned(),
                    pair,
                    rpo_seconds: p.common_creation.map(|c| now.saturating_sub(c)),
                    common: p.common,
                    last_error: p.last_error.map(|(_, e)| e),
                });
            }
        }
        rows.push(StatusRow {
            service: name.to_string(),
            role_age_seconds: record
                .since
                .and_then(|s| u64::try_from(s).ok())
                .map(|s| now.saturating_sub(s)),
            record,
            pairs,
        });
    }
    Ok(rows)
}

fn render(r: &CycleReport) -> String {
    let mut out = String::new();
    let dry = if r.dry_run {
        " (dry run: nothing changed)"
    } else {
        ""
    };
    let _ = writeln!(out, "node {}{dry}", r.node);
    for s in &r.services {
        let _ = writeln!(out, "service {}: {}", s.service, acting_text(&s.acting));
        if let Some(e) = &s.evidence {
            let _ = writeln!(out, "    placement: {e}");
        }
        if let Some(c) = &s.epoch_change {
            let _ = writeln!(
                out,
                "    became master: epoch {} (highest seen {})",
                c.taken, c.highest_seen
            );
        } else if let Some(e) = s.epoch {
            let _ = writeln!(out, "    epoch: {e}");
        }
        if let Some(f) = &s.final_sync {
            let _ = writeln!(out, "    final sync: @{f}");
        }
        for p in &s.pairs {
            let _ = writeln!(out, "    {}", p.to_string().replace('\n', "\n    "));
        }
        for p in &s.problems {
            let _ = writeln!(out, "    PROBLEM: {p}");
        }
    }
    let snaps = &r.snapshots;
    let _ = writeln!(
        out,
        "snapshots: {} taken, {} pruned",
        snaps.created.len(),
        snaps.destroyed.len()
    );
    for e in &snaps.errors {
        let _ = writeln!(out, "    ERROR: {e}");
    }
    out
}

/// One service in `zferry ha status`.
#[derive(Debug, Serialize)]
pub struct StatusRow {
    service: String,
    #[serde(flatten)]
    record: ServiceState,
    /// Seconds since the role last changed.
    role_age_seconds: Option<u64>,
    pairs: Vec<PairRpo>,
}

/// A pair of one of the service's jobs, from the replication record.
#[derive(Debug, Serialize)]
pub struct PairRpo {
    job: String,
    pair: String,
    common: Option<String>,
    rpo_seconds: Option<u64>,
    last_error: Option<String>,
}

pub fn status(cli: &Cli, args: &HaStatusArgs) -> Result<u8> {
    let config = Config::load(&cli.config)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let rows = service_rows(&config, &args.services, now)?;
    if args.json {
        output::json(&rows)?;
        return Ok(crate::exit::OK);
    }
    output::text(&render_rows(&rows, now))?;
    Ok(crate::exit::OK)
}

/// The text of `zferry ha status` (and the services part of `zferry status`).
pub fn render_rows(rows: &[StatusRow], now: u64) -> String {
    let mut text = String::new();
    if rows.is_empty() {
        text.push_str("no [services.*] in the configuration\n");
    }
    for r in rows {
        let role = r.record.acting.as_ref().map_or_else(
            || "no decision yet (run `zferry ha run-once`)".to_owned(),
            acting_text,
        );
        let since = r
            .role_age_seconds
            .map(|s| format!(" for {}", human::age(s)))
            .unwrap_or_default();
        let _ = writeln!(text, "service {}: {role}{since}", r.service);
        let _ = writeln!(
            text,
            "    master: {}  epoch: {}  placement: {}",
            r.record.master.as_deref().unwrap_or("-"),
            r.record
                .epoch
                .map_or_else(|| "-".to_owned(), |e| e.to_string()),
            r.record.evidence.as_deref().unwrap_or("-"),
        );
        if matches!(r.record.acting, Some(Acting::Master)) || !r.pairs.is_empty() {
            for p in &r.pairs {
                let _ = writeln!(
                    text,
                    "    [{}] {}  common: {}  RPO: {}",
                    p.job,
                    p.pair,
                    p.common.as_deref().unwrap_or("-"),
                    p.rpo_seconds.map_or_else(|| "-".to_owned(), human::age)
                );
                if let Some(e) = &p.last_error {
                    let _ = writeln!(
                        text,
                        "        LAST ERROR: {}",
                        e.replace('\n', "\n          ")
                    );
                }
            }
        }
        if let Some((at, why)) = &r.record.last_refusal {
            let ago = u64::try_from(*at).map_or(0, |a| now.saturating_sub(a));
            let _ = writeln!(text, "    LAST REFUSAL ({} ago): {why}", human::age(ago));
        }
    }
    text
}
