//! What this node last decided for each service, kept across runs: the role it acted on, the
//! epoch it took as master, when the direction last changed (the cooldown), the last refusal
//! and the evidence. `zferry ha status` prints it; `zferry snap run` reads the roles so a
//! timer-driven snapshot run never snapshots a standby's replica.
//!
//! One JSON file per service under `<state-dir>/ha/`, replaced atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zferry_config::Config;
use zferry_repl_run::state::{load_json, save_json};

use crate::service::Acting;

/// The record of one service on this node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    /// The role acted on in the last cycle, and since when (Unix seconds).
    pub acting: Option<Acting>,
    pub since: Option<i64>,
    /// The master as last confirmed (this node or another); `None` before any confirmation.
    pub master: Option<String>,
    /// When the confirmed master last changed from one node to another (the cooldown).
    pub direction_changed_at: Option<i64>,
    /// The epoch this node took when it last became master.
    pub epoch: Option<u64>,
    /// The master epoch whose final sync (service stopped here, moving away) is done.
    pub final_sync_epoch: Option<u64>,
    /// The last refusal or critical error: Unix time and text.
    pub last_refusal: Option<(i64, String)>,
    /// Unix time of the last cycle.
    pub last_cycle: Option<i64>,
    /// The newest placement view, as text (`on pve1, quorate`).
    pub evidence: Option<String>,
    /// Guid of each of this node's pools of the service, as first seen (a replaced pool is
    /// refused as a master's).
    #[serde(default)]
    pub pools: BTreeMap<String, u64>,
}

/// `<state-dir>/ha/<service>.json`.
pub fn state_path(state_dir: &Path, service: &str) -> PathBuf {
    state_dir.join("ha").join(format!("{service}.json"))
}

pub fn load(state_dir: &Path, service: &str) -> std::io::Result<ServiceState> {
    load_json(&state_path(state_dir, service))
}

pub fn save(state_dir: &Path, service: &str, state: &ServiceState) -> std::io::Result<()> {
    save_json(&state_path(state_dir, service), state)
}

/// The recorded role of every service, for snapshot runs outside the HA cycle. A record that
/// cannot be read counts as no decision (no snapshots of that service's datasets), and is
/// reported in the second list.
pub fn recorded_actings(config: &Config) -> (BTreeMap<String, Acting>, Vec<String>) {
    let dir = config.global.state_dir.as_path();
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for name in config.services.keys() {
        match load(dir, name.as_str()) {
            Ok(ServiceState {
                acting: Some(a), ..
            }) => {
                out.insert(name.to_string(), a);
            }
            Ok(_) => {}
            Err(e) => errors.push(format!("service {name}: cannot read its HA state: {e}")),
        }
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn round_trips_and_missing_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path(), "nfs").unwrap(), ServiceState::default());
        let st = ServiceState {
            acting: Some(Acting::Standby {
                master: "pve1".into(),
            }),
            since: Some(10),
            master: Some("pve1".into()),
            epoch: Some(3),
            last_refusal: Some((5, "target newer".into())),
            ..ServiceState::default()
        };
        save(dir.path(), "nfs", &st).unwrap();
        assert_eq!(load(dir.path(), "nfs").unwrap(), st);
    }
}
