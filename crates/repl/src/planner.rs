//! The pure planner for one source dataset and one target dataset.
//!
//! 1. A pending resume token wins: resume first, plan afterwards.
//! 2. The base is the newest source entry (snapshot or bookmark) whose GUID equals a target
//!    snapshot's GUID. Names are never compared: a renamed target snapshot still matches, a
//!    same-named snapshot with another GUID never does.
//! 3. Target snapshots after the base block an incremental receive: with nothing new on the
//!    source that is [`Outcome::TargetHasNewer`], otherwise [`Outcome::Diverged`] — unless the
//!    job allows `rollback_to_common`, in which case the send lists what the rollback destroys.
//! 4. Steps from the base to the newest wanted source snapshot: one `-I` range over runs of
//!    wanted snapshots, `-i` across snapshots the filter excludes or from a bookmark.
//! 5. No base: an empty target gets a full send of the oldest wanted snapshot, then (4); a
//!    non-empty target is refused unless `force_full`, which lists everything it destroys.

use std::collections::HashMap;

use zferry_zfs::Guid;

use crate::entry::{Entry, sorted_snapshots};
use crate::filter::SnapshotFilter;
use crate::outcome::{Common, Destruction, Outcome, Refusal, ResumeToken, Step};

/// Graded permission to destroy on the target; the planner uses the least destructive action
/// that works and never more than allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Destructive {
    /// Never destroy, never `recv -F`, never roll back.
    #[default]
    AppendOnly,
    /// May roll the target back to the newest common snapshot.
    RollbackToCommon,
    /// May also replace a target with no common snapshot by a full send.
    ForceFull,
}

/// Per-job planning options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobOptions {
    pub filter: SnapshotFilter,
    pub destructive: Destructive,
    /// `on-divergence = "preserve"`: a diverged target is kept aside and re-created at the
    /// common snapshot ([`Outcome::Preserve`]) instead of being refused or rolled back.
    pub preserve_diverged: bool,
}

/// Plans one source/target pair with no pending resume token.
pub fn plan(source: &[Entry], target: &[Entry], opts: &JobOptions) -> Outcome {
    plan_with_resume(source, target, None, opts)
}

/// Plans one source/target pair; `resume` is the target's `receive_resume_token`.
pub fn plan_with_resume(
    source: &[Entry],
    target: &[Entry],
    resume: Option<&ResumeToken>,
    opts: &JobOptions,
) -> Outcome {
    plan_target(source, target, resume, false, opts)
}

/// Plans one source/target pair; `modified` says the target was written after its newest
/// snapshot (learnt from a receive that refused for that reason), which only changes the plan
/// when the job preserves diverged targets.
pub fn plan_target(
    source: &[Entry],
    target: &[Entry],
    resume: Option<&ResumeToken>,
    modified: bool,
    opts: &JobOptions,
) -> Outcome {
    if let Some(token) = resume {
        return Outcome::ResumeAvailable {
            token: token.clone(),
        };
    }
    let src = sorted_snapshots(source);
    let Some(&newest) = src.iter().rev().find(|s| opts.filter.matches(&s.name)) else {
        let filter = opts.filter.to_string();
        return Outcome::Refused {
            reason: Refusal::NoSourceSnapshots { filter },
        };
    };
    let tgt = sorted_snapshots(target);

    let Some(common) = newest_common(source, &tgt) else {
        return plan_without_base(&src, &tgt, newest, opts);
    };
    let target_only: Vec<Entry> = tgt
        .iter()
        .filter(|t| t.createtxg > common.target.createtxg)
        .map(|&t| t.clone())
        .collect();
    let steps = incremental_steps(&common.source, &src, &opts.filter);
    let diverged = !target_only.is_empty() || modified;
    match (target_only.is_empty(), steps.is_empty()) {
        (true, true) => Outcome::UpToDate { common },
        (_, false) if diverged && opts.preserve_diverged => Outcome::Preserve {
            common,
            target_only,
            modified,
            steps,
        },
        (true, false) => Outcome::Send {
            steps,
            destruction: Destruction::None,
        },
        (false, true) => Outcome::TargetHasNewer {
            common,
            target_only,
        },
        (false, false) if opts.destructive >= Destructive::RollbackToCommon => {
            let destruction = Destruction::Rollback {
                to: common.target,
                destroys: target_only,
            };
            Outcome::Send { steps, destruction }
        }
        (false, false) => {
            let source_only = steps_targets(&common.source, &src, &opts.filter);
            Outcome::Diverged {
                common,
                source_only,
                target_only,
            }
        }
    }
}

/// The newest source entry whose GUID a target snapshot carries.
fn newest_common(source: &[Entry], tgt: &[&Entry]) -> Option<Common> {
    let by_guid: HashMap<Guid, &Entry> = tgt.iter().map(|t| (t.guid, *t)).collect();
    source
        .iter()
        .filter_map(|s| by_guid.get(&s.guid).map(|t| (s, *t)))
        .max_by_key(|(s, _)| s.order_key())
        .map(|(s, t)| Common {
            source: s.clone(),
            target: t.clone(),
        })
}

fn plan_without_base(src: &[&Entry], tgt: &[&Entry], newest: &Entry, opts: &JobOptions) -> Outcome {
    let destruction = if tgt.is_empty() {
        Destruction::None
    } else if opts.destructive >= Destructive::ForceFull {
        Destruction::Replace {
            snapshots: tgt.iter().map(|&t| t.clone()).collect(),
        }
    } else {
        return Outcome::NoCommonSnapshot {
            source_newest: newest.clone(),
            target_snapshots: tgt.iter().map(|&t| t.clone()).collect(),
        };
    };
    let oldest = src
        .iter()
        .find(|s| opts.filter.matches(&s.name))
        .copied()
        .unwrap_or(newest);
    let mut steps = vec![Step::Full {
        snapshot: oldest.clone(),
    }];
    steps.extend(incremental_steps(oldest, src, &opts.filter));
    Outcome::Send { steps, destruction }
}

/// Wanted source snapshots after `base`, oldest first.
fn steps_targets(base: &Entry, src: &[&Entry], filter: &SnapshotFilter) -> Vec<Entry> {
    src.iter()
        .filter(|s| s.createtxg > base.createtxg && filter.matches(&s.name))
        .map(|&s| s.clone())
        .collect()
}

/// Steps from `base` to the newest wanted snapshot: consecutive wanted snapshots with no
/// excluded snapshot between them merge into one `-I` range; a gap (excluded snapshot) or a
/// bookmark as `from` forces a single `-i` step.
fn incremental_steps(base: &Entry, src: &[&Entry], filter: &SnapshotFilter) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    // Whether the last step may still be extended into a `-I` range.
    let mut extendable = false;
    let mut gap = false;
    let mut prev = base;
    for &s in src.iter().filter(|s| s.createtxg > base.createtxg) {
        if !filter.matches(&s.name) {
            gap = true;
            continue;
        }
        match steps.last_mut() {
            Some(Step::Incremental {
                to, intermediates, ..
            }) if extendable && !gap => {
                *to = s.clone();
                *intermediates = true;
            }
            _ => {
                steps.push(Step::Incremental {
                    from: prev.clone(),
                    to: s.clone(),
                    intermediates: false,
                });
            }
        }
        extendable = !gap && prev.is_snapshot();
        gap = false;
        prev = s;
    }
    steps
}
