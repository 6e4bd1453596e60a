//! One look at a service's placement: run the source's commands on this node, parse their
//! output with `zferry_ha::placement`, and return the [`Reading`] (or why there is none).
//!
//! Each source asks the local cluster stack, never another node: a node cut off from the
//! cluster must see its own (non-quorate) view, not a peer's.

use std::time::Duration;

use zferry_config::Placement;
use zferry_exec::{CommandSpec, Executor};
use zferry_ha::Reading;
use zferry_ha::placement::{command, drbd, pacemaker, proxmox, quorum};

/// A placement command that has not answered in this long counts as failed.
pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(20);

/// Reads `placement` once, as node `local`. A Proxmox placement asks `guest_command` (the
/// config's `global.guest-command`, the same command the snapshot run asks) for the guests.
pub fn observe(
    exec: &dyn Executor,
    placement: &Placement,
    local: &str,
    guest_command: &[String],
) -> Result<Reading, String> {
    match placement {
        Placement::Proxmox { vmid } => {
            let json = stdout(exec, argv(guest_command).label("guest command"))?;
            let guest = proxmox::parse_resources(&json, vmid.get()).map_err(|e| e.to_string())?;
            let text = stdout(exec, CommandSpec::new("pvecm").arg("status").label("pvecm"))?;
            let quorum = quorum::parse_pvecm_status(&text).map_err(|e| e.to_string())?;
            Ok(Reading::Proxmox { guest, quorum })
        }
        Placement::Pacemaker { resource } => {
            // A missing resource exits non-zero with an XML answer the parser explains.
            let xml = stdout_any_exit(
                exec,
                CommandSpec::new("crm_resource")
                    .args(["--locate", "-r", resource, "--output-as=xml"])
                    .label("crm_resource --locate"),
            )?;
            let location = pacemaker::parse_locate(&xml, resource).map_err(|e| e.to_string())?;
            // A promotable clone is placed where it is promoted; a primitive where it runs.
            let kind = if location.nodes.iter().any(|n| n.promoted) {
                pacemaker::ResourceKind::Promotable
            } else {
                pacemaker::ResourceKind::Primitive
            };
            let xml = stdout(
                exec,
                CommandSpec::new("crm_mon")
                    .args(["--one-shot", "--output-as=xml"])
                    .label("crm_mon"),
            )?;
            let quorum = quorum::parse_crm_mon_quorum(&xml).map_err(|e| e.to_string())?;
            Ok(Reading::Pacemaker {
                location,
                kind,
                quorum,
            })
        }
        Placement::Drbd { resource } => {
            let json = stdout(
                exec,
                CommandSpec::new("drbdsetup")
                    .args(["status", "--json", resource])
                    .label("drbdsetup status"),
            )?;
            let res = drbd::parse_drbd_status(&json, resource).map_err(|e| e.to_string())?;
            res.check_local(local).map_err(|e| e.to_string())?;
            Ok(Reading::Drbd {
                resource: res,
                local: local.to_owned(),
            })
        }
        Placement::Static { node } => Ok(Reading::Command(command::CommandAnswer {
            node: Some(node.to_string()),
            quorate: None,
            transition: None,
        })),
        Placement::Command { argv: cmd } => {
            let text = stdout(exec, argv(cmd.as_slice()).label("placement command"))?;
            command::parse_command_output(&text)
                .map(Reading::Command)
                .map_err(|e| e.to_string())
        }
    }
}

fn argv(words: &[String]) -> CommandSpec {
    let (program, args) = words.split_first().expect("config argv is never empty");
    CommandSpec::new(program.clone()).args(args.iter().cloned())
}

/// Runs `cmd` with the source timeout; its stdout, or an error naming the command, its exit
/// and what it printed on stderr.
fn stdout(exec: &dyn Executor, cmd: CommandSpec) -> Result<String, String> {
    let cmd = cmd.timeout(SOURCE_TIMEOUT);
    let out = exec.run(&cmd).map_err(|e| e.to_string())?;
    match out.failure() {
        None => Ok(out.stdout_lossy()),
        Some(e) => Err(e.to_string()),
    }
}

/// Like [`stdout`], but a non-zero exit with output is the output.
fn stdout_any_exit(exec: &dyn Executor, cmd: CommandSpec) -> Result<String, String> {
    let cmd = cmd.timeout(SOURCE_TIMEOUT);
    let out = exec.run(&cmd).map_err(|e| e.to_string())?;
    match out.failure() {
        Some(e) if out.stdout.is_empty() => Err(e.to_string()),
        _ => Ok(out.stdout_lossy()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;
    use std::time::Duration;

    use zferry_config::Vmid;
    use zferry_exec::{ExecError, ExitStatusLike, Output};

    use super::*;

    /// Answers by program name with a captured-format fixture; records every argv.
    #[derive(Debug, Default)]
    struct ByProgram {
        seen: Mutex<Vec<Vec<String>>>,
    }

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../ha/tests/fixtures/placement/proxmox/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    }

    impl Executor for ByProgram {
        fn host(&self) -> &'static str {
            "pve1"
        }
        fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
            let argv = cmd.argv();
            self.seen.lock().unwrap().push(argv.clone());
            let stdout = if argv[0] == "pvecm" {
                fixture("pvecm-status-quorate.txt")
            } else {
                fixture("resources-vm.txt")
            };
            Ok(Output {
                status: ExitStatusLike::from_code(0),
                stdout: stdout.into_bytes(),
                stderr: String::new(),
                duration: Duration::ZERO,
                host: "pve1".into(),
                argv,
            })
        }
    }

    #[test]
    fn a_proxmox_placement_lists_guests_with_the_configured_guest_command() {
        let exec = ByProgram::default();
        let placement = Placement::Proxmox {
            vmid: Vmid::new(103).unwrap(),
        };
        let guest_command: Vec<String> = ["/usr/local/bin/pvesh-via-api", "--vm"]
            .map(str::to_owned)
            .to_vec();
        let reading = observe(&exec, &placement, "pve1", &guest_command).unwrap();
        assert!(matches!(reading, Reading::Proxmox { .. }), "{reading:?}");
        let seen = exec.seen.lock().unwrap().clone();
        assert_eq!(
            seen[0], guest_command,
            "the guests come from the configured command"
        );
        assert_eq!(seen[1], ["pvecm", "status"]);
    }
}
