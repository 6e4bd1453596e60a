//! `zferry config check`: load, validate, report every problem with line and column.

use anyhow::Result;
use serde::Serialize;
use zferry_config::{Config, ConfigError};

use crate::cli::{CheckArgs, Cli};
use crate::{exit, output};

#[derive(Debug, Serialize)]
struct Problem {
    line: usize,
    column: usize,
    message: String,
    hint: Option<String>,
}

#[derive(Debug, Serialize)]
struct InvalidReport {
    path: String,
    valid: bool,
    problems: Vec<Problem>,
    error: Option<String>,
}

pub fn check(cli: &Cli, args: &CheckArgs) -> Result<u8> {
    match Config::load(&cli.config) {
        Ok(config) => {
            let report = zferry_config::check_report(&config);
            if args.json {
                output::json(&report)?;
            } else {
                output::line(&format!(
                    "{}: OK ({} nodes, {} templates, {} datasets, {} jobs, {} services)",
                    report.path,
                    report.nodes,
                    report.templates,
                    report.datasets,
                    report.jobs,
                    report.services
                ))?;
            }
            Ok(exit::OK)
        }
        Err(err) => {
            let unreadable = matches!(err, ConfigError::Read { .. });
            if args.json {
                let report = InvalidReport {
                    path: cli.config.display().to_string(),
                    valid: false,
                    problems: err
                        .diagnostics()
                        .iter()
                        .map(|d| Problem {
                            line: d.line,
                            column: d.column,
                            message: d.message.clone(),
                            hint: d.hint.clone(),
                        })
                        .collect(),
                    error: unreadable.then(|| err.to_string()),
                };
                output::json(&report)?;
            } else {
                eprintln!("{err}");
            }
            Ok(if unreadable {
                exit::ERROR
            } else {
                exit::PROBLEM
            })
        }
    }
}
