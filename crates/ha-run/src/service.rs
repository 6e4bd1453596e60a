//! A `[services.<name>]` table read for one node (pure): its rules, its datasets on each node,
//! each job turned to start at the master, and the snapshot switches the node's role implies.
//!
//! A service's jobs name one dataset per node: the `source` and the `targets` together. Which
//! of them is the source is decided by the placement, not by the file: the dataset on the
//! master sends to all the others, third sites only ever receive.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use zferry_config::{Config, Endpoint, Job, Name, Service};
use zferry_ha::Rules;
use zferry_snap::model::{SwitchOverride, Switches};
use zferry_zfs::DatasetName;

/// A role this node acts on for one service (the decision plus the guards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "acting", rename_all = "kebab-case")]
pub enum Acting {
    /// Snapshot, prune and replicate to every other node and third site.
    Master,
    /// Prune only; receive from `master`.
    Standby { master: String },
    /// No snapshots, no sends: the role is unknown or a guard stopped it.
    Hold { reason: String },
    /// This node only ever receives this service's replicas.
    ThirdSite,
}

/// The service's role rules: `confirmations` spaced by `confirmation-interval`, quorum.
pub fn rules(svc: &Service) -> Rules {
    Rules {
        confirmations: svc.confirmations,
        interval: svc.confirmation_interval.get(),
        require_quorum: svc.require_quorum,
        // A daemon polls every few seconds; one minute without an answer is no evidence.
        stale_after: Duration::from_mins(1),
    }
}

/// The service's node names, in file order.
pub fn node_names(svc: &Service) -> Vec<String> {
    svc.nodes
        .get_ref()
        .iter()
        .map(|n| n.get_ref().to_string())
        .collect()
}

/// Whether `node` runs or receives this service.
pub fn involves(svc: &Service, node: &str) -> bool {
    svc.nodes
        .get_ref()
        .iter()
        .any(|n| n.get_ref().as_str() == node)
        || svc.third_sites.iter().any(|n| n.get_ref().as_str() == node)
}

/// One dataset of a service's job on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceDataset {
    pub job: String,
    pub node: String,
    pub dataset: DatasetName,
    /// The job replicates descendants too.
    pub recursive: bool,
}

/// Every dataset of every job of `svc`, on every node (source first, then targets, per job).
pub fn datasets(config: &Config, svc: &Service) -> Vec<ServiceDataset> {
    let mut out = Vec::new();
    for job_name in &svc.jobs {
        let Some(job) = config.jobs.get(job_name.get_ref().as_str()) else {
            continue; // `Config::validate` reports it
        };
        for e in endpoints(job) {
            out.push(ServiceDataset {
                job: job_name.get_ref().to_string(),
                node: e.node.get_ref().to_string(),
                dataset: e.dataset.clone(),
                recursive: job.recursive,
            });
        }
    }
    out
}

fn endpoints(job: &Job) -> impl Iterator<Item = &Endpoint> {
    std::iter::once(&job.source).chain(job.targets.get_ref().iter().map(Spanned::get_ref))
}

/// Why a job cannot start at the master.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrientError {
    #[error(
        "job `{job}` has no dataset on node `{master}`, which runs the service; add a target on \
         {master} to the job (every service node needs one)"
    )]
    NoDatasetOnMaster { job: String, master: String },
    #[error(
        "job `{job}` has {count} datasets on node `{master}`; a service job needs exactly one per \
         node"
    )]
    SeveralOnMaster {
        job: String,
        master: String,
        count: usize,
    },
}

/// `job` as the master runs it: its dataset on `master` is the source, every other dataset a
/// target, in file order. Everything else (guards, filters, compression) is the job's.
pub fn orient(name: &str, job: &Job, master: &str) -> Result<Job, OrientError> {
    let all: Vec<Endpoint> = endpoints(job).cloned().collect();
    let on_master: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, e)| e.node.get_ref().as_str() == master)
        .map(|(i, _)| i)
        .collect();
    let at = match on_master.as_slice() {
        [one] => *one,
        [] => {
            return Err(OrientError::NoDatasetOnMaster {
                job: name.to_owned(),
                master: master.to_owned(),
            });
        }
        many => {
            return Err(OrientError::SeveralOnMaster {
                job: name.to_owned(),
                master: master.to_owned(),
                count: many.len(),
            });
        }
    };
    let span = job.targets.span();
    let mut out = job.clone();
    out.source = all[at].clone();
    out.targets = Spanned::new(
        span.clone(),
        all.iter()
            .enumerate()
            .filter(|(i, _)| *i != at)
            .map(|(_, e)| Spanned::new(span.clone(), e.clone()))
            .collect(),
    );
    Ok(out)
}

/// The snapshot switches the roles imply, for `zferry_snap`'s run on `local`:
/// - another node's dataset of a service (only visible here when names coincide, or in a
///   lab where every "node" is a pool of one machine) is left alone: no snapshots, no prune;
/// - this node's datasets follow its role: the master's policy applies as configured, a
///   standby, a held node and a third site take no snapshots (one would make the replica
///   diverge) but prune.
///
/// This node's entries come after the others', so its own role wins where names coincide.
pub fn switch_overrides(
    config: &Config,
    local: &str,
    actings: &BTreeMap<String, Acting>,
) -> Vec<SwitchOverride> {
    let mut foreign = Vec::new();
    let mut own = Vec::new();
    for (name, svc) in &config.services {
        for d in datasets(config, svc) {
            if d.node != local {
                foreign.push(SwitchOverride {
                    root: d.dataset,
                    switches: Switches {
                        autosnap: Some(false),
                        autoprune: Some(false),
                    },
                    reason: format!("service {name}: dataset of node {}", d.node),
                });
                continue;
            }
            let (switches, why) = match actings.get(name.as_str()) {
                Some(Acting::Master) => (Switches::default(), "master".to_owned()),
                Some(Acting::Standby { master }) => {
                    (no_snapshots(), format!("standby of {master}"))
                }
                Some(Acting::Hold { reason }) => (no_snapshots(), format!("on hold ({reason})")),
                Some(Acting::ThirdSite) => (no_snapshots(), "third site".to_owned()),
                None => (
                    no_snapshots(),
                    "no role decided on this node yet (`zferry ha run-once` or the daemon \
                     decides it)"
                        .to_owned(),
                ),
            };
            own.push(SwitchOverride {
                root: d.dataset,
                switches,
                reason: format!("service {name}: {why}"),
            });
        }
    }
    foreign.extend(own);
    foreign
}

fn no_snapshots() -> Switches {
    Switches {
        autosnap: Some(false),
        autoprune: None,
    }
}

/// The services `local` takes part in, `only` restricting to the named ones (each must
/// exist).
pub fn services_of<'c>(
    config: &'c Config,
    local: &str,
    only: &[String],
) -> Result<Vec<(&'c Name, &'c Service)>, String> {
    for o in only {
        if !config.services.contains_key(o.as_str()) {
            let known: Vec<&str> = config.services.keys().map(Name::as_str).collect();
            return Err(format!(
                "no service `{o}` in the configuration (known: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    Ok(config
        .services
        .iter()
        .filter(|(n, _)| only.is_empty() || only.iter().any(|o| o == n.as_str()))
        .filter(|(_, s)| involves(s, local))
        .collect())
}

#[cfg(test)]
mod tests;
