//! `zferry daemon`: polls every service's placement every few seconds, runs a cycle
//! (snapshots, then replication) every `--cycle-interval` and at once when a role changes,
//! reloads the configuration on SIGHUP, and talks to systemd (`Type=notify`: ready, status,
//! watchdog, stopping).

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use zferry_config::Config;
use zferry_exec::LocalExecutor;
use zferry_ha::{Observation, Reading, Tick};
use zferry_ha_run::cycle::{CycleOptions, CycleReport, acting_text, run_cycle};
use zferry_ha_run::daemon::{Histories, Schedule, keep_ms, role_kind_changed, roles};
use zferry_ha_run::observe::observe;
use zferry_ha_run::service;
use zferry_repl_run::hosts::local_node;

use crate::cli::{Cli, DaemonArgs};

pub fn run(cli: &Cli, args: &DaemonArgs) -> Result<u8> {
    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    signal_hook::flag::register(SIGHUP, Arc::clone(&reload))?;
    let mut config = Config::load(&cli.config)?;
    let start = Instant::now();
    let tick = || Tick(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX));
    let mut histories = Histories::default();
    let mut schedule = Schedule::new(args.cycle_interval.saturating_mul(1000));
    let mut last_roles = BTreeMap::new();
    notify("READY=1\nSTATUS=observing placement");
    tracing::info!(config = %cli.config.display(), "daemon started");
    while !stop.load(Ordering::Relaxed) {
        if reload.swap(false, Ordering::Relaxed) {
            notify("RELOADING=1");
            match Config::load(&cli.config) {
                Ok(c) => {
                    config = c;
                    schedule.wake();
                    tracing::info!("configuration reloaded");
                }
                Err(e) => tracing::error!("reload refused, keeping the running configuration: {e}"),
            }
            notify("READY=1");
        }
        let local = args.node.clone().unwrap_or_else(|| local_node(&config));
        poll(&config, &local, &mut histories, tick);
        let specs = service_rules(&config, &local);
        let now_roles = roles(&local, &specs, &histories, tick());
        if now_roles != last_roles {
            for (svc, role) in &now_roles {
                if last_roles.get(svc) != Some(role) {
                    tracing::info!(service = svc, role = %role, "placement decision changed");
                }
            }
            if role_kind_changed(&last_roles, &now_roles) {
                schedule.wake();
            }
            last_roles = now_roles;
        }
        if schedule.due(tick()) {
            schedule.ran(tick());
            let opts = CycleOptions {
                local: local.clone(),
                services: Vec::new(),
                dry_run: false,
                accept_new_pools: false,
                now: jiff::Timestamp::now(),
                lock_wait: Duration::from_mins(1),
            };
            match run_cycle(&config, &opts, &histories.evidence(tick())) {
                Ok(report) => log_cycle(&report),
                Err(e) => tracing::error!("cycle failed: {e}"),
            }
        }
        notify("WATCHDOG=1");
        sleep_unless(&stop, Duration::from_secs(args.poll_interval));
    }
    notify("STOPPING=1");
    tracing::info!("daemon stopped");
    Ok(crate::exit::OK)
}

/// One look at each service's placement this node runs.
fn poll(config: &Config, local: &str, histories: &mut Histories, tick: impl Fn() -> Tick) {
    let exec = LocalExecutor::with_host(local);
    let guest_command = zferry_snap::guest::guest_command(&config.global);
    let mut names = Vec::new();
    for (name, svc) in &config.services {
        if !svc
            .nodes
            .get_ref()
            .iter()
            .any(|n| n.get_ref().as_str() == local)
        {
            continue;
        }
        names.push(name.to_string());
        let at = tick();
        let reading = observe(&exec, svc.placement.get_ref(), local, &guest_command);
        if let Err(e) = &reading {
            tracing::warn!(service = %name, error = e, "placement source failed");
        }
        let obs = Observation {
            at,
            view: reading.as_ref().map(Reading::view).map_err(Clone::clone),
        };
        let keep = keep_ms(&service::rules(svc));
        histories.push(name.as_str(), obs, reading.ok(), keep);
    }
    histories.retain_services(&names);
}

fn service_rules(config: &Config, local: &str) -> Vec<(String, Vec<String>, zferry_ha::Rules)> {
    config
        .services
        .iter()
        .filter(|(_, s)| {
            s.nodes
                .get_ref()
                .iter()
                .any(|n| n.get_ref().as_str() == local)
        })
        .map(|(n, s)| (n.to_string(), service::node_names(s), service::rules(s)))
        .collect()
}

/// One journal line per service and pair, with the fields an admin filters on.
fn log_cycle(r: &CycleReport) {
    for s in &r.services {
        tracing::info!(
            service = s.service,
            role = acting_text(&s.acting),
            epoch = s.epoch,
            "cycle"
        );
        for p in &s.pairs {
            if p.status.is_error() {
                tracing::error!(
                    service = s.service,
                    job = p.job,
                    pool = p.source_pool(),
                    dataset = p.source_dataset(),
                    source = p.source,
                    target = p.target,
                    "{}",
                    p.message
                );
            } else {
                tracing::info!(
                    service = s.service,
                    job = p.job,
                    pool = p.source_pool(),
                    dataset = p.source_dataset(),
                    source = p.source,
                    target = p.target,
                    "{p}"
                );
            }
        }
        for problem in &s.problems {
            tracing::error!(service = s.service, "{problem}");
        }
    }
    for e in &r.snapshots.errors {
        tracing::error!("snapshots: {e}");
    }
    notify(&format!(
        "STATUS={}",
        r.services
            .iter()
            .map(|s| format!("{}: {}", s.service, acting_text(&s.acting)))
            .collect::<Vec<_>>()
            .join("; ")
    ));
}

/// Sleeps `total`, waking early when asked to stop.
fn sleep_unless(stop: &AtomicBool, total: Duration) {
    let slice = Duration::from_millis(200);
    let end = Instant::now() + total;
    while !stop.load(Ordering::Relaxed) && Instant::now() < end {
        std::thread::sleep(slice.min(end.saturating_duration_since(Instant::now())));
    }
}

/// sd_notify(3): one datagram to `$NOTIFY_SOCKET` (a path, or `@name` for the abstract
/// namespace); nothing when not started by systemd.
fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
    } else {
        sock.send_to(state.as_bytes(), &path)
    };
    if let Err(e) = sent {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}
