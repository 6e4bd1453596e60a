//! Which datasets this node serves: one [`Grant`] per replication endpoint on this node.
//!
//! Built from the node's own config: every `[jobs.*]` whose source or one of whose targets is
//! on this node grants that endpoint's dataset — with its descendants when the job is
//! recursive, minus the job's `exclude` subtrees (named below the source; the same relative
//! paths are excluded below each target). Both endpoints are granted whatever the configured
//! direction, because a service's failover reverses its jobs (the old target sends).
//!
//! `recv -F` (a rollback or full replacement on this node) is only granted where the job
//! allows it (`allow-rollback-to-common` or `allow-force-full`); keeping a diverged dataset
//! aside (rename to `<ds>.diverged-…`, clone, promote) only where it says
//! `on-divergence = "preserve"`, or where the job belongs to a `[services.*]`: there the
//! fencing epoch decides, and a returning old master's data is kept aside (never destroyed)
//! before it is resynced.

use std::fmt;

use zferry_config::{Config, OnDivergence};
use zferry_zfs::DatasetName;

/// One dataset subtree this node serves, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The `[jobs.<name>]` that names it.
    pub job: String,
    /// The endpoint's dataset.
    pub root: DatasetName,
    /// Descendants of `root` are granted too.
    pub recursive: bool,
    /// Subtrees left out (each dataset and its descendants).
    pub exclude: Vec<DatasetName>,
    /// `zfs receive -F` is allowed into this subtree.
    pub force_receive: bool,
    /// A diverged dataset of this subtree may be kept aside and re-created
    /// (`on-divergence = "preserve"`: rename, clone, promote).
    pub preserve: bool,
}

impl Grant {
    /// Is `ds` inside this grant?
    pub fn covers(&self, ds: &DatasetName) -> bool {
        let inside = *ds == self.root || (self.recursive && self.root.is_ancestor_of(ds));
        inside && !self.exclude.iter().any(|e| e == ds || e.is_ancestor_of(ds))
    }
}

/// Every dataset this node serves; a pure value, built once per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    node: String,
    grants: Vec<Grant>,
}

impl Policy {
    /// A policy for node `node` made of `grants`.
    pub fn new(node: impl Into<String>, grants: Vec<Grant>) -> Self {
        Self {
            node: node.into(),
            grants,
        }
    }

    /// The grants of every job endpoint on `node` in `config`.
    pub fn from_config(config: &Config, node: &str) -> Self {
        let mut grants = Vec::new();
        for (name, job) in &config.jobs {
            let in_service = config
                .services
                .values()
                .any(|s| s.jobs.iter().any(|j| j.get_ref() == name));
            let source = &job.source.dataset;
            let relative: Vec<&str> = job
                .exclude
                .iter()
                .filter_map(|e| source.relative_path_of(e.get_ref()))
                .collect();
            let endpoints = std::iter::once(&job.source)
                .chain(
                    job.targets
                        .get_ref()
                        .iter()
                        .map(zferry_config::Spanned::get_ref),
                )
                .filter(|ep| ep.node.get_ref().as_str() == node);
            for ep in endpoints {
                grants.push(Grant {
                    job: name.to_string(),
                    root: ep.dataset.clone(),
                    recursive: job.recursive,
                    // A joined name too long for ZFS cannot exist, so dropping it loses nothing.
                    exclude: relative
                        .iter()
                        .filter_map(|rel| format!("{}/{rel}", ep.dataset).parse().ok())
                        .collect(),
                    force_receive: job.allow_rollback_to_common || job.allow_force_full,
                    preserve: job.on_divergence == OnDivergence::Preserve || in_service,
                });
            }
        }
        Self::new(node, grants)
    }

    /// This node's name, as used to pick the grants.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The grants, in config order.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// Is `ds` inside any grant?
    pub fn covers(&self, ds: &DatasetName) -> bool {
        self.grants.iter().any(|g| g.covers(ds))
    }

    /// May `zfs receive -F` write into `ds`?
    pub fn allows_force_receive(&self, ds: &DatasetName) -> bool {
        self.grants.iter().any(|g| g.force_receive && g.covers(ds))
    }

    /// May a diverged `ds` be kept aside (renamed, re-created by clone and promote)?
    pub fn allows_preserve(&self, ds: &DatasetName) -> bool {
        self.grants.iter().any(|g| g.preserve && g.covers(ds))
    }
}

impl fmt::Display for Policy {
    /// One line per grant, for `-v` logs and refusal hints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.grants.is_empty() {
            return write!(f, "node {}: no [jobs.*] endpoint on this node", self.node);
        }
        for (i, g) in self.grants.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{} (job {}", g.root, g.job)?;
            if g.recursive {
                f.write_str(", recursive")?;
            }
            for e in &g.exclude {
                write!(f, ", excluding {e}")?;
            }
            if g.force_receive {
                f.write_str(", recv -F allowed")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn ds(s: &str) -> DatasetName {
        s.parse().unwrap()
    }

    const CONFIG: &str = r#"
[global]
hostname = "b"
[nodes.a]
address = "10.0.0.1"
[nodes.b]
address = "10.0.0.2"
[nodes.c]
address = "10.0.0.3"
[jobs.data]
source = { node = "a", dataset = "zpool1/data" }
targets = [{ node = "b", dataset = "backup/a/data" }, { node = "c", dataset = "tank/data" }]
recursive = true
exclude = ["zpool1/data/scratch"]
[jobs.vm]
source = { node = "b", dataset = "zpool1/vm-100-disk-0" }
targets = [{ node = "a", dataset = "zpool1/vm-100-disk-0" }]
allow-rollback-to-common = true
[jobs.other]
source = { node = "a", dataset = "zpool1/other" }
targets = [{ node = "c", dataset = "tank/other" }]
"#;

    fn policy(node: &str) -> Policy {
        let config = Config::from_str_with_path(CONFIG, Path::new("t.toml")).unwrap();
        Policy::from_config(&config, node)
    }

    #[test]
    fn a_service_job_may_keep_a_diverged_dataset_aside() {
        let text = format!(
            "{CONFIG}[services.nfs]\nplacement = {{ kind = \"static\", node = \"a\" }}\n\
             nodes = [\"a\", \"b\"]\njobs = [\"vm\"]\n"
        );
        let config = Config::from_str_with_path(&text, Path::new("t.toml")).unwrap();
        let p = Policy::from_config(&config, "b");
        assert!(p.allows_preserve(&ds("zpool1/vm-100-disk-0")));
        assert!(
            !p.allows_preserve(&ds("backup/a/data")),
            "not a service job"
        );
    }

    #[test]
    fn grants_follow_the_endpoints_on_this_node() {
        let p = policy("b");
        assert_eq!(
            p.grants(),
            [
                Grant {
                    job: "data".into(),
                    root: ds("backup/a/data"),
                    recursive: true,
                    exclude: vec![ds("backup/a/data/scratch")],
                    force_receive: false,
                    preserve: false,
                },
                Grant {
                    job: "vm".into(),
                    root: ds("zpool1/vm-100-disk-0"),
                    recursive: false,
                    exclude: vec![],
                    force_receive: true,
                    preserve: false,
                },
            ]
        );
        assert_eq!(policy("a").grants().len(), 3);
        assert!(policy("nowhere").grants().is_empty());
    }

    #[test]
    fn covers_recursive_minus_excludes() {
        let p = policy("b");
        for yes in [
            "backup/a/data",
            "backup/a/data/x",
            "backup/a/data/x/y",
            "backup/a/data/scratchy",
            "zpool1/vm-100-disk-0",
        ] {
            assert!(p.covers(&ds(yes)), "{yes}");
        }
        for no in [
            "backup",
            "backup/a",
            "backup/a/database",
            "backup/a/data/scratch",
            "backup/a/data/scratch/deep",
            "zpool1/vm-100-disk-0/child",
            "zpool1/vm-100-disk-01",
            "zpool1/data",
            "tank/data",
        ] {
            assert!(!p.covers(&ds(no)), "{no}");
        }
    }

    #[test]
    fn force_receive_only_where_the_job_allows_it() {
        let p = policy("b");
        assert!(p.allows_force_receive(&ds("zpool1/vm-100-disk-0")));
        assert!(!p.allows_force_receive(&ds("backup/a/data")));
        assert!(!p.allows_force_receive(&ds("zpool1/other")));
    }

    #[test]
    fn display_lists_grants() {
        assert_eq!(
            policy("b").to_string(),
            "backup/a/data (job data, recursive, excluding backup/a/data/scratch); \
             zpool1/vm-100-disk-0 (job vm, recv -F allowed)"
        );
        assert_eq!(
            policy("x").to_string(),
            "node x: no [jobs.*] endpoint on this node"
        );
    }
}
