//! `zferry`: the command-line entry point. Each command family lives in its own module;
//! this file only parses arguments, sets up logging and maps results to exit codes.

mod backup_cmd;
mod blocksync_cmd;
mod cli;
mod config_cmd;
mod daemon_cmd;
mod ha_cmd;
mod human;
mod logging;
mod monitor_cmd;
mod op_progress;
mod output;
mod repl_cmd;
mod serve_cmd;
mod snap_cmd;
mod snap_progress;
mod snap_run;
mod status;
mod vma_cmd;
mod vma_create;
mod wire_cmd;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, ConfigCommand, HaCommand, ReplCommand, SnapCommand};

/// Exit codes shared by every command.
pub mod exit {
    /// Everything asked for was done (or, for checks, everything is fine).
    pub const OK: u8 = 0;
    /// The command ran and found a problem the admin must look at (invalid config, …).
    pub const PROBLEM: u8 = 1;
    /// The command could not run (bad usage, unreadable file, a failing `zfs`/`zpool`).
    pub const ERROR: u8 = 2;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(&cli.log);
    let result = match &cli.command {
        Command::Status(args) => status::run(&cli, args),
        Command::Config {
            command: ConfigCommand::Check(args),
        } => config_cmd::check(&cli, args),
        Command::Vma { command } => vma_cmd::run(command),
        Command::Blocksync(args) => blocksync_cmd::run(args),
        Command::Backup { command } => backup_cmd::run(&cli, command),
        Command::Monitor { command } => monitor_cmd::run(&cli, command),
        Command::Snap { command } => match command {
            SnapCommand::Run(args) => snap_run::snap_run(&cli, args),
            SnapCommand::ImportSanoid(args) => snap_run::import_sanoid(args),
            SnapCommand::List(args) => snap_cmd::list(args),
            SnapCommand::Rollback(args) => snap_cmd::rollback(args),
            SnapCommand::Clone(args) => snap_cmd::clone(args),
        },
        Command::Daemon(args) => daemon_cmd::run(&cli, args),
        Command::Ha { command } => match command {
            HaCommand::RunOnce(args) => ha_cmd::run_once(&cli, args),
            HaCommand::Status(args) => ha_cmd::status(&cli, args),
        },
        Command::Serve(args) => serve_cmd::run(&cli, args),
        Command::Wire(args) => wire_cmd::run(args),
        Command::Repl { command } => match command {
            ReplCommand::Run(args) => repl_cmd::run(&cli, args),
            ReplCommand::Status(args) => repl_cmd::status(&cli, args),
        },
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("zferry: error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}
