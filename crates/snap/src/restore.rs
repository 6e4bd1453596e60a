//! Restore helpers (M8): roll a dataset back to a snapshot, clone a snapshot for inspection.
//!
//! `zfs rollback` to anything but the newest snapshot destroys data: `-r` destroys every
//! newer snapshot *and bookmark* (bookmarks may be replication cursors that keep a target
//! incremental), `-R` also destroys clones of those snapshots, and any write since the
//! newest snapshot is lost. [`plan_rollback`] names each of those before anything runs and
//! refuses unless the admin forces it.

use serde::Serialize;
use zferry_zfs::{BookmarkName, DatasetName, ObjectName, SnapshotName, ZfsObject};

/// What `zfs rollback` needs to be told for this plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RollbackFlag {
    /// Rolling back to the newest snapshot: nothing but unsnapshotted writes is lost.
    None,
    /// `-r`: newer snapshots/bookmarks are destroyed.
    Recursive,
    /// `-R`: newer snapshots, bookmarks and clones of them are destroyed.
    RecursiveClones,
}

impl RollbackFlag {
    /// The flag for `zfs rollback`, if any.
    pub fn arg(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Recursive => Some("-r"),
            Self::RecursiveClones => Some("-R"),
        }
    }
}

/// Everything a rollback destroys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackPlan {
    pub target: SnapshotName,
    pub newer_snapshots: Vec<SnapshotName>,
    pub newer_bookmarks: Vec<BookmarkName>,
    pub clones: Vec<DatasetName>,
    /// Bytes written to the dataset since its newest snapshot (lost by any rollback).
    pub unsnapshotted_bytes: Option<u64>,
    pub flag: RollbackFlag,
}

impl RollbackPlan {
    /// Does this rollback destroy snapshots, bookmarks or clones?
    pub fn destroys_anything(&self) -> bool {
        self.flag != RollbackFlag::None
    }

    /// One line per destroyed object, each with why it goes.
    pub fn destroyed_items(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for s in &self.newer_snapshots {
            lines.push(format!("destroy snapshot {s}: newer than {}", self.target));
        }
        for b in &self.newer_bookmarks {
            let cursor = if b.bookmark_part().starts_with("zferry_") {
                " (a zferry replication cursor: its target loses its incremental base)"
            } else {
                ""
            };
            lines.push(format!(
                "destroy bookmark {b}: newer than {}{cursor}",
                self.target
            ));
        }
        for c in &self.clones {
            lines.push(format!(
                "destroy clone {c}: cloned from a snapshot newer than {}",
                self.target
            ));
        }
        lines
    }
}

/// Why a rollback is not done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollbackError {
    #[error("snapshot {0} does not exist")]
    NoSuchSnapshot(SnapshotName),
    #[error(
        "rolling back to {target} would destroy {count} object(s):\n  {items}\nnothing was changed; \
         re-run with --force to destroy them, or clone the snapshot instead: zferry snap clone {target} <new-dataset>",
        target = .0.target,
        count = .0.destroyed_items().len(),
        items = .0.destroyed_items().join("\n  ")
    )]
    WouldDestroy(Box<RollbackPlan>),
}

/// Plans a rollback of `target`'s dataset from one listing of that dataset (snapshots and
/// bookmarks, any order) and the pool's clones. Refuses when anything would be destroyed
/// unless `force`.
pub fn plan_rollback(
    objects: &[ZfsObject],
    clones: &[(DatasetName, SnapshotName)],
    target: &SnapshotName,
    force: bool,
) -> Result<RollbackPlan, RollbackError> {
    let dataset = target.dataset();
    let target_txg = objects
        .iter()
        .find(|o| matches!(&o.name, ObjectName::Snapshot(s) if s == target))
        .map(|o| o.createtxg)
        .ok_or_else(|| RollbackError::NoSuchSnapshot(target.clone()))?;
    let mut newer: Vec<&ZfsObject> = objects
        .iter()
        .filter(|o| o.name.dataset() == dataset && o.createtxg > target_txg)
        .collect();
    newer.sort_by_key(|o| o.createtxg);
    let newer_snapshots: Vec<SnapshotName> = newer
        .iter()
        .filter_map(|o| match &o.name {
            ObjectName::Snapshot(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let newer_bookmarks: Vec<BookmarkName> = newer
        .iter()
        .filter_map(|o| match &o.name {
            ObjectName::Bookmark(b) => Some(b.clone()),
            _ => None,
        })
        .collect();
    let clones: Vec<DatasetName> = clones
        .iter()
        .filter(|(_, origin)| newer_snapshots.contains(origin))
        .map(|(clone, _)| clone.clone())
        .collect();
    let unsnapshotted_bytes = objects
        .iter()
        .find(|o| matches!(&o.name, ObjectName::Dataset(d) if *d == dataset))
        .and_then(|o| o.written);
    let flag = match (
        newer_snapshots.is_empty() && newer_bookmarks.is_empty(),
        clones.is_empty(),
    ) {
        (true, _) => RollbackFlag::None,
        (false, true) => RollbackFlag::Recursive,
        (false, false) => RollbackFlag::RecursiveClones,
    };
    let plan = RollbackPlan {
        target: target.clone(),
        newer_snapshots,
        newer_bookmarks,
        clones,
        unsnapshotted_bytes,
        flag,
    };
    if plan.destroys_anything() && !force {
        return Err(RollbackError::WouldDestroy(Box::new(plan)));
    }
    Ok(plan)
}

/// `zfs rollback [-r|-R] <target>`.
pub fn rollback_argv(plan: &RollbackPlan) -> Vec<String> {
    let mut argv = vec!["zfs".to_owned(), "rollback".to_owned()];
    argv.extend(plan.flag.arg().map(str::to_owned));
    argv.push(plan.target.to_string());
    argv
}

/// `zfs clone -o readonly=on <snapshot> <new>` (writable on request): a clone for
/// inspection never changes the snapshot's dataset.
pub fn clone_argv(snapshot: &SnapshotName, new: &DatasetName, writable: bool) -> Vec<String> {
    let mut argv = vec!["zfs".to_owned(), "clone".to_owned()];
    if !writable {
        argv.extend(["-o".to_owned(), "readonly=on".to_owned()]);
    }
    argv.push(snapshot.to_string());
    argv.push(new.to_string());
    argv
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;
    use zferry_zfs::parse_list;

    /// Rows of `zfs list -H -p -o name,type,guid,createtxg,creation,used,referenced,written`.
    fn objects(rows: &[(&str, &str, u64)]) -> Vec<ZfsObject> {
        let mut text = String::new();
        for (i, (name, kind, txg)) in rows.iter().enumerate() {
            let written = if *kind == "filesystem" { "4096" } else { "0" };
            let guid = 100 + i;
            writeln!(
                text,
                "{name}\t{kind}\t{guid}\t{txg}\t1700000000\t0\t0\t{written}"
            )
            .unwrap();
        }
        parse_list(&text, &[]).unwrap()
    }

    fn snap(s: &str) -> SnapshotName {
        s.parse().unwrap()
    }

    fn state() -> Vec<ZfsObject> {
        objects(&[
            ("tank/a", "filesystem", 1),
            ("tank/a@s1", "snapshot", 10),
            ("tank/a@s2", "snapshot", 20),
            ("tank/a#zferry_b_1", "bookmark", 20),
            ("tank/a@s3", "snapshot", 30),
            ("tank/a/child@s9", "snapshot", 40),
        ])
    }

    #[test]
    fn newest_snapshot_needs_no_flag_and_loses_only_unsnapshotted_writes() {
        let plan = plan_rollback(&state(), &[], &snap("tank/a@s3"), false).unwrap();
        assert_eq!(plan.flag, RollbackFlag::None);
        assert_eq!(plan.unsnapshotted_bytes, Some(4096));
        assert_eq!(rollback_argv(&plan), ["zfs", "rollback", "tank/a@s3"]);
    }

    #[test]
    fn older_snapshot_is_refused_and_every_victim_named() {
        let err = plan_rollback(&state(), &[], &snap("tank/a@s1"), false).unwrap_err();
        let RollbackError::WouldDestroy(plan) = &err else {
            panic!("{err}")
        };
        assert_eq!(
            plan.newer_snapshots,
            vec![snap("tank/a@s2"), snap("tank/a@s3")]
        );
        assert_eq!(plan.newer_bookmarks.len(), 1);
        let text = err.to_string();
        assert!(
            text.contains("destroy snapshot tank/a@s2") && text.contains("replication cursor"),
            "{text}"
        );
        assert!(
            !text.contains("child"),
            "another dataset's snapshot was listed: {text}"
        );
    }

    #[test]
    fn forced_rollback_with_clones_uses_big_r() {
        let clones = vec![
            ("tank/inspect".parse().unwrap(), snap("tank/a@s2")),
            ("tank/old".parse().unwrap(), snap("tank/a@s1")),
        ];
        let plan = plan_rollback(&state(), &clones, &snap("tank/a@s1"), true).unwrap();
        assert_eq!(plan.flag, RollbackFlag::RecursiveClones);
        assert_eq!(
            plan.clones,
            vec!["tank/inspect".parse::<DatasetName>().unwrap()],
            "a clone of the target itself survives"
        );
        assert_eq!(rollback_argv(&plan), ["zfs", "rollback", "-R", "tank/a@s1"]);
    }

    #[test]
    fn missing_snapshot_is_an_error() {
        assert_eq!(
            plan_rollback(&state(), &[], &snap("tank/a@nope"), true).unwrap_err(),
            RollbackError::NoSuchSnapshot(snap("tank/a@nope"))
        );
    }

    #[test]
    fn clones_are_read_only_unless_asked() {
        let new: DatasetName = "tank/look".parse().unwrap();
        assert_eq!(
            clone_argv(&snap("tank/a@s1"), &new, false),
            [
                "zfs",
                "clone",
                "-o",
                "readonly=on",
                "tank/a@s1",
                "tank/look"
            ]
        );
        assert_eq!(
            clone_argv(&snap("tank/a@s1"), &new, true),
            ["zfs", "clone", "tank/a@s1", "tank/look"]
        );
    }
}
