//! One snapshot run, end to end: read state (one fast `zfs list` per pool, see
//! [`crate::state`]), plan (pure), apply
//! guest decisions, run hooks, execute (one `zfs program` per pool and round). The CLI and,
//! later, the HA daemon call [`run`]; they only render the [`RunReport`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;
use zferry_config::{Config, GuestMode};
use zferry_exec::Executor;
use zferry_zfs::{DatasetName, PoolName, SnapshotName, UserPropName};

use crate::execute::{ChannelPrograms, ExecOptions, PoolReport, execute_with};
use crate::guest::{self, GuestContext, GuestDecision};
use crate::hooks::{self, Hook};
use crate::model::{DatasetState, Destroy, Kept, Note, Plan, SwitchOverride, Switches};
use crate::naming::{self, SnapKind, SnapName};
use crate::planner::{self, PlanInput, plan};
use crate::progress::{NoProgress, Progress, Step};
use crate::snap_cache::{Changed, Entry, SnapCache, cache_path};
use crate::state::{self, ReadMode};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run's time: snapshot names, due and prune decisions (`--now` simulates).
    pub now: Timestamp,
    pub dry_run: bool,
    pub channel_programs: ChannelPrograms,
    /// Runtime overrides of autosnap/autoprune (e.g. the HA role).
    pub switches: Switches,
    /// Per-subtree switches: the HA role of each service's datasets on this node.
    pub overrides: Vec<SwitchOverride>,
    /// This node's name (guest placement and `label:running`).
    pub host: String,
}

/// What a run did (or, dry, would do).
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub now: String,
    pub dry_run: bool,
    pub plan: Plan,
    /// How each pool's state was read (full or fast listing) and with how many processes.
    pub reads: Vec<PoolRead>,
    pub guests: Vec<GuestDecision>,
    pub pools: Vec<PoolReport>,
    /// Problems that need an admin, one line each (the run did what it safely could).
    pub errors: Vec<String>,
    /// `zfs` processes started: state reads plus execution.
    pub zfs_processes: usize,
}

/// How one pool's state was read.
#[derive(Debug, Serialize)]
pub struct PoolRead {
    pub pool: PoolName,
    pub mode: ReadMode,
    pub processes: usize,
}

/// Removes the planned destroy of `snapshot` from `plan` and returns it.
fn take_destroy(plan: &mut Plan, snapshot: &str) -> Option<Destroy> {
    let at = plan
        .destroy
        .iter()
        .position(|d| d.snapshot.as_str() == snapshot)?;
    Some(plan.destroy.remove(at))
}

/// Moves planned destroys that the program found held to the plan's kept list, so the plan
/// reported is the plan carried out (hold counts from the cache can be stale; see
/// [`crate::snap_cache`]).
fn keep_held(plan: &mut Plan, reports: &[PoolReport]) {
    for h in reports.iter().flat_map(|r| &r.held) {
        let Some(d) = take_destroy(plan, &h.name) else {
            continue;
        };
        let (protection, reason) = planner::held(h.holds);
        plan.kept.push(Kept {
            snapshot: d.snapshot,
            protection,
            reason: format!("{reason} (found when destroying)"),
        });
    }
}

/// Moves planned destroys that the program refused because another snapshot now has the name
/// to the plan's notes, so the plan reported is the plan carried out.
fn note_replaced(plan: &mut Plan, reports: &[PoolReport]) {
    for x in reports.iter().flat_map(|r| &r.replaced) {
        let Some(d) = take_destroy(plan, &x.name) else {
            continue;
        };
        plan.notes.push(Note {
            dataset: Some(d.snapshot.dataset()),
            message: format!(
                "not destroyed: {} has guid {} now, not the planned {} (re-created since the \
                 state was read); its dataset is listed again on the next run",
                d.snapshot, x.guid, d.guid
            ),
        });
    }
}

/// Sets the hold counts the programs found on the snapshots they were asked to destroy.
fn mark_holds<'a>(
    datasets: &mut [DatasetState],
    reports: impl IntoIterator<Item = &'a PoolReport>,
) {
    for h in reports.into_iter().flat_map(|r| &r.held) {
        let snap = datasets
            .iter_mut()
            .flat_map(|d| d.snapshots.iter_mut())
            .find(|s| s.name.as_str() == h.name);
        if let Some(snap) = snap {
            snap.holds = Some(h.holds);
        }
    }
}

/// Teaches each pool's cache what the programs found (created snapshots, destroyed ones,
/// `snapshots_changed` before and after, surprise holds) and writes it. `touched`: the
/// datasets whose snapshots the run set out to change (none in a dry run). A cache that
/// cannot be written costs the next run a full listing, nothing else: logged, not an error.
fn save_caches(
    caches: BTreeMap<PoolName, SnapCache>,
    datasets: &[DatasetState],
    (reports, touched): (&[PoolReport], &BTreeSet<DatasetName>),
    state_dir: &Path,
) {
    for (pool, mut cache) in caches {
        let mut created = Vec::new();
        let mut destroyed = Vec::new();
        let mut changes = Vec::new();
        for r in reports.iter().filter(|r| r.pool == pool) {
            for c in &r.learned {
                let entry = Entry {
                    creation: c.creation,
                    holds: 0,
                };
                cache.insert(c.guid, entry);
                if let Ok(name) = c.name.parse::<SnapshotName>() {
                    created.push((name, c.guid, c.createtxg));
                }
            }
            destroyed.extend(r.destroyed.iter().cloned());
            changes.extend(r.list_changes.iter().filter_map(|c| {
                Some(Changed {
                    dataset: c.dataset.parse().ok()?,
                    before: c.before,
                    after: c.after,
                })
            }));
        }
        let touched: BTreeSet<DatasetName> = touched
            .iter()
            .filter(|d| d.pool() == pool)
            .cloned()
            .collect();
        cache.apply_run(&touched, &changes, &created, &destroyed);
        // The remembered list named a snapshot that is not there any more under that guid.
        for x in reports.iter().flat_map(|r| &r.replaced) {
            if let Ok(name) = x.name.parse::<SnapshotName>() {
                cache.forget(&name.dataset());
            }
        }
        for snap in datasets.iter().flat_map(|d| &d.snapshots) {
            if snap.name.pool() == pool
                && let Some(h) = snap.holds
            {
                cache.set_holds(snap.guid, h);
            }
        }
        let path = cache_path(state_dir, &pool);
        if let Err(e) = cache.save(&path) {
            tracing::warn!(pool = %pool, path = %path.display(),
                "cannot write the snapshot cache ({e}); the next run lists in full");
        }
    }
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
    let state_dir = config.global.state_dir.as_path();
    let read = read_pools(exec, config, opts, &props, progress, &mut errors);
    let mut input = PlanInput::from_config(config, read.datasets, opts.switches, BTreeMap::new());
    input.overrides.clone_from(&opts.overrides);
    let (mut planned, mut guests) = decide(exec, config, &input, opts, guest_mode, &mut errors);
    let hook_list = configured_hooks(config);
    if !opts.dry_run {
        planned = hooks::run_pre_hooks(exec, planned, &hook_list.0).0;
    }
    let exec_opts = ExecOptions {
        dry_run: opts.dry_run,
        channel_programs: opts.channel_programs,
        ..ExecOptions::default()
    };
    let touched: BTreeSet<DatasetName> = if opts.dry_run {
        BTreeSet::new()
    } else {
        let creates = planned.create.iter().map(|c| c.snapshot.dataset());
        creates
            .chain(planned.destroy.iter().map(|d| d.snapshot.dataset()))
            .collect()
    };
    let mut outcomes = execute_with(exec, &planned, &exec_opts, progress);
    let mut first_check = 0;
    if opts.dry_run && outcomes.iter().any(|o| !o.report.held.is_empty()) {
        // The dry run found holds the cache did not know: plan once more with them, so the
        // plan shown is the one an apply run would make (an apply run keeps the held
        // snapshot and prunes by the policy with the hold counted on its next run).
        first_check = outcomes.iter().map(|o| o.report.processes).sum();
        mark_holds(&mut input.datasets, outcomes.iter().map(|o| &o.report));
        let mut again = Vec::new();
        (planned, guests) = decide(exec, config, &input, opts, guest_mode, &mut again);
        outcomes = execute_with(exec, &planned, &exec_opts, progress);
    }
    for pool in &read.listed {
        if !outcomes.iter().any(|o| &o.report.pool == pool) {
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
    keep_held(&mut planned, &reports);
    note_replaced(&mut planned, &reports);
    mark_holds(&mut input.datasets, &reports);
    save_caches(
        read.caches,
        &input.datasets,
        (&reports, &touched),
        state_dir,
    );
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
    let zfs_processes = read.per_pool.iter().map(|r| r.processes).sum::<usize>()
        + reports.iter().map(|r| r.processes).sum::<usize>()
        + first_check;
    RunReport {
        now: opts.now.to_string(),
        dry_run: opts.dry_run,
        plan: planned,
        reads: read.per_pool,
        guests,
        pools: reports,
        errors,
        zfs_processes,
    }
}

/// The pools' state as read for one run.
struct Reads {
    datasets: Vec<DatasetState>,
    per_pool: Vec<PoolRead>,
    /// Pools whose state was read (the others are reported in the errors and skipped).
    listed: Vec<PoolName>,
    caches: BTreeMap<PoolName, SnapCache>,
}

/// Reads every configured pool, each with its cache (see [`state::read_pool`]).
fn read_pools(
    exec: &dyn Executor,
    config: &Config,
    opts: &RunOptions,
    props: &[UserPropName],
    progress: &dyn Progress,
    errors: &mut Vec<String>,
) -> Reads {
    let pools: BTreeSet<PoolName> = config.datasets.keys().map(DatasetName::pool).collect();
    let prefix = config.global.snapshot_prefix.clone();
    let is_policy_name =
        |n: &SnapshotName| SnapName::parse_with_prefix(n.snapshot_part(), &prefix).is_some();
    let state_dir = config.global.state_dir.as_path();
    let real_now = u64::try_from(Timestamp::now().as_second()).unwrap_or(0);
    let mut out = Reads {
        datasets: Vec::new(),
        per_pool: Vec::new(),
        listed: Vec::new(),
        caches: BTreeMap::new(),
    };
    for pool in pools {
        progress.step(&pool, &Step::Listing);
        // Without channel programs nothing checks holds at destroy time: read them (full).
        let mut cache = match opts.channel_programs {
            ChannelPrograms::Auto => SnapCache::load(&cache_path(state_dir, &pool)),
            ChannelPrograms::Never => SnapCache::default(),
        };
        let root = pool.root_dataset();
        match state::read_pool(exec, &root, props, &is_policy_name, (&mut cache, real_now)) {
            Ok(found) => {
                tracing::debug!(pool = %pool, mode = ?found.mode, processes = found.processes, "state read");
                out.per_pool.push(PoolRead {
                    pool: pool.clone(),
                    mode: found.mode,
                    processes: found.processes,
                });
                out.datasets.extend(found.datasets);
                out.caches.insert(pool.clone(), cache);
                out.listed.push(pool);
            }
            Err(e) => {
                let line = format!("pool {pool}: cannot read state, skipped: {e}");
                progress.done(&pool, false, &line);
                errors.push(line);
            }
        }
    }
    out
}

/// Plans (pure) and, in guest mode, applies the guests' placement.
fn decide(
    exec: &dyn Executor,
    config: &Config,
    input: &PlanInput,
    opts: &RunOptions,
    guest_mode: bool,
    errors: &mut Vec<String>,
) -> (Plan, Vec<GuestDecision>) {
    let planned = plan(input, opts.now);
    if guest_mode {
        apply_guests(exec, config, input, opts, planned, errors)
    } else {
        (planned, Vec::new())
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
    let argv = guest::guest_command(&config.global);
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
