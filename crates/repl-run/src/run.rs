//! One run of one job: lock the local pools, list each host (at most twice), plan every
//! (source dataset, target) pair, apply the guards, send, resume, move the cursors, record.
//!
//! Every decision comes from the pure planner (`zferry_repl`) and the guards; this file only
//! gathers their inputs and carries out what they return. A pair that cannot proceed is
//! reported with the planner's evidence; it never stops the other pairs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zferry_config::{OnDivergence, RawMode};
use zferry_exec::{CommandSpec, Executor, RetryClass};
use zferry_repl::{
    Common, CursorUpdate, Destruction, Entry, Epoch, JobOptions, Outcome, PreservePlan,
    PreserveRefusal, SendVerdict, ShrinkVerdict, Step, TargetPlan, TargetState, check_empty_source,
    check_shrink, diverged_epoch_suffix, diverged_suffix, plan_fanout, plan_preserve,
};
use zferry_zfs::{CommandFailure, DatasetName, ZfsErrorKind};

use crate::argv::{self, SendFlags};
use crate::events::{Event, EventSink};
use crate::fencing::{self, Fence, Side};
use crate::hosts::Hosts;
use crate::job::{JobSpec, Target, source_datasets, target_dataset};
use crate::listing::{self, DatasetRow, Entries};
use crate::lock::{self, PoolLock};
use crate::pipeline::{OnProgress, TransferError, transfer};
use crate::progress::Progress;
use crate::report::{PairReport, PairStatus};
use crate::state::{self, JobState, PairState};
use crate::wire;

/// At most one progress event per transfer this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(3);

/// A pair skipped as unchanged is planned again (its snapshots listed) at least this often,
/// so a change the `snapshots_changed` check could not see (clocks far apart) is found
/// within the hour.
const REPLAN_EVERY: Duration = Duration::from_hours(1);

/// Receives `(pair label, totals)` while a stream runs.
pub type ProgressSink = Arc<dyn Fn(&str, &Progress) + Send + Sync>;

/// How to run.
#[derive(Clone)]
pub struct RunOptions {
    pub dry_run: bool,
    pub accept_shrink: bool,
    /// Plan every pair even when `snapshots_changed` says nothing moved.
    pub full_list: bool,
    pub lock_wait: Duration,
    pub lock_dir: PathBuf,
    pub state_dir: PathBuf,
    pub progress: Option<ProgressSink>,
    /// Receives plan, transfer and pair events as they happen.
    pub events: Option<EventSink>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("dry_run", &self.dry_run)
            .field("accept_shrink", &self.accept_shrink)
            .field("full_list", &self.full_list)
            .field("lock_wait", &self.lock_wait)
            .finish_non_exhaustive()
    }
}

/// A failure that stops the whole job (before any pair could be planned).
#[derive(Debug, thiserror::Error)]
#[error("job `{job}`: {message}")]
pub struct JobFailure {
    pub job: String,
    pub message: String,
    pub transient: bool,
}

/// Runs `job`; pair failures are in the reports, job-wide failures become one report per
/// target so the caller always gets a line per target.
pub fn run_job(hosts: &mut Hosts<'_>, job: &JobSpec, opts: &RunOptions) -> Vec<PairReport> {
    match Run::start(hosts, job, opts) {
        Ok(mut run) => run.pairs(),
        Err(failure) => {
            tracing::error!(job = job.name, error = failure.message, "job failed");
            let reports: Vec<PairReport> = job
                .targets
                .iter()
                .map(|t| PairReport {
                    job: job.name.clone(),
                    source: format!("{}:{}", job.source.node, job.source.dataset),
                    target_id: t.id.to_string(),
                    target: format!("{}:{}", t.at.node, t.at.dataset),
                    status: if failure.transient {
                        PairStatus::Transient
                    } else {
                        PairStatus::NeedsAdmin
                    },
                    message: failure.message.clone(),
                    common: None,
                })
                .collect();
            if let Some(sink) = &opts.events {
                for r in &reports {
                    sink(&Event::result(r));
                }
            }
            reports
        }
    }
}

/// One (source dataset, target) pair with both sides' listing rows.
struct Pair<'j> {
    source: DatasetName,
    target: &'j Target,
    target_ds: DatasetName,
    key: String,
}

struct Run<'h, 'c, 'j> {
    hosts: &'h mut Hosts<'c>,
    job: &'j JobSpec,
    opts: &'j RunOptions,
    _locks: Vec<PoolLock>,
    state_path: PathBuf,
    state: JobState,
    /// Phase-1 rows per node.
    datasets: BTreeMap<String, BTreeMap<DatasetName, DatasetRow>>,
    /// Phase-2 entries per node.
    entries: BTreeMap<String, BTreeMap<DatasetName, Entries>>,
}

impl<'h, 'c, 'j> Run<'h, 'c, 'j> {
    fn start(
        hosts: &'h mut Hosts<'c>,
        job: &'j JobSpec,
        opts: &'j RunOptions,
    ) -> Result<Self, JobFailure> {
        let fail = |message: String, transient: bool| JobFailure {
            job: job.name.clone(),
            message,
            transient,
        };
        let locks =
            lock_local_pools(hosts.local(), job, opts).map_err(|e| fail(e.to_string(), true))?;
        let state_path = state::state_path(&opts.state_dir, &job.name);
        let state = state::load(&state_path).map_err(|e| {
            fail(
                format!("cannot read replication state: {e}; move the file aside to start fresh"),
                false,
            )
        })?;
        let mut run = Self {
            hosts,
            job,
            opts,
            _locks: locks,
            state_path,
            state,
            datasets: BTreeMap::new(),
            entries: BTreeMap::new(),
        };
        let mut roots: BTreeMap<String, BTreeSet<DatasetName>> = BTreeMap::new();
        roots
            .entry(job.source.node.clone())
            .or_default()
            .insert(job.source.dataset.clone());
        for t in &job.targets {
            roots
                .entry(t.at.node.clone())
                .or_default()
                .insert(t.at.dataset.clone());
        }
        for (node, roots) in roots {
            let roots: Vec<DatasetName> = roots.into_iter().collect();
            let rows = run
                .list_datasets(&node, &roots)
                .map_err(|(m, transient)| fail(m, transient))?;
            run.datasets.insert(node, rows);
        }
        if !run.datasets[&job.source.node].contains_key(&job.source.dataset) {
            return Err(fail(
                format!(
                    "source dataset {} does not exist on {}; check the job's source",
                    job.source.dataset, job.source.node
                ),
                false,
            ));
        }
        Ok(run)
    }

    fn exec(&mut self, node: &str) -> Result<Arc<dyn Executor>, (String, bool)> {
        self.hosts.get(node).map_err(|e| (e.to_string(), false))
    }

    /// Phase 1 on one node; roots that do not exist are simply absent.
    fn list_datasets(
        &mut self,
        node: &str,
        roots: &[DatasetName],
    ) -> Result<BTreeMap<DatasetName, DatasetRow>, (String, bool)> {
        let exec = self.exec(node)?;
        let listed_at = now();
        let out = run_cmd(exec.as_ref(), &listing::datasets_argv(roots), true)?;
        let mut rows = listing::parse_datasets(&String::from_utf8_lossy(&out.stdout))
            .map_err(|e| (format!("on {node}: {e}"), false))?;
        for row in rows.values_mut() {
            row.snapshots_changed = listing::settled(row.snapshots_changed, listed_at);
        }
        Ok(rows)
    }

    /// Phase 2 on one node.
    fn list_entries(
        &mut self,
        node: &str,
        datasets: &[DatasetName],
    ) -> Result<BTreeMap<DatasetName, Entries>, (String, bool)> {
        if datasets.is_empty() {
            return Ok(BTreeMap::new());
        }
        let exec = self.exec(node)?;
        let out = run_cmd(exec.as_ref(), &listing::entries_argv(datasets), false)?;
        listing::parse_entries(&String::from_utf8_lossy(&out.stdout))
            .map_err(|e| (format!("on {node}: {e}"), false))
    }

    fn pairs(&mut self) -> Vec<PairReport> {
        let job = self.job;
        let sources = source_datasets(job, self.datasets[&job.source.node].keys());
        let mut pairs = Vec::new();
        for source in &sources {
            for target in &job.targets {
                let Some(target_ds) =
                    target_dataset(&job.source.dataset, &target.at.dataset, source)
                else {
                    continue;
                };
                let key = state::pair_key(source.as_str(), target.id.as_str(), target_ds.as_str());
                pairs.push(Pair {
                    source: source.clone(),
                    target,
                    target_ds,
                    key,
                });
            }
        }
        let mut reports = Vec::new();
        let mut todo = Vec::new();
        for pair in pairs {
            if self.unchanged(&pair) {
                reports.push(self.report(&pair, PairStatus::Unchanged, String::new()));
            } else {
                todo.push(pair);
            }
        }
        if let Err((message, transient)) = self.list_pending_entries(&todo) {
            for pair in &todo {
                let status = if transient {
                    PairStatus::Transient
                } else {
                    PairStatus::Failed
                };
                reports.push(self.report(pair, status, message.clone()));
            }
            todo.clear();
        }
        for report in &reports {
            self.emit(|| Event::result(report));
        }
        for pair in &todo {
            let report = self.replicate(pair, true);
            self.record(pair, &report);
            self.emit(|| Event::result(&report));
            reports.push(report);
        }
        if !self.opts.dry_run
            && let Err(e) = state::save(&self.state_path, &self.state)
        {
            tracing::error!(path = %self.state_path.display(), error = %e,
                "cannot save replication state; the next run lists everything again");
        }
        reports
    }

    /// Neither side's snapshots changed since a clean success less than [`REPLAN_EVERY`] ago:
    /// nothing to plan. The recorded values are settled ones ([`listing::settled`]).
    fn unchanged(&self, pair: &Pair<'_>) -> bool {
        if self.opts.full_list {
            return false;
        }
        let Some(st) = self.state.pairs.get(&pair.key) else {
            return false;
        };
        let src = self.row(&self.job.source.node, &pair.source);
        let tgt = self.row(&pair.target.at.node, &pair.target_ds);
        let (Some(src), Some(tgt)) = (src, tgt) else {
            return false;
        };
        // A newer target is planned (and refused) every run, never skipped as unchanged.
        tgt.epoch <= src.epoch
            && st.last_error.is_none()
            && st
                .last_success
                .is_some_and(|t| now().saturating_sub(t) < REPLAN_EVERY.as_secs())
            && tgt.resume_token.is_none()
            && src.snapshots_changed.is_some()
            && st.source_snapshots_changed == src.snapshots_changed
            && tgt.snapshots_changed.is_some()
            && st.target_snapshots_changed == tgt.snapshots_changed
    }

    fn row(&self, node: &str, ds: &DatasetName) -> Option<&DatasetRow> {
        self.datasets.get(node)?.get(ds)
    }

    /// Phase 2: one listing per node of every dataset still to plan.
    fn list_pending_entries(&mut self, todo: &[Pair<'_>]) -> Result<(), (String, bool)> {
        let mut wanted: BTreeMap<String, BTreeSet<DatasetName>> = BTreeMap::new();
        for pair in todo {
            wanted
                .entry(self.job.source.node.clone())
                .or_default()
                .insert(pair.source.clone());
            if self.row(&pair.target.at.node, &pair.target_ds).is_some() {
                wanted
                    .entry(pair.target.at.node.clone())
                    .or_default()
                    .insert(pair.target_ds.clone());
            }
        }
        for (node, datasets) in wanted {
            let datasets: Vec<DatasetName> = datasets.into_iter().collect();
            let listed = self.list_entries(&node, &datasets)?;
            self.entries.entry(node).or_default().extend(listed);
        }
        Ok(())
    }

    fn entries_of(&self, node: &str, ds: &DatasetName) -> Entries {
        self.entries
            .get(node)
            .and_then(|m| m.get(ds))
            .cloned()
            .unwrap_or_default()
    }

    /// Plans and carries out one pair. `may_resume` is false on the single re-plan after a
    /// resume attempt, so a token that survives it is reported, never looped on.
    fn replicate(&mut self, pair: &Pair<'_>, may_resume: bool) -> PairReport {
        self.replicate_planned(pair, may_resume, false)
    }

    /// [`Self::replicate`]; `modified`: a receive refused because the target was written
    /// after its newest snapshot (only re-planned so when the job preserves divergence).
    fn replicate_planned(
        &mut self,
        pair: &Pair<'_>,
        may_resume: bool,
        modified: bool,
    ) -> PairReport {
        let job = self.job;
        let src_node = job.source.node.clone();
        let tgt_node = pair.target.at.node.clone();
        let Some(src_row) = self.row(&src_node, &pair.source).cloned() else {
            return self.report(pair, PairStatus::Failed, "source dataset vanished".into());
        };
        let tgt_row = self.row(&tgt_node, &pair.target_ds).cloned();
        let src = self.entries_of(&src_node, &pair.source);
        let tgt = self.entries_of(&tgt_node, &pair.target_ds);
        let resume_token = tgt_row.as_ref().and_then(|r| r.resume_token.clone());
        let fence = self.fence(pair);
        if let Some(refused) = self.fence_refusal(pair, &fence, None) {
            return refused;
        }
        let preserve_diverged =
            fence.preserve_diverged(job.on_divergence == OnDivergence::Preserve);
        let plan = self.plan(
            pair,
            &src.entries,
            &tgt.entries,
            resume_token,
            modified,
            preserve_diverged,
        );

        let flags = match send_flags(job, &src_row) {
            Ok(flags) => flags,
            Err(message) => return self.report(pair, PairStatus::NeedsAdmin, message),
        };
        match &plan.outcome {
            Outcome::UpToDate { common } => {
                if !self.opts.dry_run {
                    self.move_cursor(pair, plan.cursor.as_ref(), &tgt.held, false);
                }
                let mut r = self.report(pair, PairStatus::UpToDate, String::new());
                r.common = Some(common.target.name.clone());
                r
            }
            Outcome::ResumeAvailable { token } => {
                if !may_resume {
                    return self.report(
                        pair,
                        PairStatus::Failed,
                        format!(
                            "{} still has a receive_resume_token after one resume attempt; \
                             not retrying in a loop. Inspect it, then `zfs recv -A {}` to discard \
                             the partial receive",
                            pair.target_ds, pair.target_ds
                        ),
                    );
                }
                if self.opts.dry_run {
                    let steps = vec![format!(
                        "resume interrupted receive (token {})",
                        token.as_str()
                    )];
                    return self.report(pair, PairStatus::WouldSend { steps }, String::new());
                }
                self.resume(pair, token)
            }
            Outcome::Send { steps, destruction } => {
                if let Err(message) = self.guards(pair, &src_row, tgt_row.as_ref()) {
                    return self.report(pair, PairStatus::NeedsAdmin, message);
                }
                let mut lines: Vec<String> = steps.iter().map(ToString::to_string).collect();
                if !matches!(destruction, Destruction::None) {
                    lines.insert(0, destruction.to_string());
                }
                if self.opts.dry_run {
                    lines.extend(wire::describe(job.wire, self.crosses_ssh(pair)));
                    return self.report(
                        pair,
                        PairStatus::WouldSend { steps: lines },
                        String::new(),
                    );
                }
                self.send(
                    pair,
                    steps,
                    destruction,
                    flags,
                    plan.cursor.as_ref(),
                    &tgt.held,
                    lines,
                )
            }
            Outcome::Preserve { .. } => {
                if let Some(refused) = self.fence_refusal(pair, &fence, Some(&plan.outcome)) {
                    return refused;
                }
                if let Err(message) = self.guards(pair, &src_row, tgt_row.as_ref()) {
                    return self.report(pair, PairStatus::NeedsAdmin, message);
                }
                self.preserve_and_send(pair, &plan, flags, &tgt.held, &fence)
            }
            other => self.report(pair, PairStatus::NeedsAdmin, other.to_string()),
        }
    }

    /// The pair's report when the fencing epochs refuse it: before planning (`planned` is
    /// `None`) a target at a newer epoch; after, a diverged target at the same epoch.
    fn fence_refusal(
        &self,
        pair: &Pair<'_>,
        fence: &Fence,
        planned: Option<&Outcome>,
    ) -> Option<PairReport> {
        let (source, target) = self.sides(pair);
        let message = match (fence, planned) {
            (Fence::Refused(_), None) => fencing::target_newer_message(source, target),
            (
                Fence::IfDiverged(SendVerdict::Refuse(_)),
                Some(Outcome::Preserve {
                    common,
                    target_only,
                    modified,
                    ..
                }),
            ) => fencing::no_winner_message(source, target, common, target_only, *modified),
            _ => return None,
        };
        tracing::warn!(job = self.job.name, source = %pair.source, target = %pair.target_ds,
            node = pair.target.at.node, "refused by the fencing epochs");
        Some(self.report(pair, PairStatus::NeedsAdmin, message))
    }

    /// The empty-source and shrink guards (M5); `Err` is the refusal text.
    fn guards(
        &self,
        pair: &Pair<'_>,
        src: &DatasetRow,
        tgt: Option<&DatasetRow>,
    ) -> Result<(), String> {
        if let Some(tgt) = tgt {
            check_empty_source(src.referenced, tgt.referenced, self.job.min_source_fraction)
                .map_err(|e| e.to_string())?;
        }
        let previous = self
            .state
            .pairs
            .get(&pair.key)
            .and_then(|s| s.source_referenced);
        match check_shrink(
            previous,
            src.referenced,
            self.job.max_shrink,
            self.opts.accept_shrink,
        ) {
            ShrinkVerdict::Pass => Ok(()),
            ShrinkVerdict::Accepted(why) => {
                tracing::warn!(source = %pair.source, reason = %why, "shrink accepted by --accept-shrink");
                Ok(())
            }
            ShrinkVerdict::Refused(why) => Err(why.to_string()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        pair: &Pair<'_>,
        steps: &[Step],
        destruction: &Destruction,
        flags: SendFlags,
        cursor: Option<&CursorUpdate>,
        held: &[String],
        lines: Vec<String>,
    ) -> PairReport {
        let src_exec = match self.exec(&self.job.source.node.clone()) {
            Ok(e) => e,
            Err((m, _)) => return self.report(pair, PairStatus::Failed, m),
        };
        let tgt_exec = match self.exec(&pair.target.at.node.clone()) {
            Ok(e) => e,
            Err((m, _)) => return self.report(pair, PairStatus::Failed, m),
        };
        let mut bytes = 0;
        let mut millis = 0;
        let mut wire_bytes: Option<u64> = None;
        for (i, step) in steps.iter().enumerate() {
            let force = i == 0 && !matches!(destruction, Destruction::None);
            if force {
                tracing::warn!(job = self.job.name, target = %pair.target_ds,
                    node = pair.target.at.node, destruction = %destruction,
                    "receiving with -F as the job allows");
            }
            let send = argv::send(&pair.source, step, flags);
            let recv = argv::recv(&pair.target_ds, force, self.sides(pair).0.epoch);
            self.emit(|| {
                let (job, source, target) = self.names(pair);
                Event::TransferStart {
                    job,
                    source,
                    target,
                    step: step.to_string(),
                }
            });
            match transfer(
                src_exec.as_ref(),
                &send,
                tgt_exec.as_ref(),
                &recv,
                self.job.wire,
                self.progress_for(pair),
            ) {
                Ok(done) => {
                    bytes += done.bytes;
                    if let Some(w) = done.wire_bytes {
                        *wire_bytes.get_or_insert(0) += w;
                    }
                    millis += u64::try_from(done.duration.as_millis()).unwrap_or(u64::MAX);
                    tracing::info!(source = %pair.source, target = %pair.target_ds, step = %step,
                        bytes = done.bytes, secs = done.duration.as_secs_f64(), "step done");
                    self.emit(|| {
                        let (job, source, target) = self.names(pair);
                        Event::TransferEnd {
                            job,
                            source,
                            target,
                            step: step.to_string(),
                            bytes: done.bytes,
                            millis: u64::try_from(done.duration.as_millis()).unwrap_or(u64::MAX),
                        }
                    });
                }
                Err(e)
                    if i == 0
                        && !force
                        && self.fence(pair).preserve_diverged(
                            self.job.on_divergence == OnDivergence::Preserve,
                        )
                        && e.kind() == Some(ZfsErrorKind::ReceiveDestinationModified) =>
                {
                    tracing::warn!(job = self.job.name, target = %pair.target_ds,
                        node = pair.target.at.node,
                        "the target was written after its newest snapshot; planning to keep it aside");
                    return self.replicate_planned(pair, false, true);
                }
                Err(e) => return self.transfer_failed(pair, &e, i, steps.len()),
            }
        }
        self.move_cursor(pair, cursor, held, true);
        let mut lines = lines;
        if let Some(mut line) = wire::describe(self.job.wire, self.crosses_ssh(pair)) {
            if let Some(w) = wire_bytes {
                let _ = write!(line, ": {w} bytes on the wire");
            }
            lines.push(line);
        }
        let end = steps.last().map(|s| s.end().name.clone());
        let mut r = self.report(
            pair,
            PairStatus::Replicated {
                steps: lines,
                bytes,
                millis,
            },
            String::new(),
        );
        r.common = end;
        r
    }

    /// `on-divergence = preserve`, or a source at a newer fencing epoch: keep the target
    /// aside, then send the planned steps.
    fn preserve_and_send(
        &mut self,
        pair: &Pair<'_>,
        plan: &TargetPlan,
        flags: SendFlags,
        held: &[String],
        fence: &Fence,
    ) -> PairReport {
        let Outcome::Preserve {
            common,
            target_only,
            modified,
            steps,
        } = &plan.outcome
        else {
            unreachable!("called for Outcome::Preserve only")
        };
        let by_epoch = match fence {
            Fence::IfDiverged(SendVerdict::PreserveThenSend { target }) => Some(*target),
            _ => None,
        };
        let preserve = match self.preserve_plan(pair, common, target_only, *modified, by_epoch) {
            Ok(p) => p,
            Err(refusal) => {
                let message = format!("{}\n{refusal}", plan.outcome);
                return self.report(pair, PairStatus::NeedsAdmin, message);
            }
        };
        let mut lines = vec![preserve.to_string()];
        lines.extend(
            preserve
                .actions
                .iter()
                .map(|a| format!("{a} ({})", a.reason())),
        );
        lines.extend(steps.iter().map(ToString::to_string));
        if self.opts.dry_run {
            return self.report(pair, PairStatus::WouldSend { steps: lines }, String::new());
        }
        if let Err(report) = self.keep_aside(pair, &preserve) {
            return *report;
        }
        // The target snapshots after the common one are on the aside dataset now.
        let held: Vec<String> = held
            .iter()
            .filter(|h| !target_only.iter().any(|t| t.name == **h))
            .cloned()
            .collect();
        let mut report = self.send(
            pair,
            steps,
            &Destruction::None,
            flags,
            plan.cursor.as_ref(),
            &held,
            lines,
        );
        let mut kept = format!("kept the diverged target as {}", preserve.aside);
        if let Some(target) = by_epoch {
            let source = self.sides(pair).0.epoch;
            let _ = write!(kept, "; {}", fencing::preserved_note(source, target));
        }
        report.message = if report.message.is_empty() {
            kept
        } else {
            format!("{kept}; then: {}", report.message)
        };
        report
    }

    /// Names the aside dataset (`<ds>.diverged-<UTC now>`, or `<ds>.diverged-e<epoch>-<UTC
    /// now>` when the target's fencing epoch decided) and plans keeping the target there.
    fn preserve_plan(
        &self,
        pair: &Pair<'_>,
        common: &Common,
        target_only: &[Entry],
        modified: bool,
        by_epoch: Option<Epoch>,
    ) -> Result<PreservePlan, PreserveRefusal> {
        let listed = self.datasets.get(&pair.target.at.node);
        let children: Vec<DatasetName> = listed
            .into_iter()
            .flat_map(BTreeMap::keys)
            .filter(|d| d.parent().as_ref() == Some(&pair.target_ds))
            .cloned()
            .collect();
        let now = i64::try_from(now()).unwrap_or(i64::MAX);
        plan_preserve(
            &pair.target_ds,
            common,
            target_only,
            modified,
            &by_epoch.map_or_else(|| diverged_suffix(now), |e| diverged_epoch_suffix(e.0, now)),
            |d| listed.is_some_and(|l| l.contains_key(d)),
            &children,
        )
    }

    /// Both sides of a pair with their fencing epochs (a missing target is at 0).
    fn sides<'s>(&'s self, pair: &'s Pair<'_>) -> (Side<'s>, Side<'s>) {
        let epoch = |node: &str, ds: &DatasetName| self.row(node, ds).map_or(Epoch(0), |r| r.epoch);
        (
            Side {
                node: &self.job.source.node,
                dataset: &pair.source,
                epoch: epoch(&self.job.source.node, &pair.source),
            },
            Side {
                node: &pair.target.at.node,
                dataset: &pair.target_ds,
                epoch: epoch(&pair.target.at.node, &pair.target_ds),
            },
        )
    }

    fn fence(&self, pair: &Pair<'_>) -> Fence {
        let (source, target) = self.sides(pair);
        Fence::of(source.epoch, target.epoch)
    }

    /// The planner's decision for one pair, logged and sent as an event.
    fn plan(
        &self,
        pair: &Pair<'_>,
        source: &[Entry],
        target: &[Entry],
        resume_token: Option<zferry_repl::ResumeToken>,
        modified: bool,
        preserve_diverged: bool,
    ) -> TargetPlan {
        let job = self.job;
        let plan = plan_fanout(
            source,
            &[TargetState {
                id: pair.target.id.clone(),
                entries: target.to_vec(),
                resume_token,
                modified,
            }],
            &JobOptions {
                filter: job.filter.clone(),
                destructive: job.destructive,
                preserve_diverged,
            },
        )
        .pop()
        .expect("one target in, one plan out");
        tracing::info!(job = job.name, source = %pair.source, target = %pair.target_ds,
            node = pair.target.at.node, outcome = %plan.outcome, "planned");
        self.emit(|| {
            let (job, source, target) = self.names(pair);
            Event::Plan {
                job,
                source,
                target,
                outcome: plan.outcome.to_string(),
            }
        });
        plan
    }

    /// Carries out the preserve steps on the target, each logged with its reason; stops at
    /// the first failure and reports where the data is and what to run.
    fn keep_aside(&mut self, pair: &Pair<'_>, plan: &PreservePlan) -> Result<(), Box<PairReport>> {
        let node = pair.target.at.node.clone();
        let tgt = self
            .exec(&node)
            .map_err(|(m, _)| Box::new(self.report(pair, PairStatus::Failed, m)))?;
        tracing::warn!(job = self.job.name, target = %pair.target_ds, node, plan = %plan,
            "preserving the diverged target");
        for (i, action) in plan.actions.iter().enumerate() {
            tracing::warn!(job = self.job.name, node, action = %action, reason = action.reason(),
                "preserve step");
            if let Err((m, _)) = run_cmd(tgt.as_ref(), &argv::preserve(action), false) {
                let message = format!(
                    "{}\npreserving the diverged target failed on {node} at `{action}`: {m}\n{}",
                    plan,
                    plan.state_after_failure(i)
                );
                return Err(Box::new(self.report(pair, PairStatus::NeedsAdmin, message)));
            }
        }
        Ok(())
    }

    fn transfer_failed(
        &self,
        pair: &Pair<'_>,
        e: &TransferError,
        step: usize,
        steps: usize,
    ) -> PairReport {
        let progress = if step > 0 {
            format!(" after {step} of {steps} steps succeeded")
        } else {
            String::new()
        };
        let (status, hint) = match (e.kind(), e.retry_class()) {
            (Some(ZfsErrorKind::ReceiveDestinationModified), _) => (
                PairStatus::NeedsAdmin,
                format!(
                    "\n{} was modified since its newest snapshot (mounted and written?). \
                     zferry does not roll targets back on its own: check what changed, then \
                     `zfs rollback {}@<newest>` or allow-rollback-to-common for this job",
                    pair.target_ds, pair.target_ds
                ),
            ),
            (Some(ZfsErrorKind::DatasetExists | ZfsErrorKind::DestinationHasSnapshots), _) => (
                PairStatus::NeedsAdmin,
                format!(
                    "\n{} exists but shares no snapshot with the source; zferry will not \
                     overwrite it. Destroy or rename it, or set allow-force-full",
                    pair.target_ds
                ),
            ),
            (_, RetryClass::Transient) => (PairStatus::Transient, String::new()),
            _ => (PairStatus::Failed, String::new()),
        };
        self.report(pair, status, format!("{e}{progress}{hint}"))
    }

    /// Continues an interrupted receive; a stale token is aborted (`recv -A`) once. Either
    /// way the pair is then listed and planned again, without resuming.
    fn resume(&mut self, pair: &Pair<'_>, token: &zferry_repl::ResumeToken) -> PairReport {
        let (src_exec, tgt_exec) = match (
            self.exec(&self.job.source.node.clone()),
            self.exec(&pair.target.at.node.clone()),
        ) {
            (Ok(s), Ok(t)) => (s, t),
            (Err((m, _)), _) | (_, Err((m, _))) => {
                return self.report(pair, PairStatus::Failed, m);
            }
        };
        let resumed = transfer(
            src_exec.as_ref(),
            &argv::send_resume(token),
            tgt_exec.as_ref(),
            &argv::recv(&pair.target_ds, false, self.sides(pair).0.epoch),
            self.job.wire,
            self.progress_for(pair),
        );
        let note = match resumed {
            Ok(done) => format!("resumed an interrupted receive ({} bytes)", done.bytes),
            Err(e)
                if matches!(
                    e.kind(),
                    Some(ZfsErrorKind::ResumeTokenStale | ZfsErrorKind::ResumeTokenCorrupt)
                ) =>
            {
                tracing::warn!(target = %pair.target_ds, error = %e,
                    "resume token is stale; discarding the partial receive (zfs recv -A) and planning again");
                if let Err((m, _)) =
                    run_cmd(tgt_exec.as_ref(), &argv::recv_abort(&pair.target_ds), false)
                {
                    return self.report(
                        pair,
                        PairStatus::Failed,
                        format!("stale resume token, and aborting the partial receive failed: {m}"),
                    );
                }
                format!("discarded a stale partial receive ({e})")
            }
            Err(e) => return self.transfer_failed(pair, &e, 0, 1),
        };
        if let Err((m, transient)) = self.relist(pair) {
            let status = if transient {
                PairStatus::Transient
            } else {
                PairStatus::Failed
            };
            return self.report(pair, status, m);
        }
        let mut report = self.replicate(pair, false);
        report.message = if report.message.is_empty() {
            note
        } else {
            format!("{note}; then: {}", report.message)
        };
        report
    }

    /// Lists one pair's two datasets again (after a resume or abort changed the target).
    fn relist(&mut self, pair: &Pair<'_>) -> Result<(), (String, bool)> {
        let tgt_node = pair.target.at.node.clone();
        let rows = self.list_datasets(&tgt_node, std::slice::from_ref(&pair.target_ds))?;
        let slot = self.datasets.entry(tgt_node.clone()).or_default();
        // `recv -A` of a never-completed new dataset destroys it: absent from the listing.
        slot.remove(&pair.target_ds);
        slot.extend(rows);
        let src_node = self.job.source.node.clone();
        let src = self.list_entries(&src_node, std::slice::from_ref(&pair.source))?;
        let tgt = if self.row(&tgt_node, &pair.target_ds).is_some() {
            self.list_entries(&tgt_node, std::slice::from_ref(&pair.target_ds))?
        } else {
            BTreeMap::new()
        };
        let slot = self.entries.entry(src_node).or_default();
        slot.remove(&pair.source);
        slot.extend(src);
        let slot = self.entries.entry(tgt_node).or_default();
        slot.remove(&pair.target_ds);
        slot.extend(tgt);
        Ok(())
    }

    /// Creates this target's cursor bookmark on the source, releases its older ones, and
    /// moves the target's hold to the new common snapshot. Failures are logged, not fatal:
    /// the data is already safe, and the next run repairs the cursor.
    fn move_cursor(
        &mut self,
        pair: &Pair<'_>,
        cursor: Option<&CursorUpdate>,
        held: &[String],
        after_send: bool,
    ) {
        let Some(cu) = cursor else { return };
        let src_node = self.job.source.node.clone();
        let tgt_node = pair.target.at.node.clone();
        if self.job.bookmarks && (cu.create || !cu.release.is_empty()) {
            let Ok(src) = self.exec(&src_node) else {
                return;
            };
            let created = !cu.create
                || warn_failed(
                    src.as_ref(),
                    &argv::bookmark(&pair.source, &cu.from, &cu.bookmark),
                );
            // Old cursors go only once the new one exists: never zero cursors.
            if created {
                for old in &cu.release {
                    warn_failed(src.as_ref(), &argv::destroy_cursor(&pair.source, old));
                }
            }
        }
        // Steady state: the common snapshot is held (by us, since we put it there) and
        // nothing was received: no command at all.
        if !after_send && held.contains(&cu.hold_on) {
            return;
        }
        let Ok(tgt) = self.exec(&tgt_node) else {
            return;
        };
        let others: Vec<String> = held.iter().filter(|s| **s != cu.hold_on).cloned().collect();
        let placed = (held.contains(&cu.hold_on) && !after_send)
            || warn_failed(
                tgt.as_ref(),
                &argv::hold(&pair.target_ds, &cu.hold, &cu.hold_on),
            );
        if !placed || others.is_empty() {
            return;
        }
        // Usually the only other held snapshot is the previous common one, which carries
        // our tag: release it directly. Otherwise ask which ones carry our tag.
        let previous = self
            .state
            .pairs
            .get(&pair.key)
            .and_then(|s| s.common.clone());
        let stale = if previous.is_some_and(|p| others == [p]) {
            others
        } else {
            let mut asked = others;
            asked.push(cu.hold_on.clone());
            match run_cmd(tgt.as_ref(), &argv::holds(&pair.target_ds, &asked), false) {
                Ok(out) => argv::parse_holds(&String::from_utf8_lossy(&out.stdout), &cu.hold)
                    .into_iter()
                    .filter(|s| *s != cu.hold_on)
                    .collect(),
                Err((m, _)) => {
                    tracing::warn!(target = %pair.target_ds, error = m, "cannot list holds");
                    return;
                }
            }
        };
        if !stale.is_empty() {
            warn_failed(
                tgt.as_ref(),
                &argv::release(&pair.target_ds, &cu.hold, &stale),
            );
        }
    }

    /// Whether the pair's stream leaves this node (only then is it compressed).
    fn crosses_ssh(&self, pair: &Pair<'_>) -> bool {
        let local = self.hosts.local();
        self.job.source.node != local || pair.target.at.node != local
    }

    fn progress_for(&self, pair: &Pair<'_>) -> Option<OnProgress> {
        let sink = self.opts.progress.clone();
        let events = self.opts.events.clone();
        if sink.is_none() && events.is_none() {
            return None;
        }
        let label = format!(
            "{} -> {}:{}",
            pair.source, pair.target.at.node, pair.target_ds
        );
        let (job, source, target) = self.names(pair);
        let last: Mutex<Option<Instant>> = Mutex::new(None);
        Some(Arc::new(move |p: &Progress| {
            if let Some(sink) = &sink {
                sink(&label, p);
            }
            let Some(events) = &events else { return };
            let mut last = last
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < PROGRESS_EVERY) {
                return;
            }
            *last = Some(Instant::now());
            events(&Event::Progress {
                job: job.clone(),
                source: source.clone(),
                target: target.clone(),
                sent: p.sent(),
                estimate: p.estimate,
            });
        }))
    }

    /// Sends an event to the sink, if any (the event is built only then).
    fn emit(&self, event: impl FnOnce() -> Event) {
        if let Some(sink) = &self.opts.events {
            sink(&event());
        }
    }

    /// `(job, source node:dataset, target node:dataset)` as in the pair's report.
    fn names(&self, pair: &Pair<'_>) -> (String, String, String) {
        (
            self.job.name.clone(),
            format!("{}:{}", self.job.source.node, pair.source),
            format!("{}:{}", pair.target.at.node, pair.target_ds),
        )
    }

    fn report(&self, pair: &Pair<'_>, status: PairStatus, message: String) -> PairReport {
        PairReport {
            job: self.job.name.clone(),
            source: format!("{}:{}", self.job.source.node, pair.source),
            target_id: pair.target.id.to_string(),
            target: format!("{}:{}", pair.target.at.node, pair.target_ds),
            status,
            message,
            common: None,
        }
    }

    /// Updates the pair's record after it ran.
    fn record(&mut self, pair: &Pair<'_>, report: &PairReport) {
        if self.opts.dry_run {
            return;
        }
        let now = now();
        let src = self.row(&self.job.source.node, &pair.source).cloned();
        let tgt = self.row(&pair.target.at.node, &pair.target_ds).cloned();
        let common_creation = report.common.as_ref().and_then(|name| {
            self.entries_of(&self.job.source.node, &pair.source)
                .entries
                .iter()
                .find(|e| e.is_snapshot() && e.name == *name)
                .map(|e| e.creation)
        });
        let st: &mut PairState = self.state.pairs.entry(pair.key.clone()).or_default();
        match &report.status {
            PairStatus::UpToDate | PairStatus::Replicated { .. } => {
                st.last_success = Some(now);
                st.last_error = None;
                st.source_referenced = src.as_ref().map(|r| r.referenced);
                st.source_snapshots_changed = src.and_then(|r| r.snapshots_changed);
                // A receive moves the target's value; it is learnt on the next run.
                st.target_snapshots_changed = match report.status {
                    PairStatus::UpToDate => tgt.and_then(|r| r.snapshots_changed),
                    _ => None,
                };
                st.common.clone_from(&report.common);
                st.common_creation = common_creation;
            }
            PairStatus::NeedsAdmin | PairStatus::Transient | PairStatus::Failed => {
                st.last_error = Some((now, report.message.clone()));
            }
            PairStatus::Unchanged | PairStatus::WouldSend { .. } => {}
        }
    }
}

/// Raw sends for encrypted datasets unless the job says otherwise; refuses to send an
/// encrypted dataset decrypted unless explicitly allowed.
fn send_flags(job: &JobSpec, src: &DatasetRow) -> Result<SendFlags, String> {
    let raw = match (job.raw, src.encrypted) {
        (RawMode::Always, _) | (RawMode::Auto, true) => true,
        (RawMode::Never, true) if !job.allow_unencrypted_send => {
            return Err(format!(
                "{} is encrypted and the job has raw = \"never\": sending it would put its \
                 data on the wire and the target unencrypted. Set raw = \"auto\", or \
                 allow-unencrypted-send = true if that is intended",
                src.name
            ));
        }
        _ => false,
    };
    Ok(SendFlags { raw })
}

/// Locks every pool of this job that lives on the local node.
fn lock_local_pools(
    local: &str,
    job: &JobSpec,
    opts: &RunOptions,
) -> Result<Vec<PoolLock>, lock::LockError> {
    let mut pools: BTreeSet<String> = BTreeSet::new();
    let endpoints = std::iter::once(&job.source).chain(job.targets.iter().map(|t| &t.at));
    for ep in endpoints.filter(|e| e.node == local) {
        pools.insert(ep.dataset.pool().to_string());
    }
    pools
        .iter()
        .map(|pool| {
            lock::acquire(
                &lock::lock_path(&opts.lock_dir, local, pool),
                opts.lock_wait,
            )
        })
        .collect()
}

/// Runs a short command; `Err((message, transient))`. With `allow_missing`, "dataset does
/// not exist" for some operands is not a failure (their lines are simply absent).
fn run_cmd(
    exec: &dyn Executor,
    cmd: &CommandSpec,
    allow_missing: bool,
) -> Result<zferry_exec::Output, (String, bool)> {
    let out = exec
        .run(cmd)
        .map_err(|e| (e.to_string(), e.retry_class() == RetryClass::Transient))?;
    let only_missing = || listing::missing_roots(&out.stderr).is_some_and(|m| !m.is_empty());
    if out.success() || (allow_missing && only_missing()) {
        return Ok(out);
    }
    let failure = CommandFailure::from_output(&out).expect("a failed output");
    let transient = failure.kind.retry_class() == RetryClass::Transient;
    Err((failure.to_string(), transient))
}

/// Runs a follow-up command whose failure is only logged; returns whether it succeeded.
fn warn_failed(exec: &dyn Executor, cmd: &CommandSpec) -> bool {
    match run_cmd(exec, cmd, false) {
        Ok(_) => true,
        Err((message, _)) => {
            tracing::warn!(
                host = exec.host(),
                error = message,
                "cursor maintenance failed; the next run retries"
            );
            false
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
