//! The replication engine's functional core (mission M3, M5, M14).
//!
//! Everything here is pure: inputs are both sides' snapshot and bookmark lists, sizes and job
//! options; outputs are typed plans that explain themselves. The execution shell (send/recv,
//! SSH, resume, cursor moves) is built on top of these values.
//! - [`entry`]: what the planner sees of one dataset (snapshots and bookmarks).
//! - [`filter`]: which source snapshots a job wants on the target.
//! - [`outcome`]: what the planner decides ([`Outcome`], [`Step`]), printable for the admin.
//! - [`planner`]: [`plan`] for one source/target pair, matched by GUID.
//! - [`cursor`]: names of the per-target cursor bookmark and hold tag (versioned format/parse).
//! - [`guards`]: empty-source and shrink guards (M5).
//! - [`preserve`]: keeping a diverged target aside (`on-divergence = "preserve"`).
//! - [`fanout`]: one source against several targets, each from its own base.
//! - [`epoch`]: fencing epochs (`zferry:epoch`): who may overwrite whom after a failover.
//! - [`dsl`]: a compact snapshot-list notation for tests (`"@a,1 @b,2 #c,3"`).
//!
//! The algorithm is written down in `DESIGN.md` next to this crate.

pub mod cursor;
pub mod dsl;
pub mod entry;
pub mod epoch;
pub mod fanout;
pub mod filter;
pub mod guards;
pub mod outcome;
pub mod planner;
pub mod preserve;

pub use cursor::{CursorBookmark, CursorError, HoldTag, TargetId};
pub use entry::{Entry, EntryKind};
pub use epoch::{
    EPOCH_PROPERTY, Epoch, EpochParseError, EpochRefusal, SendVerdict, check_receive, check_send,
    next_master_epoch, send_verdict,
};
pub use fanout::{CursorUpdate, TargetPlan, TargetState, plan_fanout};
pub use filter::{FilterError, SnapshotFilter};
pub use guards::{Fraction, GuardRefusal, ShrinkVerdict, check_empty_source, check_shrink};
pub use outcome::{Common, Destruction, Outcome, Refusal, ResumeToken, Step};
pub use planner::{Destructive, JobOptions, plan, plan_target, plan_with_resume};
pub use preserve::{
    PreserveAction, PreservePlan, PreserveRefusal, diverged_epoch_suffix, diverged_suffix,
    plan_preserve,
};
