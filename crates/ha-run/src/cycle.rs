//! One HA cycle on this node: `zferry ha run-once`, and every turn of the daemon.
//!
//! 1. **Decide** each service's role from its placement history (`zferry_ha::decide`), then
//!    apply the guards: a would-be master's pools must be imported, ONLINE, below the critical
//!    capacity and the same pools as before; a second direction change within `cooldown` is
//!    held.
//! 2. **Fence**: a node that becomes master reads every epoch it can reach (its own datasets,
//!    every other node's) and sets one above the highest on its datasets, before any send.
//! 3. **Final sync**: a master whose service stopped here for a planned move (confirmed, with
//!    quorum) takes one last `_stopped` snapshot and sends it, once per epoch, so a planned
//!    switchover loses nothing.
//! 4. **Snapshots**: one snapshot run for the whole node, with the service datasets switched
//!    by role (a standby and an undecided node prune but take no snapshots).
//! 5. **Replicate**: each master service's jobs, turned to start at this node.
//!
//! Every role change, refusal, preserve and final sync is an alert.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use zferry_config::{Config, Service};
use zferry_exec::{CommandSpec, Executor, LocalExecutor};
use zferry_ha::{Epoch, Observation, Reading, Role, Tick, decide, next_master_epoch};
use zferry_repl::Destructive;
use zferry_repl_run::hosts::Hosts;
use zferry_repl_run::job::resolve;
use zferry_repl_run::report::{PairReport, PairStatus, RunClass, classify};
use zferry_repl_run::run::{RunOptions, run_job};
use zferry_snap::naming::{SnapKind, SnapName};
use zferry_zfs::{DatasetName, PoolInfo, PoolName};

use crate::alert::{self, Alert, AlertKind};
use crate::guards;
use crate::service::{self, Acting, ServiceDataset};
use crate::state::{self, ServiceState};

/// How to run a cycle.
#[derive(Debug, Clone)]
pub struct CycleOptions {
    /// This node's name.
    pub local: String,
    /// Only these services (all this node takes part in when empty).
    pub services: Vec<String>,
    pub dry_run: bool,
    /// Record a replaced pool's new guid instead of refusing to be master on it.
    pub accept_new_pools: bool,
    /// Wall-clock time of the cycle (state records, snapshot names).
    pub now: jiff::Timestamp,
    /// How long replication waits for a pool lock held by another run.
    pub lock_wait: Duration,
}

/// What the placement source said, for one service: its history and the tick of "now".
#[derive(Debug, Clone)]
pub struct Evidence {
    pub history: Vec<Observation>,
    pub now: Tick,
    /// The newest successful reading, for the report.
    pub newest: Option<Reading>,
}

/// The fencing epoch a new master took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EpochChange {
    /// The highest epoch seen on any reachable node.
    pub highest_seen: u64,
    pub taken: u64,
    /// Nodes whose epochs could not be read (down, unreachable), with why.
    pub unread: Vec<String>,
}

/// One service's part of a cycle.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub service: String,
    /// The decision from the placement evidence (`None` on a third site).
    pub role: Option<Role>,
    /// What this node did: the role after the guards.
    #[serde(flatten)]
    pub acting: Acting,
    /// The newest placement view, in words.
    pub evidence: Option<String>,
    pub epoch: Option<u64>,
    pub epoch_change: Option<EpochChange>,
    /// The final sync's snapshot, when one was made in this cycle.
    pub final_sync: Option<String>,
    pub pairs: Vec<PairReport>,
    /// Problems an admin must look at (guards, epochs that could not be set, state files).
    pub problems: Vec<String>,
    pub alerts: Vec<Alert>,
}

/// The snapshot run's outcome, in short.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SnapSummary {
    pub created: Vec<String>,
    pub destroyed: Vec<String>,
    pub notes: Vec<String>,
    pub errors: Vec<String>,
}

/// The whole cycle.
#[derive(Debug, Clone, Serialize)]
pub struct CycleReport {
    pub node: String,
    pub now: String,
    pub dry_run: bool,
    pub services: Vec<ServiceReport>,
    pub snapshots: SnapSummary,
    pub exit_code: u8,
}

/// Observes every service's placement `confirmations` times, `confirmation-interval` apart
/// (the seed's 3 checks 2 s apart): the evidence a run-once decides on. `guest_command` is how
/// a Proxmox placement lists the guests ([`crate::observe::observe`]).
pub fn observe_burst(
    exec: &dyn Executor,
    services: &[(&str, &Service)],
    local: &str,
    guest_command: &[String],
) -> BTreeMap<String, Evidence> {
    let start = std::time::Instant::now();
    let tick = || Tick(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX));
    let looks = services
        .iter()
        .map(|(_, s)| s.confirmations.get())
        .max()
        .unwrap_or(1);
    let pause = services
        .iter()
        .map(|(_, s)| s.confirmation_interval.get())
        .max()
        .unwrap_or_default();
    let mut out: BTreeMap<String, Evidence> = BTreeMap::new();
    for look in 0..looks {
        if look > 0 {
            std::thread::sleep(pause);
        }
        for (name, svc) in services {
            if !svc
                .nodes
                .get_ref()
                .iter()
                .any(|n| n.get_ref().as_str() == local)
            {
                continue; // a third site needs no placement
            }
            let at = tick();
            let reading =
                crate::observe::observe(exec, svc.placement.get_ref(), local, guest_command);
            let ev = out.entry((*name).to_owned()).or_insert_with(|| Evidence {
                history: Vec::new(),
                now: at,
                newest: None,
            });
            if let Err(e) = &reading {
                tracing::warn!(service = name, error = e, "placement source failed");
            }
            ev.history.push(Observation {
                at,
                view: reading.as_ref().map(Reading::view).map_err(Clone::clone),
            });
            if let Ok(r) = reading {
                ev.newest = Some(r);
            }
        }
    }
    let now = tick();
    for ev in out.values_mut() {
        ev.now = now;
    }
    out
}

/// Runs one cycle with the evidence gathered for each service.
pub fn run_cycle(
    config: &Config,
    opts: &CycleOptions,
    evidence: &BTreeMap<String, Evidence>,
) -> Result<CycleReport, String> {
    let local_exec = LocalExecutor::with_host(opts.local.clone());
    let services = service::services_of(config, &opts.local, &opts.services)?;
    let state_dir = config.global.state_dir.as_path();
    let lock_dir = config.global.lock_dir.as_path().to_owned();
    // The ssh control sockets live there; the epoch reads may use them before any lock.
    std::fs::create_dir_all(&lock_dir).map_err(|e| {
        format!(
            "cannot create the lock directory {}: {e}",
            lock_dir.display()
        )
    })?;
    // One cycle at a time on a node (a timer run and the daemon, or two admins): two would
    // both take an epoch and both send.
    let lock_path = lock_dir.join("ha-cycle.lock");
    let _cycle = zferry_repl_run::lock::acquire(&lock_path, opts.lock_wait)
        .map_err(|e| format!("HA cycle: {e}"))?;
    let mut hosts = Hosts::new(config, opts.local.clone(), &lock_dir);
    let now = opts.now.as_second();

    // 1-3: decide, fence, final sync; per service.
    let mut reports = Vec::new();
    let mut records = BTreeMap::new();
    for (name, svc) in &services {
        let mut record = state::load(state_dir, name.as_str()).map_err(|e| {
            format!(
                "service {name}: cannot read its HA state ({e}); move the file aside to start \
                 fresh"
            )
        })?;
        let report = Decision {
            config,
            opts,
            name: name.as_str(),
            svc,
            exec: &local_exec,
            hosts: &mut hosts,
            now,
        }
        .run(&mut record, evidence.get(name.as_str()));
        records.insert(name.to_string(), record);
        reports.push(report);
    }

    // 4: one snapshot run, switched by every service's role (recorded ones for the rest).
    let (mut actings, unread) = state::recorded_actings(config);
    for r in &reports {
        actings.insert(r.service.clone(), r.acting.clone());
    }
    let snapshots = snapshot_run(config, opts, &local_exec, &actings, unread);

    // 5: replicate every service this node is master of. A final sync's pairs (step 3) alert
    // the same way: a refused last send is exactly what the admin must hear about.
    for (report, (name, svc)) in reports.iter_mut().zip(&services) {
        if report.acting == Acting::Master {
            report.pairs = replicate(config, opts, &mut hosts, name.as_str(), svc);
        }
        if report.acting == Acting::Master || report.final_sync.is_some() {
            let record = records.get_mut(name.as_str()).expect("recorded above");
            pair_alerts(opts, &local_exec, svc, report, record, now);
        }
    }
    for (name, record) in &records {
        record_or_complain(opts, state_dir, name, record, &mut reports);
    }
    let exit_code = exit_code(&reports, &snapshots);
    Ok(CycleReport {
        node: opts.local.clone(),
        now: opts.now.to_string(),
        dry_run: opts.dry_run,
        services: reports,
        snapshots,
        exit_code,
    })
}

fn record_or_complain(
    opts: &CycleOptions,
    state_dir: &std::path::Path,
    name: &str,
    record: &ServiceState,
    reports: &mut [ServiceReport],
) {
    if opts.dry_run {
        return;
    }
    if let Err(e) = state::save(state_dir, name, record)
        && let Some(r) = reports.iter_mut().find(|r| r.service == name)
    {
        r.problems.push(format!("cannot record the HA state: {e}"));
    }
}

/// 0 when every service acted without problems, 1 when an admin must look, 75 when only
/// transient failures happened.
fn exit_code(reports: &[ServiceReport], snapshots: &SnapSummary) -> u8 {
    let pairs: Vec<PairReport> = reports.iter().flat_map(|r| r.pairs.clone()).collect();
    let mut class = classify(&pairs);
    if reports.iter().any(|r| !r.problems.is_empty()) || !snapshots.errors.is_empty() {
        class = class.max(RunClass::NeedsAdmin);
    }
    class.exit_code()
}

/// Steps 1-3 for one service.
struct Decision<'a, 'c> {
    config: &'c Config,
    opts: &'a CycleOptions,
    name: &'a str,
    svc: &'c Service,
    exec: &'a dyn Executor,
    hosts: &'a mut Hosts<'c>,
    now: i64,
}

impl Decision<'_, '_> {
    fn run(mut self, record: &mut ServiceState, evidence: Option<&Evidence>) -> ServiceReport {
        let mut report = ServiceReport {
            service: self.name.to_owned(),
            role: None,
            acting: Acting::ThirdSite,
            evidence: None,
            epoch: record.epoch,
            epoch_change: None,
            final_sync: None,
            pairs: Vec::new(),
            problems: Vec::new(),
            alerts: Vec::new(),
        };
        let is_service_node = self
            .svc
            .nodes
            .get_ref()
            .iter()
            .any(|n| n.get_ref().as_str() == self.opts.local);
        if is_service_node {
            let empty = Evidence {
                history: Vec::new(),
                now: Tick(0),
                newest: None,
            };
            let ev = evidence.unwrap_or(&empty);
            let role = decide(
                &self.opts.local,
                &service::node_names(self.svc),
                &ev.history,
                &service::rules(self.svc),
                ev.now,
            );
            report.evidence = ev.history.last().map(|o| match &o.view {
                Ok(v) => view_text(v),
                Err(e) => format!("source failed: {e}"),
            });
            report.acting = self.guarded(&role, record, &mut report);
            // The last confirmed master is still this node (no other has been confirmed
            // since), so its data is the newest: once the stop is confirmed, send it on. The
            // daemon may already have held for a cycle or two while the stop was confirmed.
            if report.acting != Acting::Master
                && record.master.as_deref() == Some(self.opts.local.as_str())
                && guards::service_stopped_here(&ev.history, self.svc.confirmations.get())
            {
                self.final_sync(record, &mut report);
            }
            report.role = Some(role);
        }
        if record.acting.as_ref() != Some(&report.acting) {
            let before = record
                .acting
                .as_ref()
                .map_or_else(|| "none".to_owned(), acting_text);
            report.alerts.push(self.alert(
                AlertKind::RoleChange,
                format!("{before} -> {}", acting_text(&report.acting)),
            ));
            record.acting = Some(report.acting.clone());
            record.since = Some(self.now);
        }
        record.last_cycle = Some(self.now);
        record.evidence.clone_from(&report.evidence);
        report.epoch = record.epoch;
        report
    }

    /// The role after the guards; records the confirmed master and the direction change.
    fn guarded(
        &mut self,
        role: &Role,
        record: &mut ServiceState,
        report: &mut ServiceReport,
    ) -> Acting {
        let confirmed = match role {
            Role::Master => Some(self.opts.local.clone()),
            Role::Standby { master } => Some(master.clone()),
            Role::Unknown { .. } => None,
        };
        if let Role::Unknown { reason } = role {
            return Acting::Hold {
                reason: reason.to_string(),
            };
        }
        if let Role::Standby { master } = role {
            self.note_master(record, confirmed.as_deref());
            // A standby records its pools at first sight too, so a pool replaced later is
            // recognised before this node is ever master on it.
            let (pools, listed) = self.own_pools();
            record.pools = guards::record_pools(&record.pools, &listed, &pools, false);
            return Acting::Standby {
                master: master.clone(),
            };
        }
        // Master: the cooldown, the pools, then the epoch.
        let cooldown = self.svc.cooldown.get().as_secs();
        if record.master.as_deref() != Some(self.opts.local.as_str())
            && let Some(why) = guards::cooldown(
                record.master.as_deref(),
                record.direction_changed_at,
                &self.opts.local,
                cooldown,
                self.now,
            )
        {
            self.refuse(record, report, &why);
            return Acting::Hold { reason: why };
        }
        let problems = self.pool_problems(record);
        if !problems.is_empty() {
            let why = problems.join("; ");
            self.refuse(record, report, &why);
            return Acting::Hold { reason: why };
        }
        self.note_master(record, confirmed.as_deref());
        // Every master cycle reads the epochs: a master that was cut off while another took
        // over learns it here, before it snapshots or sends anything.
        let continuing = record.acting == Some(Acting::Master);
        match self.fence(report, continuing.then_some(record.epoch).flatten()) {
            Ok(Some(change)) => {
                record.epoch = Some(change.taken);
                report.epoch_change = Some(change);
            }
            Ok(None) => {}
            Err(why) => {
                self.refuse(record, report, &why);
                return Acting::Hold { reason: why };
            }
        }
        Acting::Master
    }

    /// Raises an alert of this service on this node (logged, and the alert command).
    fn alert(&self, kind: AlertKind, message: String) -> Alert {
        let a = Alert::new(kind, self.name, &self.opts.local, message);
        alert::raise(
            self.exec,
            self.svc.alert_command.as_ref(),
            self.opts.dry_run,
            a,
        )
    }

    /// Records the confirmed master, and when it changed from one node to another.
    fn note_master(&self, record: &mut ServiceState, confirmed: Option<&str>) {
        let Some(now_master) = confirmed else { return };
        if let Some(prev) = &record.master
            && prev != now_master
        {
            record.direction_changed_at = Some(self.now);
        }
        record.master = Some(now_master.to_owned());
    }

    fn refuse(&self, record: &mut ServiceState, report: &mut ServiceReport, why: &str) {
        report.problems.push(why.to_owned());
        record.last_refusal = Some((self.now, why.to_owned()));
        report
            .alerts
            .push(self.alert(AlertKind::Refusal, why.to_owned()));
    }

    /// This node's datasets of the service.
    fn own(&self) -> Vec<ServiceDataset> {
        service::datasets(self.config, self.svc)
            .into_iter()
            .filter(|d| d.node == self.opts.local)
            .collect()
    }

    /// This node's pools of the service, and `zpool list` of them.
    fn own_pools(&self) -> (Vec<String>, Vec<PoolInfo>) {
        let mut pools: Vec<String> = self
            .own()
            .iter()
            .map(|d| d.dataset.pool().to_string())
            .collect();
        pools.sort();
        pools.dedup();
        let names: Vec<PoolName> = pools.iter().filter_map(|p| p.parse().ok()).collect();
        let listed: Vec<PoolInfo> = match zferry_zfs::ops::zpool_list(self.exec, &names) {
            Ok(l) => l,
            // A pool that is not imported makes `zpool list <pool>` fail: list them all.
            Err(_) => zferry_zfs::ops::zpool_list(self.exec, &[]).unwrap_or_default(),
        };
        (pools, listed)
    }

    fn pool_problems(&self, record: &mut ServiceState) -> Vec<String> {
        let (pools, listed) = self.own_pools();
        let known = record.pools.clone();
        let problems = guards::pool_problems(
            &pools,
            &listed,
            *self.config.global.capacity_crit.get_ref(),
            &known,
            self.opts.accept_new_pools,
        );
        if problems.is_empty() {
            record.pools =
                guards::record_pools(&known, &listed, &pools, self.opts.accept_new_pools);
        }
        problems
    }

    /// Reads every reachable epoch of the service's datasets. Refuses when a peer is ahead of
    /// this node; otherwise a new master (`held` = `None`, or this node's datasets no longer
    /// at the epoch it holds) sets one above the highest on its datasets.
    fn fence(
        &mut self,
        report: &mut ServiceReport,
        held: Option<u64>,
    ) -> Result<Option<EpochChange>, String> {
        let all = service::datasets(self.config, self.svc);
        let mut by_node: BTreeMap<&str, Vec<DatasetName>> = BTreeMap::new();
        for d in &all {
            by_node
                .entry(d.node.as_str())
                .or_default()
                .push(d.dataset.clone());
        }
        let mut seen = Vec::new();
        let mut unread = Vec::new();
        let mut own = Vec::new();
        let mut own_highest = Epoch::default();
        let mut newer_peer: Option<(String, Epoch)> = None;
        for (node, roots) in &by_node {
            let result = if *node == self.opts.local {
                crate::epochs::read(self.exec, roots)
            } else {
                self.hosts
                    .get(node)
                    .map_err(|e| e.to_string())
                    .and_then(|exec| crate::epochs::read(exec.as_ref(), roots))
            };
            match result {
                Ok(epochs) => {
                    let top = epochs.values().copied().max().unwrap_or_default();
                    seen.push(top);
                    if *node == self.opts.local {
                        own_highest = top;
                        own = epochs.into_keys().collect();
                    } else if newer_peer.as_ref().is_none_or(|(_, e)| top > *e) {
                        newer_peer = Some(((*node).to_owned(), top));
                    }
                }
                Err(e) if *node == self.opts.local => {
                    return Err(format!("cannot read this node's epochs: {e}"));
                }
                Err(e) => unread.push(format!("{node}: {e}")),
            }
        }
        // A peer ahead of this node means another node was master since this one last
        // received: its data here is behind. It must be resynced as a standby first.
        if let Some((peer, e)) = newer_peer
            && e > own_highest
        {
            return Err(format!(
                "node {peer} holds epoch {}, newer than this node's {}: another node was master \
                 since this one last received, so its data here is behind. Not taking over. Move \
                 the service to the newest master (or let this node be its standby until it is \
                 resynced), then move it here",
                e.0, own_highest.0
            ));
        }
        if held == Some(own_highest.0) {
            return Ok(None);
        }
        let highest = seen.iter().copied().max().unwrap_or_default();
        let taken = next_master_epoch(seen);
        if !self.opts.dry_run {
            crate::epochs::set(self.exec, &own, taken)
                .map_err(|e| format!("cannot set {taken} on this node's datasets: {e}"))?;
        }
        if !unread.is_empty() {
            report.problems.push(format!(
                "took epoch {} without reading {}; those nodes will be fenced by it when they \
                 return",
                taken.0,
                unread.join(", ")
            ));
        }
        tracing::warn!(
            service = self.name,
            epoch = taken.0,
            highest = highest.0,
            "became master"
        );
        Ok(Some(EpochChange {
            highest_seen: highest.0,
            taken: taken.0,
            unread,
        }))
    }

    /// The leaving master's last snapshot and send (once per epoch).
    fn final_sync(&mut self, record: &mut ServiceState, report: &mut ServiceReport) {
        let Some(epoch) = record.epoch else { return };
        if record.final_sync_epoch == Some(epoch) {
            return;
        }
        let tz = zferry_snap::run::zone(self.config);
        let snap = SnapName::at(
            &self.config.global.snapshot_prefix,
            self.opts.now,
            &tz,
            SnapKind::Stopped,
        )
        .to_string();
        let own = self.own();
        if !self.opts.dry_run {
            for recursive in [true, false] {
                let names: Vec<String> = own
                    .iter()
                    .filter(|d| d.recursive == recursive)
                    .map(|d| format!("{}@{snap}", d.dataset))
                    .collect();
                if names.is_empty() {
                    continue;
                }
                let cmd = CommandSpec::new("zfs")
                    .arg("snapshot")
                    .args(recursive.then_some("-r"))
                    .args(names)
                    .label("final snapshot");
                if let Err(e) = self.exec.run(&cmd).and_then(zferry_exec::Output::check) {
                    self.refuse(record, report, &format!("final snapshot failed: {e}"));
                    return;
                }
            }
        }
        report.pairs = replicate(self.config, self.opts, self.hosts, self.name, self.svc);
        let failed = report.pairs.iter().any(|p| p.status.is_error());
        let message = format!(
            "the service stopped here: final snapshot @{snap} sent at epoch {epoch}{}",
            if failed {
                " (some sends failed; see the pairs)"
            } else {
                ""
            }
        );
        if !failed && !self.opts.dry_run {
            record.final_sync_epoch = Some(epoch);
        }
        report
            .alerts
            .push(self.alert(AlertKind::FinalSync, message));
        report.final_sync = Some(snap);
    }
}

/// Runs each job of `svc` turned to start at this node.
fn replicate(
    config: &Config,
    opts: &CycleOptions,
    hosts: &mut Hosts<'_>,
    name: &str,
    svc: &Service,
) -> Vec<PairReport> {
    let run_opts = RunOptions {
        dry_run: opts.dry_run,
        accept_shrink: false,
        full_list: false,
        lock_wait: opts.lock_wait,
        lock_dir: config.global.lock_dir.as_path().to_owned(),
        state_dir: config.global.state_dir.as_path().to_owned(),
        progress: None,
        events: None,
    };
    let mut pairs = Vec::new();
    for job_name in &svc.jobs {
        let job_name = job_name.get_ref().as_str();
        let Some(job) = config.jobs.get(job_name) else {
            continue;
        };
        let spec = service::orient(job_name, job, &opts.local)
            .map_err(|e| e.to_string())
            .and_then(|j| {
                resolve(job_name, &j, &opts.local, Destructive::AppendOnly)
                    .map_err(|e| e.to_string())
            });
        match spec {
            Ok(Some(spec)) => pairs.extend(run_job(hosts, &spec, &run_opts)),
            Ok(None) => {}
            Err(e) => pairs.push(PairReport {
                job: job_name.to_owned(),
                source: opts.local.clone(),
                target_id: "-".to_owned(),
                target: "-".to_owned(),
                status: PairStatus::NeedsAdmin,
                message: format!("service {name}: {e}"),
                common: None,
            }),
        }
    }
    pairs
}

/// Alerts for refused pairs and preserved targets; the last refusal is recorded.
fn pair_alerts(
    opts: &CycleOptions,
    exec: &dyn Executor,
    svc: &Service,
    report: &mut ServiceReport,
    record: &mut ServiceState,
    now: i64,
) {
    for p in &report.pairs {
        let kind = if p.message.contains("kept the diverged target as") {
            AlertKind::Preserved
        } else if matches!(p.status, PairStatus::NeedsAdmin | PairStatus::Failed) {
            AlertKind::Refusal
        } else {
            continue;
        };
        let message = format!("{} -> {}: {}", p.source, p.target, p.message);
        if kind == AlertKind::Refusal {
            record.last_refusal = Some((now, message.clone()));
        }
        let a = Alert::new(kind, &report.service, &opts.local, message);
        report.alerts.push(alert::raise(
            exec,
            svc.alert_command.as_ref(),
            opts.dry_run,
            a,
        ));
    }
}

fn snapshot_run(
    config: &Config,
    opts: &CycleOptions,
    exec: &dyn Executor,
    actings: &BTreeMap<String, Acting>,
    unread: Vec<String>,
) -> SnapSummary {
    let run_opts = zferry_snap::run::RunOptions {
        now: opts.now,
        dry_run: opts.dry_run,
        channel_programs: zferry_snap::execute::ChannelPrograms::Auto,
        switches: zferry_snap::model::Switches::default(),
        overrides: service::switch_overrides(config, &opts.local, actings),
        host: opts.local.clone(),
    };
    let r = zferry_snap::run::run(exec, config, &run_opts);
    let mut errors = unread;
    errors.extend(r.errors);
    SnapSummary {
        created: r
            .plan
            .create
            .iter()
            .map(|c| c.snapshot.to_string())
            .collect(),
        destroyed: r
            .plan
            .destroy
            .iter()
            .map(|d| d.snapshot.to_string())
            .collect(),
        notes: r.plan.notes.iter().map(|n| n.message.clone()).collect(),
        errors,
    }
}

/// `on pve1, quorate` / `nowhere (migrate), quorum lost`.
pub fn view_text(v: &zferry_ha::View) -> String {
    let place = v
        .node
        .as_deref()
        .map_or_else(|| "nowhere".to_owned(), |n| format!("on {n}"));
    let transition = v
        .transition
        .as_deref()
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    let quorum = match v.quorum {
        zferry_ha::Quorum::Quorate => ", quorate",
        zferry_ha::Quorum::Lost => ", quorum lost",
        zferry_ha::Quorum::NotApplicable => "",
    };
    format!("{place}{transition}{quorum}")
}

/// An acting in words, for alerts and status.
pub fn acting_text(a: &Acting) -> String {
    match a {
        Acting::Master => "master".to_owned(),
        Acting::Standby { master } => format!("standby of {master}"),
        Acting::Hold { reason } => format!("on hold: {reason}"),
        Acting::ThirdSite => "third site".to_owned(),
    }
}
