//! What one host holds, from at most two `zfs list` calls per host per run.
//!
//! 1. [`datasets_argv`]: the job roots' filesystems and volumes with `snapshots_changed`,
//!    `receive_resume_token`, `encryption`, `referenced` and the fencing epoch
//!    (`zferry:epoch`) — cheap, one line per dataset.
//! 2. [`entries_argv`]: snapshots and bookmarks, only of the datasets whose
//!    `snapshots_changed` moved since the last successful run (or that have no record).
//!
//! A steady-state no-op run therefore costs one listing per host, whatever the number of
//! snapshots. Parsing is pure and tested on output captured from OpenZFS 2.3.

use std::collections::BTreeMap;

use zferry_exec::CommandSpec;
use zferry_repl::{Entry, Epoch, ResumeToken};
use zferry_zfs::{DatasetName, Guid};

/// Columns of both listings, in order.
pub const COLUMNS: &str = "name,type,guid,createtxg,creation,referenced,snapshots_changed,receive_resume_token,encryption,userrefs,zferry:epoch";

pub use zferry_zfs::snapshots_changed::{SETTLED_AFTER, settled};

/// `zfs list` of the roots' filesystems and volumes (recursively).
pub fn datasets_argv(roots: &[DatasetName]) -> CommandSpec {
    CommandSpec::new("zfs")
        .args([
            "list",
            "-H",
            "-p",
            "-o",
            COLUMNS,
            "-t",
            "filesystem,volume",
            "-r",
        ])
        .args(roots.iter().map(ToString::to_string))
        .label("list datasets")
        .timeout(zferry_zfs::LIST_TIMEOUT)
}

/// `zfs list` of the snapshots and bookmarks of exactly these datasets.
pub fn entries_argv(datasets: &[DatasetName]) -> CommandSpec {
    CommandSpec::new("zfs")
        .args([
            "list",
            "-H",
            "-p",
            "-o",
            COLUMNS,
            "-t",
            "snapshot,bookmark",
            "-d",
            "1",
        ])
        .args(datasets.iter().map(ToString::to_string))
        .label("list snapshots")
        .timeout(zferry_zfs::LIST_TIMEOUT)
}

/// One filesystem or volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetRow {
    pub name: DatasetName,
    pub volume: bool,
    pub guid: Guid,
    pub referenced: u64,
    /// Seconds since the epoch of the last snapshot change (OpenZFS ≥ 2.2), if known.
    pub snapshots_changed: Option<u64>,
    pub resume_token: Option<ResumeToken>,
    pub encrypted: bool,
    /// `zferry:epoch` (unset: 0).
    pub epoch: Epoch,
}

/// Snapshots and bookmarks of one dataset, plus which snapshots carry holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entries {
    pub entries: Vec<Entry>,
    /// Short names of snapshots with at least one user hold.
    pub held: Vec<String>,
}

/// Everything listed on one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostListing {
    pub datasets: BTreeMap<DatasetName, DatasetRow>,
    /// Present only for datasets whose entries were listed in phase 2.
    pub entries: BTreeMap<DatasetName, Entries>,
}

/// A line that is not what [`COLUMNS`] produces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected `zfs list` line {line}: {reason}: {text:?}")]
pub struct ListingError {
    pub line: usize,
    pub reason: String,
    pub text: String,
}

/// Parses phase-1 output (filesystems and volumes).
pub fn parse_datasets(stdout: &str) -> Result<BTreeMap<DatasetName, DatasetRow>, ListingError> {
    let mut out = BTreeMap::new();
    for (i, line) in lines(stdout) {
        let f = Fields::split(i, line)?;
        let volume = match f.kind {
            "filesystem" => false,
            "volume" => true,
            other => return Err(f.error(&format!("type {other:?} in a dataset listing"))),
        };
        let name: DatasetName = f.name.parse().map_err(|e| f.error(&format!("{e}")))?;
        let row = DatasetRow {
            name: name.clone(),
            volume,
            guid: Guid(f.number(f.guid, "guid")?),
            referenced: f.number(f.referenced, "referenced")?,
            snapshots_changed: f.optional_number(f.snapshots_changed, "snapshots_changed")?,
            resume_token: match f.token {
                "-" | "" => None,
                t => Some(t.parse().map_err(|e| f.error(&format!("{e}")))?),
            },
            encrypted: !matches!(f.encryption, "off" | "-"),
            epoch: Epoch::from_property(f.epoch)
                .map_err(|e| f.error(&format!("dataset {name}: {e}")))?,
        };
        out.insert(name, row);
    }
    Ok(out)
}

/// Parses phase-2 output (snapshots and bookmarks), grouped by dataset.
pub fn parse_entries(stdout: &str) -> Result<BTreeMap<DatasetName, Entries>, ListingError> {
    let mut out: BTreeMap<DatasetName, Entries> = BTreeMap::new();
    for (i, line) in lines(stdout) {
        let f = Fields::split(i, line)?;
        let (dataset, short, snapshot) = match (f.kind, f.name.split_once(['@', '#'])) {
            ("snapshot", Some((ds, short))) => (ds, short, true),
            ("bookmark", Some((ds, short))) => (ds, short, false),
            _ => return Err(f.error("expected a snapshot or bookmark")),
        };
        let dataset: DatasetName = dataset.parse().map_err(|e| f.error(&format!("{e}")))?;
        let (guid, txg) = (
            f.number(f.guid, "guid")?,
            f.number(f.createtxg, "createtxg")?,
        );
        let creation = f.number(f.creation, "creation")?;
        let slot = out.entry(dataset).or_default();
        if snapshot {
            slot.entries
                .push(Entry::snapshot(short, guid, txg, creation));
            if f.optional_number(f.userrefs, "userrefs")?.unwrap_or(0) > 0 {
                slot.held.push(short.to_owned());
            }
        } else {
            slot.entries
                .push(Entry::bookmark(short, guid, txg, creation));
        }
    }
    Ok(out)
}

/// Roots that `zfs list` reported missing (`cannot open 'x': dataset does not exist`), or
/// `None` when stderr holds anything else.
pub fn missing_roots(stderr: &str) -> Option<Vec<String>> {
    let mut missing = Vec::new();
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let name = line
            .strip_prefix("cannot open '")?
            .strip_suffix("': dataset does not exist")?;
        missing.push(name.to_owned());
    }
    Some(missing)
}

fn lines(stdout: &str) -> impl Iterator<Item = (usize, &str)> {
    stdout
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.is_empty())
}

/// The eleven columns of one line.
struct Fields<'a> {
    line: usize,
    text: &'a str,
    name: &'a str,
    kind: &'a str,
    guid: &'a str,
    createtxg: &'a str,
    creation: &'a str,
    referenced: &'a str,
    snapshots_changed: &'a str,
    token: &'a str,
    encryption: &'a str,
    userrefs: &'a str,
    epoch: &'a str,
}

impl<'a> Fields<'a> {
    fn split(line: usize, text: &'a str) -> Result<Self, ListingError> {
        let cols: Vec<&str> = text.split('\t').collect();
        let [
            name,
            kind,
            guid,
            createtxg,
            creation,
            referenced,
            snapshots_changed,
            token,
            encryption,
            userrefs,
            epoch,
        ] = cols[..]
        else {
            return Err(ListingError {
                line,
                reason: format!("expected 11 tab-separated columns, got {}", cols.len()),
                text: text.to_owned(),
            });
        };
        Ok(Self {
            line,
            text,
            name,
            kind,
            guid,
            createtxg,
            creation,
            referenced,
            snapshots_changed,
            token,
            encryption,
            userrefs,
            epoch,
        })
    }

    fn error(&self, reason: &str) -> ListingError {
        ListingError {
            line: self.line,
            reason: reason.to_owned(),
            text: self.text.to_owned(),
        }
    }

    fn number(&self, value: &str, column: &str) -> Result<u64, ListingError> {
        value
            .parse()
            .map_err(|_| self.error(&format!("{column} {value:?} is not a number")))
    }

    fn optional_number(&self, value: &str, column: &str) -> Result<Option<u64>, ListingError> {
        match value {
            "-" | "" => Ok(None),
            v => self.number(v, column).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Captured in the lab (OpenZFS 2.3.2) by `fixtures/capture-listings.sh`: `zfs list -H -p
    /// -o <COLUMNS> -t filesystem,volume -r la` after a resumable receive was interrupted on
    /// `la/src/part2`, with `zferry:epoch` set on `la/src` (3) and `la/dst` (2).
    const DATASETS: &str = include_str!("../fixtures/list-datasets.txt");
    /// Captured by the same script: `zfs list -H -p -o <COLUMNS> -t snapshot,bookmark -d 1
    /// la/src`.
    const ENTRIES: &str = include_str!("../fixtures/list-entries.txt");

    #[test]
    fn parses_captured_dataset_listing() {
        let rows = parse_datasets(DATASETS).unwrap();
        assert!(!rows.is_empty());
        for row in rows.values() {
            assert!(row.guid.0 != 0, "{row:?}");
        }
        assert!(
            rows.values().any(|r| r.snapshots_changed.is_some()),
            "OpenZFS 2.3 reports snapshots_changed: {rows:?}"
        );
        assert!(
            rows.values().any(|r| r.resume_token.is_some()),
            "fixture has an interrupted receive: {rows:?}"
        );
        let epoch = |ds: &str| rows[&ds.parse::<DatasetName>().unwrap()].epoch;
        assert_eq!(
            (epoch("la/src"), epoch("la/dst"), epoch("la")),
            (Epoch(3), Epoch(2), Epoch(0))
        );
    }

    #[test]
    fn parses_captured_entry_listing() {
        let entries = parse_entries(ENTRIES).unwrap();
        let all: Vec<&Entry> = entries.values().flat_map(|e| &e.entries).collect();
        assert!(all.iter().any(|e| e.is_snapshot()));
        assert!(
            all.iter().any(|e| !e.is_snapshot()),
            "fixture has a bookmark"
        );
        assert!(
            entries.values().any(|e| !e.held.is_empty()),
            "fixture has a held snapshot"
        );
    }

    #[test]
    fn parses_synthetic_lines_exactly() {
        let out = "p/a\tfilesystem\t11\t5\t1700000000\t4096\t1700000100\t-\toff\t-\t7\n\
                   p/a/v\tvolume\t12\t6\t1700000000\t8192\t-\t1-abc-def\taes-256-gcm\t-\t-\n";
        let rows = parse_datasets(out).unwrap();
        let a = &rows[&"p/a".parse::<DatasetName>().unwrap()];
        assert_eq!(
            (
                a.guid,
                a.referenced,
                a.snapshots_changed,
                a.encrypted,
                a.epoch
            ),
            (Guid(11), 4096, Some(1_700_000_100), false, Epoch(7))
        );
        let v = &rows[&"p/a/v".parse::<DatasetName>().unwrap()];
        assert!(v.volume && v.encrypted && v.snapshots_changed.is_none());
        assert_eq!(v.epoch, Epoch(0));
        assert_eq!(v.resume_token.as_ref().unwrap().as_str(), "1-abc-def");

        let out = "p/a@s1\tsnapshot\t21\t7\t1700000001\t4096\t-\t-\toff\t2\t7\n\
                   p/a#b1\tbookmark\t21\t7\t1700000001\t-\t-\t-\t-\t-\t-\n";
        let e = parse_entries(out).unwrap();
        let a = &e[&"p/a".parse::<DatasetName>().unwrap()];
        assert_eq!(
            a.entries,
            [
                Entry::snapshot("s1", 21, 7, 1_700_000_001),
                Entry::bookmark("b1", 21, 7, 1_700_000_001)
            ]
        );
        assert_eq!(a.held, ["s1"]);
    }

    #[test]
    fn rejects_malformed_lines_with_their_number() {
        let err = parse_datasets("p/a\tfilesystem\t11\n").unwrap_err();
        assert_eq!(err.line, 1);
        let err = parse_datasets("p/a\tfilesystem\tx\t5\t1\t1\t-\t-\toff\t-\t-\n").unwrap_err();
        assert!(err.reason.contains("guid"), "{err}");
        assert!(parse_entries("p/a\tfilesystem\t1\t1\t1\t1\t-\t-\toff\t-\t-\n").is_err());
        let err = parse_datasets("p/a\tfilesystem\t1\t5\t1\t1\t-\t-\toff\t-\tlots\n").unwrap_err();
        assert!(
            err.reason.contains("dataset p/a") && err.reason.contains("zferry:epoch"),
            "{err}"
        );
    }

    #[test]
    fn missing_roots_only_for_does_not_exist_lines() {
        assert_eq!(
            missing_roots("cannot open 'p/x': dataset does not exist\n"),
            Some(vec!["p/x".to_owned()])
        );
        assert_eq!(
            missing_roots("cannot open 'p/x': permission denied\n"),
            None
        );
        assert_eq!(missing_roots(""), Some(vec![]));
    }
}
