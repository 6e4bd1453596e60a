//! The only place this crate talks to ZFS: argv vectors run through a
//! `zferry_exec::Executor` via `zferry_zfs::ops`, parsed by `zferry_zfs`'s parsers.

use zferry_exec::Executor;
use zferry_zfs::{
    DatasetName, ObjectName, ObjectType, PoolName, PropertyName, SnapshotName, UserPropName,
    ZfsCommand, ZfsError, ZfsErrorKind, ZfsObject, ops,
};

/// User property on each backup snapshot: size in bytes of the ingested (compressed) archive.
pub const PROP_VMA_SIZE: &str = "zferry:vma-size";
/// User property on each backup snapshot: sum of the virtual disk sizes.
pub const PROP_VIRTUAL_SIZE: &str = "zferry:virtual-size";

fn zfs(args: Vec<String>) -> ZfsCommand {
    ZfsCommand {
        program: "zfs",
        args,
    }
}

fn user_props() -> Vec<UserPropName> {
    [PROP_VMA_SIZE, PROP_VIRTUAL_SIZE]
        .iter()
        .map(|p| p.parse().expect("constant user property names are valid"))
        .collect()
}

/// The filesystem `ds` as listed, or `None` when it does not exist.
pub fn find_dataset(exec: &dyn Executor, ds: &DatasetName) -> Result<Option<ZfsObject>, ZfsError> {
    match ops::list(
        exec,
        &[ObjectType::Filesystem],
        std::slice::from_ref(ds),
        false,
        &[],
    ) {
        Ok(rows) => Ok(rows.into_iter().next()),
        Err(e) if e.kind() == Some(ZfsErrorKind::DatasetNotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `zfs create -o k=v … <ds>`.
pub fn create(
    exec: &dyn Executor,
    ds: &DatasetName,
    props: &[(&str, &str)],
) -> Result<(), ZfsError> {
    let mut args = vec!["create".to_owned()];
    for (k, v) in props {
        args.push("-o".into());
        args.push(format!("{k}={v}"));
    }
    args.push(ds.to_string());
    ops::run(exec, &zfs(args)).map(drop)
}

/// Snapshots of `ds` itself (not of its children), oldest first by `createtxg`, with the
/// backup user properties.
pub fn snapshots(exec: &dyn Executor, ds: &DatasetName) -> Result<Vec<ZfsObject>, ZfsError> {
    let mut rows = ops::list(
        exec,
        &[ObjectType::Snapshot],
        std::slice::from_ref(ds),
        true,
        &user_props(),
    )?;
    rows.retain(|o| matches!(&o.name, ObjectName::Snapshot(s) if s.dataset() == *ds));
    rows.sort_by_key(|o| o.createtxg);
    Ok(rows)
}

/// Every filesystem and snapshot under `root` (recursive), with the backup user properties.
pub fn list_tree(exec: &dyn Executor, root: &DatasetName) -> Result<Vec<ZfsObject>, ZfsError> {
    ops::list(
        exec,
        &[ObjectType::Filesystem, ObjectType::Snapshot],
        std::slice::from_ref(root),
        true,
        &user_props(),
    )
}

/// The `mountpoint` property of `ds` (a path; `none`/`legacy` are reported as they are).
pub fn mountpoint(exec: &dyn Executor, ds: &DatasetName) -> Result<Option<String>, ZfsError> {
    let prop: PropertyName = "mountpoint".parse().expect("valid property name");
    let rows = ops::get(exec, &[prop], &[ObjectName::Dataset(ds.clone())])?;
    Ok(rows.into_iter().next().and_then(|r| r.value))
}

/// `zfs snapshot -o k=v … <snap>`.
pub fn snapshot(
    exec: &dyn Executor,
    snap: &SnapshotName,
    props: &[(&str, String)],
) -> Result<(), ZfsError> {
    let mut args = vec!["snapshot".to_owned()];
    for (k, v) in props {
        args.push("-o".into());
        args.push(format!("{k}={v}"));
    }
    args.push(snap.to_string());
    ops::run(exec, &zfs(args)).map(drop)
}

/// `zpool sync <pool>`: commits dirty data so that `written` counts every write so far.
pub fn sync_pool(exec: &dyn Executor, pool: &PoolName) -> Result<(), ZfsError> {
    let cmd = ZfsCommand {
        program: "zpool",
        args: vec!["sync".into(), pool.to_string()],
    };
    ops::run(exec, &cmd).map(drop)
}

/// `zfs rollback <snap>`: without `-r`, so ZFS itself refuses unless `snap` is the newest.
pub fn rollback(exec: &dyn Executor, snap: &SnapshotName) -> Result<(), ZfsError> {
    ops::run(exec, &zfs(vec!["rollback".into(), snap.to_string()])).map(drop)
}

/// `zfs destroy <snap>`: one snapshot, never `-r`/`-R`; ZFS refuses held or cloned ones.
pub fn destroy(exec: &dyn Executor, snap: &SnapshotName) -> Result<(), ZfsError> {
    ops::run(exec, &zfs(vec!["destroy".into(), snap.to_string()])).map(drop)
}

/// `zfs clone -o readonly=on <snap> <clone>`.
pub fn clone_readonly(
    exec: &dyn Executor,
    snap: &SnapshotName,
    clone: &DatasetName,
) -> Result<(), ZfsError> {
    let args = vec![
        "clone".to_owned(),
        "-o".into(),
        "readonly=on".into(),
        snap.to_string(),
        clone.to_string(),
    ];
    ops::run(exec, &zfs(args)).map(drop)
}

/// `zfs destroy <dataset>`: never `-r`/`-R`.
pub fn destroy_dataset(exec: &dyn Executor, ds: &DatasetName) -> Result<(), ZfsError> {
    ops::run(exec, &zfs(vec!["destroy".into(), ds.to_string()])).map(drop)
}
