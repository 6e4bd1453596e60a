//! The snapshot manager (mission M6, M7, M8, M12, M13, M15).
//!
//! Functional core, imperative shell:
//! - [`model`]: what the planner sees (datasets, snapshots, holds, cursors) and what it
//!   decides ([`model::Plan`], every item with its reason). Plain data.
//! - planning (pure, `now` injected): [`naming`] (sanoid-compatible names); which snapshots
//!   are due, which may be pruned.
//! - execution (thin): one `zfs list` per pool in, one `zfs program` per pool out.

pub mod model;
pub mod naming;
