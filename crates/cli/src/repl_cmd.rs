//! `zferry repl run` and `zferry repl status`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use zferry_config::Config;
use zferry_repl::Destructive;
use zferry_repl_run::events::{Event, EventSink, Summary};
use zferry_repl_run::hosts::{Hosts, local_node};
use zferry_repl_run::job::resolve_jobs;
use zferry_repl_run::progress::Progress;
use zferry_repl_run::report::classify;
use zferry_repl_run::run::{ProgressSink, RunOptions, run_job};
use zferry_repl_run::state;

use crate::cli::{Cli, ReplRunArgs, ReplStatusArgs};
use crate::output;

pub fn run(cli: &Cli, args: &ReplRunArgs) -> Result<u8> {
    let config = Config::load(&cli.config)?;
    let local = args.node.clone().unwrap_or_else(|| local_node(&config));
    let grade = if args.force_full {
        Destructive::ForceFull
    } else if args.rollback_to_common {
        Destructive::RollbackToCommon
    } else {
        Destructive::AppendOnly
    };
    let jobs = resolve_jobs(&config, &local, &args.jobs, grade)?;
    if jobs.is_empty() {
        tracing::warn!(node = local, "no replication job is initiated by this node");
    }
    let lock_dir = config.global.lock_dir.as_path().to_owned();
    let opts = RunOptions {
        dry_run: args.dry_run,
        accept_shrink: args.accept_shrink,
        full_list: args.full_list,
        lock_wait: Duration::from_secs(args.lock_wait),
        lock_dir: lock_dir.clone(),
        state_dir: config.global.state_dir.as_path().to_owned(),
        progress: Some(progress_sink(!args.json && std::io::stderr().is_terminal())),
        events: args.json.then(event_sink),
    };
    let mut hosts = Hosts::new(&config, local.clone(), &lock_dir);
    let mut pairs = Vec::new();
    for job in &jobs {
        pairs.extend(run_job(&mut hosts, job, &opts));
    }
    let class = classify(&pairs);
    if args.json {
        let summary = Event::Summary(Summary {
            node: local.clone(),
            dry_run: args.dry_run,
            class,
            exit_code: class.exit_code(),
            pairs,
        });
        output::line(&serde_json::to_string(&summary)?)?;
    } else {
        let mut text = String::new();
        for p in &pairs {
            writeln!(text, "{p}")?;
        }
        output::text(&text)?;
    }
    Ok(class.exit_code())
}

/// `--json`: each event as one line on stdout, as it happens.
fn event_sink() -> EventSink {
    Arc::new(|event: &Event| match serde_json::to_string(event) {
        Ok(line) => {
            if let Err(e) = output::line(&line) {
                tracing::warn!(error = %e, "cannot write an event to stdout");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot serialize an event"),
    })
}

/// A progress bar per transfer on a terminal; otherwise a log line every 30 s.
fn progress_sink(tty: bool) -> ProgressSink {
    if tty {
        let bars: Mutex<BTreeMap<String, ProgressBar>> = Mutex::new(BTreeMap::new());
        Arc::new(move |label: &str, p: &Progress| {
            let mut bars = bars
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let bar = bars.entry(label.to_owned()).or_insert_with(|| {
                let bar = ProgressBar::new(0);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_message(label.to_owned());
                bar
            });
            if let Some(total) = p.estimate {
                bar.set_length(total.max(p.sent()));
            }
            bar.set_position(p.sent());
        })
    } else {
        let last: Mutex<BTreeMap<String, Instant>> = Mutex::new(BTreeMap::new());
        Arc::new(move |label: &str, p: &Progress| {
            let mut last = last
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let due = last
                .get(label)
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(30));
            if due && p.sent() > 0 {
                last.insert(label.to_owned(), Instant::now());
                tracing::info!(
                    pair = label,
                    sent = p.sent(),
                    estimate = p.estimate,
                    "sending"
                );
            }
        })
    }
}

#[derive(Serialize)]
struct StatusRow {
    job: String,
    pair: String,
    common: Option<String>,
    /// Seconds since the common snapshot was taken (the recovery point objective).
    rpo_seconds: Option<u64>,
    last_success: Option<u64>,
    last_error: Option<String>,
}

pub fn status(cli: &Cli, args: &ReplStatusArgs) -> Result<u8> {
    let config = Config::load(&cli.config)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut rows = Vec::new();
    for name in config.jobs.keys() {
        if !args.jobs.is_empty() && !args.jobs.iter().any(|j| j == name.as_str()) {
            continue;
        }
        let path = state::state_path(config.global.state_dir.as_path(), name.as_str());
        rows.extend(status_rows(name.as_str(), &path, now)?);
    }
    if args.json {
        output::json(&rows)?;
        return Ok(crate::exit::OK);
    }
    let mut text = String::new();
    if rows.is_empty() {
        writeln!(
            text,
            "no replication recorded on this node yet (run `zferry repl run`)"
        )?;
    }
    for r in &rows {
        let age = r
            .rpo_seconds
            .map_or_else(|| "-".to_owned(), crate::human::age);
        writeln!(
            text,
            "[{}] {}\n    common: {}  age (RPO): {age}  last success: {}",
            r.job,
            r.pair,
            r.common.as_deref().unwrap_or("-"),
            r.last_success.map_or_else(
                || "never".to_owned(),
                |t| format!("{} ago", crate::human::age(now.saturating_sub(t)))
            ),
        )?;
        if let Some(e) = &r.last_error {
            writeln!(text, "    LAST ERROR: {}", e.replace('\n', "\n      "))?;
        }
    }
    output::text(&text)?;
    Ok(crate::exit::OK)
}

fn status_rows(job: &str, path: &Path, now: u64) -> Result<Vec<StatusRow>> {
    let st = state::load(path)?;
    Ok(st
        .pairs
        .into_iter()
        .map(|(pair, s)| StatusRow {
            job: job.to_owned(),
            pair,
            rpo_seconds: s.common_creation.map(|c| now.saturating_sub(c)),
            common: s.common,
            last_success: s.last_success,
            last_error: s
                .last_error
                .map(|(t, e)| format!("{e} ({} ago)", crate::human::age(now.saturating_sub(t)))),
        })
        .collect())
}
