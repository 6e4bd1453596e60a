//! The planner's vocabulary: observed state in, a plan with reasons out. Plain data, no IO.

use std::collections::BTreeMap;

use serde::Serialize;
use zferry_config::Period;
use zferry_zfs::{DatasetName, Guid, SnapshotName, Txg};

/// One snapshot as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapInfo {
    pub name: SnapshotName,
    pub guid: Guid,
    pub createtxg: Txg,
    /// Creation time, seconds since the Unix epoch (UTC). `None` when not read: a fast state
    /// read (see [`crate::state`]) learns it only for snapshots the policy names.
    pub creation: Option<i64>,
    /// Number of user holds (`userrefs`); a held snapshot is never pruned. `None` when not
    /// read: the channel program that destroys checks holds itself and keeps held snapshots.
    pub holds: Option<u64>,
}

/// One filesystem or volume and its snapshots, as read by one `zfs list` per pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetState {
    pub name: DatasetName,
    /// Sorted by `createtxg`, oldest first.
    pub snapshots: Vec<SnapInfo>,
    /// User properties that were asked for (e.g. `label:running`); `None` when unset.
    pub user_props: BTreeMap<String, Option<String>>,
}

/// Why a snapshot must survive pruning whatever its age.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Protection {
    /// It has user holds (replication holds `zferry:<target>` among them).
    Held { holds: u64 },
    /// A replication cursor names it as the base for a target.
    ReplicationBase { target: String },
}

/// Runtime switches that override the configured `autosnap`/`autoprune` (the HA controller
/// turns snapshots off on a standby without editing the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Switches {
    pub autosnap: Option<bool>,
    pub autoprune: Option<bool>,
}

/// Switches for one subtree: the HA controller's role for a service's datasets on this node
/// (a standby takes no snapshots of them; another node's datasets are left alone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchOverride {
    /// The dataset and its descendants.
    pub root: DatasetName,
    pub switches: Switches,
    /// Why, for the plan's notes (`service nfs: standby of pve2`).
    pub reason: String,
}

/// The override with the deepest root covering `dataset` (the later one among equal roots).
pub fn covering_override<'o>(
    overrides: &'o [SwitchOverride],
    dataset: &DatasetName,
) -> Option<&'o SwitchOverride> {
    overrides
        .iter()
        .filter(|o| o.root == *dataset || o.root.is_ancestor_of(dataset))
        .max_by_key(|o| o.root.as_str().len())
}

/// The switches in force for `dataset`: an explicit `false` of the run (`--no-autosnap`) always
/// wins; otherwise the override with the deepest root covering `dataset` (the later one among
/// equal roots), then the run's switches.
pub fn switches_for(
    run: Switches,
    overrides: &[SwitchOverride],
    dataset: &DatasetName,
) -> Switches {
    let Some(o) = covering_override(overrides, dataset) else {
        return run;
    };
    let pick = |run: Option<bool>, over: Option<bool>| match run {
        Some(false) => Some(false),
        _ => over.or(run),
    };
    Switches {
        autosnap: pick(run.autosnap, o.switches.autosnap),
        autoprune: pick(run.autoprune, o.switches.autoprune),
    }
}

/// One snapshot to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Create {
    pub snapshot: SnapshotName,
    /// `None` for the final `_stopped` snapshot of a guest (M15).
    pub period: Option<Period>,
    pub reason: String,
}

/// One snapshot to destroy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Destroy {
    pub snapshot: SnapshotName,
    /// The guid the plan saw under that name: the destroy happens only if the snapshot still
    /// has it (a snapshot re-created under the same name since the read is not the one the
    /// policy counted).
    pub guid: Guid,
    /// The period it was counted in; for a `_stopped` snapshot, the period whose
    /// count × length is the policy's longest window (see `planner`).
    pub period: Period,
    pub reason: String,
}

/// One snapshot kept although the policy alone would have pruned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub snapshot: SnapshotName,
    pub protection: Protection,
    pub reason: String,
}

/// A user property to set in the same transaction as the snapshots (e.g. `label:running`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetProperty {
    pub dataset: DatasetName,
    pub property: String,
    pub value: String,
    pub reason: String,
}

/// Something the admin should know that is not an action (e.g. a guest whose disks span
/// pools cannot be snapshotted in one transaction group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub dataset: Option<DatasetName>,
    pub message: String,
}

/// Everything one run will do, each item with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Plan {
    pub create: Vec<Create>,
    pub destroy: Vec<Destroy>,
    pub kept: Vec<Kept>,
    pub set_properties: Vec<SetProperty>,
    pub notes: Vec<Note>,
}

impl Plan {
    /// Nothing to create, destroy or set.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.destroy.is_empty() && self.set_properties.is_empty()
    }
}
