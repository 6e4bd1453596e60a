//! DRBD 9: `drbdsetup status --json <res>`.
//!
//! The output is a JSON array of resource objects. One object has the resource's `name`, the
//! local `role` (`Primary`, `Secondary`, `Unknown`), `devices[]` (per volume: `volume`,
//! `disk-state`, and `quorum` when the resource has a quorum policy) and `connections[]` (per
//! peer: `name` — the peer's host name —, `peer-node-id`, `connection-state`, `peer-role`).
//! The local host's name is not in the output: the caller passes it.
//!
//! The service runs where the resource is Primary:
//! - exactly one Primary among this node and its peers → that node;
//! - two or more → transition `dual-primary` (a live migration, or a split brain), no node;
//! - none, every peer's role known → runs nowhere;
//! - none, and a peer's role is `Unknown` (disconnected) → transition `peer-role-unknown`: a
//!   Primary may exist out of sight.
//!
//! Quorum: every local device reporting `quorum: true` → quorate; any `false` → lost; no
//! device reporting it (no quorum policy) → not applicable.

use serde::{Deserialize, Serialize};

use super::{NodeNameError, validate_node_name};
use crate::observation::{Quorum, View};

/// A DRBD answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DrbdError {
    #[error("drbdsetup status --json output is not JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    #[error("DRBD resource {0:?} is not in the drbdsetup status output (not up on this node?)")]
    NoSuchResource(String),
    #[error("DRBD resource {resource:?} appears {count} times in the drbdsetup status output")]
    DuplicateResource { resource: String, count: usize },
    #[error("DRBD resource {resource:?}: peer node id {peer_node_id}: name: {source}")]
    PeerName {
        resource: String,
        peer_node_id: u32,
        #[source]
        source: NodeNameError,
    },
    #[error("DRBD resource {resource:?}: peer {peer:?} has this node's name")]
    PeerIsLocal { resource: String, peer: String },
    #[error("local node name: {0}")]
    LocalName(#[source] NodeNameError),
}

/// A DRBD role as drbdsetup prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DrbdRole {
    Primary,
    Secondary,
    /// A disconnected peer's role.
    Unknown,
}

/// One resource's status, the parts placement needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DrbdResource {
    pub name: String,
    pub role: DrbdRole,
    #[serde(default)]
    pub devices: Vec<DrbdDevice>,
    #[serde(default)]
    pub connections: Vec<DrbdPeer>,
}

/// One local volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DrbdDevice {
    pub volume: u32,
    #[serde(default)]
    pub disk_state: Option<String>,
    /// Present when the resource has a quorum policy.
    #[serde(default)]
    pub quorum: Option<bool>,
}

/// One connection to a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DrbdPeer {
    /// The peer's host name.
    pub name: String,
    pub peer_node_id: u32,
    #[serde(default)]
    pub connection_state: Option<String>,
    pub peer_role: DrbdRole,
}

/// Finds resource `resource` in the output of `drbdsetup status --json [<resource>]` and
/// checks its peers' names.
pub fn parse_drbd_status(json: &str, resource: &str) -> Result<DrbdResource, DrbdError> {
    let all: Vec<DrbdResource> = serde_json::from_str(json)?;
    let mut found: Vec<DrbdResource> = all.into_iter().filter(|r| r.name == resource).collect();
    let r = match found.len() {
        0 => return Err(DrbdError::NoSuchResource(resource.to_owned())),
        1 => found.remove(0),
        count => {
            return Err(DrbdError::DuplicateResource {
                resource: resource.to_owned(),
                count,
            });
        }
    };
    for p in &r.connections {
        validate_node_name(&p.name).map_err(|source| DrbdError::PeerName {
            resource: r.name.clone(),
            peer_node_id: p.peer_node_id,
            source,
        })?;
    }
    Ok(r)
}

impl DrbdResource {
    /// The nodes where the resource is Primary, `local` first when it is.
    pub fn primaries<'a>(&'a self, local: &'a str) -> Vec<&'a str> {
        let mut out = Vec::new();
        if self.role == DrbdRole::Primary {
            out.push(local);
        }
        out.extend(
            self.connections
                .iter()
                .filter(|p| p.peer_role == DrbdRole::Primary)
                .map(|p| p.name.as_str()),
        );
        out
    }

    /// The local devices' quorum (see the module docs).
    pub fn quorum(&self) -> Quorum {
        let reported: Vec<bool> = self.devices.iter().filter_map(|d| d.quorum).collect();
        if reported.is_empty() {
            Quorum::NotApplicable
        } else {
            Quorum::from_quorate(reported.iter().all(|q| *q))
        }
    }

    /// Checks `local` as a node name and that no peer carries it.
    pub fn check_local(&self, local: &str) -> Result<(), DrbdError> {
        validate_node_name(local).map_err(DrbdError::LocalName)?;
        if let Some(p) = self.connections.iter().find(|p| p.name == local) {
            return Err(DrbdError::PeerIsLocal {
                resource: self.name.clone(),
                peer: p.name.clone(),
            });
        }
        Ok(())
    }

    /// The view from node `local` (checked with [`DrbdResource::check_local`] first by
    /// callers that take `local` from configuration).
    pub fn view(&self, local: &str) -> View {
        let quorum = self.quorum();
        match self.primaries(local).as_slice() {
            [one] => View::on(one, quorum),
            [] => {
                let unknown = self
                    .connections
                    .iter()
                    .any(|p| p.peer_role == DrbdRole::Unknown);
                View {
                    node: None,
                    quorum,
                    transition: unknown.then(|| "peer-role-unknown".to_owned()),
                }
            }
            _ => View {
                node: None,
                quorum,
                transition: Some("dual-primary".to_owned()),
            },
        }
    }
}
