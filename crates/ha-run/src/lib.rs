//! zferry's HA shell (mission M1, M2, M4, M5, M11): runs the pure controller of `zferry-ha`
//! against real hosts, so replication follows the service.
//!
//! - [`service`]: a `[services.*]` table for one node (pure): rules, datasets per node, jobs
//!   turned to start at the master, snapshot switches per role.
//! - [`observe`]: one look at a placement source (runs its commands, parses their output).
//! - [`guards`]: what a would-be master must pass (pools, cooldown), and when a leaving master
//!   makes its final sync (pure).
//! - [`epochs`]: reading and setting `zferry:epoch`.
//! - [`cycle`]: one cycle: decide, fence, final sync, snapshots, replicate.
//! - [`daemon`]: the daemon's observation histories and cycle schedule (pure).
//! - [`rpo`]: the replication monitor's rating of recovery points (pure).
//! - [`state`]: per-service record of the last decision, epoch and refusal.
//! - [`alert`]: the alert command.

pub mod alert;
pub mod cycle;
pub mod daemon;
pub mod epochs;
pub mod guards;
pub mod observe;
pub mod rpo;
pub mod service;
pub mod state;
