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
//!   cache (first run, lost file, last full listing a day old) the full listing runs.
//!
//! Space columns are never read: they cost time on pools with many snapshots and nothing
//! here uses them.

use std::collections::BTreeMap;

use zferry_exec::{CommandSpec, Executor};
use zferry_zfs::{
    CommandFailure, DatasetName, Guid, ObjectName, ObjectType, OutputError, ParseError,
    SnapshotName, Txg, UserPropName, ZfsError,
};

use crate::model::{DatasetState, SnapInfo};
use crate::snap_cache::{Entry, SnapCache};

/// The native columns of the full listing, in order; user properties follow.
pub const STATE_COLUMNS: [&str; 6] = ["name", "type", "guid", "createtxg", "creation", "userrefs"];

/// The columns of the fast listing.
pub const FAST_COLUMNS: [&str; 3] = ["name", "guid", "createtxg"];

/// Listing is the slow part of a run on pools with many snapshots: it gets
/// [`zferry_zfs::LIST_TIMEOUT`], not the 2 min default of a command.
pub use zferry_zfs::LIST_TIMEOUT;

/// `zfs list -H -p -o <STATE_COLUMNS>[,props] -t filesystem,volume,snapshot -r <root>`.
pub fn state_spec(root: &DatasetName, user_props: &[UserPropName]) -> CommandSpec {
    let columns: Vec<&str> = STATE_COLUMNS
        .iter()
        .copied()
        .chain(user_props.iter().map(UserPropName::as_str))
        .collect();
    list_spec(root, &columns.join(","), "filesystem,volume,snapshot")
}

/// `zfs list -H -p -o name,guid,createtxg -t filesystem,volume,snapshot -r <root>`.
pub fn fast_spec(root: &DatasetName) -> CommandSpec {
    list_spec(root, &FAST_COLUMNS.join(","), "filesystem,volume,snapshot")
}

/// `zfs list -H -p -o name,<props> -t filesystem,volume -r <root>`: datasets only.
pub fn props_spec(root: &DatasetName, user_props: &[UserPropName]) -> CommandSpec {
    let columns: Vec<&str> = std::iter::once("name")
        .chain(user_props.iter().map(UserPropName::as_str))
        .collect();
    list_spec(root, &columns.join(","), "filesystem,volume")
}

fn list_spec(root: &DatasetName, columns: &str, types: &str) -> CommandSpec {
    CommandSpec::new("zfs")
        .args(["list", "-H", "-p", "-o", columns, "-t", types, "-r"])
        .arg(root.to_string())
        .label(root.to_string())
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
                let props = user_props
                    .iter()
                    .zip(&f[STATE_COLUMNS.len()..])
                    .map(|(p, v)| (p.as_str().to_owned(), (*v != "-").then(|| (*v).to_owned())))
                    .collect();
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
    assemble(datasets, snapshots)
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
        let props = user_props
            .iter()
            .zip(&f[1..])
            .map(|(p, v)| (p.as_str().to_owned(), (*v != "-").then(|| (*v).to_owned())))
            .collect();
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
}

/// One pool's state and what reading it cost.
#[derive(Debug, Clone)]
pub struct PoolState {
    pub datasets: Vec<DatasetState>,
    pub mode: ReadMode,
    /// `zfs` processes spawned.
    pub processes: usize,
}

/// Reads one pool for a run: the fast listing when `cache` can fill in creation times and
/// holds, else the full one (see the module docs and [`SnapCache::needs_full_read`]; `now` is
/// the real Unix time). Creation times are needed only for snapshots named by the policy
/// (`is_policy_name`); `cache` learns everything read and forgets snapshots that no longer
/// exist.
pub fn read_pool(
    exec: &dyn Executor,
    root: &DatasetName,
    user_props: &[UserPropName],
    is_policy_name: &dyn Fn(&SnapshotName) -> bool,
    (cache, now): (&mut SnapCache, u64),
) -> Result<PoolState, ZfsError> {
    let full = |cache: &mut SnapCache, processes: usize| {
        let datasets = gather(exec, root, user_props)?;
        cache.replace_from(&datasets, now);
        Ok(PoolState {
            datasets,
            mode: ReadMode::Full,
            processes: processes + 1,
        })
    };
    if cache.needs_full_read(now) {
        return full(cache, 0);
    }
    let mut datasets = run_parsed(exec, &fast_spec(root), parse_fast)?;
    let mut processes = 1;
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
    let unknown = cache.fill(&mut datasets, is_policy_name);
    if unknown.len() > MAX_CREATION_FETCH {
        return full(cache, processes);
    }
    if !unknown.is_empty() {
        // A snapshot destroyed since the listing fails the `zfs get`: read it all again.
        let Ok(read) = run_parsed(exec, &creation_spec(&unknown), parse_creation) else {
            return full(cache, processes + 1);
        };
        processes += 1;
        cache.learn(&mut datasets, &read);
    }
    cache.retain_seen(&datasets);
    Ok(PoolState {
        datasets,
        mode: ReadMode::Fast {
            fetched: unknown.len(),
        },
        processes,
    })
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
    use std::fmt::Write as _;

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
        let state = parse_state(&text, &label()).unwrap();
        let names: Vec<&str> = state.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["snapexp", "snapexp/a", "snapexp/b"]);
        assert_eq!(state[0].user_props["label:running"], None);
        assert_eq!(state[1].user_props["label:running"].as_deref(), Some("h2"));
        let b = &state[2];
        assert_eq!(b.user_props["label:running"].as_deref(), Some("zferry-lab"));
        let snaps: Vec<(&str, u64, u64)> = b
            .snapshots
            .iter()
            .map(|s| (s.name.snapshot_part(), s.createtxg.0, s.holds.unwrap()))
            .collect();
        assert_eq!(snaps, [("h1", 18, 1), ("c5", 45, 0)]);
        assert_eq!(b.snapshots[0].guid, Guid(8_390_633_760_882_447_893));
        assert_eq!(b.snapshots[1].creation, Some(1_795_275_714));
        let found = find_snapshot(&state, &"snapexp/a@x1".parse().unwrap()).unwrap();
        assert_eq!(found.createtxg, Txg(16));
    }

    #[test]
    fn sorts_snapshots_by_createtxg_and_rejects_orphans() {
        let out = "p\tfilesystem\t1\t1\t10\t-\n\
                   p@b\tsnapshot\t3\t9\t12\t0\n\
                   p@a\tsnapshot\t2\t5\t11\t2\n";
        let state = parse_state(out, &[]).unwrap();
        let order: Vec<&str> = state[0]
            .snapshots
            .iter()
            .map(|s| s.name.snapshot_part())
            .collect();
        assert_eq!(order, ["a", "b"]);
        assert_eq!(state[0].snapshots[0].holds, Some(2));
        let err = parse_state("q@a\tsnapshot\t2\t5\t11\t0\n", &[]).unwrap_err();
        assert!(matches!(err, ParseError::Syntax { line: 1, .. }), "{err}");
        let err = parse_state("p\tfilesystem\t1\t1\t10\t-\tx\n", &[]).unwrap_err();
        assert_eq!(
            err,
            ParseError::FieldCount {
                line: 1,
                expected: 6,
                found: 7
            }
        );
        let err = parse_state("p@a\tsnapshot\t2\t5\t11\t-\n", &label()).unwrap_err();
        assert!(matches!(err, ParseError::FieldCount { .. }));
        let err = parse_state("p@a\tsnapshot\t2\t5\t11\tlots\tx\n", &label()).unwrap_err();
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

    #[test]
    fn a_cold_cache_reads_in_full_once_then_fast_with_one_process() {
        let full = fixture(include_str!("../tests/fixtures/list_state.txt"));
        let exec = Scripted::new(&[(0, &full, "")]);
        let mut cache = SnapCache::default();
        let root: DatasetName = "snapexp".parse().unwrap();
        let read = read_pool(&exec, &root, &label(), &is_autosnap, (&mut cache, NOW)).unwrap();
        assert_eq!((read.mode, read.processes), (ReadMode::Full, 1));
        assert!(!cache.is_empty());
        assert_eq!(exec.argvs()[0][1], "list");

        // The same snapshots listed fast: every creation comes from the cache.
        let (mut fast, mut props) = (String::new(), String::new());
        for line in full.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            writeln!(fast, "{}\t{}\t{}", f[0], f[2], f[3]).unwrap();
            if !f[0].contains('@') {
                writeln!(props, "{}\t{}", f[0], f[6]).unwrap();
            }
        }
        let exec = Scripted::new(&[(0, &fast, ""), (0, &props, "")]);
        let read = read_pool(&exec, &root, &label(), &is_autosnap, (&mut cache, NOW + 60)).unwrap();
        assert_eq!(read.mode, ReadMode::Fast { fetched: 0 });
        assert_eq!(read.processes, 2, "fast listing + datasets' properties");
        let b = read
            .datasets
            .iter()
            .find(|d| d.name.as_str() == "snapexp/b")
            .unwrap();
        assert_eq!(b.snapshots[1].creation, Some(1_795_275_714));
        assert_eq!(b.snapshots[0].holds, Some(1), "holds as last seen");
        assert_eq!(b.user_props["label:running"].as_deref(), Some("zferry-lab"));
        assert_eq!(exec.argvs()[0], fast_spec(&root).argv());
    }

    #[test]
    fn unknown_policy_snapshots_are_fetched_with_one_get() {
        let mut cache = warm_cache();
        let root: DatasetName = "snapexp".parse().unwrap();
        let fast = fixture(include_str!("../tests/fixtures/list_fast.txt"));
        let got = fixture(include_str!("../tests/fixtures/get_creation.txt"));
        let exec = Scripted::new(&[(0, &fast, ""), (0, &got, "")]);
        let read = read_pool(&exec, &root, &[], &is_autosnap, (&mut cache, NOW)).unwrap();
        assert_eq!(read.mode, ReadMode::Fast { fetched: 2 });
        assert_eq!(read.processes, 2);
        let argv = &exec.argvs()[1];
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
            (0, &fast, ""),
            (0, &props, ""),
            (1, "", "cannot open 'snapexp/a@x': dataset does not exist\n"),
            (0, &full, ""),
        ]);
        let mut cache = warm_cache();
        let read = read_pool(&exec, &root, &label(), &is_autosnap, (&mut cache, NOW)).unwrap();
        assert_eq!((read.mode, read.processes), (ReadMode::Full, 4));
        assert_eq!(exec.argvs()[3], state_spec(&root, &label()).argv());
    }
}
