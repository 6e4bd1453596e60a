//! Applies a [`Plan`], pool by pool, with [`lua::RUN_PROGRAM`]: one `zfs program` per create
//! round, the last one also carrying the pool's destroys (one program when nothing is
//! created); a plain `zfs snapshot`/`zfs set`/`zfs destroy` fallback when channel programs are
//! unavailable (non-root, ZFS without `zfs program`) or turned off.
//!
//! ZFS takes at most one snapshot of a dataset per transaction group (a second one fails with
//! EAGAIN inside a channel program and "multiple snapshots of same fs not allowed" from
//! `zfs snapshot`; both seen on OpenZFS 2.3.2), and one channel program is one transaction
//! group. When a run creates two snapshots of one dataset (say hourly and daily at midnight)
//! the creates are split into rounds, one program each; the first program checks the names
//! of every round, so a name conflict anywhere still creates nothing. A run with hourly and
//! daily due and pruning to do thus costs one `zfs list` and two programs per pool.
//!
//! Destroys run only after every create of the run succeeded: they ride in the last round's
//! program, after its creates. A held snapshot is kept and reported (`held`), whatever the
//! plan said; a refused destroy (a clone depends on it) refuses the destroy batch, never the
//! creates. Every destroy is logged with its reason before the program that
//! carries it starts. A dry run checks everything with one `zfs program -n` (the program's
//! check-only mode: `-n` refuses `zfs.sync.*`) and changes nothing.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use zferry_exec::{CommandSpec, Executor, Output};
use zferry_zfs::{
    CommandFailure, DatasetName, Guid, PoolName, SnapshotName, ZfsError, ZfsErrorKind, classify,
};

use crate::lua::{
    self, Batch, Created, Held, Limits, ListChange, Mode, OpFailure, PropSet, Replaced, ResultError,
};
use crate::model::{Destroy, Plan};
use crate::progress::{NoProgress, Progress, Step};

/// Whether to use channel programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum ChannelPrograms {
    /// Use them, fall back to plain commands when ZFS refuses them (permission, missing).
    #[default]
    Auto,
    /// Never (`--no-channel-programs`).
    Never,
}

/// How to execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOptions {
    pub dry_run: bool,
    pub channel_programs: ChannelPrograms,
    /// Per `zfs` process. A program or batch waits for its transaction group, and one that
    /// creates or destroys hundreds of snapshots on a busy pool can take many minutes; killing
    /// the `zfs` process would not stop the kernel's work, only hide its result.
    pub timeout: Duration,
}

impl Default for ExecOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            channel_programs: ChannelPrograms::Auto,
            timeout: Duration::from_hours(1),
        }
    }
}

/// How a pool's changes were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Method {
    ChannelProgram,
    Fallback,
}

/// What was done on one pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolReport {
    pub pool: PoolName,
    pub method: Method,
    pub dry_run: bool,
    /// Created (or, in a dry run, checked and creatable).
    pub created: Vec<SnapshotName>,
    pub destroyed: Vec<SnapshotName>,
    /// Destroys skipped because the snapshot was already gone.
    pub missing: Vec<String>,
    /// Destroys skipped because the snapshot has user holds (checked by the program in the
    /// transaction that destroys).
    pub held: Vec<Held>,
    /// Destroys skipped because another snapshot now has the name: its guid is not the one
    /// the plan saw (checked by the program in the transaction that destroys).
    pub replaced: Vec<Replaced>,
    /// guid and creation of the snapshots the programs created, for the snapshot cache.
    #[serde(skip)]
    pub learned: Vec<Created>,
    /// Each program's `snapshots_changed` before/after per dataset, in order, for the
    /// snapshot cache.
    #[serde(skip)]
    pub list_changes: Vec<ListChange>,
    pub properties_set: usize,
    /// Transaction groups used for creates (rounds, see the module docs).
    pub create_rounds: usize,
    /// `zfs` processes spawned for this pool.
    pub processes: usize,
    pub duration: Duration,
    pub notes: Vec<String>,
}

impl PoolReport {
    /// One line: what was done, with how many processes, in how long.
    pub fn summary(&self) -> String {
        let (made, gone) = if self.dry_run {
            ("to create", "to destroy")
        } else {
            ("created", "destroyed")
        };
        let mut kept = String::new();
        if !self.held.is_empty() {
            kept = format!(", {} kept (held)", self.held.len());
        }
        if !self.replaced.is_empty() {
            let n = self.replaced.len();
            kept = format!("{kept}, {n} kept (re-created since listed)");
        }
        format!(
            "{} snapshots {made}, {} {gone}{kept}, {} zfs processes after the listing, {:.1}s",
            self.created.len(),
            self.destroyed.len(),
            self.processes,
            self.duration.as_secs_f64()
        )
    }
}

/// Why a pool's execution stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// Phase 1 of a program found problems; nothing was changed by that program.
    #[error("pool {pool}: {stage} refused, nothing changed: {}", describe(.failures))]
    Refused {
        pool: PoolName,
        stage: &'static str,
        failures: Vec<OpFailure>,
    },
    /// Phase 2 failed for some operations (should not happen after phase 1 passed).
    #[error("pool {pool}: {stage} partly failed: {}", describe(.failures))]
    Partial {
        pool: PoolName,
        stage: &'static str,
        failures: Vec<OpFailure>,
    },
    #[error("pool {pool}: {source}")]
    Zfs {
        pool: PoolName,
        #[source]
        source: ZfsError,
    },
    #[error("pool {pool}: {source}")]
    Output {
        pool: PoolName,
        #[source]
        source: ResultError,
    },
}

fn describe(failures: &[OpFailure]) -> String {
    failures
        .iter()
        .map(OpFailure::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One pool's result: what was done, and the error that stopped it, if any.
#[derive(Debug)]
pub struct PoolOutcome {
    pub report: PoolReport,
    pub error: Option<ExecuteError>,
}

/// The plan's work on one pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolWork {
    /// Round `k` holds the `k`-th create of each dataset: at most one snapshot per dataset.
    pub rounds: Vec<Vec<SnapshotName>>,
    pub props: Vec<PropSet>,
    pub destroys: Vec<Destroy>,
}

/// Splits a plan by pool, creates into rounds (plan order kept within a round).
pub fn split_by_pool(plan: &Plan) -> BTreeMap<PoolName, PoolWork> {
    let mut work: BTreeMap<PoolName, PoolWork> = BTreeMap::new();
    let mut per_dataset: BTreeMap<DatasetName, usize> = BTreeMap::new();
    for c in &plan.create {
        let w = work.entry(c.snapshot.pool()).or_default();
        let k = per_dataset.entry(c.snapshot.dataset()).or_insert(0);
        if w.rounds.len() <= *k {
            w.rounds.push(Vec::new());
        }
        w.rounds[*k].push(c.snapshot.clone());
        *k += 1;
    }
    for p in &plan.set_properties {
        work.entry(p.dataset.pool())
            .or_default()
            .props
            .push(PropSet {
                dataset: p.dataset.clone(),
                property: p.property.clone(),
                value: p.value.clone(),
            });
    }
    for d in &plan.destroy {
        work.entry(d.snapshot.pool())
            .or_default()
            .destroys
            .push(d.clone());
    }
    work
}

/// One line per planned item, for dry runs and logs.
pub fn plan_lines(plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    for p in &plan.set_properties {
        lines.push(format!(
            "set {}={} on {}: {}",
            p.property, p.value, p.dataset, p.reason
        ));
    }
    for c in &plan.create {
        lines.push(format!("create {}: {}", c.snapshot, c.reason));
    }
    for d in &plan.destroy {
        lines.push(format!("destroy {}: {}", d.snapshot, d.reason));
    }
    for k in &plan.kept {
        lines.push(format!("keep {}: {}", k.snapshot, k.reason));
    }
    for n in &plan.notes {
        match &n.dataset {
            Some(ds) => lines.push(format!("note {ds}: {}", n.message)),
            None => lines.push(format!("note: {}", n.message)),
        }
    }
    lines
}

/// Executes `plan` on every pool it touches, one pool after the other.
pub fn execute(exec: &dyn Executor, plan: &Plan, opts: &ExecOptions) -> Vec<PoolOutcome> {
    execute_with(exec, plan, opts, &NoProgress)
}

/// [`execute`], reporting each pool's steps to `progress`.
pub fn execute_with(
    exec: &dyn Executor,
    plan: &Plan,
    opts: &ExecOptions,
    progress: &dyn Progress,
) -> Vec<PoolOutcome> {
    if opts.dry_run {
        for line in plan_lines(plan) {
            tracing::info!(dry_run = true, "{line}");
        }
    }
    split_by_pool(plan)
        .into_iter()
        .map(|(pool, work)| execute_pool(exec, &pool, &work, opts, progress))
        .collect()
}

/// Executes one pool's share of a plan.
pub fn execute_pool(
    exec: &dyn Executor,
    pool: &PoolName,
    work: &PoolWork,
    opts: &ExecOptions,
    progress: &dyn Progress,
) -> PoolOutcome {
    let start = Instant::now();
    let mut run = PoolRun {
        exec,
        opts,
        progress,
        destroys_reached: false,
        report: PoolReport {
            pool: pool.clone(),
            method: match opts.channel_programs {
                ChannelPrograms::Auto => Method::ChannelProgram,
                ChannelPrograms::Never => Method::Fallback,
            },
            dry_run: opts.dry_run,
            created: Vec::new(),
            destroyed: Vec::new(),
            missing: Vec::new(),
            held: Vec::new(),
            replaced: Vec::new(),
            learned: Vec::new(),
            list_changes: Vec::new(),
            properties_set: 0,
            create_rounds: 0,
            processes: 0,
            duration: Duration::ZERO,
            notes: Vec::new(),
        },
    };
    let error = run.apply(work).err();
    if error.is_some() && !run.destroys_reached && !work.destroys.is_empty() {
        run.report.notes.push(format!(
            "{} destroys skipped because the creates failed",
            work.destroys.len()
        ));
    }
    run.report.duration = start.elapsed();
    if let Some(e) = &error {
        tracing::error!(pool = %pool, "{e}");
    }
    tracing::info!(
        pool = %pool,
        method = ?run.report.method,
        dry_run = opts.dry_run,
        created = run.report.created.len(),
        destroyed = run.report.destroyed.len(),
        properties = run.report.properties_set,
        processes = run.report.processes,
        duration_ms = u64::try_from(run.report.duration.as_millis()).unwrap_or(u64::MAX),
        "pool done"
    );
    progress.done(
        pool,
        error.is_none(),
        &match &error {
            None => run.report.summary(),
            Some(e) => e.to_string(),
        },
    );
    PoolOutcome {
        report: run.report,
        error,
    }
}

/// What a program run told us.
enum Ran {
    Result(lua::ProgramResult),
    /// ZFS refused channel programs; use plain commands.
    Unavailable(String),
}

struct PoolRun<'a> {
    exec: &'a dyn Executor,
    opts: &'a ExecOptions,
    progress: &'a dyn Progress,
    /// The destroys were handed to ZFS (so a later error is not "skipped because the
    /// creates failed").
    destroys_reached: bool,
    report: PoolReport,
}

impl PoolRun<'_> {
    fn pool(&self) -> PoolName {
        self.report.pool.clone()
    }

    fn spawn(&mut self, spec: &CommandSpec) -> Result<Output, ExecuteError> {
        self.report.processes += 1;
        let spec = spec.clone().timeout(self.opts.timeout);
        self.exec.run(&spec).map_err(|e| ExecuteError::Zfs {
            pool: self.pool(),
            source: ZfsError::from(e),
        })
    }

    /// Runs a plain `zfs` command; a failure is a classified error.
    fn zfs(&mut self, args: Vec<String>) -> Result<(), ExecuteError> {
        let spec = CommandSpec::new("zfs").args(args);
        let out = self.spawn(&spec)?;
        match CommandFailure::from_output(&out) {
            None => Ok(()),
            Some(f) => Err(ExecuteError::Zfs {
                pool: self.pool(),
                source: ZfsError::Command(Box::new(f)),
            }),
        }
    }

    fn program(
        &mut self,
        mode: Mode,
        batch: &Batch<'_>,
        (round, rounds): (usize, usize),
    ) -> Result<Ran, ExecuteError> {
        let step = Step::Program {
            round,
            rounds,
            create: batch.create.len()
                + if mode == Mode::Check {
                    batch.later.len()
                } else {
                    0
                },
            destroy: batch.destroy.len(),
            dry_run: mode == Mode::Check,
        };
        self.progress.step(&self.report.pool, &step);
        let args = lua::run_args(mode, batch);
        let limits = Limits::for_operations(args.len());
        let spec = lua::program_spec(&self.report.pool, lua::RUN_PROGRAM, mode, limits, args);
        let out = self.spawn(&spec)?;
        if let Some(f) = CommandFailure::from_output(&out) {
            let unavailable = f.kind == ZfsErrorKind::PermissionDenied
                || f.stderr.contains("unrecognized command");
            if unavailable {
                return Ok(Ran::Unavailable(f.stderr.trim().to_owned()));
            }
            return Err(ExecuteError::Zfs {
                pool: self.pool(),
                source: ZfsError::Command(Box::new(f)),
            });
        }
        let result =
            lua::parse_result(&out.stdout_lossy()).map_err(|source| ExecuteError::Output {
                pool: self.pool(),
                source,
            })?;
        if let Some(what) = &result.unsupported {
            return Ok(Ran::Unavailable(format!("this ZFS lacks zfs.*.{what}")));
        }
        Ok(Ran::Result(result))
    }

    /// Reports a plain-command step: `zfs <what>` for `count` items.
    fn command_step(&self, what: &'static str, count: usize) {
        self.progress
            .step(&self.report.pool, &Step::Command { what, count });
    }

    fn fall_back(&mut self, why: &str) {
        tracing::warn!(pool = %self.report.pool, "channel programs unavailable ({why}); using plain zfs commands");
        self.report.method = Method::Fallback;
        self.report
            .notes
            .push(format!("channel programs unavailable: {why}"));
    }

    /// Logs every destroy with its reason, before ZFS is asked to do it.
    fn announce(&self, destroys: &[Destroy]) {
        for d in destroys {
            tracing::info!(pool = %self.report.pool, snapshot = %d.snapshot, dry_run = self.opts.dry_run,
                reason = %d.reason, "destroy");
        }
    }

    fn apply(&mut self, work: &PoolWork) -> Result<(), ExecuteError> {
        if work.rounds.is_empty() && work.props.is_empty() && work.destroys.is_empty() {
            return Ok(());
        }
        let doomed = work.destroys.as_slice();
        if self.report.method == Method::ChannelProgram {
            let ran = if self.opts.dry_run {
                self.check_program(work, doomed)?
            } else {
                self.programs(work, doomed)?
            };
            match ran {
                None => return Ok(()),
                // Nothing was changed yet: the whole pool goes the plain way.
                Some(why) => self.fall_back(&why),
            }
        }
        self.fallback_creates(work)?;
        self.announce(&work.destroys);
        self.fallback_destroys(doomed)
    }

    /// Dry run: one read-only program checks every round's creates and every destroy.
    fn check_program(
        &mut self,
        work: &PoolWork,
        doomed: &[Destroy],
    ) -> Result<Option<String>, ExecuteError> {
        let first: &[SnapshotName] = work.rounds.first().map_or(&[], Vec::as_slice);
        let later: Vec<SnapshotName> = work.rounds.iter().skip(1).flatten().cloned().collect();
        let batch = Batch {
            create: first,
            props: &work.props,
            later: &later,
            destroy: doomed,
        };
        self.announce(&work.destroys);
        let result = match self.program(Mode::Check, &batch, (1, 1))? {
            Ran::Unavailable(why) => return Ok(Some(why)),
            Ran::Result(r) => r,
        };
        self.check_creates(&result, true)?;
        self.report.create_rounds = usize::from(!work.rounds.is_empty());
        self.report.properties_set = work.props.len();
        self.report
            .created
            .extend(work.rounds.iter().flatten().cloned());
        self.take_destroys(result.destroy, doomed)?;
        Ok(None)
    }

    /// One program per create round (one transaction group each); the first also sets the
    /// properties and checks the later rounds' names, the last also destroys. Without
    /// creates, one program destroys. `Ok(Some(reason))` when channel programs turned out to
    /// be unavailable before anything changed.
    fn programs(
        &mut self,
        work: &PoolWork,
        doomed: &[Destroy],
    ) -> Result<Option<String>, ExecuteError> {
        let no_creates: [Vec<SnapshotName>; 1] = [Vec::new()];
        let rounds: &[Vec<SnapshotName>] = if work.rounds.is_empty() {
            &no_creates
        } else {
            &work.rounds
        };
        let last = rounds.len() - 1;
        for (k, round) in rounds.iter().enumerate() {
            let later: Vec<SnapshotName> = if k == 0 {
                rounds.iter().skip(1).flatten().cloned().collect()
            } else {
                Vec::new()
            };
            let batch = Batch {
                create: round,
                props: if k == 0 { &work.props } else { &[] },
                later: &later,
                destroy: if k == last { doomed } else { &[] },
            };
            if k == last {
                self.announce(&work.destroys);
            }
            let result = match self.program(Mode::Apply, &batch, (k + 1, rounds.len()))? {
                Ran::Unavailable(why) if k == 0 => return Ok(Some(why)),
                Ran::Unavailable(why) => {
                    // Earlier rounds ran as programs; finish with plain commands.
                    self.fall_back(&why);
                    for round in &rounds[k..] {
                        self.command_step("snapshot", round.len());
                        self.zfs(snapshot_args(round))?;
                        self.report.created.extend(round.iter().cloned());
                        self.report.create_rounds += 1;
                    }
                    if k != last {
                        self.announce(&work.destroys);
                    }
                    self.fallback_destroys(doomed)?;
                    return Ok(None);
                }
                Ran::Result(r) => r,
            };
            self.check_creates(&result, k == 0)?;
            self.report.learned.extend(result.created.iter().cloned());
            self.report
                .list_changes
                .extend(result.changed.iter().cloned());
            if k == 0 {
                self.report.properties_set = work.props.len();
            }
            if !round.is_empty() {
                self.report.created.extend(round.iter().cloned());
                self.report.create_rounds += 1;
            }
            if k == last {
                self.take_destroys(result.destroy, doomed)?;
            }
        }
        Ok(None)
    }

    /// `first`: the run's first program, whose refusal means nothing changed.
    fn check_creates(&self, result: &lua::ProgramResult, first: bool) -> Result<(), ExecuteError> {
        if result.ok {
            return Ok(());
        }
        let failures = result.failures.clone();
        Err(if first && !result.applied {
            ExecuteError::Refused {
                pool: self.pool(),
                stage: "snapshot creation",
                failures,
            }
        } else {
            ExecuteError::Partial {
                pool: self.pool(),
                stage: "snapshot creation",
                failures,
            }
        })
    }

    /// Records the destroy batch's outcome from the program that carried it.
    fn take_destroys(
        &mut self,
        result: Option<lua::DestroyResult>,
        doomed: &[Destroy],
    ) -> Result<(), ExecuteError> {
        if doomed.is_empty() {
            return Ok(());
        }
        self.destroys_reached = true;
        let Some(r) = result else {
            return Err(ExecuteError::Output {
                pool: self.pool(),
                source: ResultError {
                    reason: "destroys were passed but no destroy result came back".into(),
                    output: String::new(),
                },
            });
        };
        self.report.missing.extend(r.missing.iter().cloned());
        for h in &r.held {
            tracing::info!(pool = %self.report.pool, snapshot = %h.name, holds = h.holds,
                "kept: the snapshot has user holds");
        }
        self.report.held.extend(r.held.iter().cloned());
        for x in &r.replaced {
            self.keep_replaced(x.clone());
        }
        if !r.ok {
            let (pool, failures) = (self.pool(), r.failures);
            return Err(if r.applied {
                ExecuteError::Partial {
                    pool,
                    stage: "destroy",
                    failures,
                }
            } else {
                ExecuteError::Refused {
                    pool,
                    stage: "destroy",
                    failures,
                }
            });
        }
        self.report.destroyed.extend(
            doomed
                .iter()
                .map(|d| &d.snapshot)
                .filter(|n| !r.missing.iter().any(|m| m == n.as_str()))
                .filter(|n| !r.held.iter().any(|h| h.name == n.as_str()))
                .filter(|n| !r.replaced.iter().any(|x| x.name == n.as_str()))
                .cloned(),
        );
        Ok(())
    }

    fn fallback_creates(&mut self, work: &PoolWork) -> Result<(), ExecuteError> {
        if self.opts.dry_run {
            self.report
                .notes
                .push("dry run without channel programs: nothing was checked by ZFS".into());
            self.report
                .created
                .extend(work.rounds.iter().flatten().cloned());
            return Ok(());
        }
        let mut groups: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for p in &work.props {
            groups
                .entry((p.property.clone(), p.value.clone()))
                .or_default()
                .push(p.dataset.to_string());
        }
        for ((prop, value), datasets) in groups {
            let n = datasets.len();
            self.command_step("set", n);
            let mut args = vec!["set".to_owned(), format!("{prop}={value}")];
            args.extend(datasets);
            self.zfs(args)?;
            self.report.properties_set += n;
        }
        for round in &work.rounds {
            self.command_step("snapshot", round.len());
            self.zfs(snapshot_args(round))?;
            self.report.created.extend(round.iter().cloned());
            self.report.create_rounds += 1;
        }
        Ok(())
    }

    /// `zfs destroy ds@a,b,c`, one process per dataset; keeps going after a failure and
    /// returns the first one. Plain commands cannot check the guid in the transaction that
    /// destroys, as the program does; so one `zfs get guid` of every doomed snapshot just
    /// before narrows the window from the whole run to one process: a snapshot re-created
    /// under its name since the plan's read is kept (`replaced`), one already gone is
    /// `missing`.
    fn fallback_destroys(&mut self, doomed: &[Destroy]) -> Result<(), ExecuteError> {
        if doomed.is_empty() {
            return Ok(());
        }
        self.destroys_reached = true;
        if self.opts.dry_run {
            self.report
                .notes
                .push("dry run without channel programs: nothing was checked by ZFS".into());
            self.report
                .destroyed
                .extend(doomed.iter().map(|d| d.snapshot.clone()));
            return Ok(());
        }
        let now = self.current_guids(doomed)?;
        let mut names = Vec::new();
        for d in doomed {
            match now.get(d.snapshot.as_str()) {
                None => self.report.missing.push(d.snapshot.to_string()),
                Some(&guid) if guid != d.guid => self.keep_replaced(Replaced {
                    name: d.snapshot.to_string(),
                    guid,
                }),
                Some(_) => names.push(&d.snapshot),
            }
        }
        if names.is_empty() {
            return Ok(());
        }
        self.command_step("destroy", names.len());
        let mut by_dataset: BTreeMap<DatasetName, Vec<&SnapshotName>> = BTreeMap::new();
        for n in names {
            by_dataset.entry(n.dataset()).or_default().push(n);
        }
        let mut first_error = None;
        for (ds, snaps) in by_dataset {
            let list: Vec<&str> = snaps.iter().map(|s| s.snapshot_part()).collect();
            match self.zfs(vec!["destroy".into(), format!("{ds}@{}", list.join(","))]) {
                Ok(()) => self.report.destroyed.extend(snaps.into_iter().cloned()),
                Err(e) => {
                    self.report.notes.push(e.to_string());
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Logs and records a destroy skipped because the name now belongs to another snapshot.
    fn keep_replaced(&mut self, x: Replaced) {
        tracing::warn!(pool = %self.report.pool, snapshot = %x.name, guid = %x.guid,
            "kept: another snapshot was created under this name since the state was read; \
             it is listed again on the next run");
        self.report.replaced.push(x);
    }

    /// The guid each of `doomed` has now, by name, from one `zfs get`; a snapshot that no
    /// longer exists is absent (`zfs get` names it on stderr, exits 1, and prints the rest).
    fn current_guids(
        &mut self,
        doomed: &[Destroy],
    ) -> Result<BTreeMap<String, Guid>, ExecuteError> {
        let spec = CommandSpec::new("zfs")
            .args(["get", "-H", "-p", "-o", "name,value", "guid"])
            .args(doomed.iter().map(|d| d.snapshot.to_string()));
        let out = self.spawn(&spec)?;
        let mut guids = BTreeMap::new();
        for line in out.stdout_lossy().lines() {
            let Some((name, value)) = line.split_once('\t') else {
                continue;
            };
            if let Ok(guid) = value.parse::<Guid>() {
                guids.insert(name.to_owned(), guid);
            }
        }
        // Every name absent from a failed `zfs get` must be explained by "does not exist";
        // anything else (permissions, I/O) is an error, not a reason to skip.
        if let Some(f) = CommandFailure::from_output(&out) {
            let unexplained = doomed.iter().any(|d| {
                !guids.contains_key(d.snapshot.as_str())
                    && !out.stderr.contains(d.snapshot.as_str())
            }) || !out
                .stderr
                .lines()
                .all(|l| l.trim().is_empty() || classify(l) == ZfsErrorKind::DatasetNotFound);
            if unexplained {
                return Err(ExecuteError::Zfs {
                    pool: self.pool(),
                    source: ZfsError::Command(Box::new(f)),
                });
            }
        }
        Ok(guids)
    }
}

fn snapshot_args(round: &[SnapshotName]) -> Vec<String> {
    std::iter::once("snapshot".to_owned())
        .chain(round.iter().map(ToString::to_string))
        .collect()
}

#[cfg(test)]
mod tests;
