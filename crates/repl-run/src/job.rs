//! A `[jobs.<name>]` table resolved into plain values the run works with (pure).
//!
//! - Which node initiates: push jobs run on the source node, pull jobs on each target node
//!   (for that node's targets only).
//! - Target ids (cursor and hold names) are derived from the target node's name, stable
//!   across runs; two targets on one node get a suffix from their dataset's hash.
//! - The destructive grade is the larger of the job's `allow-*` switch and the run's flag
//!   (an admin typing `--force-full` is an explicit decision).

use std::collections::BTreeMap;

use zferry_config::{Compression, Config, Job, OnDivergence, RawMode, SyncMode};
use zferry_repl::{Destructive, Fraction, SnapshotFilter, TargetId};
use zferry_zfs::DatasetName;

use crate::wire::WireOptions;

/// One side of a pair: a node and a dataset on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub node: String,
    pub dataset: DatasetName,
}

/// A resolved target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: TargetId,
    pub at: Endpoint,
}

/// A job, ready to run from `local` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub name: String,
    pub source: Endpoint,
    /// The targets this node serves (all of them for push; its own for pull).
    pub targets: Vec<Target>,
    pub recursive: bool,
    pub exclude: Vec<DatasetName>,
    /// The snapshots replicated (`snapshots = [globs]`; all when unset).
    pub filter: SnapshotFilter,
    pub destructive: Destructive,
    pub on_divergence: OnDivergence,
    pub min_source_fraction: Fraction,
    pub max_shrink: Fraction,
    pub raw: RawMode,
    pub allow_unencrypted_send: bool,
    pub bookmarks: bool,
    /// `compress` and `bandwidth-limit`.
    pub wire: WireOptions,
}

/// Why a job was not resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error("no job `{0}` in the configuration (known: {1})")]
    Unknown(String, String),
    #[error("job `{job}`: {reason}")]
    Invalid { job: String, reason: String },
}

/// The jobs `local` initiates, in name order; `only` restricts to the named ones (each must
/// exist, but may be one this node does not initiate — then it is skipped).
pub fn resolve_jobs(
    config: &Config,
    local: &str,
    only: &[String],
    run_grade: Destructive,
) -> Result<Vec<JobSpec>, JobError> {
    for name in only {
        if !config.jobs.contains_key(name.as_str()) {
            let known: Vec<&str> = config
                .jobs
                .keys()
                .map(zferry_config::Name::as_str)
                .collect();
            return Err(JobError::Unknown(name.clone(), known.join(", ")));
        }
    }
    let mut out = Vec::new();
    for (name, job) in &config.jobs {
        if !only.is_empty() && !only.iter().any(|o| o == name.as_str()) {
            continue;
        }
        if let Some(spec) = resolve(name.as_str(), job, local, run_grade)? {
            out.push(spec);
        }
    }
    Ok(out)
}

/// Resolves one job for `local`; `None` when this node does not initiate it.
pub fn resolve(
    name: &str,
    job: &Job,
    local: &str,
    run_grade: Destructive,
) -> Result<Option<JobSpec>, JobError> {
    let invalid = |reason: String| JobError::Invalid {
        job: name.to_owned(),
        reason,
    };
    let source = Endpoint {
        node: job.source.node.get_ref().to_string(),
        dataset: job.source.dataset.clone(),
    };
    let all: Vec<Endpoint> = job
        .targets
        .get_ref()
        .iter()
        .map(|t| Endpoint {
            node: t.get_ref().node.get_ref().to_string(),
            dataset: t.get_ref().dataset.clone(),
        })
        .collect();
    let ids = target_ids(&all).map_err(invalid)?;
    let mine = |t: &Endpoint| match job.mode {
        SyncMode::Push => source.node == local,
        SyncMode::Pull => t.node == local,
    };
    let targets: Vec<Target> = all
        .into_iter()
        .zip(ids)
        .filter(|(t, _)| mine(t))
        .map(|(at, id)| Target { id, at })
        .collect();
    if targets.is_empty() {
        return Ok(None);
    }
    let config_grade = if job.allow_force_full {
        Destructive::ForceFull
    } else if job.allow_rollback_to_common {
        Destructive::RollbackToCommon
    } else {
        Destructive::AppendOnly
    };
    Ok(Some(JobSpec {
        name: name.to_owned(),
        source,
        targets,
        recursive: job.recursive,
        exclude: job.exclude.iter().map(|e| e.get_ref().clone()).collect(),
        filter: SnapshotFilter::globs(&job.snapshots)
            .map_err(|e| invalid(format!("snapshots: {e}")))?,
        destructive: config_grade.max(run_grade),
        on_divergence: job.on_divergence,
        min_source_fraction: fraction(job.min_source_fraction.get()).map_err(invalid)?,
        max_shrink: fraction(job.max_shrink.get()).map_err(invalid)?,
        raw: job.raw,
        allow_unencrypted_send: job.allow_unencrypted_send,
        bookmarks: job.bookmarks,
        wire: WireOptions {
            compress: job.compress == Compression::Zstd,
            limit: match job.bandwidth_limit {
                Some(b) if b.0 == 0 => {
                    return Err(invalid(
                        "bandwidth-limit = 0 would stop every transfer; remove the key for no \
                         limit"
                            .into(),
                    ));
                }
                b => b.map(|b| b.0),
            },
        },
    }))
}

/// Config fractions are `f64` in 0..=1; the guards use exact parts per million.
fn fraction(v: f64) -> Result<Fraction, String> {
    format!("{v:.6}")
        .parse()
        .map_err(|e| format!("fraction {v}: {e}"))
}

/// Stable ids: the node name in lowercase with `_`/`.` as `-`, cut to 24 characters; when a
/// node has several targets in the job, each gets `-<6 hex of the dataset's FNV-1a hash>`.
pub fn target_ids(targets: &[Endpoint]) -> Result<Vec<TargetId>, String> {
    let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
    for t in targets {
        *per_node.entry(t.node.as_str()).or_default() += 1;
    }
    targets
        .iter()
        .map(|t| {
            let mut base: String = t
                .node
                .chars()
                .map(|c| match c.to_ascii_lowercase() {
                    '_' | '.' => '-',
                    c => c,
                })
                .take(24)
                .collect();
            if per_node[t.node.as_str()] > 1 {
                base = format!("{base}-{:06x}", fnv1a(t.dataset.as_str()) & 0x00ff_ffff);
            }
            base.parse()
                .map_err(|e| format!("target {}:{}: {e}", t.node, t.dataset))
        })
        .collect()
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Where `source` (a dataset under the job's source root) lands on `target`.
pub fn target_dataset(
    source_root: &DatasetName,
    target_root: &DatasetName,
    source: &DatasetName,
) -> Option<DatasetName> {
    if source == source_root {
        return Some(target_root.clone());
    }
    let rel = source_root.relative_path_of(source)?;
    format!("{target_root}/{rel}").parse().ok()
}

/// The source datasets a job replicates, parents first: the root, and with `recursive` its
/// descendants outside every `exclude` subtree.
pub fn source_datasets<'a>(
    job: &JobSpec,
    listed: impl IntoIterator<Item = &'a DatasetName>,
) -> Vec<DatasetName> {
    let root = &job.source.dataset;
    let excluded = |d: &DatasetName| job.exclude.iter().any(|e| e == d || e.is_ancestor_of(d));
    let mut out: Vec<DatasetName> = listed
        .into_iter()
        .filter(|d| *d == root || (job.recursive && root.is_ancestor_of(d)))
        .filter(|d| !excluded(d))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ds(s: &str) -> DatasetName {
        s.parse().unwrap()
    }

    fn ep(node: &str, d: &str) -> Endpoint {
        Endpoint {
            node: node.into(),
            dataset: ds(d),
        }
    }

    const CONFIG: &str = r#"
[global]
hostname = "a"
[nodes.a]
[nodes.b]
address = "10.0.0.2"
[nodes.Node_C]
address = "10.0.0.3"
[jobs.push]
source = { node = "a", dataset = "tank/vm" }
targets = [{ node = "b", dataset = "backup/vm" }, { node = "Node_C", dataset = "far/vm" }]
recursive = true
exclude = ["tank/vm/scratch"]
allow-rollback-to-common = true
[jobs.pull]
mode = "pull"
source = { node = "b", dataset = "tank/b" }
targets = [{ node = "a", dataset = "backup/b" }, { node = "Node_C", dataset = "far/b" }]
compress = "none"
bandwidth-limit = "2M"
"#;

    fn config() -> Config {
        Config::from_str_with_path(CONFIG, std::path::Path::new("test.toml")).unwrap()
    }

    #[test]
    fn push_runs_on_the_source_node_pull_on_each_target() {
        let c = config();
        let on_a = resolve_jobs(&c, "a", &[], Destructive::AppendOnly).unwrap();
        let names: Vec<(&str, usize)> = on_a
            .iter()
            .map(|j| (j.name.as_str(), j.targets.len()))
            .collect();
        assert_eq!(names, [("pull", 1), ("push", 2)]);
        let push = &on_a[1];
        let ids: Vec<&str> = push.targets.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["b", "node-c"]);
        assert_eq!(push.destructive, Destructive::RollbackToCommon);
        assert_eq!(on_a[0].targets[0].at, ep("a", "backup/b"));

        let on_b = resolve_jobs(&c, "b", &[], Destructive::ForceFull).unwrap();
        assert!(on_b.is_empty(), "b initiates nothing: {on_b:?}");
        let on_c = resolve_jobs(&c, "Node_C", &["pull".into()], Destructive::ForceFull).unwrap();
        assert_eq!(on_c.len(), 1);
        assert_eq!(on_c[0].destructive, Destructive::ForceFull);
    }

    #[test]
    fn snapshot_globs_become_the_job_filter_and_a_bad_one_names_the_job() {
        let c = config();
        assert!(
            resolve_jobs(&c, "a", &[], Destructive::AppendOnly).unwrap()[1]
                .filter
                .is_all()
        );
        let text = CONFIG.replace(
            "allow-rollback-to-common = true",
            "allow-rollback-to-common = true\nsnapshots = [\"autosnap_*_daily\", \"keep-?\"]",
        );
        let c = Config::from_str_with_path(&text, std::path::Path::new("t.toml")).unwrap();
        let push = &resolve_jobs(&c, "a", &["push".into()], Destructive::AppendOnly).unwrap()[0];
        assert!(push.filter.matches("autosnap_2026-11-21_00:00:00_daily"));
        assert!(push.filter.matches("keep-1"));
        assert!(!push.filter.matches("autosnap_2026-11-21_01:00:00_hourly"));

        let text = CONFIG.replace(
            "allow-rollback-to-common = true",
            "allow-rollback-to-common = true\nsnapshots = [\"a/b\"]",
        );
        let c = Config::from_str_with_path(&text, std::path::Path::new("t.toml")).unwrap();
        let err = resolve_jobs(&c, "a", &[], Destructive::AppendOnly).unwrap_err();
        assert!(
            err.to_string().starts_with("job `push`: snapshots: "),
            "{err}"
        );
    }

    #[test]
    fn compression_defaults_to_zstd_and_the_limit_is_bytes_per_second() {
        let on_a = resolve_jobs(&config(), "a", &[], Destructive::AppendOnly).unwrap();
        assert_eq!(
            on_a[0].wire,
            WireOptions {
                compress: false,
                limit: Some(2 << 20)
            }
        );
        assert_eq!(
            on_a[1].wire,
            WireOptions {
                compress: true,
                limit: None
            }
        );
        let zero = CONFIG.replace("\"2M\"", "0");
        let c = Config::from_str_with_path(&zero, std::path::Path::new("t.toml")).unwrap();
        let err = resolve("pull", &c.jobs["pull"], "a", Destructive::AppendOnly).unwrap_err();
        assert!(err.to_string().contains("bandwidth-limit = 0"), "{err}");
    }

    #[test]
    fn unknown_job_names_the_known_ones() {
        let err =
            resolve_jobs(&config(), "a", &["nope".into()], Destructive::AppendOnly).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no job `nope` in the configuration (known: pull, push)"
        );
    }

    #[test]
    fn two_targets_on_one_node_get_distinct_stable_ids() {
        let ids = target_ids(&[ep("b", "x/one"), ep("b", "x/two"), ep("c", "y")]).unwrap();
        assert_ne!(ids[0], ids[1]);
        assert!(ids[0].as_str().starts_with("b-") && ids[1].as_str().starts_with("b-"));
        assert_eq!(ids[2].as_str(), "c");
        assert_eq!(
            ids,
            target_ids(&[ep("b", "x/one"), ep("b", "x/two"), ep("c", "y")]).unwrap()
        );
    }

    #[test]
    fn datasets_map_below_the_target_root_and_excludes_cut_subtrees() {
        let c = config();
        let job = resolve("push", &c.jobs["push"], "a", Destructive::AppendOnly)
            .unwrap()
            .unwrap();
        let listed = [
            "tank/vm",
            "tank/vm/disk-1",
            "tank/vm/scratch",
            "tank/vm/scratch/tmp",
            "tank/vmx",
            "tank",
        ]
        .map(ds);
        assert_eq!(
            source_datasets(&job, &listed),
            [ds("tank/vm"), ds("tank/vm/disk-1")]
        );
        assert_eq!(
            target_dataset(&ds("tank/vm"), &ds("backup/vm"), &ds("tank/vm/disk-1")),
            Some(ds("backup/vm/disk-1"))
        );
        assert_eq!(
            target_dataset(&ds("tank/vm"), &ds("backup/vm"), &ds("tank/vm")),
            Some(ds("backup/vm"))
        );
        assert_eq!(
            target_dataset(&ds("tank/vm"), &ds("b/vm"), &ds("tank/vmx")),
            None
        );
    }
}
