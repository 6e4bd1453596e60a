//! `on-divergence = "preserve"`: keep a diverged target aside, then continue incrementally.
//!
//! A diverged target (snapshots or writes after the newest common snapshot) cannot receive
//! the source's next increment. Instead of refusing or rolling back, the target's whole
//! current state is kept as `<ds>.<suffix>` and `<ds>` is re-created from the common
//! snapshot, so the next receive is an ordinary incremental from it. On OpenZFS 2.3 (tried
//! in the lab, see `DESIGN.md`):
//!
//! 1. `zfs rename <ds> <aside>`: the diverged dataset keeps every snapshot, its
//!    unsnapshotted writes and its holds under the new name (remounted there if mounted; a
//!    busy mount makes the rename fail with nothing changed).
//! 2. `zfs clone -o canmount=noauto <aside>@<common> <ds>`: a new `<ds>` whose head is the
//!    common snapshot, not mounted (a mount would let anything, even a child's mountpoint
//!    directory, modify it before the receive). `canmount=noauto` stays on the target.
//! 3. `zfs promote <ds>`: the snapshots up to and including the common one move back to
//!    `<ds>` with their GUIDs and holds; `<aside>` becomes a clone of `<ds>@<common>` that
//!    holds only what diverged, and can be destroyed later without touching `<ds>`.
//! 4. `zfs rename -u <aside>/<child> <ds>/<child>` for each child dataset, which step 1 took
//!    along (each child is its own pair: replicated, or preserved if it diverged too).
//!
//! Then `<ds>`'s newest snapshot is the common one and nothing was written after it: the
//! planned `-i`/`-I` steps receive into it like any incremental. Nothing is destroyed.
//!
//! Everything here is pure: the caller supplies the suffix (a time stamp, or an epoch and a
//! time stamp for the HA controller) and the names that already exist on the target host.

use std::fmt;

use zferry_zfs::{DatasetName, SnapshotName};

use crate::entry::{Entry, List};
use crate::outcome::Common;

/// `diverged-<UTC stamp>`, e.g. `diverged-20261121T211500Z` for 2026-11-21 21:15:00 UTC.
pub fn diverged_suffix(unix_seconds: i64) -> String {
    format!("diverged-{}", utc_stamp(unix_seconds))
}

/// `diverged-e<epoch>-<UTC stamp>`: the HA controller's variant, naming its failover epoch.
pub fn diverged_epoch_suffix(epoch: u64, unix_seconds: i64) -> String {
    format!("diverged-e{epoch}-{}", utc_stamp(unix_seconds))
}

/// `YYYYMMDDTHHMMSSZ` in UTC (proleptic Gregorian calendar).
fn utc_stamp(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Year, month, day of a day count since 1970-01-01, counting in 400-year eras that start
/// on March 1st (so the leap day is the era-year's last day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// One ZFS operation of a preserve plan, each with the reason it is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreserveAction {
    /// `zfs rename <from> <to>`.
    RenameAside { from: DatasetName, to: DatasetName },
    /// `zfs clone -o canmount=noauto <origin> <to>`: `to` starts as exactly the common
    /// snapshot, unmounted.
    CloneCommon {
        origin: SnapshotName,
        to: DatasetName,
    },
    /// `zfs promote <dataset>`: the snapshots up to the clone's origin move to `dataset`.
    Promote { dataset: DatasetName },
    /// `zfs rename -u <from> <to>`: a child dataset of the target moves back below the
    /// re-created target (the rename in step 1 took the whole subtree along).
    MoveChildBack { from: DatasetName, to: DatasetName },
}

impl PreserveAction {
    /// Why this step is in the plan, for the log and `--dry-run`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::RenameAside { .. } => {
                "keeps the diverged target (all its snapshots and unsnapshotted writes) aside \
                 under a new name; nothing is destroyed"
            }
            Self::CloneCommon { .. } => {
                "re-creates the target at the newest common snapshot, so the source's next \
                 snapshots can be received incrementally; unmounted (canmount=noauto) so \
                 nothing writes to it before the receive"
            }
            Self::Promote { .. } => {
                "gives the snapshots up to the common one back to the target; the kept-aside \
                 dataset keeps only what diverged and can be destroyed later on its own"
            }
            Self::MoveChildBack { .. } => {
                "the rename took the target's child datasets along; they belong below the \
                 target (each is replicated, and preserved if diverged, as its own pair)"
            }
        }
    }
}

impl fmt::Display for PreserveAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RenameAside { from, to } => write!(f, "zfs rename {from} {to}"),
            Self::MoveChildBack { from, to } => write!(f, "zfs rename -u {from} {to}"),
            Self::CloneCommon { origin, to } => {
                write!(f, "zfs clone -o canmount=noauto {origin} {to}")
            }
            Self::Promote { dataset } => write!(f, "zfs promote {dataset}"),
        }
    }
}

/// What to keep aside and how; the incremental steps afterwards come from the planner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreservePlan {
    pub target: DatasetName,
    /// The name the diverged target gets.
    pub aside: DatasetName,
    pub common: Common,
    /// Target snapshots after the common one; they stay on `aside`.
    pub target_only: Vec<Entry>,
    /// The target was written after its newest snapshot; the writes stay on `aside`.
    pub modified: bool,
    pub actions: Vec<PreserveAction>,
}

impl fmt::Display for PreservePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "preserve the diverged target as {} (its snapshots after the common snapshot {}: {}{}), \
             then continue incrementally from the common snapshot",
            self.aside,
            self.common,
            List(&self.target_only),
            if self.modified {
                ", and its writes after its newest snapshot"
            } else {
                ""
            }
        )
    }
}

impl PreservePlan {
    /// The target's state when `actions[failed]` failed (the ones before it succeeded), and
    /// what resolves it; for the report of a preserve that stopped midway.
    pub fn state_after_failure(&self, failed: usize) -> String {
        let (ds, aside) = (&self.target, &self.aside);
        let common = &self.common.target.name;
        let pending: Vec<String> = self
            .actions
            .iter()
            .skip(failed)
            .map(ToString::to_string)
            .collect();
        let finish = format!("to finish by hand run: {}; then re-run", pending.join("; "));
        match self.actions.get(failed) {
            None => "every preserve step succeeded".to_owned(),
            Some(PreserveAction::RenameAside { .. }) => format!(
                "nothing was changed: {ds} is as it was (diverged). Resolve the cause, then \
                 re-run"
            ),
            Some(PreserveAction::CloneCommon { .. }) => format!(
                "{ds} was renamed to {aside}, which holds all its data; {ds} does not exist now. \
                 To undo: `zfs rename {aside} {ds}`; {finish}"
            ),
            Some(PreserveAction::Promote { .. }) => format!(
                "{aside} holds the diverged data; {ds} is a clone of {aside}@{common} and still \
                 depends on it. {finish}"
            ),
            Some(PreserveAction::MoveChildBack { from, .. }) => format!(
                "{ds} is re-created at @{common} and owns its snapshots, {aside} holds the \
                 diverged data; child datasets from {from} on are still below {aside}. {finish}"
            ),
        }
    }
}

/// Why a target cannot be preserved automatically; each says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreserveRefusal {
    #[error(
        "cannot preserve {target}: {target} is a pool's root dataset, which cannot be renamed; \
         resolve the divergence by hand (see the refusal above)"
    )]
    PoolRoot { target: DatasetName },
    #[error(
        "cannot preserve {target} as {name:?}: not a valid ZFS name ({why}); use a shorter \
         suffix or resolve the divergence by hand"
    )]
    BadName {
        target: DatasetName,
        name: String,
        why: String,
    },
    #[error(
        "cannot preserve {target} as {aside}: {aside} already exists; zferry never overwrites \
         it. Inspect and rename or destroy it, then re-run"
    )]
    AsideExists {
        target: DatasetName,
        aside: DatasetName,
    },
}

/// Plans keeping `target` aside as `<target>.<suffix>`.
///
/// `exists` answers whether a dataset of that name exists on the target host; `children` are
/// the target's direct child datasets (moved back below the re-created target afterwards).
pub fn plan_preserve(
    target: &DatasetName,
    common: &Common,
    target_only: &[Entry],
    modified: bool,
    suffix: &str,
    exists: impl Fn(&DatasetName) -> bool,
    children: &[DatasetName],
) -> Result<PreservePlan, PreserveRefusal> {
    if target.parent().is_none() {
        return Err(PreserveRefusal::PoolRoot {
            target: target.clone(),
        });
    }
    let name = format!("{target}.{suffix}");
    let bad = |why: String| PreserveRefusal::BadName {
        target: target.clone(),
        name: name.clone(),
        why,
    };
    let aside: DatasetName = name.parse().map_err(|e| bad(format!("{e}")))?;
    // Every snapshot the aside dataset will carry must have a valid name too.
    for e in std::iter::once(&common.target).chain(target_only) {
        format!("{aside}@{}", e.name)
            .parse::<SnapshotName>()
            .map_err(|err| bad(format!("snapshot @{}: {err}", e.name)))?;
    }
    if exists(&aside) {
        return Err(PreserveRefusal::AsideExists {
            target: target.clone(),
            aside,
        });
    }
    let origin: SnapshotName = format!("{aside}@{}", common.target.name)
        .parse()
        .map_err(|err| bad(format!("{err}")))?;
    let mut actions = vec![
        PreserveAction::RenameAside {
            from: target.clone(),
            to: aside.clone(),
        },
        PreserveAction::CloneCommon {
            origin,
            to: target.clone(),
        },
        PreserveAction::Promote {
            dataset: target.clone(),
        },
    ];
    for child in children {
        let Some(rel) = target.relative_path_of(child) else {
            continue;
        };
        let from: DatasetName = format!("{aside}/{rel}")
            .parse()
            .map_err(|e| bad(format!("child {child}: {e}")))?;
        actions.push(PreserveAction::MoveChildBack {
            from,
            to: child.clone(),
        });
    }
    Ok(PreservePlan {
        target: target.clone(),
        aside,
        common: common.clone(),
        target_only: target_only.to_vec(),
        modified,
        actions,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::dsl::entries;

    fn ds(s: &str) -> DatasetName {
        s.parse().unwrap()
    }

    fn common(name: &str) -> Common {
        let e = entries(&format!("@{name},5")).pop().unwrap();
        Common {
            source: e.clone(),
            target: e,
        }
    }

    #[test]
    fn utc_stamps_across_calendar_edges() {
        for (secs, stamp) in [
            (0, "19700101T000000Z"),
            (951_782_400, "20000229T000000Z"), // leap day of a 400-year leap year
            (4_107_542_399, "21000228T235959Z"), // 2100 is not a leap year
            (4_107_542_400, "21000301T000000Z"),
            (1_767_225_599, "20251231T235959Z"),
            (-1, "19691231T235959Z"),
        ] {
            assert_eq!(utc_stamp(secs), stamp, "{secs}");
        }
    }

    #[test]
    fn suffixes_are_utc_stamps() {
        // 2026-11-21 21:15:00 UTC
        assert_eq!(diverged_suffix(1_795_295_700), "diverged-20261121T211500Z");
        assert_eq!(
            diverged_epoch_suffix(7, 1_795_295_700),
            "diverged-e7-20261121T211500Z"
        );
    }

    #[test]
    fn plans_rename_clone_promote_and_moves_children_back() {
        let only = entries("@x,6 @y,7");
        let p = plan_preserve(
            &ds("tank/nfs"),
            &common("s1"),
            &only,
            true,
            "diverged-20261121T211500Z",
            |_| false,
            &[ds("tank/nfs/home")],
        )
        .unwrap();
        assert_eq!(p.aside, ds("tank/nfs.diverged-20261121T211500Z"));
        let lines: Vec<String> = p.actions.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "zfs rename tank/nfs tank/nfs.diverged-20261121T211500Z",
                "zfs clone -o canmount=noauto tank/nfs.diverged-20261121T211500Z@s1 tank/nfs",
                "zfs promote tank/nfs",
                "zfs rename -u tank/nfs.diverged-20261121T211500Z/home tank/nfs/home",
            ]
        );
        let text = p.to_string();
        assert!(
            text.contains("@x, @y") && text.contains("writes") && text.contains("@s1"),
            "{text}"
        );
        assert!(p.actions.iter().all(|a| !a.reason().is_empty()));
    }

    #[test]
    fn a_failure_midway_says_where_the_data_is_and_what_to_run() {
        let p = plan_preserve(
            &ds("tank/nfs"),
            &common("s1"),
            &[],
            true,
            "diverged-x",
            |_| false,
            &[ds("tank/nfs/a")],
        )
        .unwrap();
        let expect = [
            (0, "nothing was changed"),
            (1, "zfs rename tank/nfs.diverged-x tank/nfs"),
            (2, "is a clone of tank/nfs.diverged-x@s1"),
            (3, "zfs rename -u tank/nfs.diverged-x/a tank/nfs/a"),
            (4, "every preserve step succeeded"),
        ];
        for (failed, part) in expect {
            let text = p.state_after_failure(failed);
            assert!(text.contains(part), "{failed}: {text}");
        }
        assert!(
            p.state_after_failure(1).contains(
                "zfs clone -o canmount=noauto tank/nfs.diverged-x@s1 tank/nfs; zfs promote"
            )
        );
    }

    #[test]
    fn refusals_table() {
        let c = common("s1");
        let cases: [(&str, &str, bool, &str); 4] = [
            ("tank", "diverged-1", false, "pool's root"),
            ("tank/nfs", "diverged-1", true, "already exists"),
            ("tank/nfs", "bad@name", false, "not a valid ZFS name"),
            ("tank/nfs", &"x".repeat(250), false, "not a valid ZFS name"),
        ];
        for (target, suffix, exists, expect) in cases {
            let err = plan_preserve(&ds(target), &c, &[], false, suffix, |_| exists, &[])
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect), "{target} {suffix}: {err}");
        }
        // The aside name fits but a kept snapshot's full name would not.
        let long = "s".repeat(210);
        let err = plan_preserve(
            &ds("tank/nfs"),
            &c,
            &entries(&format!("@{long},9")),
            false,
            &"d".repeat(40),
            |_| false,
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("snapshot @s"), "{err}");
    }
}
