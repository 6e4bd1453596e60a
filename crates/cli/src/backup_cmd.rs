//! `zferry backup ingest|restore|report`: vzdump backups kept as per-guest ZFS datasets,
//! one snapshot per backup, writing only the 4 KiB blocks (VMs) or files (containers) that
//! changed (M18–M21). SIGINT/SIGTERM cancel a running ingest, which then rolls back.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use zferry_backup::prune::prune;
use zferry_backup::watch::{self, Decision};
use zferry_backup::{
    BackupTime, Error as BackupError, IngestOptions, IngestReport, Outcome, RestoreCompression,
    ingest, report, restore,
};
use zferry_config::Retention;
use zferry_exec::LocalExecutor;
use zferry_zfs::DatasetName;

use crate::cli::{BackupCommand, Cli, FilesArgs, IngestArgs, PruneArgs, ReportArgs, RestoreArgs};
use crate::op_progress::OpProgress;
use crate::{exit, human, output};

pub fn run(cli: &Cli, command: &BackupCommand) -> Result<u8> {
    match command {
        BackupCommand::Prune(args) => prune_backups(cli, args),
        BackupCommand::Files(args) => files(args),
        BackupCommand::Ingest(args) => ingest_files(args),
        BackupCommand::Restore(args) => restore_one(args),
        BackupCommand::Report(args) => report_rows(args),
    }
}

fn root(s: &str) -> Result<DatasetName> {
    s.parse()
        .with_context(|| format!("invalid dataset name {s:?} for --root"))
}

/// Exit code after SIGINT/SIGTERM stopped an ingest (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

/// A flag raised by SIGINT or SIGTERM; a second signal exits at once (the dataset is then
/// rolled back by the next ingest, which finds the uncommitted changes).
fn cancel_flag() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(
            sig,
            i32::from(INTERRUPTED),
            Arc::clone(&flag),
        )
        .context("installing the signal handler")?;
        signal_hook::flag::register(sig, Arc::clone(&flag))
            .context("installing the signal handler")?;
    }
    Ok(flag)
}

/// Result of one ingest as the loop sees it.
enum Step {
    Done(Box<IngestReport>),
    Failed,
    Interrupted,
}

fn ingest_one(
    exec: &LocalExecutor,
    root: &DatasetName,
    file: &Path,
    opts: &IngestOptions<'_>,
    json_lines: bool,
) -> Result<Step> {
    let shown = file.display();
    let label = file
        .file_name()
        .map_or_else(|| shown.to_string(), |n| n.to_string_lossy().into_owned());
    let progress = OpProgress::start(label, json_lines);
    let observer = progress.observer();
    let opts = IngestOptions {
        progress: Some(&observer),
        ..*opts
    };
    let result = ingest(exec, root, file, &opts);
    progress.finish(result.is_ok());
    match result {
        Ok(r) => {
            if json_lines {
                output::line(&serde_json::to_string(&r)?)?;
            } else if !matches!(r.outcome, Outcome::Ingested) || r.tree.is_none() {
                let what = match r.outcome {
                    Outcome::AlreadyIngested => "already ingested".to_owned(),
                    Outcome::Ingested => format!(
                        "ingested: {} changed of {} ({} VMA) in {:.1}s",
                        human::bytes(r.changed_bytes),
                        human::bytes(r.virtual_size),
                        human::bytes(r.vma_size),
                        r.duration.as_secs_f64()
                    ),
                };
                output::line(&format!("{shown}: {what}"))?;
            } else if let Some(t) = &r.tree {
                output::line(&format!(
                    "{shown}: ingested: {} files, {} written ({} new/replaced, {} changed, {} removed, {} metadata) of {} ({} archive) in {:.1}s",
                    t.files,
                    human::bytes(t.bytes_written),
                    t.created,
                    t.files_changed,
                    t.removed,
                    t.metadata_changed,
                    human::bytes(t.file_bytes),
                    human::bytes(r.vma_size),
                    r.duration.as_secs_f64()
                ))?;
                if t.acls_kept_as_text > 0 {
                    output::line(&format!(
                        "{shown}: {} ACLs name users or groups this host does not know: kept as the archive's text (trusted.zferry.acl_*_text xattrs) and written back on restore; once the names exist on this host, later ingests set them as ACLs",
                        t.acls_kept_as_text
                    ))?;
                }
            }
            Ok(Step::Done(Box::new(r)))
        }
        Err(e) if is_cancel(&e) => {
            eprintln!(
                "zferry: {shown}: interrupted by a signal: {e}. Run the same command again to ingest it."
            );
            Ok(Step::Interrupted)
        }
        Err(e) => {
            eprintln!("zferry: {shown}: {e}");
            Ok(Step::Failed)
        }
    }
}

fn is_cancel(e: &BackupError) -> bool {
    match e {
        BackupError::Cancelled => true,
        BackupError::IngestFailed { source, .. } => is_cancel(source),
        _ => false,
    }
}

fn ingest_files(args: &IngestArgs) -> Result<u8> {
    let exec = LocalExecutor::new();
    let root = root(&args.root)?;
    let cancel = cancel_flag()?;
    let opts = IngestOptions {
        delete_input: args.delete_input,
        cancel: Some(&cancel),
        ..IngestOptions::default()
    };
    if let Some(dir) = &args.watch {
        return watch(&exec, &root, Path::new(dir), args, &opts, &cancel);
    }
    let mut failed = 0;
    let mut reports = Vec::new();
    for file in &args.files {
        match ingest_one(&exec, &root, Path::new(file), &opts, false)? {
            Step::Done(r) => reports.push(*r),
            Step::Failed => failed += 1,
            Step::Interrupted => return Ok(INTERRUPTED),
        }
    }
    if args.json {
        output::json(&reports)?;
    }
    Ok(if failed == 0 { exit::OK } else { exit::PROBLEM })
}

/// `--watch`: poll `dir` and ingest complete archives (rule: `zferry_backup::watch`) until a
/// signal. With `--json` each ingest report is one JSON line.
fn watch(
    exec: &LocalExecutor,
    root: &DatasetName,
    dir: &Path,
    args: &IngestArgs,
    opts: &IngestOptions<'_>,
    cancel: &AtomicBool,
) -> Result<u8> {
    let settle = Duration::from_secs(args.settle);
    let mut sizes: HashMap<PathBuf, u64> = HashMap::new();
    // Files handled (ingested, or failed at this size/mtime): not retried until they change.
    let mut handled: HashMap<PathBuf, (u64, SystemTime)> = HashMap::new();
    tracing::info!(dir = %dir.display(), interval = args.interval, settle = args.settle, "watching for vzdump archives");
    loop {
        let found = watch::scan(dir, SystemTime::now())
            .with_context(|| format!("reading the watched directory {}", dir.display()))?;
        let mut next_sizes = HashMap::new();
        for c in &found {
            next_sizes.insert(c.path.clone(), c.size);
            if handled.get(&c.path) == Some(&(c.size, c.mtime)) {
                continue;
            }
            match watch::decide(c, sizes.get(&c.path).copied(), settle) {
                Decision::Ingest => match ingest_one(exec, root, &c.path, opts, args.json)? {
                    Step::Interrupted => return Ok(INTERRUPTED),
                    Step::Done(_) | Step::Failed => {
                        handled.insert(c.path.clone(), (c.size, c.mtime));
                    }
                },
                Decision::Wait(why) => {
                    tracing::debug!(file = %c.path.display(), %why, "not ready");
                }
                Decision::Skip(why) => {
                    tracing::warn!(file = %c.path.display(), %why, "skipped");
                    handled.insert(c.path.clone(), (c.size, c.mtime));
                }
            }
        }
        sizes = next_sizes;
        handled.retain(|p, _| sizes.contains_key(p));
        let until = Instant::now() + Duration::from_secs(args.interval);
        while Instant::now() < until {
            if cancel.load(Ordering::Relaxed) {
                tracing::info!("signal received: stopping the watch");
                return Ok(exit::OK);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn backup_time(s: &str) -> Result<BackupTime> {
    s.parse()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("backup time {s:?} (expected YYYY_MM_DD-HH_MM_SS)"))
}

fn files(args: &FilesArgs) -> Result<u8> {
    let exec = LocalExecutor::new();
    let root = root(&args.root)?;
    let time = backup_time(&args.time)?;
    if args.cleanup {
        let r = zferry_backup::files::cleanup(&exec, &root, args.vmid, time)?;
        if args.json {
            output::json(&r)?;
        } else {
            output::line(&format!(
                "detached {} loop device(s){}; destroyed {}",
                r.detached.len(),
                if r.detached.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.detached.join(", "))
                },
                r.clone
            ))?;
        }
        return Ok(exit::OK);
    }
    let r = zferry_backup::files::expose(&exec, &root, args.vmid, time)?;
    if args.json {
        return output::json(&r).map(|()| exit::OK);
    }
    let mut text = format!(
        "read-only clone {} at {}\n",
        r.clone,
        r.mountpoint.display()
    );
    for m in &r.images {
        writeln!(text, "{} -> {}", m.image.display(), m.loop_device)?;
        if m.partitions.is_empty() {
            writeln!(text, "  no partition table: mount {} itself", m.loop_device)?;
        }
        for p in &m.partitions {
            writeln!(text, "  {} {}", p.device, human::bytes(p.size))?;
        }
    }
    if r.images.is_empty() {
        writeln!(
            text,
            "container backup: files are in {}/tree",
            r.mountpoint.display()
        )?;
    }
    writeln!(
        text,
        "mount read-only, e.g.: mount -o ro,noload <partition> /mnt  (ext4; plain -o ro for others)\nwhen done: umount, then zferry backup files --cleanup --root {} {} {}",
        args.root, args.vmid, args.time
    )?;
    output::text(&text).map(|()| exit::OK)
}

fn restore_one(args: &RestoreArgs) -> Result<u8> {
    let time = backup_time(&args.time)?;
    let compression = if Path::new(&args.output)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zst"))
    {
        RestoreCompression::Zstd(1)
    } else {
        RestoreCompression::None
    };
    let progress = OpProgress::start(format!("restore {}", args.output), false);
    let r = restore(
        &LocalExecutor::new(),
        &root(&args.root)?,
        args.vmid,
        time,
        Path::new(&args.output),
        compression,
        Some(progress.observer()),
    );
    progress.finish(r.is_ok());
    let r = r?;
    output::line(&format!(
        "{}: wrote {} ({}) from {}",
        args.output,
        human::bytes(r.bytes),
        if r.devices.is_empty() {
            "container file tree".to_owned()
        } else {
            r.devices
                .iter()
                .map(|(d, _)| d.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        r.snapshot
    ))?;
    Ok(exit::OK)
}

fn report_rows(args: &ReportArgs) -> Result<u8> {
    let rows = report(&LocalExecutor::new(), &root(&args.root)?, args.vmid)?;
    if args.json {
        return output::json(&rows).map(|()| exit::OK);
    }
    let mut table = vec![
        ["VMID", "BACKUP", "DISK", "VMA", "WRITTEN", "SAVING"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for r in &rows {
        table.push(vec![
            r.vmid.to_string(),
            r.time.to_string(),
            r.virtual_size.map_or_else(|| "-".to_owned(), human::bytes),
            r.vma_size.map_or_else(|| "-".to_owned(), human::bytes),
            human::bytes(r.written),
            r.saving_percent
                .map_or_else(|| "-".to_owned(), |p| format!("{p:.1}%")),
        ]);
    }
    output::text(&human::table(&table)).map(|()| exit::OK)
}

/// The counts: the template's (unset = 0), then each `--keep-*` given.
fn retention(cli: &Cli, args: &PruneArgs) -> Result<Retention> {
    let mut r = Retention {
        frequently: 0,
        hourly: 0,
        daily: 0,
        weekly: 0,
        monthly: 0,
        yearly: 0,
    };
    if let Some(name) = &args.template {
        let config = zferry_config::Config::load(&cli.config)
            .with_context(|| format!("loading {} for --template", cli.config.display()))?;
        let t = config
            .templates
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, t)| t)
            .with_context(|| format!("no [templates.{name}] in {}", cli.config.display()))?;
        r = Retention {
            frequently: t.frequently.unwrap_or(0),
            hourly: t.hourly.unwrap_or(0),
            daily: t.daily.unwrap_or(0),
            weekly: t.weekly.unwrap_or(0),
            monthly: t.monthly.unwrap_or(0),
            yearly: t.yearly.unwrap_or(0),
        };
    }
    let set = |slot: &mut u32, v: Option<u32>| {
        if let Some(v) = v {
            *slot = v;
        }
    };
    set(&mut r.frequently, args.keep_last);
    set(&mut r.hourly, args.keep_hourly);
    set(&mut r.daily, args.keep_daily);
    set(&mut r.weekly, args.keep_weekly);
    set(&mut r.monthly, args.keep_monthly);
    set(&mut r.yearly, args.keep_yearly);
    Ok(r)
}

fn prune_backups(cli: &Cli, args: &PruneArgs) -> Result<u8> {
    let r = retention(cli, args)?;
    let results = prune(
        &LocalExecutor::new(),
        &root(&args.root)?,
        args.vmid,
        &r,
        args.dry_run,
    )?;
    let failed = results.iter().filter(|x| x.error.is_some()).count();
    if args.json {
        output::json(&results)?;
    } else {
        for x in &results {
            let what = match (x.item.keep, args.dry_run, &x.error) {
                (true, _, _) => "keep",
                (false, true, _) => "would destroy",
                (false, false, None) => "destroyed",
                (false, false, Some(_)) => "DESTROY FAILED",
            };
            let mut line = format!("{what} {}: {}", x.snapshot, x.item.reasons.join("; "));
            if let Some(e) = &x.error {
                write!(line, " ({e})")?;
            }
            output::line(&line)?;
        }
    }
    Ok(if failed == 0 { exit::OK } else { exit::PROBLEM })
}
