//! `zferry backup ingest|restore|report`: vzdump VMA backups kept as per-VM ZFS datasets,
//! one snapshot per backup, writing only the 4 KiB blocks that changed (M18–M21).

use std::path::Path;

use anyhow::{Context, Result};
use zferry_backup::{
    BackupTime, IngestOptions, Outcome, RestoreCompression, ingest, report, restore,
};
use zferry_exec::LocalExecutor;
use zferry_zfs::DatasetName;

use crate::cli::{BackupCommand, IngestArgs, ReportArgs, RestoreArgs};
use crate::{exit, human, output};

pub fn run(command: &BackupCommand) -> Result<u8> {
    match command {
        BackupCommand::Ingest(args) => ingest_files(args),
        BackupCommand::Restore(args) => restore_one(args),
        BackupCommand::Report(args) => report_rows(args),
    }
}

fn root(s: &str) -> Result<DatasetName> {
    s.parse()
        .with_context(|| format!("invalid dataset name {s:?} for --root"))
}

fn ingest_files(args: &IngestArgs) -> Result<u8> {
    let exec = LocalExecutor::new();
    let root = root(&args.root)?;
    let opts = IngestOptions {
        delete_input: args.delete_input,
        ..IngestOptions::default()
    };
    let mut failed = 0;
    let mut reports = Vec::new();
    for file in &args.files {
        match ingest(&exec, &root, Path::new(file), &opts) {
            Ok(r) => {
                if !args.json {
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
                    output::line(&format!("{file}: {what}"))?;
                }
                reports.push(r);
            }
            Err(e) => {
                failed += 1;
                eprintln!("zferry: {file}: {e}");
            }
        }
    }
    if args.json {
        output::json(&reports)?;
    }
    Ok(if failed == 0 { exit::OK } else { exit::PROBLEM })
}

fn restore_one(args: &RestoreArgs) -> Result<u8> {
    let time: BackupTime = args
        .time
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("backup time {:?} (expected YYYY_MM_DD-HH_MM_SS)", args.time))?;
    let compression = if Path::new(&args.output)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zst"))
    {
        RestoreCompression::Zstd(1)
    } else {
        RestoreCompression::None
    };
    let r = restore(
        &LocalExecutor::new(),
        &root(&args.root)?,
        args.vmid,
        time,
        Path::new(&args.output),
        compression,
    )?;
    output::line(&format!(
        "{}: wrote {} ({}) from {}",
        args.output,
        human::bytes(r.bytes),
        r.devices
            .iter()
            .map(|(d, _)| d.as_str())
            .collect::<Vec<_>>()
            .join(", "),
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
