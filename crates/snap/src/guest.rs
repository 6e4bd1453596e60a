//! Running-guest mode (seed 002, M12/M15): only disks of guests running on this node get
//! policy snapshots; where a guest runs is recorded in a user property (`label:running`).
//!
//! Pure decisions plus one thin fetch. Input: the guest list (`pvesh get /cluster/resources
//! --type vm --output-format json`, or any command printing the same JSON array), the
//! gathered datasets, this host's name. Per guest dataset:
//! - guest running on this node: policy snapshots as planned; property set to `<host>` if it
//!   is not already;
//! - not running here, property unset/`-` or `<host>`: property set to `stopped` and one
//!   final `<prefix>_<time>_stopped` snapshot, in the same channel program; no policy snapshots;
//! - not running here, property names another host: untouched (no snapshots, no property);
//! - templates (`base-<vmid>-disk-N`, or `template: 1`): never snapshotted.
//!
//! Dataset → guest: `vm-<vmid>-disk-N`, `subvol-<vmid>-disk-N`, `base-<vmid>-disk-N` as the
//! last name component, or an explicit `[guest-map]` entry (which wins).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use zferry_config::Vmid;
use zferry_exec::{CommandSpec, Executor};
use zferry_zfs::{DatasetName, PoolName};

use crate::model::{Create, DatasetState, Note, Plan, SetProperty};

/// The value a stopped guest's datasets carry.
pub const STOPPED: &str = "stopped";

/// The command that lists the guests: `global.guest-command`, or [`default_guest_command`].
pub fn guest_command(global: &zferry_config::Global) -> Vec<String> {
    global
        .guest_command
        .as_ref()
        .map_or_else(default_guest_command, |a| a.as_slice().to_vec())
}

/// The default guest-state command.
pub fn default_guest_command() -> Vec<String> {
    [
        "pvesh",
        "get",
        "/cluster/resources",
        "--type",
        "vm",
        "--output-format",
        "json",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// One guest as the cluster reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guest {
    pub vmid: u32,
    pub node: String,
    pub status: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub hastate: Option<String>,
    /// The guest's config lock (`migrate`, `backup`, `snapshot`, …), absent when unlocked.
    #[serde(default)]
    pub lock: Option<String>,
    #[serde(default, deserialize_with = "zero_one")]
    pub template: bool,
    #[serde(default)]
    pub name: Option<String>,
}

fn zero_one<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => Ok(b),
        serde_json::Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        serde_json::Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        serde_json::Value::Null => Ok(false),
        other => Err(serde::de::Error::custom(format!(
            "template must be 0 or 1, got {other}"
        ))),
    }
}

impl Guest {
    pub fn is_running(&self) -> bool {
        self.status == "running"
    }
}

/// The guest list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error("guest-state command `{}` failed: {source}", argv.join(" "))]
    Exec {
        argv: Vec<String>,
        #[source]
        source: zferry_exec::ExecError,
    },
    #[error("the guest-state command is empty")]
    EmptyCommand,
    #[error("guest-state JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Parses the JSON array; entries that are not `qemu`/`lxc` guests (nodes, storage) are
/// skipped.
pub fn parse_guests(json: &str) -> Result<Vec<Guest>, GuestError> {
    let items: Vec<serde_json::Value> = serde_json::from_str(json)?;
    items
        .into_iter()
        .filter(|v| matches!(v.get("type").and_then(|t| t.as_str()), Some("qemu" | "lxc")))
        .map(|v| serde_json::from_value(v).map_err(GuestError::from))
        .collect()
}

/// Runs the guest-state command and parses its output.
pub fn fetch_guests(exec: &dyn Executor, argv: &[String]) -> Result<Vec<Guest>, GuestError> {
    let Some((program, rest)) = argv.split_first() else {
        return Err(GuestError::EmptyCommand);
    };
    let spec = CommandSpec::new(program.clone()).args(rest.iter().cloned());
    let out = exec
        .run(&spec)
        .and_then(zferry_exec::Output::check)
        .map_err(|source| GuestError::Exec {
            argv: argv.to_vec(),
            source,
        })?;
    parse_guests(&out.stdout_lossy())
}

/// What a guest dataset is, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GuestDisk {
    pub vmid: u32,
    /// `base-…`: a template disk.
    pub template: bool,
}

/// The guest a dataset belongs to: explicit map first, then Proxmox disk naming.
pub fn guest_disk(ds: &DatasetName, map: &BTreeMap<DatasetName, Vmid>) -> Option<GuestDisk> {
    if let Some(v) = map.get(ds) {
        return Some(GuestDisk {
            vmid: v.get(),
            template: false,
        });
    }
    let last = ds.components().next_back()?;
    let (kind, rest) = last.split_once('-')?;
    let (vmid, rest) = rest.split_once('-')?;
    let n = rest.strip_prefix("disk-")?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(vmid) || !digits(n) {
        return None;
    }
    let template = match kind {
        "vm" | "subvol" => false,
        "base" => true,
        _ => return None,
    };
    Some(GuestDisk {
        vmid: vmid.parse().ok()?,
        template,
    })
}

/// Inputs of the guest decisions.
#[derive(Debug, Clone)]
pub struct GuestContext<'a> {
    /// This node's name, as `node` in the guest list and as the property value.
    pub host: &'a str,
    /// The user property (`global.running-property`, default `label:running`).
    pub property: &'a str,
    /// Snapshot name prefix (`autosnap`).
    pub prefix: &'a str,
    /// The run's time as snapshot names format it (`YYYY-MM-DD_HH:MM:SS`).
    pub stamp: &'a str,
    pub guests: &'a [Guest],
    pub map: &'a BTreeMap<DatasetName, Vmid>,
}

/// What happens to one guest dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Decision {
    /// Running here: policy snapshots go ahead.
    Snapshot,
    /// Just stopped (or moved away): property `stopped` and one final snapshot.
    FinalSnapshot,
    /// Not running here, nothing to do (already `stopped`, another host's, or a template).
    Leave,
}

/// One guest dataset's decision and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestDecision {
    pub dataset: DatasetName,
    pub vmid: u32,
    pub decision: Decision,
    pub reason: String,
}

/// Decides every guest dataset in `datasets` (non-guest datasets are not returned).
pub fn decide(datasets: &[DatasetState], ctx: &GuestContext<'_>) -> Vec<GuestDecision> {
    let by_id: BTreeMap<u32, &Guest> = ctx.guests.iter().map(|g| (g.vmid, g)).collect();
    datasets
        .iter()
        .filter_map(|ds| {
            let disk = guest_disk(&ds.name, ctx.map)?;
            let prop = ds
                .user_props
                .get(ctx.property)
                .cloned()
                .flatten()
                .filter(|v| v != "-");
            let guest = by_id.get(&disk.vmid).copied();
            let (decision, reason) = decide_one(disk, guest, prop.as_deref(), ctx);
            Some(GuestDecision {
                dataset: ds.name.clone(),
                vmid: disk.vmid,
                decision,
                reason,
            })
        })
        .collect()
}

fn decide_one(
    disk: GuestDisk,
    guest: Option<&Guest>,
    prop: Option<&str>,
    ctx: &GuestContext<'_>,
) -> (Decision, String) {
    let id = disk.vmid;
    if disk.template || guest.is_some_and(|g| g.template) {
        return (
            Decision::Leave,
            format!("guest {id} is a template: never snapshotted"),
        );
    }
    let here = ctx.host;
    let where_ = match guest {
        Some(g) if g.is_running() && g.node == here => {
            return (Decision::Snapshot, format!("guest {id} runs on {here}"));
        }
        Some(g) if g.is_running() => format!("guest {id} runs on {}", g.node),
        Some(g) => format!("guest {id} is {} (on {})", g.status, g.node),
        None => format!("guest {id} is not in the guest list"),
    };
    match prop {
        None => (
            Decision::FinalSnapshot,
            format!("{where_}; {} unset: final snapshot", ctx.property),
        ),
        Some(v) if v == here => (
            Decision::FinalSnapshot,
            format!("{where_}; {}={here}: final snapshot", ctx.property),
        ),
        Some(STOPPED) => (
            Decision::Leave,
            format!("{where_}; already {STOPPED}: no snapshots"),
        ),
        Some(other) => (
            Decision::Leave,
            format!(
                "{where_}; {}={other} is another host's: not touched",
                ctx.property
            ),
        ),
    }
}

/// Applies the decisions to a policy plan: drops creates and destroys of guest datasets not
/// running here, adds the property changes and final `_stopped` snapshots, and notes guests
/// whose disks span pools.
pub fn apply(
    mut plan: Plan,
    datasets: &[DatasetState],
    decisions: &[GuestDecision],
    ctx: &GuestContext<'_>,
) -> Plan {
    let by_ds: BTreeMap<&DatasetName, &GuestDecision> =
        decisions.iter().map(|d| (&d.dataset, d)).collect();
    let blocked = |ds: &DatasetName| {
        by_ds
            .get(ds)
            .is_some_and(|d| d.decision != Decision::Snapshot)
    };
    let dropped_creates = plan
        .create
        .iter()
        .filter(|c| blocked(&c.snapshot.dataset()))
        .count();
    let dropped_destroys = plan
        .destroy
        .iter()
        .filter(|d| blocked(&d.snapshot.dataset()))
        .count();
    plan.create.retain(|c| !blocked(&c.snapshot.dataset()));
    plan.destroy.retain(|d| !blocked(&d.snapshot.dataset()));
    if dropped_creates + dropped_destroys > 0 {
        plan.notes.push(Note {
            dataset: None,
            message: format!(
                "guest mode: {dropped_creates} policy snapshots and {dropped_destroys} prunes \
                 skipped for guests not running on {}",
                ctx.host
            ),
        });
    }
    let props: BTreeMap<&DatasetName, Option<&str>> = datasets
        .iter()
        .map(|d| {
            let v = d.user_props.get(ctx.property).and_then(|v| v.as_deref());
            (&d.name, v)
        })
        .collect();
    for d in decisions {
        let current = props.get(&d.dataset).copied().flatten();
        match d.decision {
            Decision::Snapshot => {
                if current != Some(ctx.host) {
                    plan.set_properties.push(SetProperty {
                        dataset: d.dataset.clone(),
                        property: ctx.property.to_owned(),
                        value: ctx.host.to_owned(),
                        reason: format!("{} (was {})", d.reason, current.unwrap_or("-")),
                    });
                }
            }
            Decision::FinalSnapshot => {
                plan.set_properties.push(SetProperty {
                    dataset: d.dataset.clone(),
                    property: ctx.property.to_owned(),
                    value: STOPPED.to_owned(),
                    reason: d.reason.clone(),
                });
                let name = format!("{}_{}_{STOPPED}", ctx.prefix, ctx.stamp);
                match d.dataset.snapshot(&name) {
                    Ok(snapshot) => plan.create.push(Create {
                        snapshot,
                        period: None,
                        reason: d.reason.clone(),
                    }),
                    Err(e) => plan.notes.push(Note {
                        dataset: Some(d.dataset.clone()),
                        message: format!("cannot name the final snapshot {name:?}: {e}"),
                    }),
                }
            }
            Decision::Leave => plan.notes.push(Note {
                dataset: Some(d.dataset.clone()),
                message: d.reason.clone(),
            }),
        }
    }
    let mut pools: BTreeMap<u32, BTreeSet<PoolName>> = BTreeMap::new();
    for d in decisions {
        pools.entry(d.vmid).or_default().insert(d.dataset.pool());
    }
    for (vmid, pools) in pools.into_iter().filter(|(_, p)| p.len() > 1) {
        let names: Vec<String> = pools.iter().map(ToString::to_string).collect();
        plan.notes.push(Note {
            dataset: None,
            message: format!(
                "guest {vmid} has disks on pools {}: its snapshots cannot share one \
                 transaction group",
                names.join(", ")
            ),
        });
    }
    plan
}

#[cfg(test)]
mod tests;
