//! The sender's fencing check for one pair (pure): how the source's and the target's
//! `zferry:epoch` bear on planning it ([`zferry_repl::epoch`] has the rules).
//!
//! Jobs whose datasets carry no epoch (both sides at 0) are not fenced and behave exactly as
//! before: the job's `on-divergence` decides.

use zferry_repl::{Common, Entry, Epoch, EpochRefusal, SendVerdict, check_send, send_verdict};
use zferry_zfs::DatasetName;

/// What the epochs say about one pair, before it is planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fence {
    /// Both sides at epoch 0: the job's `on-divergence` decides, as without fencing.
    Unfenced,
    /// The target is at a newer epoch: nothing is planned, sent or destroyed.
    Refused(EpochRefusal),
    /// Sendable. A diverged target is planned as kept aside; this is what then happens to
    /// it: [`SendVerdict::PreserveThenSend`] (the source is newer, whatever the job says) or
    /// [`SendVerdict::Refuse`] (same epoch: no winner).
    IfDiverged(SendVerdict),
}

impl Fence {
    pub fn of(source: Epoch, target: Epoch) -> Self {
        if source == Epoch(0) && target == Epoch(0) {
            return Self::Unfenced;
        }
        if let Err(refusal) = check_send(source, target) {
            return Self::Refused(refusal);
        }
        Self::IfDiverged(send_verdict(source, target, true))
    }

    /// Whether the planner keeps a diverged target aside (`JobOptions::preserve_diverged`):
    /// under fencing always, so that divergence reaches [`Fence::IfDiverged`] as a
    /// preserve plan instead of a refusal or a rollback.
    pub fn preserve_diverged(&self, job_preserves: bool) -> bool {
        match self {
            Self::Unfenced => job_preserves,
            Self::Refused(_) | Self::IfDiverged(_) => true,
        }
    }
}

/// One side of a pair, as the admin names it.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    pub node: &'a str,
    pub dataset: &'a DatasetName,
    pub epoch: Epoch,
}

/// The refusal of a pair whose target is at a newer epoch than its source.
pub fn target_newer_message(source: Side<'_>, target: Side<'_>) -> String {
    format!(
        "target {tn}:{td} is at epoch {t}, the source {sn}:{sd} at {s}: this node is an old \
         master; the newer master's data must not be overwritten, so nothing was sent or \
         destroyed. Make this node a standby (it then receives from the master) or, if this \
         node really is the master and the target's epoch is wrong, raise the source's epoch \
         above it on {sn}: `zfs set zferry:epoch={next} {sd}` (a diverged target is then kept \
         aside, not destroyed)",
        tn = target.node,
        td = target.dataset,
        t = target.epoch.0,
        sn = source.node,
        sd = source.dataset,
        s = source.epoch.0,
        next = target.epoch.0.saturating_add(1),
    )
}

/// The refusal of a diverged pair whose sides are at the same epoch.
pub fn no_winner_message(
    source: Side<'_>,
    target: Side<'_>,
    common: &Common,
    target_only: &[Entry],
    modified: bool,
) -> String {
    let mut evidence: Vec<String> = target_only.iter().map(ToString::to_string).collect();
    if modified {
        evidence.push("writes after its newest snapshot".to_owned());
    }
    format!(
        "target {tn}:{td} diverged after the newest common snapshot {common} (only on the \
         target: {ev}) and both sides are at epoch {e}: both were written under the same \
         epoch, so neither wins and nothing was sent or destroyed. Inspect both, then pick \
         the winner: raise its epoch on its node (`zfs set zferry:epoch={next} {sd}` on {sn} \
         keeps the target's state aside as {td}.diverged-e{e}-<time> and resyncs it; the \
         same on {tn} for {td} makes the target win: then replicate from it instead), or keep \
         the target's state aside yourself (`zfs rename {td} <new name>` on {tn}) and run again",
        tn = target.node,
        td = target.dataset,
        sn = source.node,
        sd = source.dataset,
        ev = if evidence.is_empty() {
            "-".to_owned()
        } else {
            evidence.join(", ")
        },
        e = source.epoch.0,
        next = source.epoch.0.saturating_add(1),
    )
}

/// Why a diverged target was kept aside though the job may say `refuse`.
pub fn preserved_note(source: Epoch, target: Epoch) -> String {
    format!(
        "the fencing epoch decided: the source is at epoch {}, the target at {}, so the \
         target's writes were kept aside (whatever on-divergence says) and it was resynced",
        source.0, target.0
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn both_at_zero_is_unfenced_and_the_job_decides() {
        let fence = Fence::of(Epoch(0), Epoch(0));
        assert_eq!(fence, Fence::Unfenced);
        assert!(!fence.preserve_diverged(false));
        assert!(fence.preserve_diverged(true));
    }

    #[test]
    fn a_newer_target_refuses_the_pair() {
        assert!(matches!(
            Fence::of(Epoch(4), Epoch(5)),
            Fence::Refused(EpochRefusal::TargetNewer { .. })
        ));
        assert!(matches!(
            Fence::of(Epoch(0), Epoch(1)),
            Fence::Refused(EpochRefusal::TargetNewer { .. })
        ));
    }

    #[test]
    fn a_newer_source_keeps_a_diverged_target_aside_even_if_the_job_refuses() {
        for (s, t) in [(3, 2), (1, 0)] {
            let fence = Fence::of(Epoch(s), Epoch(t));
            assert_eq!(
                fence,
                Fence::IfDiverged(SendVerdict::PreserveThenSend { target: Epoch(t) })
            );
            assert!(fence.preserve_diverged(false));
        }
    }

    #[test]
    fn equal_epochs_above_zero_have_no_winner_when_diverged() {
        let fence = Fence::of(Epoch(2), Epoch(2));
        assert_eq!(
            fence,
            Fence::IfDiverged(SendVerdict::Refuse(EpochRefusal::NoWinner {
                epoch: Epoch(2)
            }))
        );
        assert!(fence.preserve_diverged(false));
    }

    #[test]
    fn messages_name_both_sides_and_the_way_out() {
        let sd: DatasetName = "tank/nfs".parse().unwrap();
        let td: DatasetName = "tank/nfs".parse().unwrap();
        let src = Side {
            node: "pve1",
            dataset: &sd,
            epoch: Epoch(4),
        };
        let tgt = Side {
            node: "pve2",
            dataset: &td,
            epoch: Epoch(5),
        };
        let m = target_newer_message(src, tgt);
        assert!(
            m.starts_with("target pve2:tank/nfs is at epoch 5, the source pve1:tank/nfs at 4"),
            "{m}"
        );
        assert!(m.contains("zfs set zferry:epoch=6 tank/nfs"), "{m}");

        let common = Common {
            source: Entry::snapshot("a", 1, 1, 1),
            target: Entry::snapshot("a", 1, 1, 1),
        };
        let tgt = Side {
            epoch: Epoch(4),
            ..tgt
        };
        let m = no_winner_message(src, tgt, &common, &[Entry::snapshot("b", 2, 2, 2)], true);
        assert!(m.contains("both sides are at epoch 4"), "{m}");
        assert!(m.contains("@b") && m.contains("writes after"), "{m}");
        assert!(m.contains("zfs set zferry:epoch=5 tank/nfs"), "{m}");
    }
}
