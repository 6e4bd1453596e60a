//! One snapshot run, end to end: read state (one `zfs list` per pool), plan (pure), apply
//! guest decisions, run hooks, execute (one `zfs program` per pool and round). The CLI and,
//! later, the HA daemon call [`run`]; they only render the [`RunReport`].

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::Serialize;
use zferry_config::{Config, GuestMode};
use zferry_exec::Executor;
use zferry_zfs::{DatasetName, PoolName, UserPropName};

use crate::execute::{ChannelPrograms, ExecOptions, PoolReport, execute_with};
use crate::guest::{self, GuestContext, GuestDecision};
use crate::hooks::{self, Hook};
use crate::model::{DatasetState, Note, Plan, Switches};
use crate::naming::{self, SnapKind, SnapName};
use crate::planner::{PlanInput, plan};
use crate::progress::{NoProgress, Progress, Step};
use crate::state;

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run's time: snapshot names, due and prune decisions (`--now` simulates).
    pub now: Timestamp,
    pub dry_run: bool,
    pub channel_programs: ChannelPrograms,
    /// Runtime overrides of autosnap/autoprune (e.g. the HA role).
    pub switches: Switches,
    /// This node's name (guest placement and `label:running`).
    pub host: String,
}

/// What a run did (or, dry, would do).
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub now: String,
    pub dry_run: bool,
    pub plan: Plan,
    pub guests: Vec<GuestDecision>,
    pub pools: Vec<PoolReport>,
    /// Problems that need an admin, one line each (the run did what it safely could).
    pub errors: Vec<String>,
    /// `zfs` processes started: state reads plus execution.
    pub zfs_processes: usize,
}

/// Runs the snapshot policy of every configured dataset once.
pub fn run(exec: &dyn Executor, config: &Config, opts: &RunOptions) -> RunReport {
    run_with(exec, config, opts, &NoProgress)
}

/// [`run`], reporting each pool's steps (listing, programs, commands) to `progress`.
pub fn run_with(
    exec: &dyn Executor,
    config: &Config,
    opts: &RunOptions,
    progress: &dyn Progress,
) -> RunReport {
    let mut errors = Vec::new();
    let guest_mode = config
        .datasets
        .values()
        .any(|d| d.guests == Some(GuestMode::Auto));
    let props: Vec<UserPropName> = if guest_mode {
        config
            .global
            .running_property
            .as_str()
            .parse()
            .into_iter()
            .collect()
    } else {
        Vec::new()
    };
    let pools: BTreeSet<PoolName> = config.datasets.keys().map(DatasetName::pool).collect();
    let mut datasets: Vec<DatasetState> = Vec::new();
    let mut unread = BTreeSet::new();
    for pool in &pools {
        progress.step(pool, &Step::Listing);
        match state::gather(exec, &pool.root_dataset(), &props) {
            Ok(found) => datasets.extend(found),
            Err(e) => {
                let line = format!("pool {pool}: cannot read state, skipped: {e}");
                progress.done(pool, false, &line);
                errors.push(line);
                unread.insert(pool);
            }
        }
    }
    let input = PlanInput::from_config(config, datasets, opts.switches, BTreeMap::new());
    let mut planned = plan(&input, opts.now);
    let guests = if guest_mode {
        apply_guests(exec, config, &input, opts, planned, &mut errors)
    } else {
        (planned, Vec::new())
    };
    planned = guests.0;
    let hook_list = configured_hooks(config);
    if !opts.dry_run {
        planned = hooks::run_pre_hooks(exec, planned, &hook_list.0).0;
    }
    let exec_opts = ExecOptions {
        dry_run: opts.dry_run,
        channel_programs: opts.channel_programs,
        ..ExecOptions::default()
    };
    let outcomes = execute_with(exec, &planned, &exec_opts, progress);
    for pool in &pools {
        if !unread.contains(pool) && !outcomes.iter().any(|o| &o.report.pool == pool) {
            progress.done(pool, true, "nothing due");
        }
    }
    let mut reports = Vec::new();
    for outcome in outcomes {
        if let Some(e) = outcome.error {
            errors.push(e.to_string());
        }
        reports.push(outcome.report);
    }
    if !opts.dry_run {
        let created: Vec<_> = reports
            .iter()
            .flat_map(|r| r.created.iter().cloned())
            .collect();
        for run in hooks::run_post_hooks(exec, &created, &hook_list.1) {
            if let Some(why) = run.failure {
                errors.push(format!("post-snapshot hook for {} failed: {why}", run.root));
            }
        }
    }
    let zfs_processes = pools.len() + reports.iter().map(|r| r.processes).sum::<usize>();
    RunReport {
        now: opts.now.to_string(),
        dry_run: opts.dry_run,
        plan: planned,
        guests: guests.1,
        pools: reports,
        errors,
        zfs_processes,
    }
}

/// Guest-aware mode: only guests running here are snapshotted; stopping guests get their
/// final snapshot. Without a guest list, guest datasets are left alone (never guessed).
fn apply_guests(
    exec: &dyn Executor,
    config: &Config,
    input: &PlanInput,
    opts: &RunOptions,
    planned: Plan,
    errors: &mut Vec<String>,
) -> (Plan, Vec<GuestDecision>) {
    let guest_datasets: Vec<DatasetState> = input
        .datasets
        .iter()
        .filter(|d| {
            input
                .policies
                .get(&d.name)
                .is_some_and(|p| p.guests == GuestMode::Auto)
        })
        .cloned()
        .collect();
    let argv = config
        .global
        .guest_command
        .as_ref()
        .map_or_else(guest::default_guest_command, |a| a.as_slice().to_vec());
    let list = match guest::fetch_guests(exec, &argv) {
        Ok(list) => list,
        Err(e) => {
            errors.push(format!(
                "guest list unavailable, guest datasets left untouched: {e}"
            ));
            let mut planned = planned;
            let blocked: BTreeSet<&DatasetName> = guest_datasets.iter().map(|d| &d.name).collect();
            planned
                .create
                .retain(|c| !blocked.contains(&c.snapshot.dataset()));
            planned
                .destroy
                .retain(|d| !blocked.contains(&d.snapshot.dataset()));
            planned.notes.push(Note {
                dataset: None,
                message: format!("guest list unavailable: {e}"),
            });
            return (planned, Vec::new());
        }
    };
    let stamp = SnapName::at(&input.prefix, opts.now, &input.tz, SnapKind::Stopped).stamp();
    let ctx = GuestContext {
        host: &opts.host,
        property: config.global.running_property.as_str(),
        prefix: input.prefix.as_str(),
        stamp: &stamp,
        guests: &list,
        map: &config.guest_map,
    };
    let decisions = guest::decide(&guest_datasets, &ctx);
    let planned = guest::apply(planned, &guest_datasets, &decisions, &ctx);
    (planned, decisions)
}

type HookList = Vec<(DatasetName, Hook)>;

/// Pre- and post-snapshot hooks of the configured datasets.
fn configured_hooks(config: &Config) -> (HookList, HookList) {
    let mut pre = Vec::new();
    let mut post = Vec::new();
    for (ds, entry) in &config.datasets {
        if let Some(h) = &entry.pre_snapshot {
            pre.push((ds.clone(), Hook::from(h)));
        }
        if let Some(h) = &entry.post_snapshot {
            post.push((ds.clone(), Hook::from(h)));
        }
    }
    (pre, post)
}

/// The zone snapshot names use, for rendering `--now`.
pub fn zone(config: &Config) -> jiff::tz::TimeZone {
    naming::zone(config.global.timezone)
}
