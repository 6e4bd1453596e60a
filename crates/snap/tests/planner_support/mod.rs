//! Shared helpers for the planner tests: a config from TOML, an in-memory pool that applies
//! plans (each run one transaction group), and short constructors.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use zferry_config::Config;
use zferry_snap::model::{DatasetState, Plan, SnapInfo, Switches};
use zferry_snap::planner::{PlanInput, plan};
use zferry_zfs::{DatasetName, Guid, Txg};

pub fn config(text: &str) -> Config {
    Config::from_str_with_path(text, Path::new("test.toml")).expect("test config is valid")
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

pub fn ds(s: &str) -> DatasetName {
    s.parse().expect("test dataset name")
}

/// A pool in memory: datasets with snapshots, a txg counter, guids handed out in order.
#[derive(Debug, Clone)]
pub struct World {
    pub datasets: BTreeMap<DatasetName, DatasetState>,
    pub txg: u64,
    pub guid: u64,
}

impl World {
    pub fn new(names: &[&str]) -> Self {
        let datasets = names
            .iter()
            .map(|n| {
                let state = DatasetState {
                    name: ds(n),
                    snapshots: Vec::new(),
                    user_props: BTreeMap::new(),
                };
                (ds(n), state)
            })
            .collect();
        World {
            datasets,
            txg: 100,
            guid: 1000,
        }
    }

    /// Adds a snapshot named `snap` to `dataset`, created at `at`, in a new txg.
    pub fn add(&mut self, dataset: &str, snap: &str, at: Timestamp, holds: u64) -> Guid {
        self.txg += 1;
        self.guid += 1;
        let state = self.datasets.get_mut(&ds(dataset)).expect("known dataset");
        state.snapshots.push(SnapInfo {
            name: ds(dataset).snapshot(snap).expect("valid snapshot name"),
            guid: Guid(self.guid),
            createtxg: Txg(self.txg),
            creation: Some(at.as_second()),
            holds: Some(holds),
        });
        Guid(self.guid)
    }

    pub fn input(&self, config: &Config, switches: Switches) -> PlanInput {
        let states = self.datasets.values().cloned().collect();
        PlanInput::from_config(config, states, switches, BTreeMap::new())
    }

    /// Applies a plan as one transaction group: every create gets the same createtxg.
    pub fn apply(&mut self, plan: &Plan, now: Timestamp) {
        self.txg += 1;
        for c in &plan.create {
            self.guid += 1;
            let state = self
                .datasets
                .get_mut(&c.snapshot.dataset())
                .expect("known dataset");
            state.snapshots.push(SnapInfo {
                name: c.snapshot.clone(),
                guid: Guid(self.guid),
                createtxg: Txg(self.txg),
                creation: Some(now.as_second()),
                holds: Some(0),
            });
        }
        for d in &plan.destroy {
            let state = self
                .datasets
                .get_mut(&d.snapshot.dataset())
                .expect("known dataset");
            state.snapshots.retain(|s| s.name != d.snapshot);
        }
    }

    pub fn names(&self, dataset: &str) -> Vec<String> {
        self.datasets[&ds(dataset)]
            .snapshots
            .iter()
            .map(|s| s.name.snapshot_part().to_owned())
            .collect()
    }
}

/// Plans with `tz` overriding the config's zone.
pub fn plan_in(input: &mut PlanInput, tz: &TimeZone, now: Timestamp) -> Plan {
    input.tz = tz.clone();
    plan(input, now)
}
