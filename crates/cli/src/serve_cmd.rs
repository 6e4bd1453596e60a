//! `zferry serve --stdio`: the remote end of replication, run by sshd as the forced command of
//! zferry's key (`command="zferry serve --stdio",restrict` in `authorized_keys`).
//!
//! The client's command line arrives in `SSH_ORIGINAL_COMMAND`; `zferry_serve` decides (pure),
//! this file does the I/O: read the environment and config, run the dry run that names a
//! resume token's snapshot, read a receive target's fencing epoch (`zferry_serve::fence`), and
//! `exec` the authorized `zfs` so its stdin/stdout are the ssh channel itself (no copy of the
//! stream). A refusal is one line on stderr, exit 126, and a
//! log event (also sent to syslog when `/dev/log` exists, for the node's admin).

use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use zferry_config::Config;
use zferry_serve::{Policy, Refusal, Request, Verdict};

use crate::cli::{Cli, ServeArgs};
use crate::wire_cmd::zfs_path;

/// Exit status of a refused command (the shell's "found but not executable").
pub const REFUSED: u8 = 126;

/// Longest part of the client's command line quoted in a refusal.
const MAX_SHOWN: usize = 300;

pub fn run(cli: &Cli, _args: &ServeArgs) -> Result<u8> {
    let original = std::env::var_os("SSH_ORIGINAL_COMMAND");
    let line = match original.as_deref().map(|s| s.to_str()) {
        None => None,
        Some(Some(line)) => Some(line),
        Some(None) => {
            let shown = original.unwrap_or_default().to_string_lossy().into_owned();
            return Ok(refuse(&shown, &Refusal::NotUtf8));
        }
    };
    let shown = line.unwrap_or("");
    match serve(cli, line) {
        Ok(Served::Version) => {
            println!("zferry {}", env!("CARGO_PKG_VERSION"));
            Ok(crate::exit::OK)
        }
        Ok(Served::Exec(request)) => exec(&request),
        Err(refusal) => Ok(refuse(shown, &refusal)),
    }
}

enum Served {
    Version,
    Exec(Request),
}

fn serve(cli: &Cli, line: Option<&str>) -> Result<Served, Refusal> {
    let argv = zferry_serve::unquote(line.ok_or(Refusal::NoCommand)?)?;
    let request = Request::parse(&argv)?;
    if request == Request::Version {
        return Ok(Served::Version);
    }
    let config = load_config(&cli.config)?;
    let node = config.this_node(zferry_exec::system_hostname);
    let policy = Policy::from_config(&config, &node);
    tracing::debug!(%policy, "serving");
    let request = match zferry_serve::authorize(request, &policy)? {
        Verdict::Allow(request) => request,
        Verdict::ResolveToken(request, token) => {
            let snapshot = resolve_token(&zferry_serve::dry_run_args(&token))?;
            zferry_serve::authorize_resume(request, &snapshot, &policy)?
        }
    };
    // As root, a stream's properties could mount over system paths; see `hardened`.
    let request = if rustix::process::geteuid().is_root() {
        request.hardened()
    } else {
        request
    };
    // A master's datasets are neither renamed aside nor received into.
    if let Request::Preserve(step) = &request {
        zferry_serve::check_not_master(step.base(), &mastered(&config, &node))?;
    }
    if let Request::Receive { dataset, epoch, .. } = request.zfs_request() {
        zferry_serve::check_not_master(dataset, &mastered(&config, &node))?;
        zferry_serve::check_stream(dataset, *epoch, read_epoch(dataset)?)?;
    }
    Ok(Served::Exec(request))
}

/// The receive target's fencing epoch (one `zfs get`; a target not yet received is at 0).
fn read_epoch(dataset: &zferry_zfs::DatasetName) -> Result<zferry_repl::Epoch, Refusal> {
    let unreadable = |reason: String| Refusal::EpochUnreadable {
        dataset: dataset.to_string(),
        reason,
    };
    let zfs = zfs_path().map_err(|e| unreadable(e.to_string()))?;
    let out = Command::new(&zfs)
        .args(zferry_serve::epoch_get_args(dataset))
        .output()
        .map_err(|e| unreadable(format!("cannot run {}: {e}", zfs.display())))?;
    zferry_serve::target_epoch(
        dataset,
        out.status.success(),
        &String::from_utf8_lossy(&out.stdout),
        &String::from_utf8_lossy(&out.stderr),
    )
}

/// This node's config; an unusable config serves nothing.
fn load_config(path: &Path) -> Result<Config, Refusal> {
    Config::load(path).map_err(|e| {
        let first = e.to_string().lines().next().unwrap_or_default().to_owned();
        Refusal::Config(format!("{}: {first}", path.display()))
    })
}

/// This node's datasets of the services its last HA cycle recorded it master of.
fn mastered(config: &Config, node: &str) -> Vec<(String, zferry_zfs::DatasetName)> {
    let (actings, _) = zferry_ha_run::state::recorded_actings(config);
    config
        .services
        .iter()
        .filter(|(name, _)| {
            actings.get(name.as_str()) == Some(&zferry_ha_run::service::Acting::Master)
        })
        .flat_map(|(name, svc)| {
            zferry_ha_run::service::datasets(config, svc)
                .into_iter()
                .filter(|d| d.node == node)
                .map(move |d| (name.to_string(), d.dataset))
        })
        .collect()
}

/// Runs the token's dry run and returns the snapshot it would send.
fn resolve_token(args: &[String]) -> Result<zferry_zfs::SnapshotName, Refusal> {
    let zfs = zfs_path().map_err(|e| Refusal::Token(e.to_string()))?;
    let out = Command::new(&zfs)
        .args(args)
        .output()
        .map_err(|e| Refusal::Token(format!("cannot run {}: {e}", zfs.display())))?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    zferry_serve::snapshot_of_dry_run(&text).ok_or_else(|| {
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        Refusal::Token(format!(
            "its dry run named no snapshot (exit {:?}): {}",
            out.status.code(),
            first.trim()
        ))
    })
}

/// Replaces this process with `zfs`; returns only if that fails. A `zferry wire` request
/// runs its `zfs` as a child instead, with zstd on the stream in this process.
fn exec(request: &Request) -> Result<u8> {
    tracing::info!(command = %request, "serve: running");
    syslog(6, &format!("running: {request}"));
    if matches!(request, Request::Wire { .. }) {
        return crate::wire_cmd::pump(request);
    }
    let zfs = zfs_path()?;
    let err = Command::new(&zfs).args(request.zfs_args()).exec();
    Err(err).with_context(|| format!("cannot exec {}", zfs.display()))
}

fn refuse(line: &str, refusal: &Refusal) -> u8 {
    let mut shown: String = line.chars().take(MAX_SHOWN).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    eprintln!("zferry serve: refused: {shown:?}: {refusal}");
    tracing::info!(command = %shown, reason = %refusal, "serve: refused");
    syslog(4, &format!("refused: {shown:?}: {refusal}"));
    REFUSED
}

/// Best effort: one `auth`-facility line to the local syslog/journal (`/dev/log`).
fn syslog(severity: u8, message: &str) {
    const FACILITY_AUTH: u8 = 4;
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let line = format!(
        "<{}>zferry-serve[{}]: {message}",
        FACILITY_AUTH * 8 + severity,
        std::process::id()
    );
    let _ = sock.send_to(line.as_bytes(), "/dev/log");
}
