//! What one look at the placement source saw, and when.

use serde::Serialize;

/// A point on a monotonic clock, in milliseconds from an arbitrary origin (the daemon's start,
/// the simulator's zero). Wall-clock jumps (NTP steps, a wrong RTC after a crash) do not move
/// it, so they can neither shorten nor stretch a confirmation window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Tick(pub u64);

impl Tick {
    pub fn from_secs(secs: u64) -> Self {
        Self(secs * 1000)
    }

    /// Milliseconds from `earlier` to `self`, or `None` when `earlier` is later.
    pub fn since(self, earlier: Tick) -> Option<u64> {
        self.0.checked_sub(earlier.0)
    }
}

/// Whether the cluster that reports the placement is quorate, as far as that source knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quorum {
    Quorate,
    /// The cluster says it has no quorum: its placement may be stale on this side of a split.
    Lost,
    /// The source has no notion of quorum (static, a command that does not report it).
    NotApplicable,
}

impl Quorum {
    /// A source's yes/no answer to "is the cluster quorate?".
    pub fn from_quorate(quorate: bool) -> Self {
        if quorate {
            Quorum::Quorate
        } else {
            Quorum::Lost
        }
    }
}

/// Where the service runs, as one source reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View {
    /// The node running the service; `None` when it runs nowhere (stopped, disabled).
    pub node: Option<String>,
    pub quorum: Quorum,
    /// A state in which the placement is about to change or is not trustworthy
    /// (`migrate`, `relocate`, `fence`, `recovery`, …), with the source's own word for it.
    pub transition: Option<String>,
}

impl View {
    /// A settled view: the service runs on `node`, no transition.
    pub fn on(node: &str, quorum: Quorum) -> Self {
        Self {
            node: Some(node.to_owned()),
            quorum,
            transition: None,
        }
    }
}

/// One look at the placement source: what it said, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    pub at: Tick,
    pub view: Result<View, String>,
}
