//! The planner's input: one `zfs list` per pool per run, turned into [`DatasetState`]s.
//!
//! One process lists every filesystem, volume and snapshot of a pool with exactly the
//! columns the planner needs — identity (`guid`), order (`createtxg`), age (`creation`), hold
//! count (`userrefs`) — plus the user properties asked for (e.g. `label:running`). Space
//! columns are left out: they cost time on pools with many snapshots and nothing here uses them.

use std::collections::BTreeMap;
use std::time::Duration;

use zferry_exec::{CommandSpec, Executor};
use zferry_zfs::{
    CommandFailure, DatasetName, Guid, ObjectName, ObjectType, OutputError, ParseError,
    SnapshotName, Txg, UserPropName, ZfsError,
};

use crate::model::{DatasetState, SnapInfo};

/// The native columns requested, in order; user properties follow.
pub const STATE_COLUMNS: [&str; 6] = ["name", "type", "guid", "createtxg", "creation", "userrefs"];

/// How long the state listing may take. Listing is the slow part of a run on pools with
/// many snapshots (minutes are reported by sanoid users, sanoid #995/#1045; 2 550 snapshots
/// took over 2 min in the loaded emulated lab), so it gets the executor's 10 min, not the
/// 2 min default of a command.
pub const LIST_TIMEOUT: Duration = Duration::from_mins(10);

/// `zfs list -H -p -o <STATE_COLUMNS>[,props] -t filesystem,volume,snapshot -r <root>`.
pub fn state_spec(root: &DatasetName, user_props: &[UserPropName]) -> CommandSpec {
    let columns: Vec<&str> = STATE_COLUMNS
        .iter()
        .copied()
        .chain(user_props.iter().map(UserPropName::as_str))
        .collect();
    CommandSpec::new("zfs")
        .args(["list", "-H", "-p", "-o"])
        .arg(columns.join(","))
        .args(["-t", "filesystem,volume,snapshot", "-r"])
        .arg(root.to_string())
        .label(root.to_string())
        .timeout(LIST_TIMEOUT)
}

/// Parses the output of [`state_spec`] with the same `user_props`. Snapshots are attached to
/// their dataset and sorted by `createtxg`; datasets come out sorted by name.
pub fn parse_state(
    stdout: &str,
    user_props: &[UserPropName],
) -> Result<Vec<DatasetState>, ParseError> {
    let width = STATE_COLUMNS.len() + user_props.len();
    let mut datasets: BTreeMap<DatasetName, DatasetState> = BTreeMap::new();
    let mut snapshots: Vec<(usize, SnapInfo)> = Vec::new();
    for (idx, line) in stdout.lines().enumerate() {
        let n = idx + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != width {
            return Err(ParseError::FieldCount {
                line: n,
                expected: width,
                found: f.len(),
            });
        }
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
                    .enumerate()
                    .map(|(i, p)| {
                        let v = f[STATE_COLUMNS.len() + i];
                        (p.as_str().to_owned(), (v != "-").then(|| v.to_owned()))
                    })
                    .collect();
                datasets.insert(
                    name.clone(),
                    DatasetState {
                        name,
                        kind,
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
                        creation,
                        holds,
                    },
                ));
            }
            _ => return Err(bad(0, format!("name does not have the shape of a {kind}"))),
        }
    }
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
    let spec = state_spec(root, user_props);
    let out = exec.run(&spec).map_err(ZfsError::from)?;
    if let Some(failure) = CommandFailure::from_output(&out) {
        return Err(ZfsError::Command(Box::new(failure)));
    }
    parse_state(&out.stdout_lossy(), user_props).map_err(|source| {
        ZfsError::Parse(Box::new(OutputError {
            host: exec.host().to_owned(),
            argv: spec.argv(),
            source,
        }))
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
    use super::*;

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
        assert_eq!(b.kind, ObjectType::Filesystem);
        assert_eq!(b.user_props["label:running"].as_deref(), Some("zferry-lab"));
        let snaps: Vec<(&str, u64, u64)> = b
            .snapshots
            .iter()
            .map(|s| (s.name.snapshot_part(), s.createtxg.0, s.holds))
            .collect();
        assert_eq!(snaps, [("h1", 18, 1), ("c5", 45, 0)]);
        assert_eq!(b.snapshots[0].guid, Guid(8_390_633_760_882_447_893));
        assert_eq!(b.snapshots[1].creation, 1_795_275_714);
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
        assert_eq!(state[0].snapshots[0].holds, 2);
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
}
