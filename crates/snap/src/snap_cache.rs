//! What a run remembers about a pool's snapshots between runs, so it need not list them all
//! again (see [`crate::state`]):
//! - each snapshot's creation time and hold count, by guid, so the listing can use the fast
//!   columns only;
//! - each dataset's snapshot list (name, guid, createtxg) with the dataset's
//!   `snapshots_changed` value it belongs to, so a dataset whose value has not moved is not
//!   listed at all.
//!
//! A snapshot's `creation` never changes, and its `guid` identifies it (a received copy keeps
//! both), so the cache maps guid → creation. Hold counts do change without the snapshot list
//! changing; the cache keeps the last count seen, which is only used to plan: the channel
//! program that destroys reads each snapshot's `userrefs` in its own transaction and keeps
//! a held snapshot whatever the plan said (then the cache learns the hold). A count gone stale
//! the other way (a hold released) only keeps a snapshot until the next full listing, which
//! runs at least every [`FULL_READ_EVERY`].
//!
//! A dataset's `snapshots_changed` moves whenever one of its snapshots is created, destroyed
//! or renamed (not for holds), is kept across export/import (both checked on OpenZFS 2.3.2),
//! and has one-second resolution. A remembered list is therefore used only when the value is
//! unchanged and was settled when read ([`zferry_zfs::snapshots_changed::settled`]). After a
//! run's program changed a dataset, the list is updated from what the program reports: the
//! snapshots it created (guid, createtxg) and the dataset's value before and after its own
//! changes. The update is kept only if the "before" value is the one the list was read at, so
//! a change made by another tool between the listing and the program is never papered over.
//! What remains unseen is a snapshot another tool makes on the same dataset in the same second
//! as the program: it stays unknown (so neither counted nor pruned) until the dataset changes
//! again or the next full listing, at most [`FULL_READ_EVERY`] later.
//!
//! The cache only saves reads: a lost, unreadable or old cache file means one full listing.
//! Entries of snapshots and datasets no longer listed are dropped, so the file stays the size
//! of the pool's snapshot list.
//!
//! One JSON file per pool, `<state-dir>/snap/<pool>.json`, replaced atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zferry_zfs::snapshots_changed::settled;
use zferry_zfs::{DatasetName, Guid, PoolName, SnapshotName, Txg};

use crate::model::{DatasetState, SnapInfo};

/// The file format version; another version is ignored (read as empty).
const VERSION: u32 = 2;

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

/// One dataset's snapshot list as known at a `snapshots_changed` value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetEntry {
    /// The dataset's own guid: a dataset destroyed and created again under the same name is
    /// another dataset.
    pub guid: u64,
    /// `snapshots_changed`; `None` (`-`): the dataset never had a snapshot.
    pub changed: Option<u64>,
    /// Oldest first.
    pub snapshots: Vec<ListedSnap>,
}

/// One snapshot of a [`DatasetEntry`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedSnap {
    /// The part after `@`.
    pub name: String,
    pub guid: u64,
    pub createtxg: u64,
}

/// A dataset as the dataset listing shows it: what decides whether its remembered snapshot
/// list still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub guid: Guid,
    pub changed: Option<u64>,
}

/// What a run's program did to one dataset's snapshot list, with the dataset's
/// `snapshots_changed` just before and just after (read in the program's transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub dataset: DatasetName,
    pub before: Option<u64>,
    pub after: Option<u64>,
}

/// guid → [`Entry`], dataset → [`DatasetEntry`], and when the last full listing was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapCache {
    version: u32,
    /// Unix time of the last full listing.
    full_read_at: u64,
    snapshots: BTreeMap<u64, Entry>,
    datasets: BTreeMap<String, DatasetEntry>,
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
    /// Dataset lists are not remembered: the full listing does not read `snapshots_changed`.
    pub fn replace_from(&mut self, datasets: &[DatasetState], now: u64) {
        self.version = VERSION;
        self.full_read_at = now;
        self.datasets.clear();
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

    /// The remembered snapshot list of `dataset` if it still holds: same dataset guid, same
    /// `snapshots_changed`, and that value was settled at `listed_at` (or the dataset never
    /// had a snapshot). Creation times and holds are left unset (see [`Self::fill`]).
    pub fn unchanged(
        &self,
        dataset: &DatasetName,
        stamp: Stamp,
        listed_at: u64,
    ) -> Option<Vec<SnapInfo>> {
        let entry = self.datasets.get(dataset.as_str())?;
        let trusted = match stamp.changed {
            None => true,
            value => settled(value, listed_at).is_some(),
        };
        if !trusted || entry.guid != stamp.guid.0 || entry.changed != stamp.changed {
            return None;
        }
        entry
            .snapshots
            .iter()
            .map(|s| {
                Some(SnapInfo {
                    name: dataset.snapshot(&s.name).ok()?,
                    guid: Guid(s.guid),
                    createtxg: Txg(s.createtxg),
                    creation: None,
                    holds: None,
                })
            })
            .collect()
    }

    /// Remembers the snapshot list of every listed dataset whose `snapshots_changed` was
    /// settled at `listed_at` (or unset); forgets the others and datasets no longer listed.
    pub fn remember_lists(
        &mut self,
        datasets: &[DatasetState],
        stamps: &BTreeMap<DatasetName, Stamp>,
        listed_at: u64,
    ) {
        self.datasets.clear();
        for ds in datasets {
            let Some(&stamp) = stamps.get(&ds.name) else {
                continue;
            };
            if stamp.changed.is_some() && settled(stamp.changed, listed_at).is_none() {
                continue;
            }
            self.datasets.insert(
                ds.name.as_str().to_owned(),
                DatasetEntry {
                    guid: stamp.guid.0,
                    changed: stamp.changed,
                    snapshots: ds
                        .snapshots
                        .iter()
                        .map(|s| ListedSnap {
                            name: s.name.snapshot_part().to_owned(),
                            guid: s.guid.0,
                            createtxg: s.createtxg.0,
                        })
                        .collect(),
                },
            );
        }
    }

    /// Brings remembered lists up to date with what a run changed: `touched` are the
    /// datasets the run meant to change; `changes` what the programs reported, in order;
    /// `created` the snapshots they created; `destroyed` the snapshots they destroyed. A
    /// touched dataset whose report is missing or does not chain from the remembered value
    /// (another change came in between) is forgotten, so the next run lists it.
    pub fn apply_run(
        &mut self,
        touched: &BTreeSet<DatasetName>,
        changes: &[Changed],
        created: &[(SnapshotName, Guid, Txg)],
        destroyed: &[SnapshotName],
    ) {
        for ds in touched {
            let Some(entry) = self.datasets.get_mut(ds.as_str()) else {
                continue;
            };
            let mut value = entry.changed;
            let mut chained = false;
            for c in changes.iter().filter(|c| &c.dataset == ds) {
                if c.before != value || c.after.is_none() {
                    chained = false;
                    break;
                }
                value = c.after;
                chained = true;
            }
            if !chained {
                self.datasets.remove(ds.as_str());
                continue;
            }
            entry.changed = value;
            entry.snapshots.retain(|s| {
                !destroyed
                    .iter()
                    .any(|d| d.dataset() == *ds && d.snapshot_part() == s.name)
            });
            for (name, guid, txg) in created.iter().filter(|c| c.0.dataset() == *ds) {
                entry.snapshots.push(ListedSnap {
                    name: name.snapshot_part().to_owned(),
                    guid: guid.0,
                    createtxg: txg.0,
                });
            }
            entry.snapshots.sort_by_key(|s| s.createtxg);
        }
    }

    /// Drops a dataset's remembered list, so the next run lists it.
    pub fn forget(&mut self, dataset: &DatasetName) {
        self.datasets.remove(dataset.as_str());
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

    fn stamp(guid: u64, changed: u64) -> Stamp {
        Stamp {
            guid: Guid(guid),
            changed: Some(changed),
        }
    }

    /// A cache remembering `p/a` (guid 50) at value 100 with snapshots `old` and `keep`.
    fn remembering() -> (SnapCache, DatasetName) {
        let mut cache = SnapCache::default();
        let listed = state(&[("old", 1, None), ("keep", 2, None)]);
        let a = listed[0].name.clone();
        cache.remember_lists(
            &listed,
            &BTreeMap::from([(a.clone(), stamp(50, 100))]),
            1_000,
        );
        (cache, a)
    }

    fn names(cache: &SnapCache, a: &DatasetName, stamp: Stamp) -> Option<Vec<String>> {
        cache.unchanged(a, stamp, 10_000).map(|snaps| {
            snaps
                .iter()
                .map(|s| s.name.snapshot_part().to_owned())
                .collect()
        })
    }

    #[test]
    fn a_remembered_list_holds_only_for_the_same_dataset_and_a_settled_same_value() {
        let (cache, a) = remembering();
        assert_eq!(names(&cache, &a, stamp(50, 100)).unwrap(), ["old", "keep"]);
        assert_eq!(names(&cache, &a, stamp(50, 101)), None, "value moved");
        assert_eq!(names(&cache, &a, stamp(51, 100)), None, "another dataset");
        assert_eq!(
            cache.unchanged(&a, stamp(50, 100), 105),
            None,
            "not settled"
        );
        assert_eq!(names(&cache, &"p/b".parse().unwrap(), stamp(50, 100)), None);

        // A value read within SETTLED_AFTER of the listing is not remembered at all.
        let mut fresh = SnapCache::default();
        let listed = state(&[("x", 1, None)]);
        fresh.remember_lists(
            &listed,
            &BTreeMap::from([(a.clone(), stamp(50, 995))]),
            1_000,
        );
        assert_eq!(names(&fresh, &a, stamp(50, 995)), None);
        // Never snapshotted (`-`) is remembered whatever the time: nothing can be missed.
        let none = Stamp {
            guid: Guid(50),
            changed: None,
        };
        fresh.remember_lists(&state(&[]), &BTreeMap::from([(a.clone(), none)]), 1_000);
        assert_eq!(fresh.unchanged(&a, none, 1_000).map(|s| s.len()), Some(0));
    }

    #[test]
    fn a_run_updates_the_list_only_when_its_reports_chain_from_the_remembered_value() {
        let (mut cache, a) = remembering();
        let touched = BTreeSet::from([a.clone()]);
        let step = |before, after| Changed {
            dataset: a.clone(),
            before: Some(before),
            after: Some(after),
        };
        let created = [(a.snapshot("new").unwrap(), Guid(9), Txg(30))];
        let destroyed = [a.snapshot("old").unwrap()];
        cache.apply_run(
            &touched,
            &[step(100, 110), step(110, 120)],
            &created,
            &destroyed,
        );
        assert_eq!(names(&cache, &a, stamp(50, 120)).unwrap(), ["keep", "new"]);

        // Another tool changed the dataset between the listing and the program.
        let (mut cache, _) = remembering();
        cache.apply_run(&touched, &[step(105, 110)], &created, &[]);
        assert_eq!(names(&cache, &a, stamp(50, 110)), None);
        // The program's report is missing (a failure, the plain-command fallback).
        let (mut cache, _) = remembering();
        cache.apply_run(&touched, &[], &created, &[]);
        assert_eq!(names(&cache, &a, stamp(50, 100)), None);
        // A dataset the run did not touch keeps its list.
        let (mut cache, _) = remembering();
        cache.apply_run(&BTreeSet::new(), &[], &[], &[]);
        assert_eq!(names(&cache, &a, stamp(50, 100)).unwrap(), ["old", "keep"]);
    }
}
