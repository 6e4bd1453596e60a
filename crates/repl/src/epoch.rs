//! Fencing epochs: every replicated dataset carries `zferry:epoch`, a monotonic integer.
//!
//! A node that becomes master sets its datasets' epoch above every epoch it knows before its
//! first send; a standby takes the sender's epoch with each stream it accepts. Then:
//! - a sender refuses to send when the target's epoch is higher (it is the old master);
//! - a receiver refuses a stream whose epoch is lower than its own (same rule, other side,
//!   so a sender that skips the check still cannot overwrite);
//! - when the target also holds writes the source lacks, the newer epoch wins: its writes are
//!   preserved aside, then it is resynced; with equal epochs there is no winner and nothing
//!   is sent.
//!
//! Clocks and views play no part, so an old master that comes back with a wrong clock or a
//! stale view still cannot overwrite the new one.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The user property holding a dataset's epoch.
pub const EPOCH_PROPERTY: &str = "zferry:epoch";

/// A fencing epoch. A dataset without the property is at epoch 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Epoch(pub u64);

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "e{}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {EPOCH_PROPERTY} value {0:?}: expected a decimal integer, or `-` when unset")]
pub struct EpochParseError(String);

impl Epoch {
    /// The property value as `zfs get -Hp -o value` prints it (`-` when unset).
    pub fn from_property(value: &str) -> Result<Self, EpochParseError> {
        if value == "-" || value.is_empty() {
            return Ok(Epoch(0));
        }
        value.parse()
    }

    /// The value to store with `zfs set zferry:epoch=<value>`.
    pub fn property_value(self) -> String {
        self.0.to_string()
    }
}

impl FromStr for Epoch {
    type Err = EpochParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix('e').unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EpochParseError(s.to_owned()));
        }
        digits
            .parse()
            .map(Epoch)
            .map_err(|_| EpochParseError(s.to_owned()))
    }
}

/// The epoch a node takes when it becomes master: one above every epoch it knows of (its own
/// datasets', and any peer's it could read).
pub fn next_master_epoch(known: impl IntoIterator<Item = Epoch>) -> Epoch {
    let highest = known.into_iter().max().unwrap_or_default();
    Epoch(highest.0.saturating_add(1))
}

/// Why a stream must not go from this source to this target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EpochRefusal {
    #[error(
        "target is at {target}, newer than this source's {sender}: this node is an old master; \
         it must become a standby and be resynced from the node at {target}"
    )]
    TargetNewer { sender: Epoch, target: Epoch },
    #[error(
        "both sides hold writes the other lacks under the same epoch {epoch}: no side wins; \
         inspect both, then raise the epoch of the side to keep above {epoch} \
         (`zfs set zferry:epoch=<n> <dataset>`)"
    )]
    NoWinner { epoch: Epoch },
}

/// The sender's check before a send.
pub fn check_send(source: Epoch, target: Epoch) -> Result<(), EpochRefusal> {
    if target > source {
        return Err(EpochRefusal::TargetNewer {
            sender: source,
            target,
        });
    }
    Ok(())
}

/// The receiver's check of an incoming stream: the same rule, seen from the target.
pub fn check_receive(stream: Epoch, own: Epoch) -> Result<(), EpochRefusal> {
    check_send(stream, own)
}

/// What to do with a target, given both epochs and whether the target holds snapshots or
/// writes after the newest common snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum SendVerdict {
    /// Send incrementally from the newest common snapshot.
    Send,
    /// The target is an old master with writes of its own: keep them aside (clone/rename to
    /// `<ds>.diverged-e<target>-<time>`), alert, then resync it from the source.
    PreserveThenSend {
        target: Epoch,
    },
    Refuse(EpochRefusal),
}

pub fn send_verdict(source: Epoch, target: Epoch, target_diverged: bool) -> SendVerdict {
    if let Err(refusal) = check_send(source, target) {
        return SendVerdict::Refuse(refusal);
    }
    match (target_diverged, source == target) {
        (false, _) => SendVerdict::Send,
        (true, true) => SendVerdict::Refuse(EpochRefusal::NoWinner { epoch: source }),
        (true, false) => SendVerdict::PreserveThenSend { target },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn property_values_parse_and_print() {
        assert_eq!(Epoch::from_property("-"), Ok(Epoch(0)));
        assert_eq!(Epoch::from_property("17"), Ok(Epoch(17)));
        assert_eq!("e4".parse(), Ok(Epoch(4)));
        assert_eq!(Epoch(17).property_value(), "17");
        assert_eq!(Epoch(3).to_string(), "e3");
        for bad in ["", "x", "-1", "1.5", "e", "18446744073709551616", " 1"] {
            assert!(bad.parse::<Epoch>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_new_master_goes_above_every_known_epoch() {
        assert_eq!(next_master_epoch([]), Epoch(1));
        assert_eq!(next_master_epoch([Epoch(3), Epoch(7), Epoch(0)]), Epoch(8));
    }

    #[test]
    fn an_old_master_can_neither_send_nor_be_received() {
        let refusal = EpochRefusal::TargetNewer {
            sender: Epoch(1),
            target: Epoch(2),
        };
        assert_eq!(check_send(Epoch(1), Epoch(2)), Err(refusal.clone()));
        assert_eq!(check_receive(Epoch(1), Epoch(2)), Err(refusal));
        assert_eq!(check_send(Epoch(2), Epoch(2)), Ok(()));
        assert_eq!(check_send(Epoch(3), Epoch(2)), Ok(()));
        assert_eq!(check_receive(Epoch(2), Epoch(1)), Ok(()));
    }

    #[test]
    fn divergence_is_preserved_for_a_newer_source_and_refused_without_a_winner() {
        assert_eq!(send_verdict(Epoch(2), Epoch(2), false), SendVerdict::Send);
        assert_eq!(
            send_verdict(Epoch(3), Epoch(2), true),
            SendVerdict::PreserveThenSend { target: Epoch(2) }
        );
        assert_eq!(
            send_verdict(Epoch(2), Epoch(2), true),
            SendVerdict::Refuse(EpochRefusal::NoWinner { epoch: Epoch(2) })
        );
        assert!(matches!(
            send_verdict(Epoch(1), Epoch(2), true),
            SendVerdict::Refuse(EpochRefusal::TargetNewer { .. })
        ));
    }

    proptest! {
        /// Whatever the two epochs and divergence, data flows only from the higher-or-equal
        /// epoch, and writes are never overwritten without being preserved.
        #[test]
        fn no_verdict_overwrites_a_newer_or_equal_diverged_target(
            s in 0u64..5, t in 0u64..5, diverged: bool,
        ) {
            let v = send_verdict(Epoch(s), Epoch(t), diverged);
            if t > s {
                prop_assert!(matches!(v, SendVerdict::Refuse(_)));
            }
            if diverged {
                prop_assert!(!matches!(v, SendVerdict::Send));
            }
            if matches!(v, SendVerdict::Send | SendVerdict::PreserveThenSend { .. }) {
                prop_assert!(s >= t);
            }
        }
    }
}
