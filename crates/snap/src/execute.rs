//! Applies a [`Plan`], pool by pool: one `zfs program` for all creates and property sets of a
//! pool, one for all its destroys; a plain `zfs snapshot`/`zfs set`/`zfs destroy` fallback
//! when channel programs are unavailable (non-root, ZFS without `zfs program`) or turned off.
//!
//! ZFS takes at most one snapshot of a dataset per transaction group (a second one fails with
//! EAGAIN inside a channel program and "multiple snapshots of same fs not allowed" from
//! `zfs snapshot`; both seen on OpenZFS 2.3.2). When a run creates two snapshots of one
//! dataset (say hourly and daily at midnight) the creates are split into rounds, one program
//! each; the first program checks the names of every round, so a name conflict anywhere still
//! creates nothing.
//!
//! Every destructive step is logged with its reason before it runs. A dry run checks with
//! `zfs program -n` (the programs' check-only mode: `-n` refuses `zfs.sync.*`) and changes
//! nothing.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use zferry_exec::{CommandSpec, Executor, Output};
use zferry_zfs::{CommandFailure, DatasetName, PoolName, SnapshotName, ZfsError, ZfsErrorKind};

use crate::lua::{self, Limits, Mode, OpFailure, PropSet, ResultError};
use crate::model::{Destroy, Plan};

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
    /// Per `zfs` process.
    pub timeout: Duration,
}

impl Default for ExecOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            channel_programs: ChannelPrograms::Auto,
            timeout: Duration::from_mins(10),
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
    pub properties_set: usize,
    /// Transaction groups used for creates (rounds, see the module docs).
    pub create_rounds: usize,
    /// `zfs` processes spawned for this pool.
    pub processes: usize,
    pub duration: Duration,
    pub notes: Vec<String>,
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
    if opts.dry_run {
        for line in plan_lines(plan) {
            tracing::info!(dry_run = true, "{line}");
        }
    }
    split_by_pool(plan)
        .into_iter()
        .map(|(pool, work)| execute_pool(exec, &pool, &work, opts))
        .collect()
}

/// Executes one pool's share of a plan.
pub fn execute_pool(
    exec: &dyn Executor,
    pool: &PoolName,
    work: &PoolWork,
    opts: &ExecOptions,
) -> PoolOutcome {
    let start = Instant::now();
    let mut run = PoolRun {
        exec,
        opts,
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
            properties_set: 0,
            create_rounds: 0,
            processes: 0,
            duration: Duration::ZERO,
            notes: Vec::new(),
        },
    };
    let mut error = run.creates(work).err();
    if error.is_none() {
        error = run.destroys(&work.destroys).err();
    } else if !work.destroys.is_empty() {
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
        source: &str,
        mode: Mode,
        args: Vec<String>,
    ) -> Result<Ran, ExecuteError> {
        let limits = Limits::for_operations(args.len());
        let spec = lua::program_spec(&self.report.pool, source, mode, limits, args);
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

    fn fall_back(&mut self, why: &str) {
        tracing::warn!(pool = %self.report.pool, "channel programs unavailable ({why}); using plain zfs commands");
        self.report.method = Method::Fallback;
        self.report
            .notes
            .push(format!("channel programs unavailable: {why}"));
    }

    fn creates(&mut self, work: &PoolWork) -> Result<(), ExecuteError> {
        if work.rounds.is_empty() && work.props.is_empty() {
            return Ok(());
        }
        if self.report.method == Method::ChannelProgram {
            match self.program_creates(work)? {
                None => return Ok(()),
                Some(why) => self.fall_back(&why),
            }
        }
        self.fallback_creates(work)
    }

    /// `Ok(Some(reason))` when channel programs turned out to be unavailable.
    fn program_creates(&mut self, work: &PoolWork) -> Result<Option<String>, ExecuteError> {
        let mode = if self.opts.dry_run {
            Mode::Check
        } else {
            Mode::Apply
        };
        let first: &[SnapshotName] = work.rounds.first().map_or(&[], Vec::as_slice);
        let later: Vec<SnapshotName> = work.rounds.iter().skip(1).flatten().cloned().collect();
        let args = lua::create_args(mode, first, &work.props, &later);
        let result = match self.program(lua::CREATE_PROGRAM, mode, args)? {
            Ran::Unavailable(why) => return Ok(Some(why)),
            Ran::Result(r) => r,
        };
        self.check_create_result(&result, !result.applied)?;
        self.report.create_rounds = 1;
        self.report.properties_set = work.props.len();
        if self.opts.dry_run {
            self.report
                .created
                .extend(work.rounds.iter().flatten().cloned());
            return Ok(None);
        }
        self.report.created.extend(first.iter().cloned());
        for round in work.rounds.iter().skip(1) {
            let args = lua::create_args(Mode::Apply, round, &[], &[]);
            let result = match self.program(lua::CREATE_PROGRAM, Mode::Apply, args)? {
                Ran::Unavailable(why) => {
                    // The first round ran as a program; finish with plain commands.
                    self.fall_back(&why);
                    self.zfs(snapshot_args(round))?;
                    self.report.created.extend(round.iter().cloned());
                    self.report.create_rounds += 1;
                    continue;
                }
                Ran::Result(r) => r,
            };
            self.check_create_result(&result, false)?;
            self.report.created.extend(round.iter().cloned());
            self.report.create_rounds += 1;
        }
        Ok(None)
    }

    fn check_create_result(
        &self,
        result: &lua::ProgramResult,
        refused: bool,
    ) -> Result<(), ExecuteError> {
        if result.ok {
            return Ok(());
        }
        let failures = result.failures.clone();
        Err(if refused {
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
            let mut args = vec!["set".to_owned(), format!("{prop}={value}")];
            args.extend(datasets);
            self.zfs(args)?;
            self.report.properties_set += n;
        }
        for round in &work.rounds {
            self.zfs(snapshot_args(round))?;
            self.report.created.extend(round.iter().cloned());
            self.report.create_rounds += 1;
        }
        Ok(())
    }

    fn destroys(&mut self, destroys: &[Destroy]) -> Result<(), ExecuteError> {
        if destroys.is_empty() {
            return Ok(());
        }
        for d in destroys {
            tracing::info!(pool = %self.report.pool, snapshot = %d.snapshot, dry_run = self.opts.dry_run,
                reason = %d.reason, "destroy");
        }
        let names: Vec<SnapshotName> = destroys.iter().map(|d| d.snapshot.clone()).collect();
        if self.report.method == Method::ChannelProgram {
            let mode = if self.opts.dry_run {
                Mode::Check
            } else {
                Mode::Apply
            };
            let args = lua::destroy_args(mode, &names);
            match self.program(lua::DESTROY_PROGRAM, mode, args)? {
                Ran::Result(r) => {
                    self.report.missing.extend(r.missing.iter().cloned());
                    if !r.ok {
                        return Err(if r.applied {
                            ExecuteError::Partial {
                                pool: self.pool(),
                                stage: "destroy",
                                failures: r.failures,
                            }
                        } else {
                            ExecuteError::Refused {
                                pool: self.pool(),
                                stage: "destroy",
                                failures: r.failures,
                            }
                        });
                    }
                    self.report.destroyed.extend(
                        names
                            .into_iter()
                            .filter(|n| !r.missing.iter().any(|m| m == n.as_str())),
                    );
                    return Ok(());
                }
                Ran::Unavailable(why) => self.fall_back(&why),
            }
        }
        self.fallback_destroys(&names)
    }

    /// `zfs destroy ds@a,b,c`, one process per dataset; keeps going after a failure and
    /// returns the first one.
    fn fallback_destroys(&mut self, names: &[SnapshotName]) -> Result<(), ExecuteError> {
        if self.opts.dry_run {
            self.report
                .notes
                .push("dry run without channel programs: nothing was checked by ZFS".into());
            self.report.destroyed.extend(names.iter().cloned());
            return Ok(());
        }
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
}

fn snapshot_args(round: &[SnapshotName]) -> Vec<String> {
    std::iter::once("snapshot".to_owned())
        .chain(round.iter().map(ToString::to_string))
        .collect()
}

#[cfg(test)]
mod tests;
