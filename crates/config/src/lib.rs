//! zferry-config: the strict TOML configuration of zferry, its validation and resolved views.
//!
//! Loading is two steps: serde parses the file into the typed model (`model`), refusing
//! unknown keys and malformed values at their line and column; then `Config::validate` checks
//! the references between sections and reports every problem at once. Later layers read the
//! model directly or through resolved views such as `Config::effective_policy`.
//!
//! `samples/full.toml` at the repository root is the commented reference of every key.

mod error;
mod model;
mod names;
mod policy;
mod report;
mod units;
mod validate;

use std::path::Path;

pub use error::{ConfigError, Diagnostic};
pub use model::{
    Compression, Config, DatasetConfig, Endpoint, Global, GuestMode, Hook, Job, Monitor, Node,
    OnDivergence, Period, Placement, RawMode, Recursion, Service, SyncMode, Template, Timezone,
};
pub use names::{
    AbsPath, Argv, Name, SnapshotPrefix, SshWord, UserProperty, Vmid, parse_dataset_name,
};
pub use policy::{DEFAULT_FREQUENT_PERIOD, Policy, Retention, Schedule, Thresholds};
pub use report::{CheckReport, check_report};
pub use toml::Spanned;
pub use units::{ByteSize, DurationSpec, Fraction, UnitError};
pub use zferry_zfs::DatasetName;

/// Where the config lives unless `--config` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/zferry/zferry.toml";

impl Config {
    /// Parses and validates `text`; `path` is only used in error messages. No I/O.
    pub fn from_str_with_path(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let origin = error::Origin::new(path, text);
        let mut config: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Parse(Box::new(error::from_toml(&e, &origin))))?;
        config.origin = origin;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            let hint = if source.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "no config at {}; create it (samples/full.toml documents every key) or pass --config <path>",
                    path.display()
                )
            } else {
                "check the file's permissions and that it is UTF-8 text, or pass --config <path>".to_owned()
            };
            ConfigError::Read { path: path.to_owned(), source, hint }
        })?;
        Config::from_str_with_path(&text, path)
    }

    /// The path this config was read from (empty for `Config::default()`).
    pub fn path(&self) -> &Path {
        &self.origin.path
    }

    /// `global.hostname` when set (see [`Config::this_node`] for the full rule).
    pub fn local_node(&self) -> Option<&Name> {
        self.global.hostname.as_ref().map(Spanned::get_ref)
    }

    /// The name of the node this process runs on, the same for every command (snapshot
    /// runs, replication, the serve gate, the HA controller): `global.hostname` when set;
    /// else the one `[nodes.*]` entry without an `address` (the node reached without ssh is
    /// this one); else `system_hostname()`.
    pub fn this_node(&self, system_hostname: impl FnOnce() -> String) -> String {
        if let Some(name) = self.local_node() {
            return name.to_string();
        }
        let mut addressless = self.nodes.iter().filter(|(_, n)| n.address.is_none());
        match (addressless.next(), addressless.next()) {
            (Some((only, _)), None) => only.to_string(),
            _ => system_hostname(),
        }
    }
}
