//! The snapshot manager (mission M6, M7, M8, M12, M13, M15).
//!
//! Functional core, imperative shell:
//! - [`model`]: what the planner sees (datasets, snapshots, holds, cursors) and what it
//!   decides ([`model::Plan`], every item with its reason). Plain data.
//! - planning (pure, `now` injected): [`naming`] (sanoid-compatible names), [`schedule`]
//!   (sanoid's preferred times in civil time, DST-safe), [`planner`] (which snapshots are
//!   due, which may be pruned, each with its reason).
//! - execution (thin): one fast `zfs list` per pool in ([`state`], with creation times and
//!   holds remembered by guid in [`snap_cache`]), one `zfs program` per pool and round out
//!   ([`lua`], [`execute`]), with a plain `zfs snapshot`/`zfs destroy` fallback.
//! - [`guest`]: running-guest mode (Proxmox): only running guests get policy snapshots, a
//!   stopping guest gets `label:running=stopped` and one final `_stopped` snapshot.
//! - [`hooks`]: pre/post snapshot commands.
//! - [`monitor`]: Nagios checks (snapshot freshness, pool health, capacity), sanoid-compatible.
//! - [`sanoid_import`]: converts a sanoid.conf into zferry TOML and reports what it cannot.

pub mod execute;
pub mod guest;
pub mod hooks;
pub mod lua;
pub mod model;
pub mod monitor;
pub mod naming;
pub mod planner;
pub mod progress;
pub mod restore;
pub mod run;
pub mod sanoid_import;
pub mod schedule;
pub mod snap_cache;
pub mod state;
#[cfg(test)]
mod test_support;
