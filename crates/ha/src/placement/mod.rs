//! Placement sources: where does the service run, and is the cluster that says so quorate?
//!
//! Pure parsers, one module per source, each turning a command's output (text in) into a typed
//! value and that value into a [`View`]. Nothing here runs a command; the caller runs it and
//! passes its stdout.
//! - [`proxmox`]: `pvesh get /cluster/resources --type vm --output-format json` (node, status,
//!   `hastate`, `lock` of one guest; the JSON parser itself is `zferry_snap::guest`), and the
//!   HA manager's `pvesh get /cluster/ha/status/current --output-format json` (the service's
//!   state and node, and the quorum entry).
//! - [`pacemaker`]: `crm_resource --locate -r <rsc> --output-as=xml` (the nodes running a
//!   resource, the promoted one of a promotable clone).
//! - [`drbd`]: `drbdsetup status --json <res>` (DRBD 9: the Primary among this node and its
//!   peers, and the devices' quorum).
//! - [`command`]: any program printing a node name on one line, or a JSON object
//!   `{"node": …, "quorate": …, "transition": …}`.
//! - [`quorum`]: cluster quorum where the source has it apart from the placement: `pvecm
//!   status` (Proxmox) and `crm_mon --output-as=xml` (Pacemaker).
//!
//! [`Reading`] gathers one parsed answer of any source and maps it to a [`View`]. A view with
//! a `transition` (migrate, relocate, fence, recovery, a resource active on two nodes, dual
//! Primary, …) is never a settled placement; the role decision treats it as "not yet".

use serde::Serialize;

use crate::observation::{Quorum, View};

pub mod command;
pub mod drbd;
pub mod pacemaker;
pub mod proxmox;
pub mod quorum;

/// The longest node name accepted (a DNS name's limit).
pub const MAX_NODE_NAME: usize = 253;

/// A node name a source reported is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeNameError {
    #[error("the node name is empty")]
    Empty,
    #[error("node name {0:?} contains whitespace")]
    Whitespace(String),
    #[error("node name {0:?} contains a control character")]
    Control(String),
    #[error("node name {name:?} is {len} bytes long, more than {max}", len = .name.len(), max = MAX_NODE_NAME)]
    TooLong { name: String },
}

/// Checks a node name: non-empty, printable, no whitespace anywhere, at most
/// [`MAX_NODE_NAME`] bytes. Sources print names verbatim, so one with a stray space or
/// newline inside is a misconfiguration to report, not to guess around.
pub fn validate_node_name(name: &str) -> Result<(), NodeNameError> {
    if name.is_empty() {
        return Err(NodeNameError::Empty);
    }
    if name.chars().any(char::is_whitespace) {
        return Err(NodeNameError::Whitespace(name.to_owned()));
    }
    if name.chars().any(char::is_control) {
        return Err(NodeNameError::Control(name.to_owned()));
    }
    if name.len() > MAX_NODE_NAME {
        return Err(NodeNameError::TooLong {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// One source's parsed answer, with what it needs to become a [`View`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum Reading {
    /// A guest from `/cluster/resources`; quorum from `pvecm status` (or the HA status).
    Proxmox {
        guest: proxmox::GuestPlacement,
        quorum: Quorum,
    },
    /// A service of the HA manager's status, with that status's own quorum entry.
    ProxmoxHa {
        service: proxmox::HaService,
        quorum: Quorum,
    },
    /// `crm_resource --locate`; quorum from `crm_mon`.
    Pacemaker {
        location: pacemaker::Location,
        kind: pacemaker::ResourceKind,
        quorum: Quorum,
    },
    /// `drbdsetup status --json`, read on node `local`.
    Drbd {
        resource: drbd::DrbdResource,
        local: String,
    },
    /// A placement command's answer.
    Command(command::CommandAnswer),
}

impl Reading {
    /// The source's name, for logs and status output.
    pub fn source(&self) -> &'static str {
        match self {
            Reading::Proxmox { .. } => "proxmox",
            Reading::ProxmoxHa { .. } => "proxmox-ha",
            Reading::Pacemaker { .. } => "pacemaker",
            Reading::Drbd { .. } => "drbd",
            Reading::Command(_) => "command",
        }
    }

    /// Where the service runs according to this reading.
    pub fn view(&self) -> View {
        match self {
            Reading::Proxmox { guest, quorum } => guest.view(*quorum),
            Reading::ProxmoxHa { service, quorum } => service.view(*quorum),
            Reading::Pacemaker {
                location,
                kind,
                quorum,
            } => location.view(*kind, *quorum),
            Reading::Drbd { resource, local } => resource.view(local),
            Reading::Command(answer) => answer.view(),
        }
    }
}

/// Any placement parser's error, for callers that handle every source alike.
#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    #[error(transparent)]
    Proxmox(#[from] proxmox::ProxmoxError),
    #[error(transparent)]
    Pacemaker(#[from] pacemaker::PacemakerError),
    #[error(transparent)]
    Drbd(#[from] drbd::DrbdError),
    #[error(transparent)]
    Command(#[from] command::CommandError),
    #[error(transparent)]
    Quorum(#[from] quorum::QuorumError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_checked() {
        assert_eq!(validate_node_name("pve1"), Ok(()));
        assert_eq!(validate_node_name("node-2.example.org"), Ok(()));
        assert_eq!(validate_node_name(""), Err(NodeNameError::Empty));
        assert!(matches!(
            validate_node_name("pve 1"),
            Err(NodeNameError::Whitespace(_))
        ));
        assert!(matches!(
            validate_node_name("pve1\u{7f}"),
            Err(NodeNameError::Control(_))
        ));
        assert!(matches!(
            validate_node_name(&"a".repeat(MAX_NODE_NAME + 1)),
            Err(NodeNameError::TooLong { .. })
        ));
        assert_eq!(validate_node_name(&"a".repeat(MAX_NODE_NAME)), Ok(()));
    }
}
