//! The role decision: from a history of placement observations to `Master`, `Standby` or
//! `Unknown(reason)`.
//!
//! A node acts as master only on evidence that is
//! - **confirmed**: the newest `confirmations` observations (default 3) agree, each at least
//!   `interval` (default 2 s) after the one before, with nothing disagreeing in between;
//! - **fresh**: the newest is at most `stale_after` old, and no gap between the observations
//!   used is longer than that (a suspended daemon does not confirm across its sleep);
//! - **quorate** where the source knows about quorum (`require_quorum`);
//! - **settled**: no migrate, relocate, fence, recovery (or any other transition) in view.
//!
//! Anything less is `Unknown`, which takes no snapshots and sends nothing: a node that cannot
//! tell must not act. The same evidence makes a node a standby of the named master.
//!
//! Time is a monotonic [`Tick`]; observations out of order are refused rather than guessed at.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use serde::Serialize;

use crate::observation::{Observation, Quorum, Tick, View};

/// How much agreeing evidence makes a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Consecutive agreeing observations needed (the seed's 3 checks).
    pub confirmations: NonZeroU32,
    /// Minimum spacing between the observations counted (the seed's 2 s).
    pub interval: Duration,
    /// Refuse to act on a non-quorate view where the source reports quorum.
    pub require_quorum: bool,
    /// Evidence older than this (or with a gap longer than this) does not count.
    pub stale_after: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            confirmations: NonZeroU32::new(3).expect("3 is not zero"),
            interval: Duration::from_secs(2),
            require_quorum: true,
            stale_after: Duration::from_mins(1),
        }
    }
}

/// What this node should do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "kebab-case")]
pub enum Role {
    /// The service runs here: snapshot, prune, replicate to the others.
    Master,
    /// The service runs on `master`: prune, receive from it only.
    Standby { master: String },
    /// No action that could lose data: no snapshots, no sends.
    Unknown { reason: Unknown },
}

/// Why a node does not know its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Unknown {
    /// Nothing observed yet.
    NoObservation,
    /// The newest observation is older than `stale_after`.
    Stale { age_ms: u64 },
    /// An observation is dated before the one preceding it.
    OutOfOrder { at: Tick, previous: Tick },
    /// The placement source could not be read.
    SourceFailed { error: String },
    /// The source's cluster has no quorum.
    NoQuorum,
    /// The service is moving or being recovered.
    InTransition { state: String },
    /// The service runs on no node.
    NotRunning,
    /// The service runs on a node this service does not list.
    ForeignNode { node: String },
    /// Not yet enough agreeing observations.
    Unconfirmed { node: String, have: u32, need: u32 },
}

impl Role {
    /// Whether this node takes a replication stream from `sender`: only as a standby, and only
    /// from its confirmed master. A master or an undecided node receives nothing, so a second
    /// node that wrongly claims master cannot overwrite the one running the service.
    pub fn accepts_stream_from(&self, sender: &str) -> bool {
        matches!(self, Role::Standby { master } if master == sender)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Master => f.write_str("master"),
            Role::Standby { master } => write!(f, "standby of {master}"),
            Role::Unknown { reason } => write!(f, "unknown: {reason}"),
        }
    }
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unknown::NoObservation => f.write_str("no placement observed yet"),
            Unknown::Stale { age_ms } => {
                write!(f, "newest placement observation is {} s old", age_ms / 1000)
            }
            Unknown::OutOfOrder { at, previous } => write!(
                f,
                "observation at {} ms is dated before the previous one at {} ms",
                at.0, previous.0
            ),
            Unknown::SourceFailed { error } => write!(f, "placement source failed: {error}"),
            Unknown::NoQuorum => f.write_str("cluster has no quorum"),
            Unknown::InTransition { state } => write!(f, "service is in transition ({state})"),
            Unknown::NotRunning => f.write_str("service runs on no node"),
            Unknown::ForeignNode { node } => {
                write!(f, "service runs on `{node}`, which is not one of its nodes")
            }
            Unknown::Unconfirmed { node, have, need } => {
                write!(f, "placement on {node} confirmed {have} of {need} times")
            }
        }
    }
}

/// The role of `this_node` for a service placed on one of `nodes`, from `history` (oldest
/// first), at `now`.
pub fn decide(
    this_node: &str,
    nodes: &[String],
    history: &[Observation],
    rules: &Rules,
    now: Tick,
) -> Role {
    match confirmed_node(history, rules, now) {
        Ok(node) if node == this_node => Role::Master,
        Ok(node) if nodes.contains(&node) => Role::Standby { master: node },
        Ok(node) => Role::Unknown {
            reason: Unknown::ForeignNode { node },
        },
        Err(reason) => Role::Unknown { reason },
    }
}

/// The node every counted observation agrees on, or why there is none.
fn confirmed_node(history: &[Observation], rules: &Rules, now: Tick) -> Result<String, Unknown> {
    let newest = history.last().ok_or(Unknown::NoObservation)?;
    let age = now.since(newest.at).ok_or(Unknown::OutOfOrder {
        at: now,
        previous: newest.at,
    })?;
    if age > millis(rules.stale_after) {
        return Err(Unknown::Stale { age_ms: age });
    }
    let node = settled_node(&newest.view, rules)?;
    let need = rules.confirmations.get();
    let unconfirmed = |have| Unknown::Unconfirmed {
        node: node.clone(),
        have,
        need,
    };
    // Walk back from the newest: every observation passed must agree; one is counted when it
    // is at least `interval` before the last counted one.
    let mut have = 1;
    let mut counted = newest.at;
    let mut later = newest.at;
    for obs in history.iter().rev().skip(1) {
        if have == need {
            break;
        }
        let gap = later.since(obs.at).ok_or(Unknown::OutOfOrder {
            at: later,
            previous: obs.at,
        })?;
        if gap > millis(rules.stale_after) {
            return Err(unconfirmed(have));
        }
        match settled_node(&obs.view, rules) {
            Ok(n) if n == node => {}
            _ => return Err(unconfirmed(have)),
        }
        if counted
            .since(obs.at)
            .is_some_and(|d| d >= millis(rules.interval))
        {
            have += 1;
            counted = obs.at;
        }
        later = obs.at;
    }
    if have == need {
        Ok(node)
    } else {
        Err(unconfirmed(have))
    }
}

/// The node of one view, if the view alone could support a role.
fn settled_node(view: &Result<View, String>, rules: &Rules) -> Result<String, Unknown> {
    let view = view
        .as_ref()
        .map_err(|e| Unknown::SourceFailed { error: e.clone() })?;
    if rules.require_quorum && view.quorum == Quorum::Lost {
        return Err(Unknown::NoQuorum);
    }
    if let Some(state) = &view.transition {
        return Err(Unknown::InTransition {
            state: state.clone(),
        });
    }
    view.node.clone().ok_or(Unknown::NotRunning)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
