//! One source against several targets in one run (B <- A -> C).
//!
//! Each target is planned on its own: its base is whatever the source still shares with it
//! by GUID, typically its own cursor bookmark once the snapshot is pruned, so a lagging
//! target gets its own incremental range and never makes the others resend. Each plan also
//! says how that target's cursor moves after success: create the new cursor bookmark on the
//! source (from the step's end snapshot), then release this target's older cursors, and move
//! the hold tag to the target's new newest common snapshot. Other targets' cursors are never
//! touched.

use crate::cursor::{CursorBookmark, HoldTag, TargetId};
use crate::entry::Entry;
use crate::outcome::{Outcome, ResumeToken};
use crate::planner::{JobOptions, plan_target};

/// What the run knows about one target.
#[derive(Debug, Clone)]
pub struct TargetState {
    pub id: TargetId,
    /// The target dataset's snapshots (bookmarks are ignored; an absent dataset is empty).
    pub entries: Vec<Entry>,
    pub resume_token: Option<ResumeToken>,
    /// Written after its newest snapshot (a receive refused for that reason).
    pub modified: bool,
}

/// How a target's cursor moves once its plan has succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorUpdate {
    /// The source snapshot (or bookmark) the cursor marks.
    pub from: Entry,
    pub bookmark: CursorBookmark,
    /// False when the source already has exactly this cursor.
    pub create: bool,
    /// This target's older cursor bookmarks on the source, released after `bookmark` exists.
    pub release: Vec<CursorBookmark>,
    pub hold: HoldTag,
    /// The target snapshot (short name) that carries `hold` afterwards; the shell releases
    /// the tag from every other snapshot of the target dataset.
    pub hold_on: String,
}

/// The plan for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPlan {
    pub target: TargetId,
    pub outcome: Outcome,
    /// `Some` for `Send` and `UpToDate`.
    pub cursor: Option<CursorUpdate>,
}

/// Plans `source` against every target independently.
pub fn plan_fanout(
    source: &[Entry],
    targets: &[TargetState],
    opts: &JobOptions,
) -> Vec<TargetPlan> {
    targets
        .iter()
        .map(|t| {
            let outcome = plan_target(
                source,
                &t.entries,
                t.resume_token.as_ref(),
                t.modified,
                opts,
            );
            let cursor = cursor_update(source, &t.id, &outcome);
            TargetPlan {
                target: t.id.clone(),
                outcome,
                cursor,
            }
        })
        .collect()
}

fn cursor_update(source: &[Entry], id: &TargetId, outcome: &Outcome) -> Option<CursorUpdate> {
    let (from, hold_on) = match outcome {
        Outcome::Send { steps, .. } | Outcome::Preserve { steps, .. } => {
            let end = steps.last()?.end();
            (end.clone(), end.name.clone())
        }
        Outcome::UpToDate { common } => (common.source.clone(), common.target.name.clone()),
        _ => return None,
    };
    let bookmark = CursorBookmark::new(id.clone(), from.guid);
    let existing = own_cursors(source, id);
    Some(CursorUpdate {
        create: !existing.contains(&bookmark),
        release: existing.into_iter().filter(|c| *c != bookmark).collect(),
        from,
        bookmark,
        hold: HoldTag(id.clone()),
        hold_on,
    })
}

/// This target's cursor bookmarks on the source; a bookmark whose name claims a GUID other
/// than its own is not ours and is left alone.
fn own_cursors(source: &[Entry], id: &TargetId) -> Vec<CursorBookmark> {
    source
        .iter()
        .filter(|e| !e.is_snapshot())
        .filter_map(|e| CursorBookmark::parse(&e.name).filter(|c| c.guid == e.guid))
        .filter(|c| c.target == *id)
        .collect()
}
