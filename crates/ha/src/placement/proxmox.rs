//! Proxmox VE: where a guest runs, from the cluster's resource list and from the HA manager.
//!
//! **`/cluster/resources`** (`pvesh get /cluster/resources --type vm --output-format json`):
//! the guest's `node`, `status`, `hastate` and `lock`. The JSON is parsed by
//! [`zferry_snap::guest::parse_guests`] (one parser for snapshots and placement); this module
//! picks the guest and judges its state:
//! - `status` `running` → runs on `node`; `stopped` → runs nowhere; `unknown` (Proxmox's word
//!   while the guest's node is offline) → transition `status-unknown`, node kept as evidence.
//!   Any other status is an error.
//! - `hastate` (the HA manager's service state, absent for guests HA does not manage):
//!   `migrate`, `relocate`, `fence`, `recovery`, `freeze`, `error` and `request_stop` are
//!   transitions — the placement is about to change or is not trustworthy; `started`,
//!   `stopped`, `disabled`, `ignored` are not. A running guest whose HA state is `stopped` or
//!   `disabled` is about to be stopped: transition `stopping`. Any other value is an error
//!   (fail closed: a new HA state is looked at before it is trusted).
//! - `lock`: only `migrate` is a placement transition. Config locks such as `backup`,
//!   `snapshot`, `snapshot-delete`, `rollback`, `clone`, `create`, `suspending`, `mounted`,
//!   `disk` change nothing about where the guest runs.
//!
//! **HA manager status** (`pvesh get /cluster/ha/status/current --output-format json`): an
//! array of entries of `type` `quorum` (`quorate` 1/0), `master`, `lrm` and `service` (`sid`
//! like `ct:103`, `node`, `state` — the verbose state —, `crm_state`, `request_state`). A
//! service's verbose `state`:
//! - `started` → runs on `node`; `stopped`, `disabled` → runs nowhere;
//! - `starting`, `stopping`, `migrate`, `relocate`, `fence`, `recovery`, `freeze`, `error`,
//!   `request_stop`, `clearing error flag` → transitions, `node` kept;
//! - `queued`, `ignored`, `deleting`, `not found` → transitions without a node: the HA manager
//!   does not (yet, any more) place the service, so its answer is no placement;
//! - anything else is an error.
//!
//! Without a quorum entry the HA status is an error: that entry is the only thing telling
//! whether the rest is current.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zferry_snap::guest::{Guest, GuestError, parse_guests};

use super::{NodeNameError, validate_node_name};
use crate::observation::{Quorum, View};

/// HA states of `/cluster/resources` that are placement transitions.
pub const HASTATE_TRANSITIONS: &[&str] = &[
    "migrate",
    "relocate",
    "fence",
    "recovery",
    "freeze",
    "error",
    "request_stop",
];

/// HA states of `/cluster/resources` that say nothing against the `status` field.
pub const HASTATE_SETTLED: &[&str] = &["started", "stopped", "disabled", "ignored"];

/// The one config lock that is a placement transition.
pub const LOCK_MIGRATE: &str = "migrate";

/// A Proxmox answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProxmoxError {
    #[error("pvesh /cluster/resources output: {0}")]
    Resources(#[from] GuestError),
    #[error("guest {vmid} is not in /cluster/resources (no such vmid, or no VM.Audit on it)")]
    NoSuchGuest { vmid: u32 },
    #[error("guest {vmid} appears {count} times in /cluster/resources")]
    DuplicateGuest { vmid: u32, count: usize },
    #[error("guest {vmid} has status {status:?}, expected running, stopped or unknown")]
    UnknownStatus { vmid: u32, status: String },
    #[error("guest {vmid} has HA state {hastate:?}, which zferry does not know")]
    UnknownHaState { vmid: u32, hastate: String },
    #[error("guest {vmid}: node name: {source}")]
    GuestNode {
        vmid: u32,
        #[source]
        source: NodeNameError,
    },
    #[error("pvesh /cluster/ha/status/current output is not JSON of the expected shape: {0}")]
    HaJson(#[from] serde_json::Error),
    #[error("HA status entry {index}: {message}")]
    HaEntry { index: usize, message: String },
    #[error("the HA status has no quorum entry")]
    HaNoQuorum,
    #[error("the HA status has {0} quorum entries")]
    HaManyQuorum(usize),
    #[error("HA service {sid:?} is not in the HA status (not HA-managed?)")]
    NoSuchService { sid: String },
    #[error("HA service id {sid:?} matches several services: {}", .matches.join(", "))]
    AmbiguousService { sid: String, matches: Vec<String> },
    #[error("HA service {sid}: state {state:?} is not one zferry knows")]
    UnknownServiceState { sid: String, state: String },
    #[error("HA service {sid} is {state} but the status names no node")]
    ServiceWithoutNode { sid: String, state: String },
    #[error("HA service {sid}: node name: {source}")]
    ServiceNode {
        sid: String,
        #[source]
        source: NodeNameError,
    },
}

/// What `/cluster/resources` says about one guest's placement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestPlacement {
    pub vmid: u32,
    /// The node the guest belongs to (where it runs, or would start).
    pub node: String,
    pub status: GuestStatus,
    pub hastate: Option<String>,
    pub lock: Option<String>,
}

/// A guest's `status` in `/cluster/resources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuestStatus {
    Running,
    Stopped,
    /// The guest's node is offline: Proxmox cannot tell.
    Unknown,
}

/// Finds guest `vmid` in the output of `pvesh get /cluster/resources --type vm
/// --output-format json` and checks its fields.
pub fn parse_resources(json: &str, vmid: u32) -> Result<GuestPlacement, ProxmoxError> {
    let guests = parse_guests(json)?;
    guest_placement(&guests, vmid)
}

/// Picks guest `vmid` from an already parsed guest list (the snapshot run's, for one).
pub fn guest_placement(guests: &[Guest], vmid: u32) -> Result<GuestPlacement, ProxmoxError> {
    let mut found = guests.iter().filter(|g| g.vmid == vmid);
    let Some(g) = found.next() else {
        return Err(ProxmoxError::NoSuchGuest { vmid });
    };
    let more = found.count();
    if more > 0 {
        return Err(ProxmoxError::DuplicateGuest {
            vmid,
            count: more + 1,
        });
    }
    validate_node_name(&g.node).map_err(|source| ProxmoxError::GuestNode { vmid, source })?;
    let status = match g.status.as_str() {
        "running" => GuestStatus::Running,
        "stopped" => GuestStatus::Stopped,
        "unknown" => GuestStatus::Unknown,
        other => {
            return Err(ProxmoxError::UnknownStatus {
                vmid,
                status: other.to_owned(),
            });
        }
    };
    if let Some(h) = g.hastate.as_deref()
        && !HASTATE_TRANSITIONS.contains(&h)
        && !HASTATE_SETTLED.contains(&h)
    {
        return Err(ProxmoxError::UnknownHaState {
            vmid,
            hastate: h.to_owned(),
        });
    }
    Ok(GuestPlacement {
        vmid,
        node: g.node.clone(),
        status,
        hastate: g.hastate.clone(),
        lock: g.lock.clone().filter(|l| !l.is_empty()),
    })
}

impl GuestPlacement {
    /// The transition this guest is in, if any, in Proxmox's own word (see the module docs).
    pub fn transition(&self) -> Option<String> {
        if let Some(h) = self.hastate.as_deref()
            && HASTATE_TRANSITIONS.contains(&h)
        {
            return Some(h.to_owned());
        }
        if self.lock.as_deref() == Some(LOCK_MIGRATE) {
            return Some(LOCK_MIGRATE.to_owned());
        }
        match (self.status, self.hastate.as_deref()) {
            (GuestStatus::Unknown, _) => Some("status-unknown".to_owned()),
            (GuestStatus::Running, Some("stopped" | "disabled")) => Some("stopping".to_owned()),
            _ => None,
        }
    }

    /// The view: the node while running (or while its state is unknown, as evidence), none
    /// when stopped; `quorum` comes from `pvecm status` or the HA status.
    pub fn view(&self, quorum: Quorum) -> View {
        let node = match self.status {
            GuestStatus::Running | GuestStatus::Unknown => Some(self.node.clone()),
            GuestStatus::Stopped => None,
        };
        View {
            node,
            quorum,
            transition: self.transition(),
        }
    }
}

/// The HA manager's status (`/cluster/ha/status/current`), the parts placement needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HaStatus {
    /// The answering node's quorum (`quorate` of the `quorum` entry).
    pub quorate: bool,
    /// The node the quorum entry is about (the node `pvesh` ran on).
    pub quorum_node: String,
    /// The current CRM master, when the status names one.
    pub master: Option<String>,
    pub services: Vec<HaService>,
}

/// One `service` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HaService {
    /// `ct:103`, `vm:100`.
    pub sid: String,
    pub node: Option<String>,
    /// The verbose state (`started`, `migrate`, `starting`, …).
    pub state: String,
    /// The CRM's own state, when the CRM has processed the service.
    pub crm_state: Option<String>,
    /// The configured (requested) state.
    pub request_state: Option<String>,
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    node: Option<String>,
    #[serde(default)]
    quorate: Option<Value>,
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    crm_state: Option<String>,
    #[serde(default)]
    request_state: Option<String>,
}

/// Parses the output of `pvesh get /cluster/ha/status/current --output-format json`.
pub fn parse_ha_status(json: &str) -> Result<HaStatus, ProxmoxError> {
    let entries: Vec<RawEntry> = serde_json::from_str(json)?;
    let entry_err = |index: usize, message: String| ProxmoxError::HaEntry { index, message };
    let mut quorum = Vec::new();
    let mut master = None;
    let mut services = Vec::new();
    for (index, e) in entries.into_iter().enumerate() {
        match e.kind.as_str() {
            "quorum" => {
                let quorate = match e.quorate {
                    Some(Value::Bool(b)) => b,
                    Some(Value::Number(n)) if n.as_u64() == Some(1) => true,
                    Some(Value::Number(n)) if n.as_u64() == Some(0) => false,
                    Some(other) => {
                        return Err(entry_err(
                            index,
                            format!("quorate must be 0, 1, true or false, got {other}"),
                        ));
                    }
                    None => return Err(entry_err(index, "quorum entry without quorate".into())),
                };
                let node = e
                    .node
                    .ok_or_else(|| entry_err(index, "quorum entry without node".into()))?;
                quorum.push((quorate, node));
            }
            "master" => master = e.node,
            "lrm" => {}
            "service" => {
                let sid = e
                    .sid
                    .ok_or_else(|| entry_err(index, "service entry without sid".into()))?;
                let state = e
                    .state
                    .ok_or_else(|| entry_err(index, format!("service {sid} without state")))?;
                services.push(HaService {
                    sid,
                    node: e.node,
                    state,
                    crm_state: e.crm_state,
                    request_state: e.request_state,
                });
            }
            other => return Err(entry_err(index, format!("unknown entry type {other:?}"))),
        }
    }
    let (quorate, quorum_node) = match quorum.len() {
        0 => return Err(ProxmoxError::HaNoQuorum),
        1 => quorum.remove(0),
        n => return Err(ProxmoxError::HaManyQuorum(n)),
    };
    Ok(HaStatus {
        quorate,
        quorum_node,
        master,
        services,
    })
}

/// Verbose service states that are transitions with a meaningful node, beyond the
/// [`HASTATE_TRANSITIONS`] both views share.
const SERVICE_ONLY_TRANSITIONS: &[&str] = &["starting", "stopping", "clearing error flag"];

fn is_service_transition(state: &str) -> bool {
    HASTATE_TRANSITIONS.contains(&state) || SERVICE_ONLY_TRANSITIONS.contains(&state)
}

/// Verbose service states in which the HA manager does not place the service.
const SERVICE_UNPLACED: &[&str] = &["queued", "ignored", "deleting", "not found"];

impl HaStatus {
    pub fn quorum(&self) -> Quorum {
        Quorum::from_quorate(self.quorate)
    }

    /// The service `sid` (`ct:103`); a bare number (`103`) matches `vm:103` or `ct:103` when
    /// only one of them exists. Its state and node are checked.
    pub fn service(&self, sid: &str) -> Result<&HaService, ProxmoxError> {
        let matches: Vec<&HaService> = if sid.bytes().all(|b| b.is_ascii_digit()) {
            self.services
                .iter()
                .filter(|s| s.sid.split_once(':').is_some_and(|(_, id)| id == sid))
                .collect()
        } else {
            self.services.iter().filter(|s| s.sid == sid).collect()
        };
        let service = match matches.as_slice() {
            [] => {
                return Err(ProxmoxError::NoSuchService {
                    sid: sid.to_owned(),
                });
            }
            [one] => *one,
            many => {
                return Err(ProxmoxError::AmbiguousService {
                    sid: sid.to_owned(),
                    matches: many.iter().map(|s| s.sid.clone()).collect(),
                });
            }
        };
        service.check()?;
        Ok(service)
    }

    /// The view of service `sid`, with this status's quorum.
    pub fn view(&self, sid: &str) -> Result<View, ProxmoxError> {
        Ok(self.service(sid)?.view(self.quorum()))
    }
}

impl HaService {
    fn check(&self) -> Result<(), ProxmoxError> {
        let s = self.state.as_str();
        if s != "started"
            && s != "stopped"
            && s != "disabled"
            && !is_service_transition(s)
            && !SERVICE_UNPLACED.contains(&s)
        {
            return Err(ProxmoxError::UnknownServiceState {
                sid: self.sid.clone(),
                state: self.state.clone(),
            });
        }
        match &self.node {
            Some(n) => validate_node_name(n).map_err(|source| ProxmoxError::ServiceNode {
                sid: self.sid.clone(),
                source,
            }),
            None if s == "started" || is_service_transition(s) => {
                Err(ProxmoxError::ServiceWithoutNode {
                    sid: self.sid.clone(),
                    state: self.state.clone(),
                })
            }
            None => Ok(()),
        }
    }

    /// The view of this service (see the module docs for each state).
    pub fn view(&self, quorum: Quorum) -> View {
        let s = self.state.as_str();
        let (node, transition) = match s {
            "started" => (self.node.clone(), None),
            "stopped" | "disabled" => (None, None),
            _ if is_service_transition(s) => (self.node.clone(), Some(self.state.clone())),
            _ => (None, Some(self.state.clone())),
        };
        View {
            node,
            quorum,
            transition,
        }
    }
}
