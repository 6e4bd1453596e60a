//! zferry's replication shell (mission M3, M5, M14): runs the pure planner of `zferry-repl`
//! against real hosts.
//!
//! - [`events`]: what a run reports while it runs (`--json` lines).
//! - [`job`]: a `[jobs.*]` table resolved for the local node (pure).
//! - [`listing`]: at most two `zfs list` per host per run, and their parsers.
//! - [`argv`]: every `zfs` command replication runs (pure builders).
//! - [`pipeline`]: `zfs send | zfs recv` across hosts, kernel-piped, with progress.
//! - [`progress`]: parses `zfs send -v -P` stderr.
//! - [`wire`]: where the stream is compressed and whether a relay touches it (pure).
//! - [`relay`]: the copy through zstd and the bandwidth limit; [`rate`]: the limit's math.
//! - [`fencing`]: the sender's fencing-epoch check for one pair (pure).
//! - [`run`]: one run of a job: lock, list, plan, guard, send, resume, move cursors, record.
//! - [`state`]: per-job record of sizes, `snapshots_changed` and last results.
//! - [`lock`]: one run per pool at a time.
//! - [`report`]: per-pair results, printable and JSON, and the run's exit class.

pub mod argv;
pub mod events;
pub mod fencing;
pub mod hosts;
pub mod job;
pub mod listing;
pub mod lock;
pub mod pipeline;
pub mod progress;
pub mod rate;
pub mod relay;
pub mod report;
pub mod run;
pub mod state;
pub mod wire;
