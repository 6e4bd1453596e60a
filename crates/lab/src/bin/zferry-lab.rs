//! `zferry-lab`: boot, use and stop the lab guest (real OpenZFS under qemu).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use zferry_lab::client::Passthrough;
use zferry_lab::vm::{self, BootOptions, LabPaths};

#[derive(Debug, Parser)]
#[command(
    name = "zferry-lab",
    version,
    about = "Real OpenZFS in a qemu guest, for zferry's tests and demos"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Boot the guest (if not running) and wait until ZFS is loaded.
    Up {
        /// Guest memory; pools on guest tmpfs use it.
        #[arg(long, default_value_t = 4096)]
        memory_mib: u32,
        #[arg(long, default_value_t = 2)]
        cpus: u32,
    },
    /// Stop the guest.
    Down,
    /// Show whether the guest is up, and its kernel and ZFS state.
    Status,
    /// Run a command in the guest (cwd and environment carried over); exits with its status.
    /// Also usable as a cargo target runner.
    Exec {
        /// Boot the guest first if it is not up.
        #[arg(long)]
        boot: bool,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        argv: Vec<String>,
    },
    /// Print the last lines of the guest console.
    Console {
        #[arg(long, default_value_t = 40)]
        lines: usize,
    },
    /// (Inside the guest) serve commands from the host.
    Agent {
        #[arg(long)]
        listen: String,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zferry-lab: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let paths = LabPaths::from_env();
    match cli.command {
        Cmd::Up { memory_mib, cpus } => {
            let state = vm::up(
                &paths,
                &BootOptions {
                    memory_mib,
                    cpus,
                    ..BootOptions::default()
                },
            )?;
            println!(
                "lab up: pid {} port {} kernel {} accel {}",
                state.pid, state.port, state.kernel, state.accel
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Down => {
            let was_up = vm::down(&paths)?;
            println!(
                "{}",
                if was_up {
                    "lab stopped"
                } else {
                    "lab was not running"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Status => {
            let Some(state) = vm::current(&paths) else {
                println!("lab: down");
                return Ok(ExitCode::from(1));
            };
            let ping = state.client().ping(Duration::from_secs(5))?;
            println!(
                "lab: up (pid {}, port {}, {} , {} MiB) guest kernel {} zfs {}",
                state.pid,
                state.port,
                state.accel,
                state.memory_mib,
                ping.kernel,
                if ping.zfs_loaded {
                    "loaded"
                } else {
                    "NOT loaded"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Exec { boot, argv } => {
            let state = match vm::current(&paths) {
                Some(s) => s,
                None if boot => vm::up(&paths, &BootOptions::default())?,
                None => anyhow::bail!(
                    "the lab is not up (state in {}); start it with `zferry-lab up`",
                    paths.state_dir.display()
                ),
            };
            let cwd = std::env::current_dir().context("reading the current directory")?;
            let report =
                state
                    .client()
                    .exec(&argv, cwd.to_str(), forwarded_env(), &mut Passthrough)?;
            let status = report.shell_status();
            Ok(ExitCode::from(u8::try_from(status).unwrap_or(255)))
        }
        Cmd::Console { lines } => {
            println!("{}", vm::console_tail(&paths, lines));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Agent { listen } => {
            zferry_lab::agent::serve(&listen)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The caller's environment, less what describes the caller's own session.
fn forwarded_env() -> BTreeMap<String, String> {
    const SKIP: &[&str] = &[
        "SSH_AUTH_SOCK",
        "SSH_CONNECTION",
        "SSH_CLIENT",
        "SSH_TTY",
        "XDG_RUNTIME_DIR",
        "DISPLAY",
    ];
    std::env::vars()
        .filter(|(k, _)| !SKIP.contains(&k.as_str()))
        .collect()
}
