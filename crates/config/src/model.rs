//! The config schema: one strict serde struct per TOML table, kebab-case keys, no unknown keys.
//!
//! Values that are checked against each other after parsing (names that must exist, ranges
//! that depend on two keys) are kept as `toml::Spanned` so `Config::validate` can point at them.
//! Everything else is a checked newtype or enum, refused while parsing.

use std::collections::BTreeMap;
use std::fmt;
use std::num::{NonZeroU16, NonZeroU32};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use toml::Spanned;
use zferry_zfs::DatasetName;

use crate::error::{HINT_SEP, Origin};
use crate::names::{
    AbsPath, Argv, Name, SnapshotPrefix, SshWord, UserProperty, Vmid, de_dataset, de_dataset_list,
    de_dataset_map,
};
use crate::units::{ByteSize, DurationSpec, Fraction};

/// The whole configuration file. Every section is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    #[serde(default)]
    pub global: Global,
    #[serde(default)]
    pub nodes: BTreeMap<Name, Node>,
    #[serde(default)]
    pub templates: BTreeMap<Name, Template>,
    #[serde(default, deserialize_with = "de_dataset_map")]
    pub datasets: BTreeMap<DatasetName, DatasetConfig>,
    /// Explicit dataset → guest id mapping for guest-aware snapshots, beyond the
    /// `vm-<vmid>-disk-N` / `subvol-<vmid>-disk-N` naming that `guests = "auto"` recognises.
    #[serde(default, deserialize_with = "de_dataset_map")]
    pub guest_map: BTreeMap<DatasetName, Vmid>,
    #[serde(default)]
    pub jobs: BTreeMap<Name, Job>,
    #[serde(default)]
    pub services: BTreeMap<Name, Service>,
    #[serde(skip)]
    pub(crate) origin: Origin,
}

/// `[global]`: settings of this node's zferry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Global {
    /// This node's name in `[nodes]`; `None` means "use the system hostname".
    pub hostname: Option<Spanned<Name>>,
    pub state_dir: AbsPath,
    pub lock_dir: AbsPath,
    pub snapshot_prefix: SnapshotPrefix,
    pub timezone: Timezone,
    /// User property recording where a guest runs (`<host>` or `stopped`).
    pub running_property: UserProperty,
    /// Command printing the guests as `pvesh get /cluster/resources --type vm
    /// --output-format json` does (the default when unset).
    pub guest_command: Option<Argv>,
    /// Pool capacity (percent used) above which `monitor capacity` warns; 0 = not checked.
    pub capacity_warn: Spanned<u8>,
    /// Pool capacity (percent used) above which `monitor capacity` is critical; 0 = not checked.
    pub capacity_crit: Spanned<u8>,
}

impl Default for Global {
    fn default() -> Self {
        Self {
            hostname: None,
            state_dir: "/var/lib/zferry"
                .parse()
                .expect("constant path is absolute"),
            lock_dir: "/run/zferry".parse().expect("constant path is absolute"),
            snapshot_prefix: SnapshotPrefix::default(),
            timezone: Timezone::Utc,
            running_property: UserProperty::default(),
            guest_command: None,
            capacity_warn: Spanned::new(0..0, 80),
            capacity_crit: Spanned::new(0..0, 95),
        }
    }
}

/// Clock used in snapshot names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Timezone {
    #[default]
    Utc,
    Local,
}

/// `[nodes.<name>]`: how to reach a node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Node {
    /// SSH address; `None` for a node that is only ever the local one.
    pub address: Option<SshWord>,
    #[serde(default = "default_ssh_user")]
    pub ssh_user: SshWord,
    #[serde(default = "default_ssh_port")]
    pub ssh_port: NonZeroU16,
    pub ssh_identity: Option<AbsPath>,
}

fn default_ssh_user() -> SshWord {
    "root".parse().expect("constant user is valid")
}

fn default_ssh_port() -> NonZeroU16 {
    NonZeroU16::new(22).expect("22 is not zero")
}

/// The six sanoid retention periods, shortest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Period {
    Frequently,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Period {
    pub const ALL: [Period; 6] = [
        Period::Frequently,
        Period::Hourly,
        Period::Daily,
        Period::Weekly,
        Period::Monthly,
        Period::Yearly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Frequently => "frequently",
            Period::Hourly => "hourly",
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Yearly => "yearly",
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[templates.<name>]`: a sanoid-style snapshot policy. Unset keys fall back to defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Template {
    pub frequently: Option<u32>,
    pub frequent_period: Option<Spanned<DurationSpec>>,
    pub hourly: Option<u32>,
    pub daily: Option<u32>,
    pub weekly: Option<u32>,
    pub monthly: Option<u32>,
    pub yearly: Option<u32>,
    // Preferred times (sanoid's `hourly_min` …), checked by `Config::validate`.
    pub hourly_min: Option<Spanned<u8>>,
    pub daily_hour: Option<Spanned<u8>>,
    pub daily_min: Option<Spanned<u8>>,
    pub weekly_wday: Option<Spanned<u8>>,
    pub weekly_hour: Option<Spanned<u8>>,
    pub weekly_min: Option<Spanned<u8>>,
    pub monthly_mday: Option<Spanned<u8>>,
    pub monthly_hour: Option<Spanned<u8>>,
    pub monthly_min: Option<Spanned<u8>>,
    pub yearly_mon: Option<Spanned<u8>>,
    pub yearly_mday: Option<Spanned<u8>>,
    pub yearly_hour: Option<Spanned<u8>>,
    pub yearly_min: Option<Spanned<u8>>,
    pub autosnap: Option<bool>,
    pub autoprune: Option<bool>,
    pub monitor: Option<Monitor>,
    /// Report warnings as text but with status OK (sanoid's `monitor_dont_warn`).
    pub monitor_dont_warn: Option<bool>,
    /// Report criticals as text but with status OK (sanoid's `monitor_dont_crit`).
    pub monitor_dont_crit: Option<bool>,
}

/// `[templates.<name>.monitor]`: maximum age of the newest snapshot of each period before
/// monitoring reports WARNING / CRITICAL.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Monitor {
    pub frequently_warn: Option<Spanned<DurationSpec>>,
    pub frequently_crit: Option<Spanned<DurationSpec>>,
    pub hourly_warn: Option<Spanned<DurationSpec>>,
    pub hourly_crit: Option<Spanned<DurationSpec>>,
    pub daily_warn: Option<Spanned<DurationSpec>>,
    pub daily_crit: Option<Spanned<DurationSpec>>,
    pub weekly_warn: Option<Spanned<DurationSpec>>,
    pub weekly_crit: Option<Spanned<DurationSpec>>,
    pub monthly_warn: Option<Spanned<DurationSpec>>,
    pub monthly_crit: Option<Spanned<DurationSpec>>,
    pub yearly_warn: Option<Spanned<DurationSpec>>,
    pub yearly_crit: Option<Spanned<DurationSpec>>,
}

type SpannedPair<'a> = (
    Option<&'a Spanned<DurationSpec>>,
    Option<&'a Spanned<DurationSpec>>,
);

impl Monitor {
    /// The (warn, crit) thresholds set for `period`.
    pub fn thresholds(&self, period: Period) -> SpannedPair<'_> {
        let (w, c) = match period {
            Period::Frequently => (&self.frequently_warn, &self.frequently_crit),
            Period::Hourly => (&self.hourly_warn, &self.hourly_crit),
            Period::Daily => (&self.daily_warn, &self.daily_crit),
            Period::Weekly => (&self.weekly_warn, &self.weekly_crit),
            Period::Monthly => (&self.monthly_warn, &self.monthly_crit),
            Period::Yearly => (&self.yearly_warn, &self.yearly_crit),
        };
        (w.as_ref(), c.as_ref())
    }
}

/// How a dataset's snapshots cover its descendants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recursion {
    /// Only this dataset.
    #[default]
    No,
    /// This dataset and each descendant, each snapshotted on its own.
    Yes,
    /// The whole subtree in one transaction group (`zfs snapshot -r` / channel program).
    Atomic,
}

impl<'de> Deserialize<'de> for Recursion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Recursion;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"no\", \"yes\", \"atomic\", true or false")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Recursion, E> {
                Ok(if b { Recursion::Yes } else { Recursion::No })
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Recursion, E> {
                match s {
                    "no" => Ok(Recursion::No),
                    "yes" => Ok(Recursion::Yes),
                    "atomic" => Ok(Recursion::Atomic),
                    other => Err(E::custom(format!(
                        "unknown value `{other}` for recursive; expected one of no, yes, atomic{HINT_SEP}{}",
                        crate::error::did_you_mean(
                            other,
                            ["no", "yes", "atomic"],
                            "true and false are accepted too"
                        )
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Guest-aware snapshotting (Proxmox).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuestMode {
    /// Snapshot every dataset regardless of guests.
    #[default]
    Off,
    /// Guest disks (`vm-<vmid>-disk-N`, `subvol-<vmid>-disk-N`, `[guest-map]`) are only
    /// snapshotted while their guest runs; a stopping guest gets one final `_stopped` snapshot.
    Auto,
}

/// A hook command run around snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Hook {
    pub argv: Argv,
    #[serde(default = "default_hook_timeout")]
    pub timeout: DurationSpec,
}

fn default_hook_timeout() -> DurationSpec {
    DurationSpec::from_secs(30)
}

/// `[datasets."<pool/path>"]`: a dataset under snapshot policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DatasetConfig {
    pub use_template: Option<Spanned<Name>>,
    pub recursive: Option<Recursion>,
    pub process_children_only: Option<bool>,
    pub pre_snapshot: Option<Hook>,
    pub post_snapshot: Option<Hook>,
    pub guests: Option<GuestMode>,
    // Template overrides.
    pub frequently: Option<u32>,
    pub frequent_period: Option<Spanned<DurationSpec>>,
    pub hourly: Option<u32>,
    pub daily: Option<u32>,
    pub weekly: Option<u32>,
    pub monthly: Option<u32>,
    pub yearly: Option<u32>,
    // Preferred times (sanoid's `hourly_min` …), checked by `Config::validate`.
    pub hourly_min: Option<Spanned<u8>>,
    pub daily_hour: Option<Spanned<u8>>,
    pub daily_min: Option<Spanned<u8>>,
    pub weekly_wday: Option<Spanned<u8>>,
    pub weekly_hour: Option<Spanned<u8>>,
    pub weekly_min: Option<Spanned<u8>>,
    pub monthly_mday: Option<Spanned<u8>>,
    pub monthly_hour: Option<Spanned<u8>>,
    pub monthly_min: Option<Spanned<u8>>,
    pub yearly_mon: Option<Spanned<u8>>,
    pub yearly_mday: Option<Spanned<u8>>,
    pub yearly_hour: Option<Spanned<u8>>,
    pub yearly_min: Option<Spanned<u8>>,
    pub autosnap: Option<bool>,
    pub autoprune: Option<bool>,
    pub monitor: Option<Monitor>,
    /// Report warnings as text but with status OK (sanoid's `monitor_dont_warn`).
    pub monitor_dont_warn: Option<bool>,
    /// Report criticals as text but with status OK (sanoid's `monitor_dont_crit`).
    pub monitor_dont_crit: Option<bool>,
}

/// One side of a replication: a dataset on a node.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Endpoint {
    pub node: Spanned<Name>,
    #[serde(deserialize_with = "de_dataset")]
    pub dataset: DatasetName,
}

/// Who runs `zfs send | zfs receive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncMode {
    /// The source node sends to the targets.
    #[default]
    Push,
    /// Each target node pulls from the source.
    Pull,
}

/// What to do when a target has snapshots newer than the newest common one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDivergence {
    /// Stop and report; nothing is destroyed.
    #[default]
    Refuse,
    /// Keep the diverged target data (renamed aside) and resume from the common snapshot.
    Preserve,
}

/// Compression of the send stream on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compression {
    None,
    #[default]
    Zstd,
}

/// Raw (`zfs send -w`) sends for encrypted datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawMode {
    /// Raw for encrypted datasets, plain otherwise.
    #[default]
    Auto,
    Always,
    Never,
}

/// `[jobs.<name>]`: replicate existing policy snapshots from a source to targets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[allow(
    clippy::struct_excessive_bools,
    reason = "each bool is an independent TOML switch"
)]
pub struct Job {
    pub source: Endpoint,
    pub targets: Spanned<Vec<Spanned<Endpoint>>>,
    #[serde(default)]
    pub mode: SyncMode,
    #[serde(default)]
    pub recursive: bool,
    #[serde(default, deserialize_with = "de_dataset_list")]
    pub exclude: Vec<Spanned<DatasetName>>,
    /// Only snapshots whose short name matches one of these globs (`*`, `?`) are replicated;
    /// empty = all. Intermediates the filter excludes are skipped with per-snapshot sends.
    #[serde(default)]
    pub snapshots: Vec<String>,
    #[serde(default)]
    pub on_divergence: OnDivergence,
    #[serde(default)]
    pub allow_rollback_to_common: bool,
    #[serde(default)]
    pub allow_force_full: bool,
    /// Refuse to send when source used space < this fraction of the target's.
    #[serde(default = "default_min_source_fraction")]
    pub min_source_fraction: Fraction,
    /// Alarm and refuse when the source shrank by more than this fraction since last run.
    #[serde(default = "default_max_shrink")]
    pub max_shrink: Fraction,
    #[serde(default)]
    pub compress: Compression,
    pub bandwidth_limit: Option<ByteSize>,
    #[serde(default)]
    pub raw: RawMode,
    #[serde(default)]
    pub allow_unencrypted_send: bool,
    /// Keep a bookmark of each sent snapshot so increments survive pruning.
    #[serde(default = "yes")]
    pub bookmarks: bool,
}

fn default_min_source_fraction() -> Fraction {
    Fraction::new(0.5).expect("constant in range")
}

fn default_max_shrink() -> Fraction {
    Fraction::new(0.2).expect("constant in range")
}

fn yes() -> bool {
    true
}

/// Where a service currently runs, as told by an existing cluster engine.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Placement {
    /// The node running Proxmox guest `vmid` (`pvesh get /cluster/resources`).
    Proxmox { vmid: Vmid },
    /// The node where Pacemaker runs `resource`.
    Pacemaker { resource: String },
    /// The node where DRBD `resource` is Primary.
    Drbd { resource: String },
    /// Always this node.
    Static { node: Name },
    /// A program that prints the node name.
    Command { argv: Argv },
}

/// `[services.<name>]`: an HA service whose placement drives replication direction.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Service {
    pub placement: Spanned<Placement>,
    pub nodes: Spanned<Vec<Spanned<Name>>>,
    #[serde(default)]
    pub third_sites: Vec<Spanned<Name>>,
    #[serde(default)]
    pub jobs: Vec<Spanned<Name>>,
    #[serde(default = "default_confirmations")]
    pub confirmations: NonZeroU32,
    #[serde(default = "default_confirmation_interval")]
    pub confirmation_interval: DurationSpec,
    #[serde(default = "yes")]
    pub require_quorum: bool,
    #[serde(default = "default_cooldown")]
    pub cooldown: DurationSpec,
    pub alert_command: Option<Argv>,
}

fn default_confirmations() -> NonZeroU32 {
    NonZeroU32::new(3).expect("3 is not zero")
}

fn default_confirmation_interval() -> DurationSpec {
    DurationSpec::from_secs(2)
}

fn default_cooldown() -> DurationSpec {
    DurationSpec::from_secs(600)
}
