//! What a run remembers about a pool's snapshots between runs, so it can list the pool with
//! the fast columns only (see [`crate::state`]): each snapshot's creation time and hold count.
//!
//! A snapshot's `creation` never changes, and its `guid` identifies it (a received copy keeps
//! both), so the cache maps guid → creation. Hold counts do change without the snapshot list
//! changing; the cache keeps the last count seen, which is only used to plan: the channel
//! program that destroys reads each snapshot's `userrefs` in its own transaction and keeps
//! a held snapshot whatever the plan said (then the cache learns the hold). A count gone stale
//! the other way (a hold released) only keeps a snapshot until the next full listing, which
//! runs at least every [`FULL_READ_EVERY`].
//!
//! The cache only saves reads: every snapshot is still listed on every run, a guid the cache
//! does not know is read from ZFS, and a lost, unreadable or old cache file means one full
//! listing. Entries of snapshots no longer listed are dropped, so the file stays the size of
//! the pool's snapshot list.
//!
//! One JSON file per pool, `<state-dir>/snap/<pool>.json`, replaced atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zferry_zfs::{Guid, PoolName, SnapshotName};

use crate::model::{DatasetState, SnapInfo};

/// The file format version; another version is ignored (read as empty).
const VERSION: u32 = 1;

/// A full listing (fresh hold counts for every snapshot) at least this often.
pub const FULL_READ_EVERY: Duration = Duration::from_hours(24);

/// What is remembered of one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Seconds since the Unix epoch.
    pub creation: i64,
    /// User holds when last seen.
    pub holds: u64,
}

/// guid → [`Entry`], and when the last full listing was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapCache {
    version: u32,
    /// Unix time of the last full listing.
    full_read_at: u64,
    snapshots: BTreeMap<u64, Entry>,
}

impl SnapCache {
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }

    pub fn len(&self) -> usize {
        self.snapshots.len()
    }

    pub fn get(&self, guid: Guid) -> Option<Entry> {
        self.snapshots.get(&guid.0).copied()
    }

    /// Whether the next read must be a full listing: nothing cached, or the last full
    /// listing is older than [`FULL_READ_EVERY`] at `now` (Unix seconds), or dated after
    /// `now` (the clock went back: its age is unknown).
    pub fn needs_full_read(&self, now: u64) -> bool {
        self.is_empty()
            || self.full_read_at > now
            || now - self.full_read_at >= FULL_READ_EVERY.as_secs()
    }

    /// Remembers one snapshot (e.g. one the run's program just created).
    pub fn insert(&mut self, guid: Guid, entry: Entry) {
        self.snapshots.insert(guid.0, entry);
    }

    /// Remembers that a snapshot has `holds` user holds (found by the destroying program).
    pub fn set_holds(&mut self, guid: Guid, holds: u64) {
        if let Some(e) = self.snapshots.get_mut(&guid.0) {
            e.holds = holds;
        }
    }

    /// Replaces the content with what a full listing read at `now` (Unix seconds).
    pub fn replace_from(&mut self, datasets: &[DatasetState], now: u64) {
        self.version = VERSION;
        self.full_read_at = now;
        self.snapshots = all_snapshots(datasets)
            .filter_map(|s| {
                let entry = Entry {
                    creation: s.creation?,
                    holds: s.holds?,
                };
                Some((s.guid.0, entry))
            })
            .collect();
    }

    /// Sets the creation time and hold count of every snapshot the cache knows; returns the
    /// policy-named snapshots (`is_policy_name`) it does not know, which the planner needs.
    pub fn fill(
        &self,
        datasets: &mut [DatasetState],
        is_policy_name: &dyn Fn(&SnapshotName) -> bool,
    ) -> Vec<SnapshotName> {
        let mut unknown = Vec::new();
        for snap in datasets.iter_mut().flat_map(|d| d.snapshots.iter_mut()) {
            let entry = self.get(snap.guid);
            snap.creation = entry.map(|e| e.creation);
            snap.holds = entry.map(|e| e.holds);
            if entry.is_none() && is_policy_name(&snap.name) {
                unknown.push(snap.name.clone());
            }
        }
        unknown
    }

    /// Sets and remembers what was read from ZFS for snapshots the cache missed.
    pub fn learn(&mut self, datasets: &mut [DatasetState], read: &BTreeMap<SnapshotName, Entry>) {
        for snap in datasets.iter_mut().flat_map(|d| d.snapshots.iter_mut()) {
            if let Some(&e) = read.get(&snap.name) {
                snap.creation = Some(e.creation);
                snap.holds = Some(e.holds);
                self.snapshots.insert(snap.guid.0, e);
            }
        }
    }

    /// Forgets snapshots that were not listed.
    pub fn retain_seen(&mut self, datasets: &[DatasetState]) {
        let seen: BTreeSet<u64> = all_snapshots(datasets).map(|s| s.guid.0).collect();
        self.snapshots.retain(|g, _| seen.contains(g));
    }

    /// Reads a cache file. A missing, unreadable or other-version file is an empty cache
    /// (the next read is a full listing), never an error: the cache only saves time.
    pub fn load(path: &Path) -> Self {
        let parsed = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Self>(&bytes).ok());
        match parsed {
            Some(cache) if cache.version == VERSION => cache,
            _ => Self::default(),
        }
    }

    /// Writes the cache atomically (temporary file, fsync, rename), creating the directory.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        let mut file = std::fs::File::create(&tmp)?;
        serde_json::to_writer(&mut file, self).map_err(std::io::Error::other)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}

/// `<state-dir>/snap/<pool>.json`.
pub fn cache_path(state_dir: &Path, pool: &PoolName) -> PathBuf {
    state_dir
        .join("snap")
        .join(format!("{}.json", pool.as_str()))
}

fn all_snapshots(datasets: &[DatasetState]) -> impl Iterator<Item = &SnapInfo> {
    datasets.iter().flat_map(|d| d.snapshots.iter())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zferry_zfs::Txg;

    fn state(snaps: &[(&str, u64, Option<i64>)]) -> Vec<DatasetState> {
        vec![DatasetState {
            name: "p/a".parse().unwrap(),
            snapshots: snaps
                .iter()
                .zip(1..)
                .map(|((n, g, c), txg)| SnapInfo {
                    name: format!("p/a@{n}").parse().unwrap(),
                    guid: Guid(*g),
                    createtxg: Txg(txg),
                    creation: *c,
                    holds: c.map(|_| 0),
                })
                .collect(),
            user_props: BTreeMap::new(),
        }]
    }

    fn policy(name: &SnapshotName) -> bool {
        name.snapshot_part().starts_with("autosnap_")
    }

    #[test]
    fn fill_sets_known_entries_and_names_only_unknown_policy_snapshots() {
        let mut cache = SnapCache::default();
        cache.replace_from(
            &state(&[("autosnap_1", 1, Some(100)), ("manual", 2, Some(200))]),
            1000,
        );
        cache.set_holds(Guid(1), 2);
        let mut listed = state(&[
            ("autosnap_1", 1, None),
            ("manual", 2, None),
            ("autosnap_2", 3, None),
            ("other", 4, None),
        ]);
        let unknown = cache.fill(&mut listed, &policy);
        let names: Vec<&str> = unknown.iter().map(SnapshotName::snapshot_part).collect();
        assert_eq!(names, ["autosnap_2"]);
        let got: Vec<(Option<i64>, Option<u64>)> = listed[0]
            .snapshots
            .iter()
            .map(|s| (s.creation, s.holds))
            .collect();
        assert_eq!(
            got,
            [
                (Some(100), Some(2)),
                (Some(200), Some(0)),
                (None, None),
                (None, None)
            ]
        );

        let read = BTreeMap::from([(
            "p/a@autosnap_2".parse().unwrap(),
            Entry {
                creation: 300,
                holds: 1,
            },
        )]);
        cache.learn(&mut listed, &read);
        assert_eq!(listed[0].snapshots[2].creation, Some(300));
        assert_eq!(listed[0].snapshots[2].holds, Some(1));
        assert_eq!(cache.get(Guid(3)).map(|e| e.creation), Some(300));
    }

    #[test]
    fn a_full_read_is_due_when_empty_or_a_day_old() {
        let mut cache = SnapCache::default();
        assert!(cache.needs_full_read(5));
        cache.replace_from(&state(&[("a", 1, Some(10))]), 1_000);
        assert!(!cache.needs_full_read(1_000 + 86_399));
        assert!(cache.needs_full_read(1_000 + 86_400));
        assert!(cache.needs_full_read(999), "clock went back");
    }

    #[test]
    fn forgets_what_is_no_longer_listed_and_round_trips_through_a_file() {
        let mut cache = SnapCache::default();
        cache.replace_from(&state(&[("a", 1, Some(10)), ("b", 2, Some(20))]), 7);
        cache.retain_seen(&state(&[("b", 2, None)]));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(Guid(2)).map(|e| e.creation), Some(20));

        let dir = tempfile::tempdir().unwrap();
        let path = cache_path(dir.path(), &"tank".parse().unwrap());
        let big = Entry {
            creation: 30,
            holds: 1,
        };
        cache.insert(Guid(u64::MAX), big);
        cache.save(&path).unwrap();
        let back = SnapCache::load(&path);
        assert_eq!(
            back.get(Guid(u64::MAX)),
            Some(big),
            "64-bit guids survive JSON"
        );
        assert_eq!(back.len(), 2);
        assert!(!back.needs_full_read(7));
    }

    #[test]
    fn a_missing_corrupt_or_foreign_file_is_an_empty_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        assert!(SnapCache::load(&path).is_empty());
        std::fs::write(&path, b"{not json").unwrap();
        assert!(SnapCache::load(&path).is_empty());
        std::fs::write(
            &path,
            br#"{"version":99,"full_read_at":1,"snapshots":{"1":{"creation":2,"holds":0}}}"#,
        )
        .unwrap();
        assert!(SnapCache::load(&path).is_empty());
    }
}
