//! `zferry snap list|rollback|clone`: restore helpers (M8).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;
use zferry_exec::{CommandSpec, Executor, LocalExecutor};
use zferry_snap::restore::{RollbackError, clone_argv, plan_rollback, rollback_argv};
use zferry_zfs::{
    DatasetName, ObjectName, ObjectType, SnapshotName, ops, origins_argv, parse_origins,
};

use crate::cli::{CloneArgs, ListArgs, RollbackArgs};
use crate::{exit, human, output};

#[derive(Debug, Serialize)]
struct SnapshotRow {
    name: String,
    guid: u64,
    createtxg: u64,
    creation: u64,
    age_seconds: u64,
    used: Option<u64>,
    referenced: Option<u64>,
}

pub fn list(args: &ListArgs) -> Result<u8> {
    let exec = LocalExecutor::new();
    let roots: Vec<DatasetName> = args
        .datasets
        .iter()
        .map(|d| {
            d.parse()
                .with_context(|| format!("invalid dataset name {d:?}"))
        })
        .collect::<Result<_>>()?;
    let objects = ops::list(&exec, &[ObjectType::Snapshot], &roots, args.recursive, &[])?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut rows: Vec<SnapshotRow> = objects
        .iter()
        .map(|o| SnapshotRow {
            name: o.name.as_str().to_owned(),
            guid: o.guid.0,
            createtxg: o.createtxg.0,
            creation: o.creation,
            age_seconds: now.saturating_sub(o.creation),
            used: o.used,
            referenced: o.referenced,
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.name.split('@').next(), a.createtxg).cmp(&(b.name.split('@').next(), b.createtxg))
    });
    if args.json {
        return output::json(&rows).map(|()| exit::OK);
    }
    let fmt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), human::bytes);
    let mut table = vec![
        ["SNAPSHOT", "AGE", "USED", "REFER"]
            .map(str::to_owned)
            .to_vec(),
    ];
    table.extend(rows.iter().map(|r| {
        vec![
            r.name.clone(),
            human::age(r.age_seconds),
            fmt(r.used),
            fmt(r.referenced),
        ]
    }));
    output::text(&human::table(&table)).map(|()| exit::OK)
}

pub fn rollback(args: &RollbackArgs) -> Result<u8> {
    let exec = LocalExecutor::new();
    let target: SnapshotName = args
        .snapshot
        .parse()
        .with_context(|| format!("invalid snapshot name {:?}", args.snapshot))?;
    let dataset = target.dataset();
    let objects = ops::list(&exec, &[], std::slice::from_ref(&dataset), true, &[])?;
    let objects: Vec<_> = objects
        .into_iter()
        .filter(|o| o.name.dataset() == dataset || matches!(o.name, ObjectName::Dataset(_)))
        .collect();
    let clones = parse_origins(&ops::run(
        &exec,
        &origins_argv(&[target.pool().root_dataset()]),
    )?)?;
    let plan = match plan_rollback(&objects, &clones, &target, args.force) {
        Ok(plan) => plan,
        Err(e @ RollbackError::WouldDestroy(_)) => {
            eprintln!("zferry: refused: {e}");
            return Ok(exit::PROBLEM);
        }
        Err(e) => return Err(e.into()),
    };
    for item in plan.destroyed_items() {
        tracing::warn!(target = %plan.target, "{item}");
    }
    if args.json {
        output::json(&plan)?;
    } else {
        let mut text = format!(
            "rollback {} ({})\n",
            plan.target,
            plan.flag.arg().unwrap_or("no newer snapshots")
        );
        for item in plan.destroyed_items() {
            let _ = writeln!(text, "  {item}");
        }
        if let Some(bytes) = plan.unsnapshotted_bytes.filter(|b| *b > 0) {
            let _ = writeln!(
                text,
                "  discard {} written since the newest snapshot",
                human::bytes(bytes)
            );
        }
        output::text(&text)?;
    }
    if args.dry_run {
        return Ok(exit::OK);
    }
    run_checked(&exec, &rollback_argv(&plan))?;
    Ok(exit::OK)
}

pub fn clone(args: &CloneArgs) -> Result<u8> {
    let exec = LocalExecutor::new();
    let snapshot: SnapshotName = args
        .snapshot
        .parse()
        .with_context(|| format!("invalid snapshot name {:?}", args.snapshot))?;
    let new: DatasetName = args
        .new_dataset
        .parse()
        .with_context(|| format!("invalid dataset name {:?}", args.new_dataset))?;
    run_checked(&exec, &clone_argv(&snapshot, &new, args.writable))?;
    output::line(&format!(
        "cloned {snapshot} to {new}{}",
        if args.writable { "" } else { " (read-only)" }
    ))?;
    Ok(exit::OK)
}

fn run_checked(exec: &dyn Executor, argv: &[String]) -> Result<()> {
    let spec = CommandSpec::new(&argv[0]).args(argv[1..].iter().cloned());
    let out = exec.run(&spec)?;
    match zferry_zfs::CommandFailure::from_output(&out) {
        Some(failure) => Err(anyhow::anyhow!("{failure}")),
        None => Ok(()),
    }
}
