//! How to reach each node of a job: the local node runs commands directly, every other node
//! through `ssh` with one multiplexed connection per node per run (ControlMaster), so a run
//! pays for one ssh handshake per host however many commands it sends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zferry_config::Config;
use zferry_exec::{Executor, LocalExecutor, SshExecutor, SshName};

/// Why a node cannot be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("node `{0}` is not in [nodes]; add it with its `address`")]
    UnknownNode(String),
    #[error("node `{0}` has no `address`, and it is not the local node `{1}`")]
    NoAddress(String, String),
    #[error("node `{node}`: {reason}")]
    BadSsh { node: String, reason: String },
}

/// This node's name: `global.hostname`, else the only node without an address, else the
/// system hostname.
pub fn local_node(config: &Config) -> String {
    config.this_node(zferry_exec::system_hostname)
}

/// One executor per node, built on first use.
#[derive(Debug)]
pub struct Hosts<'c> {
    config: &'c Config,
    local: String,
    control_dir: PathBuf,
    cache: BTreeMap<String, Arc<dyn Executor>>,
}

impl<'c> Hosts<'c> {
    /// `control_dir` holds the ssh control sockets (short path: sockets are limited to ~100
    /// bytes).
    pub fn new(config: &'c Config, local: String, control_dir: &Path) -> Self {
        Self {
            config,
            local,
            control_dir: control_dir.to_owned(),
            cache: BTreeMap::new(),
        }
    }

    pub fn local(&self) -> &str {
        &self.local
    }

    /// The executor for `node`.
    pub fn get(&mut self, node: &str) -> Result<Arc<dyn Executor>, HostError> {
        if let Some(e) = self.cache.get(node) {
            return Ok(Arc::clone(e));
        }
        let exec: Arc<dyn Executor> = if node == self.local {
            Arc::new(LocalExecutor::with_host(node))
        } else {
            Arc::new(self.ssh(node)?)
        };
        self.cache.insert(node.to_owned(), Arc::clone(&exec));
        Ok(exec)
    }

    fn ssh(&self, node: &str) -> Result<SshExecutor, HostError> {
        let cfg = self
            .config
            .nodes
            .get(node)
            .ok_or_else(|| HostError::UnknownNode(node.to_owned()))?;
        let address = cfg
            .address
            .as_ref()
            .ok_or_else(|| HostError::NoAddress(node.to_owned(), self.local.clone()))?;
        let bad = |reason: String| HostError::BadSsh {
            node: node.to_owned(),
            reason,
        };
        let host: SshName = address.as_str().parse().map_err(|e| bad(format!("{e}")))?;
        let user: SshName = cfg
            .ssh_user
            .as_str()
            .parse()
            .map_err(|e| bad(format!("{e}")))?;
        let mut exec = SshExecutor::new(host)
            .user(user)
            .port(cfg.ssh_port.get())
            .control_path(self.control_dir.join(format!("ssh-{node}")));
        if let Some(identity) = &cfg.ssh_identity {
            // Only this key: no falling back to another of root's keys (which may open a
            // shell) when a key pinned to `zferry serve` is meant.
            exec = exec
                .identity(identity.as_path())
                .option("IdentitiesOnly", "yes")
                .map_err(|e| bad(format!("{e}")))?;
        }
        Ok(exec)
    }
}
