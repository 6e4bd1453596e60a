//! The planner's input, read with as few `zfs` processes as possible.
//!
//! Two ways to read a pool:
//! - the **full** listing ([`state_spec`]): one `zfs list` of every filesystem, volume and
//!   snapshot with identity (`guid`), order (`createtxg`), age (`creation`), hold count
//!   (`userrefs`) and the user properties asked for (e.g. `label:running`);
//! - the **fast** listing ([`fast_spec`]): only `name,guid,createtxg`. OpenZFS answers that
//!   without loading each snapshot's properties, measured 3–4× faster in the lab (1 000
//!   snapshots: 4.4 s against 14–16 s). Creation times and hold counts come from a cache
//!   keyed by guid ([`crate::snap_cache`]: a snapshot's creation never changes; a hold count
//!   is re-checked by the program that destroys, in the same transaction, see
//!   [`crate::lua`]); the few policy snapshots the cache does not know are asked for with one
//!   `zfs get creation,userrefs` ([`creation_spec`]). User properties, when asked for, come
//!   from a listing of the datasets alone ([`props_spec`]), which is cheap. Without a usable
//!   cache (first run, lost file, last full listing a day old) the full listing runs;
//! - **by dataset** (the steady state): one listing of the datasets alone with their
//!   `snapshots_changed` and user properties ([`datasets_spec`]); a dataset whose value has
//!   not moved since the cache learned its snapshot list (see [`crate::snap_cache`]) is not
//!   listed again, the others are listed in one `zfs list -d 1` of just those datasets
//!   ([`snapshots_spec`]). A pool where nothing changed costs one short listing, whatever its
//!   snapshot count. Where the property is unknown (OpenZFS before 2.2) the fast listing runs.
//!
//! Space columns are never read: they cost time on pools with many snapshots and nothing
//! here uses them.

use std::collections::{BTreeMap, BTreeSet};

use zferry_exec::{CommandSpec, Executor};
use zferry_zfs::{
    CommandFailure, DatasetName, Guid, ObjectName, ObjectType, OutputError, ParseError,
    SnapshotName, Txg, UserPropName, ZfsError,
};

use crate::model::{DatasetState, SnapInfo};
use crate::snap_cache::{Entry, SnapCache, Stamp};

/// The native columns of the full listing, in order; user properties follow.
/// (`snapshots_changed` is `-` on snapshots; on datasets it lets the cache remember their
/// snapshot lists, see [`crate::snap_cache`].)
pub const STATE_COLUMNS: [&str; 7] = [
    "name",
    "type",
    "guid",
    "createtxg",
    "creation",
    "userrefs",
    "snapshots_changed",
];

/// The columns of the fast listing.
pub const FAST_COLUMNS: [&str; 3] = ["name", "guid", "createtxg"];

/// Listing is the slow part of a run on pools with many snapshots: it gets
/// [`zferry_zfs::LIST_TIMEOUT`], not the 2 min default of a command.
pub use zferry_zfs::LIST_TIMEOUT;

/// `zfs list -H -p -o <STATE_COLUMNS>[,props] -t filesystem,volume,snapshot -r <root>`.
pub fn state_spec(root: &DatasetName, user_props: &[UserPropName]) -> CommandSpec {
    list_spec(
        root,
        &with_props(&STATE_COLUMNS, user_props),
        "filesystem,volume,snapshot",
    )
}

/// `zfs list -H -p -o name,guid,createtxg -t filesystem,volume,snapshot -r <root>`.
pub fn fast_spec(root: &DatasetName) -> CommandSpec {
    list_spec(root, &FAST_COLUMNS.join(","), "filesystem,volume,snapshot")
}

/// `zfs list -H -p -o name,<props> -t filesystem,volume -r <root>`: datasets only.
pub fn props_spec(root: &DatasetName, user_props: &[UserPropName]) -> CommandSpec {
    list_spec(
        root,
        &with_props(&["name"], user_props),
        "filesystem,volume",
    )
}

/// `native` columns, then the user properties, comma-separated.
fn with_props(native: &[&str], user_props: &[UserPropName]) -> String {
    let columns: Vec<&str> = native
        .iter()
        .copied()
        .chain(user_props.iter().map(UserPropName::as_str))
        .collect();
    columns.join(",")
}

fn list_spec(root: &DatasetName, columns: &str, types: &str) -> CommandSpec {
    CommandSpec::new("zfs")
        .args(["list", "-H", "-p", "-o", columns, "-t", types, "-r"])
        .arg(root.to_string())
        .label(root.to_string())
        .timeout(LIST_TIMEOUT)
}

/// The columns of the dataset listing of a by-dataset read; user properties follow.
pub const DATASET_COLUMNS: [&str; 3] = ["name", "guid", "snapshots_changed"];

/// `zfs list -H -p -o name,guid,snapshots_changed[,props] -t filesystem,volume -r <root>`.
pub fn datasets_spec(root: &DatasetName, user_props: &[UserPropName]) -> CommandSpec {
    list_spec(
        root,
        &with_props(&DATASET_COLUMNS, user_props),
        "filesystem,volume",
    )
}

/// `zfs list -H -p -o name,guid,createtxg -t snapshot -d 1 <dataset…>`: the snapshots of
/// exactly these datasets.
pub fn snapshots_spec(datasets: &[DatasetName]) -> CommandSpec {
    CommandSpec::new("zfs")
        .args(["list", "-H", "-p", "-o"])
        .arg(FAST_COLUMNS.join(","))
        .args(["-t", "snapshot", "-d", "1"])
        .args(datasets.iter().map(ToString::to_string))
        .label(format!("snapshots of {} datasets", datasets.len()))
        .timeout(LIST_TIMEOUT)
}

/// `zfs get -H -p -o name,property,value creation,userrefs <snapshot…>`.
pub fn creation_spec(snapshots: &[SnapshotName]) -> CommandSpec {
    CommandSpec::new("zfs")
        .args([
            "get",
            "-H",
            "-p",
            "-o",
            "name,property,value",
            "creation,userrefs",
        ])
        .args(snapshots.iter().map(ToString::to_string))
        .label(format!("{} snapshots", snapshots.len()))
        .timeout(LIST_TIMEOUT)
}

/// Parses the output of [`state_spec`] with the same `user_props`. Snapshots are attached to
/// their dataset and sorted by `createtxg`; datasets come out sorted by name.
pub fn parse_state(
    stdout: &str,
    user_props: &[UserPropName],
) -> Result<Vec<DatasetState>, ParseError> {
    parse_state_stamped(stdout, user_props).map(|(datasets, _)| datasets)
}

/// [`parse_state`], with each dataset's [`Stamp`].
pub fn parse_state_stamped(
    stdout: &str,
    user_props: &[UserPropName],
) -> Result<(Vec<DatasetState>, BTreeMap<DatasetName, Stamp>), ParseError> {
    let mut stamps = BTreeMap::new();
    let mut datasets: BTreeMap<DatasetName, DatasetState> = BTreeMap::new();
    let mut snapshots: Vec<(usize, SnapInfo)> = Vec::new();
    for (n, f) in rows(stdout, STATE_COLUMNS.len() + user_props.len())? {
        let bad = |col: usize, reason: String| ParseError::BadValue {
            line: n,
            column: column_name(col, user_props),
            value: f[col].to_owned(),
            reason,
        };
        let name: ObjectName = f[0].parse().map_err(|e| bad(0, format!("{e}")))?;
        let kind: ObjectType = f[1].parse().map_err(|e| bad(1, format!("{e}")))?;
        let guid: Guid = f[2].parse().map_err(|e| bad(2, format!("{e}")))?;
        let createtxg: Txg = f[3].parse().map_err(|e| bad(3, format!("{e}")))?;
        let creation: i64 = f[4].parse().map_err(|e| bad(4, format!("{e}")))?;
        match (name, kind) {
            (ObjectName::Dataset(name), ObjectType::Filesystem | ObjectType::Volume) => {
                let changed = changed_value(f[6]).map_err(|e| bad(6, e))?;
                stamps.insert(name.clone(), Stamp { guid, changed });
                let props = user_values(user_props, &f[STATE_COLUMNS.len()..]);
                datasets.insert(
                    name.clone(),
                    DatasetState {
                        name,
                        snapshots: Vec::new(),
                        user_props: props,
                    },
                );
            }
            (ObjectName::Snapshot(name), ObjectType::Snapshot) => {
                let holds: u64 = f[5].parse().map_err(|e| bad(5, format!("{e}")))?;
                snapshots.push((
                    n,
                    SnapInfo {
                        name,
                        guid,
                        createtxg,
                        creation: Some(creation),
                        holds: Some(holds),
                    },
                ));
            }
            _ => return Err(bad(0, format!("name does not have the shape of a {kind}"))),
        }
    }
    Ok((assemble(datasets, snapshots)?, stamps))
}

/// Attaches snapshots (with their line numbers) to their datasets, sorted by `createtxg`;
/// datasets come out sorted by name. A snapshot of an unlisted dataset is an error.
fn assemble(
    mut datasets: BTreeMap<DatasetName, DatasetState>,
    snapshots: Vec<(usize, SnapInfo)>,
) -> Result<Vec<DatasetState>, ParseError> {
    for (line, snap) in snapshots {
        let parent = snap.name.dataset();
        let Some(ds) = datasets.get_mut(&parent) else {
            return Err(ParseError::Syntax {
                line,
                message: format!("snapshot {} of a dataset that was not listed", snap.name),
            });
        };
        ds.snapshots.push(snap);
    }
    for ds in datasets.values_mut() {
        ds.snapshots.sort_by_key(|s| s.createtxg);
    }
    Ok(datasets.into_values().collect())
}

/// Parses the output of [`fast_spec`]: datasets without user properties, snapshots without
/// creation time or holds.
pub fn parse_fast(stdout: &str) -> Result<Vec<DatasetState>, ParseError> {
    let mut datasets: BTreeMap<DatasetName, DatasetState> = BTreeMap::new();
    let mut snapshots: Vec<(usize, SnapInfo)> = Vec::new();
    for (n, f) in rows(stdout, FAST_COLUMNS.len())? {
        let bad = |col: usize, reason: String| ParseError::BadValue {
            line: n,
            column: FAST_COLUMNS[col].to_owned(),
            value: f[col].to_owned(),
            reason,
        };
        let name: ObjectName = f[0].parse().map_err(|e| bad(0, format!("{e}")))?;
        let guid: Guid = f[1].parse().map_err(|e| bad(1, format!("{e}")))?;
        let createtxg: Txg = f[2].parse().map_err(|e| bad(2, format!("{e}")))?;
        match name {
            ObjectName::Dataset(name) => {
                datasets.insert(
                    name.clone(),
                    DatasetState {
                        name,
                        snapshots: Vec::new(),
                        user_props: BTreeMap::new(),
                    },
                );
            }
            ObjectName::Snapshot(name) => snapshots.push((
                n,
                SnapInfo {
                    name,
                    guid,
                    createtxg,
                    creation: None,
                    holds: None,
                },
            )),
            ObjectName::Bookmark(_) => {
                return Err(bad(0, "a bookmark in a listing without bookmarks".into()));
            }
        }
    }
    assemble(datasets, snapshots)
}

/// Parses the output of [`datasets_spec`] with the same `user_props`: the datasets (without
/// snapshots) and each one's [`Stamp`].
pub fn parse_datasets(
    stdout: &str,
    user_props: &[UserPropName],
) -> Result<(Vec<DatasetState>, BTreeMap<DatasetName, Stamp>), ParseError> {
    let mut datasets = Vec::new();
    let mut stamps = BTreeMap::new();
    for (n, f) in rows(stdout, DATASET_COLUMNS.len() + user_props.len())? {
        let bad = |col: usize, reason: String| ParseError::BadValue {
            line: n,
            column: DATASET_COLUMNS
                .get(col)
                .map_or_else(|| user_props[col - 3].as_str(), |c| *c)
                .to_owned(),
            value: f[col].to_owned(),
            reason,
        };
        let name: DatasetName = f[0].parse().map_err(|e| bad(0, format!("{e}")))?;
        let guid: Guid = f[1].parse().map_err(|e| bad(1, format!("{e}")))?;
        let changed = changed_value(f[2]).map_err(|e| bad(2, e))?;
        let props = user_values(user_props, &f[DATASET_COLUMNS.len()..]);
        stamps.insert(name.clone(), Stamp { guid, changed });
        datasets.push(DatasetState {
            name,
            snapshots: Vec::new(),
            user_props: props,
        });
    }
    datasets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((datasets, stamps))
}

/// Parses the output of [`snapshots_spec`]: snapshots without creation time or holds.
pub fn parse_snapshots(stdout: &str) -> Result<Vec<SnapInfo>, ParseError> {
    let mut out = Vec::new();
    for (n, f) in rows(stdout, FAST_COLUMNS.len())? {
        let bad = |col: usize, reason: String| ParseError::BadValue {
            line: n,
            column: FAST_COLUMNS[col].to_owned(),
            value: f[col].to_owned(),
            reason,
        };
        let name: SnapshotName = f[0].parse().map_err(|e| bad(0, format!("{e}")))?;
        out.push(SnapInfo {
            name,
            guid: f[1].parse().map_err(|e| bad(1, format!("{e}")))?,
            createtxg: f[2].parse().map_err(|e| bad(2, format!("{e}")))?,
            creation: None,
            holds: None,
        });
    }
    Ok(out)
}

/// Parses the output of [`props_spec`] with the same `user_props`: per dataset, each
/// property's value (`None` when unset, `-`).
pub fn parse_props(
    stdout: &str,
    user_props: &[UserPropName],
) -> Result<BTreeMap<DatasetName, BTreeMap<String, Option<String>>>, ParseError> {
    let mut out = BTreeMap::new();
    for (n, f) in rows(stdout, 1 + user_props.len())? {
        let name: DatasetName = f[0].parse().map_err(|e| ParseError::BadValue {
            line: n,
            column: "name".into(),
            value: f[0].to_owned(),
            reason: format!("{e}"),
        })?;
        let props = user_values(user_props, &f[1..]);
        out.insert(name, props);
    }
    Ok(out)
}

/// Parses the output of [`creation_spec`]: each snapshot's creation time and hold count.
/// A snapshot missing either property is an error.
pub fn parse_creation(stdout: &str) -> Result<BTreeMap<SnapshotName, Entry>, ParseError> {
    let mut seen: BTreeMap<SnapshotName, (Option<i64>, Option<u64>, usize)> = BTreeMap::new();
    for (n, f) in rows(stdout, 3)? {
        let bad = |col: usize, reason: String| ParseError::BadValue {
            line: n,
            column: ["name", "property", "value"][col].to_owned(),
            value: f[col].to_owned(),
            reason,
        };
        let name: SnapshotName = f[0].parse().map_err(|e| bad(0, format!("{e}")))?;
        let slot = seen.entry(name).or_insert((None, None, n));
        match f[1] {
            "creation" => slot.0 = Some(f[2].parse().map_err(|e| bad(2, format!("{e}")))?),
            "userrefs" => slot.1 = Some(f[2].parse().map_err(|e| bad(2, format!("{e}")))?),
            other => return Err(bad(1, format!("unexpected property {other}"))),
        }
    }
    seen.into_iter()
        .map(|(name, (creation, holds, line))| match (creation, holds) {
            (Some(creation), Some(holds)) => Ok((name, Entry { creation, holds })),
            _ => Err(ParseError::Syntax {
                line,
                message: format!("{name}: creation or userrefs missing"),
            }),
        })
        .collect()
}

/// Each user property's value in `fields` (same order); `-` (unset) is `None`.
fn user_values(user_props: &[UserPropName], fields: &[&str]) -> BTreeMap<String, Option<String>> {
    user_props
        .iter()
        .zip(fields)
        .map(|(p, v)| (p.as_str().to_owned(), (*v != "-").then(|| (*v).to_owned())))
        .collect()
}

/// A `snapshots_changed` field: `-` (the dataset never had a snapshot) is `None`.
fn changed_value(field: &str) -> Result<Option<u64>, String> {
    match field {
        "-" => Ok(None),
        v => v.parse().map(Some).map_err(|e| format!("{e}")),
    }
}

/// The non-empty lines of `-H` output split on tabs, each with its 1-based line number and
/// exactly `width` fields.
fn rows(stdout: &str, width: usize) -> Result<Vec<(usize, Vec<&str>)>, ParseError> {
    let mut out = Vec::new();
    for (idx, line) in stdout.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != width {
            return Err(ParseError::FieldCount {
                line: idx + 1,
                expected: width,
                found: f.len(),
            });
        }
        out.push((idx + 1, f));
    }
    Ok(out)
}

fn column_name(col: usize, user_props: &[UserPropName]) -> String {
    STATE_COLUMNS.get(col).map_or_else(
        || user_props[col - STATE_COLUMNS.len()].as_str().to_owned(),
        |c| (*c).to_owned(),
    )
}

/// Runs one `zfs list` for `root` (normally a pool's root dataset) and parses it.
pub fn gather(
    exec: &dyn Executor,
    root: &DatasetName,
    user_props: &[UserPropName],
) -> Result<Vec<DatasetState>, ZfsError> {
    run_parsed(exec, &state_spec(root, user_props), |out| {
        parse_state(out, user_props)
    })
}

/// Runs `spec` and parses its standard output; a failed command or unparsable output is a
/// [`ZfsError`] naming the host and the command.
fn run_parsed<T>(
    exec: &dyn Executor,
    spec: &CommandSpec,
    parse: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<T, ZfsError> {
    let out = exec.run(spec).map_err(ZfsError::from)?;
    if let Some(failure) = CommandFailure::from_output(&out) {
        return Err(ZfsError::Command(Box::new(failure)));
    }
    parse(&out.stdout_lossy()).map_err(|source| {
        ZfsError::Parse(Box::new(OutputError {
            host: exec.host().to_owned(),
            argv: spec.argv(),
            source,
        }))
    })
}

/// At most this many creation times are asked for with one `zfs get`; with more unknown
/// snapshots (a lost cache, a large batch received from elsewhere) the full listing is as
/// cheap and is used instead.
pub const MAX_CREATION_FETCH: usize = 1000;

/// How a pool was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    /// The full listing (no usable cache).
    Full,
    /// The fast listing; `fetched` creation times were not in the cache.
    Fast { fetched: usize },
    /// The dataset listing; the snapshots of `relisted` datasets were listed (their
    /// `snapshots_changed` moved, or the cache did not know them), the others came from the
    /// cache; `fetched` creation times were not in the cache.
    ByDataset { relisted: usize, fetched: usize },
}

/// At most this many datasets are named in one snapshot listing of a by-dataset read; with
/// more changed datasets the whole pool's snapshots are listed instead (same columns).
pub const MAX_RELIST: usize = 500;

/// One pool's state and what reading it cost.
#[derive(Debug, Clone)]
pub struct PoolState {
    pub datasets: Vec<DatasetState>,
    pub mode: ReadMode,
    /// `zfs` processes spawned.
    pub processes: usize,
}

/// Reads one pool for a run (see the module docs and [`SnapCache::needs_full_read`]; `now`
/// is the real Unix time, taken before any listing): by dataset when the cache is usable and
/// ZFS has `snapshots_changed`, else the fast listing when the cache can fill in creation
/// times and holds, else the full one. Creation times are needed only for snapshots named by
/// the policy (`is_policy_name`); `cache` learns everything read and forgets snapshots that
/// no longer exist.
pub fn read_pool(
    exec: &dyn Executor,
    root: &DatasetName,
    user_props: &[UserPropName],
    is_policy_name: &dyn Fn(&SnapshotName) -> bool,
    (cache, now): (&mut SnapCache, u64),
) -> Result<PoolState, ZfsError> {
    if cache.needs_full_read(now) {
        return full_read(exec, root, user_props, (cache, now), 0);
    }
    match run_parsed(exec, &datasets_spec(root, user_props), |out| {
        parse_datasets(out, user_props)
    }) {
        Ok((datasets, stamps)) => by_dataset(
            exec,
            root,
            user_props,
            is_policy_name,
            (cache, now),
            datasets,
            &stamps,
        ),
        Err(e) => {
            tracing::debug!(root = %root, "no dataset listing with snapshots_changed ({e}); fast listing");
            fast_read(exec, root, user_props, is_policy_name, (cache, now), 1)
        }
    }
}

/// The full listing; `processes` were spent before it.
fn full_read(
    exec: &dyn Executor,
    root: &DatasetName,
    user_props: &[UserPropName],
    (cache, now): (&mut SnapCache, u64),
    processes: usize,
) -> Result<PoolState, ZfsError> {
    let (datasets, stamps) = run_parsed(exec, &state_spec(root, user_props), |out| {
        parse_state_stamped(out, user_props)
    })?;
    cache.replace_from(&datasets, now);
    cache.remember_lists(&datasets, &stamps, now);
    Ok(PoolState {
        datasets,
        mode: ReadMode::Full,
        processes: processes + 1,
    })
}

/// The fast listing (plus the dataset properties, when asked for); `spent` processes were
/// spent before it.
fn fast_read(
    exec: &dyn Executor,
    root: &DatasetName,
    user_props: &[UserPropName],
    is_policy_name: &dyn Fn(&SnapshotName) -> bool,
    (cache, now): (&mut SnapCache, u64),
    spent: usize,
) -> Result<PoolState, ZfsError> {
    let mut datasets = run_parsed(exec, &fast_spec(root), parse_fast)?;
    let mut processes = spent + 1;
    if !user_props.is_empty() {
        let props = run_parsed(exec, &props_spec(root, user_props), |out| {
            parse_props(out, user_props)
        })?;
        processes += 1;
        for ds in &mut datasets {
            ds.user_props = props.get(&ds.name).cloned().unwrap_or_else(|| {
                user_props
                    .iter()
                    .map(|p| (p.as_str().to_owned(), None))
                    .collect()
            });
        }
    }
    let (fetched, processes) =
        match fill_from_cache(exec, &mut datasets, is_policy_name, cache, processes) {
            Ok(done) => done,
            Err(spent) => return full_read(exec, root, user_props, (cache, now), spent),
        };
    Ok(PoolState {
        datasets,
        mode: ReadMode::Fast { fetched },
        processes,
    })
}

/// The by-dataset read, after its dataset listing (1 process): lists the snapshots of the
/// datasets the cache cannot vouch for, in one `zfs list`.
fn by_dataset(
    exec: &dyn Executor,
    root: &DatasetName,
    user_props: &[UserPropName],
    is_policy_name: &dyn Fn(&SnapshotName) -> bool,
    (cache, now): (&mut SnapCache, u64),
    mut datasets: Vec<DatasetState>,
    stamps: &BTreeMap<DatasetName, Stamp>,
) -> Result<PoolState, ZfsError> {
    let mut processes = 1;
    let mut stale = Vec::new();
    for ds in &mut datasets {
        match stamps
            .get(&ds.name)
            .and_then(|&stamp| cache.unchanged(&ds.name, stamp, now))
        {
            Some(snaps) => ds.snapshots = snaps,
            None => stale.push(ds.name.clone()),
        }
    }
    if !stale.is_empty() {
        let spec = if stale.len() > MAX_RELIST {
            list_spec(root, &FAST_COLUMNS.join(","), "snapshot")
        } else {
            snapshots_spec(&stale)
        };
        // A dataset destroyed since the dataset listing fails this one: read it all again.
        let Ok(snaps) = run_parsed(exec, &spec, parse_snapshots) else {
            return full_read(exec, root, user_props, (cache, now), processes + 1);
        };
        processes += 1;
        let mut by_dataset: BTreeMap<DatasetName, Vec<SnapInfo>> = BTreeMap::new();
        for snap in snaps {
            by_dataset
                .entry(snap.name.dataset())
                .or_default()
                .push(snap);
        }
        // A set: a pool can hold tens of thousands of datasets.
        let relist: BTreeSet<&DatasetName> = stale.iter().collect();
        for ds in datasets.iter_mut().filter(|d| relist.contains(&d.name)) {
            let mut snaps = by_dataset.remove(&ds.name).unwrap_or_default();
            snaps.sort_by_key(|s| s.createtxg);
            ds.snapshots = snaps;
        }
    }
    let (fetched, processes) =
        match fill_from_cache(exec, &mut datasets, is_policy_name, cache, processes) {
            Ok(done) => done,
            Err(spent) => return full_read(exec, root, user_props, (cache, now), spent),
        };
    cache.remember_lists(&datasets, stamps, now);
    Ok(PoolState {
        datasets,
        mode: ReadMode::ByDataset {
            relisted: stale.len(),
            fetched,
        },
        processes,
    })
}

/// Fills creation times and holds from `cache`, fetching the unknown policy snapshots with
/// one `zfs get`; returns how many were fetched and the processes spent so far (`processes`
/// before), or `Err(processes spent)` when only a full listing will do (too many unknown, or
/// the `zfs get` failed: a snapshot destroyed since the listing).
fn fill_from_cache(
    exec: &dyn Executor,
    datasets: &mut [DatasetState],
    is_policy_name: &dyn Fn(&SnapshotName) -> bool,
    cache: &mut SnapCache,
    processes: usize,
) -> Result<(usize, usize), usize> {
    let unknown = cache.fill(datasets, is_policy_name);
    if unknown.len() > MAX_CREATION_FETCH {
        return Err(processes);
    }
    if !unknown.is_empty() {
        let read = run_parsed(exec, &creation_spec(&unknown), parse_creation)
            .map_err(|_| processes + 1)?;
        cache.learn(datasets, &read);
    }
    cache.retain_seen(datasets);
    Ok((unknown.len(), processes + usize::from(!unknown.is_empty())))
}

/// Finds a snapshot in gathered state.
pub fn find_snapshot<'a>(state: &'a [DatasetState], name: &SnapshotName) -> Option<&'a SnapInfo> {
    state
        .iter()
        .find(|d| d.name == name.dataset())?
        .snapshots
        .iter()
        .find(|s| &s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::Scripted;

    /// A captured fixture without its `#` header lines.
    pub(crate) fn fixture(text: &str) -> String {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(|l| [l, "\n"])
            .collect()
    }

    fn label() -> Vec<UserPropName> {
        vec!["label:running".parse().unwrap()]
    }

    #[test]
    fn argv_is_exact_and_matches_the_fixture_header() {
        let spec = state_spec(&"snapexp".parse().unwrap(), &label());
        let text = include_str!("../tests/fixtures/list_state.txt");
        let header = text.lines().nth(1).unwrap().trim_start_matches("# ");
        assert_eq!(spec.argv().join(" "), header);
    }

    #[test]
    fn parses_the_captured_listing() {
        let text = fixture(include_str!("../tests/fixtures/list_state.txt"));
        let (state, stamps) = parse_state_stamped(&text, &label()).unwrap();
        let names: Vec<&str> = state.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["snapexp", "snapexp/a", "snapexp/b", "snapexp/vol"]);
        assert_eq!(state[0].user_props["label:running"], None);
        assert_eq!(state[1].user_props["label:running"].as_deref(), Some("h2"));
        let b = &state[2];
        assert_eq!(b.user_props["label:running"].as_deref(), Some("zferry-lab"));
        let snaps: Vec<(&str, u64, u64)> = b
            .snapshots
            .iter()
            .map(|s| (s.name.snapshot_part(), s.createtxg.0, s.holds.unwrap()))
            .collect();
        assert_eq!(snaps, [("h1", 14, 1), ("c5", 16, 0)]);
        assert_eq!(b.snapshots[0].guid, Guid(4_134_455_899_249_797_570));
        assert_eq!(b.snapshots[1].creation, Some(1_795_202_877));
        let found = find_snapshot(&state, &"snapexp/a@x1".parse().unwrap()).unwrap();
        assert_eq!(found.createtxg, Txg(13));
        assert_eq!(
            stamps[&b.name],
            Stamp {
                guid: Guid(10_602_540_001_323_119_372),
                changed: Some(1_795_202_877)
            }
        );
        assert_eq!(stamps[&state[3].name].changed, None, "never snapshotted: -");
        assert_eq!(stamps.len(), 4);
    }

    #[test]
    fn dataset_and_snapshot_listings_match_their_captured_fixtures() {
        let root: DatasetName = "snapexp".parse().unwrap();
        let text = include_str!("../tests/fixtures/list_datasets.txt");
        let header = text.lines().nth(1).unwrap().trim_start_matches("# ");
        assert_eq!(datasets_spec(&root, &label()).argv().join(" "), header);
        let (datasets, stamps) = parse_datasets(&fixture(text), &label()).unwrap();
        let got: Vec<(&str, Option<u64>, Option<&str>)> = datasets
            .iter()
            .map(|d| {
                (
                    d.name.as_str(),
                    stamps[&d.name].changed,
                    d.user_props["label:running"].as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("snapexp", None, None),
                ("snapexp/a", Some(1_795_202_876), Some("h2")),
                ("snapexp/b", Some(1_795_202_877), Some("zferry-lab")),
                ("snapexp/vol", None, None),
            ]
        );
        assert!(datasets.iter().all(|d| d.snapshots.is_empty()));

        let text = include_str!("../tests/fixtures/list_snapshots.txt");
        let header = text.lines().nth(1).unwrap().trim_start_matches("# ");
        let listed: Vec<DatasetName> = ["snapexp/a", "snapexp/b", "snapexp/vol"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(snapshots_spec(&listed).argv().join(" "), header);
        let snaps = parse_snapshots(&fixture(text)).unwrap();
        let got: Vec<(&str, u64)> = snaps
            .iter()
            .map(|s| (s.name.as_str(), s.createtxg.0))
            .collect();
        assert_eq!(
            got,
            [
                ("snapexp/a@x1", 13),
                ("snapexp/b@h1", 14),
                ("snapexp/b@c5", 16)
            ]
        );
        assert!(matches!(
            parse_datasets("p\t1\tsoon\n", &[]),
            Err(ParseError::BadValue { column, .. }) if column == "snapshots_changed"
        ));
    }

    #[test]
    fn sorts_snapshots_by_createtxg_and_rejects_orphans() {
        let out = "p\tfilesystem\t1\t1\t10\t-\t12\n\
                   p@b\tsnapshot\t3\t9\t12\t0\t-\n\
                   p@a\tsnapshot\t2\t5\t11\t2\t-\n";
        let state = parse_state(out, &[]).unwrap();
        let order: Vec<&str> = state[0]
            .snapshots
            .iter()
            .map(|s| s.name.snapshot_part())
            .collect();
        assert_eq!(order, ["a", "b"]);
        assert_eq!(state[0].snapshots[0].holds, Some(2));
        let err = parse_state("q@a\tsnapshot\t2\t5\t11\t0\t-\n", &[]).unwrap_err();
        assert!(matches!(err, ParseError::Syntax { line: 1, .. }), "{err}");
        let err = parse_state("p\tfilesystem\t1\t1\t10\t-\t-\tx\n", &[]).unwrap_err();
        assert_eq!(
            err,
            ParseError::FieldCount {
                line: 1,
                expected: 7,
                found: 8
            }
        );
        let err = parse_state("p@a\tsnapshot\t2\t5\t11\t-\t-\n", &label()).unwrap_err();
        assert!(matches!(err, ParseError::FieldCount { .. }));
        let err = parse_state("p@a\tsnapshot\t2\t5\t11\tlots\t-\tx\n", &label()).unwrap_err();
        assert!(
            matches!(&err, ParseError::BadValue { column, .. } if column == "userrefs"),
            "{err}"
        );
    }

    #[test]
    fn fast_props_and_creation_argv_match_their_fixture_headers() {
        let root: DatasetName = "snapexp".parse().unwrap();
        let header = |text: &str| {
            text.lines()
                .nth(1)
                .unwrap()
                .trim_start_matches("# ")
                .to_owned()
        };
        assert_eq!(
            fast_spec(&root).argv().join(" "),
            header(include_str!("../tests/fixtures/list_fast.txt"))
        );
        assert_eq!(
            props_spec(&root, &label()).argv().join(" "),
            header(include_str!("../tests/fixtures/list_props.txt"))
        );
        let snaps: Vec<SnapshotName> = [
            "snapexp/a@autosnap_2026-11-21_20:00:00_hourly",
            "snapexp/vol@autosnap_2026-11-21_20:00:00_hourly",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        assert_eq!(
            creation_spec(&snaps).argv().join(" "),
            header(include_str!("../tests/fixtures/get_creation.txt"))
        );
    }

    #[test]
    fn parses_the_captured_fast_props_and_creation_outputs() {
        let state = parse_fast(&fixture(include_str!("../tests/fixtures/list_fast.txt"))).unwrap();
        let names: Vec<&str> = state.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["snapexp", "snapexp/a", "snapexp/vol"]);
        let a: Vec<(&str, u64, Option<i64>, Option<u64>)> = state[1]
            .snapshots
            .iter()
            .map(|s| (s.name.snapshot_part(), s.createtxg.0, s.creation, s.holds))
            .collect();
        assert_eq!(
            a,
            [
                ("x1", 12, None, None),
                ("autosnap_2026-11-21_20:00:00_hourly", 13, None, None)
            ]
        );
        assert_eq!(state[2].snapshots[0].guid, Guid(18_234_213_827_055_796_814));

        let props = parse_props(
            &fixture(include_str!("../tests/fixtures/list_props.txt")),
            &label(),
        )
        .unwrap();
        let a: DatasetName = "snapexp/a".parse().unwrap();
        assert_eq!(props[&a]["label:running"].as_deref(), Some("h2"));
        assert_eq!(props.len(), 3);

        let times =
            parse_creation(&fixture(include_str!("../tests/fixtures/get_creation.txt"))).unwrap();
        let vol: SnapshotName = "snapexp/vol@autosnap_2026-11-21_20:00:00_hourly"
            .parse()
            .unwrap();
        assert_eq!(
            times[&vol],
            Entry {
                creation: 1_795_296_731,
                holds: 0
            }
        );
        assert!(matches!(
            parse_fast("p\t1\n"),
            Err(ParseError::FieldCount { expected: 3, .. })
        ));
    }

    const NOW: u64 = 1_795_300_000;

    /// A cache a full read filled a minute ago, knowing one snapshot (guid 1).
    fn warm_cache() -> SnapCache {
        let mut cache = SnapCache::default();
        cache.replace_from(&[], NOW - 60);
        cache.insert(
            Guid(1),
            Entry {
                creation: 5,
                holds: 0,
            },
        );
        cache
    }

    fn is_autosnap(n: &SnapshotName) -> bool {
        n.snapshot_part().starts_with("autosnap_")
    }

    /// What OpenZFS before 2.2 answers to the dataset listing.
    const NO_PROPERTY: &str = "bad property list: invalid property 'snapshots_changed'\n";

    #[test]
    fn a_cold_cache_reads_in_full_once_then_one_dataset_listing_suffices() {
        let full = fixture(include_str!("../tests/fixtures/list_state.txt"));
        let exec = Scripted::new(&[(0, &full, "")]);
        let mut cache = SnapCache::default();
        let root: DatasetName = "snapexp".parse().unwrap();
        let read = read_pool(&exec, &root, &label(), &is_autosnap, (&mut cache, NOW)).unwrap();
        assert_eq!((read.mode, read.processes), (ReadMode::Full, 1));
        assert!(!cache.is_empty());
        assert_eq!(exec.argvs()[0], state_spec(&root, &label()).argv());

        // Nothing changed since: the dataset listing alone, snapshots from the cache.
        let datasets = fixture(include_str!("../tests/fixtures/list_datasets.txt"));
        let exec = Scripted::new(&[(0, &datasets, "")]);
        let read = read_pool(&exec, &root, &label(), &is_autosnap, (&mut cache, NOW + 60)).unwrap();
        assert_eq!(
            read.mode,
            ReadMode::ByDataset {
                relisted: 0,
                fetched: 0
            }
        );
        assert_eq!(read.processes, 1, "the dataset listing only");
        let b = read
            .datasets
            .iter()
            .find(|d| d.name.as_str() == "snapexp/b")
            .unwrap();
        let snaps: Vec<(&str, u64, Option<i64>, Option<u64>)> = b
            .snapshots
            .iter()
            .map(|s| (s.name.snapshot_part(), s.createtxg.0, s.creation, s.holds))
            .collect();
        assert_eq!(
            snaps,
            [
                ("h1", 14, Some(1_795_202_876), Some(1)),
                ("c5", 16, Some(1_795_202_877), Some(0))
            ]
        );
        assert_eq!(b.user_props["label:running"].as_deref(), Some("zferry-lab"));
        assert_eq!(read.datasets.len(), 4);
        assert_eq!(exec.argvs()[0], datasets_spec(&root, &label()).argv());
    }

    #[test]
    fn only_datasets_whose_snapshots_changed_moved_or_is_fresh_are_listed_again() {
        let full = fixture(include_str!("../tests/fixtures/list_state.txt"));
        let mut cache = SnapCache::default();
        let root: DatasetName = "snapexp".parse().unwrap();
        let t0 = 1_795_202_900;
        read_pool(
            &Scripted::new(&[(0, &full, "")]),
            &root,
            &label(),
            &is_autosnap,
            (&mut cache, t0),
        )
        .unwrap();
        // A minute later: a unchanged; b's value moved (settled); vol got its first
        // snapshot 3 s before the listing (not settled: listed, not remembered).
        let t1 = t0 + 60;
        let listing = "snapexp\t6868746470219905461\t-\t-\n\
                       snapexp/a\t2510028054673193717\t1795202876\th2\n\
                       snapexp/b\t10602540001323119372\t1795202930\tzferry-lab\n\
                       snapexp/vol\t4402898239387627750\t1795202957\t-\n";
        let snaps = "snapexp/b@h1\t4134455899249797570\t14\n\
                     snapexp/b@c5\t8966844042736673048\t16\n\
                     snapexp/b@autosnap_new\t77\t20\n\
                     snapexp/vol@autosnap_v\t78\t21\n";
        let got = "snapexp/b@autosnap_new\tcreation\t1795202930\n\
                   snapexp/b@autosnap_new\tuserrefs\t0\n\
                   snapexp/vol@autosnap_v\tcreation\t1795202957\n\
                   snapexp/vol@autosnap_v\tuserrefs\t0\n";
        let exec = Scripted::new(&[(0, listing, ""), (0, snaps, ""), (0, got, "")]);
        let read = read_pool(&exec, &root, &label(), &is_autosnap, (&mut cache, t1)).unwrap();
        assert_eq!(
            read.mode,
            ReadMode::ByDataset {
                relisted: 2,
                fetched: 2
            }
        );
        assert_eq!(read.processes, 3);
        let b: DatasetName = "snapexp/b".parse().unwrap();
        let vol: DatasetName = "snapexp/vol".parse().unwrap();
        assert_eq!(
            exec.argvs()[1],
            snapshots_spec(&[b.clone(), vol.clone()]).argv()
        );
        let names: Vec<&str> = read.datasets[2]
            .snapshots
            .iter()
            .map(|s| s.name.snapshot_part())
            .collect();
        assert_eq!(names, ["h1", "c5", "autosnap_new"]);
        assert_eq!(read.datasets[2].snapshots[2].creation, Some(1_795_202_930));
        assert_eq!(read.datasets[1].snapshots.len(), 1, "a from the cache");

        // An hour later, same values: b was remembered, vol was not.
        let exec = Scripted::new(&[
            (0, listing, ""),
            (0, "snapexp/vol@autosnap_v\t78\t21\n", ""),
        ]);
        let read = read_pool(
            &exec,
            &root,
            &label(),
            &is_autosnap,
            (&mut cache, t1 + 3600),
        )
        .unwrap();
        assert_eq!(
            read.mode,
            ReadMode::ByDataset {
                relisted: 1,
                fetched: 0
            }
        );
        assert_eq!(exec.argvs()[1], snapshots_spec(&[vol]).argv());
        assert_eq!(read.datasets[2].snapshots.len(), 3);
        assert_eq!(read.datasets[3].snapshots[0].creation, Some(1_795_202_957));
    }

    #[test]
    fn a_dataset_made_again_under_the_same_name_is_listed_again() {
        let full = fixture(include_str!("../tests/fixtures/list_state.txt"));
        let mut cache = SnapCache::default();
        let root: DatasetName = "snapexp".parse().unwrap();
        read_pool(
            &Scripted::new(&[(0, &full, "")]),
            &root,
            &label(),
            &is_autosnap,
            (&mut cache, NOW),
        )
        .unwrap();
        // Same name and value, another guid: another dataset.
        let listing = "snapexp\t6868746470219905461\t-\t-\n\
                       snapexp/a\t2510028054673193717\t1795202876\th2\n\
                       snapexp/b\t99\t1795202877\t-\n\
                       snapexp/vol\t4402898239387627750\t-\t-\n";
        let exec = Scripted::new(&[(0, listing, ""), (0, "", "")]);
        let read = read_pool(&exec, &root, &label(), &is_autosnap, (&mut cache, NOW)).unwrap();
        assert_eq!(
            read.mode,
            ReadMode::ByDataset {
                relisted: 1,
                fetched: 0
            }
        );
        assert!(read.datasets[2].snapshots.is_empty());
    }

    #[test]
    fn without_snapshots_changed_the_fast_listing_runs_and_fetches_unknown_policy_snapshots() {
        let mut cache = warm_cache();
        let root: DatasetName = "snapexp".parse().unwrap();
        let fast = fixture(include_str!("../tests/fixtures/list_fast.txt"));
        let got = fixture(include_str!("../tests/fixtures/get_creation.txt"));
        let exec = Scripted::new(&[(2, "", NO_PROPERTY), (0, &fast, ""), (0, &got, "")]);
        let read = read_pool(&exec, &root, &[], &is_autosnap, (&mut cache, NOW)).unwrap();
        assert_eq!(read.mode, ReadMode::Fast { fetched: 2 });
        assert_eq!(
            read.processes, 3,
            "failed dataset listing, fast listing, one get"
        );
        assert_eq!(exec.argvs()[1], fast_spec(&root).argv());
        let argv = &exec.argvs()[2];
        assert_eq!(
            &argv[..7],
            [
                "zfs",
                "get",
                "-H",
                "-p",
                "-o",
                "name,property,value",
                "creation,userrefs"
            ]
        );
        assert_eq!(argv.len(), 9, "only the two policy snapshots: {argv:?}");
        let a = &read.datasets[1];
        assert_eq!(a.snapshots[0].creation, None, "x1 is not a policy snapshot");
        assert_eq!(a.snapshots[1].creation, Some(1_795_296_730));
        assert_eq!(a.snapshots[1].holds, Some(1));
        assert_eq!(
            cache.len(),
            2,
            "learned the two, forgot guid 1 (not listed)"
        );
    }

    #[test]
    fn a_failed_creation_get_falls_back_to_the_full_listing() {
        let root: DatasetName = "snapexp".parse().unwrap();
        let fast = fixture(include_str!("../tests/fixtures/list_fast.txt"));
        let props = fixture(include_str!("../tests/fixtures/list_props.txt"));
        let full = fixture(include_str!("../tests/fixtures/list_state.txt"));
        // A snapshot destroyed between the listing and the `zfs get`.
        let exec = Scripted::new(&[
            (2, "", NO_PROPERTY),
            (0, &fast, ""),
            (0, &props, ""),
            (1, "", "cannot open 'snapexp/a@x': dataset does not exist\n"),
            (0, &full, ""),
        ]);
        let mut cache = warm_cache();
        let read = read_pool(&exec, &root, &label(), &is_autosnap, (&mut cache, NOW)).unwrap();
        assert_eq!((read.mode, read.processes), (ReadMode::Full, 5));
        assert_eq!(exec.argvs()[4], state_spec(&root, &label()).argv());
    }
}
