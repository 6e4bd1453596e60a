//! The machine-readable summary printed by `zferry config check --json`.

use serde::Serialize;

use crate::model::Config;

/// Counts of each section of a valid config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub path: String,
    pub valid: bool,
    pub local_node: Option<String>,
    pub nodes: usize,
    pub templates: usize,
    pub datasets: usize,
    pub jobs: usize,
    pub services: usize,
    pub guest_map: usize,
}

/// Summarises `config` (which the caller has loaded, hence validated).
pub fn check_report(config: &Config) -> CheckReport {
    CheckReport {
        path: config.path().display().to_string(),
        valid: config.validate().is_ok(),
        local_node: config
            .global
            .hostname
            .as_ref()
            .map(|h| h.get_ref().to_string()),
        nodes: config.nodes.len(),
        templates: config.templates.len(),
        datasets: config.datasets.len(),
        jobs: config.jobs.len(),
        services: config.services.len(),
        guest_map: config.guest_map.len(),
    }
}
