//! Properties of the planner, checked by replaying its steps against a model of `zfs recv`.

use std::collections::BTreeSet;

use proptest::prelude::*;
use zferry_repl::{
    Destruction, Destructive, Entry, JobOptions, Outcome, SnapshotFilter, Step, plan,
};

/// One source snapshot in a generated history.
#[derive(Debug, Clone)]
struct Gen {
    daily: bool,
    pruned_to_bookmark: bool,
}

fn history() -> impl Strategy<Value = Vec<Gen>> {
    prop::collection::vec(
        (any::<bool>(), prop::bool::weighted(0.3)).prop_map(|(daily, pruned_to_bookmark)| Gen {
            daily,
            pruned_to_bookmark,
        }),
        1..14,
    )
}

/// Source entries: snapshot `i` is `d<i>` or `h<i>`, GUID `1000 + i`, txg `i + 1`; pruned ones
/// are bookmarks. The newest is always a kept daily snapshot (there is something to send).
fn source_of(h: &[Gen]) -> Vec<Entry> {
    let last = h.len() - 1;
    h.iter()
        .enumerate()
        .map(|(i, g)| {
            let (daily, pruned) = if i == last {
                (true, false)
            } else {
                (g.daily, g.pruned_to_bookmark)
            };
            let name = format!("{}{i}", if daily { 'd' } else { 'h' });
            let (guid, txg) = (1000 + i as u64, i as u64 + 1);
            if pruned {
                Entry::bookmark(&name, guid, txg, 0)
            } else {
                Entry::snapshot(&name, guid, txg, 0)
            }
        })
        .collect()
}

/// The target received the first `k` snapshots (renamed, on its own txgs).
fn target_of(h: &[Gen], k: usize) -> Vec<Entry> {
    (0..k.min(h.len()))
        .map(|i| Entry::snapshot(&format!("t{i}"), 1000 + i as u64, 500 + i as u64, 0))
        .collect()
}

/// Replays `steps` like `zfs recv` would; returns the GUIDs received or why it would fail.
fn replay(
    source: &[Entry],
    target: &[Entry],
    steps: &[Step],
    filter: &SnapshotFilter,
) -> Result<BTreeSet<u64>, String> {
    let mut newest = target.iter().max_by_key(|t| t.createtxg).map(|t| t.guid);
    let mut received = BTreeSet::new();
    let snaps: Vec<&Entry> = source.iter().filter(|e| e.is_snapshot()).collect();
    for step in steps {
        let got: Vec<&Entry> = match step {
            Step::Full { snapshot } => {
                if newest.is_some() {
                    return Err(format!("full send into a non-empty target: {step}"));
                }
                vec![snapshot]
            }
            Step::Incremental {
                from,
                to,
                intermediates,
            } => {
                if newest != Some(from.guid) {
                    return Err(format!("{step}: target's newest is not the from snapshot"));
                }
                if !source.contains(from) || !to.is_snapshot() {
                    return Err(format!("{step}: from/to not on the source"));
                }
                if *intermediates && !from.is_snapshot() {
                    return Err(format!("{step}: -I from a bookmark"));
                }
                snaps
                    .iter()
                    .filter(|s| s.createtxg > from.createtxg && s.createtxg <= to.createtxg)
                    .filter(|s| *intermediates || s.guid == to.guid)
                    .copied()
                    .collect()
            }
        };
        for s in got {
            if !filter.matches(&s.name) {
                return Err(format!("{step}: transfers the excluded snapshot {s}"));
            }
            received.insert(s.guid.0);
        }
        newest = Some(step.end().guid);
    }
    Ok(received)
}

proptest! {
    /// For any history and any prefix of it on the target, the plan is Send or UpToDate, and
    /// replaying it ends at the source's newest wanted snapshot having transferred exactly the
    /// wanted snapshots after the base, never an excluded one.
    #[test]
    fn prefix_targets_converge(h in history(), k in 0usize..16, daily_only in any::<bool>()) {
        let source = source_of(&h);
        let target = target_of(&h, k);
        let filter = if daily_only { SnapshotFilter::globs(["d*"]).expect("valid") } else { SnapshotFilter::all() };
        let opts = JobOptions { filter: filter.clone(), destructive: Destructive::AppendOnly, preserve_diverged: false };
        let newest = source.iter().rfind(|e| e.is_snapshot()).expect("newest kept").clone();
        let base_txg = target.len() as u64; // source txg of the target's newest (0: empty)
        let wanted_after: BTreeSet<u64> = source
            .iter()
            .filter(|e| e.is_snapshot() && filter.matches(&e.name) && e.createtxg.0 > base_txg)
            .map(|e| e.guid.0)
            .collect();
        match plan(&source, &target, &opts) {
            Outcome::UpToDate { common } => {
                prop_assert!(wanted_after.is_empty(), "up to date but {wanted_after:?} pending");
                prop_assert_eq!(common.target.guid, target.last().expect("non-empty").guid);
            }
            Outcome::Send { steps, destruction } => {
                prop_assert_eq!(destruction, Destruction::None);
                let received = replay(&source, &target, &steps, &filter).map_err(TestCaseError::fail)?;
                prop_assert_eq!(steps.last().expect("steps").end().guid, newest.guid);
                if target.is_empty() {
                    // Initial: everything wanted, from the oldest wanted on.
                    let all: BTreeSet<u64> = source.iter()
                        .filter(|e| e.is_snapshot() && filter.matches(&e.name)).map(|e| e.guid.0).collect();
                    prop_assert_eq!(received, all);
                } else {
                    prop_assert_eq!(received, wanted_after);
                }
                if filter.is_all() {
                    prop_assert!(steps.len() <= 2, "all wanted: at most -i from a bookmark + one -I, got {steps:?}");
                }
            }
            other => prop_assert!(false, "unexpected outcome {other}"),
        }
    }

    /// Whatever both sides hold, the planner destroys nothing unless allowed, and never more
    /// than the grade allows.
    #[test]
    fn destruction_never_exceeds_the_grade(
        src in prop::collection::vec((0u64..6, any::<bool>()), 0..8),
        tgt in prop::collection::vec(0u64..6, 0..8),
        grade in 0u8..3,
        preserve in any::<bool>(),
    ) {
        let source: Vec<Entry> = src.iter().enumerate().map(|(i, &(g, snap))| {
            let name = format!("s{i}");
            if snap { Entry::snapshot(&name, g, i as u64, 0) } else { Entry::bookmark(&name, g, i as u64, 0) }
        }).collect();
        let target: Vec<Entry> = tgt.iter().enumerate()
            .map(|(i, &g)| Entry::snapshot(&format!("t{i}"), g, i as u64, 0)).collect();
        let destructive = [Destructive::AppendOnly, Destructive::RollbackToCommon, Destructive::ForceFull][grade as usize];
        let opts = JobOptions { filter: SnapshotFilter::all(), destructive, preserve_diverged: preserve };
        let outcome = plan(&source, &target, &opts);
        if let Outcome::Send { destruction, steps } = &outcome {
            prop_assert!(!steps.is_empty());
            match destruction {
                Destruction::None => {}
                Destruction::Rollback { destroys, .. } => {
                    prop_assert!(destructive >= Destructive::RollbackToCommon);
                    prop_assert!(!destroys.is_empty());
                }
                Destruction::Replace { snapshots } => {
                    prop_assert_eq!(destructive, Destructive::ForceFull);
                    prop_assert_eq!(snapshots.len(), target.len());
                }
            }
        }
        // Preserving keeps every target snapshot after the common one (they move aside) and
        // is chosen over a rollback whatever the grade.
        if let Outcome::Preserve { target_only, steps, .. } = &outcome {
            prop_assert!(preserve && !target_only.is_empty() && !steps.is_empty());
        }
        if preserve {
            let rolled_back = matches!(&outcome, Outcome::Send { destruction: Destruction::Rollback { .. }, .. });
            let refused = matches!(outcome, Outcome::Diverged { .. });
            prop_assert!(!rolled_back && !refused);
        }
        // Display never panics and is never empty.
        prop_assert!(!outcome.to_string().is_empty());
    }
}
