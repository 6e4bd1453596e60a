//! What the planner decides for one source/target pair, as values that policy code matches on
//! and that print with full context for the admin (`--dry-run`, logs, `status`).
//!
//! "Cannot plan" is never an error here: it is an [`Outcome`] variant carrying both sides'
//! evidence. Destruction on the target only ever appears inside [`Outcome::Send`] as a
//! [`Destruction`] that lists every object it will destroy.

use std::fmt;
use std::str::FromStr;

use crate::entry::{Entry, List};
use crate::guards::GuardRefusal;

/// The newest snapshot both sides share, matched by GUID. The source side may be a bookmark
/// (the snapshot itself pruned); the target side may carry another name (renamed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    pub source: Entry,
    pub target: Entry,
}

impl fmt::Display for Common {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (guid {})", self.source, self.source.guid)?;
        if self.target.name != self.source.name {
            write!(f, ", named @{} on the target", self.target.name)?;
        }
        Ok(())
    }
}

/// One `zfs send | zfs recv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `zfs send <snapshot>`: a full stream.
    Full { snapshot: Entry },
    /// `zfs send -i|-I <from> <to>`; `from` may be a bookmark, but then `intermediates` is
    /// false (OpenZFS refuses `-I` from a bookmark).
    Incremental {
        from: Entry,
        to: Entry,
        intermediates: bool,
    },
}

impl Step {
    /// The snapshot the target has after this step.
    pub fn end(&self) -> &Entry {
        match self {
            Step::Full { snapshot } => snapshot,
            Step::Incremental { to, .. } => to,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Full { snapshot } => write!(f, "full {snapshot}"),
            Step::Incremental {
                from,
                to,
                intermediates,
            } => {
                let flag = if *intermediates { "-I" } else { "-i" };
                write!(f, "{flag} {from} {to}")
            }
        }
    }
}

/// What a send must destroy on the target first; only planned when the job's graded
/// destructive option allows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destruction {
    /// Append-only: nothing is destroyed.
    None,
    /// `rollback_to_common`: roll the target back to `to` (`recv -F`), destroying `destroys`.
    Rollback { to: Entry, destroys: Vec<Entry> },
    /// `force_full`: the target dataset is replaced by a full stream; every listed snapshot
    /// (all of the target's) and the dataset's current contents are destroyed.
    Replace { snapshots: Vec<Entry> },
}

impl fmt::Display for Destruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destruction::None => f.write_str("nothing destroyed"),
            Destruction::Rollback { to, destroys } => write!(
                f,
                "rolls the target back to {to}, DESTROYING {} target snapshot(s): {}",
                destroys.len(),
                List(destroys)
            ),
            Destruction::Replace { snapshots } => write!(
                f,
                "REPLACES the target dataset (its data and {} snapshot(s) are destroyed: {})",
                snapshots.len(),
                List(snapshots)
            ),
        }
    }
}

/// The receive-resume token of an interrupted `zfs recv -s` (opaque to zferry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeToken(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid receive_resume_token {0:?}: expected printable ASCII without spaces")]
pub struct ResumeTokenError(String);

impl FromStr for ResumeToken {
    type Err = ResumeTokenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s == "-" || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ResumeTokenError(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }
}

impl ResumeToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why the planner refuses to act; each names what the admin can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The source has no snapshot the job's filter selects.
    NoSourceSnapshots { filter: String },
    /// A safety guard (M5) tripped.
    Guard(GuardRefusal),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoSourceSnapshots { filter } => write!(
                f,
                "the source has no snapshots to send ({filter}); take a snapshot first \
                 (zferry never creates replication-only snapshots)"
            ),
            Refusal::Guard(g) => g.fmt(f),
        }
    }
}

impl From<GuardRefusal> for Refusal {
    fn from(g: GuardRefusal) -> Self {
        Refusal::Guard(g)
    }
}

/// The planner's decision for one source/target pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The target has the newest wanted source snapshot.
    UpToDate { common: Common },
    /// Send these steps in order (after `destruction`, which is `None` unless allowed).
    Send {
        steps: Vec<Step>,
        destruction: Destruction,
    },
    /// The target has snapshots, none shared with the source; refused unless `force_full`.
    NoCommonSnapshot {
        source_newest: Entry,
        target_snapshots: Vec<Entry>,
    },
    /// Both sides moved on from `common`; refused unless `rollback_to_common`.
    Diverged {
        common: Common,
        source_only: Vec<Entry>,
        target_only: Vec<Entry>,
    },
    /// `on-divergence = "preserve"`: both sides moved on from `common` (the target by
    /// `target_only` snapshots and/or writes after its newest snapshot); keep the target
    /// aside ([`crate::preserve`]), re-create it at `common`, then send `steps`.
    Preserve {
        common: Common,
        target_only: Vec<Entry>,
        modified: bool,
        steps: Vec<Step>,
    },
    /// The target has snapshots after `common` and the source has nothing newer: the
    /// replication direction is probably wrong (failover?). Never rolled back automatically.
    TargetHasNewer {
        common: Common,
        target_only: Vec<Entry>,
    },
    /// An interrupted receive can be resumed (`zfs send -t <token>`).
    ResumeAvailable { token: ResumeToken },
    /// Refused with a reason.
    Refused { reason: Refusal },
}

impl Outcome {
    /// True for the outcomes that need an admin (nothing will happen until they act).
    pub fn needs_admin(&self) -> bool {
        matches!(
            self,
            Outcome::NoCommonSnapshot { .. }
                | Outcome::Diverged { .. }
                | Outcome::TargetHasNewer { .. }
                | Outcome::Refused { .. }
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::UpToDate { common } => write!(f, "up to date at {common}"),
            Outcome::Send { steps, destruction } => {
                write!(f, "send {} step(s): ", steps.len())?;
                for (i, s) in steps.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{s}")?;
                }
                if *destruction != Destruction::None {
                    write!(f, "; {destruction}")?;
                }
                Ok(())
            }
            Outcome::NoCommonSnapshot {
                source_newest,
                target_snapshots,
            } => write!(
                f,
                "refused: no common snapshot (matched by guid) between the source (newest \
                 {source_newest}) and the target, which has {} snapshot(s): {}; the target is \
                 append-only: to overwrite it with a full send, re-run with --force-full \
                 (destroys the target dataset and all its snapshots)",
                target_snapshots.len(),
                List(target_snapshots)
            ),
            Outcome::Diverged {
                common,
                source_only,
                target_only,
            } => write!(
                f,
                "refused: diverged after the newest common snapshot {common}; only on the \
                 source: {}; only on the target: {}; the target is append-only: to roll it \
                 back re-run with --rollback-to-common (destroys on the target: {})",
                List(source_only),
                List(target_only),
                List(target_only)
            ),
            Outcome::TargetHasNewer {
                common,
                target_only,
            } => write!(
                f,
                "refused: the target has {} snapshot(s) newer than the newest common snapshot \
                 {common} and the source has nothing newer: {}; is the replication direction \
                 right (failover)? nothing is rolled back automatically",
                target_only.len(),
                List(target_only)
            ),
            Outcome::Preserve {
                common,
                target_only,
                modified,
                steps,
            } => {
                write!(
                    f,
                    "diverged after the newest common snapshot {common} (only on the target: {}{}); \
                     on-divergence = preserve: keep the target aside, re-create it at the common \
                     snapshot, then send {} step(s): ",
                    List(target_only),
                    if *modified {
                        ", and writes after its newest snapshot"
                    } else {
                        ""
                    },
                    steps.len()
                )?;
                for (i, s) in steps.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{s}")?;
                }
                Ok(())
            }
            Outcome::ResumeAvailable { token } => write!(
                f,
                "resume the interrupted receive (token {}…)",
                token.as_str().chars().take(24).collect::<String>()
            ),
            Outcome::Refused { reason } => write!(f, "refused: {reason}"),
        }
    }
}
