//! Command-line grammar (clap derive). Commands exist only when they work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "zferry",
    version,
    about = "Keeps ZFS data safe and highly available across small Proxmox-style clusters",
    long_about = None,
)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "ZFERRY_CONFIG", default_value = zferry_config::DEFAULT_PATH)]
    pub config: PathBuf,

    #[command(flatten)]
    pub log: LogArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// More log output on stderr (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pools (health, capacity) and datasets (snapshot count, newest snapshot age) on this host.
    Status(StatusArgs),
    /// Work with the configuration file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Proxmox VMA backup archives (.vma, .vma.zst, .vma.gz, .vma.lzo; `-` = stdin).
    Vma {
        #[command(subcommand)]
        command: VmaCommand,
    },
    /// vzdump backups as per-VM ZFS datasets: ingest (changed blocks only), restore, report.
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Make DST equal SRC by writing only the 4 KiB blocks that differ (zero blocks become holes).
    Blocksync(BlocksyncArgs),
    /// Nagios/Icinga checks (same lines and exit codes as `sanoid --monitor-*`).
    Monitor {
        #[command(subcommand)]
        command: MonitorCommand,
    },
    /// Snapshots: policy runs, list, roll back, clone for inspection, import from sanoid.
    Snap {
        #[command(subcommand)]
        command: SnapCommand,
    },
    /// Replication of existing snapshots to other nodes: run the configured jobs, show status.
    Repl {
        #[command(subcommand)]
        command: ReplCommand,
    },
    /// The long-running HA controller: polls placement, snapshots and replicates by role
    /// (run it from systemd: `dist/zferry.service`; SIGHUP reloads the configuration).
    Daemon(DaemonArgs),
    /// HA: replication that follows the service (placement, role, fencing epoch, final sync).
    Ha {
        #[command(subcommand)]
        command: HaCommand,
    },
    /// The remote end of replication, as an ssh forced command: runs the `zfs` command in
    /// SSH_ORIGINAL_COMMAND if this node's config allows it, else refuses (exit 126).
    Serve(ServeArgs),
    /// The remote end of a compressed replication stream (sent by `zferry repl run` over
    /// ssh): `compress -- zfs send …` or `decompress -- zfs receive -s …`, zstd done in-process.
    Wire(WireArgs),
}

#[derive(Debug, Args)]
pub struct WireArgs {
    /// What to do with the stream.
    #[arg(value_enum)]
    pub mode: WireModeArg,
    /// The `zfs` command, after `--` (only the shapes `zferry serve` serves).
    #[arg(last = true, required = true)]
    pub argv: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WireModeArg {
    /// Run a `zfs send` and compress its stdout.
    Compress,
    /// Decompress stdin into a `zfs receive`.
    Decompress,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve one command over ssh's stdin/stdout (the only mode).
    #[arg(long, required = true)]
    pub stdio: bool,
}

#[derive(Debug, Subcommand)]
pub enum HaCommand {
    /// One HA cycle (the systemd timer mode): observe each service's placement
    /// `confirmations` times, decide this node's role, fence (epoch), take and prune
    /// snapshots by role, and replicate from the master.
    ///
    /// Exit codes: 0 every service acted without problems; 1 a refusal, guard or pair needs
    /// an admin; 75 only transient failures (retry later); 2 the command could not run.
    RunOnce(HaRunOnceArgs),
    /// Per service: role, master, epoch, placement evidence, last refusal, and per pair the
    /// newest common snapshot and its age (RPO), as recorded on this node.
    Status(HaStatusArgs),
}

#[derive(Debug, Args)]
pub struct HaRunOnceArgs {
    /// Only these services (default: all this node runs or receives).
    pub services: Vec<String>,
    /// Decide and plan, but change nothing (no epoch, snapshot, send, state or alert command).
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Record the guid of a pool that changed since the last cycle instead of refusing to be
    /// master on it (after an intended pool replacement, once the data is restored).
    #[arg(long)]
    pub accept_new_pools: bool,
    /// Seconds replication waits for another run holding a pool lock.
    #[arg(long, default_value_t = 60)]
    pub lock_wait: u64,
    /// Act as this node (default: global.hostname, else the node without an address).
    #[arg(long)]
    pub node: Option<String>,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Seconds between two looks at each service's placement.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_interval: u64,
    /// Seconds between two cycles (snapshot run, then replication); a role change runs one at
    /// once. This bounds the RPO.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub cycle_interval: u64,
    /// Act as this node (default: global.hostname, else the node without an address).
    #[arg(long)]
    pub node: Option<String>,
}

#[derive(Debug, Args)]
pub struct HaStatusArgs {
    /// Only these services.
    pub services: Vec<String>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ReplCommand {
    /// Replicate every job this node initiates (push: its source; pull: its targets), once.
    ///
    /// Exit codes: 0 everything replicated or up to date; 1 some pair needs an admin
    /// (refused, diverged, guard tripped, permanent error); 75 some pair failed transiently
    /// (retry later); 2 the command could not run.
    Run(ReplRunArgs),
    /// Per job, dataset and target: newest common snapshot, its age (RPO), last success and
    /// last error, as recorded by the last runs on this node.
    Status(ReplStatusArgs),
}

#[derive(Debug, Args)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "each bool is an independent flag"
)]
pub struct ReplRunArgs {
    /// Only these jobs (default: all this node initiates).
    pub jobs: Vec<String>,
    /// Print the plan with reasons (what would be sent or destroyed); change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Send even when a source shrank more than the job's max-shrink since the last success.
    #[arg(long)]
    pub accept_shrink: bool,
    /// This run may roll a diverged target back to the newest common snapshot (`recv -F`),
    /// destroying the target-only snapshots the plan lists.
    #[arg(long)]
    pub rollback_to_common: bool,
    /// This run may also replace a target that shares no snapshot with the source.
    #[arg(long)]
    pub force_full: bool,
    /// Seconds to wait for another run holding a pool lock before giving up.
    #[arg(long, default_value_t = 0)]
    pub lock_wait: u64,
    /// List and plan every dataset, even those whose snapshots did not change.
    #[arg(long)]
    pub full_list: bool,
    /// Act as this node (default: global.hostname, else the node without an address).
    #[arg(long)]
    pub node: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReplStatusArgs {
    /// Only these jobs.
    pub jobs: Vec<String>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SnapCommand {
    /// Take due snapshots and prune expired ones for every configured dataset, once.
    Run(SnapRunArgs),
    /// Convert a sanoid.conf to zferry configuration (printed); lists what cannot be converted.
    ImportSanoid(ImportSanoidArgs),
    /// List snapshots (of the given datasets, or all), oldest first per dataset.
    List(ListArgs),
    /// Roll a dataset back to a snapshot. Refuses when newer snapshots, bookmarks or clones
    /// would be destroyed, unless --force; then names each one it destroys.
    Rollback(RollbackArgs),
    /// Clone a snapshot to a new dataset for inspection (read-only unless --writable).
    Clone(CloneArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Include descendant datasets' snapshots.
    #[arg(short, long)]
    pub recursive: bool,
    pub datasets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The snapshot to roll back to (`pool/dataset@snapshot`).
    pub snapshot: String,
    /// Destroy newer snapshots, bookmarks and clones (each is named first).
    #[arg(long)]
    pub force: bool,
    /// Show what would be destroyed; change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CloneArgs {
    /// The snapshot to clone (`pool/dataset@snapshot`).
    pub snapshot: String,
    /// The new dataset (`pool/dataset`).
    pub new_dataset: String,
    /// Make the clone writable (default: readonly=on).
    #[arg(long)]
    pub writable: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Only these pools (default: all imported pools).
    pub pools: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Parse and validate the configuration; print every problem with its line and column.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum VmaCommand {
    /// Print the archive's configs and devices (like PVE's `vma list`).
    List(VmaFileArgs),
    /// Print a config file stored in the archive (default: the guest's `.conf`).
    Config(VmaConfigArgs),
    /// Read the whole archive and check every checksum and cluster; exit 1 if damaged.
    Verify(VmaFileArgs),
    /// Write sparse `disk-<device>.raw` images and the config files into a new directory.
    Extract(VmaExtractArgs),
    /// Write a VMA (`.vma`, `.vma.zst`, `.vma.gz`) from raw images and config files, for
    /// `qmrestore` (like PVE's `vma create`).
    Create(VmaCreateArgs),
}

#[derive(Debug, Args)]
pub struct VmaCreateArgs {
    /// The archive to write; `.zst`/`.gz` at the end compress it. Must not exist.
    pub output: String,
    /// Devices as `DEVNAME=IMAGE`, e.g. `drive-scsi0=disk0.raw` (ids 1, 2, … in this order).
    #[arg(required = true)]
    pub devices: Vec<String>,
    /// A config file to store as a blob under its file name (e.g. `qemu-server.conf`).
    #[arg(short = 'c', long = "conf")]
    pub configs: Vec<String>,
    /// zstd level for `.zst` output (vzdump's default is 1).
    #[arg(long, default_value_t = 1)]
    pub zstd_level: i32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VmaFileArgs {
    /// The archive (`-` for standard input).
    pub file: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VmaConfigArgs {
    /// The archive (`-` for standard input).
    pub file: String,
    /// Config name, e.g. `qemu-server.conf`.
    #[arg(short = 'c', long = "config-name")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct VmaExtractArgs {
    /// The archive (`-` for standard input).
    pub file: String,
    /// Target directory; must not exist.
    pub dir: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // independent command-line switches
pub struct SnapRunArgs {
    /// Show the plan with reasons; change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Print the plan and results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Plan as if it were this time (RFC 3339, e.g. 2026-11-21T14:00:00Z): try policies.
    #[arg(long)]
    pub now: Option<String>,
    /// Use plain `zfs snapshot`/`zfs destroy` instead of channel programs.
    #[arg(long)]
    pub no_channel_programs: bool,
    /// Take no snapshots this run (runtime override of autosnap).
    #[arg(long)]
    pub no_autosnap: bool,
    /// Prune nothing this run (runtime override of autoprune).
    #[arg(long)]
    pub no_autoprune: bool,
}

#[derive(Debug, Args)]
pub struct ImportSanoidArgs {
    /// The sanoid configuration, e.g. /etc/sanoid/sanoid.conf.
    pub sanoid_conf: String,
    /// sanoid.defaults.conf (default: beside the config, else /usr/share/sanoid/).
    #[arg(long)]
    pub defaults: Option<String>,
    /// Print the result (TOML text and report) as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Every monitored dataset has a fresh snapshot of each period (sanoid --monitor-snapshots).
    Snapshots(MonitorArgs),
    /// Pool and device health (sanoid --monitor-health).
    Health(MonitorArgs),
    /// Pool capacity against global.capacity-warn/-crit, default 80/95 % (sanoid --monitor-capacity).
    Capacity(MonitorArgs),
    /// The recovery point (age of the newest common snapshot) of every pair this node sends:
    /// its jobs, and its services' jobs while it is their master.
    Replication(MonitorReplicationArgs),
}

#[derive(Debug, Args)]
pub struct MonitorReplicationArgs {
    /// Print JSON instead of the Nagios line (the exit code is the same).
    #[arg(long)]
    pub json: bool,
    /// WARNING when a pair's RPO reaches this age.
    #[arg(long, default_value = "1h")]
    pub warn: String,
    /// CRITICAL when a pair's RPO reaches this age, or it never replicated.
    #[arg(long, default_value = "4h")]
    pub crit: String,
    /// Check as this node (default: global.hostname, else the node without an address).
    #[arg(long)]
    pub node: Option<String>,
}

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Print JSON instead of the Nagios line (the exit code is the same).
    #[arg(long)]
    pub json: bool,
    /// Pools to check (health, capacity); default: the configured datasets' pools, else all.
    pub pools: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BlocksyncArgs {
    /// Source image (`-` for standard input).
    pub source: String,
    /// Target file, image or zvol; created if missing, resized to the source.
    pub target: String,
    /// Compare and count only; write nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Write changed zero blocks as zeros instead of punching holes.
    #[arg(long)]
    pub no_punch: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Ingest vzdump archives into <root>/<vmid> (VMs: only changed 4 KiB blocks; containers:
    /// only changed files), one snapshot per backup; a failed or interrupted (SIGINT/SIGTERM)
    /// ingest is rolled back; re-ingesting is a no-op.
    Ingest(IngestArgs),
    /// Rebuild a VMA archive (`.vma` or `.vma.zst`) from a backup snapshot, for qmrestore; for a
    /// container backup, a tar (`.tar` or `.tar.zst`) of its file tree, for pct restore.
    Restore(RestoreArgs),
    /// Per backup: disk size, VMA size, space it added on ZFS, and the saving.
    Report(ReportArgs),
    /// Thin out backup snapshots by calendar buckets (keep the newest N days, weeks, …; the
    /// newest backup always stays), each decision with its reason.
    Prune(PruneArgs),
    /// Expose a backup's disk images for file-level restore: a read-only clone of the
    /// snapshot and read-only loop devices with partitions (--cleanup undoes it).
    Files(FilesArgs),
}

#[derive(Debug, Args)]
pub struct FilesArgs {
    #[arg(long)]
    pub root: String,
    pub vmid: u32,
    /// The backup time, YYYY_MM_DD-HH_MM_SS (the snapshot name).
    pub time: String,
    /// Detach the loop devices and destroy the clone (refused while a partition is mounted).
    #[arg(long)]
    pub cleanup: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[arg(long)]
    pub root: String,
    /// Only this guest (default: every guest under --root).
    pub vmid: Option<u32>,
    /// Take the counts from this `[templates.<name>]` of the config (unset counts are 0);
    /// --keep-* options override it.
    #[arg(long)]
    pub template: Option<String>,
    /// Keep the N newest backups.
    #[arg(long, value_name = "N")]
    pub keep_last: Option<u32>,
    /// Keep the newest backup of each of the last N hours that have one.
    #[arg(long, value_name = "N")]
    pub keep_hourly: Option<u32>,
    /// … of each of the last N days.
    #[arg(long, value_name = "N")]
    pub keep_daily: Option<u32>,
    /// … of each of the last N ISO weeks.
    #[arg(long, value_name = "N")]
    pub keep_weekly: Option<u32>,
    /// … of each of the last N months.
    #[arg(long, value_name = "N")]
    pub keep_monthly: Option<u32>,
    /// … of each of the last N years.
    #[arg(long, value_name = "N")]
    pub keep_yearly: Option<u32>,
    /// Show the decisions; destroy nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Dataset holding one child per VM, e.g. tank/backup.
    #[arg(long)]
    pub root: String,
    /// vzdump-qemu-<vmid>-YYYY_MM_DD-HH_MM_SS.vma[.zst|.gz|.lzo] or
    /// vzdump-lxc-<vmid>-….tar[.zst|.gz|.lzo] files, oldest first.
    #[arg(required_unless_present = "watch", conflicts_with = "watch")]
    pub files: Vec<String>,
    /// Keep polling this vzdump target directory and ingest each archive once it is complete
    /// (stable size, and its log says finished or it is older than --settle). Stops on
    /// SIGINT/SIGTERM.
    #[arg(long, value_name = "DIR")]
    pub watch: Option<String>,
    /// Seconds between polls of --watch.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub interval: u64,
    /// With --watch: an archive whose log does not say finished is ingested once unmodified
    /// for this long.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub settle: u64,
    /// Remove each archive after its successful ingest.
    #[arg(long)]
    pub delete_input: bool,
    /// Print the reports as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[arg(long)]
    pub root: String,
    pub vmid: u32,
    /// The backup time, YYYY_MM_DD-HH_MM_SS (the snapshot name).
    pub time: String,
    /// Output file; `.zst` at the end compresses with zstd.
    #[arg(short, long)]
    pub output: String,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[arg(long)]
    pub root: String,
    pub vmid: Option<u32>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}
